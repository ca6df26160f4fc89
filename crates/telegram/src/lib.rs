//! The Telegram bot of serverless-openclaw.
//!
//! - [`format`]: Markdown to Telegram HTML with correct escaping, and splitting below 4096 characters.

pub mod format;
