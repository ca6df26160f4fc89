//! Lambda event fixtures: the JSON that API Gateway, SQS and EventBridge send, kept in
//! `crates/testkit/fixtures/*.json`, and fillers that set the fields a test cares about on a copy.
//!
//! The files follow the shapes of the AWS documentation and of captured events (the examples of
//! aws-lambda-rust-runtime's `lambda-events`): header casing, ids, epoch milliseconds and
//! `requestContext` as the services send them. A filler changes only the fields it names, so
//! everything else stays as real as the file.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// API Gateway WebSocket `$connect`, with `queryStringParameters.token`.
pub const WS_CONNECT: &str = "apigw-websocket-connect.json";
/// API Gateway WebSocket message on the `$default` route; `body` is the client's text frame.
pub const WS_MESSAGE: &str = "apigw-websocket-message.json";
/// API Gateway WebSocket `$disconnect` (the client went away).
pub const WS_DISCONNECT: &str = "apigw-websocket-disconnect.json";
/// API Gateway HTTP API, payload format 2.0, behind a JWT authorizer (Cognito access token claims).
pub const HTTP_V2_JWT: &str = "apigw-http-v2-jwt-authorizer.json";
/// SQS FIFO queue, one record.
pub const SQS_FIFO: &str = "sqs-fifo-event.json";
/// EventBridge scheduled rule.
pub const SCHEDULED: &str = "eventbridge-scheduled.json";

/// Every fixture file, by name.
pub const ALL: [&str; 6] = [
    WS_CONNECT,
    WS_MESSAGE,
    WS_DISCONNECT,
    HTTP_V2_JWT,
    SQS_FIFO,
    SCHEDULED,
];

/// A fixture file, parsed. The files are compiled in, so a test binary finds them wherever it runs.
///
/// # Panics
/// On a name that is not one of [`ALL`].
pub fn load(name: &str) -> Value {
    let text = match name {
        WS_CONNECT => include_str!("../fixtures/apigw-websocket-connect.json"),
        WS_MESSAGE => include_str!("../fixtures/apigw-websocket-message.json"),
        WS_DISCONNECT => include_str!("../fixtures/apigw-websocket-disconnect.json"),
        HTTP_V2_JWT => include_str!("../fixtures/apigw-http-v2-jwt-authorizer.json"),
        SQS_FIFO => include_str!("../fixtures/sqs-fifo-event.json"),
        SCHEDULED => include_str!("../fixtures/eventbridge-scheduled.json"),
        other => panic!("no fixture named {other:?}; the fixtures are {ALL:?}"),
    };
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// A `$connect` of `connection_id`. `token: None` connects without a query string, as a client that
/// forgot its token does (API Gateway then sends neither query string field).
pub fn ws_connect(connection_id: &str, token: Option<&str>) -> Value {
    let mut event = load(WS_CONNECT);
    event["requestContext"]["connectionId"] = json!(connection_id);
    match token {
        Some(token) => {
            event["queryStringParameters"] = json!({ "token": token });
            event["multiValueQueryStringParameters"] = json!({ "token": [token] });
        }
        None => {
            let fields = event.as_object_mut().expect("the fixture is an object");
            fields.remove("queryStringParameters");
            fields.remove("multiValueQueryStringParameters");
        }
    }
    event
}

/// A text frame `body` from `connection_id` on the `$default` route.
pub fn ws_message(connection_id: &str, body: &str) -> Value {
    let mut event = load(WS_MESSAGE);
    event["requestContext"]["connectionId"] = json!(connection_id);
    event["body"] = json!(body);
    event
}

/// A `$disconnect` of `connection_id`.
pub fn ws_disconnect(connection_id: &str) -> Value {
    let mut event = load(WS_DISCONNECT);
    event["requestContext"]["connectionId"] = json!(connection_id);
    event
}

/// An HTTP API request by the user `sub` (the JWT authorizer's `sub` and `username` claims).
///
/// `routeKey` becomes `"<method> <path>"`, which is the route only for routes without path
/// parameters: for a templated route set `routeKey` and `pathParameters` on the result. `query`
/// pairs go to `rawQueryString` (percent-encoded) and `queryStringParameters` (repeated names joined
/// with commas, as API Gateway does); a `body` is sent as JSON text.
pub fn http_v2(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&str>,
    sub: &str,
) -> Value {
    let mut event = load(HTTP_V2_JWT);
    let route_key = format!("{method} {path}");
    event["routeKey"] = json!(route_key);
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(
        query
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    );
    let context = &mut event["requestContext"];
    context["routeKey"] = json!(route_key);
    context["http"]["method"] = json!(method);
    context["http"]["path"] = json!(path);
    context["authorizer"]["jwt"]["claims"]["sub"] = json!(sub);
    context["authorizer"]["jwt"]["claims"]["username"] = json!(sub);

    let fields = event.as_object_mut().expect("the fixture is an object");
    if query.is_empty() {
        fields.remove("queryStringParameters");
    } else {
        let mut parameters = serde_json::Map::new();
        for (name, value) in query {
            let joined = match parameters.get(*name).and_then(Value::as_str) {
                Some(earlier) => format!("{earlier},{value}"),
                None => (*value).to_owned(),
            };
            parameters.insert((*name).to_owned(), json!(joined));
        }
        fields.insert("queryStringParameters".into(), Value::Object(parameters));
    }
    match body {
        Some(body) => {
            fields.insert("body".into(), json!(body));
            event["headers"]["content-type"] = json!("application/json");
            event["headers"]["content-length"] = json!(body.len().to_string());
        }
        None => {
            fields.remove("body");
        }
    }
    event
}

/// One message of an SQS FIFO event.
#[derive(Debug, Clone, Copy)]
pub struct FifoRecord<'a> {
    pub message_id: &'a str,
    pub body: &'a str,
    pub group_id: &'a str,
    pub dedup_id: &'a str,
    /// `ApproximateReceiveCount`: 1 on the first delivery, more on redeliveries.
    pub receive_count: u32,
}

