//! Ports: the narrow traits adapters implement. Each has a local twin (`local` crate) and an AWS one
//! (`aws` crate); the contract stated on each trait is what both must honour, and what the contract
//! suites in `testkit` check against both.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::attachments::{Attachment, TurnAttachment};
use crate::domain::{
    Conversation, ConversationSettings, ConversationSettingsUpdate, ExchangeVersion, Message,
    NewAssistantMessage, NewUserMessage, Rerun, ThinkingLevel, ToolActivity, Turn, Usage,
    UserMessage,
};
use crate::ids::{AttachmentId, ConnectionId, ConversationId, MessageId, UserId};
use crate::protocol::{ErrorCode, ServerFrame};
use crate::search::{FoundMessage, SearchQuery};
use crate::settings::{ApiKey, ModelChoice, ModelSettings, Provider, SpeechChoice, SpeechSettings};

/// A failure of a storage or queue adapter. Adapter error types are mapped into this once, at the edge,
/// so no SDK or driver type leaks into the domain.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The addressed item does not exist.
    #[error("not found")]
    NotFound,
    /// A conditional write lost: the item changed (or exists) since the caller read it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed (I/O, driver, network); the cause is kept for the log.
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn StdError + Send + Sync>),
}

impl PortError {
    /// Wraps any backend error.
    pub fn backend(e: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        PortError::Backend(e.into())
    }
}

/// The outcome of storing a user message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The stored message's id (the earlier one when `duplicate`).
    pub message_id: MessageId,
    /// The same client message id was already stored in this conversation; nothing new was written.
    pub duplicate: bool,
    /// The stored message already has an assistant reply.
    pub answered: bool,
}

