//! [`TranscriptStore`] on S3: one object per conversation, `transcripts/<user>/<conversation>.jsonl`,
//! versioned by its ETag. A save is a conditional PutObject, so two writers can never both win and a
//! stale one never overwrites a newer transcript; a PutObject replaces the object atomically.

use async_trait::async_trait;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{ObjectVersion, PortError, Transcript, TranscriptStore};

use crate::s3::Bucket;

/// OpenClaw transcripts in one S3 bucket.
#[derive(Clone)]
pub struct S3TranscriptStore {
    bucket: Bucket,
}

impl S3TranscriptStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            bucket: Bucket::new(client, bucket),
        }
    }

    /// The object key of one conversation's transcript. Ids are validated types (no `/` or `.`), so the
    /// key stays under the user's prefix.
    pub fn key(user: &UserId, conversation: &ConversationId) -> String {
        format!("transcripts/{user}/{conversation}.jsonl")
    }
}

#[async_trait]
impl TranscriptStore for S3TranscriptStore {
    async fn load(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<Transcript>, PortError> {
        let object = self.bucket.get(&Self::key(user, conversation)).await?;
        Ok(object.map(|o| Transcript {
            bytes: o.bytes,
            version: o.version,
        }))
    }

    async fn save(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        bytes: &[u8],
        expected: Option<&ObjectVersion>,
    ) -> Result<ObjectVersion, PortError> {
        self.bucket
            .put(&Self::key(user, conversation), bytes, expected)
            .await
    }

    async fn delete(&self, user: &UserId, conversation: &ConversationId) -> Result<(), PortError> {
        self.bucket
            .delete(&Self::key(user, conversation), None)
            .await
    }
}
