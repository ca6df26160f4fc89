//! Where local mode finds its parts: the Node runner, the Node 24 binary, the built web UI.
//!
//! Each can be set by an environment variable; otherwise it is looked up from the repository checkout
//! that contains the current directory (what `make run` uses).

use std::path::{Path, PathBuf};

/// The runner script, relative to the repository root.
pub const RUNNER_SCRIPT: &str = "runner/runner.mjs";
/// The Node 24 binary installed by `scripts/install-runner.sh`, relative to the repository root.
pub const NODE_BINARY: &str = ".tools/node/node_modules/node/bin/node";
/// The built web UI, relative to the repository root.
pub const WEB_DIST: &str = "web/dist";

/// OpenClaw's command-line entry, in the runner's dependencies (`openclaw gateway run`).
pub fn openclaw_entry(runner_script: &Path) -> PathBuf {
    runner_dir(runner_script).join("node_modules/openclaw/openclaw.mjs")
}

/// The gateway's transcript sync helper, beside the runner.
pub fn gateway_sync_script(runner_script: &Path) -> PathBuf {
    runner_dir(runner_script).join("gateway-sync.mjs")
}

fn runner_dir(runner_script: &Path) -> &Path {
    runner_script.parent().unwrap_or(Path::new("."))
}

/// The nearest ancestor of `start` that contains the runner script.
pub fn repo_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(RUNNER_SCRIPT).is_file())
        .map(Path::to_path_buf)
}

/// `SERVERLESS_OPENCLAW_RUNNER`, else `<repo>/runner/runner.mjs`.
pub fn runner_script(env: Option<PathBuf>, repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    existing_file(
        env,
        repo,
        RUNNER_SCRIPT,
        "run from the repository checkout or set SERVERLESS_OPENCLAW_RUNNER",
    )
}

/// `SERVERLESS_OPENCLAW_NODE`, else the repository's Node 24, else an error saying how to install it.
pub fn node_binary(env: Option<PathBuf>, repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    existing_file(
        env,
        repo,
        NODE_BINARY,
        "run scripts/install-runner.sh (make run does) or set SERVERLESS_OPENCLAW_NODE",
    )
}

/// The file named by the environment, else `relative` under the repository, if it exists; as its real
/// path, because the agent's sandbox (bubblewrap) cannot bind a path that runs through a symlink (a
/// checkout whose `.tools` links to another checkout's).
fn existing_file(
    env: Option<PathBuf>,
    repo: Option<&Path>,
    relative: &str,
    hint: &str,
) -> anyhow::Result<PathBuf> {
    env.or_else(|| repo.map(|r| r.join(relative)))
        .filter(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
        .ok_or_else(|| anyhow::anyhow!("cannot find {relative}: {hint}"))
}

/// `SERVERLESS_OPENCLAW_WEB_DIR`, else `<repo>/web/dist` if it was built.
pub fn web_dir(env: Option<PathBuf>, repo: Option<&Path>) -> Option<PathBuf> {
    env.or_else(|| repo.map(|r| r.join(WEB_DIST)))
        .filter(|p| p.join("index.html").is_file())
}
