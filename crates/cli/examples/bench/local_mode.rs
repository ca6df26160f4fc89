//! What the local-mode benchmarks share (`bench`, and `attachment_bench` through `#[path]`): local mode
//! served on loopback against a provider, and how durations and the machine's load are printed
//! (`testkit::measure`, re-exported).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serverless_openclaw_agent::{DeploymentKeys, ProviderConfig};
use serverless_openclaw_cli::{LocalApp, LocalOptions, SandboxMode, compose, paths};
use serverless_openclaw_core::config::Secret;
use serverless_openclaw_core::ports::ToolAccess;
use serverless_openclaw_core::settings::Endpoints;
use serverless_openclaw_server::serve::{self as server, Limits};
pub use serverless_openclaw_testkit::measure::{load_average, ms};

/// The access token of the benchmarks' local mode.
pub const TOKEN: &str = "bench";

/// Local mode on `data` with `provider` (as `make run` composes and serves it, its runner in bubblewrap
/// when it works here), on a loopback port of its own.
pub async fn serve(
    data: &Path,
    provider: ProviderConfig,
    node: &Path,
    repo: &Path,
) -> anyhow::Result<(LocalApp, SocketAddr)> {
    let app = compose(LocalOptions {
        data_dir: data.to_path_buf(),
        token: Some(Secret::new(TOKEN)),
        allowed_hosts: Vec::new(),
        endpoints: Endpoints::Any,
        provider: Some(provider),
        keys: DeploymentKeys::default(),
        sandbox: SandboxMode::Auto,
        guest_tools: ToolAccess::Restricted,
        node: node.to_path_buf(),
        runner_script: repo.join(paths::RUNNER_SCRIPT),
        web_dir: None,
        turn_timeout: Duration::from_secs(120),
        disable_tools: false,
        telegram: None,
    })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(server::serve(
        listener,
        app.router.clone(),
        Limits::for_this_process(),
        std::future::pending(),
    ));
    Ok((app, addr))
}

/// The median (the lower one of an even count); sorts `values`.
pub fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[(values.len() - 1) / 2]
}
