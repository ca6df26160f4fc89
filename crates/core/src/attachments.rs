//! Attachments: the images, files and voice notes a user sends with a message (`docs/architecture.md`,
//! "Attachments"). The rules — accepted types, sizes, the user's storage quota, safe names — the check
//! of an upload's bytes against its declared type, and [`Attachments`], the use case every surface
//! shares: store an upload (in one request, or in two steps: a target the client sends the bytes to,
//! then the check of what arrived), link it to a message, hand a turn its attachments, delete them
//! with their conversation, hand out a link that reads one back. The bytes and metadata live behind
//! [`AttachmentStore`], uploads in flight behind [`PendingUploads`], download links come from
//! [`AttachmentLinks`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AttachmentId, ConversationId, MessageId, UserId};
use crate::ports::{
    AttachmentLinks, AttachmentStore, DownloadLink, PendingUploads, PortError, ProducedFile,
    Stored, UploadTarget,
};
use crate::protocol::ErrorCode;

/// The largest image: OpenClaw drops a prompt image above 10 MiB (its `MAX_IMAGE_INPUT_BYTES`).
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// The largest file.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// The largest audio file: under the 25 MB both OpenAI's and Groq's transcription endpoints take in
/// one request (counted in decimal or binary megabytes), and what Telegram hands bots (20 MB).
pub const MAX_AUDIO_BYTES: u64 = 20 * 1024 * 1024;
/// The most attachments one message may carry.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;
/// What one user may store in attachments over all their conversations.
pub const DEFAULT_QUOTA_BYTES: u64 = 500 * 1024 * 1024;
/// The folder of the agent's workspace that a turn's files are copied into (per conversation), for the
/// turn only: it is never synchronised as workspace files.
pub const WORKSPACE_ATTACHMENTS_DIR: &str = ".attachments";
/// How long an upload target accepts bytes: long enough for 20 MiB on a slow phone connection, short
/// enough that a leaked URL is soon useless.
pub const UPLOAD_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a download link answers: long enough to view a conversation's images and play its audio,
/// short enough that a leaked URL is soon useless (the web app fetches a new one when it expires).
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(15 * 60);
/// The longest attachment name kept, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// The image types accepted: what the model providers take as images.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];
/// Types outside `text/*` that are text all the same.
const TEXT_APPLICATION_TYPES: [&str; 9] = [
    "application/json",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/javascript",
    "application/x-sh",
    "application/sql",
    "application/x-ndjson",
];
const PDF: &str = "application/pdf";

/// An audio format we take: the type it is stored and served as, the types a client may declare
/// for it, and what `infer` reports for its bytes.
struct AudioFormat {
    media_type: &'static str,
    declared: &'static [&'static str],
    sniffed: &'static [&'static str],
}

/// The audio formats accepted: what the transcription endpoints take and the clients send. Telegram
/// voice notes are Ogg Opus; Chrome's and Firefox's `MediaRecorder` make WebM with Opus, which `infer`
/// reports as `video/webm` (it reads the container, not the tracks), so WebM and MP4 bytes are
/// taken as audio only when the client says they are audio.
const AUDIO_FORMATS: [AudioFormat; 5] = [
    AudioFormat {
        media_type: "audio/ogg",
        declared: &["audio/ogg", "audio/opus", "application/ogg"],
        sniffed: &["audio/ogg", "audio/opus"],
    },
    AudioFormat {
        media_type: "audio/mpeg",
        declared: &["audio/mpeg", "audio/mp3", "audio/mpeg3"],
        sniffed: &["audio/mpeg"],
    },
    AudioFormat {
        media_type: "audio/mp4",
        declared: &["audio/mp4", "audio/m4a", "audio/x-m4a"],
        sniffed: &["audio/m4a", "video/mp4"],
    },
    AudioFormat {
        media_type: "audio/wav",
        declared: &["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"],
        sniffed: &["audio/x-wav"],
    },
    AudioFormat {
        media_type: "audio/webm",
        declared: &["audio/webm"],
        sniffed: &["video/webm"],
    },
];

/// The audio format a declared (or, for an undeclared upload, sniffed) type names.
fn audio_format(media_type: &str) -> Option<&'static AudioFormat> {
    AUDIO_FORMATS.iter().find(|f| {
        f.declared.contains(&media_type)
            || (media_type.starts_with("audio/") && f.sniffed.contains(&media_type))
    })
}

