//! Local-mode adapters, the embedded twins of the AWS ones: everything `serverless-openclaw local` needs
//! to run on one machine with no services.
//!
//! - [`attachments`]: attachments (images and files sent with messages) as private files, with their
//!   metadata beside them and a per-user quota ([`AttachmentStore`]).
//! - [`sqlite`]: conversations and messages in one SQLite file ([`ConversationStore`]).
//! - [`search`]: full-text search over those messages, an FTS5 index in the same file
//!   ([`MessageSearch`]).
//! - [`transcripts`]: OpenClaw transcripts as JSONL files with atomic replace and a content-hash
//!   version check ([`TranscriptStore`]).
//! - [`workspaces`]: per-user OpenClaw workspace files with the same atomic replace and version check
//!   ([`WorkspaceStore`]).
//! - [`queue`]: an in-process queue that runs turns of one conversation in order, one at a time, and
//!   different conversations in parallel ([`TurnQueue`]).
//! - [`connections`]: open WebSocket connections and their users, in memory ([`ConnectionStore`]).
//! - [`leases`]: per-conversation session leases with fencing tokens, in memory ([`SessionLeases`]).
//! - [`settings`]: each user's model settings (SQLite, same file) and API keys (owner-only files)
//!   ([`SettingsStore`], [`ApiKeyStore`]).
//! - [`uploads`]: uploads in flight, sent to the local server with a signed token, in a pending
//!   folder until they are completed ([`PendingUploads`], [`UploadInbox`]).
//! - [`links`]: download links of attachments, answered by the local server against a signed token
//!   ([`AttachmentLinks`], [`LinkedAttachments`]); the token signing is shared with [`uploads`].
//! - [`telegram`]: the Telegram bot's links, link codes and processed updates, in the same SQLite file
//!   ([`TelegramStore`]).
//!
//! Connections and leases live in memory because local mode is one process: nothing else can hold a
//! lease or serve a connection, and neither outlives the process.
//!
//! [`AttachmentStore`]: serverless_openclaw_core::ports::AttachmentStore
//! [`AttachmentLinks`]: serverless_openclaw_core::ports::AttachmentLinks
//! [`LinkedAttachments`]: serverless_openclaw_core::ports::LinkedAttachments
//! [`ApiKeyStore`]: serverless_openclaw_core::ports::ApiKeyStore
//! [`SettingsStore`]: serverless_openclaw_core::ports::SettingsStore
//! [`ConnectionStore`]: serverless_openclaw_core::ports::ConnectionStore
//! [`ConversationStore`]: serverless_openclaw_core::ports::ConversationStore
//! [`MessageSearch`]: serverless_openclaw_core::ports::MessageSearch
//! [`SessionLeases`]: serverless_openclaw_core::ports::SessionLeases
//! [`TelegramStore`]: serverless_openclaw_core::ports::TelegramStore
//! [`TranscriptStore`]: serverless_openclaw_core::ports::TranscriptStore
//! [`TurnQueue`]: serverless_openclaw_core::ports::TurnQueue
//! [`PendingUploads`]: serverless_openclaw_core::ports::PendingUploads
//! [`UploadInbox`]: serverless_openclaw_core::ports::UploadInbox
//! [`WorkspaceStore`]: serverless_openclaw_core::ports::WorkspaceStore

pub mod attachments;
pub mod connections;
mod files;
pub mod leases;
pub mod links;
pub mod queue;
pub mod search;
pub mod settings;
mod signing;
pub mod sqlite;
pub mod telegram;
pub mod transcripts;
pub mod uploads;
pub mod workspaces;

pub use attachments::FileAttachmentStore;
pub use connections::MemoryConnectionStore;
pub use files::private_dir;
pub use leases::MemorySessionLeases;
pub use links::FileLinks;
pub use queue::{LocalTurnQueue, TurnHandler};
pub use settings::{FileApiKeyStore, SqliteSettingsStore};
pub use sqlite::SqliteConversationStore;
pub use telegram::SqliteTelegramStore;
pub use transcripts::FileTranscriptStore;
pub use uploads::FileUploads;
pub use workspaces::FileWorkspaceStore;

/// Runs blocking storage work off the async threads and maps a panicked task to a backend error.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, serverless_openclaw_core::ports::PortError> + Send + 'static,
) -> Result<T, serverless_openclaw_core::ports::PortError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(serverless_openclaw_core::ports::PortError::backend)?
}
