//! The HTTP surface of serverless-openclaw: [`app`] builds the axum router with the WebSocket chat
//! (`/ws`), the REST API (`/api/*`), `/healthz`, the web UI's `/config.json` and the web UI files. Local mode serves it directly;
//! tests drive it with `oneshot` or over a real socket.
//!
//! - [`auth`]: who is calling (the local access token, or the claims API Gateway's JWT authorizer
//!   verified).
//! - [`hub`]: the open WebSocket connections and the in-process [`ClientPush`] over them.
//! - [`ws`]: the WebSocket handler.
//! - [`rest`]: the REST handlers and their error mapping.
//! - [`telegram`]: Telegram's webhook route ([`telegram_webhook`]), served by its own Lambda on AWS.
//!
//! [`ClientPush`]: serverless_openclaw_core::ports::ClientPush

pub mod auth;
pub mod hub;
pub mod rest;
pub mod telegram;
pub mod ws;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::ports::{
    AgentStatusSource, AgentWaker, ApiKeyStore, ConversationStore, SettingsStore, TelegramStore,
    TranscriptStore,
};
use tower_http::services::{ServeDir, ServeFile};

pub use auth::{Authenticator, TokenAuthenticator};
pub use hub::ConnectionHub;
pub use telegram::telegram_webhook;

/// Everything the handlers use, composed by the caller (local mode, a Lambda, a test).
#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<dyn Authenticator>,
    pub chat: ChatService,
    pub conversations: Arc<dyn ConversationStore>,
    pub transcripts: Arc<dyn TranscriptStore>,
    pub agent: Arc<dyn AgentStatusSource>,
    /// Woken when a WebSocket client connects; `None` where no client connects here (on AWS the
    /// `ws-connect` function wakes the agent).
    pub waker: Option<Arc<dyn AgentWaker>>,
    /// Telegram links: the web app issues link codes and lists and removes links here.
    pub telegram: Arc<dyn TelegramStore>,
    pub settings: Arc<dyn SettingsStore>,
    /// Written and listed here, never read back.
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub hub: Arc<ConnectionHub>,
    /// The built web UI (`web/dist`); `None` serves a page that says how to build it.
    pub web_dir: Option<PathBuf>,
}

/// The router: `/healthz`, `/config.json`, `/ws`, `/api/*`, and the web UI for everything else.
pub fn app(state: AppState) -> Router {
    let web = state.web_dir.clone();
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/config.json", get(rest::runtime_config))
        .route("/ws", get(ws::upgrade))
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
            "/api/conversations/{id}/settings",
            get(rest::conversation_settings).put(rest::change_conversation_settings),
        )
        .route("/api/status", get(rest::status))
        .route(
            "/api/settings",
            get(rest::settings).put(rest::update_settings),
        )
        .route("/api/telegram/link-code", post(rest::telegram_link_code))
        .route(
            "/api/telegram/links/{telegram_user}",
            delete(rest::unlink_telegram),
        )
        .route("/api/{*rest}", get(rest::not_found).post(rest::not_found))
        .with_state(state);
    match web {
        Some(dir) => {
            let index = dir.join("index.html");
            router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => router.fallback(rest::web_not_built),
    }
}
