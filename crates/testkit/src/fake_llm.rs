//! A fake LLM server speaking the two wire protocols OpenClaw's custom providers use.
//!
//! Tests run the real OpenClaw agent and replace only the model: they point a provider with
//! `api: "anthropic-messages"` at [`FakeLlm::anthropic_base_url`] (OpenClaw posts to
//! `<baseUrl>/v1/messages`) or one with `api: "openai-completions"` at [`FakeLlm::openai_base_url`]
//! (it posts to `<baseUrl>/chat/completions`).
//!
//! The reply is a pure function of the request ([`reply_text`]), so a test can tell from the
//! answer alone how much history the agent sent. Every request is recorded, and the behaviour
//! (reply, fixed text, HTTP error, hang, delays) can be switched while the server runs, either
//! for all requests or for the next few ones through a queue.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Pause between two streamed text deltas unless [`FakeLlm::set_chunk_delay`] says otherwise:
/// long enough for a consumer to see several separate deltas, short enough for fast tests.
pub const DEFAULT_CHUNK_DELAY: Duration = Duration::from_millis(15);

/// How much of the last user message [`reply_text`] quotes.
const EXCERPT_CHARS: usize = 80;

/// Upper bound on streamed deltas, so a long [`Behaviour::Text`] does not take minutes to stream.
const MAX_CHUNKS: usize = 64;

/// Value of the `retry-after` header on a 429: one second keeps retrying clients fast in tests.
const RETRY_AFTER_SECS: &str = "1";

/// What the server does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Answer with [`reply_text`] computed from the request.
    #[default]
    Reply,
    /// Answer with this exact text (streamed in chunks like a normal reply).
    Text(String),
    /// Fail with this HTTP status and an error body in the format of the API that was called.
    /// A 429 also carries a `retry-after` header. A number that is not a valid status becomes 500.
    Status(u16),
    /// Accept the request and never answer; the connection stays open until the server shuts
    /// down, when the request gets a 503.
    Hang,
}

/// Which of the two wire protocols a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Anthropic Messages API, `POST /v1/messages`.
    AnthropicMessages,
    /// OpenAI chat completions API, `POST /v1/chat/completions`.
    OpenAiCompletions,
}

impl Api {
    /// Number of conversation messages in a request body, the `N` of [`reply_text`].
    ///
    /// Anthropic: the entries of `messages` (the system prompt is a separate field there).
    /// OpenAI: the entries of `messages` whose role is neither `system` nor `developer`, so both
    /// APIs count the same conversation the same way. In both, a user message that holds only
    /// OpenClaw's per-turn internal context is not conversation and is not counted.
    pub fn message_count(self, body: &Value) -> usize {
        let Some(messages) = body["messages"].as_array() else {
            return 0;
        };
        messages
            .iter()
            .filter(|m| match self {
                Api::AnthropicMessages => true,
                Api::OpenAiCompletions => m["role"] != "system" && m["role"] != "developer",
            })
            .filter(|m| !is_injected_context(m))
            .count()
    }

    /// Text of the last `user` message that has any text, in a request body.
    ///
    /// Content may be a string or an array of content blocks; the `text` blocks are joined with
    /// newlines and other blocks (images, Anthropic `tool_result`s) are skipped. A user message
    /// without text, such as one carrying only tool results, is passed over so the excerpt stays
    /// the human's prompt. OpenClaw's internal context blocks are skipped, and the timestamp
    /// envelope it puts before a prompt (`[Sat 2026-11-21 13:45 UTC] `) is removed.
    pub fn last_user_text(self, body: &Value) -> Option<String> {
        // Both APIs use the same shape for the parts read here.
        body["messages"]
            .as_array()?
            .iter()
            .rev()
            .filter(|m| m["role"] == "user")
            .find_map(|m| content_text(&m["content"]))
    }

