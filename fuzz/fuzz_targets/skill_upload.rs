//! libFuzzer entry of the `skill_upload` target; its body and invariants are in `crates/fuzz-targets`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    |data: &[u8]| serverless_openclaw_fuzz_targets::skill_upload::run(data)
);
