//! The HTTP surface of serverless-openclaw: [`api`] is the REST API (`/api/*`), what the `http-api`
//! Lambda serves; [`local_app`] adds what only local mode serves: the WebSocket chat (`/ws`) over the
//! in-process [`ConnectionHub`], `/healthz`, the web UI's `/config.json` and the web UI files. Tests
//! drive them with `oneshot` or over a real socket.
//!
//! - [`auth`]: who is calling (the local access token, or the claims API Gateway's JWT authorizer
//!   verified).
//! - [`guard`]: local mode's `Host`/`Origin` allow-list and security headers.
//! - [`hub`]: the open WebSocket connections and the in-process [`ClientPush`] over them.
//! - [`ws`]: the WebSocket handler.
//! - [`rest`]: the REST handlers and their error mapping.
//! - [`serve`]: local mode's TCP server with a header-read timeout and a connection cap.
//! - [`telegram`]: Telegram's webhook route ([`telegram_webhook`]), served by its own Lambda on AWS.
//!
//! [`ClientPush`]: serverless_openclaw_core::ports::ClientPush

pub mod auth;
pub mod guard;
pub mod hub;
pub mod rest;
pub mod serve;
pub mod telegram;
pub mod ws;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use serverless_openclaw_core::attachments::Attachments;
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::linking::Linking;
use serverless_openclaw_core::ports::{
    AgentStatusSource, AgentWaker, ApiKeyStore, ConversationStore, LinkedAttachments,
    SettingsStore, TranscriptStore, UploadInbox,
};
use serverless_openclaw_core::search::ConversationSearch;
use serverless_openclaw_core::settings::Endpoints;
use serverless_openclaw_core::skills::Skills;
use tower_http::services::{ServeDir, ServeFile};

pub use auth::{Authenticator, TokenAuthenticator};
pub use guard::AllowedHosts;
pub use hub::ConnectionHub;
pub use telegram::telegram_webhook;

/// Everything the REST handlers use, composed by the caller (local mode, the `http-api` Lambda, a test).
#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<dyn Authenticator>,
    pub chat: ChatService,
    pub conversations: Arc<dyn ConversationStore>,
    /// Full-text search over the caller's messages.
    pub search: ConversationSearch,
    pub transcripts: Arc<dyn TranscriptStore>,
    pub agent: Arc<dyn AgentStatusSource>,
    /// Telegram links: the web app issues link codes and lists and removes links here.
    pub linking: Linking,
    pub settings: Arc<dyn SettingsStore>,
    /// Written and listed here, never read back.
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// Where users' OpenAI-compatible base URLs may point.
    pub endpoints: Endpoints,
    /// Uploads, download links and deletions of attachments; `None` where the deployment takes none
    /// (their routes then answer 501).
    pub attachments: Option<Attachments>,
    /// The user's skills (`skills/<name>/` in their workspace, and which are disabled).
    pub skills: Skills,
}

/// What local mode serves on top of the API (on AWS, API Gateway's WebSocket API, the `ws-*` functions
/// and CloudFront do this).
pub struct LocalSurface {
    /// The open WebSocket connections, which the turn processor's [`ClientPush`] writes to.
    ///
    /// [`ClientPush`]: serverless_openclaw_core::ports::ClientPush
    pub hub: Arc<ConnectionHub>,
    /// Woken when a WebSocket client connects, so the agent warms up before the first message
    /// (`None` where there is nothing to warm: no provider configured).
    pub waker: Option<Arc<dyn AgentWaker>>,
    /// The built web UI (`web/dist`); `None` serves a page that says how to build it.
    pub web_dir: Option<PathBuf>,
    /// The names this server answers to; any other `Host` or `Origin` is refused.
    pub allowed_hosts: AllowedHosts,
    /// Where upload targets send their bytes ([`upload_inbox`]).
    pub uploads: Arc<dyn UploadInbox>,
    /// What download links read ([`download_links`]).
    pub downloads: Arc<dyn LinkedAttachments>,
}

/// The REST API: `/api/*` (an unknown `/api/...` path is a JSON 404 to a signed-in caller).
pub fn api(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/conversations",
            get(rest::list_conversations).post(rest::create_conversation),
        )
        .route(
            "/api/conversations/{id}",
            delete(rest::delete_conversation).patch(rest::rename_conversation),
        )
        .route("/api/conversations/{id}/messages", get(rest::list_messages))
        .route(
            "/api/conversations/{id}/attachments/uploads",
            post(rest::begin_upload),
        )
        .route(
            "/api/conversations/{id}/attachments/uploads/{upload}/complete",
            post(rest::complete_upload),
        )
        .route(
            "/api/conversations/{id}/attachments/{attachment}",
            delete(rest::delete_attachment),
        )
        .route(
            "/api/conversations/{id}/attachments/{attachment}/link",
            get(rest::attachment_link),
        )
        .route(
            "/api/conversations/{id}/settings",
            get(rest::conversation_settings).put(rest::change_conversation_settings),
        )
        .route("/api/search", get(rest::search))
        .route("/api/status", get(rest::status))
        .route(
            "/api/settings",
            get(rest::settings).put(rest::update_settings),
        )
        .route("/api/skills", get(rest::list_skills))
        .route(
            "/api/skills/{name}",
            get(rest::skill)
                .put(rest::put_skill)
                .patch(rest::change_skill)
                .delete(rest::delete_skill)
                // A whole skill in one body; the rules count what it holds decompressed.
                .layer(DefaultBodyLimit::max(rest::MAX_SKILL_BODY_BYTES)),
        )
        .route("/api/telegram/link-code", post(rest::telegram_link_code))
        .route(
            "/api/telegram/links/{telegram_user}",
            delete(rest::unlink_telegram),
        )
        .route("/api/{*rest}", get(rest::not_found).post(rest::not_found))
        .with_state(state)
}

/// Local mode's upload target, `PUT /uploads/{token}`: no bearer token, the signed token in the path
/// is the credential (as a presigned URL is on S3).
pub fn upload_inbox(inbox: Arc<dyn UploadInbox>) -> Router {
    Router::new()
        .route("/uploads/{token}", put(rest::receive_upload))
        .with_state(inbox)
}

/// Local mode's download links, `GET /downloads/{token}`: no bearer token, the signed token in the
/// path is the credential (as a presigned URL is on S3).
pub fn download_links(links: Arc<dyn LinkedAttachments>) -> Router {
    Router::new()
        .route("/downloads/{token}", get(rest::serve_download))
        .with_state(links)
}

/// Local mode's router: [`api`], [`upload_inbox`], [`download_links`], `/ws`, `/healthz`, `/config.json`, and the web UI for everything else,
/// behind [`guard::guard`].
pub fn local_app(state: AppState, surface: LocalSurface) -> Router {
    let chat = ws::ChatSocket {
        auth: state.auth.clone(),
        chat: state.chat.clone(),
        hub: surface.hub,
        waker: surface.waker,
    };
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/config.json", get(rest::runtime_config))
        .route("/ws", get(ws::upgrade))
        .with_state(chat)
        .merge(upload_inbox(surface.uploads))
        .merge(download_links(surface.downloads))
        .merge(api(state));
    let router = match surface.web_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => router.fallback(rest::web_not_built),
    };
    router.layer(axum::middleware::from_fn_with_state(
        surface.allowed_hosts,
        guard::guard,
    ))
}
