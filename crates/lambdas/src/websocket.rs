//! The API Gateway WebSocket routes: `$connect` (`ws-connect`), `$disconnect` (`ws-disconnect`) and
//! `$default` (`ws-message`).
//!
//! `$connect` verifies the Cognito ID token from `?token=` (browsers cannot set headers on a
//! WebSocket), stores `connection → user` and wakes the agent function, whose cold start then overlaps
//! the user's typing (`AgentWaker`); later frames carry no credential, so `ws-message` takes
//! the user from that record, never from the frame. `ws-message` speaks the same frames as local mode
//! (`ChatService::handle_frame`): it stores the message, queues the turn and returns in milliseconds;
//! the agent answers from another function through the Management API.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::LambdaEvent;
use serverless_openclaw_aws::cognito::CognitoVerifier;
use serverless_openclaw_aws::push::ApiGatewayPush;
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::ids::ConnectionId;
use serverless_openclaw_core::ports::{
    AgentWaker, ConnectionStore, ConversationStore, TurnQueue, WakeReason,
};
use serverless_openclaw_core::protocol::{ErrorCode, ServerFrame};
use serverless_openclaw_core::skills::Skills;
use time::OffsetDateTime;

use crate::settings::Adapters;
use crate::{Error, Function};
use serverless_openclaw_core::config::Env;

/// API Gateway closes a WebSocket after two hours at most; a record lives a little longer (unless the
/// token that opened it expires first) so a late `$disconnect` still finds it, and the watchdog
/// removes it after that.
const DEFAULT_CONNECTION_TTL: Duration = Duration::from_secs(2 * 60 * 60 + 5 * 60);

/// `ws-connect`.
pub struct Connect {
    connections: Arc<dyn ConnectionStore>,
    verifier: CognitoVerifier,
    ttl: Duration,
    waker: Option<Arc<dyn AgentWaker>>,
}

impl Function for Connect {
    type Event = ApiGatewayWebsocketProxyRequest;
    type Response = ApiGatewayProxyResponse;

    async fn from_env(adapters: &Adapters) -> Result<Self, Error> {
        Ok(Self {
            connections: adapters.connections()?,
            verifier: adapters.cognito()?,
            ttl: Env::process().seconds(
                "SERVERLESS_OPENCLAW_CONNECTION_TTL_SECS",
                DEFAULT_CONNECTION_TTL,
                false,
            )?,
            waker: adapters.waker(),
        })
    }

    /// Accepts the connection (200) only with a valid token, and then wakes the agent; anything else is
    /// a 401 and API Gateway refuses the upgrade.
    async fn handle(
        &self,
        event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    ) -> Result<ApiGatewayProxyResponse, Error> {
        let request = event.payload;
        let Some(connection) = connection_id(&request) else {
            return Ok(response(400));
        };
        let Some(token) = request.query_string_parameters.first("token") else {
            tracing::info!(%connection, "connect without a token refused");
            return Ok(response(401));
        };
        let verified = match self.verifier.verify(token).await {
            Ok(verified) => verified,
            Err(e) => {
                tracing::info!(%connection, reason = %e, "connect with a bad token refused");
                return Ok(response(401));
            }
        };
        let user = verified.user;
        // The connection is trusted as long as the token that opened it: past its expiry frames are
        // refused, nothing is pushed to it, and the watchdog closes it.
        let expires_at = (OffsetDateTime::now_utc() + self.ttl).min(verified.expires_at);
        self.connections
            .register(&connection, &user, expires_at)
            .await?;
        tracing::info!(%connection, %user, "connected");
        if let Some(waker) = &self.waker {
            waker.wake(WakeReason::WebConnected).await;
        }
        Ok(response(200))
    }
}

/// `ws-disconnect`.
pub struct Disconnect {
    connections: Arc<dyn ConnectionStore>,
}

impl Function for Disconnect {
    type Event = ApiGatewayWebsocketProxyRequest;
    type Response = ApiGatewayProxyResponse;

    async fn from_env(adapters: &Adapters) -> Result<Self, Error> {
        Ok(Self {
            connections: adapters.connections()?,
        })
    }

    async fn handle(
        &self,
        event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    ) -> Result<ApiGatewayProxyResponse, Error> {
        if let Some(connection) = connection_id(&event.payload) {
            self.connections.remove(&connection).await?;
            tracing::info!(%connection, "disconnected");
        }
        Ok(response(200))
    }
}

/// `ws-message`.
pub struct Message {
    connections: Arc<dyn ConnectionStore>,
    chat: ChatService,
    push: Arc<ApiGatewayPush>,
}

impl Function for Message {
    type Event = ApiGatewayWebsocketProxyRequest;
    type Response = ApiGatewayProxyResponse;

    async fn from_env(adapters: &Adapters) -> Result<Self, Error> {
        let connections = adapters.connections()?;
        let conversations: Arc<dyn ConversationStore> = adapters.conversations()?;
        let queue: Arc<dyn TurnQueue> = adapters.queue(adapters.leases()?)?;
        let push = adapters.push(connections.clone())?;
        Ok(Self {
            chat: ChatService::new(
                conversations,
                queue,
                push.clone(),
                adapters.settings()?,
                Arc::new(crate::http::OnDemandAgent::from_env()),
            )
            .with_attachments(adapters.attachments()?)
            .with_skills(Skills::new(adapters.workspaces()?, adapters.settings()?)),
            connections,
            push,
        })
    }

    /// Handles one frame. Answers for this connection only (pong, errors) are posted to it; the reply
    /// to the client always comes through the Management API, so the HTTP result is just 200.
    async fn handle(
        &self,
        event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    ) -> Result<ApiGatewayProxyResponse, Error> {
        let request = event.payload;
        let Some(connection) = connection_id(&request) else {
            return Ok(response(400));
        };
        let Some(user) = self
            .connections
            .user_of(&connection, OffsetDateTime::now_utc())
            .await?
        else {
            // The record expired or never existed: tell the client and close, so it reconnects with a
            // fresh token instead of talking into the void.
            let frame = ServerFrame::Error {
                code: ErrorCode::Unauthorized,
                message: "this connection is no longer signed in; reconnect".into(),
                client_message_id: None,
                conversation_id: None,
            };
            self.push.send_to(&connection, &frame).await;
            self.push.close(&connection).await;
            return Ok(response(403));
        };
        let body = request.body.unwrap_or_default();
        if let Some(answer) = self.chat.handle_frame(&user, &body).await {
            self.push.send_to(&connection, &answer).await;
        }
        Ok(response(200))
    }
}

fn connection_id(request: &ApiGatewayWebsocketProxyRequest) -> Option<ConnectionId> {
    let raw = request.request_context.connection_id.as_deref()?;
    match ConnectionId::parse(raw) {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, "event with an invalid connection id");
            None
        }
    }
}

fn response(status: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response
}
