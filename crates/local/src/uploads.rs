//! Uploads in flight in local mode ([`PendingUploads`], [`UploadInbox`]): the twin of S3's presigned
//! requests. The target is the local server itself, `PUT /uploads/<token>`, and the token is the
//! only credential, as a presigned URL is on S3: it names the user, conversation, upload and size and
//! when it expires, signed by a [`TokenSigner`] (a restart ends the uploads in flight; the client
//! begins again). The bytes land in `<root>/<user>/<conversation>/<id>`,
//! the pending area, until the upload is completed or discarded; anything older than a day is swept
//! when the next target is handed out, as S3's lifecycle rule does on AWS.

use std::fs;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serverless_openclaw_core::ids::{AttachmentId, ConversationId, UserId};
use serverless_openclaw_core::ports::{PendingUploads, PortError, UploadInbox, UploadTarget};
use time::OffsetDateTime;

use crate::blocking;
use crate::files::write_atomically;
use crate::signing::TokenSigner;

/// How long bytes that were never completed stay in the pending area.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// The path prefix of the upload route (served by `server::local_app`).
pub const UPLOAD_ROUTE: &str = "/uploads/";

/// [`PendingUploads`] and [`UploadInbox`] on the local file system.
pub struct FileUploads {
    root: PathBuf,
    signer: TokenSigner,
}

/// What a valid token names.
struct Admitted {
    user: UserId,
    conversation: ConversationId,
    id: AttachmentId,
    size: u64,
}

impl FileUploads {
    /// Pending uploads under `root`, with a fresh signing key.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, PortError> {
        Ok(Self {
            root: root.into(),
            signer: TokenSigner::new()?,
        })
    }

    fn path(&self, user: &UserId, conversation: &ConversationId, id: &AttachmentId) -> PathBuf {
        // Ids are validated types, so the path stays under root.
        self.root
            .join(user.as_str())
            .join(conversation.as_str())
            .join(id.as_str())
    }

    /// `<user>.<conversation>.<id>.<size>.<expiry (unix s)>.<signature (hex)>`: ids contain no dots.
    fn token(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        size: u64,
        expires_at: OffsetDateTime,
    ) -> String {
        self.signer
            .sign(&format!("{user}.{conversation}.{id}.{size}"), expires_at)
    }

    /// What `token` names, if it was signed here and has not expired.
    fn admit(&self, token: &str) -> Option<Admitted> {
        let mut parts = self.signer.verify(token)?.split('.');
        let admitted = Admitted {
            user: UserId::parse(parts.next()?).ok()?,
            conversation: ConversationId::parse(parts.next()?).ok()?,
            id: AttachmentId::parse(parts.next()?).ok()?,
            size: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(admitted)
    }
}

/// Removes files under `dir` last written before `cutoff`, and folders left empty.
fn sweep(dir: &Path, cutoff: SystemTime) -> std::io::Result<()> {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in listing {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sweep(&path, cutoff)?;
            // Only an empty folder goes; one still in use makes this fail, which is fine.
            let _ = fs::remove_dir(&path);
        } else if entry.metadata()?.modified()? < cutoff {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<(), PortError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(PortError::backend(e)),
        _ => Ok(()),
    }
}

#[async_trait]
impl PendingUploads for FileUploads {
    async fn target(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        size: u64,
        valid_for: Duration,
    ) -> Result<UploadTarget, PortError> {
        let root = self.root.clone();
        blocking(move || sweep(&root, SystemTime::now() - STALE_AFTER).map_err(PortError::backend))
            .await?;
        let expires_at = OffsetDateTime::now_utc() + valid_for;
        Ok(UploadTarget {
            method: "PUT".into(),
            url: format!(
                "{UPLOAD_ROUTE}{}",
                self.token(user, conversation, id, size, expires_at)
            ),
            headers: Vec::new(),
            expires_at,
        })
    }

    async fn read(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, PortError> {
        let path = self.path(user, conversation, id);
        blocking(move || {
            let file = match fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(PortError::backend(e)),
            };
            let mut bytes = Vec::new();
            file.take(limit + 1)
                .read_to_end(&mut bytes)
                .map_err(PortError::backend)?;
            Ok(Some(bytes))
        })
        .await
    }

    async fn discard(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<(), PortError> {
        let path = self.path(user, conversation, id);
        blocking(move || remove_if_present(&path)).await
    }
}

#[async_trait]
impl UploadInbox for FileUploads {
    fn admits(&self, token: &str) -> Option<u64> {
        self.admit(token).map(|a| a.size)
    }

    async fn receive(&self, token: &str, bytes: &[u8]) -> Result<bool, PortError> {
        let Some(admitted) = self.admit(token) else {
            return Ok(false);
        };
        if bytes.len() as u64 != admitted.size {
            return Ok(false);
        }
        let path = self.path(&admitted.user, &admitted.conversation, &admitted.id);
        let bytes = bytes.to_vec();
        blocking(move || write_atomically(&path, &bytes).map_err(PortError::backend)).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (UserId, ConversationId, AttachmentId) {
        (
            UserId::parse("alice").unwrap(),
            ConversationId::parse("c1").unwrap(),
            AttachmentId::generate(),
        )
    }

    #[test]
    fn a_token_admits_its_upload_until_it_expires_and_never_once_altered() {
        let uploads = FileUploads::new("unused").unwrap();
        let (user, conversation, id) = ids();
        let later = OffsetDateTime::now_utc() + Duration::from_secs(60);
        let token = uploads.token(&user, &conversation, &id, 42, later);
        assert_eq!(uploads.admits(&token), Some(42));
        let bigger = token.replacen(".42.", ".4200.", 1);
        assert_eq!(uploads.admits(&bigger), None, "a changed size is refused");
        let other_user = token.replacen("alice.", "mallory.", 1);
        assert_eq!(uploads.admits(&other_user), None);
        let earlier = OffsetDateTime::now_utc() - Duration::from_secs(1);
        let expired = uploads.token(&user, &conversation, &id, 42, earlier);
        assert_eq!(
            uploads.admits(&expired),
            None,
            "an expired token is refused"
        );
        let other_key = FileUploads::new("unused").unwrap();
        assert_eq!(
            other_key.admits(&token),
            None,
            "a token of another process (or a forged one) is refused"
        );
        assert_eq!(uploads.admits("nonsense"), None);
    }
}
