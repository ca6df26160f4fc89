//! The wire protocol of `docs/protocol.md`: WebSocket frames both ways, error codes and REST bodies.
//! The web UI, local mode and AWS all speak exactly these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::attachments::{Attachment, AttachmentKind, MAX_ATTACHMENTS_PER_MESSAGE, PendingUpload};
use crate::domain::{
    Conversation, ConversationSettingsUpdate, MAX_MESSAGE_BYTES, Message, Role, ThinkingLevel,
    ToolActivity, TurnActivity, Usage, format_time,
};
use crate::ids::{AttachmentId, ClientMessageId, ConversationId, MessageId, is_valid_id};
use crate::ports::DownloadLink;
use crate::search::SnippetPart;
use crate::settings::{
    InvalidSettings, ModelSettings, Provider, SpeechSettings, validate_model_id,
};

/// The largest WebSocket text frame accepted, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Machine-readable error codes shared by WebSocket frames and REST answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    TooLarge,
    InvalidId,
    NoProvider,
    LlmError,
    AgentCrashed,
    Timeout,
    Cancelled,
    Conflict,
    NotFound,
    LimitReached,
    UnsupportedType,
    CorruptFile,
    QuotaExceeded,
    /// A voice note or audio file could not be transcribed (the speech-to-text endpoint failed).
    TranscriptionFailed,
    /// An uploaded skill breaks a rule (the message names the rule and the entry).
    InvalidSkill,
    Internal,
}

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    SendMessage {
        conversation_id: ConversationId,
        message: String,
        client_message_id: ClientMessageId,
        /// Uploaded attachments that go with the message.
        attachments: Vec<AttachmentId>,
    },
    Cancel {
        conversation_id: ConversationId,
    },
    /// Answer the last user message again: `message_id` is the conversation's last reply, which
    /// becomes an earlier version.
    Regenerate {
        conversation_id: ConversationId,
        message_id: MessageId,
        client_message_id: ClientMessageId,
    },
    /// Replace the last user message `message_id` (and its reply) by `message`, and answer it.
    EditMessage {
        conversation_id: ConversationId,
        message_id: MessageId,
        message: String,
        client_message_id: ClientMessageId,
    },
    Ping,
}

/// Why a client frame was refused, ready to be sent back as an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    /// Echoed only when the client sent a valid one, so the client can tie the error to its message.
    pub client_message_id: Option<String>,
    pub conversation_id: Option<String>,
}

impl FrameError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            client_message_id: None,
            conversation_id: None,
        }
    }

    /// The `error` frame that answers this refusal.
    pub fn into_frame(self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code,
            message: self.message,
            client_message_id: self.client_message_id,
            conversation_id: self.conversation_id,
        }
    }
}

