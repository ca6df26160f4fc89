//! What the server's tests share: stand-ins for the ports a REST or webhook test does not exercise, an
//! authenticator that serves several users, and an API state on the local adapters.

#![allow(dead_code)] // Each test binary uses a different part.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::attachments::Attachments;
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::linking::Linking;
use serverless_openclaw_core::ports::{
    AgentState, AgentStatus, AgentStatusSource, ClientPush, ConversationStore,
};
use serverless_openclaw_core::protocol::ServerFrame;
use serverless_openclaw_core::search::ConversationSearch;
use serverless_openclaw_core::settings::Endpoints;
use serverless_openclaw_core::skills::Skills;
use serverless_openclaw_local::{
    FileApiKeyStore, FileTranscriptStore, FileWorkspaceStore, LocalTurnQueue,
    SqliteConversationStore, SqliteSettingsStore, SqliteTelegramStore, TurnHandler,
};
use serverless_openclaw_server::{AppState, Authenticator};

/// Pushes nowhere.
pub struct NoPush;

#[async_trait]
impl ClientPush for NoPush {
    async fn push(&self, _: &UserId, _: &ServerFrame) {}
}

/// Takes queued turns and runs none.
pub struct NoTurns;

#[async_trait]
impl TurnHandler for NoTurns {
    async fn handle(&self, _: Turn, _: CancellationToken) {}
}

/// An agent that is stopped, with a default model configured.
pub struct Idle;

impl AgentStatusSource for Idle {
    fn status(&self) -> AgentStatus {
        AgentStatus {
            state: AgentState::Stopped,
            openclaw_version: None,
            model: Some("fake/default".into()),
        }
    }
}

/// Each user is their own bearer token: `Bearer alice` is alice.
pub struct NamedUsers;

impl Authenticator for NamedUsers {
    fn verify(&self, credential: &str) -> Option<UserId> {
        UserId::parse(credential).ok()
    }
}

/// The API's state on the local adapters, everything kept in `dir`, for the users of [`NamedUsers`].
pub fn named_users_state(dir: &Path, attachments: Attachments) -> AppState {
    let db = dir.join("db.sqlite3");
    let sqlite = Arc::new(SqliteConversationStore::open(&db).unwrap());
    let conversations: Arc<dyn ConversationStore> = sqlite.clone();
    let settings = Arc::new(SqliteSettingsStore::open(&db).unwrap());
    let telegram = Arc::new(SqliteTelegramStore::open(&db).unwrap());
    AppState {
        auth: Arc::new(NamedUsers),
        chat: ChatService::new(
            conversations.clone(),
            Arc::new(LocalTurnQueue::new(Arc::new(NoTurns))),
            Arc::new(NoPush),
            settings.clone(),
            Arc::new(Idle),
        )
        .with_attachments(attachments.clone()),
        conversations,
        search: ConversationSearch::new(sqlite),
        transcripts: Arc::new(FileTranscriptStore::new(dir.join("transcripts"))),
        agent: Arc::new(Idle),
        linking: Linking::new(telegram.clone(), telegram),
        settings: settings.clone(),
        api_keys: Arc::new(FileApiKeyStore::new(dir.join("secrets"))),
        endpoints: Endpoints::Public,
        attachments: Some(attachments),
        skills: Skills::new(
            Arc::new(FileWorkspaceStore::new(dir.join("workspaces"))),
            settings,
        ),
    }
}
