//! A fake Telegram Bot API server for the bot's tests.
//!
//! The bot posts JSON to `{base_url}/bot{token}/{method}`; tests point it at
//! [`FakeTelegram::base_url`]. The fake answers the handful of methods the bot uses (`getMe`,
//! `getUpdates`, `setWebhook`, `deleteWebhook`, `setMyCommands`, `sendMessage`, `editMessageText`,
//! `editMessageReplyMarkup`, `sendChatAction`, `setMessageReaction`, `answerCallbackQuery`,
//! `getFile`, and `sendPhoto` / `sendDocument` as `multipart/form-data` uploads) in the Bot API's envelope (`{"ok":true,"result":…}` or
//! `{"ok":false,"error_code":…,"description":…}`), with the real API's error texts where the
//! bot might react to them (<https://core.telegram.org/bots/api>).
//!
//! It is stricter than Telegram where strictness catches a bot bug early: message HTML must be
//! the documented subset, properly nested, with every `<` and `&` escaped; `parse_mode` must be
//! `HTML`; parameters must have their JSON types; inline keyboards must be well formed with
//! `callback_data` of 1-64 bytes; a callback query is answered once. Every call is recorded, the messages the bot
//! sent are kept per chat (with their edits), and [`FakeTelegram::fail_next`] makes a method
//! fail the way Telegram does under load or on bad markup.
//!
//! Updates reach the bot through `getUpdates` from a queue filled by [`FakeTelegram::push_update`];
//! a test of the webhook path posts [`text_update`]s to the bot itself. [`callback_update`] is a press
//! of an inline button, [`reply_to`] makes a message a reply.
//!
//! Files users send: [`FakeTelegram::add_file`] keeps bytes under a file id, which [`photo_update`]
//! and [`document_update`] name (and [`in_album`] groups); `getFile` prepares them as Telegram
//! does (refusing one above the bots' 20 MB download limit with "file is too big") and
//! `GET /file/bot<token>/<file_path>` serves them. Files the bot uploads are kept per chat
//! ([`FakeTelegram::uploads`]), within Telegram's limits (photos 10 MB, documents 50 MB).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The bot's user id: the number before the colon of [`TOKEN`], as in real tokens.
const BOT_ID: i64 = 123_456_789;

/// The one token the fake accepts.
const TOKEN: &str = "123456789:fake-telegram-token";

/// Most updates one `getUpdates` returns, and its default `limit`.
const MAX_UPDATES_PER_POLL: i64 = 100;

/// Longest message text, in UTF-16 code units of the visible text (Telegram counts like this).
const MAX_TEXT_UTF16_UNITS: usize = 4096;

/// Ids of the users' messages in [`text_update`] start here, so they never equal the ids of the
/// bot's own messages (which start at 1): a bot editing the user's message instead of its reply
/// gets "message to edit not found" rather than silently editing its own.
const USER_MESSAGE_ID_BASE: i64 = 10_000;

/// Most bytes of an inline button's `callback_data`.
const MAX_CALLBACK_DATA_BYTES: usize = 64;

/// Most commands `setMyCommands` takes.
const MAX_MENU_COMMANDS: usize = 100;

/// The largest file a bot may download (`getFile` refuses larger ones).
const MAX_DOWNLOAD_BYTES: usize = 20 * 1024 * 1024;

/// The largest photo a bot may upload with `sendPhoto`.
const MAX_PHOTO_UPLOAD_BYTES: usize = 10_000_000;

/// The largest file a bot may upload with `sendDocument`.
const MAX_DOCUMENT_UPLOAD_BYTES: usize = 50_000_000;

/// The largest request the fake reads (axum's default is 2 MB): above the upload limits, so that an
/// upload over them is answered as Telegram answers it.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// Longest caption of a photo or document, in characters.
const MAX_CAPTION_CHARS: usize = 1024;

/// The chat actions `sendChatAction` accepts.
const CHAT_ACTIONS: [&str; 11] = [
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

/// The HTML tags Telegram's `parse_mode: "HTML"` accepts.
const HTML_TAGS: [&str; 15] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "span",
    "tg-spoiler",
    "blockquote",
];

/// One call the bot made, as the fake answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The method name from the path, e.g. `sendMessage`.
    pub method: String,
    /// The JSON body (`{}` for an empty one, `Value::Null` for one that is not JSON).
    pub body: Value,
    /// The HTTP status of the answer.
    pub status: u16,
    /// When the call arrived.
    pub at: Instant,
}

/// A message the bot sent, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The id `sendMessage` returned.
    pub message_id: i64,
    /// The text as the bot sent it last (the HTML source when `parse_mode` is HTML).
    pub text: String,
    /// The `parse_mode` it was sent or last edited with.
    pub parse_mode: Option<String>,
    /// How many successful `editMessageText` calls changed it.
    pub edits: usize,
    /// The inline keyboard it carries now (`reply_markup`): an edit without one removes it.
    pub reply_markup: Option<Value>,
}

/// A file the bot uploaded (`sendPhoto`, `sendDocument`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// `sendPhoto` or `sendDocument`.
    pub method: String,
    /// The id of the message it became.
    pub message_id: i64,
    /// The file name of the form part.
    pub file_name: Option<String>,
    /// The `Content-Type` of the form part.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    pub caption: Option<String>,
    /// The message it answers (`reply_parameters.message_id`).
    pub reply_to: Option<i64>,
}

/// The webhook the bot registered with `setWebhook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The HTTPS URL Telegram would post updates to.
    pub url: String,
    /// What Telegram would send in `X-Telegram-Bot-Api-Secret-Token`.
    pub secret_token: Option<String>,
    /// The update types asked for; `None` when the parameter was left out.
    pub allowed_updates: Option<Vec<String>>,
}

/// A command of the menu set with `setMyCommands`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuCommand {
    pub command: String,
    pub description: String,
}

/// An answer to a callback query (`answerCallbackQuery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    pub callback_query_id: String,
    /// The notification shown to the user, if any.
    pub text: Option<String>,
    /// Shown as an alert the user must dismiss rather than a toast.
    pub show_alert: bool,
}

/// An error answer for [`FakeTelegram::fail_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 400, the answer to markup Telegram cannot parse.
    EntityParse,
    /// 429 with `parameters.retry_after`, Telegram's flood control.
    TooManyRequests {
        /// Seconds the bot must wait, in the description and in `parameters.retry_after`.
        retry_after: u64,
    },
    /// Any status with this description. A code that is not a valid HTTP status is answered
    /// with HTTP 500 but keeps `code` as `error_code`.
    Status {
        /// The `error_code` (and HTTP status).
        code: u16,
        /// The `description`.
        description: String,
    },
}

