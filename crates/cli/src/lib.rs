//! Local mode: the one composition function that picks the local adapters and the OpenClaw runtime and
//! builds the server, used by `serverless-openclaw local` and by the end-to-end tests alike.
//!
//! - [`LocalOptions`]: everything local mode needs, resolved from flags and environment by `main`.
//! - [`compose`]: builds the [`LocalApp`] (router, runtime, queue) from them.
//! - [`paths`]: where the runner, Node and the web UI are found.
//! - [`stack`]: a deployment's secrets, for the `telegram` commands (with the `aws` feature).

pub mod paths;
pub mod stack;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use serverless_openclaw_agent::config::find_system_chromium;
use serverless_openclaw_agent::{
    BrowserSettings, Bubblewrap, Confinement, DeploymentKeys, GatewayRuntime, GatewaySettings,
    OpenClawRuntime, ProviderConfig, READY_TIMEOUT, RunnerWaker, RuntimeSettings,
};
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::attachments::{Attachments, DEFAULT_QUOTA_BYTES};
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::config::{Env, Secret};
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::linking::Linking;
use serverless_openclaw_core::ports::{
    AgentCompaction, AgentError, AgentEvent, AgentReply, AgentRuntime, AgentStatus,
    AgentStatusSource, AgentTurn, AgentWaker, ApiKeyStore, AttachmentStore, ClientPush, Compacted,
    ConversationStore, SettingsStore, TelegramStore, TelegramUserId, ToolAccess, TranscriptStore,
    TurnQueue,
};
use serverless_openclaw_core::search::ConversationSearch;
use serverless_openclaw_core::settings::Endpoints;
use serverless_openclaw_core::skills::Skills;
use serverless_openclaw_core::turn::{LeasePolicy, TurnProcessor};
use serverless_openclaw_local::{
    FileApiKeyStore, FileAttachmentStore, FileLinks, FileTranscriptStore, FileUploads,
    FileWorkspaceStore, LocalTurnQueue, MemorySessionLeases, SqliteConversationStore,
    SqliteSettingsStore, SqliteTelegramStore, private_dir,
};
use serverless_openclaw_server::{
    AllowedHosts, AppState, ConnectionHub, LocalSurface, TokenAuthenticator,
};
use serverless_openclaw_speech::HttpSpeechToText;
use serverless_openclaw_telegram::api::DEFAULT_BASE_URL;
use serverless_openclaw_telegram::{Bot, BotApi, TelegramReplies, parse_allowlist};

/// The only user of local mode.
pub const LOCAL_USER: &str = "owner";

/// File in the data dir that keeps the generated access token.
const TOKEN_FILE: &str = "access-token";

/// Everything local mode needs.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub data_dir: PathBuf,
    /// From `SERVERLESS_OPENCLAW_TOKEN`; `None` generates one once and keeps it in the data dir.
    pub token: Option<Secret>,
    /// Host names the server answers to besides the loopback ones (`SERVERLESS_OPENCLAW_ALLOWED_HOSTS`,
    /// and `serverless-openclaw local` adds the address it binds to).
    pub allowed_hosts: Vec<String>,
    /// Where users' OpenAI-compatible base URLs may point (`SERVERLESS_OPENCLAW_ALLOW_PRIVATE_ENDPOINTS`).
    pub endpoints: Endpoints,
    pub provider: Option<ProviderConfig>,
    /// The deployment's API keys (from the environment; they reach the runner per turn, never its
    /// environment).
    pub keys: DeploymentKeys,
    /// How the runner is sealed off from the data dir (`SERVERLESS_OPENCLAW_SANDBOX`).
    pub sandbox: SandboxMode,
    /// The tool access of guests from the Telegram allowlist (`SERVERLESS_OPENCLAW_GUEST_TOOLS`).
    pub guest_tools: ToolAccess,
    pub node: PathBuf,
    pub runner_script: PathBuf,
    pub web_dir: Option<PathBuf>,
    pub turn_timeout: Duration,
    pub disable_tools: bool,
    /// The browser tool's Chromium (`SERVERLESS_OPENCLAW_CHROMIUM`, else the system's) and the hosts it
    /// may open on private addresses; `None`: no browser.
    pub browser: Option<BrowserSettings>,
    /// The Telegram bot, long-polled; `None` without `TELEGRAM_BOT_TOKEN`.
    pub telegram: Option<TelegramOptions>,
    /// What runs the owner's turns (`SERVERLESS_OPENCLAW_RUNTIME`, `--runtime`).
    pub runtime: RuntimeKind,
}

