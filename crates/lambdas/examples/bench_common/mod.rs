//! What the Lambda benchmarks (`gateway_bench`, `prewarm_bench`, `load_aws`) share: the release bootstraps
//! they run, and the agent's primed compile cache.

#![allow(dead_code)] // Each benchmark uses a different part.

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

/// Primes a compile cache the way the image build does.
pub async fn primed_compile_cache(dir: &std::path::Path) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = tokio::process::Command::new(repo.join(".tools/node/node_modules/node/bin/node"))
        .arg(repo.join("runner/runner.mjs"))
        .arg("--prime")
        .env("NODE_COMPILE_CACHE", dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .expect("run runner.mjs --prime");
    assert!(status.success(), "runner.mjs --prime failed: {status}");
}
