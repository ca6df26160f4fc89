//! REST handlers (`docs/protocol.md`, "REST"). Errors are mapped once, here, to
//! `{"code","message"}` with a fitting status; internals stay in the log.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use serverless_openclaw_core::domain::MAX_TITLE_CHARS;
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::PortError;
use serverless_openclaw_core::protocol::{
    ConversationList, ConversationSummary, CreatedConversation, ErrorBody, ErrorCode, MessageList,
    MessageView, NewConversation, TelegramLinkCode,
};

use crate::AppState;

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// A REST failure.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
            },
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or wrong access token",
        )
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such conversation",
        )
    }
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::NotFound => Self::not_found(),
            PortError::Conflict(detail) => {
                Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, detail)
            }
            PortError::Backend(cause) => {
                tracing::error!(error = %cause, "storage failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "storage failed; please retry",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The authenticated caller of a REST request (`Authorization: Bearer <token>`).
pub struct Caller(pub UserId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        state
            .auth
            .authenticate(parts)
            .map(Caller)
            .ok_or_else(ApiError::unauthorized)
    }
}

fn conversation_id(raw: String) -> Result<ConversationId, ApiError> {
    ConversationId::parse(raw)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidId, e.to_string()))
}

pub async fn list_conversations(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<Json<ConversationList>, ApiError> {
    let conversations = state.conversations.list_conversations(&user).await?;
    Ok(Json(ConversationList {
        conversations: conversations
            .iter()
            .map(ConversationSummary::from)
            .collect(),
    }))
}

pub async fn create_conversation(
    State(state): State<AppState>,
    Caller(user): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedConversation>), ApiError> {
    let request: NewConversation = if body.iter().all(u8::is_ascii_whitespace) {
        NewConversation::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?
    };
    let title = request.title.unwrap_or_default();
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!("title is longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    let id = ConversationId::generate();
    let title = if title.trim().is_empty() {
        "New conversation"
    } else {
        title.trim()
    };
    state
        .conversations
        .create_conversation(&user, &id, title)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedConversation { id })))
}

pub async fn list_messages(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<MessageList>, ApiError> {
    let id = conversation_id(id)?;
    let limit = match query.get("limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be 1 to {MAX_PAGE}")))?,
    };
    let before = query
        .get("before")
        .map(|raw| {
            MessageId::parse(raw.as_str()).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidId, e.to_string())
            })
        })
        .transpose()?;
    let messages = state
        .conversations
        .list_messages(&user, &id, limit, before.as_ref())
        .await?;
    Ok(Json(MessageList {
        messages: messages.iter().map(MessageView::from).collect(),
    }))
}

pub async fn delete_conversation(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = conversation_id(id)?;
    state.conversations.delete_conversation(&user, &id).await?;
    state.transcripts.delete(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/telegram/link-code`: a one-time code that links a Telegram account to the caller.
pub async fn telegram_link_code(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<(StatusCode, Json<TelegramLinkCode>), ApiError> {
    let issued =
        serverless_openclaw_telegram::issue_link_code(state.telegram.as_ref(), &user).await?;
    Ok((
        StatusCode::CREATED,
        Json(TelegramLinkCode {
            code: issued.code,
            expires_at: serverless_openclaw_core::domain::format_time(issued.expires_at),
        }),
    ))
}

pub async fn status(State(state): State<AppState>, Caller(_): Caller) -> Json<serde_json::Value> {
    let status = state.agent.status();
    Json(json!({
        "agent": { "state": status.state, "openclawVersion": status.openclaw_version },
        "provider": { "configured": status.model.is_some(), "model": status.model },
    }))
}

pub async fn not_found(Caller(_): Caller) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such endpoint",
    )
}

/// The web UI's runtime configuration in local mode (the contract is `web/src/runtimeConfig.ts`; on AWS
/// the CDK app writes the same file): REST and WebSocket on this origin, the access token from the URL.
/// Public, like the page itself, and never cached, so a restarted server is picked up on reload.
pub async fn runtime_config() -> impl IntoResponse {
    (
        [(axum::http::header::CACHE_CONTROL, "no-cache")],
        Json(json!({
            "version": 1,
            "apiUrl": "/",
            "websocketUrl": "/ws",
            "auth": { "kind": "token" },
        })),
    )
}

pub async fn web_not_built() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><title>serverless-openclaw</title><p>The web UI is not built. \
             Run <code>make run</code> (it builds <code>web/</code>) or <code>npm --prefix web run build</code>.</p>",
        ),
    )
}
