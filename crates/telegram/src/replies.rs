//! A turn's progress in its Telegram chat: "typing…" while the agent wakes up and thinks, the reply
//! streamed into one message edited at most once per [`EDIT_INTERVAL`], then the final reply as
//! formatted parts below Telegram's 4096-character limit (sent again as plain text if Telegram
//! refuses the formatting), or the error in plain words. The files the agent attached to its reply
//! follow its text: images as photos (`sendPhoto`), other files as documents (`sendDocument`).
//!
//! A turn that calls tools shows a progress message instead of the streamed reply: the tool lines
//! ([`crate::progress`]), edited as calls start and end under the same once-per-second limit. Its
//! answer is then sent as new messages, because an edit does not notify the phone after a long turn,
//! and the progress message is finalised as "Worked for N s" above its lines (kept, not deleted: it
//! is the turn's record in the chat, as on the web page).
//!
//! While the turn runs, the live message carries a Stop button ([`Button::Stop`]); every edit repeats
//! it, and the edits that end the turn leave it out, which removes it. An error (a failed or stopped
//! turn) comes with a Retry button ([`Button::Retry`]) that runs the conversation's last message again.

use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_core::attachments::{AttachmentKind, Attachments};
use serverless_openclaw_core::domain::{ReplyTarget, Turn, TurnActivity};
use serverless_openclaw_core::ports::ChannelReplies;
use serverless_openclaw_core::protocol::{AttachmentView, ServerFrame, TurnStatus};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::api::{
    ApiError, BotApi, Format, MAX_DOCUMENT_UPLOAD_BYTES, MAX_PHOTO_UPLOAD_BYTES, Upload,
};
use crate::buttons::{Button, Keyboard};
use crate::format::{Part, render_reply, streaming_preview};
use crate::progress::progress_text;

/// The shortest time between two edits of the streamed message (Telegram allows about one per
/// second per chat).
pub const EDIT_INTERVAL: Duration = Duration::from_secs(1);
/// How often "typing…" is renewed while nothing is shown yet (Telegram shows it for five seconds).
const TYPING_INTERVAL: Duration = Duration::from_secs(4);
/// The most characters of a transcript's echo: one Telegram message holds 4096.
const MAX_ECHO_CHARS: usize = 4_000;

/// The image types sent with `sendPhoto`; other images (a GIF would lose its animation) go as
/// documents.
const PHOTO_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// [`ChannelReplies`] for Telegram chats.
#[derive(Clone)]
pub struct TelegramReplies {
    api: BotApi,
    /// Where the files the agent attached to a reply are read from, to send them after its text;
    /// without it, a reply's files stay on the web.
    attachments: Option<Attachments>,
}

impl TelegramReplies {
    pub fn new(api: BotApi) -> Self {
        Self {
            api,
            attachments: None,
        }
    }

    /// Sends the files the agent attached to a reply, read from `attachments`.
    pub fn with_attachments(mut self, attachments: Attachments) -> Self {
        self.attachments = Some(attachments);
        self
    }
}

/// One turn's delivery into one chat.
struct Delivery<'a> {
    api: &'a BotApi,
    turn: &'a Turn,
    attachments: Option<&'a Attachments>,
    chat: i64,
    reply_to: i64,
    /// The Stop button of the live message, and the Retry button of an error (`None` when the
    /// conversation id is too long for a button).
    stop: Option<Keyboard>,
    retry: Option<Keyboard>,
    /// The reply so far.
    text: String,
    /// The turn's tool calls so far; while there are none, the live message streams the reply.
    activity: TurnActivity,
    /// The live message (the streamed reply, or the progress message once a tool ran), once sent.
    shown: Option<i64>,
    /// When the streamed message may be edited next.
    next_edit: Instant,
    /// The text changed since it was last shown.
    dirty: bool,
    /// When "typing…" is renewed, while the agent works and nothing is shown.
    next_typing: Option<Instant>,
}

#[async_trait]
impl ChannelReplies for TelegramReplies {
    async fn deliver(&self, turn: &Turn, mut frames: mpsc::UnboundedReceiver<ServerFrame>) {
        let Some(ReplyTarget::Telegram {
            chat_id,
            message_id,
        }) = turn.reply_to
        else {
            return;
        };
        let mut delivery = Delivery {
            api: &self.api,
            turn,
            attachments: self.attachments.as_ref(),
            chat: chat_id,
            reply_to: message_id,
            stop: Keyboard::single("⏹ Stop", &Button::Stop(turn.conversation_id.clone())),
            retry: Keyboard::single("🔁 Retry", &Button::Retry(turn.conversation_id.clone())),
            text: String::new(),
            activity: TurnActivity::default(),
            shown: None,
            next_edit: Instant::now(),
            dirty: false,
            next_typing: None,
        };
        loop {
            let edit_due = delivery.dirty.then_some(delivery.next_edit);
            tokio::select! {
                frame = frames.recv() => match frame {
                    Some(frame) => delivery.frame(frame).await,
                    None => break,
                },
                () = wait(edit_due) => delivery.show().await,
                () = wait(delivery.next_typing) => delivery.typing().await,
            }
        }
    }
}

