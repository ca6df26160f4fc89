//! OpenClaw transcripts as JSONL files: `<root>/<user>/<conversation>.jsonl`.
//!
//! The version is a SHA-256 of the content (the local stand-in for an S3 ETag). A save compares the
//! version under a lock, writes a temporary file, syncs it and renames it over the old one, so a reader
//! sees the old or the new file, never a torn one. The lock is per process: one local server owns a data dir.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{PortError, Transcript, TranscriptStore, ObjectVersion};
use sha2::{Digest, Sha256};

use crate::blocking;

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

/// The version of some transcript bytes.
pub fn version_of(bytes: &[u8]) -> ObjectVersion {
    ObjectVersion(hex::encode(&Sha256::digest(bytes)[..16]))
}

fn read(path: &Path) -> Result<Option<Transcript>, PortError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(Transcript {
            version: version_of(&bytes),
            bytes,
        })),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PortError::backend(e)),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or(ErrorKind::InvalidInput)?;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // Persist the rename itself.
        fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
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
