//! libFuzzer entry of the `client_frame` target; its body and invariants are in `crates/fuzz-targets`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    |data: &[u8]| serverless_openclaw_fuzz_targets::client_frame::run(data)
);
