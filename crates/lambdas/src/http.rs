//! `http-api`: the REST API of `docs/protocol.md` on API Gateway's HTTP API, served by the same
//! `server` router as local mode through `lambda_http`.
//!
//! API Gateway's JWT authorizer verifies the Cognito token before the function runs and passes the
//! claims in the request context; [`ClaimsAuthenticator`] takes the user from the `sub` claim there.
//! A request without verified claims (a route someone deployed without the authorizer) is a 401.

use std::sync::Arc;

use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::linking::Linking;
use serverless_openclaw_core::ports::{
    AgentState, AgentStatus, AgentStatusSource, ConnectionStore, ConversationStore, TurnQueue,
};
use serverless_openclaw_core::search::ConversationSearch;
use serverless_openclaw_core::skills::Skills;
use serverless_openclaw_server::{AppState, Authenticator};

use crate::settings::{Adapters, SettingsError};
use serverless_openclaw_core::config::Env;

/// The user from the claims API Gateway's JWT authorizer verified.
pub struct ClaimsAuthenticator;

impl Authenticator for ClaimsAuthenticator {
    /// There is no bearer-token path on AWS: API Gateway checked the token already.
    fn verify(&self, _credential: &str) -> Option<UserId> {
        None
    }

    fn authenticate(&self, parts: &Parts) -> Option<UserId> {
        let Some(RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<RequestContext>()
        else {
            return None;
        };
        let sub = context
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()?
            .claims
            .get("sub")?;
        UserId::parse(sub.as_str()).ok()
    }
}

/// On AWS the agent runs per turn in its own function, so the gateway reports it as stopped (the
/// next message starts it) along with the configured model.
pub struct OnDemandAgent {
    model: Option<String>,
}

impl OnDemandAgent {
    /// The model from `SERVERLESS_OPENCLAW_MODEL`.
    pub fn from_env() -> Self {
        Self {
            model: Env::process().optional("SERVERLESS_OPENCLAW_MODEL"),
        }
    }
}

impl AgentStatusSource for OnDemandAgent {
    fn status(&self) -> AgentStatus {
        AgentStatus {
            state: AgentState::Stopped,
            openclaw_version: None,
            model: self.model.clone(),
        }
    }
}

/// The router with AWS adapters.
pub fn app(adapters: &Adapters) -> Result<axum::Router, SettingsError> {
    let connections: Arc<dyn ConnectionStore> = adapters.connections()?;
    let store = adapters.conversations()?;
    let conversations: Arc<dyn ConversationStore> = store.clone();
    let queue: Arc<dyn TurnQueue> = adapters.queue(adapters.leases()?)?;
    let push = adapters.push(connections)?;
    let attachments = adapters.attachments()?;
    let telegram = adapters.telegram()?;
    let skills = Skills::new(adapters.workspaces()?, adapters.settings()?);
    Ok(serverless_openclaw_server::api(AppState {
        auth: Arc::new(ClaimsAuthenticator),
        chat: ChatService::new(
            conversations.clone(),
            queue,
            push,
            adapters.settings()?,
            Arc::new(OnDemandAgent::from_env()),
        )
        .with_attachments(attachments.clone())
        .with_skills(skills.clone()),
        conversations,
        search: ConversationSearch::new(store),
        transcripts: adapters.transcripts()?,
        agent: Arc::new(OnDemandAgent::from_env()),
        linking: Linking::new(telegram.clone(), telegram),
        settings: adapters.settings()?,
        api_keys: adapters.api_keys()?,
        endpoints: Env::process().endpoints()?,
        attachments: Some(attachments),
        skills,
    }))
}
