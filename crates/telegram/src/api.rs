//! A small client of the Telegram Bot API: the methods the bot uses, JSON in and out (files out as
//! `multipart/form-data`), `429`s retried after Telegram's `retry_after`, and the download of a
//! file `getFile` prepared. The base URL is configurable (`SERVERLESS_OPENCLAW_TELEGRAM_API_URL`)
//! so tests point it at the fake in `testkit`.
//!
//! The bot token is part of every request URL; errors are built without the URL, so it never reaches a
//! log line.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use serverless_openclaw_core::commands::CommandInfo;

use crate::buttons::Keyboard;
use crate::update::Update;

/// Telegram's own API.
pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";

/// How often a `429` is waited out before the call gives up.
const RATE_LIMIT_RETRIES: u32 = 3;
/// The longest `retry_after` waited out; a longer one fails the call at once.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The update kinds the bot reads: messages and presses of its inline buttons.
pub const ALLOWED_UPDATES: [&str; 2] = ["message", "callback_query"];
/// The deadline of a call that is not a long poll.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Telegram answered `ok: false`.
    #[error("Telegram refused {method}: {code} {description}")]
    Refused {
        method: &'static str,
        code: u16,
        description: String,
        retry_after: Option<u64>,
    },
    /// No usable answer (network, timeout, a body that is not the Bot API's).
    #[error("calling Telegram's {method} failed: {source}")]
    Transport {
        method: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// A download was larger than the caller takes; it was stopped there.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
}

impl ApiError {
    /// The text had entities Telegram could not parse (send it again as plain text).
    pub fn is_entity_error(&self) -> bool {
        matches!(self, ApiError::Refused { code: 400, description, .. } if description.contains("can't parse entities"))
    }

    /// An edit that would not change the message.
    pub fn is_not_modified(&self) -> bool {
        matches!(self, ApiError::Refused { code: 400, description, .. } if description.contains("message is not modified"))
    }

    /// The token is wrong or revoked.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Refused { code: 401, .. })
    }

    /// Another consumer holds the updates (a webhook is set, or a second poller runs).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ApiError::Refused { code: 409, .. })
    }

    /// A file too large for Telegram to hand to a bot (`getFile` above 20 MB), or for the caller.
    pub fn is_file_too_big(&self) -> bool {
        match self {
            ApiError::TooLarge { .. } => true,
            ApiError::Refused { description, .. } => description.contains("file is too big"),
            ApiError::Transport { .. } => false,
        }
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    ok: bool,
    result: Option<T>,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

#[derive(Deserialize)]
struct SentMessage {
    message_id: i64,
}

/// A file as `getFile` prepares it for download.
#[derive(Debug, Clone, Deserialize)]
pub struct TelegramFile {
    /// Where [`BotApi::download`] finds it; `None` when Telegram cannot hand it out.
    pub file_path: Option<String>,
    pub file_size: Option<u64>,
}

/// How a file is sent to a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// `sendPhoto`: shown inline, compressed by Telegram; at most [`MAX_PHOTO_UPLOAD_BYTES`].
    Photo,
    /// `sendDocument`: the file as it is; at most [`MAX_DOCUMENT_UPLOAD_BYTES`].
    Document,
}

impl Upload {
    fn method(self) -> &'static str {
        match self {
            Upload::Photo => "sendPhoto",
            Upload::Document => "sendDocument",
        }
    }

    /// The name of the form field that carries the file.
    fn field(self) -> &'static str {
        match self {
            Upload::Photo => "photo",
            Upload::Document => "document",
        }
    }
}

/// The largest photo a bot may upload with `sendPhoto` (the Bot API's 10 MB).
pub const MAX_PHOTO_UPLOAD_BYTES: u64 = 10_000_000;
/// The largest file a bot may upload with `sendDocument` (the Bot API's 50 MB).
pub const MAX_DOCUMENT_UPLOAD_BYTES: u64 = 50_000_000;
/// The longest time a file download or upload may take.
const FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// How a text is parsed by Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Html,
}

impl Format {
    fn apply(self, body: &mut Value) {
        if self == Format::Html {
            body["parse_mode"] = json!("HTML");
        }
    }
}

/// The form field of a file: its bytes, name and type (a type that does not parse is left out:
/// Telegram goes by the bytes).
fn file_part(name: &str, media_type: &str, bytes: &[u8]) -> reqwest::multipart::Part {
    let part = || reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned());
    part().mime_str(media_type).unwrap_or_else(|_| part())
}

