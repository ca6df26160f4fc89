//! What the Lambda benchmarks (`gateway_bench`, `prewarm_bench`) share: the release bootstraps they run.

use std::path::PathBuf;

/// The path of a release bootstrap, built by `cargo build --release -p serverless-openclaw-lambdas --bins`.
pub fn release_bin(name: &str) -> String {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = target.join("release").join(name);
    assert!(
        path.exists(),
        "{} is missing: cargo build --release -p serverless-openclaw-lambdas --bins",
        path.display()
    );
    path.display().to_string()
}