/// Conversations and their messages, per user.
///
/// Contract:
/// - Everything is scoped by `user`: one user can never see or change another's conversations.
/// - `append_user_message` creates the conversation when it does not exist (titled from the message) and
///   is idempotent on `(user, conversation, client_message_id)`: a repeat returns the first message's id
///   with `duplicate: true` and writes nothing.
/// - `append_assistant_message` stores at most one reply per user message: it marks `reply_to` and
///   every message of `also_answers` answered in the same atomic write as the reply, and a reply to a
///   message that already has one is a `Conflict` that writes nothing; a missing conversation or user
///   message is `NotFound`.
/// - `is_answered` is `NotFound` when the conversation does not exist (it was deleted).
/// - `latest_user_messages` returns up to `limit` of the conversation's newest user messages, oldest
///   first, each with whether it is answered; `NotFound` when the conversation does not exist.
/// - `list_messages` returns up to `limit` messages created before `before` (or the newest), oldest first.
/// - `list_conversations` orders by last update, newest first.
/// - `rename_conversation` changes the title only (not the update time); a missing conversation is
///   `NotFound`.
/// - `conversation_settings` returns what `update_conversation_settings` stored, field by field (the
///   default for a conversation with none). Settings may be set before the conversation's first
///   message, so neither method is `NotFound` for a conversation without messages; an update changes
///   only the fields it names and never the update time. `delete_conversation` removes them.
/// - `supersede_last_exchange` starts a new version of the last exchange, only when the
///   conversation's last message is the reply to its last user message (so no turn of it is queued
///   or running). [`Rerun::Regenerate`] names that reply: the reply leaves the current path and the
///   user message is unanswered again (returned, `duplicate: false`). [`Rerun::Edit`] names that user
///   message: it and its reply leave the current path and the new message is stored in its place
///   (returned); idempotent on the new message's client id like `append_user_message` (a repeat
///   returns the first one with `duplicate: true` and writes nothing). Anything else is a `Conflict`
///   that writes nothing; a missing conversation is `NotFound`. Messages out of the current path are
///   not returned by `list_messages`, `latest_user_messages` or search, and are deleted with their
///   conversation.
/// - `last_exchange_versions` returns the versions of the current last exchange, oldest first, the
///   current one last (see [`crate::domain::group_versions`]); empty when it has only one.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    async fn create_conversation(
        &self,
        user: &UserId,
        id: &ConversationId,
        title: &str,
    ) -> Result<(), PortError>;
    async fn list_conversations(&self, user: &UserId) -> Result<Vec<Conversation>, PortError>;
    async fn append_user_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        message: NewUserMessage,
    ) -> Result<Appended, PortError>;
    async fn append_assistant_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        message: NewAssistantMessage,
    ) -> Result<(), PortError>;
    async fn is_answered(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        user_message: &MessageId,
    ) -> Result<bool, PortError>;
    async fn latest_user_messages(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<UserMessage>, PortError>;
    async fn list_messages(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<Vec<Message>, PortError>;
    async fn delete_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError>;
    async fn rename_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        title: &str,
    ) -> Result<(), PortError>;
    async fn conversation_settings(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<ConversationSettings, PortError>;
    async fn update_conversation_settings(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        update: &ConversationSettingsUpdate,
    ) -> Result<(), PortError>;
    async fn supersede_last_exchange(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        rerun: Rerun,
    ) -> Result<Appended, PortError>;
    async fn last_exchange_versions(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<ExchangeVersion>, PortError>;
}

/// Full-text search over each user's messages (`crate::search` has the matching rule).
///
/// Contract:
/// - `search_messages` returns up to `limit` of `user`'s messages that `query` matches
///   ([`SearchQuery::matches`]: every query word begins a word of the message, in lower case, within
///   the indexed bound), newest first, each with its conversation's current title. Never another
///   user's message, even in a conversation of the same id; never a message of a deleted
///   conversation.
/// - A stored message is found from the moment its append returns (on DynamoDB: once its index
///   entry is written, normally within a second; its conversation's title and existence are read
///   strongly consistently).
#[async_trait]
pub trait MessageSearch: Send + Sync {
    async fn search_messages(
        &self,
        user: &UserId,
        query: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<FoundMessage>, PortError>;
}

/// The outcome of [`AttachmentStore::put`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Stored,
    /// Nothing was stored: the user's attachments already take `used` bytes, and this one would
    /// pass the quota.
    OverQuota {
        used: u64,
    },
}

/// Attachments (images and files sent with messages): their bytes and metadata, per user and
/// conversation.
///
/// Contract:
/// - Everything is scoped by `user` and `conversation`: an attachment is found only through the user
///   and conversation it was stored under; another user's id is simply not there.
/// - `put` stores the bytes and the metadata (with `message_id: None`) only if the user's stored
///   attachments, over all conversations, plus this one stay within `quota` bytes; otherwise it
///   stores nothing and returns [`Stored::OverQuota`]. The check and the write are atomic: concurrent
///   puts never pass the quota together.
/// - `get` and `read` return the metadata and the bytes (`None` when absent); `list` returns a
///   conversation's attachments in the order they were stored.
/// - `link` records the message an attachment went with: linking it again to the same message
///   changes nothing, to another one is a `Conflict`; a missing attachment is `NotFound`.
/// - `set_transcript` records (or replaces) what was said in an audio attachment; `get` and `list`
///   return it; a missing attachment is `NotFound`.
/// - `delete` removes one attachment and returns whether there was one; `delete_conversation`
///   removes all of a conversation's (none is fine). Both give the bytes back to the quota.
/// - `usage` is the bytes the user's attachments take.
/// - Bytes are written before their metadata and removed after it, so metadata never names missing
///   bytes after a failure.
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    async fn put(
        &self,
        user: &UserId,
        attachment: &Attachment,
        bytes: &[u8],
        quota: u64,
    ) -> Result<Stored, PortError>;
    async fn get(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<Option<Attachment>, PortError>;
    async fn read(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<Option<Vec<u8>>, PortError>;
    async fn list(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<Attachment>, PortError>;
    async fn link(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        message: &MessageId,
    ) -> Result<(), PortError>;
    async fn set_transcript(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        transcript: &str,
    ) -> Result<(), PortError>;
    async fn delete(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<bool, PortError>;
    async fn delete_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError>;
    async fn usage(&self, user: &UserId) -> Result<u64, PortError>;
}

/// Where and how a client sends an upload's bytes: an HTTP request it makes itself, outside the API
/// (a presigned S3 request on AWS, local mode's own upload route), so that a file never passes through
/// a function's request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    /// The HTTP method (`PUT`).
    pub method: String,
    /// Absolute, or relative to the API's origin (local mode).
    pub url: String,
    /// Headers the request must carry besides `Content-Length` (which is the declared size).
    pub headers: Vec<(String, String)>,
    /// When the target stops accepting bytes.
    pub expires_at: OffsetDateTime,
}

/// Uploads in flight: bytes a client sends straight to storage through an [`UploadTarget`] before
/// `Attachments::complete_upload` checks them and makes them an attachment (`docs/architecture.md`,
/// "Attachments").
///
/// Contract:
/// - `target` hands out a target that accepts exactly `size` bytes for upload `id` of `user`'s
///   `conversation` until `valid_for` has passed; where the bytes land is fixed by the store from
///   those three, never chosen by the client.
/// - `read` returns what arrived for that upload, at most `limit + 1` bytes (so that more than
///   `limit` shows without being read whole), or `None` when nothing did; another user's or another
///   conversation's upload of the same id is `None`.
/// - `discard` removes what arrived (nothing there is fine).
/// - Bytes never completed nor discarded are removed by the store after a day at most.
#[async_trait]
pub trait PendingUploads: Send + Sync {
    async fn target(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        size: u64,
        valid_for: Duration,
    ) -> Result<UploadTarget, PortError>;
    async fn read(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, PortError>;
    async fn discard(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<(), PortError>;
}

/// Local mode's upload target: the server receives an upload's bytes itself (`PUT /uploads/<token>`),
/// and the token of its [`UploadTarget`] is the only credential, as a presigned URL is on S3.
///
/// Contract: `admits` returns the size a token's upload must have, `None` for a token that was not
/// handed out by this inbox, was altered or has expired; `receive` keeps `bytes` as what arrived for
/// the token's upload (replacing an earlier attempt) only when the token is admitted and `bytes` has
/// its size, and returns whether it did.
#[async_trait]
pub trait UploadInbox: Send + Sync {
    fn admits(&self, token: &str) -> Option<u64>;
    async fn receive(&self, token: &str, bytes: &[u8]) -> Result<bool, PortError>;
}

/// A URL that reads one attachment's bytes straight from storage, without the API or a bearer token
/// (a presigned S3 `GetObject` on AWS, local mode's own download route), so that a file never passes
/// through a function's response (bounded on AWS by Lambda's 6 MB payload). The URL is the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLink {
    /// Absolute, or relative to the API's origin (local mode).
    pub url: String,
    /// When the link stops answering.
    pub expires_at: OffsetDateTime,
}

/// Download links of stored attachments (`docs/architecture.md`, "Attachments").
///
/// Contract: `link` returns a link that a plain `GET` without credentials fetches until `valid_for`
/// has passed, answering `attachment`'s bytes (stored for `user`) with `Content-Type`
/// [`Served::content_type`] and `Content-Disposition` [`Served::content_disposition`] of
/// [`served`]`(attachment)`, and `X-Content-Type-Options: nosniff`. It checks nothing: the caller
/// found `attachment` under `user` first.
///
/// [`Served::content_type`]: crate::attachments::Served::content_type
/// [`Served::content_disposition`]: crate::attachments::Served::content_disposition
/// [`served`]: crate::attachments::served
#[async_trait]
pub trait AttachmentLinks: Send + Sync {
    async fn link(
        &self,
        user: &UserId,
        attachment: &Attachment,
        valid_for: Duration,
    ) -> Result<DownloadLink, PortError>;
}

/// Local mode's download links: the server answers them itself (`GET /downloads/<token>`), and the
/// token is the only credential, as a presigned URL is on S3.
///
/// Contract: `open` returns the attachment a token's link was made for and its bytes; `None` for a
/// token that was not handed out here, was altered or has expired, or whose attachment is gone.
#[async_trait]
pub trait LinkedAttachments: Send + Sync {
    async fn open(&self, token: &str) -> Result<Option<(Attachment, Vec<u8>)>, PortError>;
}

/// Each user's model and speech-to-text settings, and the skills they disabled.
///
/// Contract: `model_settings` returns what the last `set_model_settings` stored for that user (`None`
/// if nothing, or after it was set to `None`), and `speech_settings` likewise; `browser_enabled` is
/// what the last `set_browser_enabled` stored, `true` before any; `disabled_skills` returns the list the
/// last `set_disabled_skills` stored, in its order (empty if nothing); each is set without touching the
/// others; users never see each other's settings.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn model_settings(&self, user: &UserId) -> Result<Option<ModelSettings>, PortError>;
    async fn set_model_settings(
        &self,
        user: &UserId,
        settings: Option<&ModelSettings>,
    ) -> Result<(), PortError>;
    async fn speech_settings(&self, user: &UserId) -> Result<Option<SpeechSettings>, PortError>;
    async fn set_speech_settings(
        &self,
        user: &UserId,
        settings: Option<&SpeechSettings>,
    ) -> Result<(), PortError>;
    /// Whether the user's turns may use the agent's browser (on until they turn it off).
    async fn browser_enabled(&self, user: &UserId) -> Result<bool, PortError>;
    async fn set_browser_enabled(&self, user: &UserId, enabled: bool) -> Result<(), PortError>;
    async fn disabled_skills(&self, user: &UserId) -> Result<Vec<String>, PortError>;
    async fn set_disabled_skills(&self, user: &UserId, names: &[String]) -> Result<(), PortError>;
}

/// Audio to transcribe: its bytes, stored type (`core::attachments`) and file name.
#[derive(Debug, Clone, Copy)]
pub struct SpokenAudio<'a> {
    pub bytes: &'a [u8],
    pub media_type: &'a str,
    pub name: &'a str,
}

/// Why a transcription failed; the text is for people (it never holds the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechError {
    /// The endpoint answered with an error (a refused key, a format it does not take, its outage).
    #[error("the speech-to-text service answered {status}: {detail}")]
    Refused { status: u16, detail: String },
    /// No answer in time, or no connection.
    #[error("the speech-to-text service could not be reached ({0})")]
    Unreachable(String),
    /// An answer without a transcript in it.
    #[error("the speech-to-text service's answer could not be read")]
    BadAnswer,
}

/// Speech-to-text: what was said in a piece of audio, by the endpoint and key of `choice`.
///
/// Contract: one request per call, nothing retried (the turn reports a failure and the user sends
/// again); a deadline of its own, so a hanging endpoint fails the call rather than the turn's
/// deadline; the key goes to the chosen endpoint only and never into an error.
#[async_trait]
pub trait SpeechToText: Send + Sync {
    async fn transcribe(
        &self,
        audio: SpokenAudio<'_>,
        choice: &SpeechChoice,
    ) -> Result<String, SpeechError>;
}

/// Each user's API keys, one per provider, kept as secrets (a private file locally, an SSM
/// SecureString on AWS).
///
/// Contract:
/// - `get` returns the key last `put` for that user and provider; `delete` removes it (deleting a
///   missing key is not an error).
/// - `providers` lists the providers a key is stored for, in [`Provider::ALL`] order, without reading
///   any key.
/// - Keys never appear in errors or logs.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn put(&self, user: &UserId, provider: Provider, key: &ApiKey) -> Result<(), PortError>;
    async fn get(&self, user: &UserId, provider: Provider) -> Result<Option<ApiKey>, PortError>;
    async fn delete(&self, user: &UserId, provider: Provider) -> Result<(), PortError>;
    async fn providers(&self, user: &UserId) -> Result<Vec<Provider>, PortError>;
}

/// An opaque version of a stored object (an S3 ETag, a content hash for files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion(pub String);

/// A transcript as stored: OpenClaw's JSONL session records and their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub bytes: Vec<u8>,
    pub version: ObjectVersion,
}

