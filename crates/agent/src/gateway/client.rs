//! [`GatewayClient`]: one WebSocket connection to OpenClaw's gateway, speaking its protocol v4
//! (JSON text frames: `req`, `res`, `event`).
//!
//! The handshake answers the server's `connect.challenge` with a `connect` request as a trusted local
//! backend client (`gateway-client`/`backend`, the shared token, no device), with the operator scopes
//! a bridge needs: `read` and `write` for chat and sessions, `admin` because OpenClaw offers its owner
//! tools (the `automations` scheduler among them) only to turns sent on an admin connection.
//!
//! What we send is typed and closed (the gateway rejects unknown keys); what we receive is read
//! leniently (unknown fields ignored, missing ones defaulted), so additive upstream changes do not
//! break us. A reader task routes responses to their request by `id` and `chat`/`agent` events to
//! the run they belong to (by `runId`): every operator connection receives every session's events.
//! When the connection closes, waiting requests fail and every registered run gets
//! [`RunEvent::Closed`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serverless_openclaw_core::CancellationToken;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// The protocol version this client speaks.
pub const PROTOCOL: u32 = 4;

/// The OpenClaw version the client is written against; another one is refused at connect.
pub const OPENCLAW_VERSION: &str = "2026.9.6";

/// Methods the runtime calls; a gateway that does not list them is refused at connect.
const REQUIRED_METHODS: [&str; 5] = [
    "chat.send",
    "chat.abort",
    "sessions.create",
    "sessions.delete",
    "sessions.describe",
];

/// How long a request may wait for its response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a connection or a request failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("could not connect to the gateway: {0}")]
    Connect(String),
    /// The gateway is still starting (`UNAVAILABLE` with `retryAfterMs`).
    #[error("the gateway is not ready yet")]
    NotReady { retry_after: Duration },
    #[error("the gateway is not the one this build speaks to: {0}")]
    Incompatible(String),
    #[error("the gateway connection is closed")]
    Closed,
    #[error("the gateway did not answer {0} in time")]
    Timeout(String),
    #[error("the gateway refused {method}: {code} {message}")]
    Refused {
        method: String,
        code: String,
        message: String,
    },
}

/// A `res` frame's error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ResponseError {
    code: String,
    message: String,
    retryable: bool,
    retry_after_ms: Option<u64>,
}

/// A received frame.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Frame {
    Res {
        id: String,
        ok: bool,
        #[serde(default)]
        payload: Value,
        #[serde(default)]
        error: Option<ResponseError>,
    },
    Event {
        event: String,
        #[serde(default)]
        payload: Value,
    },
}

/// A `chat` event's payload: the reply's text stream and the run's end.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ChatEvent {
    pub run_id: String,
    pub session_key: String,
    /// `status`, `delta`, `final`, `aborted` or `error`.
    pub state: String,
    pub delta_text: Option<String>,
    pub replace: bool,
    /// The reply so far (`{role, content:[{type:"text", text}]}`).
    pub message: Option<Value>,
    pub error_message: Option<String>,
    /// `refusal`, `timeout`, `rate_limit`, `context_length` or `unknown`.
    pub error_kind: Option<String>,
    /// The provider's side of an error (`httpStatus`, `providerErrorType`, ...).
    pub error_detail: Option<Value>,
}

impl ChatEvent {
    /// The text of `message`'s text blocks.
    pub fn message_text(&self) -> Option<String> {
        let content = self.message.as_ref()?.get("content")?;
        if let Some(text) = content.as_str() {
            return Some(text.to_owned());
        }
        Some(
            content
                .as_array()?
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect(),
        )
    }
}

/// An `agent` event's payload: the run's lifecycle, tool items and more, per `stream`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AgentStreamEvent {
    pub run_id: String,
    pub stream: String,
    pub session_id: Option<String>,
    pub data: Value,
}

