//! A fake LLM server speaking the two wire protocols OpenClaw's custom providers use.
//!
//! Tests run the real OpenClaw agent and replace only the model: they point a provider with
//! `api: "anthropic-messages"` at [`FakeLlm::anthropic_base_url`] (OpenClaw posts to
//! `<baseUrl>/v1/messages`) or one with `api: "openai-completions"` at [`FakeLlm::openai_base_url`]
//! (it posts to `<baseUrl>/chat/completions`).
//!
//! The reply is a pure function of the request ([`reply_text`]), so a test can tell from the
//! answer alone how much history the agent sent. A compaction's summary request is answered with
//! [`SUMMARY`], which later requests then carry instead of the summarised turns. Every request is recorded, and the behaviour
//! (reply, fixed text, tool calls, HTTP error, hang, delays) can be switched while the server runs,
//! either for all requests or for the next few ones through a queue.
//!
//! # Tool calls
//!
//! [`Behaviour::ToolCalls`] makes the model call tools, streamed the way each API streams them, and
//! [`RecordedRequest::tool_results`] reads what the agent sends back in its next request. "First a
//! tool call, then the normal reply" is a queued behaviour in front of the default:
//!
//! ```no_run
//! # async fn example() {
//! use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm, ToolCall};
//! let fake = FakeLlm::start().await;
//! fake.push_behaviour(Behaviour::tool_calls([ToolCall::exec("echo tool-ran-$((6*7))")]));
//! // ... run a turn against the fake, then:
//! let results = fake.requests()[1].tool_results();
//! assert!(results[0].content.contains("tool-ran-42"));
//! # }
//! ```
//!
//! OpenClaw 2026.9.6's shell tool is named `exec`; its input is `{"command": "<shell command>"}`
//! (the only required field) plus optional `workdir`, `env` (string map), `yieldMs`, `background`,
//! `timeoutSeconds`, `pty`, `elevated`, `host` (`auto` | `sandbox` | `gateway` | `node`), `ask`,
//! `node` and `title` (the package's `docs/tools/exec.md`). [`ToolCall::exec`] builds the plain
//! form. OpenClaw offers its tools only when the turn runs with them (`disable_tools: false` in the
//! agent's `RuntimeSettings`, `disableTools` off in the runner protocol). What it sends back, as
//! `crates/agent/tests/tool_calls.rs` checks:
//!
//! - the command's output (stdout and stderr) as the result's text, e.g. `tool-ran-42`, with
//!   `is_error: false`; a non-zero exit is still not an error, its text ends with
//!   `(Command exited with code 3)`;
//! - for a tool it does not have, `is_error: true` and `Tool <name> not found`;
//! - the call ids rewritten to letters and digits for a custom provider (`toolu_fake_r0001_c0`
//!   comes back as `toolufaker0001c0`), so a test matches a result to the call echoed in the same
//!   request ([`RecordedRequest::tool_calls`]), not to the id the fake made;
//! - text before the calls kept in the history, but neither streamed nor part of the turn's reply.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
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

/// Upper bound on the streamed deltas of a text or a tool input, so a long one does not take
/// minutes to stream.
const MAX_CHUNKS: usize = 64;

/// How OpenClaw's summarization system prompt starts (its compaction's summary requests; checked in
/// 2026.9.6: `SUMMARIZATION_SYSTEM_PROMPT` in agent-core).
pub const SUMMARIZATION_PROMPT_START: &str = "You are a context summarization assistant";

/// What a [`Behaviour::Reply`] answers a compaction's summary request with: a marker a test finds
/// again in the requests of later turns.
pub const SUMMARY: &str = "Summary by the fake LLM: FAKE-SUMMARY-7c1e.";