/// OpenClaw session transcripts, one per conversation, written back with a version check.
///
/// Contract:
/// - `save` with `expected: None` succeeds only if no transcript exists; with `Some(v)` only if the stored
///   version is still `v`. Otherwise it is a `Conflict` and the stored transcript is left untouched
///   (never last-writer-wins).
/// - A save is atomic: readers see the old or the new bytes, never a mix.
/// - `delete` of a missing transcript succeeds.
#[async_trait]
pub trait TranscriptStore: Send + Sync {
    async fn load(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<Transcript>, PortError>;
    async fn save(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        bytes: &[u8],
        expected: Option<&ObjectVersion>,
    ) -> Result<ObjectVersion, PortError>;
    async fn delete(&self, user: &UserId, conversation: &ConversationId) -> Result<(), PortError>;
}

/// A file of a user's OpenClaw workspace (its memory files: `AGENTS.md`, `MEMORY.md`, `memory/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceFile {
    /// Relative path, `/`-separated; see [`crate::domain::validate_workspace_path`].
    pub path: String,
    pub bytes: Vec<u8>,
    pub version: ObjectVersion,
}

/// Per-user OpenClaw workspace files, synchronised around each turn on AWS.
///
/// Contract:
/// - Everything is scoped by `user`; `list` returns every file of that user with its version, sorted by
///   path.
/// - `put` with `expected: None` creates (a `Conflict` if the file exists); with `Some(v)` replaces only
///   if the stored version is still `v`. A lost race is a `Conflict` and leaves the stored file as it was.
/// - `delete` removes the file only if its version is still `expected` (`Conflict` otherwise); deleting a
///   missing file succeeds.
/// - Paths are validated by the caller; adapters may refuse invalid ones with `Backend`.
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    async fn list(&self, user: &UserId) -> Result<Vec<WorkspaceFile>, PortError>;
    async fn put(
        &self,
        user: &UserId,
        path: &str,
        bytes: &[u8],
        expected: Option<&ObjectVersion>,
    ) -> Result<ObjectVersion, PortError>;
    async fn delete(
        &self,
        user: &UserId,
        path: &str,
        expected: &ObjectVersion,
    ) -> Result<(), PortError>;
}