/// Parses and validates a client text frame: shape, action, ids and message size.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!("frame is larger than {} KiB", MAX_FRAME_BYTES / 1024),
        ));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        FrameError::new(
            ErrorCode::BadRequest,
            format!("frame is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(fields) = value else {
        return Err(FrameError::new(
            ErrorCode::BadRequest,
            "frame must be a JSON object",
        ));
    };
    let action = fields
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            FrameError::new(
                ErrorCode::BadRequest,
                "frame needs a string field \"action\"",
            )
        })?;
    // Echo ids back only when they are valid: an invalid id is never reflected to the client.
    let echo = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| is_valid_id(s))
            .map(str::to_owned)
    };
    let with_ids = |mut e: FrameError| {
        e.client_message_id = echo("clientMessageId");
        e.conversation_id = echo("conversationId");
        e
    };
    let conversation_id = || match fields.get("conversationId") {
        None | Some(Value::Null) => Ok(ConversationId::default_conversation()),
        Some(Value::String(s)) => ConversationId::parse(s.as_str())
            .map_err(|e| with_ids(FrameError::new(ErrorCode::InvalidId, e.to_string()))),
        Some(_) => Err(with_ids(FrameError::new(
            ErrorCode::BadRequest,
            "\"conversationId\" must be a string",
        ))),
    };
    let client_message_id = |action: &str| match fields.get("clientMessageId") {
        Some(Value::String(s)) => ClientMessageId::parse(s.as_str())
            .map_err(|e| with_ids(FrameError::new(ErrorCode::InvalidId, e.to_string()))),
        _ => Err(with_ids(FrameError::new(
            ErrorCode::BadRequest,
            format!("{action} needs a string field \"clientMessageId\""),
        ))),
    };
    let message_id = |action: &str| match fields.get("messageId") {
        Some(Value::String(s)) => MessageId::parse(s.as_str())
            .map_err(|e| with_ids(FrameError::new(ErrorCode::InvalidId, e.to_string()))),
        _ => Err(with_ids(FrameError::new(
            ErrorCode::BadRequest,
            format!("{action} needs a string field \"messageId\""),
        ))),
    };
    let text = |action: &str| match fields.get("message") {
        Some(Value::String(message)) => Ok(message),
        _ => Err(with_ids(FrameError::new(
            ErrorCode::BadRequest,
            format!("{action} needs a string field \"message\""),
        ))),
    };
    match action {
        "ping" => Ok(ClientFrame::Ping),
        "cancel" => Ok(ClientFrame::Cancel {
            conversation_id: conversation_id()?,
        }),
        "sendMessage" => {
            let conversation_id = conversation_id()?;
            let client_message_id = client_message_id(action)?;
            let message = text(action)?;
            // The message's size is judged first, as the frame's was: a too large frame is
            // `too_large` whatever else is wrong with it.
            check_message_size(message).map_err(with_ids)?;
            let attachments = attachment_ids(fields.get("attachments")).map_err(with_ids)?;
            validate_message(message, !attachments.is_empty()).map_err(with_ids)?;
            Ok(ClientFrame::SendMessage {
                conversation_id,
                message: message.clone(),
                client_message_id,
                attachments,
            })
        }
        "regenerate" => Ok(ClientFrame::Regenerate {
            conversation_id: conversation_id()?,
            message_id: message_id(action)?,
            client_message_id: client_message_id(action)?,
        }),
        "editMessage" => {
            let conversation_id = conversation_id()?;
            let message_id = message_id(action)?;
            let client_message_id = client_message_id(action)?;
            let message = text(action)?;
            validate_message(message, false).map_err(with_ids)?;
            Ok(ClientFrame::EditMessage {
                conversation_id,
                message_id,
                message: message.clone(),
                client_message_id,
            })
        }
        other => Err(with_ids(FrameError::new(
            ErrorCode::BadRequest,
            format!(
                "unknown action {other:?}; expected sendMessage, regenerate, editMessage, cancel or ping"
            ),
        ))),
    }
}

/// The `attachments` of a `sendMessage`: absent, or an array of at most
/// [`MAX_ATTACHMENTS_PER_MESSAGE`] attachment ids.
fn attachment_ids(value: Option<&Value>) -> Result<Vec<AttachmentId>, FrameError> {
    let ids = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(ids)) => ids,
        Some(_) => {
            return Err(FrameError::new(
                ErrorCode::BadRequest,
                "\"attachments\" must be an array of attachment ids",
            ));
        }
    };
    if ids.len() > MAX_ATTACHMENTS_PER_MESSAGE {
        return Err(FrameError::new(
            ErrorCode::BadRequest,
            format!("a message may carry at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments"),
        ));
    }
    ids.iter()
        .map(|id| match id {
            Value::String(id) => AttachmentId::parse(id.as_str())
                .map_err(|e| FrameError::new(ErrorCode::InvalidId, e.to_string())),
            _ => Err(FrameError::new(
                ErrorCode::BadRequest,
                "\"attachments\" must be an array of attachment ids",
            )),
        })
        .collect()
}

/// Checks a message's size and that it is not blank (it may be, when it carries attachments).
pub fn validate_message(message: &str, with_attachments: bool) -> Result<(), FrameError> {
    check_message_size(message)?;
    if message.trim().is_empty() && !with_attachments {
        return Err(FrameError::new(ErrorCode::BadRequest, "message is empty"));
    }
    Ok(())
}

