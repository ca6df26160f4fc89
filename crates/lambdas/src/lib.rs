//! The AWS Lambda functions of serverless-openclaw. Each function is a tiny bin in `src/bin/` (its name
//! is the CDK function name); the handlers and their composition live here, so tests drive the same code
//! with real event JSON.
//!
//! - [`settings`]: typed configuration from environment variables (`docs/configuration.md`) and the
//!   adapters built from it, once per execution environment.
//! - [`websocket`]: `ws-connect`, `ws-disconnect`, `ws-message` (API Gateway WebSocket routes).
//! - [`http`]: `http-api`, the REST API through the shared `server` router.
//! - [`telegram`]: `telegram-webhook`, Telegram's webhook through the shared `server` route.
//! - [`agent`]: `agent`, the SQS-triggered turn processor around the warm OpenClaw runner.
//! - [`watchdog`]: `watchdog`, the scheduled cleanup of expired connections and leases.
//! - [`dead_letters`]: `dead-letters`, which tells users about the turns that reached the dead-letter
//!   queue.

pub mod agent;
pub mod dead_letters;
pub mod http;
pub mod settings;
pub mod telegram;
pub mod watchdog;
pub mod websocket;

use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use lambda_runtime::{LambdaEvent, Runtime, SnapStartResource, layers, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The error type of every handler and `main`.
pub type Error = lambda_runtime::Error;

/// A Lambda function: built once per execution environment, then called per event.
pub trait Function: Sized {
    type Event: DeserializeOwned + Send + 'static;
    type Response: Serialize + Send;

    /// Reads the function's settings and builds its clients (the init phase).
    fn from_env(adapters: &settings::Adapters) -> impl Future<Output = Result<Self, Error>>;

    fn handle(
        &self,
        event: LambdaEvent<Self::Event>,
    ) -> impl Future<Output = Result<Self::Response, Error>>;

    /// The hooks to run before a SnapStart snapshot and after each restore from it; `None` for a
    /// function with nothing to redo (the runtime then calls no hook). They only run when Lambda
    /// initialises the function for SnapStart (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`).
    fn snapstart(&self) -> Option<Arc<dyn SnapStartResource>> {
        None
    }
}

/// The answer to an SQS batch whose `undone` records are to be delivered again (the event source
/// deletes the others).
pub fn redeliver<'a>(undone: impl IntoIterator<Item = &'a SqsMessage>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in undone {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = record.message_id.clone().unwrap_or_default();
        response.batch_item_failures.push(failure);
    }
    response
}

/// The `main` of a function: logging, configuration and clients once, then the Runtime API loop
/// (with SnapStart, first the snapshot and restore: `/runtime/restore/next`).
pub async fn serve<F: Function>() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let function = F::from_env(&settings::Adapters::load().await).await?;
    let runtime =
        Runtime::new(service_fn(|event| function.handle(event))).layer(layers::TracingLayer::new());
    let runtime = match function.snapstart() {
        Some(hooks) => runtime.register_snapstart_resource(hooks),
        None => runtime,
    };
    runtime.run().await
}
