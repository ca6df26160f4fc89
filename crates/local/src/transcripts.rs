//! OpenClaw transcripts as JSONL files: `<root>/<user>/<conversation>.jsonl`.
//!
//! The version is a SHA-256 of the content (the local stand-in for an S3 ETag). A save compares the
//! version under a lock and replaces the file atomically (see `files`), so a reader sees the old or
//! the new file, never a torn one. The lock is per process: one local server owns a data dir.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{ObjectVersion, PortError, Transcript, TranscriptStore};

use crate::blocking;
use crate::files::{read_versioned, version_of, write_atomically};

/// [`TranscriptStore`] on the local file system.
#[derive(Clone)]
pub struct FileTranscriptStore {
    root: PathBuf,
    /// Serialises read-compare-write so two saves cannot both pass the version check.
    write_lock: Arc<Mutex<()>>,
}

impl FileTranscriptStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            write_lock: Arc::new(Mutex::new(())),
        }
    }

    /// The file of one conversation's transcript. Ids are validated types, so the path stays under root.
    pub fn path(&self, user: &UserId, conversation: &ConversationId) -> PathBuf {
        self.root
            .join(user.as_str())
            .join(format!("{conversation}.jsonl"))
    }
}

fn read(path: &Path) -> Result<Option<Transcript>, PortError> {
    Ok(read_versioned(path)?.map(|(bytes, version)| Transcript { bytes, version }))
}

#[async_trait]
impl TranscriptStore for FileTranscriptStore {
    async fn load(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<Transcript>, PortError> {
        let path = self.path(user, conversation);
        blocking(move || read(&path)).await
    }

    async fn save(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        bytes: &[u8],
        expected: Option<&ObjectVersion>,
    ) -> Result<ObjectVersion, PortError> {
        let path = self.path(user, conversation);
        let bytes = bytes.to_vec();
        let expected = expected.cloned();
        let lock = Arc::clone(&self.write_lock);
        blocking(move || {
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            let current = read(&path)?.map(|t| t.version);
            if current != expected {
                return Err(PortError::Conflict(format!(
                    "transcript is at version {current:?}, the writer expected {expected:?}"
                )));
            }
            write_atomically(&path, &bytes).map_err(PortError::backend)?;
            Ok(version_of(&bytes))
        })
        .await
    }

    async fn delete(&self, user: &UserId, conversation: &ConversationId) -> Result<(), PortError> {
        let path = self.path(user, conversation);
        let lock = Arc::clone(&self.write_lock);
        blocking(move || {
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            match fs::remove_file(&path) {
                Err(e) if e.kind() != ErrorKind::NotFound => Err(PortError::backend(e)),
                _ => Ok(()),
            }
        })
        .await
    }
}
