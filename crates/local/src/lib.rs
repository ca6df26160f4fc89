//! Local-mode adapters, the embedded twins of the AWS ones: everything `serverless-openclaw local` needs
//! to run on one machine with no services.
//!
//! - [`sqlite`]: conversations and messages in one SQLite file ([`ConversationStore`]).
//! - [`transcripts`]: OpenClaw transcripts as JSONL files with atomic replace and a content-hash
//!   version check ([`TranscriptStore`]).
//! - [`queue`]: an in-process queue that runs turns of one conversation in order, one at a time, and
//!   different conversations in parallel ([`TurnQueue`]).
//!
//! [`ConversationStore`]: serverless_openclaw_core::ports::ConversationStore
//! [`TranscriptStore`]: serverless_openclaw_core::ports::TranscriptStore
//! [`TurnQueue`]: serverless_openclaw_core::ports::TurnQueue

pub mod queue;
pub mod sqlite;
pub mod transcripts;

pub use queue::{LocalTurnQueue, TurnHandler};
pub use sqlite::SqliteConversationStore;
pub use transcripts::FileTranscriptStore;

/// Runs blocking storage work off the async threads and maps a panicked task to a backend error.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, serverless_openclaw_core::ports::PortError> + Send + 'static,
) -> Result<T, serverless_openclaw_core::ports::PortError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(serverless_openclaw_core::ports::PortError::backend)?
}
