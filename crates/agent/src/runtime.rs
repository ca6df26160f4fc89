//! [`OpenClawRuntime`]: the [`AgentRuntime`] port on top of one long-lived runner process.
//!
//! The runner is started once (eagerly with [`OpenClawRuntime::start`], or by the first turn) and reused
//! by every turn, because importing OpenClaw and its first call cost seconds. A turn writes its transcript
//! to a private folder, asks the runner to continue it, streams deltas, and reads the updated transcript
//! back; a compaction (`/compact`) goes the same way with a `compact` line. The Rust side owns the
//! deadline and cancellation (OpenClaw alone would retry a dead provider for
//! minutes). If the runner dies, in-flight turns fail with `agent_crashed` and the next turn starts a
//! fresh runner.
//!
//! The runner is sealed (`docs/security.md`, [`crate::sandbox`]): an allow-listed environment, a host
//! its tools cannot inspect, optionally a bubblewrap namespace, and on disk only the workspaces of users
//! with a turn in flight: a user's folder is moved from `workspace_root` into the state dir's `active/`
//! for their turns and back afterwards ([`Checkouts`]).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::{ThinkingLevel, Usage};
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{
    AgentCompaction, AgentError, AgentEvent, AgentReply, AgentRuntime, AgentState, AgentStatus,
    AgentStatusSource, AgentTurn, Compacted, WorkspaceFolders,
};
use serverless_openclaw_core::protocol::ErrorCode;
use serverless_openclaw_core::settings::ModelChoice;
use tokio::sync::mpsc;

use crate::config::{BrowserSettings, DeploymentKeys, ProviderConfig, ProviderFallbacks};
use crate::protocol::{HostLine, RunLlm, RunnerLine};
use crate::runner::{RunnerProcess, RunnerSpec, StartError, TurnSignal};
use crate::sandbox::{Confinement, OpenClawPaths};

/// How long a turn may wait for the runner to confirm an abort before the turn gives up on it.
const ABORT_GRACE: Duration = Duration::from_secs(2);

/// How long the runner may take to become ready, local mode and Lambda alike: a cold start of OpenClaw on
/// a loaded 2-core machine takes tens of seconds, and a runner that is not ready by then is broken.
pub const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Everything the runtime needs, resolved at start-up.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// The Node 24 binary.
    pub node: PathBuf,
    /// `runner/runner.mjs`.
    pub runner_script: PathBuf,
    /// Writable folder for OpenClaw's state, home, temp files, the rendered config, turn files and the
    /// workspaces of turns in flight: the only folder of ours the runner sees when confined.
    pub state_dir: PathBuf,
    /// Per-user OpenClaw workspaces (its memory files) live in `<workspace_root>/<user>/` between turns.
    pub workspace_root: PathBuf,
    /// The deadline of one turn.
    pub turn_timeout: Duration,
    /// How long the runner may take to become ready ([`READY_TIMEOUT`] outside tests).
    pub ready_timeout: Duration,
    /// The deployment's default. `None`: turns without a user's choice answer `no_provider`.
    pub provider: Option<ProviderConfig>,
    /// Run turns without OpenClaw's tools.
    pub disable_tools: bool,
    /// The deployment's API keys (for the default provider, and for users who chose a provider
    /// without storing a key).
    pub keys: DeploymentKeys,
    /// Where the runner runs.
    pub confinement: Confinement,
    /// OpenClaw's browser tool; `None` (no Chromium): turns have no browser.
    pub browser: Option<BrowserSettings>,
}

/// The OpenClaw agent runtime.
pub struct OpenClawRuntime {
    settings: RuntimeSettings,
    /// The deployment's keys, and what turns with a user's choice may fall back on (those keys and
    /// the region). Replaced by [`OpenClawRuntime::set_keys`]; a std lock, held only to clone.
    keys: RwLock<(DeploymentKeys, ProviderFallbacks)>,
    spec: RunnerSpec,
    checkouts: Arc<Checkouts>,
    current: Mutex<Option<Arc<RunnerProcess>>>,
    /// Serialises start-ups so concurrent turns share one cold start.
    start_lock: tokio::sync::Mutex<()>,
    starting: AtomicBool,
}

