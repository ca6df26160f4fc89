//! `POST /telegram/webhook`: Telegram's webhook. Not behind the caller authentication of the REST API
//! (Telegram sends no token); the [`Webhook`] checks the secret header itself.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serverless_openclaw_telegram::Webhook;
use serverless_openclaw_telegram::webhook::{Answer, SECRET_HEADER};

/// The largest webhook body read; Telegram's text updates are a few kilobytes.
const MAX_UPDATE_BYTES: usize = 256 * 1024;

/// The router with the webhook route only.
pub fn telegram_webhook(webhook: Arc<Webhook>) -> Router {
    Router::new()
        .route("/telegram/webhook", post(handle))
        .layer(DefaultBodyLimit::max(MAX_UPDATE_BYTES))
        .with_state(webhook)
}

async fn handle(
    State(webhook): State<Arc<Webhook>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let secret = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    match webhook.handle(secret, &body).await {
        Answer::Done => StatusCode::OK,
        Answer::Forbidden => StatusCode::FORBIDDEN,
        Answer::BadRequest => StatusCode::BAD_REQUEST,
        Answer::Retry => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
