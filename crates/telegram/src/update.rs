//! The parts of Telegram's `Update` the bot reads; everything else in an update is ignored.

use serde::Deserialize;

/// One update, from the webhook body or `getUpdates`.
#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub update_id: i64,
    /// A new message; `None` for the update kinds the bot does not handle (edits, callbacks, …).
    pub message: Option<Message>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub from: Option<User>,
    pub chat: Chat,
    pub text: Option<String>,
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