impl OpenClawRuntime {
    /// Makes this process non-dumpable (see [`crate::sandbox::forbid_inspection`]) and its new files
    /// private ([`crate::sandbox::keep_files_private`]), prepares folders
    /// and the OpenClaw config file (which holds no secrets), and moves back any workspace a previous
    /// process left checked out. Does not start the runner.
    pub fn new(settings: RuntimeSettings) -> std::io::Result<Self> {
        crate::sandbox::forbid_inspection()?;
        crate::sandbox::keep_files_private();
        let dirs = StateDirs::new(&settings.state_dir);
        for dir in [
            &dirs.openclaw_state,
            &dirs.home,
            &dirs.tmp,
            &dirs.turns,
            &dirs.active,
            &settings.workspace_root,
        ] {
            std::fs::create_dir_all(dir)?;
        }
        match &settings.browser {
            Some(browser) => {
                tracing::info!(chromium = %browser.executable.display(), allowed_hosts = ?browser.allowed_hosts, "the agent has a browser")
            }
            None => tracing::warn!(
                "no Chromium found: the agent has no browser tool (install chromium or set {})",
                crate::config::CHROMIUM_ENV
            ),
        }
        let config = crate::config::render_openclaw_config(
            &dirs.openclaw_state.join("logs").join("openclaw.log"),
            settings.browser.as_ref(),
        );
        std::fs::write(&dirs.config, serde_json::to_vec_pretty(&config)?)?;
        let env = crate::sandbox::openclaw_env(
            &OpenClawPaths {
                config: &dirs.config,
                state: &dirs.openclaw_state,
                home: &dirs.home,
                tmp: &dirs.tmp,
                compile_cache: &dirs.compile_cache,
            },
            Vec::new(),
        );
        // OpenClaw's heap grows lazily (~7 MB a turn) without a cap; 768 MB keeps a warm runner near
        // 0.6 GB RSS and within the agent Lambda's 2 GB.
        let node_args: Vec<OsString> = vec![
            "--max-old-space-size=768".into(),
            settings.runner_script.clone().into(),
        ];
        let (program, args) = match &settings.confinement {
            Confinement::None => (settings.node.clone(), node_args),
            Confinement::Bubblewrap(sandbox) => {
                let runner_dir = settings.runner_script.parent().unwrap_or(Path::new("/"));
                sandbox.wrap(
                    &settings.state_dir,
                    &[settings.node.clone(), runner_dir.to_path_buf()],
                    &settings.node,
                    &node_args,
                )
            }
        };
        let spec = RunnerSpec {
            program,
            args,
            env,
            working_dir: settings
                .runner_script
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            ready_timeout: settings.ready_timeout,
        };
        let keys = RwLock::new(keys_and_fallbacks(settings.keys.clone()));
        let checkouts = Arc::new(Checkouts::new(
            settings.workspace_root.clone(),
            dirs.active,
        )?);
        Ok(Self {
            settings,
            keys,
            spec,
            checkouts,
            current: Mutex::new(None),
            start_lock: tokio::sync::Mutex::new(()),
            starting: AtomicBool::new(false),
        })
    }

    /// Where users' workspaces are at any moment, for writers outside turns (see [`WorkspaceFolders`]).
    pub fn workspace_folders(&self) -> Arc<dyn WorkspaceFolders> {
        self.checkouts.clone()
    }

    /// Starts the runner now (a cold start ahead of the first turn). Returns the OpenClaw version.
    pub async fn start(&self) -> Result<String, AgentError> {
        Ok(self.runner().await?.openclaw_version().to_owned())
    }

    /// Starts the runner (if needed) and waits until its warm-up is over too. For a host that is
    /// frozen while idle (the agent Lambda between invocations): a warm-up that is not over when the
    /// host goes idle would be finished by the next real turn, which then pays for it.
    pub async fn start_warm(&self) -> Result<String, AgentError> {
        let runner = self.runner().await?;
        runner.warmed_up().await;
        Ok(runner.openclaw_version().to_owned())
    }

