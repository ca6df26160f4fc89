//! libFuzzer entry of the `jwt` target; its body and invariants are in `crates/fuzz-targets`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| serverless_openclaw_fuzz_targets::jwt::run(data));
