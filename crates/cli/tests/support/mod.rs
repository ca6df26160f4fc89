//! Test harness for local mode: composes the real app (SQLite, files, in-process queue, the real
//! OpenClaw runner) on a temporary data dir, serves it on port 0, and points it at the fake LLM.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use serverless_openclaw_agent::{DEFAULT_CONTEXT_WINDOW, DeploymentKeys, LlmApi, ProviderConfig};
use serverless_openclaw_cli::{
    LocalApp, LocalOptions, RuntimeKind, SandboxMode, TelegramOptions, compose, paths,
};
use serverless_openclaw_core::config::Secret;
use serverless_openclaw_core::ports::ToolAccess;
use serverless_openclaw_core::settings::Endpoints;
use serverless_openclaw_testkit::fake_llm::FakeLlm;
use serverless_openclaw_testkit::fake_telegram::{FakeTelegram, text_update};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-token";

/// Beyond the turn deadline, how long a test waits for a frame: a cold runner start on 2 cores plus slack.
/// The product's deadline, not the harness, decides when a turn has failed.
const FRAME_WAIT_SLACK: Duration = Duration::from_secs(60);

/// Starts the real `serverless-openclaw local` binary as `command` says (which should pass
/// `--port 0`); returns the child (killed when dropped) and the address it printed.
pub async fn start_binary(mut command: tokio::process::Command) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("local mode prints its URL")
        .unwrap()
        .expect("a line");
    let address = line
        .strip_prefix("Open http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    (child, address)
}