    /// The conversation in a request body as `(role, text)` pairs, oldest first: the messages
    /// [`Api::message_count`] counts, with their text read like [`Api::last_user_text`] does
    /// (an empty string for a message without text).
    pub fn conversation(self, body: &Value) -> Vec<(String, String)> {
        let Some(messages) = body["messages"].as_array() else {
            return Vec::new();
        };
        messages
            .iter()
            .filter(|m| !matches!(m["role"].as_str(), Some("system" | "developer")))
            .filter(|m| !is_injected_context(m))
            .map(|m| {
                let role = m["role"].as_str().unwrap_or_default().to_owned();
                (role, content_text(&m["content"]).unwrap_or_default())
            })
            .collect()
    }

    /// The text a [`Behaviour::Reply`] answer to this request body consists of.
    pub fn expected_reply(self, body: &Value) -> String {
        reply_text(
            self.message_count(body),
            &self.last_user_text(body).unwrap_or_default(),
        )
    }
}

/// The deterministic reply text, in this exact format:
///
/// ```text
/// Fake reply to "<excerpt>" after <n_messages> messages.
/// ```
///
/// `<excerpt>` is `last_user_text` with every whitespace run collapsed to one space, cut to its
/// first 80 characters, then trimmed. For example
/// `reply_text(3, "What is  2+2?")` is `Fake reply to "What is 2+2?" after 3 messages.`
pub fn reply_text(n_messages: usize, last_user_text: &str) -> String {
    let collapsed = last_user_text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let excerpt: String = collapsed.chars().take(EXCERPT_CHARS).collect();
    format!(
        "Fake reply to \"{}\" after {n_messages} messages.",
        excerpt.trim()
    )
}

/// How a reply is cut into streamed deltas: one word (with the whitespace after it) per chunk,
/// words grouped evenly when there are more than 64 of them. Concatenating the chunks gives back
/// `text` exactly.
pub fn split_into_chunks(text: &str) -> Vec<String> {
    let words = words_with_trailing_whitespace(text);
    let per_chunk = words.len().div_ceil(MAX_CHUNKS).max(1);
    words
        .chunks(per_chunk)
        .map(|group| group.concat())
        .collect()
}

fn words_with_trailing_whitespace(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut seen_word = false;
    let mut after_whitespace = false;
    for (i, c) in text.char_indices() {
        // Leading whitespace stays with the first word rather than becoming a blank chunk.
        if seen_word && after_whitespace && !c.is_whitespace() {
            words.push(&text[start..i]);
            start = i;
        }
        after_whitespace = c.is_whitespace();
        seen_word |= !after_whitespace;
    }
    if start < text.len() {
        words.push(&text[start..]);
    }
    words
}

/// How OpenClaw opens the context it adds to every turn as a user message of its own.
const OPENCLAW_CONTEXT_MARKER: &str = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>";

fn text_blocks(content: &Value) -> Vec<&str> {
    match content {
        Value::String(text) => vec![text.as_str()],
        Value::Array(blocks) => blocks
            .iter()
            .filter(|block| block["type"] == "text")
            .filter_map(|block| block["text"].as_str())
            .collect(),
        _ => Vec::new(),
    }
}

fn is_injected_context(message: &Value) -> bool {
    let texts = text_blocks(&message["content"]);
    message["role"] == "user"
        && !texts.is_empty()
        && texts.iter().all(|t| t.starts_with(OPENCLAW_CONTEXT_MARKER))
}

/// How OpenClaw opens the runtime line it appends to the prompt on the OpenAI API.
const OPENCLAW_RUNTIME_TRAILER: &str = "\n\nRuntime: agent=";

/// Removes what OpenClaw wraps around a prompt: a `[<timestamp>] ` envelope before it and, on the
/// OpenAI API, a `Runtime: agent=…` paragraph after it.
fn strip_envelope(text: &str) -> &str {
    let text = text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
        .filter(|(stamp, _)| stamp.len() <= 64 && !stamp.contains('\n'))
        .map_or(text, |(_, prompt)| prompt);
    text.split_once(OPENCLAW_RUNTIME_TRAILER)
        .map_or(text, |(prompt, _)| prompt)
}

