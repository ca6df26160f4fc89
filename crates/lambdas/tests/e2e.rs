//! End to end on this machine: moto, the Management API recorder, the fake LLM and the real OpenClaw
//! runner, driven through the real `ws-connect`, `ws-message`, `agent`, `http-api` and
//! `telegram-webhook` bootstraps with API Gateway and SQS event JSON (and the fake Telegram Bot API).

mod support;

use serde_json::Value;
use serverless_openclaw_core::ids::ConnectionId;
use serverless_openclaw_core::ports::ConnectionStore;
use serverless_openclaw_testkit::fake_llm::{Behaviour, ToolCall, reply_text};
use serverless_openclaw_testkit::fake_telegram::{FakeTelegram, text_update};
use serverless_openclaw_testkit::fixtures;
use support::{GATEWAY_INVOKE, LLM_KEY, World, frames_of, send_frame, telegram_webhook_event};

/// A 2×1 PNG (its header is all the server and OpenClaw read of it; a browser shows it).
static PNG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    serverless_openclaw_testkit::images::solid_png(2, 1, [255, 128, 0])
});

const WS_CONNECT: &str = env!("CARGO_BIN_EXE_ws-connect");
const WS_MESSAGE: &str = env!("CARGO_BIN_EXE_ws-message");
const AGENT: &str = env!("CARGO_BIN_EXE_agent");
const HTTP_API: &str = env!("CARGO_BIN_EXE_http-api");
const TELEGRAM_WEBHOOK: &str = env!("CARGO_BIN_EXE_telegram-webhook");

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_in_user_chats_through_the_lambda_functions_and_the_agent_remembers() {
    let world = World::create().await;
    let (connect, message, agent) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(AGENT).await,
    );
    let (sub, token) = world.user("alice").await;
    // A memory file in the user's S3 workspace reaches OpenClaw's system prompt.
    serverless_openclaw_aws::config::s3_client(&world.sdk)
        .put_object()
        .bucket(&world.bucket)
        .key(format!("workspaces/{sub}/AGENTS.md"))
        .body(b"Always remember: marker-5e1d.\n".to_vec().into())
        .send()
        .await
        .expect("workspace file");

    let connected = connect
        .invoke(
            fixtures::ws_connect("conn-A1=", Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(connected["statusCode"], 200);

    for (n, (client_id, text)) in [("m1", "first question"), ("m2", "second question")]
        .into_iter()
        .enumerate()
    {
        let sent = message
            .invoke(
                fixtures::ws_message("conn-A1=", &send_frame("default", client_id, text)),
                GATEWAY_INVOKE,
            )
            .await;
        assert_eq!(sent["statusCode"], 200);
        let ack = &frames_of(&world.recorder, "conn-A1=", "ack")[n];
        assert_eq!(ack["clientMessageId"], client_id);
        let batch = world.deliver(&agent, 1).await;
        assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    }

    let frames = world.recorder.frames("conn-A1=");
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
    let replies = frames_of(&world.recorder, "conn-A1=", "message");
    assert_eq!(replies.len(), 2, "{kinds:?}");
    for (reply, (n, question)) in replies
        .iter()
        .zip([(1, "first question"), (3, "second question")])
    {
        let deltas: Vec<&Value> = frames
            .iter()
            .filter(|f| f["type"] == "delta" && f["messageId"] == reply["messageId"])
            .collect();
        assert!(deltas.len() >= 2, "at least two deltas per turn: {kinds:?}");
        let streamed: String = deltas.iter().filter_map(|d| d["text"].as_str()).collect();
        assert_eq!(streamed, reply["content"].as_str().unwrap());
        assert_eq!(reply["content"], reply_text(n, question));
        assert!(reply["usage"]["inputTokens"].as_u64().unwrap() > 0);
    }
    // Each turn: ack, queued ... running, deltas, message, idle — in that order.
    let first_message = kinds.iter().position(|k| *k == "message").unwrap();
    assert_eq!(&kinds[..2], ["ack", "status"]);
    assert!(kinds[..first_message].contains(&"delta"));

    let requests = world.fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].api_key(),
        Some(LLM_KEY),
        "the key came from SSM"
    );
    assert!(
        requests[0].body["system"]
            .to_string()
            .contains("marker-5e1d")
    );
    // The second turn's LLM request contains the first turn.
    let conversation = requests[1].conversation();
    assert_eq!(conversation.len(), 3);
    assert_eq!(conversation[0].1, "first question");
    assert_eq!(conversation[1].1, replies[0]["content"].as_str().unwrap());
    assert_eq!(conversation[2].1, "second question");

    // The transcript object in S3 has both turns.
    let transcript = world.transcript(&sub, "default").await;
    for text in [
        "first question",
        "second question",
        replies[0]["content"].as_str().unwrap(),
        replies[1]["content"].as_str().unwrap(),
    ] {
        // JSONL: the text appears JSON-escaped.
        let escaped = serde_json::to_string(text).unwrap();
        assert!(
            transcript.contains(&escaped[1..escaped.len() - 1]),
            "transcript lacks {text:?}"
        );
    }

    // The agent reported each turn as an EMF metric line.
    let metric = agent
        .process
        .wait_for_line(
            |l| l.contains("\"TurnLatency\"") && l.contains("answered"),
            GATEWAY_INVOKE,
        )
        .await
        .expect("an EMF line for the turn");
    let metric: Value = serde_json::from_str(&metric).expect("EMF is JSON");
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "ServerlessOpenClaw"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn turns_queued_together_run_in_order_and_a_redelivered_turn_is_answered_once() {
    let world = World::create().await;
    let (connect, message, agent) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(AGENT).await,
    );
    let (bob, token) = world.user("bob").await;
    connect.connect_with("conn-B1=", &token).await;
    for (client_id, text) in [("q1", "one"), ("q2", "two")] {
        message
            .invoke(
                fixtures::ws_message("conn-B1=", &send_frame("c", client_id, text)),
                GATEWAY_INVOKE,
            )
            .await;
    }
    // The same client message again, within SQS's dedupe window: acknowledged, not queued twice.
    message.send_on("conn-B1=", "c", "q1", "one").await;

    // The event source mapping hands them over one at a time (batch size 1), in queue order.
    for _ in 0..2 {
        let batch = world.deliver(&agent, 1).await;
        assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    }
    let leftover = aws_sdk_sqs::Client::new(&world.sdk)
        .receive_message()
        .queue_url(&world.queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    assert!(
        leftover.messages.unwrap_or_default().is_empty(),
        "SQS dropped the repeated q1 (same deduplication id)"
    );
    let replies: Vec<String> = frames_of(&world.recorder, "conn-B1=", "message")
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(replies, [reply_text(1, "one"), reply_text(3, "two")]);

    // A redelivery of the first turn (as after a visibility timeout) is skipped: no new reply, no LLM call.
    let turn_one: Value = {
        let queued = frames_of(&world.recorder, "conn-B1=", "ack");
        assert_eq!(queued.len(), 3);
        queued[0].clone()
    };
    let body = serde_json::json!({
        "userId": bob,
        "conversationId": "c",
        "userMessageId": turn_one["messageId"],
        "clientMessageId": "q1",
        "prompt": "one",
        "channel": "web",
    })
    .to_string();
    let redelivered = agent
        .invoke(
            fixtures::sqs_fifo(&[fixtures::FifoRecord {
                message_id: "redelivered-1",
                body: &body,
                group_id: "g",
                dedup_id: "q1",
                receive_count: 2,
            }]),
            support::AGENT_INVOKE,
        )
        .await;
    assert_eq!(redelivered["batchItemFailures"], serde_json::json!([]));
    assert_eq!(frames_of(&world.recorder, "conn-B1=", "message").len(), 2);
    assert_eq!(world.fake.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_refuses_a_missing_a_forged_or_another_apps_token() {
    let world = World::create().await;
    let connect = world.function(WS_CONNECT).await;
    let (_, token) = world.user("carol").await;
    let other_client = world.pool.add_client().await;
    let other_app = world
        .pool
        .sign_in(&other_client, "carol", support::PASSWORD, "IdToken")
        .await;
    let mut tampered = token.clone();
    tampered.insert(token.len() / 2, 'x');
    for (label, presented) in [
        ("missing", None),
        ("garbage", Some("not-a-jwt")),
        ("tampered", Some(tampered.as_str())),
        ("another app client", Some(other_app.as_str())),
    ] {
        let response = connect
            .invoke(fixtures::ws_connect("conn-C1=", presented), GATEWAY_INVOKE)
            .await;
        assert_eq!(response["statusCode"], 401, "{label}");
    }
    let ok = connect
        .invoke(
            fixtures::ws_connect("conn-C1=", Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(ok["statusCode"], 200);
    // The connection is trusted as long as the token (an hour, as Cognito issues them), not for the
    // two hours API Gateway would keep the socket.
    let connections = serverless_openclaw_aws::DynamoConnectionStore::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        &world.connections_table,
    );
    let connection = ConnectionId::parse("conn-C1=").unwrap();
    let now = time::OffsetDateTime::now_utc();
    for (minutes, trusted) in [(50, true), (65, false)] {
        assert_eq!(
            connections
                .user_of(&connection, now + time::Duration::minutes(minutes))
                .await
                .unwrap()
                .is_some(),
            trusted,
            "{minutes} minutes after connecting"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_user_never_reads_or_writes_another_users_conversations() {
    let world = World::create().await;
    let (connect, message, http) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(HTTP_API).await,
    );
    let (alice, alice_token) = world.user("alice").await;
    let (bob, bob_token) = world.user("bob").await;
    connect.connect_with("conn-A=", &alice_token).await;
    connect.connect_with("conn-B=", &bob_token).await;
    // Both write to a conversation with the same id; a frame naming a user is ignored.
    message
        .send_on("conn-A=", "shared", "a1", "alice's secret")
        .await;
    let mut spoof: Value = serde_json::from_str(&send_frame("shared", "b1", "bob's note")).unwrap();
    spoof["userId"] = Value::from(alice.clone());
    message
        .invoke(
            fixtures::ws_message("conn-B=", &spoof.to_string()),
            GATEWAY_INVOKE,
        )
        .await;
    assert!(
        world
            .recorder
            .frames("conn-A=")
            .iter()
            .all(|f| f["clientMessageId"] != "b1"),
        "bob's frames never reach alice's connection"
    );

    let messages_of =
        |sub: &str| fixtures::http_v2("GET", "/api/conversations/shared/messages", &[], None, sub);
    for (sub, own, other) in [
        (&alice, "alice's secret", "bob's note"),
        (&bob, "bob's note", "alice's secret"),
    ] {
        let response = http.invoke(messages_of(sub), GATEWAY_INVOKE).await;
        assert_eq!(response["statusCode"], 200, "{response}");
        let body = response["body"].as_str().unwrap();
        assert!(body.contains(own) && !body.contains(other), "{body}");
    }
    // Search too: each finds their own message and never the other's ("s" begins a word of both).
    for (sub, own, other) in [
        (&alice, "alice's secret", "bob's note"),
        (&bob, "bob's note", "alice's secret"),
    ] {
        let search = fixtures::http_v2("GET", "/api/search", &[("q", "S")], None, sub);
        let response = http.invoke(search, GATEWAY_INVOKE).await;
        assert_eq!(response["statusCode"], 200, "{response}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        let found: Vec<String> = body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let parts = h["snippet"].as_array().unwrap().iter();
                parts.map(|p| p["text"].as_str().unwrap()).collect()
            })
            .collect();
        assert_eq!(found, [own], "not {other}: {body}");
    }
    // Without the authorizer's claims there is no user: 401.
    let mut anonymous = fixtures::http_v2("GET", "/api/conversations", &[], None, &alice);
    anonymous["requestContext"]["authorizer"] = Value::Null;
    let response = http.invoke(anonymous, GATEWAY_INVOKE).await;
    assert_eq!(response["statusCode"], 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_from_an_unknown_connection_is_refused_and_the_connection_closed() {
    let world = World::create().await;
    let message = world.function(WS_MESSAGE).await;
    let response = message
        .invoke(
            fixtures::ws_message("conn-X=", &send_frame("c", "x1", "hello")),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(response["statusCode"], 403);
    let error = &frames_of(&world.recorder, "conn-X=", "error")[0];
    assert_eq!(error["code"], "unauthorized");
    assert_eq!(world.recorder.deleted(), ["conn-X="]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watchdog_removes_expired_connections_reports_stuck_turns_and_indexes_old_messages() {
    use serverless_openclaw_aws::{DynamoConnectionStore, DynamoSessionLeases};
    use serverless_openclaw_core::ids::{ConversationId, UserId};
    use serverless_openclaw_core::ports::SessionLeases;
    use time::OffsetDateTime;

    let world = World::create().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&world.sdk);
    let connections = DynamoConnectionStore::new(dynamodb.clone(), &world.connections_table);
    let leases = DynamoSessionLeases::new(dynamodb, &world.leases_table);
    let user = UserId::parse("dave").unwrap();
    let an_hour_ago = OffsetDateTime::now_utc() - time::Duration::hours(1);
    let in_an_hour = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let (gone, live) = (
        ConnectionId::parse("gone=").unwrap(),
        ConnectionId::parse("live=").unwrap(),
    );
    connections
        .register(&gone, &user, an_hour_ago)
        .await
        .unwrap();
    connections
        .register(&live, &user, in_an_hour)
        .await
        .unwrap();
    // A turn whose processor died an hour ago without releasing its lease.
    leases
        .acquire(
            &user,
            &ConversationId::parse("c").unwrap(),
            "dead-agent",
            std::time::Duration::from_secs(60),
            an_hour_ago,
        )
        .await
        .unwrap()
        .expect("granted");

    // A message stored before search existed (no `searchUser`/`searchText`): the first sweep indexes it.
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.into());
    aws_sdk_dynamodb::Client::new(&world.sdk)
        .put_item()
        .table_name(&world.conversations_table)
        .item("pk", s("CONV#dave#old"))
        .item("sk", s("MSG#018b0000-0000-7000-8000-000000000001"))
        .item("role", s("user"))
        .item("content", s("an old message"))
        .item("channel", s("web"))
        .item(
            "createdAt",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .send()
        .await
        .unwrap();

    let watchdog = world.function(env!("CARGO_BIN_EXE_watchdog")).await;
    let swept = watchdog.invoke(fixtures::scheduled(), GATEWAY_INVOKE).await;
    assert_eq!(
        swept,
        serde_json::json!({ "expiredConnections": 1, "stuckTurns": 1, "searchIndexed": 1 })
    );
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        connections.connections_of(&user, now).await.unwrap(),
        [live]
    );
    assert_eq!(
        world.recorder.deleted(),
        ["gone="],
        "the expired socket is closed"
    );
    let report = watchdog
        .process
        .wait_for_line(
            |l| l.contains("stuck turn") && l.contains("dead-agent"),
            GATEWAY_INVOKE,
        )
        .await;
    assert!(report.is_some(), "the stuck turn is logged with its holder");
    let again = watchdog.invoke(fixtures::scheduled(), GATEWAY_INVOKE).await;
    assert_eq!(
        again,
        serde_json::json!({ "expiredConnections": 0, "stuckTurns": 0, "searchIndexed": 0 })
    );

    // Only a sweep that found something is a metric (a custom metric is billed for every hour it
    // receives data). stdout is one ordered stream: once the third sweep's line is read, a line from
    // the quiet second sweep would have been read before it.
    connections
        .register(&ConnectionId::parse("late=").unwrap(), &user, an_hour_ago)
        .await
        .unwrap();
    let third = watchdog.invoke(fixtures::scheduled(), GATEWAY_INVOKE).await;
    assert_eq!(
        third,
        serde_json::json!({ "expiredConnections": 1, "stuckTurns": 0, "searchIndexed": 0 })
    );
    assert_eq!(world.recorder.deleted(), ["gone=", "late="]);
    let sweep = |line: &str| {
        let emf: Value = serde_json::from_str(line).ok()?;
        emf.get("_aws")?;
        Some((
            emf["ExpiredConnections"].as_f64()?,
            emf["StuckTurns"].as_f64()?,
        ))
    };
    watchdog
        .process
        .wait_for_line(|l| sweep(l) == Some((1.0, 0.0)), GATEWAY_INVOKE)
        .await
        .expect("the third sweep's metric line");
    let sweeps: Vec<_> = watchdog
        .process
        .stdout_lines()
        .iter()
        .filter_map(|l| sweep(l))
        .collect();
    assert_eq!(sweeps, [(1.0, 1.0), (1.0, 0.0)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_telegram_message_goes_through_the_webhook_and_the_agent_replies_in_the_chat() {
    let world = World::create().await;
    let telegram = FakeTelegram::start().await.expect("fake Telegram");
    let telegram_env = world.telegram_env(&telegram).await;
    let webhook = world.function_with(TELEGRAM_WEBHOOK, &telegram_env).await;
    let agent = world.function_with(AGENT, &telegram_env).await;
    let http = world.function(HTTP_API).await;
    let (sub, _) = world.user("tg-owner").await;
    let (friend, question) = (7_070, "How far is the moon?");

    // Without the secret: 403, and nothing was written or queued.
    let forged = webhook
        .invoke(
            telegram_webhook_event(&text_update(1, friend, question), Some("guess")),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(forged["statusCode"], 403);
    assert!(telegram.calls().is_empty());

    // The owner's link code (from the REST API) links the Telegram account.
    world.link_telegram(&http, &webhook, &sub, friend, 2).await;
    assert!(telegram.chat(friend)[0].text.starts_with("Linked!"));

    // A message: queued at once (typing shown), answered by the agent Lambda in the chat.
    webhook
        .telegram_update(&text_update(3, friend, question))
        .await;
    assert_eq!(telegram.calls_of("sendChatAction").len(), 1);
    let batch = world.deliver(&agent, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    let chat = telegram.chat(friend);
    let reply = chat.last().expect("a reply in the chat");
    assert_eq!(
        reply.text,
        serverless_openclaw_telegram::format::escape_html(&reply_text(1, question))
    );
    assert_eq!(reply.parse_mode.as_deref(), Some("HTML"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_and_key_chosen_in_the_settings_are_used_by_the_agent_function() {
    let world = World::create().await;
    let (connect, message, agent, http) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(AGENT).await,
        world.function(HTTP_API).await,
    );
    let (sub, token) = world.user("carol").await;
    let chosen = serde_json::json!({
        "model": {"provider": "openai-compatible", "model": "aws-model-b", "baseUrl": world.fake.openai_base_url()},
        "apiKeys": {"openai-compatible": "sk-carol-own-key"},
    })
    .to_string();
    let saved = http
        .invoke(
            fixtures::http_v2("PUT", "/api/settings", &[], Some(&chosen), &sub),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(saved["statusCode"], 200, "{saved}");
    let body = saved["body"].as_str().unwrap();
    assert!(!body.contains("sk-carol-own-key"), "{body}");
    let view: Value = serde_json::from_str(body).unwrap();
    assert_eq!(view["model"]["model"], "aws-model-b");
    assert_eq!(view["apiKeys"]["openai-compatible"], true);
    assert_eq!(view["defaultModel"], "fake-model");
    // The key is a SecureString under the user's folder of the stack's path.
    let parameter = aws_sdk_ssm::Client::new(&world.sdk)
        .get_parameter()
        .name(format!(
            "/{}/users/{sub}/api-keys/openai-compatible",
            world.bucket
        ))
        .send()
        .await
        .expect("the key is stored in SSM")
        .parameter
        .unwrap();
    assert_eq!(
        parameter.r#type,
        Some(aws_sdk_ssm::types::ParameterType::SecureString)
    );

    let connected = connect
        .invoke(
            fixtures::ws_connect("conn-C1=", Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(connected["statusCode"], 200);
    let sent = message
        .invoke(
            fixtures::ws_message("conn-C1=", &send_frame("default", "c1", "which model?")),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(sent["statusCode"], 200);
    let batch = world.deliver(&agent, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    assert_eq!(frames_of(&world.recorder, "conn-C1=", "message").len(), 1);
    let requests = world.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body["model"], "aws-model-b");
    assert_eq!(requests[0].api_key(), Some("sk-carol-own-key"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_reach_the_page_as_activity_frames_and_stay_with_the_reply() {
    let world = World::create().await;
    let (connect, message, agent, http) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(AGENT).await,
        world.function(HTTP_API).await,
    );
    let (sub, token) = world.user("tina").await;
    connect.connect_with("conn-T1=", &token).await;
    world.fake.push_behaviour(Behaviour::tool_calls([
        ToolCall::exec("echo first"),
        ToolCall::exec("echo second"),
    ]));
    message.send_on("conn-T1=", "tools", "t1", "run two").await;
    let batch = world.deliver(&agent, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));

    // A start and an end per call, one post each, before the reply; all tied to the reply's id.
    let reply = &frames_of(&world.recorder, "conn-T1=", "message")[0];
    let activity = frames_of(&world.recorder, "conn-T1=", "activity");
    let lines: Vec<(&str, &str)> = activity
        .iter()
        .map(|f| {
            (
                f["summary"].as_str().unwrap(),
                f["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 4, "{activity:?}");
    for command in ["echo first", "echo second"] {
        assert!(lines.contains(&(command, "running")) && lines.contains(&(command, "ok")));
    }
    assert!(
        activity
            .iter()
            .all(|f| f["messageId"] == reply["messageId"])
    );
    assert_eq!(reply["activity"]["toolCount"], 2);
    assert!(reply["activity"]["workedMs"].as_u64().unwrap() > 0);

    // The history in DynamoDB keeps it: "Worked for N s" after a reload.
    let response = http
        .invoke(
            fixtures::http_v2("GET", "/api/conversations/tools/messages", &[], None, &sub),
            GATEWAY_INVOKE,
        )
        .await;
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    let stored = &body["messages"][1]["activity"];
    assert_eq!(stored, &reply["activity"], "{body}");
    assert_eq!(body["messages"][0].get("activity"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversations_model_and_thinking_level_set_over_rest_reach_the_agent_function() {
    let world = World::create().await;
    let (connect, message, agent, http) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(AGENT).await,
        world.function(HTTP_API).await,
    );
    let (sub, token) = world.user("dave").await;
    let (eve, _) = world.user("eve").await;
    let call = |method: &str, path: &str, body: Option<&str>, who: &str| {
        http.invoke(
            fixtures::http_v2(method, path, &[], body, who),
            GATEWAY_INVOKE,
        )
    };
    let path = "/api/conversations/picked/settings";
    let initial = call("GET", path, None, &sub).await;
    assert_eq!(initial["statusCode"], 200, "{initial}");
    let view: Value = serde_json::from_str(initial["body"].as_str().unwrap()).unwrap();
    assert_eq!(view["model"], Value::Null);
    assert_eq!(view["defaultModel"], "fake-model");
    assert_eq!(view["modelSource"], "deployment");

    let changed = call(
        "PUT",
        path,
        Some(r#"{"model":"aws-picked","thinking":"high"}"#),
        &sub,
    )
    .await;
    assert_eq!(changed["statusCode"], 200, "{changed}");
    let view: Value = serde_json::from_str(changed["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&view["model"], &view["thinking"], &view["modelSource"]),
        (
            &Value::from("aws-picked"),
            &Value::from("high"),
            &Value::from("conversation")
        )
    );
    // Another user's conversation of the same id keeps the defaults.
    let theirs = call("GET", path, None, &eve).await;
    let theirs: Value = serde_json::from_str(theirs["body"].as_str().unwrap()).unwrap();
    assert_eq!(theirs["model"], Value::Null, "{theirs}");
    // Bad input: a 400 (413 over the size limit) with the reason, and nothing changes.
    let padding = " ".repeat(2048);
    for (method, route, body, status, reason) in [
        (
            "PUT",
            path,
            r#"{"model":"two words"}"#,
            400,
            "model must be",
        ),
        (
            "PUT",
            path,
            r#"{"thinking":"hard"}"#,
            400,
            "unknown variant",
        ),
        ("PUT", path, "{", 400, "invalid body"),
        (
            "PUT",
            path,
            &*format!(r#"{{"model":"x"{padding}}}"#),
            413,
            "bytes",
        ),
        (
            "GET",
            "/api/conversations/a.b/settings",
            "",
            400,
            "conversation",
        ),
    ] {
        let body = (method == "PUT").then_some(body);
        let response = call(method, route, body, &sub).await;
        assert_eq!(response["statusCode"], status, "{response}");
        assert!(
            response["body"].as_str().unwrap().contains(reason),
            "{response}"
        );
    }

    let connected = connect
        .invoke(
            fixtures::ws_connect("conn-D1=", Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(connected["statusCode"], 200);
    for (conversation, id) in [("picked", "d1"), ("other", "d2")] {
        let sent = message
            .invoke(
                fixtures::ws_message("conn-D1=", &send_frame(conversation, id, "which model?")),
                GATEWAY_INVOKE,
            )
            .await;
        assert_eq!(sent["statusCode"], 200);
        let batch = world.deliver(&agent, 1).await;
        assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    }
    let requests = world.fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body["model"], "aws-picked");
    assert_eq!(
        requests[0].body["thinking"]["type"], "enabled",
        "{}",
        requests[0].body
    );
    assert_eq!(requests[1].body["model"], "fake-model");
    assert_ne!(requests[1].body["thinking"]["type"], "enabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attachment_put_to_s3_and_completed_through_the_http_api_reaches_the_agent_and_no_one_else()
 {
    let world = World::create().await;
    let (connect, message, agent, http) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(AGENT).await,
        world.function(HTTP_API).await,
    );
    let (alice, alice_token) = world.user("alice").await;
    let (bob, _) = world.user("bob").await;

    // The bytes go to S3 with the presigned request, never through the function.
    let id = upload_through_target(&http, &alice, "pics", "cat.png", "image/png", &PNG[..])
        .await
        .expect("accepted")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A corrupt one is refused and stores nothing.
    let refused =
        upload_through_target(&http, &alice, "pics", "cat.png", "image/png", b"not a png").await;
    assert_eq!(refused.unwrap_err(), 422);

    // Above Lambda's 6 MB payload (which a body in the request could never pass): accepted.
    let large = serverless_openclaw_testkit::images::noise_png(1600, 1600, 7);
    assert!(large.len() > 6 * 1024 * 1024, "{}", large.len());
    let view = upload_through_target(&http, &alice, "big", "noise.png", "image/png", &large)
        .await
        .expect("accepted");
    assert_eq!(
        (&view["mediaType"], &view["size"]),
        (&Value::from("image/png"), &Value::from(large.len()))
    );
    let s3 = serverless_openclaw_aws::config::s3_client(&world.sdk);
    let stored = s3
        .head_object()
        .bucket(&world.bucket)
        .key(format!(
            "attachments/{alice}/big/{}",
            view["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.content_length(), Some(large.len() as i64));
    let pending = s3
        .list_objects_v2()
        .bucket(&world.bucket)
        .prefix("uploads/")
        .send()
        .await
        .unwrap();
    assert!(
        pending.contents().is_empty(),
        "completed or refused, nothing stays pending: {pending:?}"
    );

    // Only alice gets a link, and the link reads it byte for byte straight from S3, above Lambda's
    // 6 MB answer too.
    let link = |conversation: &str, id: &str, sub: &str| {
        let path = format!("/api/conversations/{conversation}/attachments/{id}/link");
        fixtures::http_v2("GET", &path, &[], None, sub)
    };
    let response = http.invoke(link("pics", &id, &bob), GATEWAY_INVOKE).await;
    assert_eq!(response["statusCode"], 404, "{response}");
    let download = |conversation: &'static str, id: String| {
        let (http, alice) = (&http, &alice);
        async move {
            let response = http
                .invoke(link(conversation, &id, alice), GATEWAY_INVOKE)
                .await;
            assert_eq!(response["statusCode"], 200, "{response}");
            let view: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
            let answer = reqwest::get(view["url"].as_str().unwrap()).await.unwrap();
            assert!(answer.status().is_success(), "{answer:?}");
            assert_eq!(answer.headers()["content-type"], "image/png");
            answer.bytes().await.unwrap().to_vec()
        }
    };
    assert_eq!(download("pics", id.clone()).await, &PNG[..]);
    let large_id = view["id"].as_str().unwrap().to_owned();
    assert!(
        download("big", large_id).await == large,
        "the 7.7 MB image reads back whole"
    );

    // Sent with a message, it reaches the model as an image.
    connect.connect_with("conn-P1=", &alice_token).await;
    let frame = serde_json::json!({"action": "sendMessage", "conversationId": "pics",
        "clientMessageId": "p1", "message": "what is this?", "attachments": [id]});
    message
        .invoke(
            fixtures::ws_message("conn-P1=", &frame.to_string()),
            GATEWAY_INVOKE,
        )
        .await;
    let batch = world.deliver(&agent, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    let images = world.fake.requests()[0].images();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0].bytes().as_deref(), Some(&PNG[..]));
    assert_eq!(frames_of(&world.recorder, "conn-P1=", "message").len(), 1);

    // Deleting the conversation deletes the object.
    let response = http
        .invoke(
            fixtures::http_v2("DELETE", "/api/conversations/pics", &[], None, &alice),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(response["statusCode"], 204, "{response}");
    // A conversation without messages answers 404 but its uploads go all the same.
    let response = http
        .invoke(
            fixtures::http_v2("DELETE", "/api/conversations/big", &[], None, &alice),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(response["statusCode"], 404, "{response}");
    let left = s3
        .list_objects_v2()
        .bucket(&world.bucket)
        .prefix("attachments/")
        .send()
        .await
        .unwrap();
    assert!(left.contents().is_empty(), "{left:?}");
    let response = http.invoke(link("pics", &id, &alice), GATEWAY_INVOKE).await;
    assert_eq!(response["statusCode"], 404, "{response}");
}

/// An upload as the web app makes it on AWS: `http-api` checks the declared file and presigns a `PUT`,
/// the bytes go to S3 (moto) with reqwest, `http-api` completes it. The attachment view, or the status
/// of the step that refused.
async fn upload_through_target(
    http: &support::Function,
    sub: &str,
    conversation: &str,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<Value, u16> {
    let status = |response: &Value| response["statusCode"].as_u64().unwrap_or(0) as u16;
    let body = serde_json::json!({"name": name, "size": bytes.len(), "contentType": content_type});
    let begun = http
        .invoke(
            fixtures::http_v2(
                "POST",
                &format!("/api/conversations/{conversation}/attachments/uploads"),
                &[],
                Some(&body.to_string()),
                sub,
            ),
            GATEWAY_INVOKE,
        )
        .await;
    if status(&begun) != 201 {
        return Err(status(&begun));
    }
    let view: Value = serde_json::from_str(begun["body"].as_str().unwrap()).unwrap();
    let target = &view["target"];
    assert_eq!(target["method"], "PUT");
    let mut put = reqwest::Client::new()
        .put(target["url"].as_str().unwrap())
        .body(bytes.to_vec());
    for (header, value) in target["headers"].as_object().unwrap() {
        put = put.header(header, value.as_str().unwrap());
    }
    let stored = put.send().await.expect("moto answers");
    assert!(stored.status().is_success(), "{stored:?}");
    let body = serde_json::json!({"name": name, "contentType": content_type});
    let completed = http
        .invoke(
            fixtures::http_v2(
                "POST",
                &format!(
                    "/api/conversations/{conversation}/attachments/uploads/{}/complete",
                    view["uploadId"].as_str().unwrap()
                ),
                &[],
                Some(&body.to_string()),
                sub,
            ),
            GATEWAY_INVOKE,
        )
        .await;
    if status(&completed) != 201 {
        return Err(status(&completed));
    }
    Ok(serde_json::from_str(completed["body"].as_str().unwrap()).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn regenerate_and_edit_through_the_lambda_functions_rerun_the_last_exchange_from_before_it() {
    let world = World::create().await;
    let (connect, message, agent) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(AGENT).await,
    );
    let (sub, token) = world.user("alice").await;
    let connected = connect
        .invoke(
            fixtures::ws_connect("conn-V1=", Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(connected["statusCode"], 200);
    for answer in ["FIRST-ANSWER", "SECOND-ANSWER", "QUOKKA-ANSWER"] {
        world.fake.push_behaviour(Behaviour::Text(answer.into()));
    }
    let say = |frame: String| {
        let message = &message;
        async move {
            let sent = message
                .invoke(fixtures::ws_message("conn-V1=", &frame), GATEWAY_INVOKE)
                .await;
            assert_eq!(sent["statusCode"], 200);
        }
    };
    say(send_frame("versions", "m1", "What is a wombat?")).await;
    world.deliver(&agent, 1).await;
    let question = frames_of(&world.recorder, "conn-V1=", "ack")[0]["messageId"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = frames_of(&world.recorder, "conn-V1=", "message")[0]["messageId"]
        .as_str()
        .unwrap()
        .to_owned();

    say(
        serde_json::json!({"action": "regenerate", "conversationId": "versions",
        "messageId": first, "clientMessageId": "r1"})
        .to_string(),
    )
    .await;
    world.deliver(&agent, 1).await;
    say(
        serde_json::json!({"action": "editMessage", "conversationId": "versions",
        "messageId": question, "message": "What is a quokka?", "clientMessageId": "e1"})
        .to_string(),
    )
    .await;
    world.deliver(&agent, 1).await;

    let replies: Vec<String> = frames_of(&world.recorder, "conn-V1=", "message")
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(replies, ["FIRST-ANSWER", "SECOND-ANSWER", "QUOKKA-ANSWER"]);
    // Each rerun was sent the history before the exchange only.
    let sent: Vec<Vec<(String, String)>> = world
        .fake
        .requests()
        .iter()
        .map(|r| r.conversation())
        .collect();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    for (turn, asked) in sent.iter().zip([
        "What is a wombat?",
        "What is a wombat?",
        "What is a quokka?",
    ]) {
        assert_eq!(turn.len(), 1, "{turn:#?}");
        assert!(turn[0].1.ends_with(asked), "{turn:#?}");
    }
    // The stored transcript holds the current version only.
    let transcript = world.transcript(&sub, "versions").await;
    assert!(transcript.contains("QUOKKA-ANSWER") && transcript.contains("What is a quokka?"));
    for gone in ["wombat", "FIRST-ANSWER", "SECOND-ANSWER"] {
        assert!(
            !transcript.contains(gone),
            "the transcript still has {gone}"
        );
    }
}