/// What a run receives.
#[derive(Debug, Clone)]
pub enum RunEvent {
    Chat(ChatEvent),
    Agent(AgentStreamEvent),
    /// The connection closed (the gateway stopped or crashed).
    Closed,
}

/// The parts of `hello-ok` the runtime uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Hello {
    pub protocol: u32,
    pub server: HelloServer,
    pub features: HelloFeatures,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HelloServer {
    pub version: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HelloFeatures {
    pub methods: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectParams<'a> {
    min_protocol: u32,
    max_protocol: u32,
    client: ClientInfo,
    role: &'static str,
    scopes: [&'static str; 3],
    auth: TokenAuth<'a>,
}

#[derive(Serialize)]
struct ClientInfo {
    id: &'static str,
    mode: &'static str,
    version: &'static str,
    platform: &'static str,
}

#[derive(Serialize)]
struct TokenAuth<'a> {
    token: &'a str,
}

/// `chat.send`'s parameters (a closed schema upstream).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatSend<'a> {
    pub session_key: &'a str,
    pub message: &'a str,
    /// Also the run's id; a repeat answers `in_flight`/`ok` without running again.
    pub idempotency_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<ChatAttachment>,
}

/// An image sent with `chat.send`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatAttachment {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mime_type: String,
    /// Base64.
    pub content: String,
}

/// `chat.abort`'s parameters.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatAbort<'a> {
    pub session_key: &'a str,
    pub run_id: &'a str,
}

/// `sessions.create`/`sessions.delete`/`sessions.describe`'s parameters.
#[derive(Debug, Serialize)]
pub struct SessionRef<'a> {
    pub key: &'a str,
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Result<Value, ResponseError>>>>>;
type Runs = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<RunEvent>>>>;

/// A connected, handshaken client.
pub struct GatewayClient {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    runs: Runs,
    next_id: AtomicU64,
    closed: CancellationToken,
    hello: Hello,
}