/// The file extension the transcription endpoints recognise a stored audio type by (they read the
/// format from the file name).
pub fn audio_extension(media_type: &str) -> &'static str {
    match media_type {
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/wav" => "wav",
        _ => "webm",
    }
}

/// How an attachment reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// Sent to the model as an image.
    Image,
    /// Written into the agent's workspace for its file tools.
    File,
    /// Transcribed before the turn runs; the transcript is the prompt (`core::turn`).
    Audio,
}

impl AttachmentKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Image => "image",
            AttachmentKind::File => "file",
            AttachmentKind::Audio => "audio",
        }
    }

    /// Parses the stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "image" => Some(AttachmentKind::Image),
            "file" => Some(AttachmentKind::File),
            "audio" => Some(AttachmentKind::Audio),
            _ => None,
        }
    }
}

/// A stored attachment's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub conversation_id: ConversationId,
    /// The file name as shown, made safe by [`sanitize_file_name`].
    pub name: String,
    /// The type its bytes were found to be (text: as declared).
    pub media_type: String,
    pub kind: AttachmentKind,
    pub size: u64,
    pub created_at: OffsetDateTime,
    /// The message it went with; `None` until it is sent.
    pub message_id: Option<MessageId>,
    /// What was said in it (audio only), once a turn transcribed it.
    pub transcript: Option<String>,
}

/// How an attachment's bytes are served to a browser, wherever they are served from: so that a
/// browser never runs them (text as plain text, with `nosniff` beside it) and shows images and audio
/// in the page but downloads files under their name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// `Content-Type`: the stored type for images, audio and PDF; other files as plain text.
    pub content_type: String,
    /// `Content-Disposition`: `inline` for images and audio, `attachment` for files, with the name.
    pub content_disposition: String,
}

/// The headers `attachment`'s bytes are served with ([`Served`]).
pub fn served(attachment: &Attachment) -> Served {
    let (content_type, disposition) = match attachment.kind {
        AttachmentKind::Image | AttachmentKind::Audio => (attachment.media_type.clone(), "inline"),
        AttachmentKind::File if attachment.media_type == PDF => {
            (attachment.media_type.clone(), "attachment")
        }
        AttachmentKind::File => ("text/plain; charset=utf-8".to_owned(), "attachment"),
    };
    Served {
        content_type,
        content_disposition: format!("{disposition}; {}", disposition_filename(&attachment.name)),
    }
}

/// `filename="<ASCII form>"; filename*=UTF-8''<percent-encoded>` (RFC 6266): the quoted form for old
/// clients, without quotes or backslashes; the encoded one with the real name.
fn disposition_filename(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// An attachment for a turn: its metadata and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnAttachment {
    pub attachment: Attachment,
    pub bytes: Vec<u8>,
    /// It went with the message the turn answers (else: an earlier file of the conversation).
    pub with_prompt: bool,
}

/// Why an attachment was refused; each kind is its own protocol error code.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Corrupt(String),
    #[error(
        "this would take your attachments past your storage limit of {} ({} used); delete conversations with attachments you no longer need",
        megabytes(*quota),
        megabytes(*used)
    )]
    OverQuota { used: u64, quota: u64 },
    #[error("no such attachment")]
    NotFound,
    #[error(transparent)]
    Storage(PortError),
}

impl AttachmentError {
    /// The protocol error code it is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            AttachmentError::BadRequest(_) => ErrorCode::BadRequest,
            AttachmentError::UnsupportedType(_) => ErrorCode::UnsupportedType,
            AttachmentError::TooLarge(_) => ErrorCode::TooLarge,
            AttachmentError::Corrupt(_) => ErrorCode::CorruptFile,
            AttachmentError::OverQuota { .. } => ErrorCode::QuotaExceeded,
            AttachmentError::NotFound => ErrorCode::NotFound,
            AttachmentError::Storage(_) => ErrorCode::Internal,
        }
    }
}

impl From<PortError> for AttachmentError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::NotFound => AttachmentError::NotFound,
            other => AttachmentError::Storage(other),
        }
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// What an upload's bytes were found to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub media_type: String,
    pub kind: AttachmentKind,
}

/// A type as the client declared it: lower case, without parameters (`; charset=...`), with
/// `image/jpg` read as `image/jpeg`.
fn normalized_type(declared: &str) -> String {
    let base = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if base == "image/jpg" {
        "image/jpeg".to_owned()
    } else {
        base
    }
}

