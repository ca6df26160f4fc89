//! libFuzzer entry of the `rest_bodies` target; its body and invariants are in `crates/fuzz-targets`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| serverless_openclaw_fuzz_targets::rest_bodies::run(data));
