//! The Telegram bot of serverless-openclaw: the same bot behind the webhook on AWS and long polling in
//! local mode.
//!
//! - [`api`]: the Bot API client (the methods the bot uses; `429`s waited out).
//! - [`update`]: the parts of an update the bot reads.
//! - [`buttons`]: the inline buttons (Stop, Retry, the models of `/model`) and their callback data.
//! - [`command`]: `/start`, `/help`, `/new`, `/status`, `/link CODE`, `/unlink` or text for the agent.
//! - [`media`]: photos and documents users send, fetched and stored as attachments.
//! - [`bot`]: access control (links, link codes, allowlist), the commands, messages submitted as turns.
//! - [`replies`]: a turn's progress in the chat: typing, streamed edits or a progress message with the
//!   tool calls, the formatted final reply.
//! - [`progress`]: the text of that progress message.
//! - [`format`]: Markdown (pulldown-cmark) to Telegram HTML, and splitting below 4096 characters.
//! - [`webhook`]: the webhook request (secret header in constant time, dedupe by update id).
//! - [`poll`]: long polling for local mode.

pub mod api;
pub mod bot;
pub mod buttons;
pub mod command;
pub mod format;
pub mod media;
pub mod poll;
pub mod progress;
pub mod replies;
pub mod update;
pub mod webhook;

pub use api::BotApi;
pub use bot::{Bot, parse_allowlist};
pub use replies::TelegramReplies;
pub use webhook::Webhook;
