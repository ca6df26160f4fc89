//! The WebSocket chat endpoint, `GET /ws?token=<token>`.
//!
//! Authentication happens before the upgrade (a wrong token is a plain 401). After it, each text frame
//! is parsed and validated; anything wrong is answered with an `error` frame and the socket stays open.
//! Replies meant for this socket go through its hub channel, so they keep their order with pushed frames.

use std::collections::HashMap;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serverless_openclaw_core::chat::Submission;
use serverless_openclaw_core::domain::Channel;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::protocol::{ClientFrame, ErrorCode, ServerFrame, parse_client_frame};

use crate::AppState;
use crate::hub::Connection;
use crate::rest::ApiError;

/// Frames above our 64 KiB protocol limit are still read (up to this size) so they can be answered
/// with `too_large` instead of a dropped connection.
const MAX_READ_BYTES: usize = 1024 * 1024;

pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(user) = query.get("token").and_then(|t| state.auth.verify(t)) else {
        return ApiError::unauthorized().into_response();
    };
    ws.max_message_size(MAX_READ_BYTES)
        .max_frame_size(MAX_READ_BYTES)
        .on_upgrade(move |socket| serve(state, user, socket))
}

async fn serve(state: AppState, user: UserId, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (connection, mut outgoing) = state.hub.register(&user);
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
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
    writer.abort();
}

fn reply(connection: &Connection, frame: ServerFrame) {
    let _ = connection.frames.send(frame.to_json());
}

async fn handle(state: &AppState, user: &UserId, connection: &Connection, text: &str) {
    let frame = match parse_client_frame(text) {
        Ok(frame) => frame,
        Err(e) => return reply(connection, e.into_frame()),
    };
    match frame {
        ClientFrame::Ping => reply(connection, ServerFrame::Pong),
        ClientFrame::SendMessage {
            conversation_id,
            message,
            client_message_id,
        } => {
            let submission = Submission {
                conversation_id,
                client_message_id,
                text: message,
                channel: Channel::Web,
            };
            if let Err(e) = state.chat.submit(user, submission).await {
                reply(connection, e.into_frame());
            }
        }
        ClientFrame::Cancel { conversation_id } => {
            match state.chat.cancel(user, &conversation_id).await {
                Ok(true) => {}
                Ok(false) => reply(
                    connection,
                    ServerFrame::Error {
                        code: ErrorCode::BadRequest,
                        message: "no turn is running in this conversation".into(),
                        client_message_id: None,
                        conversation_id: Some(conversation_id.to_string()),
                    },
                ),
                Err(e) => reply(connection, e.into_frame()),
            }
        }
    }
}
