//! [`GatewaySupervisor`]: one `openclaw gateway run` child process: its config, its start, its
//! readiness, its stop and its death.
//!
//! The gateway listens on loopback only, on a free port, with token auth and a random 32-byte token
//! made for each start. Its environment is the runner's allow-list ([`crate::sandbox::openclaw_env`])
//! plus the token, which the rendered config names as `${VAR}`. The model's key stays out of it for a
//! provider entry of our own: the entry points at an [`LlmProxy`] in this process that adds the key;
//! OpenClaw's built-in providers still get theirs in the environment. It runs in a process group of its own: OpenClaw's launcher starts the real
//! server (`openclaw-gateway`) and workers as children, and a stop signals them all.
//!
//! Ready is a WebSocket handshake that returns `hello-ok` (the `[gateway] ready` log line is not a
//! contract, and stdout carries migration notices, so it is logged, never parsed). A stop is SIGTERM to
//! the group, then SIGKILL after a grace. Each start deletes the agent's session database first: a
//! gateway restarted after a crash otherwise resumes the interrupted turn by itself (a second LLM bill
//! and a transcript that diverges from ours), and our transcript store is the conversation's source
//! of truth anyway. The shared state database (scheduled jobs) is kept.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use super::client::{GatewayClient, GatewayError};
use super::proxy::{KeyHeader, LlmProxy};
use super::sync::{SyncSpec, TranscriptSync};
use crate::protocol::RunLlm;
use crate::sandbox::OpenClawPaths;

/// How long a stopping gateway may drain before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(15);

/// Lines of the gateway's stderr kept to explain a failed start.
const STDERR_TAIL: usize = 20;

/// How to run a gateway.
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    /// The Node 24 binary.
    pub node: PathBuf,
    /// OpenClaw's `openclaw.mjs`.
    pub entry: PathBuf,
    /// `runner/gateway-sync.mjs` ([`TranscriptSync`]).
    pub sync_script: PathBuf,
    /// Our folder for the gateway: OpenClaw's state, home, temp files, the config, the compile cache.
    pub state_dir: PathBuf,
    /// The agent's workspace (its memory files).
    pub workspace: PathBuf,
    /// The model every turn runs on, with its key (the gateway's providers are process config).
    pub llm: RunLlm,
    /// How long it may take to answer a handshake.
    pub ready_timeout: Duration,
}

/// Why a gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayStartError {
    #[error("could not prepare the gateway's files: {0}")]
    Files(#[from] std::io::Error),
    #[error("could not spawn the gateway: {0}")]
    Spawn(std::io::Error),
    #[error("the gateway exited before it was ready ({status}); last output: {tail}")]
    Exited { status: String, tail: String },
    #[error("the gateway was not ready within {0:?}")]
    NotReady(Duration),
    #[error(transparent)]
    Incompatible(GatewayError),
    #[error("the LLM proxy did not start: {0}")]
    Proxy(std::io::Error),
    #[error("the transcript sync helper did not start: {0}")]
    Sync(std::io::Error),
}

/// Starts gateways.
pub struct GatewaySupervisor;

/// A running gateway and our connection to it. Dropping it kills the process group.
pub struct Gateway {
    pub client: GatewayClient,
    pub sync: TranscriptSync,
    /// Serves the gateway's model with our key, for a provider entry of our own.
    _proxy: Option<LlmProxy>,
    pid: u32,
    exited: watch::Receiver<Option<String>>,
}

/// Where OpenClaw's files go under [`GatewaySpec::state_dir`].
struct Dirs {
    openclaw_state: PathBuf,
    home: PathBuf,
    tmp: PathBuf,
    config: PathBuf,
    compile_cache: PathBuf,
}

impl Dirs {
    fn new(root: &Path) -> Self {
        Self {
            openclaw_state: root.join("openclaw-state"),
            home: root.join("home"),
            tmp: root.join("tmp"),
            config: root.join("openclaw.json"),
            compile_cache: root.join("compile-cache"),
        }
    }