    /// Replaces the deployment's keys for the turns that start from now on (the agent Lambda reads
    /// them again after a SnapStart restore). The runner is kept: it holds no key, each turn brings
    /// its own on stdin.
    pub fn set_keys(&self, keys: DeploymentKeys) {
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys_and_fallbacks(keys);
    }

    /// How this runtime starts its runner (node, its options, the script, the environment it adds), for
    /// tools that start one themselves (the benchmark).
    pub fn runner_spec(&self) -> &RunnerSpec {
        &self.spec
    }

    /// The process id of the live runner, if any (for operations and tests).
    pub fn runner_pid(&self) -> Option<u32> {
        self.live().and_then(|r| r.pid())
    }

    /// Stops the runner, giving in-flight turns a moment.
    pub async fn shutdown(&self) {
        let runner = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(runner) = runner {
            runner.shutdown(Duration::from_secs(3)).await;
        }
    }

    fn live(&self) -> Option<Arc<RunnerProcess>> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.as_ref().filter(|r| r.is_alive()).cloned()
    }

    async fn runner(&self) -> Result<Arc<RunnerProcess>, AgentError> {
        if let Some(runner) = self.live() {
            return Ok(runner);
        }
        let _one_start = self.start_lock.lock().await;
        if let Some(runner) = self.live() {
            return Ok(runner);
        }
        self.starting.store(true, Ordering::SeqCst);
        let started = RunnerProcess::spawn(&self.spec).await;
        self.starting.store(false, Ordering::SeqCst);
        let runner = started.map_err(|e| {
            tracing::error!(error = %e, "the OpenClaw runner did not start");
            let message = match &e {
                StartError::Fatal { message, .. } => message.clone(),
                _ => format!("the OpenClaw runner could not start: {e}"),
            };
            AgentError::new(ErrorCode::AgentCrashed, message)
        })?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&runner));
        Ok(runner)
    }
}

/// The deployment's keys with the fallbacks built from them (and the process's region).
fn keys_and_fallbacks(keys: DeploymentKeys) -> (DeploymentKeys, ProviderFallbacks) {
    let fallbacks = ProviderFallbacks::new(keys.clone(), |name| std::env::var(name).ok());
    (keys, fallbacks)
}

struct StateDirs {
    openclaw_state: PathBuf,
    home: PathBuf,
    tmp: PathBuf,
    turns: PathBuf,
    active: PathBuf,
    config: PathBuf,
    compile_cache: PathBuf,
}

impl StateDirs {
    fn new(root: &Path) -> Self {
        Self {
            openclaw_state: root.join("openclaw-state"),
            home: root.join("home"),
            tmp: root.join("tmp"),
            turns: root.join("turns"),
            active: root.join("active"),
            config: root.join("openclaw.json"),
            compile_cache: root.join("compile-cache"),
        }
    }
}

/// The workspaces of users with a turn in flight. Between turns a user's folder lives in `stored`
/// (outside the runner's view when it is confined); a user's first turn in flight moves it into
/// `active`, in the runner's state dir, and their last one to end moves it back. Moves are renames
/// within one file system, so they cost nothing and never copy. The runner's tools therefore see no
/// workspace of a user without a turn in flight.
struct Checkouts {
    stored: PathBuf,
    active: PathBuf,
    /// Turns in flight per user; a user is in the map exactly while their folder is in `active`.
    in_flight: Mutex<HashMap<UserId, usize>>,
}

