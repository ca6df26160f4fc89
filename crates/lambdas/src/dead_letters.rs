//! `dead-letters`: triggered by the turn queue's dead-letter queue. A turn lands there after the
//! queue's `maxReceiveCount` deliveries that all ended without an outcome (the agent crashed or was
//! killed each time, or the conversation stayed busy); a turn that ran and failed never does, since
//! its user was told and the record deleted. This function tells the user, as a failed turn does
//! (the core [`AbandonedTurns`]): an `error` frame ("This message could not be answered: …") and
//! `idle` on their web connections, and the same words in the Telegram chat the turn came from. The
//! user message stays stored without a reply; a record whose message has a reply after all is
//! dropped without a word. A record the stores cannot check is delivered again.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ports::ClientPush;
use serverless_openclaw_core::turn::AbandonedTurns;

use crate::settings::Adapters;
use crate::{Error, Function};

/// What the user is told after "This message could not be answered: ".
pub const REASON: &str =
    "the agent stopped before finishing it, several times. Please send it again.";

/// The `dead-letters` function.
pub struct DeadLetters {
    abandoned: AbandonedTurns,
}

impl Function for DeadLetters {
    type Event = SqsEvent;
    type Response = SqsBatchResponse;

    async fn from_env(adapters: &Adapters) -> Result<Self, Error> {
        let push: Arc<dyn ClientPush> = adapters.push(adapters.connections()?)?;
        let mut abandoned = AbandonedTurns::new(adapters.conversations()?, push);
        if let Some(replies) = crate::telegram::replies(adapters, None) {
            abandoned = abandoned.with_replies(replies);
        }
        Ok(Self { abandoned })
    }

    async fn handle(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        let mut undone = Vec::new();
        for record in &event.payload.records {
            if !self.answer(record).await {
                undone.push(record);
            }
        }
        Ok(crate::redeliver(undone))
    }
}

impl DeadLetters {
    /// Whether the record is done with (its user told, or nothing to tell).
    async fn answer(&self, record: &SqsMessage) -> bool {
        let body = record.body.as_deref().unwrap_or_default();
        let turn: Turn = match serde_json::from_str(body) {
            Ok(turn) => turn,
            Err(e) => {
                // Nobody to tell; the log keeps it (a queued record is always a turn the gateways wrote).
                tracing::error!(error = %e, message = ?record.message_id, body, "a dead letter is not a turn; dropped");
                return true;
            }
        };
        match self.abandoned.report(&turn, REASON).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %e, message = ?record.message_id, "could not check a dead letter's message; it is delivered again");
                false
            }
        }
    }
}