impl GatewayClient {
    /// Connects to `url` (`ws://127.0.0.1:<port>`) and completes the handshake with `token`.
    pub async fn connect(url: &str, token: &str) -> Result<Self, GatewayError> {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| GatewayError::Connect(e.to_string()))?;
        let (mut sink, stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let pending: Pending = Arc::default();
        let runs: Runs = Arc::default();
        let closed = CancellationToken::new();
        let (challenged, challenge) = oneshot::channel();
        tokio::spawn(async move {
            while let Some(message) = to_send.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        tokio::spawn(read_frames(
            stream,
            ReaderState {
                pending: pending.clone(),
                runs: runs.clone(),
                closed: closed.clone(),
                challenged: Some(challenged),
            },
        ));
        let mut client = Self {
            outgoing,
            pending,
            runs,
            next_id: AtomicU64::new(1),
            closed,
            hello: Hello::default(),
        };
        tokio::time::timeout(REQUEST_TIMEOUT, challenge)
            .await
            .map_err(|_| GatewayError::Timeout("connect.challenge".into()))?
            .map_err(|_| GatewayError::Closed)?;
        let params = ConnectParams {
            min_protocol: PROTOCOL,
            max_protocol: PROTOCOL,
            client: ClientInfo {
                id: "gateway-client",
                mode: "backend",
                version: env!("CARGO_PKG_VERSION"),
                platform: std::env::consts::OS,
            },
            role: "operator",
            scopes: ["operator.read", "operator.write", "operator.admin"],
            auth: TokenAuth { token },
        };
        let hello = match client.request("connect", &params).await {
            Err(GatewayError::Refused { code, .. }) if code == "UNAVAILABLE" => {
                return Err(GatewayError::NotReady {
                    retry_after: Duration::from_millis(250),
                });
            }
            other => other?,
        };
        client.hello = serde_json::from_value(hello)
            .map_err(|e| GatewayError::Incompatible(format!("hello-ok: {e}")))?;
        client.check_compatible()?;
        Ok(client)
    }

    fn check_compatible(&self) -> Result<(), GatewayError> {
        let hello = &self.hello;
        if hello.protocol != PROTOCOL || hello.server.version != OPENCLAW_VERSION {
            return Err(GatewayError::Incompatible(format!(
                "protocol {} of OpenClaw {}, expected {PROTOCOL} of {OPENCLAW_VERSION}",
                hello.protocol, hello.server.version
            )));
        }
        let missing: Vec<_> = REQUIRED_METHODS
            .iter()
            .filter(|m| !hello.features.methods.iter().any(|have| have == *m))
            .collect();
        if !missing.is_empty() {
            return Err(GatewayError::Incompatible(format!(
                "methods missing: {missing:?}"
            )));
        }
        Ok(())
    }

    /// What the gateway said in `hello-ok`.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Sends `method` with `params` and waits for its response's payload.
    pub async fn request(
        &self,
        method: &str,
        params: &impl Serialize,
    ) -> Result<Value, GatewayError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let (answered, answer) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), answered);
        let frame =
            serde_json::json!({"type": "req", "id": id, "method": method, "params": params});
        if self.is_closed()
            || self
                .outgoing
                .send(Message::text(frame.to_string()))
                .is_err()
        {
            self.forget(&id);
            return Err(GatewayError::Closed);
        }
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, answer).await;
        self.forget(&id);
        match answer {
            Err(_) => Err(GatewayError::Timeout(method.to_owned())),
            Ok(Err(_)) => Err(GatewayError::Closed),
            Ok(Ok(Ok(payload))) => Ok(payload),
            Ok(Ok(Err(error))) => {
                if error.retryable
                    && let Some(ms) = error.retry_after_ms
                {
                    return Err(GatewayError::NotReady {
                        retry_after: Duration::from_millis(ms),
                    });
                }
                Err(GatewayError::Refused {
                    method: method.to_owned(),
                    code: error.code,
                    message: error.message,
                })
            }
        }
    }

    fn forget(&self, id: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Receives the `chat` and `agent` events of run `run_id` from now until [`Self::unregister`]
    /// (register before the request that starts the run, so no event is missed).
    pub fn register(&self, run_id: &str) -> mpsc::UnboundedReceiver<RunEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.is_closed() {
            let _ = tx.send(RunEvent::Closed);
        }
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run_id.to_owned(), tx);
        rx
    }

    pub fn unregister(&self, run_id: &str) {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(run_id);
    }

    /// Closes the connection.
    pub fn close(&self) {
        let _ = self.outgoing.send(Message::Close(None));
    }
}

impl Drop for GatewayClient {
    fn drop(&mut self) {
        self.close();
    }
}

/// Where the reader task delivers what it reads.
struct ReaderState {
    pending: Pending,
    runs: Runs,
    closed: CancellationToken,
    challenged: Option<oneshot::Sender<()>>,
}

/// Reads frames until the connection ends, then fails what waits on it.
async fn read_frames<S>(mut stream: S, mut state: ReaderState)
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(Ok(message)) = stream.next().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        match serde_json::from_str::<Frame>(text.as_str()) {
            Ok(frame) => state.deliver(frame),
            Err(e) => tracing::debug!(error = %e, "an unreadable gateway frame"),
        }
    }
    state.closed.cancel();
    state
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    let runs = std::mem::take(&mut *state.runs.lock().unwrap_or_else(|p| p.into_inner()));
    for run in runs.values() {
        let _ = run.send(RunEvent::Closed);
    }
}

