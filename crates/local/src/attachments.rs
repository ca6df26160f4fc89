//! Attachments as files: `<root>/<user>/<conversation>/<id>` holds the bytes and `<id>.json` beside
//! it the metadata. Both are written atomically and privately (see `files`); the bytes go first and
//! are removed last, so metadata never names missing bytes.
//!
//! The quota is the sum of the sizes in the user's metadata files, counted and written under one lock:
//! local mode is one process, which owns its data dir.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serverless_openclaw_core::attachments::{Attachment, AttachmentKind};
use serverless_openclaw_core::ids::{AttachmentId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{AttachmentStore, PortError, Stored};
use time::OffsetDateTime;

use crate::blocking;
use crate::files::write_atomically;

/// [`AttachmentStore`] on the local file system.
#[derive(Clone)]
pub struct FileAttachmentStore {
    root: PathBuf,
    /// Serialises the quota count with the write, and a link's read with its write.
    lock: Arc<Mutex<()>>,
}

/// The metadata file's content.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    id: AttachmentId,
    conversation_id: ConversationId,
    name: String,
    media_type: String,
    kind: AttachmentKind,
    size: u64,
    created_at_ms: i64,
    message_id: Option<MessageId>,
    /// Absent in files written before transcripts existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transcript: Option<String>,
}

impl From<&Attachment> for Meta {
    fn from(a: &Attachment) -> Self {
        Self {
            id: a.id.clone(),
            conversation_id: a.conversation_id.clone(),
            name: a.name.clone(),
            media_type: a.media_type.clone(),
            kind: a.kind,
            size: a.size,
            created_at_ms: (a.created_at.unix_timestamp_nanos() / 1_000_000) as i64,
            message_id: a.message_id.clone(),
            transcript: a.transcript.clone(),
        }
    }
}

impl Meta {
    fn into_attachment(self) -> Attachment {
        Attachment {
            id: self.id,
            conversation_id: self.conversation_id,
            name: self.name,
            media_type: self.media_type,
            kind: self.kind,
            size: self.size,
            created_at: OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(self.created_at_ms) * 1_000_000,
            )
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            message_id: self.message_id,
            transcript: self.transcript,
        }
    }
}

impl FileAttachmentStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// The folder of one conversation's attachments. Ids are validated types, so it stays under root.
    fn folder(&self, user: &UserId, conversation: &ConversationId) -> PathBuf {
        self.root.join(user.as_str()).join(conversation.as_str())
    }
}

fn meta_path(folder: &Path, id: &AttachmentId) -> PathBuf {
    folder.join(format!("{id}.json"))
}

fn read_meta(path: &Path) -> Result<Option<Meta>, PortError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(PortError::backend),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PortError::backend(e)),
    }
}

fn write_meta(folder: &Path, meta: &Meta) -> Result<(), PortError> {
    let json = serde_json::to_vec(meta).map_err(PortError::backend)?;
    write_atomically(&meta_path(folder, &meta.id), &json).map_err(PortError::backend)
}

/// The metadata files in `folder`, in id (so creation) order. A missing folder has none.
fn metas_in(folder: &Path) -> Result<Vec<Meta>, PortError> {
    let listing = match fs::read_dir(folder) {
        Ok(listing) => listing,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PortError::backend(e)),
    };
    let mut metas = Vec::new();
    for entry in listing {
        let path = entry.map_err(PortError::backend)?.path();
        if path.extension().is_some_and(|e| e == "json")
            && let Some(meta) = read_meta(&path)?
        {
            metas.push(meta);
        }
    }
    metas.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(metas)
}

/// The bytes the user's attachments take, over all their conversations.
fn usage_under(user_dir: &Path) -> Result<u64, PortError> {
    let conversations = match fs::read_dir(user_dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(PortError::backend(e)),
    };
    let mut used = 0;
    for entry in conversations {
        let entry = entry.map_err(PortError::backend)?;
        if entry.file_type().map_err(PortError::backend)?.is_dir() {
            used += metas_in(&entry.path())?.iter().map(|m| m.size).sum::<u64>();
        }
    }
    Ok(used)
}