/// Where each user's workspace folder is on this machine. Local mode needs it because its agent runtime
/// moves a user's folder while a turn of theirs is in flight, so a writer that picked the folder once
/// could write beside it (and strand the workspace when it is moved back).
///
/// Contract: `with_folder` calls `f` once with the folder `user`'s workspace is in at that moment (it
/// may not exist yet), and the folder is not moved until `f` returns.
pub trait WorkspaceFolders: Send + Sync {
    fn with_folder(&self, user: &UserId, f: &mut dyn FnMut(&std::path::Path));
}

/// Open WebSocket connections and the user each belongs to (on AWS the connection id is API Gateway's,
/// and a push goes through its Management API).
///
/// Contract:
/// - `register` stores `connection → user` until `expires_at`; registering the same id again replaces it.
/// - `user_of` is `None` for an unknown connection and for one expired at `now` (expiry is honoured on
///   read, not left to a TTL sweep that may run days late).
/// - `connections_of` lists the user's connections unexpired at `now`, and no one else's.
/// - `remove` of an unknown connection succeeds.
/// - `remove_expired` deletes every record expired at `now` and returns the ids it deleted.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn register(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        expires_at: OffsetDateTime,
    ) -> Result<(), PortError>;
    async fn user_of(
        &self,
        connection: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, PortError>;
    async fn connections_of(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<ConnectionId>, PortError>;
    async fn remove(&self, connection: &ConnectionId) -> Result<(), PortError>;
    async fn remove_expired(&self, now: OffsetDateTime) -> Result<Vec<ConnectionId>, PortError>;
}

/// A granted session lease: the right to run turns of one conversation until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub user: UserId,
    pub conversation: ConversationId,
    /// Who holds it (a Lambda request id, a process name), for logs and the watchdog.
    pub holder: String,
    /// The fencing token: greater than the token of every earlier grant for this conversation.
    pub token: u64,
    pub expires_at: OffsetDateTime,
}