fn check_message_size(message: &str) -> Result<(), FrameError> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!(
                "message is {} bytes; the limit is {} KiB",
                message.len(),
                MAX_MESSAGE_BYTES / 1024
            ),
        ));
    }
    Ok(())
}

/// Where a turn is, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    Queued,
    Starting,
    Running,
    Idle,
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ServerFrame {
    Ack {
        client_message_id: ClientMessageId,
        conversation_id: ConversationId,
        message_id: MessageId,
    },
    Status {
        conversation_id: ConversationId,
        status: TurnStatus,
    },
    Delta {
        conversation_id: ConversationId,
        message_id: MessageId,
        text: String,
        /// Rare: OpenClaw rewrote earlier text, and `text` is the whole reply so far.
        #[serde(default, skip_serializing_if = "is_false")]
        replace: bool,
    },
    /// A tool call of the running turn started or ended; `message_id` is the reply's, as on deltas.
    Activity {
        conversation_id: ConversationId,
        message_id: MessageId,
        #[serde(flatten)]
        tool: ToolActivity,
    },
    Message {
        conversation_id: ConversationId,
        message_id: MessageId,
        role: Role,
        content: String,
        usage: Usage,
        cost_usd: Option<f64>,
        duration_ms: u64,
        /// The turn's tool calls, when it made any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activity: Option<TurnActivity>,
        /// The files the agent attached to its reply, when it attached any.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<AttachmentView>,
    },
    /// What was said in an audio attachment of the user's message `message_id`, transcribed before
    /// the agent runs (the transcript is its prompt); stored with the attachment.
    Transcript {
        conversation_id: ConversationId,
        message_id: MessageId,
        attachment_id: AttachmentId,
        text: String,
    },
    /// The answer to a chat command (`/model`, `/status`, ...), sent only to the connection that sent
    /// it and not stored. `new_conversation_id`: `/new` made a conversation to switch to.
    Notice {
        conversation_id: ConversationId,
        client_message_id: ClientMessageId,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_conversation_id: Option<ConversationId>,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_message_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<String>,
    },
    Pong,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ServerFrame {
    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail: no maps with non-string keys, no custom impls.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"type\":\"error\"}"))
    }
}

/// REST error body: `{"code","message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// An entry of `GET /api/conversations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub title: String,
    pub updated_at: String,
    pub message_count: u64,
}

impl From<&Conversation> for ConversationSummary {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id.clone(),
            title: c.title.clone(),
            updated_at: format_time(c.updated_at),
            message_count: c.message_count,
        }
    }
}

/// Body of `GET /api/conversations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationList {
    pub conversations: Vec<ConversationSummary>,
}

/// An entry of `GET /api/conversations/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: MessageId,
    pub role: Role,
    pub content: String,
    pub created_at: String,
    pub channel: crate::domain::Channel,
    /// Assistant messages: the turn's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Assistant messages: the turn's cost, when the provider reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Assistant messages whose turn called tools: what the agent did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<TurnActivity>,
    /// User messages: the attachments that went with it, in the order stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentView>,
}

/// An attachment as the API shows it (`docs/protocol.md`, "Attachments").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    pub id: AttachmentId,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub kind: AttachmentKind,
    pub created_at: String,
    /// What was said in it (audio, once transcribed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
}

/// `POST .../attachments/uploads`: what the client is about to send.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    pub name: String,
    pub size: u64,
    #[serde(default)]
    pub content_type: String,
}

/// `POST .../attachments/uploads/{uploadId}/complete`: the name and type the bytes are checked
/// against (as declared when the upload began).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompleteUploadRequest {
    pub name: String,
    #[serde(default)]
    pub content_type: String,
}

/// An upload begun: its id and where to send the bytes (`docs/protocol.md`, "Attachments").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadView {
    pub upload_id: AttachmentId,
    pub target: UploadTargetView,
}

/// Where and how to send an upload's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTargetView {
    pub method: String,
    pub url: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: String,
}

impl From<&PendingUpload> for UploadView {
    fn from(p: &PendingUpload) -> Self {
        Self {
            upload_id: p.id.clone(),
            target: UploadTargetView {
                method: p.target.method.clone(),
                url: p.target.url.clone(),
                headers: p.target.headers.iter().cloned().collect(),
                expires_at: format_time(p.target.expires_at),
            },
        }
    }
}