/// What runs the owner's turns in local mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeKind {
    /// The Node runner embedding OpenClaw's agent, as the agent Lambda does.
    #[default]
    Runner,
    /// OpenClaw's own gateway (`openclaw gateway run`), with its scheduler and owner tools; guests
    /// stay on the runner ([`OwnerOnGateway`]).
    Gateway,
}

impl RuntimeKind {
    /// Parses `runner` or `gateway`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "runner" => Some(Self::Runner),
            "gateway" => Some(Self::Gateway),
            _ => None,
        }
    }
}

/// Whether local mode runs the runner inside bubblewrap (`docs/security.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxMode {
    /// Bubblewrap when it is installed and works here; otherwise a warning, and the runner's tools
    /// can read the data dir.
    #[default]
    Auto,
    /// Bubblewrap or refuse to start.
    Required,
    /// Never (the runner's tools can read the data dir: keys, chats, the access token).
    Off,
}

impl SandboxMode {
    /// Parses `auto`, `bwrap` or `off`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "auto" => Some(Self::Auto),
            "bwrap" => Some(Self::Required),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

impl LocalOptions {
    /// Reads local mode's settings from `env` (`docs/configuration.md`), with the paths of a checkout at
    /// `repo` as defaults; an unusable value is an error naming its variable.
    pub fn from_env(env: Env<'_>, data_dir: PathBuf, repo: Option<&Path>) -> anyhow::Result<Self> {
        let path = |name: &str| env.optional(name).map(PathBuf::from);
        let lookup = |name: &str| env.optional(name);
        Ok(Self {
            data_dir,
            token: access_token(env)?,
            allowed_hosts: env
                .optional("SERVERLESS_OPENCLAW_ALLOWED_HOSTS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect(),
            endpoints: env.endpoints()?,
            node: paths::node_binary(path("SERVERLESS_OPENCLAW_NODE"), repo)?,
            runner_script: paths::runner_script(path("SERVERLESS_OPENCLAW_RUNNER"), repo)?,
            web_dir: paths::web_dir(path("SERVERLESS_OPENCLAW_WEB_DIR"), repo),
            turn_timeout: env.turn_timeout()?,
            disable_tools: env.disable_tools()?,
            browser: BrowserSettings::from_env(lookup, || {
                find_system_chromium(std::env::var_os("PATH").as_deref())
            }),
            provider: ProviderConfig::from_env(lookup)?,
            keys: DeploymentKeys::from_env(lookup),
            sandbox: env.choice(
                "SERVERLESS_OPENCLAW_SANDBOX",
                SandboxMode::parse,
                "auto, bwrap or off",
                SandboxMode::Auto,
            )?,
            guest_tools: env.guest_tools()?,
            runtime: env.choice(
                "SERVERLESS_OPENCLAW_RUNTIME",
                RuntimeKind::parse,
                "runner or gateway",
                RuntimeKind::Runner,
            )?,
            telegram: match env.optional("TELEGRAM_BOT_TOKEN") {
                None => None,
                Some(token) => Some(TelegramOptions {
                    token,
                    api_url: telegram_api_url(env),
                    allowlist: parse_allowlist(
                        &env.optional("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST")
                            .unwrap_or_default(),
                    )
                    .map_err(|e| anyhow::anyhow!("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST: {e}"))?,
                }),
            },
        })
    }
}

/// The shortest access token accepted from `SERVERLESS_OPENCLAW_TOKEN` (a generated one has 48 hex
/// characters): the token is all that stands between a web page in the owner's browser, or another user
/// of the machine, and the agent.
pub const MIN_TOKEN_CHARS: usize = 24;

/// `SERVERLESS_OPENCLAW_TOKEN`, when set, refused if it is short.
fn access_token(env: Env<'_>) -> anyhow::Result<Option<Secret>> {
    let Some(token) = env.secret("SERVERLESS_OPENCLAW_TOKEN") else {
        return Ok(None);
    };
    let chars = token.expose().chars().count();
    anyhow::ensure!(
        chars >= MIN_TOKEN_CHARS,
        "SERVERLESS_OPENCLAW_TOKEN is too short ({chars} characters): use at least \
         {MIN_TOKEN_CHARS} random characters, or unset it to have one generated"
    );
    Ok(Some(token))
}

/// The Bot API (`SERVERLESS_OPENCLAW_TELEGRAM_API_URL`, Telegram's by default).
pub fn telegram_api_url(env: Env<'_>) -> String {
    env.optional("SERVERLESS_OPENCLAW_TELEGRAM_API_URL")
        .unwrap_or_else(|| DEFAULT_BASE_URL.into())
}

/// The Telegram bot of local mode.
#[derive(Clone)]
pub struct TelegramOptions {
    pub token: String,
    /// The Bot API (`SERVERLESS_OPENCLAW_TELEGRAM_API_URL`, Telegram's by default).
    pub api_url: String,
    /// Telegram users who may talk to the agent without linking.
    pub allowlist: Vec<TelegramUserId>,
}

impl std::fmt::Debug for TelegramOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramOptions")
            .field("api_url", &self.api_url)
            .field("allowlist", &self.allowlist)
            .finish_non_exhaustive()
    }
}