fn content_text(content: &Value) -> Option<String> {
    let texts: Vec<&str> = text_blocks(content)
        .into_iter()
        .filter(|t| !t.starts_with(OPENCLAW_CONTEXT_MARKER))
        .map(strip_envelope)
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The protocol it came in on.
    pub api: Api,
    /// The request path, e.g. `/v1/messages`.
    pub path: String,
    /// All request headers.
    pub headers: HeaderMap,
    /// The parsed JSON body, or `Value::Null` if the body was not JSON (it got a 400).
    pub body: Value,
    /// When the server had the whole request (benchmarks: how long the client took to get here).
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The API key the client sent, from `x-api-key` or `Authorization: Bearer`.
    pub fn api_key(&self) -> Option<&str> {
        if let Some(key) = self.headers.get("x-api-key") {
            return key.to_str().ok();
        }
        let authorization = self.headers.get("authorization")?.to_str().ok()?;
        Some(
            authorization
                .strip_prefix("Bearer ")
                .unwrap_or(authorization),
        )
    }

    /// See [`Api::conversation`].
    pub fn conversation(&self) -> Vec<(String, String)> {
        self.api.conversation(&self.body)
    }

    /// See [`Api::message_count`].
    pub fn message_count(&self) -> usize {
        self.api.message_count(&self.body)
    }

    /// See [`Api::last_user_text`].
    pub fn last_user_text(&self) -> Option<String> {
        self.api.last_user_text(&self.body)
    }

    /// See [`Api::expected_reply`].
    pub fn expected_reply(&self) -> String {
        self.api.expected_reply(&self.body)
    }
}

/// [`FakeLlm::wait_for_requests`] gave up.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {after:?} waiting for {wanted} request(s) to the fake LLM; got {got}")]
pub struct WaitTimedOut {
    /// How many requests were awaited.
    pub wanted: usize,
    /// How many had arrived.
    pub got: usize,
    /// How long it waited.
    pub after: Duration,
}

/// A running fake LLM server. It stops when dropped or on [`FakeLlm::shutdown`].
#[derive(Debug)]
pub struct FakeLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Set to `true` once to stop the server; handlers watch it too so that hanging and
    /// streaming requests end instead of holding graceful shutdown forever.
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl FakeLlm {
    /// Starts a server on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// If no loopback port can be bound: in a test there is nothing better to do.
    pub async fn start() -> FakeLlm {
        FakeLlm::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("bind the fake LLM to a loopback port")
    }

    /// Starts a server on `addr` (port 0 picks a free one) and serves it in a background task.
    pub async fn bind(addr: SocketAddr) -> io::Result<FakeLlm> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (shutdown, stop) = watch::channel(false);
        let app = Router::new()
            .route("/v1/messages", post(anthropic_messages))
            .route("/v1/chat/completions", post(openai_completions))
            .with_state(AppState {
                shared: Arc::clone(&shared),
                stop: stop.clone(),
            });
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped(stop))
                .await
        });
        Ok(FakeLlm {
            addr,
            shared,
            shutdown,
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `baseUrl` for an OpenClaw provider with `api: "anthropic-messages"` (no `/v1`).
    pub fn anthropic_base_url(&self) -> String {
        self.base_url()
    }

    /// The `baseUrl` for an OpenClaw provider with `api: "openai-completions"` (ends in `/v1`).
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets what happens to every request once the queue of [`FakeLlm::push_behaviour`] is empty.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.state().default_behaviour = behaviour;
    }

    /// Queues a behaviour for one request; queued ones are used in order, before the default.
    pub fn push_behaviour(&self, behaviour: Behaviour) {
        self.shared.state().queue.push_back(behaviour);
    }

    /// Sets the wait before the first byte of every response (errors included).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.state().delay = delay;
    }

    /// Sets the pause between two streamed text deltas (default [`DEFAULT_CHUNK_DELAY`]).
    pub fn set_chunk_delay(&self, chunk_delay: Duration) {
        self.shared.state().chunk_delay = chunk_delay;
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// When the last streamed response handed its last byte to the connection, if one did
    /// (benchmarks: how long the client took from there).
    pub fn last_response_end(&self) -> Option<Instant> {
        self.shared.state().last_response_end
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.shared.state().requests.len()
    }

    /// Waits until at least `n` requests were received, then returns all of them.
    pub async fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, WaitTimedOut> {
        let mut count = self.shared.request_count.subscribe();
        // The sender lives in `self.shared`, so `wait_for` cannot fail with a closed channel here.
        let arrived = tokio::time::timeout(timeout, count.wait_for(|count| *count >= n)).await;
        match arrived {
            Ok(Ok(_)) => Ok(self.requests()),
            _ => Err(WaitTimedOut {
                wanted: n,
                got: self.request_count(),
                after: timeout,
            }),
        }
    }

    /// Stops the server and waits until it has closed every connection. Hanging requests get a
    /// 503 and streams in progress are cut short.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.shutdown.send_replace(true);
        match self.server.take() {
            Some(server) => server.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        // Drop cannot wait: the background task finishes the graceful shutdown on its own.
        self.shutdown.send_replace(true);
    }
}