/// A link that reads an attachment's bytes without the API (`docs/protocol.md`, "Attachments").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadLinkView {
    pub url: String,
    pub expires_at: String,
}

impl From<&DownloadLink> for DownloadLinkView {
    fn from(link: &DownloadLink) -> Self {
        Self {
            url: link.url.clone(),
            expires_at: format_time(link.expires_at),
        }
    }
}

impl From<&Attachment> for AttachmentView {
    fn from(a: &Attachment) -> Self {
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            media_type: a.media_type.clone(),
            size: a.size,
            kind: a.kind,
            created_at: format_time(a.created_at),
            transcript: a.transcript.clone(),
        }
    }
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.clone(),
            role: m.role,
            content: m.content.clone(),
            created_at: format_time(m.created_at),
            channel: m.channel,
            usage: m.usage,
            cost_usd: m.cost_usd,
            activity: m.activity.clone(),
            attachments: Vec::new(),
        }
    }
}

/// Body of `GET /api/conversations/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageList {
    pub messages: Vec<MessageView>,
    /// On the newest page: the versions of the last exchange (edited or regenerated), oldest first,
    /// the current one (the last of `messages`) last; absent when it has only one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<ExchangeVersionView>,
}

/// One version of the last exchange: the user message and the reply to it, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeVersionView {
    pub user: MessageView,
    pub reply: Option<MessageView>,
}

/// A hit of `GET /api/search`: one message and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub conversation_id: ConversationId,
    /// The conversation's title.
    pub title: String,
    pub message_id: MessageId,
    pub role: Role,
    /// The message around its first match; the parts joined are the snippet's text.
    pub snippet: Vec<SnippetPart>,
    pub created_at: String,
}

/// Body of `GET /api/search`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
}

/// Body of `POST /api/conversations` (request, optional) and its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewConversation {
    #[serde(default)]
    pub title: Option<String>,
}

/// Answer of `POST /api/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedConversation {
    pub id: ConversationId,
}

/// Answer of `POST /api/telegram/link-code`: a one-time code to send the bot as `/link CODE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelegramLinkCode {
    pub code: String,
    pub expires_at: String,
}

/// Body of `PATCH /api/conversations/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameConversation {
    pub title: String,
}

/// Answer of `GET` and `PUT /api/settings`. API keys show only whether one is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// The user's choice; `None`: the deployment's default.
    pub model: Option<ModelSettings>,
    /// The user's speech-to-text choice; `None`: OpenAI if they stored an OpenAI key, else Groq if
    /// they stored a Groq key.
    pub speech: Option<SpeechSettings>,
    /// The deployment's default, `provider/model`, if one is configured.
    pub default_model: Option<String>,
    /// For every provider that takes a key: whether the user stored one.
    pub api_keys: BTreeMap<Provider, bool>,
    pub telegram: TelegramLinks,
    /// Whether the user's turns may use the agent's browser.
    pub browser: bool,
}

/// A skill as `GET /api/skills` lists it (`docs/protocol.md`, "Skills").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillView {
    pub name: String,
    /// From its `SKILL.md`; `null` for a folder without a readable one.
    pub description: Option<String>,
    pub enabled: bool,
    /// Whether `/skill <name>` may invoke it.
    pub user_invocable: bool,
    pub files: usize,
    pub bytes: usize,
}

impl From<&crate::skills::SkillSummary> for SkillView {
    fn from(skill: &crate::skills::SkillSummary) -> Self {
        Self {
            name: skill.name.clone(),
            description: skill.meta.as_ref().map(|m| m.description.clone()),
            enabled: skill.enabled,
            user_invocable: skill.meta.as_ref().is_some_and(|m| m.user_invocable),
            files: skill.files,
            bytes: skill.bytes,
        }
    }
}

/// Answer of `GET /api/skills`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillList {
    pub skills: Vec<SkillView>,
}

/// A file of a skill in `GET /api/skills/{name}`: its path in the skill's folder and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillFileView {
    pub path: String,
    pub bytes: usize,
}