fn remove_if_present(path: &Path) -> Result<(), PortError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(PortError::backend(e)),
        _ => Ok(()),
    }
}

#[async_trait]
impl AttachmentStore for FileAttachmentStore {
    async fn put(
        &self,
        user: &UserId,
        attachment: &Attachment,
        bytes: &[u8],
        quota: u64,
    ) -> Result<Stored, PortError> {
        let (store, user_dir) = (self.clone(), self.root.join(user.as_str()));
        let folder = self.folder(user, &attachment.conversation_id);
        let (meta, bytes) = (Meta::from(attachment), bytes.to_vec());
        blocking(move || {
            let _quota = store.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let used = usage_under(&user_dir)?;
            if used + meta.size > quota {
                return Ok(Stored::OverQuota { used });
            }
            write_atomically(&folder.join(meta.id.as_str()), &bytes).map_err(PortError::backend)?;
            write_meta(&folder, &meta)?;
            Ok(Stored::Stored)
        })
        .await
    }

    async fn get(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<Option<Attachment>, PortError> {
        let path = meta_path(&self.folder(user, conversation), id);
        blocking(move || Ok(read_meta(&path)?.map(Meta::into_attachment))).await
    }

    async fn read(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<Option<Vec<u8>>, PortError> {
        let folder = self.folder(user, conversation);
        let id = id.clone();
        blocking(move || {
            if !meta_path(&folder, &id).exists() {
                return Ok(None);
            }
            match fs::read(folder.join(id.as_str())) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(PortError::backend(e)),
            }
        })
        .await
    }

    async fn list(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<Attachment>, PortError> {
        let folder = self.folder(user, conversation);
        blocking(move || {
            Ok(metas_in(&folder)?
                .into_iter()
                .map(Meta::into_attachment)
                .collect())
        })
        .await
    }

    async fn link(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        message: &MessageId,
    ) -> Result<(), PortError> {
        let (store, folder) = (self.clone(), self.folder(user, conversation));
        let (id, message) = (id.clone(), message.clone());
        blocking(move || {
            let _one_writer = store.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let mut meta = read_meta(&meta_path(&folder, &id))?.ok_or(PortError::NotFound)?;
            match &meta.message_id {
                Some(linked) if *linked == message => Ok(()),
                Some(linked) => Err(PortError::Conflict(format!(
                    "attachment {id} went with message {linked}"
                ))),
                None => {
                    meta.message_id = Some(message);
                    write_meta(&folder, &meta)
                }
            }
        })
        .await
    }

    async fn set_transcript(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        transcript: &str,
    ) -> Result<(), PortError> {
        let (store, folder) = (self.clone(), self.folder(user, conversation));
        let (id, transcript) = (id.clone(), transcript.to_owned());
        blocking(move || {
            let _one_writer = store.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let mut meta = read_meta(&meta_path(&folder, &id))?.ok_or(PortError::NotFound)?;
            meta.transcript = Some(transcript);
            write_meta(&folder, &meta)
        })
        .await
    }

    async fn delete(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<bool, PortError> {
        let (store, folder, id) = (self.clone(), self.folder(user, conversation), id.clone());
        blocking(move || {
            let _one_writer = store.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let meta = meta_path(&folder, &id);
            let existed = meta.exists();
            remove_if_present(&meta)?;
            remove_if_present(&folder.join(id.as_str()))?;
            Ok(existed)
        })
        .await
    }

    async fn delete_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError> {
        let (store, folder) = (self.clone(), self.folder(user, conversation));
        blocking(move || {
            let _one_writer = store.lock.lock().unwrap_or_else(PoisonError::into_inner);
            for meta in metas_in(&folder)? {
                remove_if_present(&meta_path(&folder, &meta.id))?;
            }
            match fs::remove_dir_all(&folder) {
                Err(e) if e.kind() != ErrorKind::NotFound => Err(PortError::backend(e)),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn usage(&self, user: &UserId) -> Result<u64, PortError> {
        let user_dir = self.root.join(user.as_str());
        blocking(move || usage_under(&user_dir)).await
    }
}
