//! What the local-mode benchmarks share (`bench`, and `attachment_bench` and `load` through `#[path]`):
//! the fake LLM and a provider pointing at it, local mode served on loopback with its runner warmed up,
//! and how durations and the machine's load are printed (`testkit::measure`, re-exported).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serverless_openclaw_agent::{DEFAULT_CONTEXT_WINDOW, DeploymentKeys, LlmApi, ProviderConfig};
use serverless_openclaw_cli::{LocalApp, LocalOptions, RuntimeKind, SandboxMode, compose, paths};
use serverless_openclaw_core::config::Secret;
use serverless_openclaw_core::ports::ToolAccess;
use serverless_openclaw_core::settings::Endpoints;
use serverless_openclaw_server::serve::{self as server, Limits};
use serverless_openclaw_testkit::fake_llm::FakeLlm;
pub use serverless_openclaw_testkit::measure::{load_average, ms};

/// The access token of the benchmarks' local mode.
pub const TOKEN: &str = "bench";

/// What a benchmark runs against: the fake LLM (answering at once), a provider pointing at it, and this
/// repository with its Node.
pub struct Bench {
    pub fake: FakeLlm,
    pub provider: ProviderConfig,
    pub repo: PathBuf,
    pub node: PathBuf,
}

impl Bench {
    /// Starts the fake LLM; run from the repository.
    pub async fn start() -> anyhow::Result<Self> {
        let fake = FakeLlm::start().await;
        fake.set_chunk_delay(Duration::ZERO);
        let repo =
            paths::repo_root(&std::env::current_dir()?).context("run from the repository")?;
        let node = paths::node_binary(None, Some(&repo))?;
        let provider = ProviderConfig::Custom {
            base_url: fake.anthropic_base_url(),
            api: LlmApi::AnthropicMessages,
            model: "fake-model".into(),
            context_window: DEFAULT_CONTEXT_WINDOW,
        };
        Ok(Self {
            fake,
            provider,
            repo,
            node,
        })
    }

    /// Local mode on `data` (as `make run` composes and serves it, its runner in bubblewrap when it works
    /// here), on a loopback port of its own, once its runner has started and finished its warm-up: what
    /// the first message usually finds, since local mode starts the runner at start-up.
    pub async fn serve_warm(&self, data: &Path) -> anyhow::Result<(LocalApp, SocketAddr)> {
        let app = compose(LocalOptions {
            data_dir: data.to_path_buf(),
            token: Some(Secret::new(TOKEN)),
            allowed_hosts: Vec::new(),
            endpoints: Endpoints::Any,
            provider: Some(self.provider.clone()),
            keys: DeploymentKeys::default(),
            sandbox: SandboxMode::Auto,
            guest_tools: ToolAccess::Restricted,
            node: self.node.clone(),
            runner_script: self.repo.join(paths::RUNNER_SCRIPT),
            web_dir: None,
            turn_timeout: Duration::from_secs(120),
            disable_tools: false,
            browser: None,
            telegram: None,
            runtime: RuntimeKind::Runner,
        })?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(server::serve(
            listener,
            app.router.clone(),
            Limits::for_this_process(),
            std::future::pending(),
        ));
        app.runtime
            .start_warm()
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok((app, addr))
    }
}

/// `BENCH_ROUNDS`, the rounds of a benchmark that repeats (default 5).
pub fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
}

/// The median (the lower one of an even count); sorts `values`.
pub fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[(values.len() - 1) / 2]
}