/// Answer of `GET /api/skills/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillDetailView {
    #[serde(flatten)]
    pub skill: SkillView,
    pub skill_md: String,
    pub file_list: Vec<SkillFileView>,
}

/// Body of `PATCH /api/skills/{name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillChange {
    pub enabled: bool,
}

/// The Telegram accounts linked to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TelegramLinks {
    pub linked: Vec<i64>,
}

/// Body of `PUT /api/settings`: an absent field is left unchanged; `"model": null` goes back to the
/// default (`"speech": null` likewise); an API key `null` removes the stored key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsUpdate {
    #[serde(default, deserialize_with = "present")]
    pub model: Option<Option<ModelSettings>>,
    #[serde(default, deserialize_with = "present")]
    pub speech: Option<Option<SpeechSettings>>,
    #[serde(default)]
    pub api_keys: BTreeMap<String, Option<String>>,
    /// Turns the agent's browser on or off for the user's turns.
    #[serde(default)]
    pub browser: Option<bool>,
}

/// The largest `PUT /api/conversations/{id}/settings` body: two short fields.
pub const MAX_CONVERSATION_SETTINGS_BYTES: usize = 1024;

/// Where the model a conversation's turns run with comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ModelSource {
    /// The conversation's own (`/model <id>`, the chat header's picker).
    Conversation,
    /// The user's settings.
    Settings,
    /// The deployment's default.
    Deployment,
    /// No model is configured anywhere: turns fail until one is.
    Unconfigured,
}

/// One model a conversation may choose, as `/model list` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelChoice {
    pub id: String,
    /// The model the conversation runs without its own (the user's settings, else the deployment's).
    pub default: bool,
}

/// Answer of `GET` and `PUT /api/conversations/{id}/settings`: a conversation's own model and thinking
/// level, what its next turn runs with, and the choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSettingsView {
    /// The conversation's own model id; `None`: the default.
    pub model: Option<String>,
    /// The conversation's own thinking level; `None`: the model's default.
    pub thinking: Option<ThinkingLevel>,
    /// `provider/model` the next turn runs with (just the id when the provider is unknown); `None`
    /// when no model is configured.
    pub effective_model: Option<String>,
    pub model_source: ModelSource,
    /// The model id the conversation runs without its own.
    pub default_model: Option<String>,
    /// The models `/model list` offers.
    pub models: Vec<ModelChoice>,
    pub thinking_levels: Vec<ThinkingLevel>,
}

/// Body of `PUT /api/conversations/{id}/settings`: an absent field is left unchanged; `null` goes back
/// to the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationSettingsChange {
    #[serde(default, deserialize_with = "present")]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub thinking: Option<Option<ThinkingLevel>>,
}

impl ConversationSettingsChange {
    /// Reads a request body: a JSON object of these fields (serde would also take them positionally
    /// from an array), checked as [`Self::validated`] checks them.
    pub fn parse(body: &[u8]) -> Result<ConversationSettingsUpdate, InvalidSettings> {
        let invalid = |e: serde_json::Error| InvalidSettings(format!("invalid body: {e}"));
        let value: Value = serde_json::from_slice(body).map_err(invalid)?;
        if !value.is_object() {
            return Err(InvalidSettings(
                "the body must be a JSON object such as {\"model\":\"<id>\",\"thinking\":\"high\"}"
                    .into(),
            ));
        }
        serde_json::from_value::<Self>(value)
            .map_err(invalid)?
            .validated()
    }

    /// The store's update, with the model id checked as `/model <id>` checks it.
    fn validated(self) -> Result<ConversationSettingsUpdate, InvalidSettings> {
        let model = self
            .model
            .map(|m| m.as_deref().map(validate_model_id).transpose())
            .transpose()?;
        Ok(ConversationSettingsUpdate {
            model,
            thinking: self.thinking,
            fresh_session: None,
        })
    }
}

