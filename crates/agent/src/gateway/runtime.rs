//! [`GatewayRuntime`]: the [`AgentRuntime`] port on OpenClaw's own gateway.
//!
//! The gateway is started by the first turn (or [`GatewayRuntime::start`]) and reused; if it dies or
//! our connection drops, turns in flight fail with `agent_crashed` and the next turn starts a fresh
//! one. A turn is a `chat.send` on the conversation's session with the user message's id as its
//! idempotency key (which is also the gateway's run id); its `chat` and `agent` events become our
//! deltas and tool lines; a cancel or the deadline sends `chat.abort`.
//!
//! Our transcript store stays the conversation's source of truth; the gateway's copy is a cache
//! (`docs/architecture.md`). Before a turn, a session whose last export is not the transcript the
//! turn continues (another runtime ran a turn, a turn failed, the gateway restarted) is recreated and
//! the transcript's messages imported; after a turn, the session is exported as the reply's
//! transcript, and its assistant messages of this run give the usage and cost.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::{ThinkingLevel, ToolActivity, ToolStatus, Usage};
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{
    AgentError, AgentEvent, AgentReply, AgentRuntime, AgentState, AgentStatus, AgentStatusSource,
    AgentTurn, ToolAccess,
};
use serverless_openclaw_core::protocol::ErrorCode;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use base64::Engine;

use super::client::{
    ChatAbort, ChatAttachment, ChatEvent, ChatSend, GatewayError, RunEvent, SessionRef,
};
use super::supervisor::{Gateway, GatewaySpec, GatewaySupervisor, STOP_GRACE};
use crate::config::{DeploymentKeys, NO_PROVIDER_HELP, ProviderConfig};
use crate::runtime::{TurnDir, io_error};

/// How long a turn waits for the gateway to confirm an abort.
const ABORT_GRACE: Duration = Duration::from_secs(10);

/// Longest tool summary, in characters (as the runner's `TOOL_SUMMARY_MAX`).
const TOOL_SUMMARY_MAX: usize = 120;

/// Everything the runtime needs, resolved at start-up.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// The Node 24 binary.
    pub node: PathBuf,
    /// OpenClaw's `openclaw.mjs`.
    pub entry: PathBuf,
    /// `runner/gateway-sync.mjs`.
    pub sync_script: PathBuf,
    /// Our folder for the gateway's state.
    pub state_dir: PathBuf,
    /// The agent's workspace.
    pub workspace: PathBuf,
    pub turn_timeout: Duration,
    pub ready_timeout: Duration,
    /// The model every turn runs on; `None`: turns answer `no_provider`.
    pub provider: Option<ProviderConfig>,
    pub keys: DeploymentKeys,
}

/// A conversation's session in the current gateway, and the digest of the transcript last exported
/// from it (what the store holds if the save succeeded).
#[derive(Debug, Clone)]
struct Synced {
    session_id: String,
    digest: [u8; 32],
}

/// What is known of the sessions of one gateway process, by session key.
type Sessions = Arc<Mutex<HashMap<String, Synced>>>;

/// The gateway in use and what is known of its sessions.
#[derive(Clone)]
struct Current {
    gateway: Arc<Gateway>,
    sessions: Sessions,
}

/// A run on the gateway: where it runs and its id.
struct Run<'a> {
    gateway: &'a Gateway,
    key: &'a str,
    id: &'a str,
}

/// The OpenClaw gateway runtime.
pub struct GatewayRuntime {
    settings: GatewaySettings,
    current: Mutex<Option<Current>>,
    start_lock: tokio::sync::Mutex<()>,
    starting: std::sync::atomic::AtomicBool,
}

