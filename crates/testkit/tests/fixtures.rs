//! The event fixtures read as the events they claim to be: each deserialises into its
//! `aws_lambda_events` type with the fields a handler reads, the HTTP one through `lambda_http`'s own
//! request conversion, and the fillers change what they say and keep the rest.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Body, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use serverless_openclaw_core::protocol::{ClientFrame, parse_client_frame};
use serverless_openclaw_testkit::fixtures::{self, FifoRecord};

fn typed<T: DeserializeOwned>(event: Value) -> T {
    serde_json::from_value(event).unwrap_or_else(|e| {
        panic!(
            "does not deserialise into {}: {e}",
            std::any::type_name::<T>()
        )
    })
}

#[test]
fn every_fixture_file_is_a_json_object() {
    for name in fixtures::ALL {
        assert!(fixtures::load(name).is_object(), "{name}");
    }
}

#[test]
fn the_websocket_connect_fixture_is_a_connect_with_a_token() {
    let event: ApiGatewayWebsocketProxyRequest = typed(fixtures::load(fixtures::WS_CONNECT));

    let context = &event.request_context;
    assert_eq!(context.route_key.as_deref(), Some("$connect"));
    assert_eq!(context.event_type.as_deref(), Some("CONNECT"));
    assert_eq!(context.connection_id.as_deref(), Some("Zk3xQe7uoAMCJxQ="));
    assert_eq!(context.stage.as_deref(), Some("prod"));
    assert!(
        event
            .query_string_parameters
            .first("token")
            .is_some_and(|t| t.starts_with("eyJ"))
    );
    assert_eq!(event.headers["sec-websocket-version"], "13");
}

#[test]
fn the_websocket_message_fixture_carries_a_valid_client_frame() {
    let event: ApiGatewayWebsocketProxyRequest = typed(fixtures::load(fixtures::WS_MESSAGE));

    assert_eq!(event.request_context.route_key.as_deref(), Some("$default"));
    assert_eq!(event.request_context.event_type.as_deref(), Some("MESSAGE"));
    let frame = parse_client_frame(event.body.as_deref().unwrap()).unwrap();
    assert!(
        matches!(frame, ClientFrame::SendMessage { .. }),
        "{frame:?}"
    );
}

#[test]
fn the_websocket_disconnect_fixture_is_a_disconnect() {
    let event: ApiGatewayWebsocketProxyRequest = typed(fixtures::load(fixtures::WS_DISCONNECT));

    assert_eq!(
        event.request_context.route_key.as_deref(),
        Some("$disconnect")
    );
    assert_eq!(
        event.request_context.event_type.as_deref(),
        Some("DISCONNECT")
    );
    assert_eq!(
        event.request_context.connection_id.as_deref(),
        Some("Zk3xQe7uoAMCJxQ=")
    );
}

#[test]
fn the_http_fixture_is_a_payload_v2_request_behind_a_jwt_authorizer() {
    let event: ApiGatewayV2httpRequest = typed(fixtures::load(fixtures::HTTP_V2_JWT));

    assert_eq!(event.version.as_deref(), Some("2.0"));
    assert_eq!(event.route_key.as_deref(), Some("GET /api/conversations"));
    assert_eq!(event.request_context.http.method, http::Method::GET);
    assert_eq!(
        event.request_context.http.path.as_deref(),
        Some("/api/conversations")
    );
    let claims = &event
        .request_context
        .authorizer
        .unwrap()
        .jwt
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "44a84458-0071-702c-5ddf-ebe4c1c6b7ba");
    assert_eq!(claims["token_use"], "access");
}

#[test]
fn the_sqs_fixture_is_one_fifo_record() {
    let event: SqsEvent = typed(fixtures::load(fixtures::SQS_FIFO));

    let [record] = event.records.as_slice() else {
        panic!("one record: {:?}", event.records);
    };
    assert!(
        record
            .event_source_arn
            .as_deref()
            .unwrap()
            .ends_with(".fifo")
    );
    assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
    for attribute in [
        "MessageGroupId",
        "MessageDeduplicationId",
        "SequenceNumber",
        "ApproximateReceiveCount",
    ] {
        assert!(record.attributes.contains_key(attribute), "{attribute}");
    }
    assert!(serde_json::from_str::<Value>(record.body.as_deref().unwrap()).is_ok());
}

#[test]
fn the_eventbridge_fixture_is_a_scheduled_event() {
    let event: EventBridgeEvent = typed(fixtures::load(fixtures::SCHEDULED));

    assert_eq!(event.detail_type, "Scheduled Event");
    assert_eq!(event.source, "aws.events");
    assert!(event.time.is_some());
}

