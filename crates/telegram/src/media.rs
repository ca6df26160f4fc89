//! The files users send the bot: a photo (the largest size Telegram keeps of it within the image
//! limit), a document, a voice note or an audio file, fetched from Telegram (`getFile`, then the download) and stored through the
//! attachment rules every surface shares ([`serverless_openclaw_core::attachments`]: type sniffed
//! from the bytes, size limits, the user's quota), so nothing is checked here that a web upload is
//! not, and nothing differently. A refusal is told in plain words and stores nothing.

use serverless_openclaw_core::attachments::{
    Attachment, AttachmentError, AttachmentKind, Attachments, MAX_AUDIO_BYTES, MAX_FILE_BYTES,
    MAX_IMAGE_BYTES, too_large,
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
    pub sent_as: SentAs,
}

/// How Telegram sent a file, which says what it may be and how large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentAs {
    /// Goes to the model as an image.
    Photo,
    /// Whatever its bytes are.
    Document,
    /// A voice note or audio file: transcribed, the transcript is the prompt.
    Voice,
}

impl SentAs {
    /// The kind it is stored as, and that kind's limit.
    fn limit(self) -> (AttachmentKind, u64) {
        match self {
            SentAs::Photo => (AttachmentKind::Image, MAX_IMAGE_BYTES),
            SentAs::Document => (AttachmentKind::File, MAX_FILE_BYTES),
            SentAs::Voice => (AttachmentKind::Audio, MAX_AUDIO_BYTES),
        }
    }
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
                    sent_as: SentAs::Photo,
                }),
                None => Err(refused(
                    "photo",
                    too_large(AttachmentKind::Image, MAX_IMAGE_BYTES),
                )),
            });
        }
        let (file_id, name, declared_type, size, sent_as) =
            match (&message.document, &message.voice, &message.audio) {
                (Some(document), _, _) => (
                    &document.file_id,
                    document.file_name.clone(),
                    document.mime_type.clone(),
                    document.file_size,
                    SentAs::Document,
                ),
                // A voice note has no name; Telegram records them as Ogg Opus.
                (None, Some(voice), _) => (
                    &voice.file_id,
                    Some(format!("voice-{}.ogg", message.message_id)),
                    voice.mime_type.clone().or_else(|| Some("audio/ogg".into())),
                    voice.file_size,
                    SentAs::Voice,
                ),
                (None, None, Some(audio)) => (
                    &audio.file_id,
                    audio.file_name.clone(),
                    audio.mime_type.clone(),
                    audio.file_size,
                    SentAs::Voice,
                ),
                (None, None, None) => return None,
            };
        let (kind, limit) = sent_as.limit();
        if size.is_some_and(|n| n > limit) {
            return Some(Err(refused(sent_as.noun(), too_large(kind, limit))));
        }
        Some(Ok(IncomingFile {
            file_id: file_id.clone(),
            name: name.unwrap_or_else(|| format!("file-{}", message.message_id)),
            declared_type: declared_type.unwrap_or_default(),
            sent_as,
        }))
    }

    /// What it is called in the words of a refusal.
    pub fn noun(&self) -> &'static str {
        self.sent_as.noun()
    }
}

impl SentAs {
    fn noun(self) -> &'static str {
        match self {
            SentAs::Photo => "photo",
            SentAs::Document => "file",
            SentAs::Voice => "voice note",
        }
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

/// The words of a refusal of a "photo", "file" or "voice note".
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
        let (kind, limit) = file.sent_as.limit();
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
        assert!(file.sent_as == SentAs::Photo && file.declared_type.is_empty());
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
            (
                file.name.as_str(),
                file.declared_type.as_str(),
                file.sent_as
            ),
            ("notes.md", "text/markdown", SentAs::Document)
        );
        assert!(IncomingFile::of(&message(base())).is_none(), "text only");
    }

    #[test]
    fn a_voice_note_is_named_for_its_message_and_an_audio_file_keeps_its_name() {
        let mut json = base();
        json["voice"] =
            serde_json::json!({"file_id": "v", "duration": 3, "mime_type": "audio/ogg"});
        let file = IncomingFile::of(&message(json)).unwrap().unwrap();
        assert_eq!(
            (
                file.name.as_str(),
                file.declared_type.as_str(),
                file.sent_as
            ),
            ("voice-7.ogg", "audio/ogg", SentAs::Voice)
        );
        let mut json = base();
        json["audio"] = serde_json::json!({
            "file_id": "a", "duration": 200, "file_name": "memo.m4a", "mime_type": "audio/x-m4a",
        });
        let file = IncomingFile::of(&message(json)).unwrap().unwrap();
        assert_eq!(
            (file.name.as_str(), file.declared_type.as_str()),
            ("memo.m4a", "audio/x-m4a")
        );
        let mut json = base();
        json["voice"] = serde_json::json!({"file_id": "v", "file_size": MAX_AUDIO_BYTES + 1});
        let Some(Err(NotStored::Refused(words))) = IncomingFile::of(&message(json)) else {
            panic!("refused")
        };
        assert_eq!(
            words,
            "I couldn't take that voice note: the audio file is larger than 20 MiB, the limit for audio files."
        );
    }
}