/// State shared by the handle and the request handlers.
#[derive(Debug)]
struct Shared {
    /// A std mutex: it is only held for short, synchronous reads and writes, never across an await.
    state: Mutex<FakeState>,
    /// Counts recorded requests so `wait_for_requests` can sleep instead of polling.
    request_count: watch::Sender<usize>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            state: Mutex::new(FakeState::default()),
            request_count: watch::Sender::new(0),
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        // A panic elsewhere while holding the lock leaves the data usable: recover it rather than
        // turning one failed assertion into a cascade of poison errors.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request and, if it is to be answered normally, decides how. One lock for both
    /// keeps queued behaviours in the order the requests were recorded.
    fn record(&self, request: RecordedRequest, answerable: bool) -> Option<Plan> {
        let mut state = self.state();
        state.requests.push(request);
        let number = state.requests.len();
        let plan = answerable.then(|| Plan {
            number,
            behaviour: state
                .queue
                .pop_front()
                .unwrap_or_else(|| state.default_behaviour.clone()),
            delay: state.delay,
            chunk_delay: state.chunk_delay,
        });
        // Published while the lock is held so a waiter that sees the count also sees the request.
        self.request_count.send_replace(number);
        plan
    }
}

#[derive(Debug)]
struct FakeState {
    default_behaviour: Behaviour,
    queue: VecDeque<Behaviour>,
    delay: Duration,
    chunk_delay: Duration,
    requests: Vec<RecordedRequest>,
    last_response_end: Option<Instant>,
}

impl Default for FakeState {
    fn default() -> Self {
        FakeState {
            default_behaviour: Behaviour::Reply,
            queue: VecDeque::new(),
            delay: Duration::ZERO,
            chunk_delay: DEFAULT_CHUNK_DELAY,
            requests: Vec::new(),
            last_response_end: None,
        }
    }
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

/// What one request gets, decided under the lock when it is recorded.
struct Plan {
    /// 1-based number of the request, used to make response ids unique.
    number: usize,
    behaviour: Behaviour,
    delay: Duration,
    chunk_delay: Duration,
}

/// Resolves once the server is told to stop (or its handle is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender was dropped, which also means stop.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn anthropic_messages(
    State(app): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(app, Api::AnthropicMessages, uri, headers, body).await
}

async fn openai_completions(
    State(app): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(app, Api::OpenAiCompletions, uri, headers, body).await
}