/// Value of the `retry-after` header on a 429: one second keeps retrying clients fast in tests.
const RETRY_AFTER_SECS: &str = "1";
/// The largest request body the fake accepts: a turn with images sends them, and the
/// conversation's earlier ones, base64-encoded.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

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
    /// Answer with `text` (none if empty) followed by these tool calls, and stop for tool use
    /// (Anthropic `stop_reason: "tool_use"`, OpenAI `finish_reason: "tool_calls"`). Each call gets
    /// an id unique to this server in the form of the API that was called (`toolu_…` / `call_…`).
    /// Without calls this is a plain text answer. [`Behaviour::tool_calls`] builds one without text.
    ToolCalls { text: String, calls: Vec<ToolCall> },
}

impl Behaviour {
    /// Tool calls with no text before them.
    pub fn tool_calls(calls: impl IntoIterator<Item = ToolCall>) -> Behaviour {
        Behaviour::ToolCalls {
            text: String::new(),
            calls: calls.into_iter().collect(),
        }
    }
}

/// A call of one of the agent's tools, as the model makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The tool's name as the agent declared it in the request's `tools`.
    pub name: String,
    /// The arguments, a JSON object matching the tool's input schema.
    pub input: Value,
}

impl ToolCall {
    /// A call of `name` with `input`.
    pub fn new(name: impl Into<String>, input: Value) -> ToolCall {
        ToolCall {
            name: name.into(),
            input,
        }
    }

    /// A call of OpenClaw's `exec` tool running `command` in a shell, in the turn's workspace.
    pub fn exec(command: impl Into<String>) -> ToolCall {
        ToolCall::new("exec", json!({ "command": command.into() }))
    }
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
    /// Number of conversation messages in a request body, the `N` of [`reply_text`]: the length
    /// of [`Api::conversation`].
    ///
    /// Every user and assistant message counts once, an assistant message that calls tools
    /// included. The results of one round of tool calls count once too, although Anthropic sends
    /// them as one user message and OpenAI as one `tool` message per call, so that both APIs count
    /// the same conversation the same way. System and developer messages are not conversation
    /// (Anthropic has its system prompt in a separate field anyway), and neither is a user message
    /// that holds only OpenClaw's per-turn internal context.
    pub fn message_count(self, body: &Value) -> usize {
        self.conversation(body).len()
    }

    /// Text of the last `user` message that has any text, in a request body.
    ///
    /// Content may be a string or an array of content blocks; the `text` blocks are joined with
    /// newlines and other blocks (images, Anthropic `tool_result`s) are skipped. A user message
    /// without text, such as one carrying only tool results, is passed over so the excerpt stays
    /// the human's prompt (OpenAI's `tool` messages are not user messages to begin with). OpenClaw's
    /// internal context blocks are skipped, and the timestamp envelope it puts before a prompt
    /// (`[Sat 2026-11-21 13:45 UTC] `) is removed.
    pub fn last_user_text(self, body: &Value) -> Option<String> {
        // Both APIs use the same shape for the parts read here.
        body["messages"]
            .as_array()?
            .iter()
            .rev()
            .filter(|m| m["role"] == "user")
            .find_map(|m| content_text(&m["content"]))
    }

    /// The conversation in a request body as `(role, text)` pairs, oldest first, one per message
    /// [`Api::message_count`] counts.
    ///
    /// The text is read like [`Api::last_user_text`] does (an empty string for a message without
    /// text, such as an assistant message that only calls tools). One round of tool results is one
    /// pair in both APIs, with the role `"tool"` and the results' contents joined with newlines (an
    /// Anthropic user message counts as that only if it has no text of its own).
    pub fn conversation(self, body: &Value) -> Vec<(String, String)> {
        let Some(messages) = body["messages"].as_array() else {
            return Vec::new();
        };
        let mut conversation: Vec<(String, String)> = Vec::new();
        for message in messages
            .iter()
            .filter(|m| !matches!(m["role"].as_str(), Some("system" | "developer")))
            .filter(|m| !is_injected_context(m))
        {
            let text = content_text(&message["content"]);
            let results = tool_results_in(message);
            if message["role"] == TOOL_ROLE || (!results.is_empty() && text.is_none()) {
                let contents = results.into_iter().map(|result| result.content);
                match conversation.last_mut() {
                    // OpenAI's next `tool` message of the same round.
                    Some((role, joined)) if role == TOOL_ROLE => {
                        for content in contents {
                            joined.push('\n');
                            joined.push_str(&content);
                        }
                    }
                    _ => conversation.push((
                        TOOL_ROLE.to_owned(),
                        contents.collect::<Vec<_>>().join("\n"),
                    )),
                }
                continue;
            }
            let role = message["role"].as_str().unwrap_or_default().to_owned();
            conversation.push((role, text.unwrap_or_default()));
        }
        conversation
    }