pub fn repo_root() -> PathBuf {
    paths::repo_root(Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("the repository root (runner/runner.mjs)")
}

/// A provider pointing at the fake LLM.
pub fn fake_provider(fake: &FakeLlm, api: LlmApi) -> ProviderConfig {
    ProviderConfig::Custom {
        base_url: match api {
            LlmApi::AnthropicMessages => fake.anthropic_base_url(),
            LlmApi::OpenAiCompletions => fake.openai_base_url(),
        },
        api,
        model: "fake-model".into(),
        context_window: DEFAULT_CONTEXT_WINDOW,
    }
}

/// A fake LLM, a fresh data dir and local mode pointed at the fake over `api`.
pub async fn spawn_with_fake_llm(
    api: LlmApi,
    turn_timeout: Duration,
) -> (FakeLlm, tempfile::TempDir, TestApp) {
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let app = TestApp::spawn(data.path(), Some(fake_provider(&fake, api)), turn_timeout).await;
    (fake, data, app)
}

/// [`spawn_with_fake_llm`] (Anthropic's API, a two-minute turn deadline) for a test that drives the
/// web app in Chromium: the built web app must be there.
pub async fn spawn_for_browser() -> (FakeLlm, tempfile::TempDir, TestApp) {
    assert!(
        paths::web_dir(None, Some(&repo_root())).is_some(),
        "web/dist is missing: run `make web` (make test does)"
    );
    spawn_with_fake_llm(LlmApi::AnthropicMessages, Duration::from_secs(120)).await
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub app: LocalApp,
    turn_timeout: Duration,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// Serves local mode on `data_dir` with `provider` and a turn deadline.
    pub async fn spawn(
        data_dir: &Path,
        provider: Option<ProviderConfig>,
        turn_timeout: Duration,
    ) -> Self {
        Self::spawn_with_telegram(data_dir, provider, turn_timeout, None).await
    }

    /// The same, with the Telegram bot (its long polling is the caller's to run).
    pub async fn spawn_with_telegram(
        data_dir: &Path,
        provider: Option<ProviderConfig>,
        turn_timeout: Duration,
        telegram: Option<TelegramOptions>,
    ) -> Self {
        let keys = DeploymentKeys::default();
        Self::spawn_with(
            data_dir,
            provider,
            keys,
            turn_timeout,
            telegram,
            RuntimeKind::Runner,
        )
        .await
    }

    /// The same, with the deployment's `keys` and the owner's turns on `runtime`.
    pub async fn spawn_with(
        data_dir: &Path,
        provider: Option<ProviderConfig>,
        keys: DeploymentKeys,
        turn_timeout: Duration,
        telegram: Option<TelegramOptions>,
        runtime: RuntimeKind,
    ) -> Self {
        let repo = repo_root();
        let node = paths::node_binary(None, Some(&repo))
            .expect("Node 24: run scripts/install-runner.sh (make test does)");
        let app = compose(LocalOptions {
            data_dir: data_dir.to_path_buf(),
            token: Some(Secret::new(TOKEN)),
            allowed_hosts: Vec::new(),
            endpoints: Endpoints::Any,
            provider,
            keys,
            sandbox: SandboxMode::Auto,
            guest_tools: ToolAccess::Restricted,
            node,
            runner_script: repo.join(paths::RUNNER_SCRIPT),
            web_dir: paths::web_dir(None, Some(&repo)),
            turn_timeout,
            disable_tools: false,
            browser: None,
            telegram,
            runtime,
        })
        .expect("compose local mode");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = app.router.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Self {
            addr,
            app,
            turn_timeout,
            server,
        }
    }

    /// Local mode with the fake LLM as its provider and the bot long-polling `telegram`, which
    /// runs until [`PollingBot::stop`].
    pub async fn spawn_polling_bot(
        data_dir: &Path,
        fake: &FakeLlm,
        telegram: &FakeTelegram,
        turn_timeout: Duration,
    ) -> (Self, PollingBot) {
        Self::spawn_polling_bot_allowing(data_dir, fake, telegram, turn_timeout, Vec::new()).await
    }

    /// [`TestApp::spawn_polling_bot`] with the Telegram users of `allowlist` as guests.
    pub async fn spawn_polling_bot_allowing(
        data_dir: &Path,
        fake: &FakeLlm,
        telegram: &FakeTelegram,
        turn_timeout: Duration,
        allowlist: Vec<i64>,
    ) -> (Self, PollingBot) {
        let app = Self::spawn_with_telegram(
            data_dir,
            Some(fake_provider(fake, LlmApi::AnthropicMessages)),
            turn_timeout,
            Some(TelegramOptions {
                token: telegram.token().into(),
                api_url: telegram.base_url(),
                allowlist,
            }),
        )
        .await;
        let bot = app.app.telegram.clone().expect("the bot is composed");
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move { serverless_openclaw_telegram::poll::long_poll(&bot, stop).await }
        });
        (app, PollingBot { stop, task })
    }

    /// Links the owner's account to the Telegram chat `chat` as a user does: the web app's link code
    /// (8 characters), sent to the bot as `/link <code>` in update `update_id`. Returns once the bot
    /// answered "Linked!".
    pub async fn link_telegram(
        &self,
        telegram: &FakeTelegram,
        chat: i64,
        update_id: i64,
        wait: Duration,
    ) {
        let (status, code) = self.post("/api/telegram/link-code").await;
        assert_eq!(status, 201, "{code}");
        let code = code["code"].as_str().unwrap();
        assert_eq!(code.len(), 8, "{code}");
        let before = telegram.texts(chat).len();
        telegram.push_update(text_update(update_id, chat, &format!("/link {code}")));
        telegram
            .wait_for_text(chat, before, "Linked!", wait)
            .await
            .unwrap_or_else(|| panic!("no \"Linked!\" reply: {:#?}", telegram.calls()));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn connect(&self) -> Client {
        Client::open(
            &self.addr.to_string(),
            TOKEN,
            self.turn_timeout + FRAME_WAIT_SLACK,
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Any request with an optional JSON body; the answer's status and JSON body (`Null` if none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(TOKEN);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates a conversation titled `title`; its id.
    pub async fn create_conversation(&self, title: &str) -> String {
        let (status, created) = self
            .call(
                reqwest::Method::POST,
                "/api/conversations",
                Some(serde_json::json!({ "title": title })),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().expect("an id").to_owned()
    }

    /// Stops the server, the gateway and the runner (as a process exit would).
    pub async fn stop(self) {
        self.server.abort();
        if let Some(gateway) = &self.app.gateway {
            gateway.shutdown().await;
        }
        self.app.runtime.shutdown().await;
    }
}

/// The bot's long polling, running in a task.
pub struct PollingBot {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl PollingBot {
    /// Stops polling and waits until it has.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("polling ended");
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// How long to wait for any one frame before failing the test.
    wait: Duration,
}

/// What one turn produced on the socket.
#[derive(Debug)]
pub struct TurnFrames {
    pub deltas: Vec<String>,
    pub statuses: Vec<String>,
    /// The `activity` frames (the agent's tool calls), in order.
    pub activity: Vec<Value>,
    /// The final `message` frame, or the `error` frame.
    pub last: Value,
}

impl TurnFrames {
    pub fn content(&self) -> &str {
        self.last["content"]
            .as_str()
            .unwrap_or_else(|| panic!("turn failed: {}", self.last))
    }
}

impl Client {
    /// Opens the WebSocket of the server at `address` with `token`; `wait` bounds each frame.
    pub async fn open(address: &str, token: &str, wait: Duration) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws?token={token}"))
            .await
            .expect("websocket connects");
        Client { ws, wait }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    pub async fn send_message(&mut self, conversation: &str, client_id: &str, text: &str) {
        self.send(json!({"action":"sendMessage","conversationId":conversation,"clientMessageId":client_id,"message":text}))
            .await;
    }

    /// The next JSON frame; fails the test after the turn deadline plus a cold start's slack.
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(self.wait, self.ws.next())
                .await
                .expect("a frame within the wait")
                .expect("socket open")
                .expect("frame");
            if let Message::Text(text) = message {
                return serde_json::from_str(text.as_str()).expect("JSON frame");
            }
        }
    }

    /// The next frame of `kind` (skipping others).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Collects frames until a `message` or `error` frame ends a turn.
    pub async fn turn(&mut self) -> TurnFrames {
        let mut out = TurnFrames {
            deltas: Vec::new(),
            statuses: Vec::new(),
            activity: Vec::new(),
            last: Value::Null,
        };
        loop {
            let frame = self.next().await;
            match frame["type"].as_str() {
                Some("delta") => out
                    .deltas
                    .push(frame["text"].as_str().expect("delta text").to_owned()),
                Some("status") => out
                    .statuses
                    .push(frame["status"].as_str().expect("status").to_owned()),
                Some("activity") => out.activity.push(frame),
                Some("message" | "error") => {
                    out.last = frame;
                    return out;
                }
                _ => {}
            }
        }
    }
}

/// The roles of a `GET …/messages` answer's messages, in order.
pub fn roles(body: &Value) -> Vec<&str> {
    body["messages"]
        .as_array()
        .expect("a messages list")
        .iter()
        .map(|m| m["role"].as_str().expect("a role"))
        .collect()
}

/// The `message` entries of an OpenClaw JSONL transcript, as (role, text) pairs, in file order.
pub fn transcript_messages(bytes: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(bytes).expect("UTF-8 transcript");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).expect("every transcript line is JSON"))
        .filter(|entry| entry["type"] == "message")
        .map(|entry| {
            let message = &entry["message"];
            let role = message["role"].as_str().unwrap_or_default().to_owned();
            let text = match &message["content"] {
                Value::String(s) => s.clone(),
                Value::Array(blocks) => blocks
                    .iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(""),
                _ => String::new(),
            };
            (role, text)
        })
        .collect()
}