async fn handle(app: AppState, api: Api, uri: Uri, headers: HeaderMap, raw: Bytes) -> Response {
    let received_at = Instant::now();
    let parsed = serde_json::from_slice::<Value>(&raw);
    let request = RecordedRequest {
        api,
        path: uri.path().to_owned(),
        headers,
        body: parsed.as_ref().ok().cloned().unwrap_or_default(),
        received_at,
    };
    tracing::debug!(?api, messages = request.message_count(), "fake LLM request");

    // A body that is not JSON says nothing about the conversation: answer 400 without using up
    // a queued behaviour meant for a real request.
    let plan = app.shared.record(request, parsed.is_ok());
    let (Ok(body), Some(plan)) = (parsed, plan) else {
        return error_response(
            api,
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
        );
    };

    if !plan.delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(plan.delay) => {}
            () = stopped(app.stop.clone()) => return shutting_down(api),
        }
    }

    let text = match plan.behaviour {
        Behaviour::Hang => {
            stopped(app.stop).await;
            return shutting_down(api);
        }
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error_response(api, status, default_error_message(api, status));
        }
        Behaviour::Reply => api.expected_reply(&body),
        Behaviour::Text(text) => text,
    };
    let reply = Reply {
        number: plan.number,
        model: body["model"].as_str().unwrap_or("fake-model").to_owned(),
        input_tokens: estimate_tokens(raw.len()),
        output_tokens: estimate_tokens(text.chars().count()),
        chunks: split_into_chunks(&text),
        text,
    };
    let streaming = body["stream"].as_bool().unwrap_or(false);
    match (api, streaming) {
        (Api::AnthropicMessages, false) => Json(anthropic_message(&reply)).into_response(),
        (Api::OpenAiCompletions, false) => Json(openai_completion(&reply)).into_response(),
        (Api::AnthropicMessages, true) => event_stream(
            anthropic_events(&reply, plan.chunk_delay),
            app.stop,
            app.shared,
        ),
        (Api::OpenAiCompletions, true) => {
            let include_usage = body["stream_options"]["include_usage"]
                .as_bool()
                .unwrap_or(false);
            event_stream(
                openai_events(&reply, plan.chunk_delay, include_usage),
                app.stop,
                app.shared,
            )
        }
    }
}

/// A rough but deterministic token count: about four characters per token, at least one.
fn estimate_tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4).max(1)).unwrap_or(u64::MAX)
}

/// Everything needed to write a successful answer in either API.
struct Reply {
    number: usize,
    model: String,
    text: String,
    chunks: Vec<String>,
    input_tokens: u64,
    output_tokens: u64,
}

impl Reply {
    fn anthropic_id(&self) -> String {
        format!("msg_fake_{:04}", self.number)
    }

    fn openai_id(&self) -> String {
        format!("chatcmpl-fake-{:04}", self.number)
    }
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn anthropic_message(reply: &Reply) -> Value {
    json!({
        "id": reply.anthropic_id(),
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    })
}

fn openai_completion(reply: &Reply) -> Value {
    json!({
        "id": reply.openai_id(),
        "object": "chat.completion",
        "created": unix_time(),
        "model": reply.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.text, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    })
}

/// One piece of a streamed response and how long to wait before sending it.
struct Frame {
    pause: Duration,
    bytes: Bytes,
}

impl Frame {
    fn anthropic(pause: Duration, data: &Value) -> Frame {
        // Anthropic names each event twice: in the `event:` line and in the data's `type`.
        let name = data["type"].as_str().unwrap_or_default();
        Frame {
            pause,
            bytes: Bytes::from(format!("event: {name}\ndata: {data}\n\n")),
        }
    }

    fn openai(pause: Duration, data: &str) -> Frame {
        Frame {
            pause,
            bytes: Bytes::from(format!("data: {data}\n\n")),
        }
    }
}

/// The Anthropic Messages streaming sequence for a single text block.
fn anthropic_events(reply: &Reply, chunk_delay: Duration) -> Vec<Frame> {
    let now = Duration::ZERO;
    let mut frames = vec![
        Frame::anthropic(
            now,
            &json!({
                "type": "message_start",
                "message": {
                    "id": reply.anthropic_id(),
                    "type": "message",
                    "role": "assistant",
                    "model": reply.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    // Like the real API: output_tokens starts at 1 and the total comes in message_delta.
                    "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
                },
            }),
        ),
        Frame::anthropic(
            now,
            &json!({
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }),
        ),
        Frame::anthropic(now, &json!({"type": "ping"})),
    ];
    frames.extend(reply.chunks.iter().enumerate().map(|(i, chunk)| {
        Frame::anthropic(
            if i == 0 { now } else { chunk_delay },
            &json!({
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": chunk},
            }),
        )
    }));
    frames.extend([
        Frame::anthropic(now, &json!({"type": "content_block_stop", "index": 0})),
        Frame::anthropic(
            now,
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": reply.output_tokens},
            }),
        ),
        Frame::anthropic(now, &json!({"type": "message_stop"})),
    ]);
    frames
}