impl ReaderState {
    fn deliver(&mut self, frame: Frame) {
        match frame {
            Frame::Res {
                id,
                ok,
                payload,
                error,
            } => {
                let waiting = self
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                if let Some(waiting) = waiting {
                    let _ = waiting.send(if ok {
                        Ok(payload)
                    } else {
                        Err(error.unwrap_or_default())
                    });
                }
            }
            Frame::Event { event, payload } => {
                let routed = match event.as_str() {
                    "connect.challenge" => {
                        if let Some(challenged) = self.challenged.take() {
                            let _ = challenged.send(());
                        }
                        return;
                    }
                    "chat" => serde_json::from_value(payload).map(RunEvent::Chat),
                    "agent" => serde_json::from_value(payload).map(RunEvent::Agent),
                    _ => return,
                };
                let event = match routed {
                    Ok(event) => event,
                    Err(e) => {
                        tracing::warn!(error = %e, "an unreadable gateway event");
                        return;
                    }
                };
                let run_id = match &event {
                    RunEvent::Chat(chat) => &chat.run_id,
                    RunEvent::Agent(agent) => &agent.run_id,
                    RunEvent::Closed => return,
                };
                let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(run) = runs.get(run_id) {
                    let _ = run.send(event);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::net::TcpListener;

    use super::*;

    /// A one-connection stand-in for the gateway: sends the challenge, answers `connect` with
    /// `hello`, then sends for each request the frames `answer` gives (none: closes the socket).
    async fn stand_in(hello: Value, answer: fn(&Value) -> Vec<Value>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let challenge =
                json!({"type": "event", "event": "connect.challenge", "payload": {"nonce": "n"}});
            ws.send(Message::text(challenge.to_string())).await.unwrap();
            while let Some(Ok(Message::Text(text))) = ws.next().await {
                let request: Value = serde_json::from_str(text.as_str()).unwrap();
                let frames = if request["method"] == "connect" {
                    vec![json!({"type": "res", "id": request["id"], "ok": true, "payload": hello})]
                } else {
                    answer(&request)
                };
                if frames.is_empty() {
                    break;
                }
                for frame in frames {
                    ws.send(Message::text(frame.to_string())).await.unwrap();
                }
            }
        });
        url
    }

    fn hello(version: &str) -> Value {
        json!({"type": "hello-ok", "protocol": PROTOCOL, "server": {"version": version},
            "features": {"methods": REQUIRED_METHODS}})
    }

    #[tokio::test]
    async fn another_openclaw_version_is_refused_at_connect() {
        let url = stand_in(hello("2026.10.1"), |_| Vec::new()).await;
        let err = GatewayClient::connect(&url, "token")
            .await
            .err()
            .expect("refused");
        assert!(matches!(err, GatewayError::Incompatible(_)), "{err}");
    }

    #[tokio::test]
    async fn answers_and_events_reach_their_request_and_run_and_a_close_ends_both() {
        let url = stand_in(hello(OPENCLAW_VERSION), |request| {
            match request["method"].as_str() {
                Some("chat.send") => vec![
                    json!({"type": "event", "event": "chat",
                        "payload": {"runId": "another-run", "state": "delta", "deltaText": "not ours"}}),
                    json!({"type": "event", "event": "chat",
                        "payload": {"runId": "run-1", "state": "delta", "deltaText": "ours"}}),
                    json!({"type": "res", "id": request["id"], "ok": false,
                        "error": {"code": "INVALID_REQUEST", "message": "no"}}),
                ],
                _ => Vec::new(),
            }
        })
        .await;
        let client = GatewayClient::connect(&url, "token").await.unwrap();
        let mut run = client.register("run-1");
        let err = client
            .request("chat.send", &json!({}))
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, GatewayError::Refused { code, .. } if code == "INVALID_REQUEST"),
            "{err}"
        );
        match run.recv().await {
            Some(RunEvent::Chat(chat)) => assert_eq!(chat.delta_text.as_deref(), Some("ours")),
            other => panic!("{other:?}"),
        }
        // Any other request makes the stand-in close the socket.
        let err = client
            .request("sessions.describe", &json!({}))
            .await
            .expect_err("closed");
        assert!(matches!(err, GatewayError::Closed), "{err}");
        assert!(matches!(run.recv().await, Some(RunEvent::Closed)));
        assert!(client.is_closed());
    }
}