fn is_text_type(media_type: &str) -> bool {
    (media_type.starts_with("text/") && media_type != "text/html")
        || TEXT_APPLICATION_TYPES.contains(&media_type)
}

/// The accepted types, for error messages.
fn accepted() -> String {
    format!(
        "images ({}), PDF and text files, audio (ogg, mp3, m4a, wav, webm)",
        IMAGE_TYPES
            .iter()
            .map(|t| t.trim_start_matches("image/"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The kind a (normalized) type is taken as, `None` for a type we do not take.
fn kind_of(media_type: &str) -> Option<AttachmentKind> {
    if IMAGE_TYPES.contains(&media_type) {
        Some(AttachmentKind::Image)
    } else if audio_format(media_type).is_some() {
        Some(AttachmentKind::Audio)
    } else if media_type == PDF || is_text_type(media_type) {
        Some(AttachmentKind::File)
    } else {
        None
    }
}

/// The largest attachment of a kind.
fn limit_of(kind: AttachmentKind) -> u64 {
    match kind {
        AttachmentKind::Image => MAX_IMAGE_BYTES,
        AttachmentKind::File => MAX_FILE_BYTES,
        AttachmentKind::Audio => MAX_AUDIO_BYTES,
    }
}

/// The largest attachment of any kind: what a type the bytes will decide may declare, and the most of
/// an upload that is read.
fn largest_limit() -> u64 {
    MAX_IMAGE_BYTES.max(MAX_FILE_BYTES).max(MAX_AUDIO_BYTES)
}

fn unsupported(media_type: &str) -> AttachmentError {
    AttachmentError::UnsupportedType(format!(
        "{media_type} files are not accepted; send {}",
        accepted()
    ))
}

fn empty() -> AttachmentError {
    AttachmentError::BadRequest("the file is empty".into())
}

/// Checks what a client declares before it sends the bytes: a type we take and a size within its
/// kind's limit (an empty or `application/octet-stream` type, which the bytes will decide, within the
/// largest limit). [`inspect`] checks the bytes themselves once they arrived.
pub fn check_declared(declared: &str, size: u64) -> Result<(), AttachmentError> {
    if size == 0 {
        return Err(empty());
    }
    let declared = normalized_type(declared);
    let (kind, limit) = match declared.as_str() {
        "" | "application/octet-stream" => (AttachmentKind::File, largest_limit()),
        other => {
            let kind = kind_of(other).ok_or_else(|| unsupported(other))?;
            (kind, limit_of(kind))
        }
    };
    if size > limit {
        return Err(too_large(kind, limit));
    }
    Ok(())
}

/// Checks an upload: its size for its kind, then its bytes against the declared type (magic bytes,
/// an image's header, text's encoding). An empty or `application/octet-stream` type lets the bytes
/// decide. Returns the type to store: the sniffed one, or for text the declared one.
pub fn inspect(declared: &str, bytes: &[u8]) -> Result<Inspected, AttachmentError> {
    if bytes.is_empty() {
        return Err(empty());
    }
    let declared = normalized_type(declared);
    let sniffed = infer::get(bytes);
    let wanted = match declared.as_str() {
        "" | "application/octet-stream" => match sniffed {
            Some(t) if t.matcher_type() != infer::MatcherType::Text => t.mime_type().to_owned(),
            _ if is_text(bytes) => "text/plain".to_owned(),
            _ => {
                return Err(AttachmentError::UnsupportedType(format!(
                    "this kind of file is not accepted; send {}",
                    accepted()
                )));
            }
        },
        other => other.to_owned(),
    };
    let audio = audio_format(&wanted);
    let kind = kind_of(&wanted).ok_or_else(|| unsupported(&wanted))?;
    let limit = limit_of(kind);
    if bytes.len() as u64 > limit {
        return Err(too_large(kind, limit));
    }
    let found = sniffed.map(|t| t.mime_type());
    let mismatch = || {
        AttachmentError::Corrupt(format!(
            "the file says it is {wanted}, but its bytes are {}",
            found.map_or_else(|| "not".to_owned(), |t| format!("{t}, not"))
        ))
    };
    match kind {
        AttachmentKind::Image => {
            if found != Some(wanted.as_str()) {
                return Err(mismatch());
            }
            if imagesize::blob_size(bytes).is_err() {
                return Err(AttachmentError::Corrupt(format!(
                    "the image is damaged: its {wanted} header cannot be read"
                )));
            }
        }
        AttachmentKind::Audio => {
            let format = audio.filter(|f| found.is_some_and(|t| f.sniffed.contains(&t)));
            let Some(format) = format else {
                return Err(mismatch());
            };
            // One stored type per format, whatever alias the client used.
            return Ok(Inspected {
                media_type: format.media_type.to_owned(),
                kind,
            });
        }
        AttachmentKind::File if wanted == PDF => {
            if found != Some(PDF) {
                return Err(mismatch());
            }
        }
        AttachmentKind::File => {
            let binary = sniffed.is_some_and(|t| t.matcher_type() != infer::MatcherType::Text);
            if binary || !is_text(bytes) {
                return Err(AttachmentError::Corrupt(format!(
                    "the file says it is {wanted}, but it is not UTF-8 text"
                )));
            }
        }
    }
    Ok(Inspected {
        media_type: wanted,
        kind,
    })
}

/// The error for an upload over its kind's limit.
pub fn too_large(kind: AttachmentKind, limit: u64) -> AttachmentError {
    let noun = match kind {
        AttachmentKind::Audio => "audio file",
        other => other.as_str(),
    };
    AttachmentError::TooLarge(format!(
        "the {noun} is larger than {} MiB, the limit for {noun}s",
        limit / (1024 * 1024),
    ))
}

/// UTF-8 without NUL bytes.
fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// A conversation title for a first message that is only attachments: the first one's name, and how
/// many more there are.
pub fn title_from_attachments(attachments: &[Attachment]) -> String {
    match attachments {
        [] => String::new(),
        [one] => one.name.clone(),
        [first, rest @ ..] => format!("{} and {} more", first.name, rest.len()),
    }
}

/// A file name made safe to show and to write into the agent's workspace: its last path component,
/// without control characters, with the characters file systems refuse replaced by `_`, without
/// leading dots or surrounding spaces, at most [`MAX_NAME_CHARS`] characters (the extension kept).
/// `None` when nothing is left.
pub fn sanitize_file_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if ":*?\"<>|".contains(c) { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return None;
    }
    if cleaned.chars().count() <= MAX_NAME_CHARS {
        return Some(cleaned.to_owned());
    }
    let extension = cleaned
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| !ext.is_empty() && ext.chars().count() <= 10)
        .map(|ext| format!(".{ext}"))
        .unwrap_or_default();
    let stem: String = cleaned
        .chars()
        .take(MAX_NAME_CHARS - extension.chars().count())
        .collect();
    Some(format!("{}{extension}", stem.trim_end()))
}

/// An upload begun: the id it is completed with (which becomes the attachment's) and where the
/// client sends the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub id: AttachmentId,
    pub target: UploadTarget,
}

/// The attachments use case.
#[derive(Clone)]
pub struct Attachments {
    store: Arc<dyn AttachmentStore>,
    quota_bytes: u64,
    /// Where two-step uploads land; `None` where only in-process uploads are made (Telegram's files,
    /// the agent's).
    uploads: Option<Arc<dyn PendingUploads>>,
    /// Where download links come from; `None` where the composition gives none (asking for one is
    /// then a storage error, as an upload is without `uploads`).
    links: Option<Arc<dyn AttachmentLinks>>,
}

fn named(name: &str) -> Result<String, AttachmentError> {
    sanitize_file_name(name)
        .ok_or_else(|| AttachmentError::BadRequest("the attachment needs a file name".into()))
}

impl Attachments {
    /// Each user may store `quota_bytes` of attachments.
    pub fn new(store: Arc<dyn AttachmentStore>, quota_bytes: u64) -> Self {
        Self {
            store,
            quota_bytes,
            uploads: None,
            links: None,
        }
    }

    /// Takes two-step uploads ([`Attachments::begin_upload`]) through `uploads`.
    pub fn with_uploads(mut self, uploads: Arc<dyn PendingUploads>) -> Self {
        self.uploads = Some(uploads);
        self
    }

    /// Hands out download links ([`Attachments::download_link`]) through `links`.
    pub fn with_links(mut self, links: Arc<dyn AttachmentLinks>) -> Self {
        self.links = Some(links);
        self
    }

    fn uploads(&self) -> Result<&Arc<dyn PendingUploads>, AttachmentError> {
        self.uploads.as_ref().ok_or_else(|| {
            AttachmentError::Storage(PortError::backend("this server takes no uploads"))
        })
    }

    /// The first step of an upload: checks what the client declares (name, type, size,
    /// [`check_declared`]) and that it fits in the user's quota as things stand, so a refusal comes
    /// before any byte is sent, and returns where to send the bytes. Nothing is stored.
    pub async fn begin_upload(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        name: &str,
        declared_type: &str,
        size: u64,
    ) -> Result<PendingUpload, AttachmentError> {
        let uploads = self.uploads()?;
        named(name)?;
        check_declared(declared_type, size)?;
        let used = self.store.usage(user).await?;
        if used.saturating_add(size) > self.quota_bytes {
            return Err(AttachmentError::OverQuota {
                used,
                quota: self.quota_bytes,
            });
        }
        let id = AttachmentId::generate();
        let target = uploads
            .target(user, conversation, &id, size, UPLOAD_TTL)
            .await?;
        Ok(PendingUpload { id, target })
    }

    /// The second step: checks the bytes that arrived for upload `id` exactly as a one-step upload
    /// is checked ([`Attachments::upload`]) and stores them as attachment `id`. What arrived is
    /// removed either way, so a refusal stores nothing. Nothing arrived (or not for this user and
    /// conversation) is `NotFound`; completing again an upload that was completed returns its
    /// attachment.
    pub async fn complete_upload(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        name: &str,
        declared_type: &str,
    ) -> Result<Attachment, AttachmentError> {
        let uploads = self.uploads()?;
        if let Some(done) = self.store.get(user, conversation, id).await? {
            return Ok(done);
        }
        let bytes = uploads
            .read(user, conversation, id, largest_limit())
            .await?
            .ok_or(AttachmentError::NotFound)?;
        let stored = self
            .store_checked(user, conversation, id.clone(), name, declared_type, &bytes)
            .await;
        uploads.discard(user, conversation, id).await?;
        stored
    }

    /// Checks an upload ([`inspect`], [`sanitize_file_name`]) and stores it within the user's quota.
    /// A refused upload stores nothing.
    pub async fn upload(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        name: &str,
        declared_type: &str,
        bytes: &[u8],
    ) -> Result<Attachment, AttachmentError> {
        self.store_checked(
            user,
            conversation,
            AttachmentId::generate(),
            name,
            declared_type,
            bytes,
        )
        .await
    }

    async fn store_checked(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: AttachmentId,
        name: &str,
        declared_type: &str,
        bytes: &[u8],
    ) -> Result<Attachment, AttachmentError> {
        let name = named(name)?;
        let inspected = inspect(declared_type, bytes)?;
        let attachment = Attachment {
            id,
            conversation_id: conversation.clone(),
            name,
            media_type: inspected.media_type,
            kind: inspected.kind,
            size: bytes.len() as u64,
            created_at: OffsetDateTime::now_utc(),
            message_id: None,
            transcript: None,
        };
        match self
            .store
            .put(user, &attachment, bytes, self.quota_bytes)
            .await?
        {
            Stored::Stored => Ok(attachment),
            Stored::OverQuota { used } => Err(AttachmentError::OverQuota {
                used,
                quota: self.quota_bytes,
            }),
        }
    }

    /// An attachment and its bytes; `NotFound` unless it is `user`'s, of `conversation`.
    pub async fn read(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<(Attachment, Vec<u8>), AttachmentError> {
        let attachment = self
            .store
            .get(user, conversation, id)
            .await?
            .ok_or(AttachmentError::NotFound)?;
        let bytes = self
            .store
            .read(user, conversation, id)
            .await?
            .ok_or(AttachmentError::NotFound)?;
        Ok((attachment, bytes))
    }

    /// A link that reads the attachment's bytes without the API, valid [`DOWNLOAD_TTL`];
    /// `NotFound` unless it is `user`'s, of `conversation`.
    pub async fn download_link(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<DownloadLink, AttachmentError> {
        let links = self.links.as_ref().ok_or_else(|| {
            AttachmentError::Storage(PortError::backend(
                "this server hands out no download links",
            ))
        })?;
        let attachment = self
            .store
            .get(user, conversation, id)
            .await?
            .ok_or(AttachmentError::NotFound)?;
        Ok(links.link(user, &attachment, DOWNLOAD_TTL).await?)
    }

    /// Stores a file the agent attached to its reply `message`, checked like an upload (by its bytes
    /// alone: the agent declares no type) and counted against the user's quota.
    pub async fn store_produced(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        file: &ProducedFile,
        message: &MessageId,
    ) -> Result<Attachment, AttachmentError> {
        let stored = self
            .upload(user, conversation, &file.name, "", &file.bytes)
            .await?;
        self.store
            .link(user, conversation, &stored.id, message)
            .await?;
        Ok(Attachment {
            message_id: Some(message.clone()),
            ..stored
        })
    }

    /// Records what was said in an audio attachment (a turn transcribed it), so history shows it and
    /// a redelivered turn does not transcribe it again.
    pub async fn set_transcript(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        transcript: &str,
    ) -> Result<(), PortError> {
        self.store
            .set_transcript(user, conversation, id, transcript)
            .await
    }

    /// Deletes one attachment; `NotFound` when there is none.
    pub async fn delete(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<(), AttachmentError> {
        if self.store.delete(user, conversation, id).await? {
            Ok(())
        } else {
            Err(AttachmentError::NotFound)
        }
    }

    /// Deletes every attachment of a conversation.
    pub async fn delete_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError> {
        self.store.delete_conversation(user, conversation).await
    }

    /// Checks that `ids` may go with a message: at most [`MAX_ATTACHMENTS_PER_MESSAGE`], each
    /// `user`'s attachment of `conversation`, and returns them. The message for a refusal names the
    /// first bad id. Whether one already went with another message is only known once the message is
    /// stored (a resent message is the same message): [`Attachments::link`] tells.
    pub async fn check_for_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        ids: &[AttachmentId],
    ) -> Result<Vec<Attachment>, AttachmentError> {
        if ids.len() > MAX_ATTACHMENTS_PER_MESSAGE {
            return Err(AttachmentError::BadRequest(format!(
                "a message may carry at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments"
            )));
        }
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let attachment = self
                .store
                .get(user, conversation, id)
                .await?
                .ok_or_else(|| {
                    AttachmentError::BadRequest(format!(
                        "attachment {id} does not exist in this conversation; upload it again"
                    ))
                })?;
            found.push(attachment);
        }
        Ok(found)
    }

    /// Ties `ids` to the stored message they went with.
    pub async fn link(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        ids: &[AttachmentId],
        message: &MessageId,
    ) -> Result<(), PortError> {
        for id in ids {
            self.store.link(user, conversation, id, message).await?;
        }
        Ok(())
    }

    /// The conversation's sent attachments by the message they went with, in the order they were
    /// uploaded (which is also the order the model sees the images in).
    pub async fn by_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<HashMap<MessageId, Vec<Attachment>>, PortError> {
        let mut by_message: HashMap<MessageId, Vec<Attachment>> = HashMap::new();
        for attachment in self.store.list(user, conversation).await? {
            if let Some(message) = attachment.message_id.clone() {
                by_message.entry(message).or_default().push(attachment);
            }
        }
        Ok(by_message)
    }

    /// What a turn answering `messages` (one message, or the burst of messages one reply answers:
    /// a Telegram album is a burst of one photo each) gets: their attachments, and the conversation's
    /// earlier files (its images are already in OpenClaw's transcript), with their bytes. An
    /// attachment whose bytes are gone (deleted meanwhile) is left out.
    pub async fn for_turn(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        messages: &[MessageId],
    ) -> Result<Vec<TurnAttachment>, PortError> {
        let mut turn = Vec::new();
        for attachment in self.store.list(user, conversation).await? {
            let with_prompt = attachment
                .message_id
                .as_ref()
                .is_some_and(|m| messages.contains(m));
            let earlier_file =
                attachment.message_id.is_some() && attachment.kind == AttachmentKind::File;
            if !(with_prompt || earlier_file) {
                continue;
            }
            if let Some(bytes) = self.store.read(user, conversation, &attachment.id).await? {
                turn.push(TurnAttachment {
                    attachment,
                    bytes,
                    with_prompt,
                });
            }
        }
        Ok(turn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An 1×1 PNG.
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0,
        0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde, 0, 0, 0, 12, b'I', b'D', b'A',
        b'T', 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0, 0, 0x03, 0x01, 0x01, 0, 0x18, 0xdd, 0x8d,
        0xb0, 0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82,
    ];

    fn code(declared: &str, bytes: &[u8]) -> ErrorCode {
        inspect(declared, bytes).unwrap_err().code()
    }

    #[test]
    fn images_pdfs_and_text_pass_as_what_their_bytes_are() {
        let png = inspect("image/png", PNG).unwrap();
        assert_eq!(
            (png.media_type.as_str(), png.kind),
            ("image/png", AttachmentKind::Image)
        );
        assert_eq!(inspect("", PNG).unwrap().media_type, "image/png");
        let pdf = inspect("application/pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj").unwrap();
        assert_eq!(pdf.kind, AttachmentKind::File);
        let text = inspect("text/markdown; charset=utf-8", "# Notes\nçà".as_bytes()).unwrap();
        assert_eq!(
            (text.media_type.as_str(), text.kind),
            ("text/markdown", AttachmentKind::File)
        );
        assert_eq!(
            inspect("application/octet-stream", b"plain words")
                .unwrap()
                .media_type,
            "text/plain"
        );
        assert_eq!(
            inspect("text/plain", b"<html><body>hi</body></html>")
                .unwrap()
                .media_type,
            "text/plain",
            "text that looks like HTML is still text, and is served as text"
        );
    }

    #[test]
    fn types_we_do_not_take_are_unsupported() {
        assert_eq!(
            code("application/zip", b"PK\x03\x04rest"),
            ErrorCode::UnsupportedType
        );
        assert_eq!(code("text/html", b"<p>hi</p>"), ErrorCode::UnsupportedType);
        assert_eq!(code("image/svg+xml", b"<svg/>"), ErrorCode::UnsupportedType);
        assert_eq!(code("", b"PK\x03\x04rest"), ErrorCode::UnsupportedType);
        assert_eq!(code("", &[0xff, 0x00, 0x13]), ErrorCode::UnsupportedType);
    }

    #[test]
    fn bytes_that_are_not_their_declared_type_are_corrupt() {
        assert_eq!(
            code("image/png", b"not a png at all"),
            ErrorCode::CorruptFile
        );
        assert_eq!(code("image/jpeg", PNG), ErrorCode::CorruptFile);
        assert!(
            inspect("image/jpeg", PNG)
                .unwrap_err()
                .to_string()
                .contains("image/png")
        );
        let header_only = &PNG[..12];
        assert_eq!(code("image/png", header_only), ErrorCode::CorruptFile);
        assert_eq!(code("application/pdf", b"hello"), ErrorCode::CorruptFile);
        assert_eq!(
            code("text/plain", &[0x66, 0x6f, 0xff]),
            ErrorCode::CorruptFile
        );
        assert_eq!(code("text/plain", b"nul\0inside"), ErrorCode::CorruptFile);
        assert_eq!(code("text/plain", PNG), ErrorCode::CorruptFile);
        assert_eq!(code("image/png", b""), ErrorCode::BadRequest);
    }

    #[test]
    fn each_kind_has_its_size_limit() {
        let mut big_image = PNG.to_vec();
        big_image.resize(MAX_IMAGE_BYTES as usize + 1, 0);
        assert_eq!(code("image/png", &big_image), ErrorCode::TooLarge);
        let text = vec![b'a'; MAX_IMAGE_BYTES as usize + 1];
        assert!(
            inspect("text/plain", &text).is_ok(),
            "a file may be larger than an image"
        );
        let too_much = vec![b'a'; MAX_FILE_BYTES as usize + 1];
        let refused = inspect("text/plain", &too_much).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::TooLarge);
        assert!(refused.to_string().contains("20 MiB"), "{refused}");
    }

    /// The start of an Ogg Opus stream (a Telegram voice note): the first page's header, then the
    /// `OpusHead` packet.
    fn ogg_opus() -> Vec<u8> {
        let mut ogg = b"OggS\0\x02".to_vec();
        ogg.resize(28, 0);
        ogg.extend_from_slice(b"OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0");
        ogg
    }

    /// The start of a WebM file as `MediaRecorder` makes it: the EBML header naming the `webm`
    /// doc type, and more than the 256 bytes `infer` looks at.
    fn webm() -> Vec<u8> {
        let mut webm = vec![0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01];
        webm.extend_from_slice(b"\x42\x82\x84webm\x42\x87\x81\x04");
        webm.resize(400, 0);
        webm
    }

    fn wav() -> Vec<u8> {
        let mut wav = b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0".to_vec();
        wav.resize(44, 0);
        wav
    }

    fn mp3() -> Vec<u8> {
        let mut mp3 = b"ID3\x04\0\0\0\0\0\0".to_vec();
        mp3.extend_from_slice(&[0xff, 0xfb, 0x90, 0x64]);
        mp3.resize(64, 0);
        mp3
    }

    fn m4a() -> Vec<u8> {
        let mut m4a = b"\0\0\0\x20ftypM4A \0\0\0\0".to_vec();
        m4a.resize(64, 0);
        m4a
    }

    #[test]
    fn voice_notes_and_audio_files_pass_as_audio_in_one_stored_type_per_format() {
        let audio = |declared: &str, bytes: &[u8]| {
            let found = inspect(declared, bytes).unwrap();
            assert_eq!(found.kind, AttachmentKind::Audio, "{declared}");
            found.media_type
        };
        assert_eq!(audio("audio/ogg", &ogg_opus()), "audio/ogg");
        assert_eq!(audio("audio/opus", &ogg_opus()), "audio/ogg");
        assert_eq!(audio("", &ogg_opus()), "audio/ogg", "the bytes decide");
        assert_eq!(audio("audio/mpeg", &mp3()), "audio/mpeg");
        assert_eq!(audio("audio/mp3", &mp3()), "audio/mpeg");
        assert_eq!(audio("application/octet-stream", &mp3()), "audio/mpeg");
        assert_eq!(audio("audio/x-wav", &wav()), "audio/wav");
        assert_eq!(audio("", &wav()), "audio/wav");
        assert_eq!(audio("audio/x-m4a", &m4a()), "audio/mp4");
        assert_eq!(audio("", &m4a()), "audio/mp4");
        assert_eq!(
            audio("audio/webm;codecs=opus", &webm()),
            "audio/webm",
            "what MediaRecorder makes: infer says video/webm, the recorder says audio"
        );
        assert_eq!(audio_extension("audio/webm"), "webm");
        assert_eq!(audio_extension("audio/mp4"), "m4a");
        assert_eq!(audio_extension("audio/ogg"), "ogg");
    }

    #[test]
    fn audio_that_is_not_what_it_says_or_may_be_video_is_refused() {
        assert_eq!(
            code("audio/ogg", b"not an ogg stream at all"),
            ErrorCode::CorruptFile
        );
        assert_eq!(code("audio/webm", &ogg_opus()), ErrorCode::CorruptFile);
        assert_eq!(code("audio/mpeg", &wav()), ErrorCode::CorruptFile);
        assert_eq!(code("audio/webm", &webm()[..100]), ErrorCode::CorruptFile);
        assert_eq!(
            code("", &webm()),
            ErrorCode::UnsupportedType,
            "WebM without a word from the client may be a video"
        );
        assert_eq!(code("video/webm", &webm()), ErrorCode::UnsupportedType);
        assert_eq!(
            code("audio/flac", b"fLaC\0\0\0\x22"),
            ErrorCode::UnsupportedType
        );
        let mut long = ogg_opus();
        long.resize(MAX_AUDIO_BYTES as usize + 1, 0);
        let refused = inspect("audio/ogg", &long).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::TooLarge);
        assert!(
            refused.to_string().contains("the limit for audio files"),
            "{refused}"
        );
    }

    #[test]
    fn a_declared_upload_is_checked_by_its_type_and_size_before_any_byte() {
        assert!(check_declared("image/png", MAX_IMAGE_BYTES).is_ok());
        assert_eq!(
            check_declared("image/png", MAX_IMAGE_BYTES + 1)
                .unwrap_err()
                .code(),
            ErrorCode::TooLarge
        );
        assert!(check_declared("text/plain", MAX_IMAGE_BYTES + 1).is_ok());
        assert!(check_declared("", MAX_FILE_BYTES).is_ok());
        assert_eq!(
            check_declared("", MAX_FILE_BYTES + 1).unwrap_err().code(),
            ErrorCode::TooLarge
        );
        assert_eq!(
            check_declared("application/zip", 10).unwrap_err().code(),
            ErrorCode::UnsupportedType
        );
        assert_eq!(
            check_declared("image/png", 0).unwrap_err().code(),
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn names_are_made_safe_to_show_and_to_write() {
        assert_eq!(sanitize_file_name("cat.png").as_deref(), Some("cat.png"));
        assert_eq!(
            sanitize_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_file_name("C:\\Users\\me\\report.pdf").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(
            sanitize_file_name(" .hidden\u{7}?.md ").as_deref(),
            Some("hidden_.md")
        );
        assert_eq!(sanitize_file_name(".."), None);
        assert_eq!(sanitize_file_name("dir/"), None);
        let long = format!("{}.txt", "é".repeat(300));
        let kept = sanitize_file_name(&long).unwrap();
        assert_eq!(kept.chars().count(), MAX_NAME_CHARS);
        assert!(kept.ends_with(".txt"));
    }
}
