//! The WebSocket chat endpoint, `GET /ws?token=<token>`.
//!
//! Authentication happens before the upgrade (a wrong token is a plain 401); a client that passes it
//! wakes the agent, since a message usually follows a connect within seconds. After it, each text frame
//! is parsed and validated; anything wrong is answered with an `error` frame and the socket stays open.
//! Replies meant for this socket go through its hub channel, so they keep their order with pushed frames.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::{AgentWaker, WakeReason};
use serverless_openclaw_core::protocol::{ErrorCode, ServerFrame};
use tokio::sync::mpsc;

use crate::hub::{Connection, MAX_CONNECTIONS_PER_USER};
use crate::rest::ApiError;
use crate::{Authenticator, ConnectionHub};

/// Frames above our 64 KiB protocol limit are still read (up to this size) so they can be answered
/// with `too_large` instead of a dropped connection.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// What the WebSocket chat uses.
#[derive(Clone)]
pub struct ChatSocket {
    pub auth: Arc<dyn Authenticator>,
    pub chat: ChatService,
    pub hub: Arc<ConnectionHub>,
    /// Woken when a client connects (`None`: nothing to warm).
    pub waker: Option<Arc<dyn AgentWaker>>,
}

pub async fn upgrade(
    State(state): State<ChatSocket>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(user) = query.get("token").and_then(|t| state.auth.verify(t)) else {
        return ApiError::unauthorized().into_response();
    };
    // Registered before the upgrade, so a user past the cap gets a plain 429; a registration whose
    // upgrade never completes is dropped with its receiver.
    let Some(registered) = state.hub.register(&user) else {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::LimitReached,
            format!(
                "too many open connections (at most {MAX_CONNECTIONS_PER_USER}); close another tab"
            ),
        )
        .into_response();
    };
    if let Some(waker) = &state.waker {
        waker.wake(WakeReason::WebConnected).await;
    }
    ws.max_message_size(MAX_READ_BYTES)
        .max_frame_size(MAX_READ_BYTES)
        .on_upgrade(move |socket| serve(state, user, registered, socket))
}

async fn serve(
    state: ChatSocket,
    user: UserId,
    (connection, mut outgoing): (Connection, mpsc::Receiver<String>),
    socket: WebSocket,
) {
    let (mut sink, mut stream) = socket.split();
    let overflowed = connection.overflowed.clone();
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = outgoing.recv() => match frame {
                    Some(text) => {
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
                () = overflowed.cancelled() => {
                    // 1013 "try again later": the client reconnects and reloads what it missed.
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code: 1013,
                            reason: "too many frames waiting for this connection; reconnect".into(),
                        })))
                        .await;
                    return;
                }
            }
        }
    });
    loop {
        let message = tokio::select! {
            message = stream.next() => match message {
                Some(Ok(message)) => message,
                _ => break,
            },
            () = connection.overflowed.cancelled() => break,
        };
        match message {
            Message::Text(text) => handle(&state, &user, &connection, text.as_str()).await,
            Message::Binary(_) => reply(
                &connection,
                ServerFrame::Error {
                    code: ErrorCode::BadRequest,
                    message: "binary frames are not supported; send JSON text frames".into(),
                    client_message_id: None,
                    conversation_id: None,
                },
            ),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    state.hub.unregister(&user, connection.id);
    if connection.overflowed.is_cancelled() {
        // Let the writer send its close frame.
        let _ = writer.await;
    } else {
        writer.abort();
    }
}

fn reply(connection: &Connection, frame: ServerFrame) {
    connection.send(frame.to_json());
}

async fn handle(state: &ChatSocket, user: &UserId, connection: &Connection, text: &str) {
    if let Some(frame) = state.chat.handle_frame(user, text).await {
        reply(connection, frame);
    }
}
