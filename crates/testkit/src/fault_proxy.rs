//! A fault-injecting proxy in front of moto: every request is forwarded to moto unchanged, except those
//! a rule picks, which get the error AWS would send instead (a throttle, or a server error) and never
//! reach moto. Pointing one function's `AWS_ENDPOINT_URL` at the proxy injects faults into its calls
//! only, mid-turn, while the test reads the stores directly from moto.
//!
//! A rule names the operation (`DynamoDB_20120810.TransactWriteItems`, `AmazonSQS.SendMessage`, or an
//! S3 method with a part of the path) and how many times to fail; [`FaultProxy::injected`] tells how
//! many faults were sent, so a test knows its fault was hit. The AWS SDK retries throttles and server
//! errors (three attempts in its standard mode): a rule with fewer failures than that is absorbed, one
//! with more is what the caller sees.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What a picked request gets instead of moto's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service's throttling error (DynamoDB and SQS `ThrottlingException`, S3 `SlowDown`).
    Throttle,
    /// HTTP 500 with the service's internal error.
    ServerError,
}

/// Which requests a rule picks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// A JSON-protocol operation by its `X-Amz-Target` (DynamoDB, SQS), e.g.
    /// `DynamoDB_20120810.TransactWriteItems` or `AmazonSQS.SendMessage`.
    Target(String),
    /// An S3 request by method and a part of its path, e.g. `PUT` and `/transcripts/`.
    S3 {
        method: Method,
        path_contains: String,
    },
}

impl Operation {
    pub fn dynamodb(operation: &str) -> Self {
        Self::Target(format!("DynamoDB_20120810.{operation}"))
    }

    pub fn sqs(operation: &str) -> Self {
        Self::Target(format!("AmazonSQS.{operation}"))
    }

    pub fn s3(method: Method, path_contains: &str) -> Self {
        Self::S3 {
            method,
            path_contains: path_contains.to_owned(),
        }
    }

    fn picks(&self, method: &Method, path: &str, headers: &HeaderMap) -> bool {
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        match self {
            Self::Target(name) => target == Some(name.as_str()),
            Self::S3 {
                method: m,
                path_contains,
            } => target.is_none() && m == method && path.contains(path_contains.as_str()),
        }
    }
}

struct Rule {
    operation: Operation,
    fault: Fault,
    remaining: usize,
}

#[derive(Default)]
struct Faults {
    rules: Vec<Rule>,
    injected: usize,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    faults: Arc<Mutex<Faults>>,
}

/// The running proxy; it stops with the test's runtime.
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` (moto's endpoint).
    pub async fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            faults: Arc::default(),
        };
        let faults = Arc::clone(&shared.faults);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(forward).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FaultProxy { addr, faults })
    }

    /// The endpoint to give a function as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Fails the next `times` requests `operation` picks with `fault`.
    pub fn fail(&self, operation: Operation, fault: Fault, times: usize) {
        self.lock().rules.push(Rule {
            operation,
            fault,
            remaining: times,
        });
    }

    /// Forgets every rule: from now on everything reaches moto.
    pub fn heal(&self) {
        self.lock().rules.clear();
    }

    /// How many faults have been sent so far.
    pub fn injected(&self) -> usize {
        self.lock().injected
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().expect("faults lock")
    }
}

async fn forward(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let fault = {
        let mut faults = shared.faults.lock().expect("faults lock");
        let fault = faults
            .rules
            .iter_mut()
            .find(|rule| {
                rule.remaining > 0 && rule.operation.picks(&parts.method, &path, &parts.headers)
            })
            .map(|rule| {
                rule.remaining -= 1;
                rule.fault
            });
        if fault.is_some() {
            faults.injected += 1;
        }
        fault
    };
    if let Some(fault) = fault {
        return fault_response(fault, parts.headers.contains_key("x-amz-target"));
    }
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut headers = parts.headers;
    headers.remove(header::HOST);
    let sent = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(answer) => {
            let status = answer.status();
            let mut headers = answer.headers().clone();
            headers.remove(header::TRANSFER_ENCODING);
            let body = answer.bytes().await.unwrap_or_default();
            (status, headers, body).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// The error as the service sends it: JSON with `__type` for the JSON protocols, S3's XML otherwise.
fn fault_response(fault: Fault, json_protocol: bool) -> Response {
    let (status, json_type, s3_code) = match fault {
        Fault::Throttle => (StatusCode::BAD_REQUEST, "ThrottlingException", "SlowDown"),
        Fault::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "InternalError",
        ),
    };
    if json_protocol {
        let body = serde_json::json!({ "__type": json_type, "message": "injected by the test's fault proxy" });
        let mut response = (status, Bytes::from(body.to_string())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        response
    } else {
        let status = if fault == Fault::Throttle {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            status
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code><Message>injected by the test's fault proxy</Message></Error>"
        );
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        response
    }
}
