#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::fuzz::cli_values(data));
