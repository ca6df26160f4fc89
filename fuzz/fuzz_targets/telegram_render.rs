//! libFuzzer entry of the `telegram_render` target; its body and invariants are in `crates/fuzz-targets`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    |data: &[u8]| serverless_openclaw_fuzz_targets::telegram_render::run(data)
);