    /// The text a [`Behaviour::Reply`] answer to this request body consists of: [`SUMMARY`] for a
    /// compaction's summary request ([`Api::is_summary_request`]), else [`reply_text`].
    pub fn expected_reply(self, body: &Value) -> String {
        if self.is_summary_request(body) {
            return SUMMARY.to_owned();
        }
        reply_text(
            self.message_count(body),
            &self.last_user_text(body).unwrap_or_default(),
        )
    }

    /// Whether the request asks for a compaction's summary: OpenClaw's summarization system prompt
    /// (Anthropic's `system`, an OpenAI `system` or `developer` message) starts with
    /// [`SUMMARIZATION_PROMPT_START`].
    pub fn is_summary_request(self, body: &Value) -> bool {
        let mut system = text_blocks(&body["system"]);
        if let Some(messages) = body["messages"].as_array() {
            system.extend(
                messages
                    .iter()
                    .filter(|m| matches!(m["role"].as_str(), Some("system" | "developer")))
                    .flat_map(|m| text_blocks(&m["content"])),
            );
        }
        system
            .iter()
            .any(|text| text.starts_with(SUMMARIZATION_PROMPT_START))
    }

    /// The tool calls the assistant messages of a request body made, oldest first, with their ids:
    /// Anthropic `tool_use` blocks, OpenAI `tool_calls` (whose `arguments` string is parsed; one
    /// that is not JSON is kept as a JSON string).
    pub fn tool_calls(self, body: &Value) -> Vec<(String, ToolCall)> {
        let Some(messages) = body["messages"].as_array() else {
            return Vec::new();
        };
        let assistant = messages.iter().filter(|m| m["role"] == "assistant");
        match self {
            Api::AnthropicMessages => assistant
                .filter_map(|m| m["content"].as_array())
                .flatten()
                .filter(|block| block["type"] == "tool_use")
                .map(|block| {
                    let call = ToolCall::new(string_field(block, "name"), block["input"].clone());
                    (string_field(block, "id"), call)
                })
                .collect(),
            Api::OpenAiCompletions => assistant
                .filter_map(|m| m["tool_calls"].as_array())
                .flatten()
                .map(|call| {
                    let function = &call["function"];
                    let arguments = string_field(function, "arguments");
                    let input =
                        serde_json::from_str(&arguments).unwrap_or(Value::String(arguments));
                    let call_id = string_field(call, "id");
                    (
                        call_id,
                        ToolCall::new(string_field(function, "name"), input),
                    )
                })
                .collect(),
        }
    }

    /// The image blocks in a request body's messages, oldest first: Anthropic's
    /// `{"type":"image","source":{"type":"base64","media_type","data"}}` and OpenAI's
    /// `{"type":"image_url","image_url":{"url":"data:<type>;base64,<data>"}}` (both APIs' blocks are
    /// looked for, whichever the request came in on).
    pub fn images(self, body: &Value) -> Vec<ImageBlock> {
        let Some(messages) = body["messages"].as_array() else {
            return Vec::new();
        };
        messages
            .iter()
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .filter_map(image_block)
            .collect()
    }