/// Tells an explicit `null` (`Some(None)`) from an absent field (`None`, via `default`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ToolStatus;
    use crate::settings::SpeechProvider;
    use serde_json::json;

    fn code_of(text: &str) -> ErrorCode {
        parse_client_frame(text).unwrap_err().code
    }

    #[test]
    fn a_conversation_settings_change_tells_null_from_absent_and_checks_the_model() {
        let change =
            |body: &str| ConversationSettingsChange::parse(body.as_bytes()).map_err(|e| e.0);
        assert_eq!(change("{}").unwrap(), ConversationSettingsUpdate::default());
        assert_eq!(
            change(r#"{"model":" fake-b ","thinking":"high"}"#).unwrap(),
            ConversationSettingsUpdate {
                model: Some(Some("fake-b".into())),
                thinking: Some(Some(ThinkingLevel::High)),
                fresh_session: None,
            }
        );
        assert_eq!(
            change(r#"{"model":null,"thinking":null}"#).unwrap(),
            ConversationSettingsUpdate {
                model: Some(None),
                thinking: Some(None),
                fresh_session: None,
            }
        );
        assert!(
            change(r#"{"model":"no spaces"}"#)
                .unwrap_err()
                .contains("model must be")
        );
        assert!(change(r#"{"model":""}"#).is_err());
        assert!(
            change(r#"{"thinking":"hard"}"#)
                .unwrap_err()
                .contains("unknown variant")
        );
        assert!(
            change(r#"{"freshSession":true}"#)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(change(r#"{"model":7}"#).is_err());
        assert!(change(r#"["fake-b"]"#).unwrap_err().contains("JSON object"));
        assert!(change("null").unwrap_err().contains("JSON object"));
        assert!(change("{").unwrap_err().starts_with("invalid body"));
    }

    #[test]
    fn the_conversation_settings_view_is_camel_case_with_lower_case_levels() {
        let view = ConversationSettingsView {
            model: Some("fake-b".into()),
            thinking: Some(ThinkingLevel::Low),
            effective_model: Some("anthropic/fake-b".into()),
            model_source: ModelSource::Conversation,
            default_model: Some("fake-model".into()),
            models: vec![ModelChoice {
                id: "fake-model".into(),
                default: true,
            }],
            thinking_levels: ThinkingLevel::ALL.to_vec(),
        };
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({
                "model": "fake-b", "thinking": "low", "effectiveModel": "anthropic/fake-b",
                "modelSource": "conversation", "defaultModel": "fake-model",
                "models": [{"id": "fake-model", "default": true}],
                "thinkingLevels": ["off", "minimal", "low", "medium", "high"],
            })
        );
        assert_eq!(
            serde_json::to_value(ModelSource::Unconfigured).unwrap(),
            "unconfigured"
        );
    }

    #[test]
    fn a_settings_update_tells_null_from_absent() {
        let absent: SettingsUpdate = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.model, None);
        let null: SettingsUpdate = serde_json::from_str(r#"{"model":null}"#).unwrap();
        assert_eq!(null.model, Some(None));
        let set: SettingsUpdate = serde_json::from_str(
            r#"{"model":{"provider":"openai","model":"gpt-5.5"},"apiKeys":{"openai":"sk","anthropic":null}}"#,
        )
        .unwrap();
        assert_eq!(set.model.unwrap().unwrap().provider, Provider::OpenAi);
        assert_eq!(set.api_keys["openai"].as_deref(), Some("sk"));
        assert_eq!(set.api_keys["anthropic"], None);
        assert!(serde_json::from_str::<SettingsUpdate>(r#"{"theme":"dark"}"#).is_err());
        assert_eq!(absent.speech, None);
        let speech: SettingsUpdate = serde_json::from_str(
            r#"{"speech":{"provider":"openai-compatible","baseUrl":"http://h/v1","model":"w"}}"#,
        )
        .unwrap();
        let speech = speech.speech.unwrap().unwrap();
        assert_eq!(
            (speech.provider, speech.model(), speech.base_url()),
            (SpeechProvider::OpenAiCompatible, "w", "http://h/v1")
        );
        let off: SettingsUpdate = serde_json::from_str(r#"{"speech":null}"#).unwrap();
        assert_eq!(off.speech, Some(None));
        let browser: SettingsUpdate = serde_json::from_str(r#"{"browser":false}"#).unwrap();
        assert_eq!(browser.browser, Some(false));
        assert_eq!(off.browser, None, "absent: unchanged");
        assert!(serde_json::from_str::<SettingsUpdate>(r#"{"browser":"off"}"#).is_err());
    }

    #[test]
    fn the_settings_view_names_providers_as_on_the_wire() {
        let view = SettingsView {
            model: None,
            speech: Some(SpeechSettings {
                provider: SpeechProvider::Groq,
                model: None,
                base_url: None,
            }),
            default_model: Some("custom/m".into()),
            api_keys: [(Provider::OpenAiCompatible, true)].into(),
            telegram: TelegramLinks { linked: vec![42] },
            browser: false,
        };
        assert_eq!(
            serde_json::to_value(view).unwrap(),
            json!({"model": null, "speech": {"provider": "groq"}, "defaultModel": "custom/m",
                   "apiKeys": {"openai-compatible": true}, "telegram": {"linked": [42]},
                   "browser": false})
        );
    }

    #[test]
    fn send_message_parses_with_the_default_conversation() {
        let frame =
            parse_client_frame(r#"{"action":"sendMessage","message":"hi","clientMessageId":"c1"}"#)
                .unwrap();
        assert_eq!(
            frame,
            ClientFrame::SendMessage {
                conversation_id: ConversationId::parse("default").unwrap(),
                message: "hi".into(),
                client_message_id: ClientMessageId::parse("c1").unwrap(),
                attachments: Vec::new(),
            }
        );
    }

    #[test]
    fn send_message_may_carry_attachments_and_then_be_blank() {
        let frame = parse_client_frame(
            r#"{"action":"sendMessage","message":" ","clientMessageId":"c1","attachments":["a1","a2"]}"#,
        )
        .unwrap();
        let ClientFrame::SendMessage { attachments, .. } = frame else {
            panic!("{frame:?}");
        };
        assert_eq!(
            attachments,
            [
                AttachmentId::parse("a1").unwrap(),
                AttachmentId::parse("a2").unwrap()
            ]
        );
        let send = |attachments: &str| {
            format!(
                r#"{{"action":"sendMessage","message":"","clientMessageId":"c1","attachments":{attachments}}}"#
            )
        };
        assert_eq!(code_of(&send("[]")), ErrorCode::BadRequest);
        assert_eq!(code_of(&send(r#""a1""#)), ErrorCode::BadRequest);
        assert_eq!(code_of(&send("[7]")), ErrorCode::BadRequest);
        assert_eq!(code_of(&send(r#"["../x"]"#)), ErrorCode::InvalidId);
        let eleven = format!("[{}]", [r#""a""#; 11].join(","));
        assert_eq!(code_of(&send(&eleven)), ErrorCode::BadRequest);
    }

    #[test]
    fn ping_and_cancel_parse() {
        assert_eq!(
            parse_client_frame(r#"{"action":"ping"}"#).unwrap(),
            ClientFrame::Ping
        );
        assert_eq!(
            parse_client_frame(r#"{"action":"cancel","conversationId":"c-2"}"#).unwrap(),
            ClientFrame::Cancel {
                conversation_id: ConversationId::parse("c-2").unwrap()
            }
        );
    }

    #[test]
    fn malformed_frames_are_bad_requests() {
        assert_eq!(code_of("{not json"), ErrorCode::BadRequest);
        assert_eq!(code_of("[1,2]"), ErrorCode::BadRequest);
        assert_eq!(code_of(r#"{"action":"dance"}"#), ErrorCode::BadRequest);
        assert_eq!(
            code_of(r#"{"action":"sendMessage","message":"x"}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r#"{"action":"sendMessage","clientMessageId":"a","message":"   "}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(
            code_of(r#"{"action":"sendMessage","clientMessageId":"a","message":7}"#),
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn path_like_ids_are_invalid_and_not_echoed() {
        let err = parse_client_frame(
            r#"{"action":"sendMessage","conversationId":"../etc","message":"x","clientMessageId":"ok"}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidId);
        assert_eq!(err.conversation_id, None);
        assert_eq!(err.client_message_id.as_deref(), Some("ok"));
    }

    #[test]
    fn oversized_messages_and_frames_are_too_large() {
        let big = "a".repeat(40 * 1024);
        let frame = json!({"action":"sendMessage","message":big,"clientMessageId":"c"}).to_string();
        assert_eq!(code_of(&frame), ErrorCode::TooLarge);
        let exactly = "a".repeat(MAX_MESSAGE_BYTES);
        let frame =
            json!({"action":"sendMessage","message":exactly,"clientMessageId":"c"}).to_string();
        assert!(parse_client_frame(&frame).is_ok());
        assert_eq!(
            code_of(&" ".repeat(MAX_FRAME_BYTES + 1)),
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn server_frames_serialize_as_documented() {
        let conv = ConversationId::parse("default").unwrap();
        let id = MessageId::parse("m1").unwrap();
        let frame = ServerFrame::Message {
            conversation_id: conv.clone(),
            message_id: id.clone(),
            role: Role::Assistant,
            content: "hello".into(),
            usage: Usage {
                input_tokens: 3,
                output_tokens: 4,
            },
            cost_usd: None,
            duration_ms: 12,
            activity: None,
            attachments: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&frame).unwrap(),
            json!({"type":"message","conversationId":"default","messageId":"m1","role":"assistant",
                   "content":"hello","usage":{"inputTokens":3,"outputTokens":4},"costUsd":null,"durationMs":12})
        );
        let ended = ToolActivity {
            tool_id: "toolu_1".into(),
            name: "exec".into(),
            summary: "ls -la".into(),
            status: ToolStatus::Ok,
            duration_ms: Some(212),
        };
        let activity = ServerFrame::Activity {
            conversation_id: conv.clone(),
            message_id: id.clone(),
            tool: ended.clone(),
        };
        let wire = json!({"type":"activity","conversationId":"default","messageId":"m1","toolId":"toolu_1",
                          "name":"exec","summary":"ls -la","status":"ok","durationMs":212});
        assert_eq!(serde_json::to_value(&activity).unwrap(), wire);
        assert_eq!(
            serde_json::from_value::<ServerFrame>(wire).unwrap(),
            activity
        );
        let started = ServerFrame::Activity {
            conversation_id: conv.clone(),
            message_id: id.clone(),
            tool: ToolActivity {
                status: ToolStatus::Running,
                duration_ms: None,
                ..ended.clone()
            },
        };
        assert_eq!(
            started.to_json(),
            r#"{"type":"activity","conversationId":"default","messageId":"m1","toolId":"toolu_1","name":"exec","summary":"ls -la","status":"running"}"#
        );
        let worked = ServerFrame::Message {
            conversation_id: conv.clone(),
            message_id: id.clone(),
            role: Role::Assistant,
            content: "done".into(),
            usage: Usage::default(),
            cost_usd: Some(0.0),
            duration_ms: 3400,
            activity: Some(TurnActivity {
                worked_ms: 3400,
                tool_count: 1,
                tools: vec![ended],
            }),
            attachments: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&worked).unwrap()["activity"],
            json!({"workedMs":3400,"toolCount":1,"tools":[{"toolId":"toolu_1","name":"exec","summary":"ls -la","status":"ok","durationMs":212}]})
        );
        let status = ServerFrame::Status {
            conversation_id: conv,
            status: TurnStatus::Queued,
        };
        assert_eq!(
            status.to_json(),
            r#"{"type":"status","conversationId":"default","status":"queued"}"#
        );
        assert_eq!(ServerFrame::Pong.to_json(), r#"{"type":"pong"}"#);
        let error = FrameError::new(ErrorCode::LlmError, "down").into_frame();
        assert_eq!(
            error.to_json(),
            r#"{"type":"error","code":"llm_error","message":"down"}"#
        );
    }

    #[test]
    fn server_frames_round_trip() {
        let frame = ServerFrame::Delta {
            conversation_id: ConversationId::parse("c").unwrap(),
            message_id: MessageId::generate(),
            text: "chunk".into(),
            replace: false,
        };
        assert!(!frame.to_json().contains("replace"));
        let back: ServerFrame = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(back, frame);
    }
}