/// Session leases: at most one turn processor works on a conversation at a time, even when a queue
/// redelivers a message while its first delivery is still running.
///
/// Contract:
/// - `acquire` grants a lease when the conversation has none or its lease expired at `now` (expiry is
///   part of the conditional write, not left to a TTL sweep), with a fencing token greater than every
///   earlier one for the conversation; otherwise it returns `None`.
/// - `release` ends the lease only if its token is still current: releasing a lease that expired and was
///   granted to someone else, or that was already released, changes nothing.
/// - `request_cancel` marks the conversation's current unexpired lease and returns whether there was one;
///   `cancel_requested` tells that lease's holder. A new grant starts unmarked.
/// - `clear_expired` releases every lease expired at `now` and returns them (they are turns that died
///   without releasing).
/// - `held_by` counts the user's conversations whose lease is held and unexpired at `now` (the user's
///   turns running now, for a per-user cap; read without a lock, so two processors reading at once
///   may both see room for one more).
#[async_trait]
pub trait SessionLeases: Send + Sync {
    async fn acquire(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<Lease>, PortError>;
    async fn release(&self, lease: &Lease) -> Result<(), PortError>;
    async fn request_cancel(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        now: OffsetDateTime,
    ) -> Result<bool, PortError>;
    async fn cancel_requested(&self, lease: &Lease) -> Result<bool, PortError>;
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<Vec<Lease>, PortError>;
    async fn held_by(&self, user: &UserId, now: OffsetDateTime) -> Result<usize, PortError>;
}

/// The per-conversation turn queue.
///
/// Contract:
/// - Turns of one `(user, conversation)` are processed one at a time, in enqueue order; turns of
///   different conversations may run in parallel.
/// - A turn is delivered at least once; processing is idempotent (see [`Turn`]), so redelivery is harmless.
/// - `cancel` asks the turn currently running in that conversation to stop; it returns whether one was
///   running. Queued turns are not affected.
#[async_trait]
pub trait TurnQueue: Send + Sync {
    async fn enqueue(&self, turn: Turn) -> Result<(), PortError>;
    async fn cancel(&self, user: &UserId, conversation: &ConversationId)
    -> Result<bool, PortError>;
}

/// Pushes server frames to every open connection of a user.
///
/// Contract: best effort and never blocking the turn on a slow client; a connection that is gone is
/// forgotten by the adapter. Frames to one user arrive in the order they were pushed.
#[async_trait]
pub trait ClientPush: Send + Sync {
    async fn push(&self, user: &UserId, frame: &ServerFrame);
}

/// Delivers a turn's progress to the channel the turn came from ([`Turn::reply_to`]), beside the
/// frames [`ClientPush`] sends to the user's web connections.
///
/// Contract: `deliver` consumes the frames of one turn (`status`, `delta`, `message`, `error`, in the
/// order the processor emits them) until the sender is dropped, and returns once everything it will
/// deliver is delivered. It never fails the turn: a channel that cannot be reached is logged.
#[async_trait]
pub trait ChannelReplies: Send + Sync {
    async fn deliver(&self, turn: &Turn, frames: mpsc::UnboundedReceiver<ServerFrame>);
}

/// A Telegram user's numeric id (`from.id` in an update).
pub type TelegramUserId = i64;

/// Telegram updates already handled, so that a redelivery is not handled twice.
///
/// Contract: `claim_update` records an update id and returns `true`, or returns `false` when it is
/// already recorded (a redelivery); a record is kept at least until `keep_until`. `release_update`
/// forgets one (processing failed, so the redelivery must run).
#[async_trait]
pub trait ProcessedUpdates: Send + Sync {
    async fn claim_update(
        &self,
        update_id: i64,
        keep_until: OffsetDateTime,
    ) -> Result<bool, PortError>;
    async fn release_update(&self, update_id: i64) -> Result<(), PortError>;
}

/// One-time link codes and the failed attempts to redeem them (the policy is `crate::linking`).
///
/// Contract:
/// - `put_link_code` stores a code for `user` until `expires_at`; a code that exists unexpired at
///   `now` is a `Conflict`. `take_link_code` returns the code's user and deletes the code when it
///   exists and is unexpired at `now`, else `None`: a code is redeemed at most once, even by
///   concurrent callers.
/// - `record_link_failure` records a failed attempt at `now` and returns how many the Telegram user
///   made within `window` before `now`, this one included; `link_failures` counts without recording.
#[async_trait]
pub trait LinkCodes: Send + Sync {
    async fn put_link_code(
        &self,
        code: &str,
        user: &UserId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), PortError>;
    async fn take_link_code(
        &self,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, PortError>;
    async fn record_link_failure(
        &self,
        telegram_user: TelegramUserId,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<u32, PortError>;
    async fn link_failures(
        &self,
        telegram_user: TelegramUserId,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<u32, PortError>;
}

/// Which owner each Telegram user is linked to, and the conversation their messages go to.
///
/// Contract:
/// - `link` links a Telegram user to `user` (replacing an earlier link); `linked_user` reads it;
///   `unlink` removes the link and the current conversation when the link is to `owner`, as one
///   conditional operation (a relink to someone else in between is left alone), and returns whether
///   it removed one.
/// - `current_conversation` is the conversation the Telegram user's messages go to, set by
///   `set_current_conversation`; `None` until set.
#[async_trait]
pub trait TelegramLinks: Send + Sync {
    async fn link(&self, telegram_user: TelegramUserId, user: &UserId) -> Result<(), PortError>;
    async fn linked_user(&self, telegram_user: TelegramUserId)
    -> Result<Option<UserId>, PortError>;
    async fn unlink(
        &self,
        telegram_user: TelegramUserId,
        owner: &UserId,
    ) -> Result<bool, PortError>;
    /// The Telegram users linked to `user`, in ascending order.
    async fn linked_telegram_users(&self, user: &UserId) -> Result<Vec<TelegramUserId>, PortError>;
    async fn current_conversation(
        &self,
        telegram_user: TelegramUserId,
    ) -> Result<Option<ConversationId>, PortError>;
    async fn set_current_conversation(
        &self,
        telegram_user: TelegramUserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError>;
}

/// The Telegram bot's whole state, as each storage twin provides it in one adapter: the bot needs
/// all three ports; the REST API and `crate::linking` take only the ones they use.
pub trait TelegramStore: ProcessedUpdates + LinkCodes + TelegramLinks {}

impl<T: ProcessedUpdates + LinkCodes + TelegramLinks + ?Sized> TelegramStore for T {}

/// Whether the agent runtime is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Nothing running; the next turn starts it (a cold start).
    Stopped,
    /// Starting; turns wait for it.
    Starting,
    /// Warm: turns start at once.
    Ready,
}

/// What the agent runtime reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    pub state: AgentState,
    pub openclaw_version: Option<String>,
    /// `provider/model` when a provider is configured, `None` when turns would fail with `no_provider`.
    pub model: Option<String>,
}

/// One turn for the agent runtime.
#[derive(Debug, Clone)]
pub struct AgentTurn {
    pub user_id: UserId,
    pub conversation_id: ConversationId,
    /// The user message this turn answers: unique per turn and the same when a turn is redelivered
    /// (the gateway runtime's idempotency key).
    pub message_id: MessageId,
    /// The transcript to continue from; `None` starts a new session.
    pub transcript: Option<Vec<u8>>,
    pub prompt: String,
    /// The user's chosen provider and model; `None` runs the deployment's default.
    pub model: Option<ModelChoice>,
    /// The conversation's own model id, replacing the model of the provider the turn runs on (the
    /// user's choice, else the deployment's default); `None`: that provider's configured model.
    pub model_id: Option<String>,
    /// The conversation's thinking level; `None`: OpenClaw's default for the model.
    pub thinking: Option<ThinkingLevel>,
    /// Which of OpenClaw's tools the turn may use.
    pub tools: ToolAccess,
    /// Whether the turn may use the browser tool (the user's setting; the deployment may have none).
    pub browser: bool,
    /// The attachments of the message it answers, and the conversation's earlier files.
    pub attachments: Vec<TurnAttachment>,
    /// The skills of the user's workspace the turn leaves out (`core::skills`).
    pub disabled_skills: Vec<String>,
}

/// Which of OpenClaw's tools a turn may use. The same rule applies locally and on AWS: the owner and
/// users with an account of their own get [`ToolAccess::Full`]; guests from the Telegram allowlist
/// ([`UserId::is_guest`]) get the deployment's guest access, [`ToolAccess::Restricted`] unless the
/// owner opts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolAccess {
    /// OpenClaw's tools as it ships them: shell (`exec`, `process`), files, web, memory.
    #[default]
    Full,
    /// No shell or code execution, no automation or session tools, and file tools confined to the
    /// user's own workspace.
    Restricted,
}

impl ToolAccess {
    /// Parses a setting's value: `full` or `restricted`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "full" => Some(Self::Full),
            "restricted" => Some(Self::Restricted),
            _ => None,
        }
    }
}

