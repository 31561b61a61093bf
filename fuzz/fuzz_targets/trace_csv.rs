#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| scenarios::fuzz::trace_csv(data));