/// A private-chat text message update, as Telegram sends it to a bot.
///
/// The chat is the private chat with the sender (chat id = `from_id`); the sender is a user
/// named "Test" (`@test_user`); the message id is 10000 + `update_id`. A text starting with `/`
/// carries a `bot_command` entity over its first word, like Telegram adds.
pub fn text_update(update_id: i64, from_id: i64, text: &str) -> Value {
    let mut message = json!({
        "message_id": USER_MESSAGE_ID_BASE + update_id,
        "from": {"id": from_id, "is_bot": false, "first_name": "Test", "username": "test_user"},
        "chat": {"id": from_id, "type": "private", "first_name": "Test", "username": "test_user"},
        "date": unix_time(),
        "text": text,
    });
    if text.starts_with('/') {
        let command = text.split_whitespace().next().unwrap_or(text);
        message["entities"] = json!([{
            "type": "bot_command",
            "offset": 0,
            "length": command.encode_utf16().count(),
        }]);
    }
    json!({"update_id": update_id, "message": message})
}

/// A private-chat message with a photo, as Telegram sends it: `photo` lists the sizes it keeps,
/// smallest first, each `(file_id, width, height, file_size)` (file ids from
/// [`FakeTelegram::add_file`]); `caption` is its text, if any. Otherwise like [`text_update`].
pub fn photo_update(
    update_id: i64,
    from_id: i64,
    sizes: &[(&str, u32, u32, usize)],
    caption: Option<&str>,
) -> Value {
    let mut update = media_update(update_id, from_id, caption);
    update["message"]["photo"] = sizes
        .iter()
        .map(|(file_id, width, height, size)| {
            json!({
                "file_id": file_id,
                "file_unique_id": format!("u-{file_id}"),
                "width": width,
                "height": height,
                "file_size": size,
            })
        })
        .collect();
    update
}

/// A private-chat message with a document (a file sent as a file), as Telegram sends it.
pub fn document_update(
    update_id: i64,
    from_id: i64,
    file_id: &str,
    file_name: &str,
    mime_type: &str,
    file_size: usize,
    caption: Option<&str>,
) -> Value {
    let mut update = media_update(update_id, from_id, caption);
    update["message"]["document"] = json!({
        "file_id": file_id,
        "file_unique_id": format!("u-{file_id}"),
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": file_size,
    });
    update
}

/// A private-chat voice note of `duration` seconds (OGG/Opus, as Telegram clients record them).
pub fn voice_update(update_id: i64, from_id: i64, file_id: &str, duration: u32) -> Value {
    let mut update = media_update(update_id, from_id, None);
    update["message"]["voice"] = json!({
        "file_id": file_id,
        "file_unique_id": format!("u-{file_id}"),
        "duration": duration,
        "mime_type": "audio/ogg",
    });
    update
}

/// Makes `update` (a [`photo_update`]) part of an album: Telegram sends each photo of an album as
/// its own message with the same `media_group_id`.
pub fn in_album(mut update: Value, media_group_id: &str) -> Value {
    update["message"]["media_group_id"] = json!(media_group_id);
    update
}

fn media_update(update_id: i64, from_id: i64, caption: Option<&str>) -> Value {
    let mut update = text_update(update_id, from_id, "");
    let message = update["message"].as_object_mut().expect("a message");
    message.remove("text");
    if let Some(caption) = caption {
        message.insert("caption".into(), json!(caption));
    }
    update
}

/// Makes `update` (a [`text_update`]) a reply to an earlier message of the chat with this text, as
/// Telegram sends it: `reply_to_message` holds the replied-to message (without its own reply).
pub fn reply_to(mut update: Value, message_id: i64, from_bot: bool, text: &str) -> Value {
    let message = &mut update["message"];
    let from = if from_bot {
        bot_user()
    } else {
        message["from"].clone()
    };
    message["reply_to_message"] = json!({
        "message_id": message_id,
        "from": from,
        "chat": message["chat"].clone(),
        "date": unix_time(),
        "text": text,
    });
    update
}

/// A press of an inline button by `from_id` on the bot's message `message_id` in the private chat
/// with them, as Telegram sends it; the query id is `cb-<update_id>`.
pub fn callback_update(update_id: i64, from_id: i64, message_id: i64, data: &str) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("cb-{update_id}"),
            "from": {"id": from_id, "is_bot": false, "first_name": "Test", "username": "test_user"},
            "message": {
                "message_id": message_id,
                "from": bot_user(),
                "chat": {"id": from_id, "type": "private", "first_name": "Test"},
                "date": unix_time(),
                "text": "…",
            },
            "chat_instance": format!("ci-{from_id}"),
            "data": data,
        },
    })
}

/// A running fake Bot API server. It stops when dropped.
#[derive(Debug)]
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Set to `true` once to stop the server; long polls watch it too so that they end instead
    /// of holding graceful shutdown for their whole timeout.
    shutdown: watch::Sender<bool>,
}

