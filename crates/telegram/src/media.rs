//! The files users send the bot: a photo (the largest size Telegram keeps of it within the image
//! limit) or a document, fetched from Telegram (`getFile`, then the download) and stored through the
//! attachment rules every surface shares ([`serverless_openclaw_core::attachments`]: type sniffed
//! from the bytes, size limits, the user's quota), so nothing is checked here that a web upload is
//! not, and nothing differently. A refusal is told in plain words and stores nothing.

use serverless_openclaw_core::attachments::{
    Attachment, AttachmentError, AttachmentKind, Attachments, MAX_FILE_BYTES, MAX_IMAGE_BYTES,
    too_large,
};
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::PortError;

use crate::api::BotApi;
use crate::update::Message;

/// A file a message carries, before it is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingFile {
    /// What `getFile` takes.
    pub file_id: String,
    /// The name it is stored under (a photo has none: `photo-<message id>.jpg`).
    pub name: String,
    /// The type the sender's client declared; empty for a photo (its bytes decide).
    pub declared_type: String,
    /// A photo goes to the model as an image; a document as whatever its bytes are.
    pub photo: bool,
}

impl IncomingFile {
    /// The file `message` carries, if any; or why it cannot be taken, known before fetching it
    /// (every size of a photo, or a document, larger than the limits).
    pub fn of(message: &Message) -> Option<Result<IncomingFile, NotStored>> {
        if let Some(sizes) = &message.photo {
            let within = sizes
                .iter()
                .filter(|size| size.file_size.is_none_or(|n| n <= MAX_IMAGE_BYTES))
                .max_by_key(|size| u64::from(size.width) * u64::from(size.height));
            return Some(match within {
                Some(size) => Ok(IncomingFile {
                    file_id: size.file_id.clone(),
                    name: format!("photo-{}.jpg", message.message_id),
                    declared_type: String::new(),
                    photo: true,
                }),
                None => Err(refused(
                    "photo",
                    too_large(AttachmentKind::Image, MAX_IMAGE_BYTES),
                )),
            });
        }
        let document = message.document.as_ref()?;
        if document.file_size.is_some_and(|n| n > MAX_FILE_BYTES) {
            return Some(Err(refused(
                "file",
                too_large(AttachmentKind::File, MAX_FILE_BYTES),
            )));
        }
        Some(Ok(IncomingFile {
            file_id: document.file_id.clone(),
            name: document
                .file_name
                .clone()
                .unwrap_or_else(|| format!("file-{}", message.message_id)),
            declared_type: document.mime_type.clone().unwrap_or_default(),
            photo: false,
        }))
    }

    /// "photo" or "file", for the words of a refusal.
    pub fn noun(&self) -> &'static str {
        if self.photo { "photo" } else { "file" }
    }
}

/// Why a file was not stored.
#[derive(Debug)]
pub enum NotStored {
    /// The user is told this, in plain words.
    Refused(String),
    /// Our storage failed: the update is to be delivered again.
    Storage(PortError),
}

/// The words of a refusal of a "photo" or "file".
fn refused(noun: &str, why: impl std::fmt::Display) -> NotStored {
    NotStored::Refused(format!("I couldn't take that {noun}: {why}."))
}

/// Fetches `file` from Telegram and stores it as an attachment of `user`'s `conversation` (not yet
/// linked to a message). Nothing is stored when it is refused.
pub async fn store(
    api: &BotApi,
    attachments: &Attachments,
    user: &UserId,
    conversation: &ConversationId,
    file: &IncomingFile,
) -> Result<Attachment, NotStored> {
    let too_big = || {
        let (kind, limit) = if file.photo {
            (AttachmentKind::Image, MAX_IMAGE_BYTES)
        } else {
            (AttachmentKind::File, MAX_FILE_BYTES)
        };
        refused(file.noun(), too_large(kind, limit))
    };
    let could_not_fetch = |e: crate::api::ApiError| {
        if e.is_file_too_big() {
            return too_big();
        }
        tracing::warn!(error = %e, "fetching a file from Telegram failed");
        NotStored::Refused(format!(
            "I couldn't download that {} from Telegram; please send it again.",
            file.noun()
        ))
    };
    let prepared = api.get_file(&file.file_id).await.map_err(could_not_fetch)?;
    let Some(path) = prepared.file_path else {
        return Err(too_big());
    };
    // Files reach the agent only within the core's limits; reading past the larger one is useless.
    let bytes = api
        .download(&path, MAX_FILE_BYTES)
        .await
        .map_err(could_not_fetch)?;
    attachments
        .upload(user, conversation, &file.name, &file.declared_type, &bytes)
        .await
        .map_err(|e| match e {
            AttachmentError::Storage(e) => NotStored::Storage(e),
            refusal => refused(file.noun(), refusal),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::Update;

    fn message(json: serde_json::Value) -> Message {
        let update: Update = serde_json::from_value(serde_json::json!({
            "update_id": 1,
            "message": json,
        }))
        .unwrap();
        update.message.unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({"message_id": 7, "chat": {"id": 1, "type": "private"}})
    }

    #[test]
    fn a_photo_is_its_largest_size_within_the_image_limit() {
        let mut json = base();
        json["photo"] = serde_json::json!([
            {"file_id": "small", "width": 90, "height": 60, "file_size": 1_000},
            {"file_id": "large", "width": 1280, "height": 853, "file_size": 200_000},
            {"file_id": "huge", "width": 5000, "height": 4000, "file_size": MAX_IMAGE_BYTES + 1},
        ]);
        let file = IncomingFile::of(&message(json)).unwrap().unwrap();
        assert_eq!(file.file_id, "large");
        assert_eq!(file.name, "photo-7.jpg");
        assert!(file.photo && file.declared_type.is_empty());
    }

    #[test]
    fn a_photo_or_document_over_the_limits_is_refused_before_it_is_fetched() {
        let mut json = base();
        json["photo"] = serde_json::json!([
            {"file_id": "huge", "width": 5000, "height": 4000, "file_size": MAX_IMAGE_BYTES + 1},
        ]);
        let Some(Err(NotStored::Refused(words))) = IncomingFile::of(&message(json)) else {
            panic!("refused")
        };
        assert_eq!(
            words,
            "I couldn't take that photo: the image is larger than 10 MiB, the limit for images."
        );
        let mut json = base();
        json["document"] = serde_json::json!({
            "file_id": "d", "file_name": "big.pdf", "mime_type": "application/pdf",
            "file_size": MAX_FILE_BYTES + 1,
        });
        let Some(Err(NotStored::Refused(words))) = IncomingFile::of(&message(json)) else {
            panic!("refused")
        };
        assert!(words.contains("20 MiB"), "{words}");
    }

    #[test]
    fn a_document_keeps_its_name_and_declared_type() {
        let mut json = base();
        json["document"] = serde_json::json!({
            "file_id": "d", "file_name": "notes.md", "mime_type": "text/markdown", "file_size": 12,
        });
        let file = IncomingFile::of(&message(json)).unwrap().unwrap();
        assert_eq!(
            (file.name.as_str(), file.declared_type.as_str(), file.photo),
            ("notes.md", "text/markdown", false)
        );
        assert!(IncomingFile::of(&message(base())).is_none(), "text only");
    }
}
