//! The parts of Telegram's `Update` the bot reads; everything else in an update is ignored.

use serde::Deserialize;

/// One update, from the webhook body or `getUpdates`.
#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub update_id: i64,
    /// A new message.
    pub message: Option<Message>,
    /// A press of one of the bot's inline buttons. Other kinds (edits, …) are ignored.
    pub callback_query: Option<CallbackQuery>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub from: Option<User>,
    pub chat: Chat,
    pub text: Option<String>,
    /// The text of a photo or document.
    pub caption: Option<String>,
    /// The message this one answers (Telegram leaves out that message's own reply).
    pub reply_to_message: Option<Box<Message>>,
}

/// A press of an inline button.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackQuery {
    /// What [`crate::api::BotApi::answer_callback_query`] answers.
    pub id: String,
    pub from: User,
    /// The bot's message with the button; `None` for buttons of inline-mode messages.
    pub message: Option<Message>,
    /// The button's `callback_data`, as the user's client sent it.
    pub data: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Chat {
    /// A one-to-one chat with the bot: the only kind it answers in.
    pub fn is_private(&self) -> bool {
        self.kind == "private"
    }
}
