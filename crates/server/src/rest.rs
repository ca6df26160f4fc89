//! REST handlers (`docs/protocol.md`, "REST"). Errors are mapped once, here, to
//! `{"code","message"}` with a fitting status; internals stay in the log. Request bodies are read by
//! plain functions (`new_conversation_title`, `renamed_title`, `conversation_settings_change`,
//! `settings_change`) before anything is touched, so they are fuzzed on their own (`crates/fuzz-targets`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use serverless_openclaw_core::attachments::{AttachmentError, Attachments, served};
use serverless_openclaw_core::domain::MAX_TITLE_CHARS;
use serverless_openclaw_core::domain::{ConversationSettingsUpdate, Message};
use serverless_openclaw_core::ids::{AttachmentId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{LinkedAttachments, PortError, TelegramUserId, UploadInbox};
use serverless_openclaw_core::protocol::{
    AttachmentView, CompleteUploadRequest, ConversationList, ConversationSettingsChange,
    ConversationSettingsView, ConversationSummary, CreatedConversation, DownloadLinkView,
    ErrorBody, ErrorCode, ExchangeVersionView, MAX_CONVERSATION_SETTINGS_BYTES, MessageList,
    MessageView, NewConversation, RenameConversation, SearchResults, SettingsUpdate, SettingsView,
    SkillChange, SkillDetailView, SkillFileView, SkillList, SkillView, TelegramLinkCode,
    TelegramLinks, UploadRequest, UploadView,
};
use serverless_openclaw_core::search::{DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, SearchError};
use serverless_openclaw_core::settings::{
    ApiKey, Endpoints, ModelSettings, Provider, SpeechSettings,
};
use serverless_openclaw_core::skills::{
    MAX_SKILL_BYTES, SkillError, Stored, skill_from_markdown, skill_from_zip,
};
use time::OffsetDateTime;

use crate::AppState;

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;
/// The largest settings body: a handful of keys and a URL.
const MAX_SETTINGS_BYTES: usize = 32 * 1024;

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

    /// The answer's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The answer's body.
    pub fn body(&self) -> &ErrorBody {
        &self.body
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
    let title = new_conversation_title(&body)?;
    let id = ConversationId::generate();
    state
        .conversations
        .create_conversation(&user, &id, &title)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedConversation { id })))
}

/// The title a `POST /api/conversations` body gives the new conversation: an empty body or no title is
/// "New conversation".
pub fn new_conversation_title(body: &[u8]) -> Result<String, ApiError> {
    let request: NewConversation = if body.iter().all(u8::is_ascii_whitespace) {
        NewConversation::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?
    };
    let title = request.title.unwrap_or_default();
    let title = checked_title(&title)?;
    Ok(if title.is_empty() {
        "New conversation"
    } else {
        title
    }
    .to_owned())
}