/// Progress of a running turn, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// The runtime is working on the turn (after any cold start).
    Started,
    /// New reply text; the deltas of a turn concatenate to [`AgentReply::text`], except that a delta
    /// with `replace` carries the whole reply so far (OpenClaw rewrote earlier text; rare).
    Delta { text: String, replace: bool },
    /// A tool call started or ended (see [`ToolActivity`]).
    Tool(ToolActivity),
}

/// A finished turn.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReply {
    pub text: String,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    pub duration_ms: u64,
    /// The whole updated transcript, to be saved with the version it was loaded at.
    pub transcript: Vec<u8>,
    /// Files the agent attached to its reply (images it made, documents it wrote), to be stored as
    /// attachments of the reply.
    pub files: Vec<ProducedFile>,
}

/// A file the agent attached to its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedFile {
    /// Its file name (without a folder).
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A request to compact a conversation's transcript (`/compact`): OpenClaw summarises its older part
/// with the conversation's model, as it does when the context window fills up during a turn.
#[derive(Debug, Clone)]
pub struct AgentCompaction {
    pub user_id: UserId,
    pub conversation_id: ConversationId,
    /// The stored transcript.
    pub transcript: Vec<u8>,
    /// What the summary should focus on (`/compact <focus>`).
    pub instructions: Option<String>,
    /// As on [`AgentTurn`]: the user's provider and model, and the conversation's own model id.
    pub model: Option<ModelChoice>,
    pub model_id: Option<String>,
}

