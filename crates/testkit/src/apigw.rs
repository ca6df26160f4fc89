//! A stand-in for the API Gateway Management API endpoint (moto accepts posts but cannot read them back
//! and never answers 410 Gone). It records every `POST /@connections/{id}` body in order, answers `410`
//! for connections marked gone, and accepts `DELETE /@connections/{id}`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One recorded post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub connection_id: String,
    pub body: serde_json::Value,
    /// When the recorder had it (benchmarks: when the client would have had the frame).
    pub received_at: Instant,
}

#[derive(Default)]
struct Shared {
    posts: Mutex<Vec<Post>>,
    gone: Mutex<HashSet<String>>,
    deleted: Mutex<Vec<String>>,
    changed: Notify,
}

/// The running recorder; stops when dropped.
pub struct ApiGatewayRecorder {
    endpoint: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl ApiGatewayRecorder {
    pub async fn start() -> ApiGatewayRecorder {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/@connections/{id}", post(record).delete(delete))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        ApiGatewayRecorder {
            endpoint,
            shared,
            server,
        }
    }

    /// The Management API endpoint to configure (no stage path).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Answer `410 Gone` for this connection from now on.
    pub fn mark_gone(&self, connection_id: &str) {
        self.shared
            .gone
            .lock()
            .expect("lock")
            .insert(connection_id.to_owned());
    }

    /// Every post so far, in arrival order.
    pub fn posts(&self) -> Vec<Post> {
        self.shared.posts.lock().expect("lock").clone()
    }

    /// The frames posted to one connection, in order.
    pub fn frames(&self, connection_id: &str) -> Vec<serde_json::Value> {
        self.posts()
            .into_iter()
            .filter(|p| p.connection_id == connection_id)
            .map(|p| p.body)
            .collect()
    }

    /// Connections deleted through the API.
    pub fn deleted(&self) -> Vec<String> {
        self.shared.deleted.lock().expect("lock").clone()
    }

    /// Waits until a frame posted to `connection_id` satisfies `matches`, and returns it.
    pub async fn wait_for(
        &self,
        connection_id: &str,
        timeout: Duration,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let found = tokio::time::timeout(timeout, async {
            loop {
                let changed = self.shared.changed.notified();
                if let Some(frame) = self.frames(connection_id).into_iter().find(&matches) {
                    return frame;
                }
                changed.await;
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "no matching frame for {connection_id} within {timeout:?}; got {:#?}",
                self.frames(connection_id)
            )
        })
    }
}

impl Drop for ApiGatewayRecorder {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if shared.gone.lock().expect("lock").contains(&id) {
        // As API Gateway answers for a closed connection.
        return (
            StatusCode::GONE,
            [("x-amzn-ErrorType", "GoneException")],
            axum::Json(serde_json::json!({ "message": null })),
        )
            .into_response();
    }
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    shared.posts.lock().expect("lock").push(Post {
        connection_id: id,
        body,
        received_at: Instant::now(),
    });
    shared.changed.notify_waiters();
    StatusCode::OK.into_response()
}

async fn delete(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> StatusCode {
    shared.deleted.lock().expect("lock").push(id);
    StatusCode::NO_CONTENT
}