/// A composed local-mode application.
pub struct LocalApp {
    pub router: axum::Router,
    pub token: Secret,
    pub runtime: Arc<OpenClawRuntime>,
    /// The gateway running the owner's turns, with `--runtime gateway`.
    pub gateway: Option<Arc<GatewayRuntime>>,
    /// The Telegram bot to long-poll for (see [`serverless_openclaw_telegram::poll::long_poll`]).
    pub telegram: Option<Bot>,
}

/// Builds local mode: SQLite + files + in-process queue + the OpenClaw runtime + the router.
pub fn compose(options: LocalOptions) -> anyhow::Result<LocalApp> {
    let data = &options.data_dir;
    private_dir(data).with_context(|| format!("creating the data dir {}", data.display()))?;
    let token = match options.token {
        Some(token) => token,
        None => Secret::new(stored_token(data)?),
    };
    let database = data.join("serverless-openclaw.sqlite3");
    let store = Arc::new(SqliteConversationStore::open(&database).context("opening the database")?);
    let conversations: Arc<dyn ConversationStore> = store.clone();
    let telegram_store: Arc<dyn TelegramStore> =
        Arc::new(SqliteTelegramStore::open(&database).context("opening the database")?);
    let settings: Arc<dyn SettingsStore> =
        Arc::new(SqliteSettingsStore::open(&database).context("opening the database")?);
    let api_keys: Arc<dyn ApiKeyStore> = Arc::new(FileApiKeyStore::new(data.join("secrets")));
    let bot_api = options
        .telegram
        .as_ref()
        .map(|t| BotApi::new(&t.api_url, &t.token));
    let transcripts: Arc<dyn TranscriptStore> =
        Arc::new(FileTranscriptStore::new(data.join("transcripts")));
    let uploads =
        Arc::new(FileUploads::new(data.join("uploads")).context("preparing the upload area")?);
    let attachment_store: Arc<dyn AttachmentStore> =
        Arc::new(FileAttachmentStore::new(data.join("attachments")));
    let downloads =
        Arc::new(FileLinks::new(attachment_store.clone()).context("preparing the download links")?);
    let attachments = Attachments::new(attachment_store, DEFAULT_QUOTA_BYTES)
        .with_uploads(uploads.clone())
        .with_links(downloads.clone());
    let confinement = confinement(options.sandbox, data)?;
    let has_provider = options.provider.is_some();
    let gateway = (options.runtime == RuntimeKind::Gateway).then(|| {
        Arc::new(GatewayRuntime::new(GatewaySettings {
            node: options.node.clone(),
            entry: paths::openclaw_entry(&options.runner_script),
            sync_script: paths::gateway_sync_script(&options.runner_script),
            state_dir: data.join("gateway"),
            workspace: data.join("workspaces").join(LOCAL_USER),
            turn_timeout: options.turn_timeout,
            ready_timeout: READY_TIMEOUT,
            provider: options.provider.clone(),
            keys: options.keys.clone(),
        }))
    });
    let runtime = Arc::new(
        OpenClawRuntime::new(RuntimeSettings {
            node: options.node,
            runner_script: options.runner_script,
            state_dir: data.join("agent"),
            workspace_root: data.join("workspaces"),
            turn_timeout: options.turn_timeout,
            ready_timeout: READY_TIMEOUT,
            provider: options.provider,
            disable_tools: options.disable_tools,
            keys: options.keys,
            confinement,
            browser: options.browser,
        })
        .context("preparing the OpenClaw runtime")?,
    );
    let agent: Arc<dyn AgentRuntime> = match &gateway {
        None => runtime.clone(),
        Some(gateway) => Arc::new(OwnerOnGateway {
            gateway: gateway.clone(),
            runner: runtime.clone(),
        }),
    };
    // A connect or a Telegram command restarts a runner that died, before the next message needs it;
    // without a provider there is nothing to warm for (as at start, see `serverless-openclaw local`).
    let waker: Option<Arc<dyn AgentWaker>> = has_provider.then(|| match &gateway {
        None => Arc::new(RunnerWaker(runtime.clone())) as Arc<dyn AgentWaker>,
        Some(gateway) => Arc::new(RunnerWaker(gateway.clone())),
    });
    let hub = Arc::new(ConnectionHub::default());
    let push: Arc<dyn ClientPush> = hub.clone();
    let mut processor = TurnProcessor::new(
        conversations.clone(),
        transcripts.clone(),
        agent.clone(),
        push.clone(),
        Arc::new(MemorySessionLeases::new()),
        LeasePolicy::for_turn_timeout(
            format!("local-{}", std::process::id()),
            options.turn_timeout,
        ),
    )
    .with_model_settings(settings.clone(), api_keys.clone())
    .with_guest_tools(options.guest_tools)
    .with_attachments(attachments.clone())
    .with_speech(Arc::new(
        HttpSpeechToText::new().context("preparing the speech-to-text client")?,
    ));
    if let Some(api) = &bot_api {
        processor = processor.with_replies(Arc::new(
            TelegramReplies::new(api.clone()).with_attachments(attachments.clone()),
        ));
    }
    let turn_queue: Arc<dyn TurnQueue> = Arc::new(LocalTurnQueue::new(Arc::new(processor)));
    let user = UserId::parse(LOCAL_USER)?;
    // Written where the runtime keeps each workspace at that moment (checked out for a turn, or not).
    let skills = Skills::new(
        Arc::new(FileWorkspaceStore::over(runtime.workspace_folders())),
        settings.clone(),
    );
    let chat = ChatService::new(
        conversations.clone(),
        turn_queue,
        push,
        settings.clone(),
        agent.clone(),
    )
    .with_attachments(attachments.clone())
    .with_skills(skills.clone());
    let telegram = bot_api.zip(options.telegram).map(|(api, t)| Bot {
        api,
        store: telegram_store.clone(),
        chat: chat.clone(),
        waker: waker.clone(),
        allowlist: t.allowlist,
    });
    let state = AppState {
        auth: Arc::new(TokenAuthenticator::new(token.expose(), user)),
        chat,
        conversations,
        search: ConversationSearch::new(store),
        transcripts,
        agent,
        linking: Linking::new(telegram_store.clone(), telegram_store),
        settings: settings.clone(),
        api_keys,
        endpoints: options.endpoints,
        attachments: Some(attachments),
        skills,
    };
    let surface = LocalSurface {
        hub,
        waker,
        web_dir: options.web_dir,
        allowed_hosts: AllowedHosts::new(options.allowed_hosts),
        uploads,
        downloads,
    };
    Ok(LocalApp {
        router: serverless_openclaw_server::local_app(state, surface),
        token,
        runtime,
        gateway,
        telegram,
    })
}