/// What a compaction did, in OpenClaw's token estimates of the history the model is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compacted {
    /// The compacted transcript, to be saved with the version it was loaded at; `None` when there
    /// was nothing to compact (`reason` says why) and the stored one stays.
    pub transcript: Option<Vec<u8>>,
    pub tokens_before: u64,
    pub tokens_after: u64,
    pub reason: Option<String>,
}

/// A failed turn, with the protocol error code to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct AgentError {
    pub code: ErrorCode,
    pub message: String,
}

impl AgentError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Reports the agent runtime's status (`GET /api/status`). Separate from [`AgentRuntime`] because a
/// gateway that never runs turns itself (an AWS Lambda) still answers the status request.
pub trait AgentStatusSource: Send + Sync {
    fn status(&self) -> AgentStatus;
}

/// Why the agent is being woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WakeReason {
    /// A web client connected: its user is likely to send a message within seconds.
    WebConnected,
    /// A Telegram user with access wrote something that is not itself a turn (a command such as
    /// `/new`): their message is likely to follow.
    TelegramActivity,
}

/// Wakes the agent ahead of a turn that is likely to come, so that its cold start (seconds) overlaps
/// the user's typing instead of adding to their wait.
///
/// Contract:
/// - A hint, never a requirement: a turn is answered whether or not the agent was woken, and `wake`
///   never fails its caller. An adapter logs its own failures.
/// - It returns quickly (an adapter bounds its own time, well under a second) and never waits for
///   the agent to be warm.
/// - Cheap to call often: an adapter coalesces calls that come close together (a page reload storm
///   starts one agent, not one per reload).
/// - It runs no turn, carries no user data and changes no stored state.
/// - Callers do not wake the agent for a message that is itself queued as a turn: the turn starts the
///   agent anyway, and a wake-up racing it could take the very environment the turn needs.
#[async_trait]
pub trait AgentWaker: Send + Sync {
    async fn wake(&self, reason: WakeReason);
}