    /// The agent's session database (`<state>/agents/main/agent/openclaw-agent.sqlite` and its WAL
    /// and lock files).
    fn remove_agent_sessions(&self) -> std::io::Result<()> {
        let dir = self.openclaw_state.join("agents/main/agent");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("openclaw-agent.sqlite")
            {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

/// The variable that carries the key of one of OpenClaw's built-in providers into the gateway (an entry
/// of our own goes through the [`LlmProxy`] instead, and the gateway never has its key).
fn builtin_key_variable(provider_id: &str) -> &'static str {
    match provider_id {
        "anthropic" => "ANTHROPIC_API_KEY",
        _ => "OPENAI_API_KEY",
    }
}

/// The gateway's config file (JSON): local mode on loopback with token auth; the model of `llm` (its
/// provider entry, if any, as given: pointing at the proxy, with the proxy's stand-in key); no
/// Control UI, terminal, update checks, telemetry, heartbeat or workspace seeding; the scheduler on;
/// tool search off, so the model is offered its tools (the `automations` scheduler among them)
/// directly, as on the runner; the gateway's and plugins' control tools denied.
fn render_config(port: u16, workspace: &Path, log_file: &Path, llm: &RunLlm) -> Value {
    let mut providers = serde_json::Map::new();
    if let Some(entry) = &llm.provider {
        providers.insert(llm.provider_id.to_owned(), entry.clone());
    }
    json!({
        "gateway": {
            "mode": "local",
            "port": port,
            "bind": "loopback",
            "auth": { "mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}" },
            "controlUi": { "enabled": false },
        },
        "agents": {
            "defaults": {
                "model": { "primary": format!("{}/{}", llm.provider_id, llm.model) },
                "workspace": workspace.to_string_lossy(),
                "heartbeat": { "every": "0m" },
                "skipBootstrap": true,
            },
            "entries": { "main": {} },
        },
        "models": { "catalogRefresh": { "enabled": false }, "providers": providers },
        "plugins": { "allow": crate::config::RUNNER_PLUGINS },
        "tools": { "toolSearch": false, "deny": ["gateway", "plugins"] },
        "update": { "checkOnStart": false, "auto": { "enabled": false } },
        "telemetry": { "enabled": false },
        "logging": { "file": log_file.to_string_lossy(), "consoleLevel": "warn" },
    })
}

impl GatewaySupervisor {
    /// Spawns a gateway for `spec` and waits until it answers a handshake.
    pub async fn start(spec: &GatewaySpec) -> Result<Gateway, GatewayStartError> {
        let dirs = Dirs::new(&spec.state_dir);
        for dir in [&dirs.openclaw_state, &dirs.home, &dirs.tmp, &spec.workspace] {
            std::fs::create_dir_all(dir)?;
        }
        dirs.remove_agent_sessions()?;
        let port = free_port()?;
        let token = random_token()?;
        let mut llm = spec.llm.clone();
        // The config is the gateway's for every turn: a model of our own entry is declared able to see
        // images (the runner declares it per turn with images), and the provider answers for itself.
        llm.declare_images();
        let mut key_env = Vec::new();
        let proxy = match llm.provider.as_mut().and_then(Value::as_object_mut) {
            Some(entry) => {
                let base_url = entry
                    .get("baseUrl")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let api = entry.get("api").and_then(Value::as_str).unwrap_or_default();
                let proxy = LlmProxy::start(
                    base_url,
                    KeyHeader::for_api(api),
                    llm.api_key.clone(),
                    random_token()?,
                )
                .await
                .map_err(GatewayStartError::Proxy)?;
                entry.insert("baseUrl".into(), proxy.base_url.clone().into());
                entry.insert("apiKey".into(), proxy.stand_in.clone().into());
                Some(proxy)
            }
            None => {
                key_env.push((
                    OsString::from(builtin_key_variable(llm.provider_id)),
                    OsString::from(llm.api_key.expose()),
                ));
                None
            }
        };
        let log_file = dirs.openclaw_state.join("logs").join("openclaw.log");
        let config = render_config(port, &spec.workspace, &log_file, &llm);
        std::fs::write(
            &dirs.config,
            serde_json::to_vec_pretty(&config).map_err(std::io::Error::other)?,
        )?;
        let paths = OpenClawPaths {
            config: &dirs.config,
            state: &dirs.openclaw_state,
            home: &dirs.home,
            tmp: &dirs.tmp,
            compile_cache: &dirs.compile_cache,
        };
        let sync = SyncSpec {
            node: spec.node.clone(),
            script: spec.sync_script.clone(),
            env: crate::sandbox::openclaw_env(&paths, Vec::new()),
        };
        let env = crate::sandbox::openclaw_env(
            &paths,
            [("OPENCLAW_GATEWAY_TOKEN".into(), token.clone().into())]
                .into_iter()
                .chain(key_env)
                .collect(),
        );
        let spawned_at = Instant::now();
        let mut child = Command::new(&spec.node)
            .arg(&spec.entry)
            .args(["gateway", "run", "--bind", "loopback", "--port"])
            .arg(port.to_string())
            .env_clear()
            .envs(env)
            .current_dir(&spec.state_dir)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(GatewayStartError::Spawn)?;
        let pid = child.id().ok_or_else(|| GatewayStartError::Exited {
            status: "no pid".into(),
            tail: String::new(),
        })?;
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(forward(stdout, "stdout", None));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward(stderr, "stderr", Some(Arc::clone(&tail))));
        }
        let (exit_tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::warn!(pid, %status, "the OpenClaw gateway exited");
            let _ = exit_tx.send(Some(status));
        });
        // From here on, a failure kills the group.
        let mut guard = KillGuard(Some(pid));
        let (client, sync) = tokio::join!(
            Self::handshake(port, &token, &exited, &tail, spec.ready_timeout),
            TranscriptSync::start(&sync)
        );
        let (client, sync) = (client?, sync.map_err(GatewayStartError::Sync)?);
        guard.0 = None;
        tracing::info!(
            pid,
            port,
            ready_ms = u64::try_from(spawned_at.elapsed().as_millis()).unwrap_or(u64::MAX),
            "OpenClaw gateway ready"
        );
        Ok(Gateway {
            client,
            sync,
            _proxy: proxy,
            pid,
            exited,
        })
    }

    /// Retries the handshake until it succeeds, the process exits or `timeout` passes.
    async fn handshake(
        port: u16,
        token: &str,
        exited: &watch::Receiver<Option<String>>,
        tail: &Mutex<VecDeque<String>>,
        timeout: Duration,
    ) -> Result<GatewayClient, GatewayStartError> {
        let url = format!("ws://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = exited.borrow().clone() {
                let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                return Err(GatewayStartError::Exited {
                    status,
                    tail: tail.iter().cloned().collect::<Vec<_>>().join("\n"),
                });
            }
            let wait = match GatewayClient::connect(&url, token).await {
                Ok(client) => return Ok(client),
                Err(e @ GatewayError::Incompatible(_)) => {
                    return Err(GatewayStartError::Incompatible(e));
                }
                Err(GatewayError::NotReady { retry_after }) => retry_after,
                Err(_) => Duration::from_millis(250),
            };
            if tokio::time::Instant::now() + wait > deadline {
                return Err(GatewayStartError::NotReady(timeout));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

impl Gateway {
    /// The launcher's process id (the group's id too).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process is alive and our connection open.
    pub fn is_alive(&self) -> bool {
        self.exited.borrow().is_none() && !self.client.is_closed()
    }

    /// Resolves when the process has exited, with how.
    pub async fn exited(&self) -> String {
        let mut exited = self.exited.clone();
        loop {
            if let Some(status) = exited.borrow_and_update().clone() {
                return status;
            }
            if exited.changed().await.is_err() {
                return "unknown".into();
            }
        }
    }

    /// SIGTERM to the group, then SIGKILL if it has not exited within `grace`.
    pub async fn stop(&self, grace: Duration) {
        self.client.close();
        signal_group(self.pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(grace, self.exited()).await.is_err() {
            tracing::warn!(
                pid = self.pid,
                "the gateway did not stop in time; killing it"
            );
        }
        signal_group(self.pid, rustix::process::Signal::KILL);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        signal_group(self.pid, rustix::process::Signal::KILL);
    }
}

/// Kills the group of a gateway that did not become ready.
struct KillGuard(Option<u32>);

impl Drop for KillGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            signal_group(pid, rustix::process::Signal::KILL);
        }
    }
}

fn signal_group(pid: u32, signal: rustix::process::Signal) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        // ESRCH: the group is gone already.
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// 32 random bytes, hex.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(hex::encode(bytes))
}

/// Logs the output of the gateway (or its sync helper) at debug level, keeping the last lines in `tail`.
pub(super) async fn forward(
    output: impl AsyncRead + Unpin,
    stream: &'static str,
    tail: Option<Arc<Mutex<VecDeque<String>>>>,
) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "openclaw_gateway", stream, "{line}");
        if let Some(tail) = &tail {
            let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
            if tail.len() == STDERR_TAIL {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
}
