#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| scenarios::fuzz::site_csv(data));