impl GatewayRuntime {
    pub fn new(settings: GatewaySettings) -> Self {
        Self {
            settings,
            current: Mutex::new(None),
            start_lock: tokio::sync::Mutex::new(()),
            starting: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Starts the gateway now (ahead of the first turn).
    pub async fn start(&self) -> Result<(), AgentError> {
        self.gateway().await.map(drop)
    }

    /// The live gateway, if any (for operations and tests).
    pub fn gateway_pid(&self) -> Option<u32> {
        self.live().map(|c| c.gateway.pid())
    }

    /// Sends `method` to the running gateway (starting it if needed) and returns its answer: for
    /// operations on the gateway's own features (its scheduler's `cron.*`) and tests.
    pub async fn call(&self, method: &str, params: &Value) -> Result<Value, AgentError> {
        let Current { gateway, .. } = self.gateway().await?;
        gateway
            .client
            .request(method, params)
            .await
            .map_err(gateway_error)
    }

    /// The conversation's transcript as the gateway has it now (JSONL): for a host that stores what
    /// the gateway added outside a turn (a scheduled job's result), and the bench.
    pub async fn export(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<u8>, AgentError> {
        let Current { gateway, .. } = self.gateway().await?;
        let key = session_key(user, conversation);
        let described = gateway
            .client
            .request("sessions.describe", &SessionRef { key: &key })
            .await
            .map_err(gateway_error)?;
        let session_id = described["session"]["sessionId"].as_str().ok_or_else(|| {
            AgentError::new(ErrorCode::Internal, "sessions.describe gave no sessionId")
        })?;
        gateway
            .sync
            .export(&key, session_id)
            .await
            .map_err(sync_error)
    }

    /// Stops the gateway.
    pub async fn shutdown(&self) {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(current) = current {
            current.gateway.stop(STOP_GRACE).await;
        }
    }

    fn live(&self) -> Option<Current> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.as_ref().filter(|c| c.gateway.is_alive()).cloned()
    }

    fn spec(&self) -> Result<GatewaySpec, AgentError> {
        let provider = self
            .settings
            .provider
            .as_ref()
            .ok_or_else(|| AgentError::new(ErrorCode::NoProvider, NO_PROVIDER_HELP))?;
        let llm = provider
            .run_llm(&self.settings.keys)
            .map_err(|e| AgentError::new(ErrorCode::NoProvider, e.to_string()))?;
        Ok(GatewaySpec {
            node: self.settings.node.clone(),
            entry: self.settings.entry.clone(),
            sync_script: self.settings.sync_script.clone(),
            state_dir: self.settings.state_dir.clone(),
            workspace: self.settings.workspace.clone(),
            llm,
            ready_timeout: self.settings.ready_timeout,
        })
    }

    async fn gateway(&self) -> Result<Current, AgentError> {
        if let Some(live) = self.live() {
            return Ok(live);
        }
        let spec = self.spec()?;
        let _one_start = self.start_lock.lock().await;
        if let Some(live) = self.live() {
            return Ok(live);
        }
        // A dead one is killed (its whole group) before the next starts on the same state.
        let dead = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(dead);
        self.starting
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let started = GatewaySupervisor::start(&spec).await;
        self.starting
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let gateway = Arc::new(started.map_err(|e| {
            tracing::error!(error = %e, "the OpenClaw gateway did not start");
            AgentError::new(
                ErrorCode::AgentCrashed,
                format!("the OpenClaw gateway could not start: {e}"),
            )
        })?);
        let current = Current {
            gateway,
            sessions: Arc::default(),
        };
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(current.clone());
        Ok(current)
    }
}

/// The gateway's session key of a conversation. Keys are lower-cased by the gateway and our ids are
/// case-sensitive, so both ids go in as hex.
pub fn session_key(user: &UserId, conversation: &ConversationId) -> String {
    format!(
        "agent:main:u{}-c{}",
        hex::encode(user.as_str()),
        hex::encode(conversation.as_str())
    )
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn crashed(how: impl std::fmt::Display) -> AgentError {
    AgentError::new(
        ErrorCode::AgentCrashed,
        format!("the OpenClaw gateway {how}; it will be restarted for the next message"),
    )
}

fn gateway_error(e: GatewayError) -> AgentError {
    match e {
        GatewayError::Closed => crashed("closed the connection"),
        other => AgentError::new(ErrorCode::Internal, other.to_string()),
    }
}

fn sync_error(e: std::io::Error) -> AgentError {
    tracing::error!(error = %e, "the gateway's transcript sync failed");
    AgentError::new(
        ErrorCode::Internal,
        "the conversation could not be synced with the OpenClaw gateway",
    )
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

/// Our error for a run's `error` event.
fn chat_error(event: &ChatEvent) -> AgentError {
    let message = event
        .error_message
        .clone()
        .unwrap_or_else(|| "the agent failed".into());
    let from_provider = event.error_detail.as_ref().is_some_and(|d| {
        d.get("httpStatus").is_some_and(|v| !v.is_null())
            || d.get("providerErrorType").is_some_and(|v| !v.is_null())
    });
    let code = match event.error_kind.as_deref() {
        Some("timeout") => ErrorCode::Timeout,
        Some("rate_limit" | "refusal" | "context_length") => ErrorCode::LlmError,
        _ if from_provider => ErrorCode::LlmError,
        _ => ErrorCode::Internal,
    };
    AgentError::new(code, message)
}

/// OpenClaw's one-line description of a tool call (`meta`, else `title`), whitespace collapsed and
/// cut to [`TOOL_SUMMARY_MAX`] characters.
fn tool_summary(data: &Value) -> String {
    let text = ["meta", "title"]
        .iter()
        .find_map(|k| {
            data.get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_default();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > TOOL_SUMMARY_MAX {
        let mut cut: String = text.chars().take(TOOL_SUMMARY_MAX - 1).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

/// A tool line from an `agent` event's `item` stream (every client receives those), if it is one.
fn tool_activity(data: &Value) -> Option<ToolActivity> {
    if data.get("kind").and_then(Value::as_str) != Some("tool") {
        return None;
    }
    let tool_id = data.get("toolCallId").and_then(Value::as_str)?.to_owned();
    let name = data
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("tool")
        .to_owned();
    let ms = |k: &str| data.get(k).and_then(Value::as_u64);
    let (status, duration_ms) = match data.get("phase").and_then(Value::as_str)? {
        "start" => (ToolStatus::Running, None),
        "end" => {
            let failed = matches!(
                data.get("status").and_then(Value::as_str),
                Some("failed" | "blocked")
            ) || data.get("error").is_some_and(|e| !e.is_null());
            let took = ms("endedAt")
                .zip(ms("startedAt"))
                .map(|(end, start)| end.saturating_sub(start))
                .unwrap_or(0);
            (
                if failed {
                    ToolStatus::Error
                } else {
                    ToolStatus::Ok
                },
                Some(took),
            )
        }
        _ => return None,
    };
    Some(ToolActivity {
        tool_id,
        name,
        summary: tool_summary(data),
        status,
        duration_ms,
    })
}

/// The usage and cost of run `run_id`: the sum over the transcript's assistant messages of that run
/// (the gateway's `final` event carries none).
fn run_usage(transcript: &[u8], run_id: &str) -> (Usage, Option<f64>) {
    let mut usage = Usage::default();
    let mut cost = None;
    for line in transcript.split(|b| *b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let message = &entry["message"];
        if message["role"] != "assistant" || message["__openclaw"]["runId"] != run_id {
            continue;
        }
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        usage.input_tokens += n(&message["usage"]["input"]);
        usage.output_tokens += n(&message["usage"]["output"]);
        if let Some(total) = message["usage"]["cost"]["total"].as_f64() {
            *cost.get_or_insert(0.0) += total;
        }
    }
    (usage, cost)
}

/// How a run ended, before the transcript is read.
struct Ended {
    text: String,
    duration_ms: u64,
}

impl GatewayRuntime {
    /// Makes the conversation's session hold `transcript` unless the last export already did:
    /// recreates it and imports the transcript's messages. Returns its session id.
    async fn sync_in(
        &self,
        gateway: &Gateway,
        sessions: &Mutex<HashMap<String, Synced>>,
        key: &str,
        transcript: &[u8],
    ) -> Result<String, AgentError> {
        let known = sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        if let Some(known) = known.filter(|k| k.digest == digest(transcript)) {
            return Ok(known.session_id);
        }
        let client = &gateway.client;
        // Not found is fine: the session is new to this gateway.
        let _ = client.request("sessions.delete", &SessionRef { key }).await;
        let created = client
            .request("sessions.create", &SessionRef { key })
            .await
            .map_err(gateway_error)?;
        let session_id = created["sessionId"]
            .as_str()
            .ok_or_else(|| {
                AgentError::new(ErrorCode::Internal, "sessions.create gave no sessionId")
            })?
            .to_owned();
        if !transcript.is_empty() {
            gateway
                .sync
                .import(key, &session_id, transcript)
                .await
                .map_err(sync_error)?;
        }
        Ok(session_id)
    }

    /// Follows run `run_id` until it ends, forwarding its progress to `events`; a cancel or the
    /// deadline aborts it.
    async fn follow(
        &self,
        on: &Run<'_>,
        mut run: mpsc::UnboundedReceiver<RunEvent>,
        events: &mpsc::UnboundedSender<AgentEvent>,
        cancel: &CancellationToken,
        deadline: tokio::time::Instant,
    ) -> Result<Ended, AgentError> {
        let mut text = String::new();
        let mut started_at = None;
        let mut ended_at = None;
        loop {
            let event = tokio::select! {
                event = run.recv() => event.unwrap_or(RunEvent::Closed),
                () = cancel.cancelled() => {
                    return Err(self.abort(on, &mut run, AgentError::new(ErrorCode::Cancelled, "the turn was cancelled")).await);
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(self.abort(on, &mut run, timeout_error(self.settings.turn_timeout)).await);
                }
            };
            match event {
                RunEvent::Closed => return Err(crashed("stopped during the turn")),
                RunEvent::Agent(agent) => match agent.stream.as_str() {
                    "item" => {
                        if let Some(tool) = tool_activity(&agent.data) {
                            let _ = events.send(AgentEvent::Tool(tool));
                        }
                    }
                    "lifecycle" => {
                        let at = |k: &str| agent.data.get(k).and_then(Value::as_u64);
                        started_at = started_at.or(at("startedAt"));
                        ended_at = at("endedAt").or(ended_at);
                    }
                    _ => {}
                },
                RunEvent::Chat(chat) => match chat.state.as_str() {
                    "delta" if chat.replace => {
                        if let Some(whole) = chat.message_text() {
                            text.clone_from(&whole);
                            let _ = events.send(AgentEvent::Delta {
                                text: whole,
                                replace: true,
                            });
                        }
                    }
                    "delta" => {
                        if let Some(delta) = chat.delta_text.filter(|d| !d.is_empty()) {
                            text.push_str(&delta);
                            let _ = events.send(AgentEvent::Delta {
                                text: delta,
                                replace: false,
                            });
                        }
                    }
                    "final" => {
                        let text = chat
                            .message_text()
                            .filter(|t| !t.is_empty())
                            .unwrap_or(text);
                        let duration_ms = ended_at
                            .zip(started_at)
                            .map(|(end, start)| end.saturating_sub(start))
                            .unwrap_or(0);
                        return Ok(Ended { text, duration_ms });
                    }
                    "error" => return Err(chat_error(&chat)),
                    "aborted" => {
                        return Err(AgentError::new(
                            ErrorCode::Cancelled,
                            "the turn was aborted",
                        ));
                    }
                    _ => {}
                },
            }
        }
    }

    /// Sends `chat.abort` for the run and waits briefly for its end; returns `error` whatever happens.
    async fn abort(
        &self,
        on: &Run<'_>,
        run: &mut mpsc::UnboundedReceiver<RunEvent>,
        error: AgentError,
    ) -> AgentError {
        let (run_id, abort) = (
            on.id,
            ChatAbort {
                session_key: on.key,
                run_id: on.id,
            },
        );
        if let Err(e) = on.gateway.client.request("chat.abort", &abort).await {
            tracing::warn!(error = %e, run_id, "chat.abort failed");
            return error;
        }
        let ended = tokio::time::timeout(ABORT_GRACE, async {
            while let Some(event) = run.recv().await {
                match event {
                    RunEvent::Chat(chat)
                        if matches!(chat.state.as_str(), "final" | "error" | "aborted") =>
                    {
                        return;
                    }
                    RunEvent::Closed => return,
                    _ => {}
                }
            }
        })
        .await;
        if ended.is_err() {
            tracing::warn!(run_id, "the gateway did not confirm an abort in time");
        }
        error
    }
}

#[async_trait]
impl AgentRuntime for GatewayRuntime {
    async fn run_turn(
        &self,
        turn: AgentTurn,
        events: mpsc::UnboundedSender<AgentEvent>,
        cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError> {
        // Every turn on our admin connection gets the owner's tools: a restricted turn must not run here.
        if turn.tools != ToolAccess::Full {
            return Err(AgentError::new(
                ErrorCode::Internal,
                "the gateway runs turns with full tool access only",
            ));
        }
        if turn.model.is_some() || turn.model_id.is_some() {
            tracing::warn!(
                "the gateway runs the deployment's model; the user's or conversation's choice is not applied"
            );
        }
        let deadline = tokio::time::Instant::now() + self.settings.turn_timeout;
        let Current { gateway, sessions } = tokio::select! {
            g = self.gateway() => g?,
            () = cancel.cancelled() => return Err(AgentError::new(ErrorCode::Cancelled, "the turn was cancelled")),
            () = tokio::time::sleep_until(deadline) => return Err(timeout_error(self.settings.turn_timeout)),
        };
        let key = session_key(&turn.user_id, &turn.conversation_id);
        let transcript = turn.transcript.unwrap_or_default();
        let gateway = gateway.as_ref();
        let session_id = self.sync_in(gateway, &sessions, &key, &transcript).await?;
        let run_id = turn.message_id.as_str();
        // Files go into the workspace and are named in the prompt, as on the runner; images of the
        // message go with it. Dropped last: the workspace copies are removed after the turn.
        let dir = TurnDir(self.settings.state_dir.join("turns").join(run_id));
        tokio::fs::create_dir_all(&dir.0).await.map_err(io_error)?;
        let staged = crate::attachments::stage(
            &dir.0,
            &self.settings.workspace,
            &turn.conversation_id,
            &turn.prompt,
            &turn.attachments,
        )
        .map_err(io_error)?;
        let mut attachments = Vec::new();
        for image in &staged.images {
            let bytes = tokio::fs::read(&image.path).await.map_err(io_error)?;
            attachments.push(ChatAttachment {
                kind: "image",
                mime_type: image.mime_type.clone(),
                content: base64::engine::general_purpose::STANDARD.encode(bytes),
            });
        }
        let run = gateway.client.register(run_id);
        let send = ChatSend {
            session_key: &key,
            message: &staged.prompt,
            idempotency_key: run_id,
            thinking: turn.thinking.map(ThinkingLevel::as_str),
            timeout_ms: u64::try_from(self.settings.turn_timeout.as_millis()).ok(),
            attachments,
        };
        let ended = match gateway.client.request("chat.send", &send).await {
            Ok(_) => {
                let _ = events.send(AgentEvent::Started);
                let on = Run {
                    gateway,
                    key: &key,
                    id: run_id,
                };
                self.follow(&on, run, &events, &cancel, deadline).await
            }
            Err(e) => Err(gateway_error(e)),
        };
        gateway.client.unregister(run_id);
        let ended = ended?;
        let transcript = gateway
            .sync
            .export(&key, &session_id)
            .await
            .map_err(sync_error)?;
        sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(
            key,
            Synced {
                session_id,
                digest: digest(&transcript),
            },
        );
        let (usage, cost_usd) = run_usage(&transcript, run_id);
        Ok(AgentReply {
            text: ended.text,
            usage,
            cost_usd,
            duration_ms: ended.duration_ms,
            transcript,
            files: Vec::new(),
        })
    }
}

impl AgentStatusSource for GatewayRuntime {
    fn status(&self) -> AgentStatus {
        let state = match (
            self.live().is_some(),
            self.starting.load(std::sync::atomic::Ordering::SeqCst),
        ) {
            (true, _) => AgentState::Ready,
            (false, true) => AgentState::Starting,
            (false, false) => AgentState::Stopped,
        };
        AgentStatus {
            state,
            openclaw_version: self
                .live()
                .map(|c| c.gateway.client.hello().server.version.clone()),
            model: self
                .settings
                .provider
                .as_ref()
                .map(ProviderConfig::model_ref),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn a_restricted_turn_is_refused_before_any_gateway_starts() {
        let runtime = GatewayRuntime::new(GatewaySettings {
            node: "node-that-does-not-exist".into(),
            entry: "openclaw.mjs".into(),
            sync_script: "gateway-sync.mjs".into(),
            state_dir: "state".into(),
            workspace: "workspace".into(),
            turn_timeout: Duration::from_secs(1),
            ready_timeout: Duration::from_secs(1),
            provider: None,
            keys: DeploymentKeys::default(),
        });
        let turn = AgentTurn {
            user_id: UserId::parse("telegram-1").unwrap(),
            conversation_id: ConversationId::parse("c1").unwrap(),
            message_id: serverless_openclaw_core::ids::MessageId::generate(),
            transcript: None,
            prompt: "hi".into(),
            model: None,
            model_id: None,
            thinking: None,
            tools: ToolAccess::Restricted,
            browser: false,
            disabled_skills: Vec::new(),
            attachments: Vec::new(),
        };
        let (events, _) = mpsc::unbounded_channel();
        let err = runtime
            .run_turn(turn.clone(), events.clone(), CancellationToken::new())
            .await
            .unwrap_err();
        assert!(err.message.contains("full tool access"), "{err}");
        // A full turn gets as far as the missing provider.
        let full = AgentTurn {
            tools: ToolAccess::Full,
            ..turn
        };
        let err = runtime
            .run_turn(full, events, CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NoProvider);
        assert_eq!(runtime.status().state, AgentState::Stopped);
    }

    #[test]
    fn session_keys_survive_the_gateway_s_lower_casing() {
        let user = UserId::parse("owner").unwrap();
        let upper = session_key(&user, &ConversationId::parse("Conv-A").unwrap());
        let lower = session_key(&user, &ConversationId::parse("conv-a").unwrap());
        assert_ne!(upper, lower);
        assert_eq!(upper, upper.to_lowercase());
        assert!(upper.starts_with("agent:main:"));
    }

    #[test]
    fn chat_errors_map_to_our_codes() {
        let error = |kind: Option<&str>, detail: Option<Value>| {
            chat_error(&ChatEvent {
                state: "error".into(),
                error_message: Some("boom".into()),
                error_kind: kind.map(str::to_owned),
                error_detail: detail,
                ..ChatEvent::default()
            })
        };
        assert_eq!(error(Some("timeout"), None).code, ErrorCode::Timeout);
        assert_eq!(error(Some("rate_limit"), None).code, ErrorCode::LlmError);
        let provider = Some(json!({"httpStatus": 400, "provider": "custom"}));
        assert_eq!(error(Some("unknown"), provider).code, ErrorCode::LlmError);
        let internal = error(Some("unknown"), Some(json!({"httpStatus": null})));
        assert_eq!(internal.code, ErrorCode::Internal);
        assert_eq!(internal.message, "boom");
    }

    #[test]
    fn tool_items_become_tool_lines_and_other_items_do_not() {
        let start = json!({"kind": "tool", "phase": "start", "toolCallId": "t1", "name": "exec",
            "title": "Exec list files", "meta": format!("list   files {}", "x".repeat(200)), "startedAt": 1000});
        let line = tool_activity(&start).unwrap();
        assert_eq!((line.tool_id.as_str(), line.name.as_str()), ("t1", "exec"));
        assert_eq!(line.status, ToolStatus::Running);
        assert!(line.summary.starts_with("list files x"));
        assert_eq!(line.summary.chars().count(), TOOL_SUMMARY_MAX);
        assert!(line.summary.ends_with('…'));

        let failed = json!({"kind": "tool", "phase": "end", "toolCallId": "t1", "name": "exec",
            "title": "Exec", "status": "failed", "startedAt": 1000, "endedAt": 1250});
        let line = tool_activity(&failed).unwrap();
        assert_eq!(line.status, ToolStatus::Error);
        assert_eq!(line.duration_ms, Some(250));
        assert_eq!(line.summary, "Exec");
        let ok = json!({"kind": "tool", "phase": "end", "toolCallId": "t1", "status": "completed"});
        assert_eq!(tool_activity(&ok).unwrap().status, ToolStatus::Ok);

        assert!(
            tool_activity(&json!({"kind": "command", "phase": "start", "toolCallId": "c"}))
                .is_none()
        );
        assert!(
            tool_activity(&json!({"kind": "tool", "phase": "update", "toolCallId": "t1"}))
                .is_none()
        );
    }

    #[test]
    fn a_run_s_usage_is_the_sum_of_its_own_assistant_messages() {
        let message = |role: &str, run: &str, input: u64, cost: f64| {
            json!({"type": "message", "message": {"role": role,
                "usage": {"input": input, "output": 1, "cost": {"total": cost}},
                "__openclaw": {"runId": run}}})
            .to_string()
        };
        let transcript = [
            json!({"type": "session", "version": 4}).to_string(),
            message("assistant", "old", 500, 1.0),
            message("user", "run", 7, 0.0),
            message("assistant", "run", 10, 0.25),
            message("assistant", "run", 20, 0.5),
        ]
        .join("\n");
        let (usage, cost) = run_usage(transcript.as_bytes(), "run");
        assert_eq!((usage.input_tokens, usage.output_tokens), (30, 2));
        assert_eq!(cost, Some(0.75));
        assert_eq!(run_usage(transcript.as_bytes(), "none").1, None);
    }
}
