//! [`TurnQueue`] on an SQS FIFO queue.
//!
//! - `MessageGroupId` is derived from user + conversation, so SQS hands out the turns of one
//!   conversation one at a time, in order, while different conversations run in parallel.
//! - `MessageDeduplicationId` is the client message id, so a message sent twice within SQS's 5-minute
//!   window is queued once. The queue must use `DeduplicationScope=messageGroup`, so one user's ids can
//!   never suppress another user's message.
//! - Repeated failures move a message to the dead-letter queue (the queue's redrive policy, set by the
//!   CDK app); the turn processor is idempotent, so redelivery never answers twice.
//! - A delivery that must wait (its conversation is busy) is handed back with a short visibility
//!   timeout ([`SqsRedelivery`]) instead of the queue's, which is sized for a whole turn.
//! - Cancelling cannot reach into another Lambda, so it goes through the conversation's session lease
//!   ([`SessionLeases::request_cancel`]); the processor holding the lease watches for it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{PortError, SessionLeases, TurnQueue};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Turns on an SQS FIFO queue.
pub struct SqsTurnQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    leases: Arc<dyn SessionLeases>,
}

impl SqsTurnQueue {
    pub fn new(
        client: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        leases: Arc<dyn SessionLeases>,
    ) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            leases,
        }
    }
}

/// Schedules the redelivery of a received message: what the consumer of the queue (the agent) uses
/// for a turn it cannot run yet.
pub struct SqsRedelivery {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsRedelivery {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Makes the message received with `receipt_handle` visible again `after` from now (SQS allows
    /// up to 12 hours), whatever the queue's visibility timeout.
    pub async fn redeliver_after(
        &self,
        receipt_handle: &str,
        after: Duration,
    ) -> Result<(), PortError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(after.as_secs()).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| PortError::backend(aws_sdk_sqs::Error::from(e)))?;
        Ok(())
    }
}

/// The FIFO group of a conversation: a hash, because two 64-character ids do not fit SQS's 128.
pub fn message_group_id(user: &UserId, conversation: &ConversationId) -> String {
    let mut hash = Sha256::new();
    hash.update(user.as_str());
    hash.update([0]);
    hash.update(conversation.as_str());
    hex::encode(hash.finalize())
}

#[async_trait]
impl TurnQueue for SqsTurnQueue {
    async fn enqueue(&self, turn: Turn) -> Result<(), PortError> {
        let body = serde_json::to_string(&turn).map_err(PortError::backend)?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(message_group_id(&turn.user_id, &turn.conversation_id))
            .message_deduplication_id(turn.client_message_id.as_str())
            .send()
            .await
            .map_err(|e| PortError::backend(aws_sdk_sqs::Error::from(e)))?;
        Ok(())
    }

    async fn cancel(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<bool, PortError> {
        self.leases
            .request_cancel(user, conversation, OffsetDateTime::now_utc())
            .await
    }
}