impl Checkouts {
    /// Also moves back what a process that died with turns in flight left in `active`. Where the
    /// store has that user's folder too, the stored one stays the workspace and the left one is kept
    /// beside it as `<user>.left-<unix ns>` (no user id has a dot, so no turn ever checks it out).
    fn new(stored: PathBuf, active: PathBuf) -> std::io::Result<Self> {
        for entry in std::fs::read_dir(&active)? {
            let entry = entry?;
            let mut back = stored.join(entry.file_name());
            if back.exists() {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos();
                let mut name = entry.file_name();
                name.push(format!(".left-{now}"));
                back = stored.join(name);
                tracing::error!(
                    left = %entry.path().display(), kept = %back.display(),
                    "a workspace left checked out also exists in the store; the stored one stays in use"
                );
            }
            std::fs::rename(entry.path(), back)?;
        }
        Ok(Self {
            stored,
            active,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// The folder `user`'s turn works in, checked out until the returned guard is dropped.
    fn check_out(self: &Arc<Self>, user: &UserId) -> std::io::Result<CheckedOut> {
        let path = self.active.join(user.as_str());
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if !in_flight.contains_key(user) {
            let stored = self.stored.join(user.as_str());
            match std::fs::rename(&stored, &path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(&path)?;
                }
                Err(e) => return Err(e),
            }
        }
        *in_flight.entry(user.clone()).or_default() += 1;
        Ok(CheckedOut {
            checkouts: Arc::clone(self),
            user: user.clone(),
            path,
        })
    }

    fn check_in(&self, user: &UserId) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let Some(count) = in_flight.get_mut(user) else {
            return;
        };
        *count -= 1;
        if *count > 0 {
            return;
        }
        in_flight.remove(user);
        let from = self.active.join(user.as_str());
        if let Err(e) = std::fs::rename(&from, self.stored.join(user.as_str())) {
            // Left where it is: the next start moves it back.
            tracing::error!(%user, error = %e, "could not move a workspace back after its turn");
        }
    }
}

/// Writers outside turns (skill uploads in local mode) reach a user's workspace here, wherever it is:
/// checked out for a turn in flight, left in `active` by a failed move back, or in the store. The
/// folder cannot move while `f` runs: check-outs and check-ins take the same lock.
impl WorkspaceFolders for Checkouts {
    fn with_folder(&self, user: &UserId, f: &mut dyn FnMut(&Path)) {
        let in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let (active, stored) = (
            self.active.join(user.as_str()),
            self.stored.join(user.as_str()),
        );
        if in_flight.contains_key(user) || (!stored.exists() && active.exists()) {
            f(&active);
        } else {
            f(&stored);
        }
    }
}

/// A user's workspace checked out for one turn.
struct CheckedOut {
    checkouts: Arc<Checkouts>,
    user: UserId,
    path: PathBuf,
}

impl Drop for CheckedOut {
    fn drop(&mut self) {
        self.checkouts.check_in(&self.user);
    }
}

/// Removes a turn's private folder however the turn ends.
pub(crate) struct TurnDir(pub(crate) PathBuf);

impl Drop for TurnDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn io_error(e: std::io::Error) -> AgentError {
    tracing::error!(error = %e, "turn file I/O failed");
    AgentError::new(
        ErrorCode::Internal,
        "the agent could not prepare the turn's files",
    )
}

fn runner_error(code: &str, message: String) -> AgentError {
    let code = match code {
        "llm_error" => ErrorCode::LlmError,
        "timeout" => ErrorCode::Timeout,
        "aborted" => ErrorCode::Cancelled,
        _ => ErrorCode::Internal,
    };
    AgentError::new(code, message)
}

fn path_str(p: &Path) -> Result<&str, AgentError> {
    p.to_str()
        .ok_or_else(|| AgentError::new(ErrorCode::Internal, "a data path is not valid UTF-8"))
}

impl AgentStatusSource for OpenClawRuntime {
    fn status(&self) -> AgentStatus {
        let live = self.live();
        let state = match (&live, self.starting.load(Ordering::SeqCst)) {
            (Some(_), _) => AgentState::Ready,
            (None, true) => AgentState::Starting,
            (None, false) => AgentState::Stopped,
        };
        AgentStatus {
            state,
            openclaw_version: live.map(|r| r.openclaw_version().to_owned()),
            model: self
                .settings
                .provider
                .as_ref()
                .map(ProviderConfig::model_ref),
        }
    }
}

/// What one request to the runner (a turn or a compaction) holds while it runs: its private folder
/// with the transcript files, the user's checked-out workspace and the runner. Dropping it removes
/// the folder and checks the workspace back in.
struct Request {
    id: String,
    session_id: String,
    transcript_in: PathBuf,
    transcript_out: PathBuf,
    workspace: CheckedOut,
    runner: Arc<RunnerProcess>,
    deadline: tokio::time::Instant,
    // Dropped last: the folder goes once nothing refers to it any more.
    dir: TurnDir,
}

impl OpenClawRuntime {
    /// The `llm` of a request: the user's choice, else the deployment's default, with the
    /// conversation's own model id in place of the provider's model. The provider is checked before
    /// anything else: a missing key fails at once, without the runner.
    fn request_llm(
        &self,
        model: Option<&ModelChoice>,
        model_id: Option<&str>,
    ) -> Result<RunLlm, AgentError> {
        let no_provider =
            |e: crate::config::ChoiceError| AgentError::new(ErrorCode::NoProvider, e.to_string());
        let (keys, fallbacks) = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        match (model, &self.settings.provider) {
            (Some(choice), _) => {
                let mut choice = choice.clone();
                if let Some(id) = model_id {
                    choice.settings.model = id.to_owned();
                }
                crate::config::turn_llm(&choice, &fallbacks).map_err(no_provider)
            }
            (None, Some(provider)) => provider
                .with_model(model_id)
                .run_llm(&keys)
                .map_err(no_provider),
            (None, None) => Err(AgentError::new(
                ErrorCode::NoProvider,
                crate::config::NO_PROVIDER_HELP,
            )),
        }
    }

