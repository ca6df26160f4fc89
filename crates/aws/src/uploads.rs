//! Uploads in flight on S3 ([`PendingUploads`]): the client puts the bytes straight into the bucket
//! with a presigned `PutObject`, so a file never passes through a Lambda request (whose payload is
//! bounded at 6 MB, base64-encoded). The object is `uploads/<user>/<conversation>/<id>`, fixed by the
//! server; its `Content-Length` is signed, so S3 refuses any other size; the URL expires with the
//! upload target. The bucket's lifecycle rule on `uploads/` (infra, `storage.ts`) removes what was
//! never completed after a day.
//!
//! Why a presigned PUT and not a presigned POST with a policy (`content-length-range`): the AWS SDK
//! for Rust presigns operations only, and POST Object is not one (`docs/architecture.md`).

use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_core::ids::{AttachmentId, ConversationId, UserId};
use serverless_openclaw_core::ports::{PendingUploads, PortError, UploadTarget};
use time::OffsetDateTime;

use crate::s3::Bucket;

/// The key prefix of uploads in flight (the lifecycle rule's filter).
pub const UPLOADS_PREFIX: &str = "uploads/";

/// Uploads in flight in the bucket.
#[derive(Clone)]
pub struct S3PendingUploads {
    bucket: Bucket,
}

impl S3PendingUploads {
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            bucket: Bucket::new(s3, bucket),
        }
    }

    /// The object key of an upload's bytes. Ids are validated types, so it stays under the prefix.
    pub fn object_key(user: &UserId, conversation: &ConversationId, id: &AttachmentId) -> String {
        format!("{UPLOADS_PREFIX}{user}/{conversation}/{id}")
    }
}

#[async_trait]
impl PendingUploads for S3PendingUploads {
    async fn target(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        size: u64,
        valid_for: Duration,
    ) -> Result<UploadTarget, PortError> {
        let expires_at = OffsetDateTime::now_utc() + valid_for;
        let presigned = self
            .bucket
            .presigned_put(&Self::object_key(user, conversation, id), size, valid_for)
            .await?;
        Ok(UploadTarget {
            method: presigned.method().to_owned(),
            url: presigned.uri().to_owned(),
            // A browser sets Content-Length from the body and refuses to be told it.
            headers: presigned
                .headers()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
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
        self.bucket
            .get_head(&Self::object_key(user, conversation, id), limit + 1)
            .await
    }

    async fn discard(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<(), PortError> {
        self.bucket
            .delete(&Self::object_key(user, conversation, id), None)
            .await
    }
}