/// The OpenAI chat completions streaming sequence: a role chunk, content chunks, a finish chunk,
/// a usage chunk if asked for, and `[DONE]`.
fn openai_events(reply: &Reply, chunk_delay: Duration, include_usage: bool) -> Vec<Frame> {
    let now = Duration::ZERO;
    let created = unix_time();
    let chunk = |choices: Value, usage: Value| {
        let mut chunk = json!({
            "id": reply.openai_id(),
            "object": "chat.completion.chunk",
            "created": created,
            "model": reply.model,
            "system_fingerprint": null,
            "choices": choices,
        });
        // The real API only adds the field when usage was requested, then `null` until the end.
        if include_usage {
            chunk["usage"] = usage;
        }
        chunk.to_string()
    };
    let choice = |delta: Value, finish_reason: Value| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]);

    let mut frames = vec![Frame::openai(
        now,
        &chunk(
            choice(json!({"role": "assistant", "content": ""}), Value::Null),
            Value::Null,
        ),
    )];
    frames.extend(reply.chunks.iter().enumerate().map(|(i, text)| {
        Frame::openai(
            if i == 0 { now } else { chunk_delay },
            &chunk(choice(json!({"content": text}), Value::Null), Value::Null),
        )
    }));
    frames.push(Frame::openai(
        now,
        &chunk(choice(json!({}), json!("stop")), Value::Null),
    ));
    if include_usage {
        frames.push(Frame::openai(
            now,
            &chunk(
                json!([]),
                json!({
                    "prompt_tokens": reply.input_tokens,
                    "completion_tokens": reply.output_tokens,
                    "total_tokens": reply.input_tokens + reply.output_tokens,
                }),
            ),
        ));
    }
    frames.push(Frame::openai(now, "[DONE]"));
    frames
}