/// Local mode's agent with `--runtime gateway`: the owner's turns run on the gateway, everyone
/// else's (Telegram guests) on the runner. The gateway has one workspace (the owner's) and gives every
/// turn on our admin connection the owner's tools, so another user's turn there would see the
/// owner's memory and tools whatever their tool access. Compaction (`/compact`) runs on the runner,
/// which compacts the stored transcript the gateway's next turn then imports.
struct OwnerOnGateway {
    gateway: Arc<GatewayRuntime>,
    runner: Arc<OpenClawRuntime>,
}

impl AgentStatusSource for OwnerOnGateway {
    fn status(&self) -> AgentStatus {
        self.gateway.status()
    }
}

#[async_trait]
impl AgentRuntime for OwnerOnGateway {
    async fn run_turn(
        &self,
        turn: AgentTurn,
        events: tokio::sync::mpsc::UnboundedSender<AgentEvent>,
        cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError> {
        if turn.user_id.as_str() == LOCAL_USER {
            self.gateway.run_turn(turn, events, cancel).await
        } else {
            self.runner.run_turn(turn, events, cancel).await
        }
    }

    async fn compact(
        &self,
        compaction: AgentCompaction,
        cancel: CancellationToken,
    ) -> Result<Compacted, AgentError> {
        self.runner.compact(compaction, cancel).await
    }
}

/// The runner's confinement for `mode`: bubblewrap hiding the data dir (but the runner's own state
/// folder), if wanted and working here.
fn confinement(mode: SandboxMode, data: &Path) -> anyhow::Result<Confinement> {
    const UNSEALED: &str = "the agent's tools can read the data dir (stored API keys, chats, the \
        access token); install bubblewrap (Debian: apt-get install bubblewrap) to seal them off, see \
        docs/security.md";
    if mode == SandboxMode::Off {
        tracing::warn!("SERVERLESS_OPENCLAW_SANDBOX=off: {UNSEALED}");
        return Ok(Confinement::None);
    }
    let checked = match Bubblewrap::find() {
        None => Err("bwrap is not installed".to_owned()),
        Some(program) => Bubblewrap::check(program, data.to_path_buf()),
    };
    match (checked, mode) {
        (Ok(sandbox), _) => Ok(Confinement::Bubblewrap(sandbox)),
        (Err(why), SandboxMode::Required) => {
            anyhow::bail!(
                "SERVERLESS_OPENCLAW_SANDBOX=bwrap, but bubblewrap cannot run here: {why}"
            )
        }
        (Err(why), _) => {
            tracing::warn!("{why}: {UNSEALED}");
            Ok(Confinement::None)
        }
    }
}

/// The access token kept in the data dir, generated on first use (readable by the owner only).
fn stored_token(data: &Path) -> anyhow::Result<String> {
    let path = data.join(TOKEN_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(existing.to_owned());
        }
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the access token: {e}"))?;
    let token = hex::encode(bytes);
    write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Local mode's settings from `vars` alone (the test binary stands in for Node and the runner).
    fn options(vars: &[(&str, &str)]) -> anyhow::Result<LocalOptions> {
        let exe = std::env::current_exe().unwrap().display().to_string();
        let mut map: HashMap<String, String> = [
            ("SERVERLESS_OPENCLAW_NODE", exe.as_str()),
            ("SERVERLESS_OPENCLAW_RUNNER", exe.as_str()),
        ]
        .into_iter()
        .chain(vars.iter().copied())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        map.retain(|_, v| !v.is_empty());
        let lookup = move |name: &str| map.get(name).cloned();
        LocalOptions::from_env(Env::new(&lookup), PathBuf::from("data"), None)
    }

    #[test]
    fn local_settings_follow_the_shared_rules() {
        let defaults = options(&[]).unwrap();
        assert_eq!(defaults.turn_timeout, Duration::from_secs(600));
        assert!(!defaults.disable_tools);
        assert_eq!(defaults.guest_tools, ToolAccess::Restricted);
        assert_eq!(defaults.sandbox, SandboxMode::Auto);
        assert_eq!(defaults.runtime, RuntimeKind::Runner);

        let set = options(&[
            ("SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS", "90"),
            ("SERVERLESS_OPENCLAW_DISABLE_TOOLS", "true"),
            ("SERVERLESS_OPENCLAW_GUEST_TOOLS", "full"),
            ("SERVERLESS_OPENCLAW_SANDBOX", "off"),
            ("SERVERLESS_OPENCLAW_RUNTIME", "gateway"),
        ])
        .unwrap();
        assert_eq!(set.turn_timeout, Duration::from_secs(90));
        assert!(set.disable_tools);
        assert_eq!(set.guest_tools, ToolAccess::Full);
        assert_eq!(set.sandbox, SandboxMode::Off);
        assert_eq!(set.runtime, RuntimeKind::Gateway);

        for (name, bad) in [
            ("SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS", "0"),
            ("SERVERLESS_OPENCLAW_DISABLE_TOOLS", "sometimes"),
            ("SERVERLESS_OPENCLAW_GUEST_TOOLS", "all"),
            ("SERVERLESS_OPENCLAW_SANDBOX", "docker"),
            ("SERVERLESS_OPENCLAW_RUNTIME", "fargate"),
        ] {
            let err = options(&[(name, bad)]).unwrap_err().to_string();
            assert!(err.starts_with(name), "{err}");
        }
    }

    #[test]
    fn the_access_token_never_prints_and_a_short_one_is_refused() {
        let strong = "hunter2-0123456789abcdefgh";
        let options = options(&[("SERVERLESS_OPENCLAW_TOKEN", strong)]).unwrap();
        assert_eq!(options.token.as_ref().unwrap().expose(), strong);
        assert!(!format!("{options:?}").contains("hunter2"));
        for weak in ["Z", "hunter2", &"x".repeat(MIN_TOKEN_CHARS - 1)] {
            let err = options_err(&[("SERVERLESS_OPENCLAW_TOKEN", weak)]);
            assert!(
                err.starts_with("SERVERLESS_OPENCLAW_TOKEN is too short"),
                "{err}"
            );
            assert!(!err.contains(weak), "the token is not echoed: {err}");
        }
    }

    fn options_err(vars: &[(&str, &str)]) -> String {
        options(vars).unwrap_err().to_string()
    }

    #[test]
    fn a_generated_token_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = stored_token(dir.path()).unwrap();
        assert_eq!(first.len(), 48);
        assert_eq!(stored_token(dir.path()).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