/// Waits until `at`, or forever when there is nothing to wait for.
async fn wait(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Delivery<'_> {
    async fn frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Status {
                status: TurnStatus::Starting | TurnStatus::Running,
                ..
            } if self.shown.is_none() => self.typing().await,
            ServerFrame::Status {
                status: TurnStatus::Idle,
                ..
            } => self.next_typing = None,
            ServerFrame::Delta { text, replace, .. } => {
                if replace {
                    self.text = text;
                } else {
                    self.text.push_str(&text);
                }
                self.dirty = true;
                self.next_typing = None;
            }
            ServerFrame::Activity { tool, .. } => {
                self.activity.record(&tool);
                self.dirty = true;
            }
            ServerFrame::Message {
                content,
                activity,
                attachments,
                ..
            } => {
                let has_files = !attachments.is_empty();
                match activity {
                    Some(activity) if self.activity.tool_count > 0 => {
                        self.finish_after_tools(&content, &activity, has_files)
                            .await
                    }
                    _ => self.finish(&content, has_files).await,
                }
                for file in &attachments {
                    self.send_attachment(file).await;
                }
            }
            ServerFrame::Error { message, .. } => {
                self.dirty = false;
                self.next_typing = None;
                if let Some(id) = self.shown {
                    let removed = self.api.remove_keyboard(self.chat, id).await;
                    log_failure(removed, "removing the Stop button");
                }
                let text = format!("⚠️ {message}");
                self.send_with(&text, Format::Plain, self.retry.as_ref())
                    .await;
            }
            // What was heard in a voice note, before the agent answers it.
            // What was heard in a voice note, before the agent answers it (a long one cut to fit
            // one Telegram message: the whole transcript is in the web history).
            ServerFrame::Transcript { text, .. } => {
                let echo = format!("🎤 {text}");
                let echo = match echo.char_indices().nth(MAX_ECHO_CHARS) {
                    Some((cut, _)) => format!("{}…", &echo[..cut]),
                    None => echo,
                };
                self.send(&echo, Format::Plain).await;
            }
            // What queued work of a command did (`/compact`).
            ServerFrame::Notice { text, .. } => {
                self.next_typing = None;
                self.send(&text, Format::Plain).await;
            }
            _ => {}
        }
    }

    async fn typing(&mut self) {
        if let Err(e) = self.api.send_typing(self.chat).await {
            tracing::warn!(error = %e, chat = self.chat, "could not show typing");
        }
        self.next_typing = Some(Instant::now() + TYPING_INTERVAL);
    }

    /// Shows the reply so far in the streamed message (plain text: half a reply may not parse), or the
    /// progress of a turn that called tools.
    async fn show(&mut self) {
        self.dirty = false;
        self.next_edit = Instant::now() + EDIT_INTERVAL;
        let preview = if self.activity.tool_count > 0 {
            progress_text(&self.activity, None, !self.text.trim().is_empty())
        } else {
            streaming_preview(&self.text)
        };
        if preview.is_empty() {
            return;
        }
        let stop = self.stop.as_ref();
        match self.shown {
            None => self.shown = self.send_with(&preview, Format::Plain, stop).await,
            Some(id) => {
                let edited = self
                    .api
                    .edit_message_text(self.chat, id, &preview, Format::Plain, stop)
                    .await;
                log_failure(edited, "editing the streamed reply");
            }
        }
    }

    /// The final reply: the first part replaces the streamed message, the rest follow as new ones.
    /// A reply of files alone (`has_files`) needs no text; a streamed message it had (its `MEDIA:`
    /// line, before OpenClaw took it out) then says the files follow.
    async fn finish(&mut self, content: &str, has_files: bool) {
        self.dirty = false;
        self.next_typing = None;
        let mut parts = render_reply(content).into_iter();
        let Some(first) = parts.next() else {
            if has_files && self.shown.is_none() {
                return;
            }
            let empty = if has_files {
                "(The agent's files follow.)"
            } else {
                "(The agent sent an empty reply.)"
            };
            match self.shown {
                Some(id) => log_failure(
                    self.api
                        .edit_message_text(self.chat, id, empty, Format::Plain, None)
                        .await,
                    "editing the reply",
                ),
                None => drop(self.send(empty, Format::Plain).await),
            }
            return;
        };
        match self.shown {
            Some(id) => self.edit_part(id, &first).await,
            None => self.send_part(&first).await,
        }
        for part in parts {
            self.send_part(&part).await;
        }
    }

    /// The answer of a turn that called tools: the progress message says how long the agent worked,
    /// and the answer follows as new messages (which notify the phone, unlike an edit).
    async fn finish_after_tools(
        &mut self,
        content: &str,
        activity: &TurnActivity,
        has_files: bool,
    ) {
        self.dirty = false;
        self.next_typing = None;
        if let Some(id) = self.shown {
            let worked = progress_text(activity, Some(activity.worked_ms), false);
            let edited = self
                .api
                .edit_message_text(self.chat, id, &worked, Format::Plain, None)
                .await;
            log_failure(edited, "finalising the progress message");
        }
        let parts = render_reply(content);
        if parts.is_empty() && !has_files {
            self.send("(The agent sent an empty reply.)", Format::Plain)
                .await;
        }
        for part in &parts {
            self.send_part(part).await;
        }
    }

    /// Sends a file the agent attached, after the reply's text: an image as a photo (shown inline)
    /// when Telegram takes it as one, else as a document; one Telegram refuses or that cannot be
    /// read is named in a message instead.
    async fn send_attachment(&self, file: &AttachmentView) {
        let Some(attachments) = self.attachments else {
            return;
        };
        let read = attachments
            .read(&self.turn.user_id, &self.turn.conversation_id, &file.id)
            .await;
        let bytes = match read {
            Ok((_, bytes)) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a file of the reply");
                self.send(
                    &format!("(The file {} could not be sent.)", file.name),
                    Format::Plain,
                )
                .await;
                return;
            }
        };
        let as_photo = file.kind == AttachmentKind::Image
            && PHOTO_TYPES.contains(&file.media_type.as_str())
            && bytes.len() as u64 <= MAX_PHOTO_UPLOAD_BYTES;
        if as_photo {
            let sent = self.upload(Upload::Photo, file, &bytes).await;
            match sent {
                Ok(_) => return,
                // Telegram refuses some images as photos (their dimensions): a document keeps them.
                Err(e) => {
                    tracing::info!(error = %e, "Telegram refused a photo; sending it as a document")
                }
            }
        }
        if bytes.len() as u64 > MAX_DOCUMENT_UPLOAD_BYTES {
            self.send(
                &format!("(The file {} is too large to send on Telegram.)", file.name),
                Format::Plain,
            )
            .await;
            return;
        }
        if let Err(e) = self.upload(Upload::Document, file, &bytes).await {
            tracing::warn!(error = %e, "could not send a file of the reply");
            self.send(
                &format!("(The file {} could not be sent.)", file.name),
                Format::Plain,
            )
            .await;
        }
    }

    async fn upload(
        &self,
        upload: Upload,
        file: &AttachmentView,
        bytes: &[u8],
    ) -> Result<i64, ApiError> {
        self.api
            .send_file(
                self.chat,
                upload,
                &file.name,
                &file.media_type,
                bytes,
                self.reply_to,
            )
            .await
    }

    async fn edit_part(&self, id: i64, part: &Part) {
        let html = self
            .api
            .edit_message_text(self.chat, id, &part.html, Format::Html, None)
            .await;
        match html {
            Err(e) if e.is_entity_error() => {
                tracing::warn!(error = %e, "Telegram refused the formatting; sending plain text");
                let plain = self
                    .api
                    .edit_message_text(self.chat, id, &part.plain, Format::Plain, None)
                    .await;
                log_failure(plain, "editing the reply as plain text");
            }
            other => log_failure(other, "editing the reply"),
        }
    }

    async fn send_part(&self, part: &Part) {
        let html = self
            .api
            .send_message(
                self.chat,
                &part.html,
                Format::Html,
                Some(self.reply_to),
                None,
            )
            .await;
        match html {
            Ok(_) => {}
            Err(e) if e.is_entity_error() => {
                tracing::warn!(error = %e, "Telegram refused the formatting; sending plain text");
                self.send(&part.plain, Format::Plain).await;
            }
            Err(e) => tracing::warn!(error = %e, chat = self.chat, "could not send the reply"),
        }
    }

    /// Sends a message quoting the user's; its id, or `None` (logged) when Telegram refused.
    async fn send(&self, text: &str, format: Format) -> Option<i64> {
        self.send_with(text, format, None).await
    }

    /// [`Self::send`] with inline buttons.
    async fn send_with(
        &self,
        text: &str,
        format: Format,
        keyboard: Option<&Keyboard>,
    ) -> Option<i64> {
        let sent = self
            .api
            .send_message(self.chat, text, format, Some(self.reply_to), keyboard)
            .await;
        match sent {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(error = %e, chat = self.chat, "could not send to Telegram");
                None
            }
        }
    }
}

fn log_failure(result: Result<(), ApiError>, what: &str) {
    match result {
        Ok(()) => {}
        Err(e) if e.is_not_modified() => {}
        Err(e) => tracing::warn!(error = %e, "{what} failed"),
    }
}