/// Streams frames as server-sent events, cut short if the server stops meanwhile (graceful
/// shutdown waits for open responses, so a long stream must not hold it up). Notes the time the
/// last frame was handed on in `shared`.
fn event_stream(frames: Vec<Frame>, stop: watch::Receiver<bool>, shared: Arc<Shared>) -> Response {
    // Polled once the connection took the last frame; yields nothing itself.
    let ended = futures::stream::once(async move {
        shared.state().last_response_end = Some(Instant::now());
    })
    .filter_map(|()| async { None });
    let stream = futures::stream::iter(frames)
        .then(|frame| async move {
            if !frame.pause.is_zero() {
                tokio::time::sleep(frame.pause).await;
            }
            Ok::<_, Infallible>(frame.bytes)
        })
        .chain(ended)
        .take_until(Box::pin(stopped(stop)));
    (
        [
            (CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The answer a hanging or delayed request gets when the server stops under it.
fn shutting_down(api: Api) -> Response {
    error_response(
        api,
        StatusCode::SERVICE_UNAVAILABLE,
        "the fake LLM is shutting down",
    )
}

fn default_error_message(api: Api, status: StatusCode) -> &'static str {
    match (api, status.as_u16()) {
        (_, 400) => "Invalid request.",
        (Api::AnthropicMessages, 401) => "invalid x-api-key",
        (Api::OpenAiCompletions, 401) => "Incorrect API key provided.",
        (_, 403) => "Your API key does not have permission to use the specified resource.",
        (_, 404) => "The requested resource could not be found.",
        (Api::AnthropicMessages, 429) => {
            "This request would exceed your organization's rate limit. Please try again later."
        }
        (Api::OpenAiCompletions, 429) => "Rate limit reached for requests. Please try again in 1s.",
        (Api::AnthropicMessages, 529) => "Overloaded",
        (Api::OpenAiCompletions, 500) => {
            "The server had an error while processing your request. Sorry about that!"
        }
        (Api::OpenAiCompletions, 503) => {
            "The engine is currently overloaded, please try again later."
        }
        _ => "Internal server error",
    }
}

/// An error in the format of the API that was called (a 429 also gets `retry-after`).
fn error_response(api: Api, status: StatusCode, message: &str) -> Response {
    let body = match api {
        Api::AnthropicMessages => {
            let kind = match status.as_u16() {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                503 | 529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        Api::OpenAiCompletions => {
            let (kind, code) = match status.as_u16() {
                401 => ("invalid_request_error", json!("invalid_api_key")),
                404 => ("invalid_request_error", json!("model_not_found")),
                429 => ("requests", json!("rate_limit_exceeded")),
                code if code >= 500 => ("server_error", Value::Null),
                _ => ("invalid_request_error", Value::Null),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_text_quotes_the_prompt_and_counts_the_messages() {
        assert_eq!(
            reply_text(3, "What is  2+2?\n"),
            "Fake reply to \"What is 2+2?\" after 3 messages."
        );
    }

    #[test]
    fn reply_text_quotes_at_most_80_characters() {
        let prompt = "é".repeat(200);
        let reply = reply_text(1, &prompt);
        assert_eq!(
            reply,
            format!("Fake reply to \"{}\" after 1 messages.", "é".repeat(80))
        );
    }

    #[test]
    fn chunks_are_words_that_concatenate_back_to_the_text() {
        let text = "  one two\nthree   four ";
        let chunks = split_into_chunks(text);
        assert_eq!(chunks, ["  one ", "two\n", "three   ", "four "]);
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn long_texts_are_grouped_into_at_most_64_chunks() {
        let text = "word ".repeat(1000);
        let chunks = split_into_chunks(&text);
        assert!(chunks.len() <= MAX_CHUNKS, "{} chunks", chunks.len());
        assert!(chunks.len() >= 4);
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn user_content_may_be_a_string_or_text_blocks() {
        let body = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": [
                {"type": "image", "source": {}},
                {"type": "text", "text": "second"},
                {"type": "text", "text": "part"},
            ]},
        ]});
        assert_eq!(
            Api::AnthropicMessages.last_user_text(&body).as_deref(),
            Some("second\npart")
        );
    }

    #[test]
    fn openclaw_context_and_timestamp_envelopes_are_not_conversation() {
        let body = json!({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "[Sat 2026-11-21 13:45 UTC] first question"}]},
            {"role": "user", "content": [{"type": "text", "text": "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nnone\n<<<END_OPENCLAW_INTERNAL_CONTEXT>>>"}]},
        ]});
        assert_eq!(Api::AnthropicMessages.message_count(&body), 1);
        assert_eq!(
            Api::AnthropicMessages.last_user_text(&body).as_deref(),
            Some("first question")
        );
        assert_eq!(strip_envelope("[not closed"), "[not closed");
        assert_eq!(
            strip_envelope("[t] hi\n\nRuntime: agent=main | session=x"),
            "hi"
        );
        assert_eq!(
            Api::AnthropicMessages.conversation(&body),
            [("user".to_owned(), "first question".to_owned())]
        );
    }

    #[test]
    fn a_user_message_with_only_tool_results_is_passed_over() {
        let body = json!({"messages": [
            {"role": "user", "content": "the prompt"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]},
        ]});
        assert_eq!(
            Api::AnthropicMessages.last_user_text(&body).as_deref(),
            Some("the prompt")
        );
        assert_eq!(Api::AnthropicMessages.message_count(&body), 3);
    }

    #[test]
    fn openai_message_count_leaves_out_system_and_developer_messages() {
        let body = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": "really"},
            {"role": "user", "content": "hi"},
        ]});
        assert_eq!(Api::OpenAiCompletions.message_count(&body), 1);
        assert_eq!(Api::AnthropicMessages.message_count(&json!({})), 0);
    }

    #[test]
    fn the_api_key_comes_from_either_header() {
        let mut request = RecordedRequest {
            api: Api::AnthropicMessages,
            path: "/v1/messages".to_owned(),
            headers: HeaderMap::new(),
            body: Value::Null,
            received_at: Instant::now(),
        };
        assert_eq!(request.api_key(), None);
        request
            .headers
            .insert("authorization", HeaderValue::from_static("Bearer sk-test"));
        assert_eq!(request.api_key(), Some("sk-test"));
        request
            .headers
            .insert("x-api-key", HeaderValue::from_static("ak-test"));
        assert_eq!(request.api_key(), Some("ak-test"));
    }
}