    /// Writes the transcript into a private folder, checks out the user's workspace and gets the
    /// runner (starting it if needed), within the request's deadline and until `cancel`.
    async fn prepare(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        transcript: Option<&[u8]>,
        cancel: &CancellationToken,
    ) -> Result<Request, AgentError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = TurnDir(StateDirs::new(&self.settings.state_dir).turns.join(&id));
        tokio::fs::create_dir_all(&dir.0).await.map_err(io_error)?;
        let transcript_in = dir.0.join("in.jsonl");
        let transcript_out = dir.0.join("out.jsonl");
        if let Some(bytes) = transcript {
            tokio::fs::write(&transcript_in, bytes)
                .await
                .map_err(io_error)?;
        }
        let workspace = self.checkouts.check_out(user).map_err(io_error)?;
        let deadline = tokio::time::Instant::now() + self.settings.turn_timeout;
        let runner = tokio::select! {
            r = self.runner() => r?,
            () = cancel.cancelled() => return Err(AgentError::new(ErrorCode::Cancelled, "the turn was cancelled")),
            () = tokio::time::sleep_until(deadline) => return Err(timeout_error(self.settings.turn_timeout)),
        };
        Ok(Request {
            session_id: format!("{user}__{conversation}"),
            id,
            transcript_in,
            transcript_out,
            workspace,
            runner,
            deadline,
            dir,
        })
    }

    fn timeout_ms(&self) -> u64 {
        u64::try_from(self.settings.turn_timeout.as_millis()).unwrap_or(u64::MAX)
    }

    /// Sends `line` (request `request.id`) and waits for the line that ends it (`result` or
    /// `compacted`), which it returns; `sent` runs once the runner has the line, `progress` gets the
    /// request's other lines. A runner `error` line, `cancel`, the deadline or the runner's death end it
    /// with an error (the first two after asking the runner to abort).
    async fn converse(
        &self,
        request: &Request,
        line: &HostLine<'_>,
        cancel: &CancellationToken,
        sent: impl FnOnce(),
        mut progress: impl FnMut(RunnerLine),
    ) -> Result<RunnerLine, AgentError> {
        let (runner, id) = (&request.runner, request.id.as_str());
        let crashed = |how: String| {
            AgentError::new(
                ErrorCode::AgentCrashed,
                format!("{how}; it will be restarted for the next message"),
            )
        };
        let mut lines = runner
            .register(id)
            .ok_or_else(|| crashed("the OpenClaw runner died".into()))?;
        if let Err(e) = runner.send(line).await {
            runner.unregister(id);
            return Err(crashed(format!(
                "the OpenClaw runner stopped reading ({e})"
            )));
        }
        sent();
        let outcome = loop {
            let signal = tokio::select! {
                signal = lines.recv() => signal,
                () = cancel.cancelled() => {
                    break Err(abort(runner, id, &mut lines, AgentError::new(ErrorCode::Cancelled, "the turn was cancelled")).await);
                }
                () = tokio::time::sleep_until(request.deadline) => {
                    break Err(abort(runner, id, &mut lines, timeout_error(self.settings.turn_timeout)).await);
                }
            };
            match signal {
                Some(TurnSignal::Line(
                    end @ (RunnerLine::Result { .. } | RunnerLine::Compacted { .. }),
                )) => break Ok(end),
                Some(TurnSignal::Line(RunnerLine::Error { code, message, .. })) => {
                    break Err(runner_error(&code, message));
                }
                Some(TurnSignal::Line(other)) => progress(other),
                Some(TurnSignal::Died(how)) => break Err(crashed(how)),
                None => break Err(crashed("the OpenClaw runner died".into())),
            }
        };
        runner.unregister(id);
        outcome
    }
}

