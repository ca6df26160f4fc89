//! Download links in local mode ([`AttachmentLinks`], [`LinkedAttachments`]): the twin of S3's
//! presigned `GetObject`. The link is the local server itself, `GET /downloads/<token>`, and the token
//! is the only credential, as a presigned URL is on S3: it names the user, conversation and attachment
//! and when it expires, signed by a [`TokenSigner`] of its own (an upload token is never taken here).
//! The bytes are read from the attachment store when the link is fetched, so a deleted attachment's
//! link answers nothing.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_core::attachments::Attachment;
use serverless_openclaw_core::ids::{AttachmentId, ConversationId, UserId};
use serverless_openclaw_core::ports::{
    AttachmentLinks, AttachmentStore, DownloadLink, LinkedAttachments, PortError,
};
use time::OffsetDateTime;

use crate::signing::TokenSigner;

/// The path prefix of the download route (served by `server::local_app`).
pub const DOWNLOAD_ROUTE: &str = "/downloads/";

/// [`AttachmentLinks`] and [`LinkedAttachments`] over an attachment store.
pub struct FileLinks {
    store: Arc<dyn AttachmentStore>,
    signer: TokenSigner,
}

impl FileLinks {
    /// Links to the attachments of `store`, with a fresh signing key.
    pub fn new(store: Arc<dyn AttachmentStore>) -> Result<Self, PortError> {
        Ok(Self {
            store,
            signer: TokenSigner::new()?,
        })
    }
}

#[async_trait]
impl AttachmentLinks for FileLinks {
    async fn link(
        &self,
        user: &UserId,
        attachment: &Attachment,
        valid_for: Duration,
    ) -> Result<DownloadLink, PortError> {
        let expires_at = OffsetDateTime::now_utc() + valid_for;
        // `<user>.<conversation>.<id>.<expiry>.<signature>`: ids contain no dots.
        let claims = format!("{user}.{}.{}", attachment.conversation_id, attachment.id);
        Ok(DownloadLink {
            url: format!("{DOWNLOAD_ROUTE}{}", self.signer.sign(&claims, expires_at)),
            expires_at,
        })
    }
}

#[async_trait]
impl LinkedAttachments for FileLinks {
    async fn open(&self, token: &str) -> Result<Option<(Attachment, Vec<u8>)>, PortError> {
        let Some(claims) = self.signer.verify(token) else {
            return Ok(None);
        };
        let mut parts = claims.split('.');
        let (Some(user), Some(conversation), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let (Ok(user), Ok(conversation), Ok(id)) = (
            UserId::parse(user),
            ConversationId::parse(conversation),
            AttachmentId::parse(id),
        ) else {
            return Ok(None);
        };
        let Some(attachment) = self.store.get(&user, &conversation, &id).await? else {
            return Ok(None);
        };
        Ok(self
            .store
            .read(&user, &conversation, &id)
            .await?
            .map(|bytes| (attachment, bytes)))
    }
}