    /// The tool results in a request body, oldest first: the `tool_result` blocks of Anthropic user
    /// messages, and OpenAI `role: "tool"` messages. A result's name comes from the call with its
    /// id in the same body ([`Api::tool_calls`]), or from the OpenAI message's own `name`.
    pub fn tool_results(self, body: &Value) -> Vec<ToolResult> {
        let Some(messages) = body["messages"].as_array() else {
            return Vec::new();
        };
        let calls = self.tool_calls(body);
        messages
            .iter()
            .flat_map(tool_results_in)
            .map(|mut result| {
                let call = calls.iter().find(|(id, _)| *id == result.id);
                if let Some((_, call)) = call {
                    result.name = Some(call.name.clone());
                }
                result
            })
            .collect()
    }
}

/// An image the agent sent the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBlock {
    /// Its MIME type, e.g. `image/png`.
    pub media_type: String,
    /// Its bytes, base64 as sent.
    pub data: String,
}

impl ImageBlock {
    /// The image's bytes; `None` when `data` is not base64.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.data)
            .ok()
    }
}

/// The image a content block carries, in either API's form.
fn image_block(block: &Value) -> Option<ImageBlock> {
    match block["type"].as_str()? {
        "image" if block["source"]["type"] == "base64" => Some(ImageBlock {
            media_type: block["source"]["media_type"].as_str()?.to_owned(),
            data: block["source"]["data"].as_str()?.to_owned(),
        }),
        "image_url" => {
            let url = block["image_url"]["url"].as_str()?.strip_prefix("data:")?;
            let (media_type, data) = url.split_once(";base64,")?;
            Some(ImageBlock {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            })
        }
        _ => None,
    }
}

/// A tool result the agent sent back in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The id of the call it answers (Anthropic `tool_use_id`, OpenAI `tool_call_id`).
    pub id: String,
    /// The called tool's name, if the request says (see [`Api::tool_results`]).
    pub name: Option<String>,
    /// The result's text: a string, or its text blocks joined with newlines.
    pub content: String,
    /// Anthropic's `is_error`; always `false` on OpenAI, whose tool messages have no such flag.
    pub is_error: bool,
}

/// The role [`Api::conversation`] gives a round of tool results (OpenAI's own name for them).
const TOOL_ROLE: &str = "tool";