#[async_trait]
impl AgentRuntime for OpenClawRuntime {
    async fn run_turn(
        &self,
        turn: AgentTurn,
        events: mpsc::UnboundedSender<AgentEvent>,
        cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError> {
        let mut llm = self.request_llm(turn.model.as_ref(), turn.model_id.as_deref())?;
        if turn.thinking.is_some_and(|t| t != ThinkingLevel::Off) {
            llm.declare_reasoning();
        }
        let request = self
            .prepare(
                &turn.user_id,
                &turn.conversation_id,
                turn.transcript.as_deref(),
                &cancel,
            )
            .await?;
        // Declared after `request`, so the copies are removed before the workspace is checked in.
        let staged = crate::attachments::stage(
            &request.dir.0,
            &request.workspace.path,
            &turn.conversation_id,
            &turn.prompt,
            &turn.attachments,
        )
        .map_err(io_error)?;
        if !staged.images.is_empty() {
            llm.declare_images();
        }
        let run = HostLine::Run {
            id: &request.id,
            session_id: &request.session_id,
            transcript_path: path_str(&request.transcript_in)?,
            transcript_out_path: path_str(&request.transcript_out)?,
            workspace_dir: path_str(&request.workspace.path)?,
            prompt: &staged.prompt,
            llm: &llm,
            timeout_ms: self.timeout_ms(),
            disable_tools: self.settings.disable_tools,
            tools: turn.tools,
            browser: turn.browser,
            think_level: turn.thinking.map(ThinkingLevel::as_str),
            images: &staged.images,
            disabled_skills: &turn.disabled_skills,
        };
        let end = self
            .converse(
                &request,
                &run,
                &cancel,
                || {
                    let _ = events.send(AgentEvent::Started);
                },
                |line| match line {
                    RunnerLine::Delta { text, replace, .. } => {
                        let _ = events.send(AgentEvent::Delta { text, replace });
                    }
                    RunnerLine::Tool { tool, .. } => {
                        let _ = events.send(AgentEvent::Tool(tool));
                    }
                    other => tracing::warn!(?other, "unexpected runner line for a turn"),
                },
            )
            .await?;
        let RunnerLine::Result {
            text,
            usage,
            cost_usd,
            duration_ms,
            media,
            ..
        } = end
        else {
            return Err(AgentError::new(
                ErrorCode::Internal,
                "the runner ended a turn with a compaction's line",
            ));
        };
        let transcript = tokio::fs::read(&request.transcript_out)
            .await
            .map_err(io_error)?;
        // Read while the workspace is still checked out.
        let (files, text) = {
            let workspace = request.workspace.path.clone();
            tokio::task::spawn_blocking(move || {
                let produced = crate::attachments::collect_produced(&workspace, &media, text);
                crate::attachments::remove_browser_screenshots(&workspace);
                produced
            })
            .await
            .map_err(|e| io_error(std::io::Error::other(e)))?
        };
        Ok(AgentReply {
            text,
            files,
            usage: Usage {
                input_tokens: usage.input,
                output_tokens: usage.output,
            },
            cost_usd,
            duration_ms,
            transcript,
        })
    }

    async fn compact(
        &self,
        compaction: AgentCompaction,
        cancel: CancellationToken,
    ) -> Result<Compacted, AgentError> {
        let llm = self.request_llm(compaction.model.as_ref(), compaction.model_id.as_deref())?;
        let request = self
            .prepare(
                &compaction.user_id,
                &compaction.conversation_id,
                Some(&compaction.transcript),
                &cancel,
            )
            .await?;
        let line = HostLine::Compact {
            id: &request.id,
            session_id: &request.session_id,
            transcript_path: path_str(&request.transcript_in)?,
            transcript_out_path: path_str(&request.transcript_out)?,
            workspace_dir: path_str(&request.workspace.path)?,
            llm: &llm,
            timeout_ms: self.timeout_ms(),
            instructions: compaction.instructions.as_deref(),
        };
        let end = self
            .converse(
                &request,
                &line,
                &cancel,
                || {},
                |other| {
                    tracing::warn!(?other, "unexpected runner line for a compaction");
                },
            )
            .await?;
        let RunnerLine::Compacted {
            compacted,
            reason,
            tokens_before,
            tokens_after,
            ..
        } = end
        else {
            return Err(AgentError::new(
                ErrorCode::Internal,
                "the runner ended a compaction with a turn's line",
            ));
        };
        let transcript = if compacted {
            Some(
                tokio::fs::read(&request.transcript_out)
                    .await
                    .map_err(io_error)?,
            )
        } else {
            None
        };
        Ok(Compacted {
            transcript,
            tokens_before,
            tokens_after,
            reason,
        })
    }
}

fn timeout_error(limit: Duration) -> AgentError {
    AgentError::new(
        ErrorCode::Timeout,
        format!(
            "the agent did not finish within {} seconds and was stopped",
            limit.as_secs()
        ),
    )
}

/// Asks the runner to abort turn `id` and waits briefly for it to confirm, so the runner is not left
/// working on a turn nobody waits for. Returns `error` whatever the runner says.
async fn abort(
    runner: &RunnerProcess,
    id: &str,
    lines: &mut mpsc::UnboundedReceiver<TurnSignal>,
    error: AgentError,
) -> AgentError {
    if runner.send(&HostLine::Abort { id }).await.is_ok() {
        let confirmed = tokio::time::timeout(ABORT_GRACE, async {
            while let Some(signal) = lines.recv().await {
                if matches!(
                    signal,
                    TurnSignal::Line(
                        RunnerLine::Error { .. }
                            | RunnerLine::Result { .. }
                            | RunnerLine::Compacted { .. }
                    ) | TurnSignal::Died(_)
                ) {
                    return;
                }
            }
        })
        .await;
        if confirmed.is_err() {
            tracing::warn!(id, "the runner did not confirm an abort in time");
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_that_could_not_be_moved_back_serves_the_next_turn_and_goes_back_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (stored, active) = (dir.path().join("stored"), dir.path().join("active"));
        std::fs::create_dir_all(&stored).unwrap();
        std::fs::create_dir_all(&active).unwrap();
        let checkouts = Arc::new(Checkouts::new(stored.clone(), active.clone()).unwrap());
        let user = UserId::parse("user-1").unwrap();

        let turn = checkouts.check_out(&user).unwrap();
        std::fs::write(turn.path.join("MEMORY.md"), "remember this").unwrap();
        // The move back fails (here: the store is gone for a moment).
        let away = dir.path().join("stored-away");
        std::fs::rename(&stored, &away).unwrap();
        drop(turn);
        std::fs::rename(&away, &stored).unwrap();
        assert!(
            active.join("user-1/MEMORY.md").is_file(),
            "left checked out"
        );
        assert!(!stored.join("user-1").exists());

        // The next turn works in it, and afterwards it is back in the store.
        let turn = checkouts.check_out(&user).unwrap();
        assert_eq!(
            std::fs::read_to_string(turn.path.join("MEMORY.md")).unwrap(),
            "remember this"
        );
        drop(turn);
        assert_eq!(
            std::fs::read_to_string(stored.join("user-1/MEMORY.md")).unwrap(),
            "remember this"
        );
        assert!(!active.join("user-1").exists());
    }

    #[tokio::test]
    async fn a_workspace_write_during_a_turn_lands_in_the_checked_out_folder_and_goes_back_with_it()
    {
        use serverless_openclaw_core::ports::WorkspaceStore;
        let dir = tempfile::tempdir().unwrap();
        let (stored, active) = (dir.path().join("stored"), dir.path().join("active"));
        std::fs::create_dir_all(&stored).unwrap();
        std::fs::create_dir_all(&active).unwrap();
        let checkouts = Arc::new(Checkouts::new(stored.clone(), active.clone()).unwrap());
        let store = serverless_openclaw_local::FileWorkspaceStore::over(checkouts.clone());
        let user = UserId::parse("user-1").unwrap();

        store
            .put(&user, "MEMORY.md", b"before", None)
            .await
            .unwrap();
        assert!(stored.join("user-1/MEMORY.md").is_file());
        let turn = checkouts.check_out(&user).unwrap();
        store
            .put(&user, "skills/zeta/SKILL.md", b"during", None)
            .await
            .unwrap();
        assert!(turn.path.join("skills/zeta/SKILL.md").is_file());
        assert!(
            !stored.join("user-1").exists(),
            "nothing is recreated beside the checked-out folder"
        );
        let listed: Vec<String> = store
            .list(&user)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(listed, ["MEMORY.md", "skills/zeta/SKILL.md"]);
        drop(turn);
        assert_eq!(
            std::fs::read_to_string(stored.join("user-1/skills/zeta/SKILL.md")).unwrap(),
            "during"
        );
        assert!(!active.join("user-1").exists());
    }

    #[test]
    fn a_start_moves_back_what_a_dead_process_left_checked_out_and_keeps_a_conflicting_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (stored, active) = (dir.path().join("stored"), dir.path().join("active"));
        std::fs::create_dir_all(stored.join("user-2")).unwrap();
        std::fs::write(stored.join("user-2/MEMORY.md"), "stored").unwrap();
        for user in ["user-1", "user-2"] {
            std::fs::create_dir_all(active.join(user)).unwrap();
            std::fs::write(active.join(user).join("MEMORY.md"), "left").unwrap();
        }

        let checkouts = Arc::new(Checkouts::new(stored.clone(), active.clone()).unwrap());

        let read = |path: PathBuf| std::fs::read_to_string(path).unwrap();
        assert_eq!(read(stored.join("user-1/MEMORY.md")), "left");
        assert_eq!(std::fs::read_dir(&active).unwrap().count(), 0);
        // Both copies kept; the stored one is the one turns use.
        let kept: Vec<_> = std::fs::read_dir(&stored)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with("user-2.left-"))
            .collect();
        let [kept] = &kept[..] else {
            panic!("not one copy kept: {kept:?}")
        };
        assert_eq!(read(stored.join(kept).join("MEMORY.md")), "left");
        let turn = checkouts
            .check_out(&UserId::parse("user-2").unwrap())
            .unwrap();
        assert_eq!(read(turn.path.join("MEMORY.md")), "stored");
    }

    #[test]
    fn the_runner_gets_node_s_compile_cache_from_our_environment_or_under_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = OpenClawRuntime::new(RuntimeSettings {
            node: "node".into(),
            runner_script: "runner.mjs".into(),
            state_dir: dir.path().join("agent"),
            workspace_root: dir.path().join("workspaces"),
            turn_timeout: Duration::from_secs(1),
            ready_timeout: Duration::from_secs(1),
            provider: None,
            disable_tools: false,
            keys: DeploymentKeys::default(),
            confinement: Confinement::None,
            browser: None,
        })
        .unwrap();
        let cache = runtime
            .runner_spec()
            .env
            .iter()
            .find(|(k, _)| k == "NODE_COMPILE_CACHE")
            .map(|(_, v)| v.clone());
        // An agent image names its primed cache in our environment; without one, the state dir keeps it.
        let expected = std::env::var_os("NODE_COMPILE_CACHE")
            .unwrap_or_else(|| dir.path().join("agent").join("compile-cache").into());
        assert_eq!(cache, Some(expected));
    }
}
