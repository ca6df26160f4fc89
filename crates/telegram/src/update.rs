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
    /// A photo: the sizes Telegram keeps of it, smallest first.
    pub photo: Option<Vec<PhotoSize>>,
    /// A file sent as a file (Telegram keeps its bytes and name as sent).
    pub document: Option<Document>,
    /// Set on each message of an album (photos sent together, one message each).
    pub media_group_id: Option<String>,
    /// A voice note recorded in the client.
    pub voice: Option<Audio>,
    /// A music or audio file sent as such.
    pub audio: Option<Audio>,
    /// The message this one answers (Telegram leaves out that message's own reply).
    pub reply_to_message: Option<Box<Message>>,
}

/// One size of a photo.
#[derive(Debug, Clone, Deserialize)]
pub struct PhotoSize {
    /// What `getFile` takes.
    pub file_id: String,
    pub width: u32,
    pub height: u32,
    pub file_size: Option<u64>,
}

/// A file sent as a file.
#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    /// What `getFile` takes.
    pub file_id: String,
    /// The name the sender's client gave it.
    pub file_name: Option<String>,
    /// The type the sender's client declared.
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
}

/// A voice note or audio file (the fields Telegram's `Voice` and `Audio` share that the bot reads;
/// a voice note has no name).
#[derive(Debug, Clone, Deserialize)]
pub struct Audio {
    /// What `getFile` takes.
    pub file_id: String,
    /// Its length in seconds.
    pub duration: Option<u32>,
    pub file_name: Option<String>,
    /// The type the sender's client declared (`audio/ogg` for a voice note).
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
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