/// The command menu Telegram shows after `/`: the shared chat commands, then the bot's own.
pub fn assert_menu_registered(telegram: &FakeTelegram) {
    let menu = telegram.menu().expect("setMyCommands was called");
    let names: Vec<&str> = menu.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(
        names,
        [
            "new", "reset", "stop", "model", "think", "status", "usage", "compact", "skills",
            "skill", "help", "link", "unlink"
        ]
    );
    assert_eq!(menu[2].description, "stop the running answer");
    let scopes: Vec<_> = telegram
        .calls_of("setMyCommands")
        .iter()
        .map(|c| c.body["scope"]["type"].clone())
        .collect();
    assert!(
        scopes.iter().all(|s| s == "all_private_chats"),
        "{scopes:?}"
    );
}

/// `<target dir>/e2e-artifacts/browser`, where the browser tests keep their screenshots for people (and CI
/// artifacts) to look at. Cargo puts a test's scratch dir at `<target dir>/tmp`, which follows
/// `CARGO_TARGET_DIR` (and a configured target dir) without reading either here.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target dir")
        .join("e2e-artifacts")
        .join("browser")
}

/// Runs the browser test script `web/e2e/<script>` with Node 24 and `env` (the screenshot dir is added);
/// returns whether it passed and a report of its run (time, output, where the screenshots are).
pub async fn run_browser_script(script: &str, env: Vec<(&'static str, String)>) -> (bool, String) {
    let repo = repo_root();
    let node = paths::node_binary(None, Some(&repo)).expect("Node 24");
    let script = repo.join("web/e2e").join(script);
    let screenshots = screenshot_dir();
    std::fs::create_dir_all(&screenshots).expect("create the screenshot dir");
    let started = std::time::Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(node)
            .arg(script)
            .envs(env)
            .env("SERVERLESS_OPENCLAW_E2E_SCREENSHOTS", screenshot_dir())
            .output()
    })
    .await
    .unwrap()
    .expect("node runs the browser test");
    let report = format!(
        "took {:?}\nstdout:\n{}\nstderr:\n{}\nscreenshots: {}",
        started.elapsed(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        screenshots.display()
    );
    (output.status.success(), report)
}
