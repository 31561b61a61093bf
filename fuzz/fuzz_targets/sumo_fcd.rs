#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| scenarios::fuzz::sumo_fcd(data));
