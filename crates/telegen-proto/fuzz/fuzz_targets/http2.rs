#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| telegen_proto::fuzzing::http2(data));