/// Runs OpenClaw turns.
///
/// Contract:
/// - `run_turn` sends [`AgentEvent::Started`] once the turn runs, then deltas and tool starts and ends
///   (interleaved, in the order they happened), then returns the reply; it
///   returns an error (never hangs) on provider failure (`llm_error`), deadline (`timeout`), `cancel`
///   (`cancelled`), runtime death (`agent_crashed`) or missing configuration (`no_provider`).
/// - Turns of different conversations may run concurrently; the caller runs at most one per conversation.
/// - A failed turn returns no transcript, so the stored one stays the last good version.
/// - `compact` summarises a transcript's older part and returns the compacted transcript, with the
///   same errors as a turn; a failed compaction returns no transcript, so the stored one stays.
///   Runtimes that cannot compact (test doubles) keep the default, which refuses.
#[async_trait]
pub trait AgentRuntime: AgentStatusSource {
    async fn run_turn(
        &self,
        turn: AgentTurn,
        events: mpsc::UnboundedSender<AgentEvent>,
        cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError>;

    async fn compact(
        &self,
        _request: AgentCompaction,
        _cancel: CancellationToken,
    ) -> Result<Compacted, AgentError> {
        Err(AgentError::new(
            ErrorCode::Internal,
            "this agent runtime cannot compact conversations",
        ))
    }
}

/// A shared status source reports for what it shares.
impl<T: AgentStatusSource + ?Sized> AgentStatusSource for Arc<T> {
    fn status(&self) -> AgentStatus {
        (**self).status()
    }
}

/// A shared runtime runs turns on what it shares, so a host can keep one warm runtime while it
/// rebuilds what wraps it (the agent Lambda after a SnapStart restore).
#[async_trait]
impl<T: AgentRuntime + ?Sized> AgentRuntime for Arc<T> {
    async fn run_turn(
        &self,
        turn: AgentTurn,
        events: mpsc::UnboundedSender<AgentEvent>,
        cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError> {
        (**self).run_turn(turn, events, cancel).await
    }

    async fn compact(
        &self,
        request: AgentCompaction,
        cancel: CancellationToken,
    ) -> Result<Compacted, AgentError> {
        (**self).compact(request, cancel).await
    }
}