/// A Bot API client for one bot.
#[derive(Clone)]
pub struct BotApi {
    http: reqwest::Client,
    /// `<base>/bot<token>`.
    endpoint: String,
    /// `<base>/file/bot<token>`: where files `getFile` prepared are downloaded.
    files: String,
}

impl std::fmt::Debug for BotApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotApi(<token redacted>)")
    }
}

impl BotApi {
    /// A client of the Bot API at `base_url` ([`DEFAULT_BASE_URL`] in production) for `token`.
    pub fn new(base_url: &str, token: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        Self {
            http: reqwest::Client::new(),
            endpoint: format!("{base}/bot{token}"),
            files: format!("{base}/file/bot{token}"),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        body: &Value,
        timeout: Duration,
    ) -> Result<T, ApiError> {
        self.call_with(method, timeout, |request| request.json(body))
            .await
    }

    /// Calls `method` with the body `with_body` puts on the request (made again for each attempt).
    async fn call_with<T: DeserializeOwned>(
        &self,
        method: &'static str,
        timeout: Duration,
        with_body: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            match self.call_once(method, &with_body, timeout).await {
                Err(ApiError::Refused {
                    code: 429,
                    retry_after: Some(wait),
                    ..
                }) if attempt < RATE_LIMIT_RETRIES
                    && Duration::from_secs(wait) <= MAX_RETRY_AFTER =>
                {
                    attempt += 1;
                    tracing::info!(method, wait, "Telegram rate limit; waiting as it asks");
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                other => return other,
            }
        }
    }

    async fn call_once<T: DeserializeOwned>(
        &self,
        method: &'static str,
        with_body: &impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<T, ApiError> {
        let transport = |source: reqwest::Error| ApiError::Transport {
            method,
            source: source.without_url(),
        };
        let response = with_body(self.http.post(format!("{}/{method}", self.endpoint)))
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let envelope: Envelope<T> = response.json().await.map_err(transport)?;
        match envelope {
            Envelope {
                ok: true,
                result: Some(result),
                ..
            } => Ok(result),
            other => Err(ApiError::Refused {
                method,
                code: other.error_code.unwrap_or(status),
                description: other.description.unwrap_or_else(|| "no description".into()),
                retry_after: other.parameters.and_then(|p| p.retry_after),
            }),
        }
    }

    /// Long-polls for updates from `offset` (confirming the ones before it), waiting up to `wait`.
    pub async fn get_updates(&self, offset: i64, wait: Duration) -> Result<Vec<Update>, ApiError> {
        let body = json!({
            "offset": offset,
            "timeout": wait.as_secs(),
            "allowed_updates": ALLOWED_UPDATES,
        });
        self.call("getUpdates", &body, wait + CALL_TIMEOUT).await
    }

    /// Registers the webhook: Telegram posts updates to `url` with `secret` in the
    /// `X-Telegram-Bot-Api-Secret-Token` header.
    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), ApiError> {
        let body = json!({
            "url": url,
            "secret_token": secret,
            "allowed_updates": ALLOWED_UPDATES,
        });
        self.call::<bool>("setWebhook", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Registers the command menu Telegram clients show after `/` (for all private chats).
    pub async fn set_my_commands<'a>(
        &self,
        commands: impl IntoIterator<Item = &'a CommandInfo>,
    ) -> Result<(), ApiError> {
        let commands: Vec<Value> = commands
            .into_iter()
            .map(|c| json!({"command": c.name, "description": c.summary}))
            .collect();
        let body = json!({"commands": commands, "scope": {"type": "all_private_chats"}});
        self.call::<bool>("setMyCommands", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Removes the webhook (updates wait for `getUpdates` again).
    pub async fn delete_webhook(&self) -> Result<(), ApiError> {
        self.call::<bool>("deleteWebhook", &json!({}), CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Sends a message, as a reply to `reply_to` when given, with the inline `keyboard` when given;
    /// returns the new message's id.
    pub async fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        format: Format,
        reply_to: Option<i64>,
        keyboard: Option<&Keyboard>,
    ) -> Result<i64, ApiError> {
        let mut body = json!({
            "chat_id": chat_id,
            "text": text,
            "link_preview_options": {"is_disabled": true},
        });
        format.apply(&mut body);
        if let Some(message_id) = reply_to {
            body["reply_parameters"] =
                json!({"message_id": message_id, "allow_sending_without_reply": true});
        }
        if let Some(keyboard) = keyboard {
            body["reply_markup"] = keyboard.markup();
        }
        let sent: SentMessage = self.call("sendMessage", &body, CALL_TIMEOUT).await?;
        Ok(sent.message_id)
    }

    /// Replaces the text of a message the bot sent, and its inline keyboard: with none given, the
    /// message keeps no buttons.
    pub async fn edit_message_text(
        &self,
        chat_id: i64,
        message_id: i64,
        text: &str,
        format: Format,
        keyboard: Option<&Keyboard>,
    ) -> Result<(), ApiError> {
        let mut body = json!({
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "link_preview_options": {"is_disabled": true},
        });
        format.apply(&mut body);
        if let Some(keyboard) = keyboard {
            body["reply_markup"] = keyboard.markup();
        }
        self.call::<Value>("editMessageText", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Removes the inline keyboard of a message the bot sent, keeping its text.
    pub async fn remove_keyboard(&self, chat_id: i64, message_id: i64) -> Result<(), ApiError> {
        let body = json!({"chat_id": chat_id, "message_id": message_id});
        self.call::<Value>("editMessageReplyMarkup", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Reacts to a message with one emoji (one of the reactions Telegram allows, such as 👀).
    pub async fn set_reaction(
        &self,
        chat_id: i64,
        message_id: i64,
        emoji: &str,
    ) -> Result<(), ApiError> {
        let body = json!({
            "chat_id": chat_id,
            "message_id": message_id,
            "reaction": [{"type": "emoji", "emoji": emoji}],
        });
        self.call::<bool>("setMessageReaction", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Answers a button press: ends the client's spinner and shows `text` (at most 200 characters)
    /// briefly, or as an alert to dismiss.
    pub async fn answer_callback_query(
        &self,
        callback_query_id: &str,
        text: &str,
        alert: bool,
    ) -> Result<(), ApiError> {
        let body = json!({
            "callback_query_id": callback_query_id,
            "text": text,
            "show_alert": alert,
        });
        self.call::<bool>("answerCallbackQuery", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Prepares a file a user sent (a photo size, a document) for [`Self::download`].
    pub async fn get_file(&self, file_id: &str) -> Result<TelegramFile, ApiError> {
        self.call("getFile", &json!({"file_id": file_id}), CALL_TIMEOUT)
            .await
    }

    /// Downloads the file at `file_path` (from [`Self::get_file`]), refusing one larger than
    /// `limit` bytes without reading more than that.
    pub async fn download(&self, file_path: &str, limit: u64) -> Result<Vec<u8>, ApiError> {
        const METHOD: &str = "file download";
        let transport = |source: reqwest::Error| ApiError::Transport {
            method: METHOD,
            source: source.without_url(),
        };
        let mut response = self
            .http
            .get(format!("{}/{file_path}", self.files))
            .timeout(FILE_TIMEOUT)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Refused {
                method: METHOD,
                code: status.as_u16(),
                description: status.canonical_reason().unwrap_or("failed").into(),
                retry_after: None,
            });
        }
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(ApiError::TooLarge { limit });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(ApiError::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Sends a file to a chat as a photo or a document (`multipart/form-data`), as a reply to
    /// `reply_to`; returns the new message's id.
    pub async fn send_file(
        &self,
        chat_id: i64,
        upload: Upload,
        name: &str,
        media_type: &str,
        bytes: &[u8],
        reply_to: i64,
    ) -> Result<i64, ApiError> {
        let reply = json!({"message_id": reply_to, "allow_sending_without_reply": true});
        let sent: SentMessage = self
            .call_with(upload.method(), FILE_TIMEOUT, |request| {
                let file = file_part(name, media_type, bytes);
                let form = reqwest::multipart::Form::new()
                    .text("chat_id", chat_id.to_string())
                    .text("reply_parameters", reply.to_string())
                    .part(upload.field(), file);
                request.multipart(form)
            })
            .await?;
        Ok(sent.message_id)
    }

    /// Shows "typing…" in the chat for about five seconds.
    pub async fn send_typing(&self, chat_id: i64) -> Result<(), ApiError> {
        let body = json!({"chat_id": chat_id, "action": "typing"});
        self.call::<bool>("sendChatAction", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }
}
