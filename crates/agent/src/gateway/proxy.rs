//! [`LlmProxy`]: keeps the deployment's LLM key out of the gateway. The gateway's tools run with its
//! environment and can read its config, so neither holds the key: the gateway's provider entry points at
//! this loopback proxy with a random stand-in key, and the proxy forwards each request to the real
//! endpoint with the real key in place of the stand-in, streaming the answer back. It serves only
//! requests that carry the stand-in (which the gateway's tools can read: they can have the model called
//! through it, as they can through the gateway, but never learn the key).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serverless_openclaw_core::settings::ApiKey;

/// The largest request body forwarded (a turn's images travel in it).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// How the endpoint takes its key.
#[derive(Debug, Clone, Copy)]
pub enum KeyHeader {
    /// `x-api-key: <key>` (Anthropic's Messages API).
    XApiKey,
    /// `Authorization: Bearer <key>` (OpenAI's API).
    Bearer,
}

impl KeyHeader {
    /// The header of OpenClaw's `api` value.
    pub fn for_api(api: &str) -> Self {
        if api == "anthropic-messages" {
            Self::XApiKey
        } else {
            Self::Bearer
        }
    }

    fn name(self) -> HeaderName {
        match self {
            Self::XApiKey => HeaderName::from_static("x-api-key"),
            Self::Bearer => header::AUTHORIZATION,
        }
    }

    fn value(self, key: &str) -> Option<HeaderValue> {
        match self {
            Self::XApiKey => HeaderValue::from_str(key).ok(),
            Self::Bearer => HeaderValue::from_str(&format!("Bearer {key}")).ok(),
        }
        .map(|mut v| {
            v.set_sensitive(true);
            v
        })
    }
}

struct Upstream {
    base_url: String,
    key_header: KeyHeader,
    key: ApiKey,
    stand_in: String,
    client: reqwest::Client,
}

/// A running proxy; dropping it stops it.
pub struct LlmProxy {
    /// `http://127.0.0.1:<port>`: the provider's `baseUrl` for the gateway.
    pub base_url: String,
    /// The key the gateway sends (the provider's `apiKey` for the gateway).
    pub stand_in: String,
    task: tokio::task::JoinHandle<()>,
}

impl LlmProxy {
    /// Serves `base_url` (the endpoint's `baseUrl` as OpenClaw would use it) with `key`.
    pub async fn start(
        base_url: &str,
        key_header: KeyHeader,
        key: ApiKey,
        stand_in: String,
    ) -> std::io::Result<Self> {
        let client = reqwest::Client::builder()
            .build()
            .map_err(std::io::Error::other)?;
        let upstream = Arc::new(Upstream {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key_header,
            key,
            stand_in: stand_in.clone(),
            client,
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let router = axum::Router::new().fallback(forward).with_state(upstream);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the LLM proxy stopped");
            }
        });
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}"),
            stand_in,
            task,
        })
    }
}

impl Drop for LlmProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(upstream): State<Arc<Upstream>>, request: Request) -> Response {
    let sent_key = request
        .headers()
        .get(upstream.key_header.name())
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v));
    if sent_key != Some(upstream.stand_in.as_str()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    for name in [header::HOST, header::CONTENT_LENGTH, header::AUTHORIZATION] {
        headers.remove(name);
    }
    headers.remove("x-api-key");
    let Some(key) = upstream.key_header.value(upstream.key.expose()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    headers.insert(upstream.key_header.name(), key);
    let answer = upstream
        .client
        .request(parts.method, format!("{}{path}", upstream.base_url))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(error = %e, "the LLM endpoint could not be reached");
            return StatusCode::BAD_GATEWAY.into_response();
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
