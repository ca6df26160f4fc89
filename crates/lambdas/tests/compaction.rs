//! Long conversations on the AWS path: moto, the Management API recorder, the fake LLM (its model
//! declares a small context window) and the real runner, through the real `ws-connect`, `ws-message`
//! and `agent` bootstraps. A conversation driven past the window is compacted during a turn, `/compact`
//! compacts on demand, the compacted transcript is what S3 holds, and the next turn — in a new agent
//! process, as on another Lambda invocation — sends the model the summary instead of the dropped turns.

mod support;

use serde_json::Value;
use serverless_openclaw_testkit::fake_llm::SUMMARY;
use serverless_openclaw_testkit::fixtures;
use support::{Function, GATEWAY_INVOKE, World, frames_of, send_frame};

const WS_CONNECT: &str = env!("CARGO_BIN_EXE_ws-connect");
const WS_MESSAGE: &str = env!("CARGO_BIN_EXE_ws-message");
const AGENT: &str = env!("CARGO_BIN_EXE_agent");

/// A context window OpenClaw accepts, which a few dozen padded turns overflow.
const CONTEXT_WINDOW: &str = "32768";
const CONNECTION: &str = "conn-K1=";

fn prompt(n: usize) -> String {
    format!("TURN-{n}-MARKER{}", " lorem".repeat(1_000))
}

/// An agent function whose deployment model declares the small window.
async fn agent(world: &World) -> Function {
    world
        .function_with(
            AGENT,
            &[(
                "SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW",
                CONTEXT_WINDOW.to_owned(),
            )],
        )
        .await
}

/// Sends `text` through `ws-message` and lets `agent` take the queued turn.
async fn turn(world: &World, message: &Function, agent: &Function, id: &str, text: &str) {
    let sent = message
        .invoke(
            fixtures::ws_message(CONNECTION, &send_frame("long", id, text)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(sent["statusCode"], 200);
    let batch = world.deliver(agent, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
}

/// What the model was sent in the last turn request (not a summary request), as one text.
fn last_turn_sent(world: &World) -> String {
    let requests = world.fake.requests();
    requests
        .iter()
        .rfind(|r| !r.is_summary_request())
        .expect("a turn request")
        .sent_text()
}

fn summary_requests(world: &World) -> usize {
    world
        .fake
        .requests()
        .iter()
        .filter(|r| r.is_summary_request())
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_conversation_is_compacted_in_s3_and_the_next_invocation_continues_from_the_summary()
{
    let world = World::create().await;
    let (connect, message) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
    );
    let (sub, token) = world.user("carol").await;
    let connected = connect
        .invoke(
            fixtures::ws_connect(CONNECTION, Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(connected["statusCode"], 200);

    // Past the window: OpenClaw compacts during a turn, and S3 gets the compacted transcript.
    let first = agent(&world).await;
    let mut n = 0;
    while summary_requests(&world) == 0 {
        n += 1;
        assert!(n <= 40, "no compaction after 40 turns");
        turn(&world, &message, &first, &format!("m{n}"), &prompt(n)).await;
    }
    let stored = world.transcript(&sub, "long").await;
    assert!(stored.contains(r#""type":"compaction""#));
    assert!(stored.contains(SUMMARY) && !stored.contains("TURN-1-MARKER"));
    let replies = frames_of(&world.recorder, CONNECTION, "message");
    assert_eq!(replies.len(), n, "every turn was answered");

    // Another agent process (another invocation's environment) continues from it.
    let second = agent(&world).await;
    turn(&world, &message, &second, "after-auto", "AFTER-AUTO").await;
    let sent = last_turn_sent(&world);
    assert!(sent.contains(SUMMARY) && sent.contains("AFTER-AUTO"));
    assert!(!sent.contains("TURN-1-MARKER"));
    assert!(sent.contains(&format!("TURN-{n}-MARKER")));

    // `/compact`: queued, answered with a notice when done, and S3 holds the smaller transcript.
    let before = world.transcript(&sub, "long").await;
    let sent = message
        .invoke(
            fixtures::ws_message(CONNECTION, &send_frame("long", "k1", "/compact")),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(sent["statusCode"], 200);
    let summaries = summary_requests(&world);
    let batch = world.deliver(&second, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    assert!(summary_requests(&world) > summaries, "a summary was made");
    let notices: Vec<String> = frames_of(&world.recorder, CONNECTION, "notice")
        .iter()
        .filter_map(|f| f["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices[0].starts_with("Compacting"), "{notices:?}");
    assert!(
        notices[1].starts_with("Compacted this conversation"),
        "{notices:?}"
    );
    let after = world.transcript(&sub, "long").await;
    assert!(
        after.len() < before.len(),
        "{} → {}",
        before.len(),
        after.len()
    );
    assert_eq!(
        after.matches(r#""type":"compaction""#).count(),
        1,
        "only the latest compaction is kept"
    );

    // And a third process continues from that.
    let third = agent(&world).await;
    turn(&world, &message, &third, "after-compact", "AFTER-COMPACT").await;
    let sent = last_turn_sent(&world);
    assert!(sent.contains(SUMMARY) && sent.contains("AFTER-COMPACT"));
    assert!(!sent.contains("TURN-1-MARKER"));
    let last: Value = frames_of(&world.recorder, CONNECTION, "message")
        .pop()
        .expect("the reply");
    assert!(last["content"].as_str().unwrap().contains("AFTER-COMPACT"));
}