pub async fn list_messages(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<MessageList>, ApiError> {
    let id = conversation_id(id)?;
    let limit = limit_parameter(&query, DEFAULT_PAGE, MAX_PAGE)?;
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
    // The versions of the last exchange go with the newest page, the one that shows it.
    let versions = match before {
        None => {
            state
                .conversations
                .last_exchange_versions(&user, &id)
                .await?
        }
        Some(_) => Vec::new(),
    };
    let attached = match &state.attachments {
        Some(attachments) => attachments.by_message(&user, &id).await?,
        None => HashMap::new(),
    };
    let view = |m: &Message| MessageView {
        attachments: attached
            .get(&m.id)
            .map(|list| list.iter().map(AttachmentView::from).collect())
            .unwrap_or_default(),
        ..MessageView::from(m)
    };
    Ok(Json(MessageList {
        messages: messages.iter().map(view).collect(),
        versions: versions
            .iter()
            .map(|v| ExchangeVersionView {
                user: view(&v.user),
                reply: v.reply.as_ref().map(view),
            })
            .collect(),
    }))
}

/// The `limit` query parameter: `default` when absent, else 1 to `max`.
fn limit_parameter(
    query: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match query.get("limit") {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be 1 to {max}"))),
    }
}

/// `GET /api/search?q=<words>&limit=<1..50>`: the caller's messages that `q` finds, newest first,
/// each with a snippet around its first match.
pub async fn search(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<SearchResults>, ApiError> {
    let limit = limit_parameter(&query, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT)?;
    let words = query.get("q").map_or("", String::as_str);
    let hits = state
        .search
        .search(&user, words, limit)
        .await
        .map_err(|e| match e {
            SearchError::Invalid(refused) => ApiError::bad_request(refused.0),
            SearchError::Store(e) => e.into(),
        })?;
    Ok(Json(SearchResults { hits }))
}

pub async fn delete_conversation(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = conversation_id(id)?;
    let deleted = state.conversations.delete_conversation(&user, &id).await;
    // Also for a conversation without messages: its attachments may have been uploaded already.
    if let Some(attachments) = &state.attachments {
        attachments.delete_conversation(&user, &id).await?;
    }
    deleted?;
    state.transcripts.delete(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn too_large(message: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, message)
}

/// A conversation title as given: trimmed, at most [`MAX_TITLE_CHARS`].
fn checked_title(title: &str) -> Result<&str, ApiError> {
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(too_large(format!(
            "title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title.trim())
}

/// `PATCH /api/conversations/{id}` with `{"title"}`.
pub async fn rename_conversation(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let id = conversation_id(id)?;
    let title = renamed_title(&body)?;
    state
        .conversations
        .rename_conversation(&user, &id, &title)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The new title a `PATCH /api/conversations/{id}` body asks for: trimmed, not blank.
pub fn renamed_title(body: &[u8]) -> Result<String, ApiError> {
    let request: RenameConversation = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    let title = checked_title(&request.title)?;
    if title.is_empty() {
        return Err(ApiError::bad_request("title must not be blank"));
    }
    Ok(title.to_owned())
}

/// `GET /api/conversations/{id}/settings`: the conversation's model and thinking level and the choices.
/// A conversation without messages yet (a new chat) has the defaults; ids are per user, so another
/// user's conversation of the same id is never read.
pub async fn conversation_settings(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<ConversationSettingsView>, ApiError> {
    let id = conversation_id(id)?;
    Ok(Json(state.chat.commands().settings_view(&user, &id).await?))
}

/// `PUT /api/conversations/{id}/settings` with `{"model"?, "thinking"?}`: what `/model` and `/think`
/// change, also before the conversation's first message.
pub async fn change_conversation_settings(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ConversationSettingsView>, ApiError> {
    let id = conversation_id(id)?;
    let change = conversation_settings_change(&body)?;
    Ok(Json(
        state
            .chat
            .commands()
            .change_settings(&user, &id, &change)
            .await?,
    ))
}

/// What a `PUT /api/conversations/{id}/settings` body changes.
pub fn conversation_settings_change(body: &[u8]) -> Result<ConversationSettingsUpdate, ApiError> {
    if body.len() > MAX_CONVERSATION_SETTINGS_BYTES {
        return Err(too_large(format!(
            "conversation settings body over {MAX_CONVERSATION_SETTINGS_BYTES} bytes"
        )));
    }
    ConversationSettingsChange::parse(body).map_err(|e| ApiError::bad_request(e.0))
}

/// `GET /api/settings`.
pub async fn settings(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<Json<SettingsView>, ApiError> {
    Ok(Json(settings_view(&state, &user).await?))
}

/// `PUT /api/settings`: everything is checked before anything is written, so a refused request
/// changes nothing.
pub async fn update_settings(
    State(state): State<AppState>,
    Caller(user): Caller,
    body: Bytes,
) -> Result<Json<SettingsView>, ApiError> {
    let change = settings_change(&body, state.endpoints)?;
    for (provider, key) in change.api_keys {
        match key {
            Some(key) => state.api_keys.put(&user, provider, &key).await?,
            None => state.api_keys.delete(&user, provider).await?,
        }
    }
    if let Some(model) = change.model {
        state
            .settings
            .set_model_settings(&user, model.as_ref())
            .await?;
    }
    if let Some(speech) = change.speech {
        state
            .settings
            .set_speech_settings(&user, speech.as_ref())
            .await?;
    }
    if let Some(browser) = change.browser {
        state.settings.set_browser_enabled(&user, browser).await?;
    }
    Ok(Json(settings_view(&state, &user).await?))
}

/// A `PUT /api/settings` body, checked whole.
#[derive(Debug, PartialEq, Eq)]
pub struct SettingsChange {
    /// `None`: unchanged; `Some(None)`: back to the deployment's default.
    pub model: Option<Option<ModelSettings>>,
    /// `None`: unchanged; `Some(None)`: back to choosing by the keys stored.
    pub speech: Option<Option<SpeechSettings>>,
    /// Keys to store (`Some`) or remove (`None`), per provider.
    pub api_keys: Vec<(Provider, Option<ApiKey>)>,
    /// `None`: unchanged; else the browser on or off for the user's turns.
    pub browser: Option<bool>,
}

/// What a `PUT /api/settings` body changes, every field validated (a base URL against `endpoints`).
pub fn settings_change(body: &[u8], endpoints: Endpoints) -> Result<SettingsChange, ApiError> {
    if body.len() > MAX_SETTINGS_BYTES {
        return Err(too_large(format!(
            "settings body over {MAX_SETTINGS_BYTES} bytes"
        )));
    }
    let update: SettingsUpdate = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid settings: {e}")))?;
    let model = update
        .model
        .map(|m| m.map(|m| m.validated(endpoints)).transpose())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let speech = update
        .speech
        .map(|s| s.map(|s| s.validated(endpoints)).transpose())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let api_keys = update
        .api_keys
        .iter()
        .map(|(name, key)| {
            let provider = Provider::parse(name).ok_or_else(|| {
                ApiError::bad_request(format!("apiKeys: {name:?} is not a provider"))
            })?;
            let key = key
                .as_deref()
                .map(ApiKey::parse)
                .transpose()
                .map_err(|e| ApiError::bad_request(format!("apiKeys.{name}: {e}")))?;
            Ok((provider, key))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(SettingsChange {
        model,
        speech,
        api_keys,
        browser: update.browser,
    })
}

async fn settings_view(state: &AppState, user: &UserId) -> Result<SettingsView, ApiError> {
    let (model, speech, browser, stored, linked) = tokio::try_join!(
        state.settings.model_settings(user),
        state.settings.speech_settings(user),
        state.settings.browser_enabled(user),
        state.api_keys.providers(user),
        state.linking.linked_accounts(user),
    )?;
    Ok(SettingsView {
        model,
        speech,
        default_model: state.agent.status().model,
        api_keys: Provider::ALL
            .into_iter()
            .map(|p| (p, stored.contains(&p)))
            .collect(),
        telegram: TelegramLinks { linked },
        browser,
    })
}

/// `DELETE /api/telegram/links/{telegramUserId}`: unlinks one of the caller's Telegram accounts.
pub async fn unlink_telegram(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let not_linked = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such Telegram account is linked to you",
        )
    };
    let telegram_user = raw
        .parse::<TelegramUserId>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request("a Telegram user id is a positive number"))?;
    if !state.linking.unlink(telegram_user, &user).await? {
        return Err(not_linked());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/telegram/link-code`: a one-time code that links a Telegram account to the caller.
pub async fn telegram_link_code(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<(StatusCode, Json<TelegramLinkCode>), ApiError> {
    let issued = state
        .linking
        .issue_code(&user, OffsetDateTime::now_utc())
        .await?;
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

/// The attachments of the deployment, or the answer that it has none.
fn attachments_of(state: &AppState) -> Result<&Attachments, ApiError> {
    state.attachments.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            ErrorCode::BadRequest,
            "this deployment does not take attachments",
        )
    })
}

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        let status = match &e {
            AttachmentError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AttachmentError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AttachmentError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AttachmentError::Corrupt(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AttachmentError::OverQuota { .. } => StatusCode::INSUFFICIENT_STORAGE,
            AttachmentError::NotFound => StatusCode::NOT_FOUND,
            AttachmentError::Storage(_) => {
                let AttachmentError::Storage(cause) = e else {
                    unreachable!("matched above")
                };
                return cause.into();
            }
        };
        Self::new(status, e.code(), e.to_string())
    }
}

fn attachment_id(raw: String) -> Result<AttachmentId, ApiError> {
    AttachmentId::parse(raw)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidId, e.to_string()))
}

/// The largest body of an upload's first or last step: a file name and a type.
const MAX_UPLOAD_REQUEST_BYTES: usize = 4 * 1024;

fn upload_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_UPLOAD_REQUEST_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "the request is too large",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))
}

/// `POST /api/conversations/{id}/attachments/uploads` with `{name, size, contentType}`: the declared
/// file is checked (type, size, the caller's quota) before any byte is sent, and the answer says
/// where to send the bytes. The bytes never pass through this function: on AWS its request body is
/// bounded by Lambda's payload limit.
pub async fn begin_upload(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<UploadView>), ApiError> {
    let attachments = attachments_of(&state)?;
    let id = conversation_id(id)?;
    let request: UploadRequest = upload_body(&body)?;
    let pending = attachments
        .begin_upload(
            &user,
            &id,
            &request.name,
            &request.content_type,
            request.size,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UploadView::from(&pending))))
}

/// `POST /api/conversations/{id}/attachments/uploads/{uploadId}/complete` with `{name, contentType}`:
/// the bytes that arrived are checked like any upload and become the attachment (`201`, its view).
pub async fn complete_upload(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path((id, upload)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<AttachmentView>), ApiError> {
    let attachments = attachments_of(&state)?;
    let (id, upload) = (conversation_id(id)?, attachment_id(upload)?);
    let request: CompleteUploadRequest = upload_body(&body)?;
    let stored = attachments
        .complete_upload(&user, &id, &upload, &request.name, &request.content_type)
        .await
        .map_err(|e| match e {
            AttachmentError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "nothing was uploaded for this upload id (or it expired); upload the file again",
            ),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(AttachmentView::from(&stored))))
}

/// `PUT /uploads/{token}` (local mode): the bytes of an upload, authorised by the token its target
/// named, of exactly the size it declared. Read up to that size only, so a stranger's large body is
/// never held.
pub async fn receive_upload(
    State(inbox): State<Arc<dyn UploadInbox>>,
    Path(token): Path<String>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this upload link is not valid (it expired or was changed); upload the file again",
        )
    };
    let size = inbox.admits(&token).ok_or_else(refused)?;
    let wrong_size = || {
        ApiError::bad_request(format!(
            "the upload must be exactly the {size} bytes declared"
        ))
    };
    let bytes = axum::body::to_bytes(body, size as usize)
        .await
        .map_err(|_| wrong_size())?;
    if bytes.len() as u64 != size {
        return Err(wrong_size());
    }
    if inbox.receive(&token, &bytes).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(refused())
    }
}

/// `GET /api/conversations/{id}/attachments/{attachmentId}/link`: a link that reads the bytes without
/// the API or the bearer token (a presigned S3 URL on AWS, [`serve_download`] locally), so that a file
/// of any accepted size is read in full: on AWS this function's answer is bounded by Lambda's payload.
pub async fn attachment_link(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path((id, attachment)): Path<(String, String)>,
) -> Result<Json<DownloadLinkView>, ApiError> {
    let attachments = attachments_of(&state)?;
    let (id, attachment) = (conversation_id(id)?, attachment_id(attachment)?);
    let link = attachments.download_link(&user, &id, &attachment).await?;
    Ok(Json(DownloadLinkView::from(&link)))
}

/// `GET /downloads/{token}` (local mode): the bytes of the attachment a download link names, served
/// as S3 serves a presigned `GetObject` ([`served`]: the type, inline or as a download under its
/// name), so that a browser never runs them (`nosniff`, a sandboxing CSP) and keeps them private.
pub async fn serve_download(
    State(links): State<Arc<dyn LinkedAttachments>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let (attachment, bytes) = links.open(&token).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this download link is not valid (it expired, was changed, or the file is gone)",
        )
    })?;
    let served = served(&attachment);
    let headers = [
        (CONTENT_TYPE, served.content_type),
        (CONTENT_DISPOSITION, served.content_disposition),
        (X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
        (CACHE_CONTROL, "private, max-age=900".to_owned()),
    ];
    Ok((headers, bytes).into_response())
}

/// `DELETE /api/conversations/{id}/attachments/{attachmentId}`.
pub async fn delete_attachment(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path((id, attachment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let attachments = attachments_of(&state)?;
    let (id, attachment) = (conversation_id(id)?, attachment_id(attachment)?);
    attachments.delete(&user, &id, &attachment).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<SkillError> for ApiError {
    fn from(e: SkillError) -> Self {
        match e {
            SkillError::Invalid(message) => {
                Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidSkill, message)
            }
            SkillError::NotFound(name) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("no skill named {name:?}"),
            ),
            SkillError::Storage(e) => e.into(),
        }
    }
}

/// The largest `PUT /api/skills/{name}` body: a skill's content limit and room for a zip's headers.
pub const MAX_SKILL_BODY_BYTES: usize = MAX_SKILL_BYTES + 64 * 1024;

/// `GET /api/skills`.
pub async fn list_skills(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<Json<SkillList>, ApiError> {
    let skills = state.skills.list(&user).await?;
    Ok(Json(SkillList {
        skills: skills.iter().map(SkillView::from).collect(),
    }))
}

/// `GET /api/skills/{name}`.
pub async fn skill(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(name): Path<String>,
) -> Result<Json<SkillDetailView>, ApiError> {
    let detail = state.skills.get(&user, &name).await?;
    Ok(Json(SkillDetailView {
        skill: SkillView::from(&detail.summary),
        skill_md: detail.skill_md,
        file_list: detail
            .files
            .into_iter()
            .map(|(path, bytes)| SkillFileView { path, bytes })
            .collect(),
    }))
}

/// `PUT /api/skills/{name}`: a `SKILL.md` (`text/markdown`) or a zip of the folder (`application/zip`),
/// checked whole before anything is stored. 201 for a new skill, 200 for a replaced one.
pub async fn put_skill(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SkillView>), ApiError> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(format!(
            "a skill upload may be at most {} KiB",
            MAX_SKILL_BODY_BYTES / 1024
        )),
        _ => ApiError::bad_request(e.body_text()),
    })?;
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let upload = match media_type.as_deref() {
        Some("text/markdown") => skill_from_markdown(&name, &body)?,
        Some("application/zip") => skill_from_zip(&name, &body)?,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedType,
                "send a SKILL.md as text/markdown or a zip of the skill's folder as application/zip",
            ));
        }
    };
    let stored = state.skills.put(&user, &name, upload).await?;
    let detail = state.skills.get(&user, &name).await?;
    let status = match stored {
        Stored::Created => StatusCode::CREATED,
        Stored::Replaced => StatusCode::OK,
    };
    Ok((status, Json(SkillView::from(&detail.summary))))
}

/// `PATCH /api/skills/{name}`: `{"enabled": bool}`, keeping the files.
pub async fn change_skill(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<SkillView>, ApiError> {
    let change: SkillChange = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid skill change: {e}")))?;
    state
        .skills
        .set_enabled(&user, &name, change.enabled)
        .await?;
    let detail = state.skills.get(&user, &name).await?;
    Ok(Json(SkillView::from(&detail.summary)))
}

/// `DELETE /api/skills/{name}`: the folder and its enabled mark.
pub async fn delete_skill(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.skills.delete(&user, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
