//! A small client of the Telegram Bot API: the methods the bot uses, JSON in and out, `429`s retried
//! after Telegram's `retry_after`. The base URL is configurable (`SERVERLESS_OPENCLAW_TELEGRAM_API_URL`)
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

/// A Bot API client for one bot.
#[derive(Clone)]
pub struct BotApi {
    http: reqwest::Client,
    /// `<base>/bot<token>`.
    endpoint: String,
}

impl std::fmt::Debug for BotApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotApi(<token redacted>)")
    }
}

impl BotApi {
    /// A client of the Bot API at `base_url` ([`DEFAULT_BASE_URL`] in production) for `token`.
    pub fn new(base_url: &str, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint: format!("{}/bot{token}", base_url.trim_end_matches('/')),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        body: &Value,
        timeout: Duration,
    ) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            match self.call_once(method, body, timeout).await {
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
        body: &Value,
        timeout: Duration,
    ) -> Result<T, ApiError> {
        let transport = |source: reqwest::Error| ApiError::Transport {
            method,
            source: source.without_url(),
        };
        let response = self
            .http
            .post(format!("{}/{method}", self.endpoint))
            .json(body)
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

    /// Shows "typing…" in the chat for about five seconds.
    pub async fn send_typing(&self, chat_id: i64) -> Result<(), ApiError> {
        let body = json!({"chat_id": chat_id, "action": "typing"});
        self.call::<bool>("sendChatAction", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }
}