/// The tool results one message carries, without names (only the whole request knows those).
fn tool_results_in(message: &Value) -> Vec<ToolResult> {
    let result = |id: String, content: &Value, is_error: bool| ToolResult {
        id,
        name: None,
        content: text_blocks(content).join("\n"),
        is_error,
    };
    if message["role"] == TOOL_ROLE {
        let mut found = result(
            string_field(message, "tool_call_id"),
            &message["content"],
            false,
        );
        found.name = message["name"].as_str().map(str::to_owned);
        return vec![found];
    }
    if message["role"] != "user" {
        return Vec::new();
    }
    message["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| block["type"] == "tool_result")
        .map(|block| {
            result(
                string_field(block, "tool_use_id"),
                &block["content"],
                block["is_error"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// A string field of a JSON object, or an empty string.
fn string_field(object: &Value, field: &str) -> String {
    object[field].as_str().unwrap_or_default().to_owned()
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
    /// When its streamed response handed its last byte to the connection, once it has (benchmarks:
    /// how long the client took from there, per request when several run at once).
    pub response_end: Option<Instant>,
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

    /// The texts of [`RecordedRequest::conversation`] as one text, a line between them: for
    /// asserting what the model was sent, wherever it was.
    pub fn sent_text(&self) -> String {
        self.conversation()
            .into_iter()
            .map(|(_, text)| text)
            .collect::<Vec<_>>()
            .join("\n")
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

    /// See [`Api::is_summary_request`].
    pub fn is_summary_request(&self) -> bool {
        self.api.is_summary_request(&self.body)
    }

    /// See [`Api::tool_calls`].
    pub fn tool_calls(&self) -> Vec<(String, ToolCall)> {
        self.api.tool_calls(&self.body)
    }

    /// See [`Api::tool_results`].
    pub fn tool_results(&self) -> Vec<ToolResult> {
        self.api.tool_results(&self.body)
    }

    /// See [`Api::images`].
    pub fn images(&self) -> Vec<ImageBlock> {
        self.api.images(&self.body)
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
            // A turn's request carries its images and the conversation's earlier ones (base64):
            // far more than axum's default 2 MB.
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
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

    /// Queues the two answers of a turn in which the agent writes `bytes` to `file` in its workspace
    /// (an `exec` call) and attaches it to its reply: `text`, then the `MEDIA:` line naming the file.
    pub fn push_agent_attaches(&self, file: &str, bytes: &[u8], text: &str) {
        self.push_behaviour(Behaviour::tool_calls([ToolCall::exec(format!(
            "echo {} | base64 -d > {file}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ))]));
        self.push_behaviour(Behaviour::Text(format!("{text}\n\nMEDIA:./{file}")));
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
        response_end: None,
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

    let (text, calls) = match plan.behaviour {
        Behaviour::Hang => {
            stopped(app.stop).await;
            return shutting_down(api);
        }
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error_response(api, status, default_error_message(api, status));
        }
        Behaviour::Reply => (api.expected_reply(&body), Vec::new()),
        Behaviour::Text(text) => (text, Vec::new()),
        Behaviour::ToolCalls { text, calls } => (text, calls),
    };
    let reply = Reply::new(api, plan.number, &body, raw.len(), text, calls);
    let streaming = body["stream"].as_bool().unwrap_or(false);
    match (api, streaming) {
        (Api::AnthropicMessages, false) => Json(anthropic_message(&reply)).into_response(),
        (Api::OpenAiCompletions, false) => Json(openai_completion(&reply)).into_response(),
        (Api::AnthropicMessages, true) => event_stream(
            anthropic_events(&reply, plan.chunk_delay),
            app.stop,
            app.shared,
            plan.number,
        ),
        (Api::OpenAiCompletions, true) => {
            let include_usage = body["stream_options"]["include_usage"]
                .as_bool()
                .unwrap_or(false);
            event_stream(
                openai_events(&reply, plan.chunk_delay, include_usage),
                app.stop,
                app.shared,
                plan.number,
            )
        }
    }
}

/// A rough but deterministic token count: about four characters per token, at least one.
fn estimate_tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4).max(1)).unwrap_or(u64::MAX)
}

/// The least number of characters of tool input JSON in one streamed delta.
const MIN_JSON_PIECE_CHARS: usize = 16;

/// How a tool call's input JSON is cut into streamed deltas: pieces of 16 characters, or as many
/// as keep them to 64. Concatenating the pieces gives back `json` exactly.
fn split_json(json: &str) -> Vec<String> {
    let chars: Vec<char> = json.chars().collect();
    let per_piece = chars.len().div_ceil(MAX_CHUNKS).max(MIN_JSON_PIECE_CHARS);
    chars
        .chunks(per_piece)
        .map(|piece| piece.iter().collect())
        .collect()
}

/// Everything needed to write a successful answer in either API.
struct Reply {
    number: usize,
    model: String,
    text: String,
    chunks: Vec<String>,
    tool_calls: Vec<ScriptedCall>,
    input_tokens: u64,
    output_tokens: u64,
}

/// A tool call ready to send: the call with its id and its input as JSON text.
struct ScriptedCall {
    id: String,
    name: String,
    input: Value,
    input_json: String,
}

impl Reply {
    fn new(
        api: Api,
        number: usize,
        body: &Value,
        body_len: usize,
        text: String,
        calls: Vec<ToolCall>,
    ) -> Reply {
        let tool_calls: Vec<ScriptedCall> = calls
            .into_iter()
            .enumerate()
            .map(|(index, call)| ScriptedCall {
                // The request number makes ids unique per server, in the forms OpenClaw takes for
                // native ids of each API (`toolu_[A-Za-z0-9_]+`, `call_[A-Za-z0-9_-]+`). The letters
                // keep them unique when OpenClaw strips the underscores anyway.
                id: match api {
                    Api::AnthropicMessages => format!("toolu_fake_r{number:04}_c{index}"),
                    Api::OpenAiCompletions => format!("call_fake_r{number:04}_c{index}"),
                },
                input_json: call.input.to_string(),
                name: call.name,
                input: call.input,
            })
            .collect();
        let output_chars = text.chars().count()
            + tool_calls
                .iter()
                .map(|call| call.name.chars().count() + call.input_json.chars().count())
                .sum::<usize>();
        Reply {
            number,
            model: body["model"].as_str().unwrap_or("fake-model").to_owned(),
            input_tokens: estimate_tokens(body_len),
            output_tokens: estimate_tokens(output_chars),
            chunks: split_into_chunks(&text),
            text,
            tool_calls,
        }
    }

    fn anthropic_id(&self) -> String {
        format!("msg_fake_{:04}", self.number)
    }

    fn openai_id(&self) -> String {
        format!("chatcmpl-fake-{:04}", self.number)
    }

    /// Whether the answer has a text part: any text, or no tool call (then an empty text).
    fn has_text(&self) -> bool {
        !self.text.is_empty() || self.tool_calls.is_empty()
    }

    fn anthropic_stop_reason(&self) -> &'static str {
        if self.tool_calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        }
    }

    fn openai_finish_reason(&self) -> &'static str {
        if self.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
    }
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn anthropic_message(reply: &Reply) -> Value {
    let text = reply
        .has_text()
        .then(|| json!({"type": "text", "text": reply.text}));
    let tool_uses = reply.tool_calls.iter().map(
        |call| json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}),
    );
    json!({
        "id": reply.anthropic_id(),
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": text.into_iter().chain(tool_uses).collect::<Vec<_>>(),
        "stop_reason": reply.anthropic_stop_reason(),
        "stop_sequence": null,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    })
}

fn openai_completion(reply: &Reply) -> Value {
    let mut message = json!({
        "role": "assistant",
        // The real API sends null rather than "" when the model only calls tools.
        "content": if reply.has_text() { json!(reply.text) } else { Value::Null },
        "refusal": null,
    });
    if !reply.tool_calls.is_empty() {
        message["tool_calls"] = reply
            .tool_calls
            .iter()
            .map(|call| {
                json!({
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.input_json},
                })
            })
            .collect();
    }
    json!({
        "id": reply.openai_id(),
        "object": "chat.completion",
        "created": unix_time(),
        "model": reply.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": reply.openai_finish_reason(),
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

/// The pause before each of `n` deltas of one block: none before the first, `chunk_delay` after.
fn paces(n: usize, chunk_delay: Duration) -> impl Iterator<Item = Duration> {
    (0..n).map(move |i| if i == 0 { Duration::ZERO } else { chunk_delay })
}

/// The Anthropic Messages streaming sequence: a text block (unless the answer is only tool calls),
/// then one `tool_use` block per call whose input arrives as `input_json_delta` pieces, the first
/// one empty as the real API sends it.
fn anthropic_events(reply: &Reply, chunk_delay: Duration) -> Vec<Frame> {
    let now = Duration::ZERO;
    let mut frames = vec![Frame::anthropic(
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
    )];
    // Each block with its deltas: the kind of delta and the field that carries a piece.
    let mut blocks = Vec::new();
    if reply.has_text() {
        let block = json!({"type": "text", "text": ""});
        blocks.push((block, reply.chunks.clone(), "text_delta", "text"));
    }
    blocks.extend(reply.tool_calls.iter().map(|call| {
        let block = json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}});
        let mut pieces = vec![String::new()];
        pieces.extend(split_json(&call.input_json));
        (block, pieces, "input_json_delta", "partial_json")
    }));
    for (index, (block, pieces, kind, field)) in blocks.into_iter().enumerate() {
        frames.push(Frame::anthropic(
            now,
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        if index == 0 {
            // The real API sends a ping after the first block opens.
            frames.push(Frame::anthropic(now, &json!({"type": "ping"})));
        }
        frames.extend(
            paces(pieces.len(), chunk_delay)
                .zip(&pieces)
                .map(|(pause, piece)| {
                    Frame::anthropic(
                        pause,
                        &json!({
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": kind, field: piece},
                        }),
                    )
                }),
        );
        frames.push(Frame::anthropic(
            now,
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    frames.extend([
        Frame::anthropic(
            now,
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": reply.anthropic_stop_reason(), "stop_sequence": null},
                "usage": {"output_tokens": reply.output_tokens},
            }),
        ),
        Frame::anthropic(now, &json!({"type": "message_stop"})),
    ]);
    frames
}

/// The OpenAI chat completions streaming sequence: a role chunk and content chunks (unless the
/// answer is only tool calls), per tool call a chunk opening it with its id and name and chunks of
/// its `arguments`, a finish chunk, a usage chunk if asked for, and `[DONE]`.
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
    let delta_frame = |pause: Duration, delta: Value| {
        Frame::openai(pause, &chunk(choice(delta, Value::Null), Value::Null))
    };

    let mut frames = Vec::new();
    if reply.has_text() {
        frames.push(delta_frame(
            now,
            json!({"role": "assistant", "content": ""}),
        ));
        frames.extend(
            paces(reply.chunks.len(), chunk_delay)
                .zip(&reply.chunks)
                .map(|(pause, text)| delta_frame(pause, json!({"content": text}))),
        );
    }
    for (index, call) in reply.tool_calls.iter().enumerate() {
        let mut opening = json!({"tool_calls": [{
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }]});
        if frames.is_empty() {
            // A reply that is only tool calls opens with the role and a null content.
            opening["role"] = json!("assistant");
            opening["content"] = Value::Null;
        }
        frames.push(delta_frame(now, opening));
        let pieces = split_json(&call.input_json);
        frames.extend(
            paces(pieces.len(), chunk_delay)
                .zip(&pieces)
                .map(|(pause, piece)| {
                    delta_frame(
                        pause,
                        json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                    )
                }),
        );
    }
    frames.push(Frame::openai(
        now,
        &chunk(
            choice(json!({}), json!(reply.openai_finish_reason())),
            Value::Null,
        ),
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
/// last frame was handed on in `shared`, as the last response's end and request `number`'s.
fn event_stream(
    frames: Vec<Frame>,
    stop: watch::Receiver<bool>,
    shared: Arc<Shared>,
    number: usize,
) -> Response {
    // Polled once the connection took the last frame; yields nothing itself.
    let ended = futures::stream::once(async move {
        let now = Instant::now();
        let mut state = shared.state();
        state.last_response_end = Some(now);
        if let Some(request) = state.requests.get_mut(number - 1) {
            request.response_end = Some(now);
        }
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
    fn tool_input_json_is_cut_into_at_most_64_pieces_on_character_boundaries() {
        let short = json!({"command": "echo é"}).to_string();
        let pieces = split_json(&short);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].chars().count(), MIN_JSON_PIECE_CHARS);
        assert_eq!(pieces.concat(), short);

        let long = json!({"content": "é".repeat(5000)}).to_string();
        let pieces = split_json(&long);
        assert_eq!(pieces.len(), MAX_CHUNKS);
        assert_eq!(pieces.concat(), long);
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
    fn image_blocks_are_read_in_either_api_s_form() {
        let body = json!({"messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGk="}},
            ]},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,eW8="}},
                {"type": "image_url", "image_url": {"url": "https://example.invalid/x.png"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.invalid/y.png"}},
            ]},
            {"role": "assistant", "content": "no images here"},
        ]});
        let images = Api::AnthropicMessages.images(&body);
        assert_eq!(
            images
                .iter()
                .map(|i| (i.media_type.as_str(), i.bytes().unwrap()))
                .collect::<Vec<_>>(),
            [
                ("image/png", b"hi".to_vec()),
                ("image/jpeg", b"yo".to_vec())
            ]
        );
        assert_eq!(Api::OpenAiCompletions.images(&json!({})), []);
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
            response_end: None,
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
