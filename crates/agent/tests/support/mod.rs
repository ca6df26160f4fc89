//! What the agent crate's end-to-end tests share: an [`OpenClawRuntime`] on the real runner and the
//! installed OpenClaw, in a test's own data dir.

use std::path::Path;
use std::time::Duration;

use serverless_openclaw_agent::{
    Confinement, DeploymentKeys, OpenClawRuntime, ProviderConfig, RuntimeSettings,
};

/// The runtime in `data`, its default model `provider`, with OpenClaw's tools off or on.
pub fn runtime(data: &Path, provider: ProviderConfig, disable_tools: bool) -> OpenClawRuntime {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let node = repo.join(".tools/node/node_modules/node/bin/node");
    assert!(
        node.exists(),
        "Node 24 is missing: run scripts/install-runner.sh"
    );
    OpenClawRuntime::new(RuntimeSettings {
        node,
        runner_script: repo.join("runner/runner.mjs"),
        state_dir: data.join("agent"),
        workspace_root: data.join("workspaces"),
        turn_timeout: Duration::from_secs(120),
        ready_timeout: Duration::from_secs(180),
        provider: Some(provider),
        disable_tools,
        keys: DeploymentKeys::default(),
        confinement: Confinement::None,
        browser: None,
    })
    .expect("prepare the runtime")
}