/// An SQS FIFO event with `records`, in order. Each record gets its own `SequenceNumber` (increasing)
/// and a `receiptHandle` derived from its message id; `md5OfBody` keeps the fixture's value (Lambda
/// handlers do not check it). A test that deletes messages from a real queue sets the queue's receipt
/// handles itself.
pub fn sqs_fifo(records: &[FifoRecord<'_>]) -> Value {
    let mut event = load(SQS_FIFO);
    let template = event["Records"][0].clone();
    let base_sequence: u128 = template["attributes"]["SequenceNumber"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let records: Vec<Value> = records
        .iter()
        .zip(0u128..)
        .map(|(record, index)| {
            let mut message = template.clone();
            message["messageId"] = json!(record.message_id);
            message["receiptHandle"] = json!(format!("AQEB{}", record.message_id));
            message["body"] = json!(record.body);
            let attributes = &mut message["attributes"];
            attributes["MessageGroupId"] = json!(record.group_id);
            attributes["MessageDeduplicationId"] = json!(record.dedup_id);
            attributes["ApproximateReceiveCount"] = json!(record.receive_count.to_string());
            attributes["SequenceNumber"] = json!((base_sequence + index).to_string());
            message
        })
        .collect();
    event["Records"] = Value::Array(records);
    event
}

/// A scheduled event fired now: a fresh `id` and the current `time` (whole seconds, as EventBridge
/// sends it).
pub fn scheduled() -> Value {
    let mut event = load(SCHEDULED);
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    event["id"] = json!(uuid::Uuid::new_v4().to_string());
    event["time"] = json!(
        now.format(&Rfc3339)
            .expect("a UTC time formats as RFC 3339")
    );
    event
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so any query parser reads the
/// value back unchanged.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