impl FakeTelegram {
    /// Starts a server on a free port of 127.0.0.1 and serves it in a background task.
    pub async fn start() -> io::Result<FakeTelegram> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (shutdown, stop) = watch::channel(false);
        let app = Router::new()
            .route("/{bot}/{method}", get(handle).post(handle))
            .route("/file/{bot}/{*path}", get(download))
            // Uploads up to Telegram's limit and a little more, so one over it gets Telegram's answer.
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .fallback(not_found)
            .with_state(AppState {
                shared: Arc::clone(&shared),
                stop: stop.clone(),
            });
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped(stop))
                .await
        });
        Ok(FakeTelegram {
            addr,
            shared,
            shutdown,
        })
    }

    /// `http://127.0.0.1:<port>`, the Bot API base URL to configure (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The one bot token the fake accepts.
    pub fn token(&self) -> &str {
        TOKEN
    }

    /// The bot's user id, as `getMe` and sent messages report it.
    pub fn bot_id(&self) -> i64 {
        BOT_ID
    }

    /// Queues an update for `getUpdates` and wakes a waiting long poll.
    ///
    /// An update without `update_id` gets the next one (1, 2, …, always above every id pushed
    /// so far). Returns the update's id.
    ///
    /// # Panics
    /// If `update` is not a JSON object.
    pub fn push_update(&self, mut update: Value) -> i64 {
        assert!(update.is_object(), "an update is a JSON object: {update}");
        let mut state = self.shared.state();
        let update_id = update["update_id"]
            .as_i64()
            .unwrap_or(state.last_update_id + 1);
        update["update_id"] = json!(update_id);
        state.last_update_id = state.last_update_id.max(update_id);
        state.pending_updates.insert(update_id, update);
        // Published under the lock, so a poll that sees the change also sees the update.
        self.shared.updates_pushed.send_replace(update_id);
        update_id
    }

    /// Every answered call so far, in arrival order, failed ones included. A call appears once
    /// it has been answered (a long poll when it returns).
    pub fn calls(&self) -> Vec<Call> {
        self.shared
            .state()
            .calls
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// The answered calls of one method, in arrival order.
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| call.method == method)
            .collect()
    }

    /// Waits until a call of `method` matching `pred` has been answered (one answered before
    /// counts) and returns the first such call, or `None` after `timeout`.
    pub async fn wait_for_call(
        &self,
        method: &str,
        pred: impl Fn(&Call) -> bool,
        timeout: Duration,
    ) -> Option<Call> {
        self.wait_until(timeout, |t| t.calls_of(method).into_iter().find(&pred))
            .await
    }

    /// Waits up to `timeout` for `found` to find something, asking again after each call the fake
    /// answers; what it found.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        found: impl Fn(&FakeTelegram) -> Option<T>,
    ) -> Option<T> {
        let mut answered = self.shared.calls_answered.subscribe();
        let wait = async {
            loop {
                if let Some(it) = found(self) {
                    return it;
                }
                // The sender lives in `self.shared`, so the channel cannot close while we wait.
                let _ = answered.changed().await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }

    /// Waits up to `timeout` for a message in a chat, after its first `before`, whose text starts
    /// with `prefix`; that text.
    pub async fn wait_for_text(
        &self,
        chat_id: i64,
        before: usize,
        prefix: &str,
        timeout: Duration,
    ) -> Option<String> {
        self.wait_until(timeout, |t| {
            t.texts(chat_id)
                .into_iter()
                .skip(before)
                .find(|text| text.starts_with(prefix))
        })
        .await
    }

    /// Waits up to `timeout` until a chat has at least `count` final replies ([`FakeTelegram::finals`]);
    /// all of them.
    pub async fn wait_for_finals(
        &self,
        chat_id: i64,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<SentMessage>> {
        self.wait_until(timeout, |t| {
            Some(t.finals(chat_id)).filter(|finals| finals.len() >= count)
        })
        .await
    }

    /// The messages the bot sent to a chat, oldest first, with their text after edits.
    pub fn chat(&self, chat_id: i64) -> Vec<SentMessage> {
        self.shared
            .state()
            .chats
            .get(&chat_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The texts of the messages the bot sent to a chat, oldest first, after edits.
    pub fn texts(&self, chat_id: i64) -> Vec<String> {
        self.chat(chat_id).into_iter().map(|m| m.text).collect()
    }

    /// The bot's final replies in a chat: its messages in HTML (a streamed draft is plain text
    /// until its last edit formats it), oldest first.
    pub fn finals(&self, chat_id: i64) -> Vec<SentMessage> {
        self.chat(chat_id)
            .into_iter()
            .filter(|m| m.parse_mode.as_deref() == Some("HTML"))
            .collect()
    }

    /// The webhook set with `setWebhook`, if any.
    pub fn webhook(&self) -> Option<Webhook> {
        self.shared.state().webhook.clone()
    }

    /// The command menu set with `setMyCommands`, if any.
    pub fn menu(&self) -> Option<Vec<MenuCommand>> {
        self.shared.state().menu.clone()
    }

    /// The bot's reaction emoji on a message of a chat (`setMessageReaction`), empty when none.
    pub fn reactions(&self, chat_id: i64, message_id: i64) -> Vec<String> {
        self.shared
            .state()
            .reactions
            .get(&(chat_id, message_id))
            .cloned()
            .unwrap_or_default()
    }

    /// Keeps `bytes` as a file users sent, for `getFile` and its download; returns its file id.
    pub fn add_file(&self, bytes: Vec<u8>) -> String {
        let mut state = self.shared.state();
        state.last_file_id += 1;
        let file_id = format!("file-{}", state.last_file_id);
        let path = format!("documents/file_{}", state.last_file_id);
        state.files.insert(file_id.clone(), (path, bytes));
        file_id
    }

    /// The `file_path`s the bot downloaded, in order.
    pub fn downloads(&self) -> Vec<String> {
        self.shared.state().downloads.clone()
    }

    /// The files the bot uploaded to a chat, in order.
    pub fn uploads(&self, chat_id: i64) -> Vec<Upload> {
        self.shared
            .state()
            .uploads
            .get(&chat_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The answers to callback queries, in order.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.shared.state().callback_answers.clone()
    }

    /// Makes the next call of `method` fail with `failure`, before any other check but the
    /// token. Failures queue up per method and are used in order. A failed call changes nothing
    /// else (no message is sent, no update confirmed).
    pub fn fail_next(&self, method: &str, failure: Failure) {
        self.shared
            .state()
            .failures
            .entry(method.to_owned())
            .or_default()
            .push_back(failure);
    }
}

impl Drop for FakeTelegram {
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
    /// The id of the last pushed update, so long polls sleep until there is something to return.
    updates_pushed: watch::Sender<i64>,
    /// How many calls were answered, so `wait_for_call` sleeps instead of polling.
    calls_answered: watch::Sender<usize>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            state: Mutex::new(FakeState::default()),
            updates_pushed: watch::Sender::new(0),
            calls_answered: watch::Sender::new(0),
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        // A panic elsewhere while holding the lock leaves the data usable: recover it rather than
        // turning one failed assertion into a cascade of poison errors.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves the place of a call that has just arrived, so calls are listed in arrival order
    /// even when a long poll is answered after calls that came in later.
    fn arrived(&self) -> usize {
        let mut state = self.state();
        state.calls.push(None);
        state.calls.len() - 1
    }

    fn answered(&self, slot: usize, call: Call) {
        let mut state = self.state();
        state.calls[slot] = Some(call);
        // Published under the lock, so a waiter that sees the count also sees the call.
        self.calls_answered.send_modify(|count| *count += 1);
    }
}

#[derive(Debug, Default)]
struct FakeState {
    /// One entry per arrived call, filled in when it is answered.
    calls: Vec<Option<Call>>,
    /// Updates not yet confirmed by a `getUpdates` offset, by id.
    pending_updates: BTreeMap<i64, Value>,
    last_update_id: i64,
    last_message_id: i64,
    chats: BTreeMap<i64, Vec<SentMessage>>,
    webhook: Option<Webhook>,
    menu: Option<Vec<MenuCommand>>,
    reactions: HashMap<(i64, i64), Vec<String>>,
    callback_answers: Vec<CallbackAnswer>,
    failures: HashMap<String, VecDeque<Failure>>,
    /// Files users sent: by file id, the path `getFile` gives and the bytes.
    files: HashMap<String, (String, Vec<u8>)>,
    last_file_id: u64,
    downloads: Vec<String>,
    uploads: BTreeMap<i64, Vec<Upload>>,
}

impl FakeState {
    /// Forgets the updates a `getUpdates` offset confirms: those below a positive offset; all but
    /// the last `-offset` ones for a negative offset.
    fn confirm(&mut self, offset: Option<i64>) {
        match offset {
            Some(offset) if offset > 0 => {
                self.pending_updates = self.pending_updates.split_off(&offset);
            }
            Some(offset) if offset < 0 => {
                let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
                while self.pending_updates.len() > keep {
                    self.pending_updates.pop_first();
                }
            }
            _ => {}
        }
    }

    fn first_updates(&self, limit: usize) -> Vec<Value> {
        self.pending_updates.values().take(limit).cloned().collect()
    }

    fn set_webhook(&mut self, params: &Params) -> Result<Value, ApiError> {
        let url = optional_str(params, "url")?
            .filter(|url| url.starts_with("https://"))
            .ok_or_else(|| {
                ApiError::bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            })?;
        let secret_token = optional_str(params, "secret_token")?;
        if let Some(secret) = secret_token
            && !is_valid_secret_token(secret)
        {
            return Err(ApiError::bad_request(
                "bad webhook: secret token must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
            ));
        }
        let allowed_updates = optional_str_list(params, "allowed_updates")?;
        if optional_bool(params, "drop_pending_updates")? == Some(true) {
            self.pending_updates.clear();
        }
        self.webhook = Some(Webhook {
            url: url.to_owned(),
            secret_token: secret_token.map(str::to_owned),
            allowed_updates,
        });
        Ok(json!(true))
    }

    fn delete_webhook(&mut self, params: &Params) -> Result<Value, ApiError> {
        if optional_bool(params, "drop_pending_updates")? == Some(true) {
            self.pending_updates.clear();
        }
        self.webhook = None;
        Ok(json!(true))
    }

    /// The bot's message `message_id` in `chat_id`, as `editMessage*` finds it.
    fn message_to_edit(
        &mut self,
        chat_id: i64,
        message_id: i64,
    ) -> Result<&mut SentMessage, ApiError> {
        self.chats
            .get_mut(&chat_id)
            .and_then(|chat| chat.iter_mut().find(|m| m.message_id == message_id))
            .ok_or_else(|| ApiError::bad_request("message to edit not found"))
    }

    fn edit_message_reply_markup(&mut self, params: &Params) -> Result<Value, ApiError> {
        let chat_id = chat_id(params)?;
        let message_id = message_id(params)?;
        let reply_markup = inline_keyboard(params)?;
        let message = self.message_to_edit(chat_id, message_id)?;
        if reply_markup == message.reply_markup {
            return Err(ApiError::bad_request(
                "message is not modified: specified new message content and reply markup are \
                 exactly the same as a current content and reply markup of the message",
            ));
        }
        message.reply_markup = reply_markup;
        let mut answer = bot_message(chat_id, message_id, &message.text);
        answer["edit_date"] = json!(unix_time());
        Ok(answer)
    }

    fn set_my_commands(&mut self, params: &Params) -> Result<Value, ApiError> {
        let Some(Value::Array(commands)) = params.get("commands") else {
            return Err(ApiError::wrong_parameter("commands"));
        };
        if commands.len() > MAX_MENU_COMMANDS {
            return Err(ApiError::bad_request("too many commands"));
        }
        let menu = commands
            .iter()
            .map(|c| {
                let command = c["command"].as_str().unwrap_or_default();
                let description = c["description"].as_str().unwrap_or_default();
                let valid_name = (1..=32).contains(&command.len())
                    && command
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !valid_name {
                    return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
                }
                if !(1..=256).contains(&description.chars().count()) {
                    return Err(ApiError::bad_request(
                        "command description is empty or too long",
                    ));
                }
                Ok(MenuCommand {
                    command: command.to_owned(),
                    description: description.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.menu = Some(menu);
        Ok(json!(true))
    }

    fn set_message_reaction(&mut self, params: &Params) -> Result<Value, ApiError> {
        let chat_id = chat_id(params)?;
        let message_id = message_id(params)?;
        let emoji = match params.get("reaction") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(reactions)) => reactions
                .iter()
                .map(|r| match (r["type"].as_str(), r["emoji"].as_str()) {
                    (Some("emoji"), Some(emoji)) if !emoji.is_empty() => Ok(emoji.to_owned()),
                    _ => Err(ApiError::bad_request("REACTION_INVALID")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(ApiError::wrong_parameter("reaction")),
        };
        self.reactions.insert((chat_id, message_id), emoji);
        Ok(json!(true))
    }

    fn answer_callback_query(&mut self, params: &Params) -> Result<Value, ApiError> {
        let id = optional_str(params, "callback_query_id")?
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ApiError::bad_request("QUERY_ID_INVALID"))?;
        if self
            .callback_answers
            .iter()
            .any(|a| a.callback_query_id == id)
        {
            return Err(ApiError::bad_request(
                "query is too old and response timeout expired or query ID is invalid",
            ));
        }
        let text = optional_str(params, "text")?;
        if text.is_some_and(|t| t.chars().count() > 200) {
            return Err(ApiError::bad_request("MESSAGE_TOO_LONG"));
        }
        self.callback_answers.push(CallbackAnswer {
            callback_query_id: id.to_owned(),
            text: text.map(str::to_owned),
            show_alert: optional_bool(params, "show_alert")?.unwrap_or(false),
        });
        Ok(json!(true))
    }

    fn send_message(&mut self, params: &Params) -> Result<Value, ApiError> {
        let chat_id = chat_id(params)?;
        let text = optional_str(params, "text")?;
        let parse_mode = optional_str(params, "parse_mode")?;
        let reply_markup = inline_keyboard(params)?;
        let visible = visible_text(text, parse_mode)?;
        self.last_message_id += 1;
        let message_id = self.last_message_id;
        self.chats.entry(chat_id).or_default().push(SentMessage {
            message_id,
            text: text.unwrap_or_default().to_owned(),
            parse_mode: parse_mode.map(str::to_owned),
            edits: 0,
            reply_markup,
        });
        Ok(bot_message(chat_id, message_id, &visible))
    }

    fn get_file(&mut self, params: &Params) -> Result<Value, ApiError> {
        let file_id = optional_str(params, "file_id")?
            .ok_or_else(|| ApiError::bad_request("file_id not specified"))?;
        let (path, bytes) = self
            .files
            .get(file_id)
            .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
        if bytes.len() > MAX_DOWNLOAD_BYTES {
            return Err(ApiError::bad_request("file is too big"));
        }
        Ok(json!({
            "file_id": file_id,
            "file_unique_id": format!("u-{file_id}"),
            "file_size": bytes.len(),
            "file_path": path,
        }))
    }

    /// `sendPhoto` and `sendDocument`: the file must be uploaded in the form (the fake takes no file
    /// ids or URLs), within its method's limit.
    fn send_file(&mut self, method: Method, body: &Body) -> Result<Value, ApiError> {
        let params = &body.params;
        let chat_id = chat_id(params)?;
        let (field, limit) = match method {
            Method::SendPhoto => ("photo", MAX_PHOTO_UPLOAD_BYTES),
            _ => ("document", MAX_DOCUMENT_UPLOAD_BYTES),
        };
        let Some(file) = body.files.get(field) else {
            return Err(ApiError::bad_request(format!(
                "there is no {field} in the request"
            )));
        };
        if file.bytes.is_empty() {
            return Err(ApiError::bad_request("file must be non-empty"));
        }
        if file.bytes.len() > limit {
            return Err(ApiError::new(413, "Request Entity Too Large"));
        }
        let caption = optional_str(params, "caption")?;
        if caption.is_some_and(|c| c.chars().count() > MAX_CAPTION_CHARS) {
            return Err(ApiError::bad_request("message caption is too long"));
        }
        let reply_to = match params.get("reply_parameters") {
            None | Some(Value::Null) => None,
            Some(reply) => Some(
                reply["message_id"]
                    .as_i64()
                    .ok_or_else(|| ApiError::wrong_parameter("reply_parameters"))?,
            ),
        };
        self.last_message_id += 1;
        let message_id = self.last_message_id;
        self.uploads.entry(chat_id).or_default().push(Upload {
            method: method.name().to_owned(),
            message_id,
            file_name: file.file_name.clone(),
            content_type: file.content_type.clone(),
            bytes: file.bytes.clone(),
            caption: caption.map(str::to_owned),
            reply_to,
        });
        let mut message = bot_message(chat_id, message_id, "");
        let map = message.as_object_mut().expect("a message");
        map.remove("text");
        let sent = json!({
            "file_id": format!("sent-{message_id}"),
            "file_unique_id": format!("u-sent-{message_id}"),
            "file_size": file.bytes.len(),
        });
        match method {
            Method::SendPhoto => map.insert("photo".into(), json!([sent])),
            _ => map.insert("document".into(), sent),
        };
        if let Some(caption) = caption {
            map.insert("caption".into(), json!(caption));
        }
        Ok(message)
    }

    fn edit_message_text(&mut self, params: &Params) -> Result<Value, ApiError> {
        let chat_id = chat_id(params)?;
        let message_id = message_id(params)?;
        let text = optional_str(params, "text")?;
        let parse_mode = optional_str(params, "parse_mode")?;
        let reply_markup = inline_keyboard(params)?;
        let message = self.message_to_edit(chat_id, message_id)?;
        if text == Some(message.text.as_str())
            && parse_mode == message.parse_mode.as_deref()
            && reply_markup == message.reply_markup
        {
            return Err(ApiError::bad_request(
                "message is not modified: specified new message content and reply markup are \
                 exactly the same as a current content and reply markup of the message",
            ));
        }
        let visible = visible_text(text, parse_mode)?;
        message.text = text.unwrap_or_default().to_owned();
        message.parse_mode = parse_mode.map(str::to_owned);
        message.reply_markup = reply_markup;
        message.edits += 1;
        let mut answer = bot_message(chat_id, message_id, &visible);
        answer["edit_date"] = json!(unix_time());
        Ok(answer)
    }
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

/// Resolves once the server is told to stop (or its handle is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender was dropped, which also means stop.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The parameters of a call: the fields of its JSON body.
type Params = Map<String, Value>;

/// The methods the fake implements.
#[derive(Debug, Clone, Copy)]
enum Method {
    GetMe,
    GetUpdates,
    SetWebhook,
    DeleteWebhook,
    SetMyCommands,
    SendMessage,
    EditMessageText,
    EditMessageReplyMarkup,
    SendChatAction,
    SetMessageReaction,
    AnswerCallbackQuery,
    GetFile,
    SendPhoto,
    SendDocument,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::GetMe => "getMe",
            Method::GetUpdates => "getUpdates",
            Method::SetWebhook => "setWebhook",
            Method::DeleteWebhook => "deleteWebhook",
            Method::SetMyCommands => "setMyCommands",
            Method::SendMessage => "sendMessage",
            Method::EditMessageText => "editMessageText",
            Method::EditMessageReplyMarkup => "editMessageReplyMarkup",
            Method::SendChatAction => "sendChatAction",
            Method::SetMessageReaction => "setMessageReaction",
            Method::AnswerCallbackQuery => "answerCallbackQuery",
            Method::GetFile => "getFile",
            Method::SendPhoto => "sendPhoto",
            Method::SendDocument => "sendDocument",
        }
    }

    fn from_name(name: &str) -> Option<Method> {
        Some(match name {
            "getMe" => Method::GetMe,
            "getUpdates" => Method::GetUpdates,
            "setWebhook" => Method::SetWebhook,
            "deleteWebhook" => Method::DeleteWebhook,
            "sendMessage" => Method::SendMessage,
            "editMessageText" => Method::EditMessageText,
            "editMessageReplyMarkup" => Method::EditMessageReplyMarkup,
            "sendChatAction" => Method::SendChatAction,
            "setMyCommands" => Method::SetMyCommands,
            "setMessageReaction" => Method::SetMessageReaction,
            "answerCallbackQuery" => Method::AnswerCallbackQuery,
            "getFile" => Method::GetFile,
            "sendPhoto" => Method::SendPhoto,
            "sendDocument" => Method::SendDocument,
            _ => return None,
        })
    }
}

/// An error answer: `{"ok":false,"error_code":…,"description":…}`, plus
/// `"parameters":{"retry_after":…}` for flood control.
#[derive(Debug)]
struct ApiError {
    code: u16,
    description: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(code: u16, description: impl Into<String>) -> ApiError {
        ApiError {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// A 400 whose description is Telegram's `Bad Request: ` followed by `detail`.
    fn bad_request(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, format!("Bad Request: {detail}"))
    }

    fn wrong_parameter(name: &str) -> ApiError {
        ApiError::bad_request(format!("wrong parameter {name} in request"))
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn body(&self) -> Value {
        let mut body =
            json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({"retry_after": retry_after});
        }
        body
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> ApiError {
        match failure {
            Failure::EntityParse => ApiError::bad_request(
                "can't parse entities: Unsupported start tag \"x\" at byte offset 0",
            ),
            Failure::TooManyRequests { retry_after } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(429, format!("Too Many Requests: retry after {retry_after}"))
            },
            Failure::Status { code, description } => ApiError::new(code, description),
        }
    }
}

/// Every path that is not `/{bot}/{method}`: Telegram's 404, not recorded (there is no method).
async fn not_found() -> Response {
    let error = ApiError::new(404, "Not Found");
    (error.status(), Json(error.body())).into_response()
}

async fn handle(
    State(app): State<AppState>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let at = Instant::now();
    let slot = app.shared.arrived();
    let (body, params) = read_body(&headers, raw).await;
    tracing::debug!(%method, %body, "fake Telegram call");
    let answer = answer(&app, &bot, &method, params).await;
    let (status, json) = match answer {
        Ok(result) => (StatusCode::OK, json!({"ok": true, "result": result})),
        Err(error) => (error.status(), error.body()),
    };
    app.shared.answered(
        slot,
        Call {
            method,
            body,
            status: status.as_u16(),
            at,
        },
    );
    (status, Json(json)).into_response()
}

/// A file uploaded in a `multipart/form-data` request.
#[derive(Debug)]
struct FormFile {
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

/// What a call carries: its parameters, and the files of a form.
#[derive(Debug, Default)]
struct Body {
    params: Params,
    files: HashMap<String, FormFile>,
}

/// The body as recorded (`{}` when empty, `Value::Null` when it cannot be read; a form's files as
/// `{"file_name", "size"}`) and what it carries, or why it carries nothing.
async fn read_body(headers: &HeaderMap, raw: Bytes) -> (Value, Result<Body, ApiError>) {
    // Parameterless methods such as getMe are often called with no body at all.
    if raw.is_empty() {
        return (json!({}), Ok(Body::default()));
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("multipart/form-data") {
        return read_form(content_type, raw).await;
    }
    if !content_type.starts_with("application/json") {
        return (
            Value::Null,
            Err(ApiError::bad_request(
                "the fake Telegram reads only JSON bodies (Content-Type: application/json) and forms (multipart/form-data)",
            )),
        );
    }
    match serde_json::from_slice(&raw) {
        Ok(Value::Object(params)) => (
            Value::Object(params.clone()),
            Ok(Body {
                params,
                files: HashMap::new(),
            }),
        ),
        Ok(other) => (
            other,
            Err(ApiError::bad_request(
                "the request body must be a JSON object",
            )),
        ),
        Err(_) => (
            Value::Null,
            Err(ApiError::bad_request("can't parse JSON request body")),
        ),
    }
}

/// A `multipart/form-data` body: its text fields as parameters (a field that is JSON, such as
/// `reply_parameters` or a number, read as that JSON, as Telegram does), its files by field name.
async fn read_form(content_type: &str, raw: Bytes) -> (Value, Result<Body, ApiError>) {
    let unreadable = |e: multer::Error| {
        (
            Value::Null,
            Err(ApiError::bad_request(format!("can't parse the form: {e}"))),
        )
    };
    let boundary = match multer::parse_boundary(content_type) {
        Ok(boundary) => boundary,
        Err(e) => return unreadable(e),
    };
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(raw) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut body = Body::default();
    let mut recorded = Map::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return unreadable(e),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let bytes = match field.bytes().await {
            Ok(bytes) => bytes.to_vec(),
            Err(e) => return unreadable(e),
        };
        if file_name.is_some() {
            recorded.insert(
                name.clone(),
                json!({"file_name": file_name, "content_type": content_type, "size": bytes.len()}),
            );
            body.files.insert(
                name,
                FormFile {
                    file_name,
                    content_type,
                    bytes,
                },
            );
        } else {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            recorded.insert(name.clone(), value.clone());
            body.params.insert(name, value);
        }
    }
    (Value::Object(recorded), Ok(body))
}

/// `GET /file/bot<token>/<file_path>`: the bytes of a file `getFile` prepared.
async fn download(
    State(app): State<AppState>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    if bot.strip_prefix("bot") != Some(TOKEN) {
        let error = ApiError::new(401, "Unauthorized");
        return (error.status(), Json(error.body())).into_response();
    }
    let found = {
        let mut state = app.shared.state();
        let found = state
            .files
            .values()
            .find(|(file_path, _)| *file_path == path)
            .map(|(_, bytes)| bytes.clone());
        if found.is_some() {
            state.downloads.push(path);
        }
        found
    };
    match found {
        Some(bytes) => ([(CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        None => not_found().await,
    }
}

/// Answers one call, checking in Telegram's order: token, injected failure, method, body.
async fn answer(
    app: &AppState,
    bot: &str,
    method: &str,
    body: Result<Body, ApiError>,
) -> Result<Value, ApiError> {
    if bot.strip_prefix("bot") != Some(TOKEN) {
        return Err(ApiError::new(401, "Unauthorized"));
    }
    let failure = app
        .shared
        .state()
        .failures
        .get_mut(method)
        .and_then(VecDeque::pop_front);
    if let Some(failure) = failure {
        return Err(failure.into());
    }
    let method = Method::from_name(method).ok_or_else(|| ApiError::new(404, "Not Found"))?;
    let body = body?;
    let params = &body.params;
    match method {
        Method::GetMe => Ok(get_me()),
        Method::GetUpdates => get_updates(app, params).await,
        Method::SetWebhook => app.shared.state().set_webhook(params),
        Method::DeleteWebhook => app.shared.state().delete_webhook(params),
        Method::SendMessage => app.shared.state().send_message(params),
        Method::EditMessageText => app.shared.state().edit_message_text(params),
        Method::EditMessageReplyMarkup => app.shared.state().edit_message_reply_markup(params),
        Method::SendChatAction => send_chat_action(params),
        Method::SetMyCommands => app.shared.state().set_my_commands(params),
        Method::SetMessageReaction => app.shared.state().set_message_reaction(params),
        Method::AnswerCallbackQuery => app.shared.state().answer_callback_query(params),
        Method::GetFile => app.shared.state().get_file(params),
        Method::SendPhoto | Method::SendDocument => app.shared.state().send_file(method, &body),
    }
}

/// The bot as a Telegram user.
fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Fake bot", "username": "fake_telegram_bot"})
}

fn get_me() -> Value {
    let mut me = bot_user();
    me["can_join_groups"] = json!(true);
    me["can_read_all_group_messages"] = json!(false);
    me["supports_inline_queries"] = json!(false);
    me
}

/// `getUpdates`: confirms what the offset says, then returns the pending updates, waiting up to
/// `timeout` seconds for one when there are none (long polling).
async fn get_updates(app: &AppState, params: &Params) -> Result<Value, ApiError> {
    let offset = optional_int(params, "offset")?;
    // Telegram clamps the limit into 1..=100 rather than rejecting it.
    let limit = optional_int(params, "limit")?
        .unwrap_or(MAX_UPDATES_PER_POLL)
        .clamp(1, MAX_UPDATES_PER_POLL);
    let limit = usize::try_from(limit).unwrap_or(1);
    let timeout = optional_int(params, "timeout")?.unwrap_or(0);
    let timeout = Duration::from_secs(u64::try_from(timeout).unwrap_or(0));

    // Subscribed before the first look, so a push between the look and the wait still wakes us.
    let mut pushed = app.shared.updates_pushed.subscribe();
    {
        let mut state = app.shared.state();
        if state.webhook.is_some() {
            return Err(ApiError::new(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use \
                 deleteWebhook to delete the webhook first",
            ));
        }
        state.confirm(offset);
    }
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        let updates = app.shared.state().first_updates(limit);
        if !updates.is_empty() {
            return Ok(Value::Array(updates));
        }
        tokio::select! {
            // The sender lives in `app.shared`, so this only ever reports a push.
            _ = pushed.changed() => {}
            () = &mut deadline => return Ok(json!([])),
            () = stopped(app.stop.clone()) => return Ok(json!([])),
        }
    }
}

fn send_chat_action(params: &Params) -> Result<Value, ApiError> {
    chat_id(params)?;
    match optional_str(params, "action")? {
        Some(action) if CHAT_ACTIONS.contains(&action) => Ok(json!(true)),
        _ => Err(ApiError::wrong_parameter("action")),
    }
}

/// A message from the bot in a private chat, as `sendMessage` and `editMessageText` return it.
fn bot_message(chat_id: i64, message_id: i64, visible_text: &str) -> Value {
    json!({
        "message_id": message_id,
        "from": bot_user(),
        "chat": {"id": chat_id, "type": "private"},
        "date": unix_time(),
        "text": visible_text,
    })
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The required `message_id` parameter.
fn message_id(params: &Params) -> Result<i64, ApiError> {
    optional_int(params, "message_id")?
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))
}

fn chat_id(params: &Params) -> Result<i64, ApiError> {
    optional_int(params, "chat_id")?.ok_or_else(|| ApiError::bad_request("chat_id is empty"))
}

/// An integer parameter; `null` counts as absent, any other non-integer is a 400.
fn optional_int(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::wrong_parameter(name)),
    }
}

/// A string parameter; `null` counts as absent, any other non-string is a 400.
fn optional_str<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, ApiError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_str()
            .map(Some)
            .ok_or_else(|| ApiError::wrong_parameter(name)),
    }
}

/// A boolean parameter; `null` counts as absent, any other non-boolean is a 400.
fn optional_bool(params: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_bool()
            .map(Some)
            .ok_or_else(|| ApiError::wrong_parameter(name)),
    }
}

/// The `reply_markup` of a message, which the bot only uses for inline keyboards: rows of buttons,
/// each with a text and 1-64 bytes of `callback_data`.
fn inline_keyboard(params: &Params) -> Result<Option<Value>, ApiError> {
    let markup = match params.get("reply_markup") {
        None | Some(Value::Null) => return Ok(None),
        Some(markup) => markup,
    };
    let Some(rows) = markup["inline_keyboard"].as_array() else {
        return Err(ApiError::bad_request(
            "the fake accepts only inline keyboards as reply_markup",
        ));
    };
    for button in rows
        .iter()
        .flat_map(|row| row.as_array().into_iter().flatten())
    {
        if button["text"].as_str().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request("BUTTON_TEXT_INVALID"));
        }
        let data = button["callback_data"].as_str().unwrap_or_default();
        if data.is_empty() || data.len() > MAX_CALLBACK_DATA_BYTES {
            return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
        }
    }
    if rows.iter().any(|row| !row.is_array()) {
        return Err(ApiError::bad_request("reply markup rows must be arrays"));
    }
    Ok(Some(markup.clone()))
}

/// A parameter that is an array of strings; `null` counts as absent.
fn optional_str_list(params: &Params, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| ApiError::wrong_parameter(name)),
        Some(_) => Err(ApiError::wrong_parameter(name)),
    }
}

/// Telegram's rule for webhook secret tokens: 1 to 256 characters of `A-Za-z0-9_-`.
fn is_valid_secret_token(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a message text as Telegram does before sending or editing, and returns what users
/// see: the text with tags removed and entities decoded, leading and trailing whitespace trimmed.
fn visible_text(text: Option<&str>, parse_mode: Option<&str>) -> Result<String, ApiError> {
    let text = text.unwrap_or_default();
    let visible = match parse_mode {
        None => text.to_owned(),
        // Telegram reads parse modes case-insensitively.
        Some(mode) if mode.eq_ignore_ascii_case("HTML") => parse_html(text)
            .map_err(|reason| ApiError::bad_request(format!("can't parse entities: {reason}")))?,
        Some(_) => return Err(ApiError::bad_request("unsupported parse_mode")),
    };
    let visible = visible.trim();
    if visible.is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if visible.encode_utf16().count() > MAX_TEXT_UTF16_UNITS {
        return Err(ApiError::bad_request("message is too long"));
    }
    Ok(visible.to_owned())
}

/// Parses Telegram's HTML subset strictly and returns the visible text, or the reason it cannot
/// be parsed (worded like Telegram's, with the byte offset of the offending tag or `&`).
///
/// Stricter than Telegram, which lets an `&` that starts no entity, an unquoted attribute value
/// or an unknown attribute through: its documentation asks for all of them to be avoided.
fn parse_html(html: &str) -> Result<String, String> {
    let mut visible = String::new();
    // The names of the tags opened and not yet closed, innermost last.
    let mut open: Vec<String> = Vec::new();
    let mut pos = 0;
    while pos < html.len() {
        let rest = &html[pos..];
        if rest.starts_with("</") {
            pos = close_tag(html, pos, &mut open)?;
        } else if rest.starts_with('<') {
            pos = open_tag(html, pos, &mut open)?;
        } else {
            let text_end = rest.find('<').map_or(html.len(), |n| pos + n);
            visible.push_str(&decode_entities(html, pos, text_end)?);
            pos = text_end;
        }
    }
    match open.last() {
        // Telegram names the tag but gives no offset here.
        Some(tag) => Err(format!(
            "Can't find end tag corresponding to start tag \"{tag}\""
        )),
        None => Ok(visible),
    }
}

/// Decodes the entities in `html[start..end]`, a stretch without tags; an `&` that starts no
/// entity is an error at its byte offset in `html`.
fn decode_entities(html: &str, start: usize, end: usize) -> Result<String, String> {
    let mut decoded = String::new();
    let mut pos = start;
    while let Some(n) = html[pos..end].find('&') {
        decoded.push_str(&html[pos..pos + n]);
        pos += n;
        let (character, length) = decode_entity(&html[pos..end])
            .ok_or_else(|| format!("Unescaped \"&\" at byte offset {pos}"))?;
        decoded.push(character);
        pos += length;
    }
    decoded.push_str(&html[pos..end]);
    Ok(decoded)
}

/// Decodes the entity `text` starts with (`&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#NN;`, `&#xHH;`,
/// the `;` required) into the character and the entity's length in bytes.
fn decode_entity(text: &str) -> Option<(char, usize)> {
    let body_end = text[1..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
        .map(|n| n + 1)?;
    if !text[body_end..].starts_with(';') {
        return None;
    }
    let decoded = match &text[1..body_end] {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        body => {
            let number = body.strip_prefix('#')?;
            let code = match number.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|&c| c != '\0')?
        }
    };
    Some((decoded, body_end + 1))
}

/// The position of the first character at or after `pos` that is whitespace or one of `stops`
/// (the end of `html` if there is none).
fn word_end(html: &str, pos: usize, stops: &[char]) -> usize {
    html[pos..]
        .find(|c: char| c.is_ascii_whitespace() || stops.contains(&c))
        .map_or(html.len(), |n| pos + n)
}

fn skip_whitespace(html: &str, pos: usize) -> usize {
    html[pos..]
        .find(|c: char| !c.is_ascii_whitespace())
        .map_or(html.len(), |n| pos + n)
}

/// Parses the start tag at `start` (a `<`), checks it and its attributes, pushes its name on
/// `open` and returns the position after its `>`.
fn open_tag(html: &str, start: usize, open: &mut Vec<String>) -> Result<usize, String> {
    let at = |reason: String| format!("{reason} at byte offset {start}");
    let unclosed = || format!("Unclosed start tag at byte offset {start}");
    let mut pos = word_end(html, start + 1, &['>']);
    if pos == html.len() {
        return Err(unclosed());
    }
    let tag = html[start + 1..pos].to_ascii_lowercase();
    if !HTML_TAGS.contains(&tag.as_str()) {
        return Err(at(format!("Unsupported start tag \"{tag}\"")));
    }
    let mut attributes = Vec::new();
    loop {
        pos = skip_whitespace(html, pos);
        if pos == html.len() {
            return Err(unclosed());
        }
        if html[pos..].starts_with('>') {
            break;
        }
        let name_start = pos;
        pos = word_end(html, pos, &['>', '=']);
        let attribute = html[name_start..pos].to_owned();
        if attribute.is_empty() {
            return Err(at(format!("Empty attribute name in the tag \"{tag}\"")));
        }
        let after_name = skip_whitespace(html, pos);
        if !html[after_name..].starts_with('=') {
            attributes.push((attribute, None));
            continue;
        }
        pos = skip_whitespace(html, after_name + 1);
        let quote = html[pos..]
            .chars()
            .next()
            .filter(|&c| c == '"' || c == '\'')
            .ok_or_else(|| {
                at(format!(
                    "Expected a quoted value of the attribute \"{attribute}\" in the tag \"{tag}\""
                ))
            })?;
        let value_start = pos + 1;
        let value_end = html[value_start..]
            .find(quote)
            .map(|n| value_start + n)
            .ok_or_else(unclosed)?;
        attributes.push((
            attribute,
            Some(decode_entities(html, value_start, value_end)?),
        ));
        pos = value_end + 1;
    }
    check_attributes(&tag, &attributes, open.last().map(String::as_str)).map_err(at)?;
    open.push(tag);
    Ok(pos + 1)
}

/// Checks the attributes of a start tag against what Telegram documents for it.
fn check_attributes(
    tag: &str,
    attributes: &[(String, Option<String>)],
    parent: Option<&str>,
) -> Result<(), String> {
    for (attribute, value) in attributes {
        let allowed = match (tag, attribute.as_str(), value.as_deref()) {
            ("a", "href", Some(_))
            | ("span", "class", Some("tg-spoiler"))
            | ("blockquote", "expandable", None) => true,
            ("code", "class", Some(class)) => {
                if parent != Some("pre") {
                    return Err(
                        "A language class of the tag \"code\" is allowed only directly inside \"pre\""
                            .to_owned(),
                    );
                }
                class
                    .strip_prefix("language-")
                    .is_some_and(|l| !l.is_empty())
            }
            _ => false,
        };
        if !allowed {
            return Err(format!(
                "Unsupported attribute \"{attribute}\" in the tag \"{tag}\""
            ));
        }
    }
    let has = |name: &str| attributes.iter().any(|(attribute, _)| attribute == name);
    match tag {
        "a" if !has("href") => Err("Tag \"a\" must have an attribute \"href\"".to_owned()),
        "span" if !has("class") => Err("Tag \"span\" must have class \"tg-spoiler\"".to_owned()),
        _ => Ok(()),
    }
}

/// Parses the end tag at `start` (a `</`), checks that it closes the innermost open tag, pops
/// it and returns the position after its `>`.
fn close_tag(html: &str, start: usize, open: &mut Vec<String>) -> Result<usize, String> {
    let name_stop = word_end(html, start + 2, &['>']);
    let name = html[start + 2..name_stop].to_ascii_lowercase();
    let pos = skip_whitespace(html, name_stop);
    if !html[pos..].starts_with('>') {
        return Err(format!("Unclosed end tag at byte offset {start}"));
    }
    let Some(innermost) = open.pop() else {
        return Err(format!("Unexpected end tag at byte offset {start}"));
    };
    if innermost != name {
        return Err(format!(
            "Unmatched end tag at byte offset {start}, expected \"</{innermost}>\", found \"</{name}>\""
        ));
    }
    Ok(pos + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_tags_are_removed_and_entities_decoded() {
        assert_eq!(
            parse_html("<b>bold <i>both</i></b> &lt;b&gt; &amp; &quot;&#65;&#x1F600;&quot;"),
            Ok("bold both <b> & \"A😀\"".to_owned())
        );
        assert_eq!(
            parse_html("<pre><code class=\"language-rust\">fn main() {}</code></pre>"),
            Ok("fn main() {}".to_owned())
        );
        assert_eq!(
            parse_html(
                "<a href='https://e.com/?a=1&amp;b=2'>link</a> <span class=\"tg-spoiler\">s</span> \
                 <tg-spoiler>t</tg-spoiler> <blockquote expandable>q</blockquote> > alone"
            ),
            Ok("link s t q > alone".to_owned())
        );
    }

    #[test]
    fn html_errors_name_the_reason_and_byte_offset() {
        let cases = [
            (
                "é<script>",
                "Unsupported start tag \"script\" at byte offset 2",
            ),
            ("a < b", "Unsupported start tag \"\" at byte offset 2"),
            ("a <", "Unclosed start tag at byte offset 2"),
            ("a & b", "Unescaped \"&\" at byte offset 2"),
            ("&lt", "Unescaped \"&\" at byte offset 0"),
            ("&#0;", "Unescaped \"&\" at byte offset 0"),
            ("&nbsp;", "Unescaped \"&\" at byte offset 0"),
            (
                "<b>x",
                "Can't find end tag corresponding to start tag \"b\"",
            ),
            ("x</b>", "Unexpected end tag at byte offset 1"),
            (
                "<b><i>x</b></i>",
                "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\"",
            ),
            ("<b>x</b", "Unclosed end tag at byte offset 4"),
            (
                "<a>x</a>",
                "Tag \"a\" must have an attribute \"href\" at byte offset 0",
            ),
            (
                "<a href=x>x</a>",
                "Expected a quoted value of the attribute \"href\" in the tag \"a\" at byte offset 0",
            ),
            (
                "<b class=\"x\">x</b>",
                "Unsupported attribute \"class\" in the tag \"b\" at byte offset 0",
            ),
            (
                "<span class=\"x\">x</span>",
                "Unsupported attribute \"class\" in the tag \"span\" at byte offset 0",
            ),
            (
                "<span>x</span>",
                "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0",
            ),
            (
                "<code class=\"language-rust\">x</code>",
                "A language class of the tag \"code\" is allowed only directly inside \"pre\" at byte offset 0",
            ),
            (
                "<a href=\"a & b\">x</a>",
                "Unescaped \"&\" at byte offset 11",
            ),
            ("<a href=\"x>x</a>", "Unclosed start tag at byte offset 0"),
        ];
        for (html, reason) in cases {
            assert_eq!(parse_html(html), Err(reason.to_owned()), "{html}");
        }
    }
}
