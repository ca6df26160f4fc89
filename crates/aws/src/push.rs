//! [`ClientPush`] through the API Gateway Management API: a frame for a user is posted to each of the
//! user's WebSocket connections (from the [`ConnectionStore`]). A `410 Gone` means the client left
//! without a clean disconnect: its record is deleted at once.
//!
//! The connection list is cached per user for a moment, because a streaming turn pushes many deltas per
//! second and a lookup for each would cost a DynamoDB read and latency; a connection opened meanwhile
//! starts receiving within that moment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use serverless_openclaw_core::ids::{ConnectionId, UserId};
use serverless_openclaw_core::ports::{ClientPush, ConnectionStore};
use serverless_openclaw_core::protocol::ServerFrame;
use time::OffsetDateTime;

/// How long a user's connection list is reused.
const CONNECTIONS_CACHE: Duration = Duration::from_secs(2);

/// Pushes frames to API Gateway WebSocket connections.
pub struct ApiGatewayPush {
    client: aws_sdk_apigatewaymanagement::Client,
    connections: Arc<dyn ConnectionStore>,
    cache: Mutex<HashMap<UserId, (Instant, Vec<ConnectionId>)>>,
}

impl ApiGatewayPush {
    /// `endpoint` is the Management API endpoint of the WebSocket stage:
    /// `https://<api-id>.execute-api.<region>.amazonaws.com/<stage>`.
    pub fn new(
        config: &aws_config::SdkConfig,
        endpoint: &str,
        connections: Arc<dyn ConnectionStore>,
    ) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(conf),
            connections,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Posts one frame to one connection (the answer to a frame that connection sent).
    pub async fn send_to(&self, connection: &ConnectionId, frame: &ServerFrame) {
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(frame.to_json()))
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e) if is_gone(&e) => {
                if let Err(e) = self.connections.remove(connection).await {
                    tracing::warn!(error = %e, %connection, "removing a gone connection failed");
                }
                self.forget(connection);
            }
            Err(e) => {
                tracing::warn!(error = %aws_sdk_apigatewaymanagement::Error::from(e), %connection, "posting to a connection failed");
            }
        }
    }

    /// Closes a connection from the server side (its `$disconnect` then removes the record).
    pub async fn close(&self, connection: &ConnectionId) {
        let result = self
            .client
            .delete_connection()
            .connection_id(connection.as_str())
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %aws_sdk_apigatewaymanagement::Error::from(e), %connection, "closing a connection failed");
        }
        self.forget(connection);
    }

    async fn connections_of(&self, user: &UserId) -> Vec<ConnectionId> {
        if let Some((at, list)) = self.cache.lock().expect("cache lock").get(user)
            && at.elapsed() < CONNECTIONS_CACHE
        {
            return list.clone();
        }
        match self
            .connections
            .connections_of(user, OffsetDateTime::now_utc())
            .await
        {
            Ok(list) => {
                self.cache
                    .lock()
                    .expect("cache lock")
                    .insert(user.clone(), (Instant::now(), list.clone()));
                list
            }
            Err(e) => {
                tracing::warn!(error = %e, %user, "looking up connections failed; frame dropped");
                Vec::new()
            }
        }
    }

    fn forget(&self, connection: &ConnectionId) {
        for (_, list) in self.cache.lock().expect("cache lock").values_mut() {
            list.retain(|c| c != connection);
        }
    }
}

/// API Gateway's `410 Gone` for a connection that no longer exists.
fn is_gone(e: &SdkError<PostToConnectionError, HttpResponse>) -> bool {
    matches!(
        e.as_service_error(),
        Some(PostToConnectionError::GoneException(_))
    )
}

#[async_trait]
impl ClientPush for ApiGatewayPush {
    async fn push(&self, user: &UserId, frame: &ServerFrame) {
        for connection in self.connections_of(user).await {
            self.send_to(&connection, frame).await;
        }
    }
}