#[test]
fn ws_connect_sets_the_connection_and_the_token_or_leaves_the_query_out() {
    let with: ApiGatewayWebsocketProxyRequest = typed(fixtures::ws_connect("conn-1=", Some("tok")));
    assert_eq!(
        with.request_context.connection_id.as_deref(),
        Some("conn-1=")
    );
    assert_eq!(with.query_string_parameters.first("token"), Some("tok"));
    assert_eq!(
        with.multi_value_query_string_parameters.all("token"),
        Some(vec!["tok"])
    );

    let raw = fixtures::ws_connect("conn-2=", None);
    assert!(raw.get("queryStringParameters").is_none());
    let without: ApiGatewayWebsocketProxyRequest = typed(raw);
    assert_eq!(without.query_string_parameters.first("token"), None);
}

#[test]
fn ws_message_and_ws_disconnect_set_the_connection_and_the_body() {
    let message: ApiGatewayWebsocketProxyRequest =
        typed(fixtures::ws_message("conn-3=", r#"{"action":"ping"}"#));
    assert_eq!(
        message.request_context.connection_id.as_deref(),
        Some("conn-3=")
    );
    assert_eq!(message.body.as_deref(), Some(r#"{"action":"ping"}"#));

    let gone: ApiGatewayWebsocketProxyRequest = typed(fixtures::ws_disconnect("conn-3="));
    assert_eq!(
        gone.request_context.connection_id.as_deref(),
        Some("conn-3=")
    );
}

#[test]
fn http_v2_becomes_the_request_lambda_http_hands_to_the_router() {
    let event = fixtures::http_v2(
        "POST",
        "/api/conversations/default/messages",
        &[("tag", "a b"), ("tag", "c&d"), ("limit", "20")],
        Some(r#"{"message":"hi"}"#),
        "user-7",
    );

    let request: lambda_http::Request = typed::<LambdaRequest>(event).into();

    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri().path(), "/api/conversations/default/messages");
    assert_eq!(request.uri().query(), Some("tag=a%20b&tag=c%26d&limit=20"));
    let query = request.query_string_parameters();
    assert_eq!(query.all("tag"), Some(vec!["a b", "c&d"]));
    assert_eq!(query.first("limit"), Some("20"));
    assert_eq!(request.headers()["content-type"], "application/json");
    assert_eq!(request.body(), &Body::Text(r#"{"message":"hi"}"#.into()));
    let RequestContext::ApiGatewayV2(context) = request.request_context() else {
        panic!("an HTTP API payload v2 context");
    };
    assert_eq!(
        context.route_key.as_deref(),
        Some("POST /api/conversations/default/messages")
    );
    let claims = context.authorizer.unwrap().jwt.unwrap().claims;
    assert_eq!(claims["sub"], "user-7");
}

#[test]
fn http_v2_without_query_or_body_sends_neither() {
    let event = fixtures::http_v2("GET", "/api/conversations", &[], None, "user-8");
    assert!(event.get("body").is_none());
    assert!(event.get("queryStringParameters").is_none());
    assert_eq!(event["rawQueryString"], "");

    let request: lambda_http::Request = typed::<LambdaRequest>(event).into();
    assert_eq!(request.uri().query(), None);
    assert_eq!(request.body(), &Body::Empty);
}

#[test]
fn sqs_fifo_builds_one_record_per_message_in_order() {
    let event: SqsEvent = typed(fixtures::sqs_fifo(&[
        FifoRecord {
            message_id: "m-1",
            body: r#"{"n":1}"#,
            group_id: "user#default",
            dedup_id: "d-1",
            receive_count: 1,
        },
        FifoRecord {
            message_id: "m-2",
            body: r#"{"n":2}"#,
            group_id: "user#other",
            dedup_id: "d-2",
            receive_count: 3,
        },
    ]));

    let ids: Vec<_> = event
        .records
        .iter()
        .map(|r| r.message_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, ["m-1", "m-2"]);
    let second = &event.records[1];
    assert_eq!(second.body.as_deref(), Some(r#"{"n":2}"#));
    assert_eq!(second.attributes["MessageGroupId"], "user#other");
    assert_eq!(second.attributes["MessageDeduplicationId"], "d-2");
    assert_eq!(second.attributes["ApproximateReceiveCount"], "3");
    assert_ne!(event.records[0].receipt_handle, second.receipt_handle);
    let sequence = |i: usize| -> u128 {
        event.records[i].attributes["SequenceNumber"]
            .parse()
            .unwrap()
    };
    assert!(sequence(0) < sequence(1));
}

#[test]
fn scheduled_events_fire_now_with_their_own_id() {
    let first = fixtures::scheduled();
    let second = fixtures::scheduled();
    assert_ne!(first["id"], second["id"]);

    let event: EventBridgeEvent = typed(first);
    let age = seconds_since(event.time.unwrap().timestamp());
    assert!(
        age <= 5,
        "the event time is now, not the fixture's ({age} s old)"
    );
}

/// Seconds between `epoch_seconds` and now.
fn seconds_since(epoch_seconds: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(now).unwrap() - epoch_seconds
}
