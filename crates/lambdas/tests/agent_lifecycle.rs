//! The agent function's life on the emulated Lambda service (environments per concurrent invocation,
//! frozen while idle, the 10 s init cap, SnapStart), with the real bootstraps, moto, the fake LLM and
//! the real OpenClaw runner:
//!
//! - pre-warm: a web client connects, `ws-connect` wakes the agent through the Invoke API, and the
//!   user's message comes 10 s later (answered by the environment the connect woke, on the runner its
//!   init started), 3 s later (the same once that init has ended, else as next), or at once (that
//!   environment is still initialising, so the turn starts a second one; both serve later turns);
//! - SnapStart: the version's init snapshots a warm runner; a restore keeps it, reads the API key
//!   again (a key rotated after the snapshot is the one the LLM sees, still on the snapshot's runner)
//!   and draws a new lease holder id.
//!
//! The scenarios run one at a time: each starts OpenClaw runners, and two at once on this machine's
//! cores would blur what each shows.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use serverless_openclaw_lambdas::agent::INIT_WAIT;
use serverless_openclaw_testkit::fake_llm::reply_text;
use serverless_openclaw_testkit::fixtures;
use serverless_openclaw_testkit::lambda_service::{
    INIT_TIMEOUT, InvocationKind, LambdaService, Start,
};
use support::{GATEWAY_INVOKE, LLM_KEY, World, frames_of, send_frame, waking};
use tokio::sync::Mutex;

const WS_CONNECT: &str = env!("CARGO_BIN_EXE_ws-connect");
const WS_MESSAGE: &str = env!("CARGO_BIN_EXE_ws-message");
const AGENT: &str = env!("CARGO_BIN_EXE_agent");

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// How often the agent's output says a runner became ready.
fn runner_starts(output: &[String]) -> usize {
    output
        .iter()
        .filter(|l| l.contains("OpenClaw runner ready"))
        .count()
}

/// The environment's output lines, without the colours the log may carry (ANSI escape sequences).
fn texts(environment: &serverless_openclaw_testkit::lambda_service::Environment) -> Vec<String> {
    environment
        .output()
        .into_iter()
        .map(|l| without_colours(&l.text))
        .collect()
}

fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (a letter).
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            plain.push(c);
        }
    }
    plain
}

fn statuses(world: &World, connection: &str) -> Vec<String> {
    frames_of(&world.recorder, connection, "status")
        .iter()
        .filter_map(|f| f["status"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_10_s_after_a_connect_runs_in_the_environment_the_connect_woke() {
    let _one = ONE_AT_A_TIME.lock().await;
    let world = World::create().await;
    let agent = world.agent_service(AGENT, false).await;
    let connect = world.function_with(WS_CONNECT, &waking(&agent)).await;
    let message = world.function(WS_MESSAGE).await;
    let (_, token) = world.user("alice").await;

    let connected = connect
        .invoke(
            fixtures::ws_connect("conn-W1=", Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    let connected_at = Instant::now();
    assert_eq!(connected["statusCode"], 200);

    // The connect sent one asynchronous wake-up, which started an environment.
    let invocations = agent.wait_invocations(1, GATEWAY_INVOKE).await;
    assert_eq!(invocations[0].kind, InvocationKind::Event);
    assert_eq!(invocations[0].payload["wake"]["reason"], "web_connected");
    let wake = agent
        .wait_finished(0, INIT_TIMEOUT * 3)
        .await
        .expect("the wake-up finished");
    // Its environment's init waited for the runner within Lambda's cap, and the wake-up itself then
    // returned at once, leaving the environment idle for the turn.
    let took = wake.finished_at.unwrap() - wake.received_at;
    assert!(took < INIT_TIMEOUT, "the wake-up took {took:?}");
    let answer = wake.outcome.unwrap().expect("the wake-up succeeded");
    let woken = &agent.environments()[0];
    // Init ended when the runner was ready, or when its budget ran out with the runner still
    // starting (a slow machine), never earlier.
    match answer["runner"].as_str() {
        Some("ready") => {}
        Some("starting") => {
            assert!(
                took >= INIT_WAIT.saturating_sub(Duration::from_millis(500)),
                "{took:?}"
            );
            assert!(
                texts(woken)
                    .iter()
                    .any(|l| l.contains("the runner is still starting")),
                "{:#?}",
                texts(woken)
            );
        }
        _ => panic!("{answer}"),
    }
    assert!(!woken.init_timed_out());
    assert_eq!(woken.start(), Start::OnDemand);

    tokio::time::sleep_until((connected_at + Duration::from_secs(10)).into()).await;
    let sent = message
        .invoke(
            fixtures::ws_message("conn-W1=", &send_frame("default", "m1", "hello there")),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(sent["statusCode"], 200);
    let batch = world.deliver(&agent, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));

    // The turn ran in the woken environment, on the runner its init started: no second environment,
    // no second runner.
    assert_eq!(agent.environments().len(), 1);
    assert_eq!(agent.invocations()[1].environment, Some(0));
    assert_eq!(runner_starts(&texts(woken)), 1);
    let replies = frames_of(&world.recorder, "conn-W1=", "message");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["content"], reply_text(1, "hello there"));
    if answer["runner"] == "ready" {
        assert!(
            !statuses(&world, "conn-W1=").contains(&"starting".to_owned()),
            "a warm runner shows no cold start"
        );
    }
}

/// A connect through a `ws-connect` that wakes `agent`, then a message on that connection `after` the
/// connect; returns whether the woken environment's init had ended when the message was sent.
async fn message_after_a_connect(
    world: &World,
    agent: &LambdaService,
    connection: &str,
    after: Duration,
) -> bool {
    let connect = world.function_with(WS_CONNECT, &waking(agent)).await;
    let message = world.function(WS_MESSAGE).await;
    let (_, token) = world.user(connection.trim_end_matches('=')).await;
    connect
        .invoke(
            fixtures::ws_connect(connection, Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    let connected_at = Instant::now();
    agent.wait_invocations(1, GATEWAY_INVOKE).await;
    tokio::time::sleep_until((connected_at + after).into()).await;
    let init_ended = agent.invocations()[0].finished_at.is_some();
    for (client_id, text) in [("n1", "too quick?"), ("n2", "and now?")] {
        message
            .invoke(
                fixtures::ws_message(connection, &send_frame("default", client_id, text)),
                GATEWAY_INVOKE,
            )
            .await;
        let batch = world.deliver(agent, 1).await;
        assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    }
    let replies: Vec<Value> = frames_of(&world.recorder, connection, "message")
        .into_iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(
        replies,
        [reply_text(1, "too quick?"), reply_text(3, "and now?")]
    );
    init_ended
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_during_the_woken_environments_init_starts_a_second_one_and_both_serve_later_turns()
 {
    let _one = ONE_AT_A_TIME.lock().await;
    let world = World::create().await;
    let agent = world.agent_service(AGENT, false).await;
    // Right after the connect: the woken environment is still in its init phase (Node alone takes
    // seconds to import OpenClaw), busy with the wake-up that started it.
    let init_ended = message_after_a_connect(&world, &agent, "conn-W0=", Duration::ZERO).await;
    assert!(!init_ended, "the premise: the init had not ended");

    // So the first turn started a second environment and paid a cold start there; the second turn
    // found both idle and took one of them: no third was started.
    let invocations = agent.invocations();
    assert_eq!(invocations[0].environment, Some(0));
    assert_eq!(invocations[1].environment, Some(1));
    assert_eq!(agent.environments().len(), 2);
    assert!(invocations[2].environment.is_some());
    assert!(agent.wait_finished(0, INIT_TIMEOUT * 3).await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_3_s_after_a_connect_runs_in_the_woken_environment_once_its_init_ended() {
    let _one = ONE_AT_A_TIME.lock().await;
    let world = World::create().await;
    let agent = world.agent_service(AGENT, false).await;
    let init_ended =
        message_after_a_connect(&world, &agent, "conn-W3=", Duration::from_secs(3)).await;

    // Where the turn runs depends on whether the woken environment's init (the runner's start, a few
    // seconds here, more on a loaded machine or a 2 GB Lambda) had ended 3 s after the connect.
    let invocations = agent.invocations();
    eprintln!("3 s after the connect the woken environment's init had ended: {init_ended}");
    if init_ended {
        assert_eq!(invocations[1].environment, Some(0), "the woken, idle one");
        assert_eq!(agent.environments().len(), 1);
    } else {
        assert_eq!(
            invocations[1].environment,
            Some(1),
            "a new one: the woken was busy"
        );
        assert_eq!(agent.environments().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapstart_restore_keeps_the_warm_runner_and_draws_a_new_lease_holder() {
    let _one = ONE_AT_A_TIME.lock().await;
    let world = World::create().await;
    let agent = world.agent_service(AGENT, true).await;
    agent.publish().await.expect("the snapshot");
    let message = world.function(WS_MESSAGE).await;
    let connect = world.function(WS_CONNECT).await;
    let (_, token) = world.user("carol").await;
    connect.connect_with("conn-S1=", &token).await;
    message
        .send_on("conn-S1=", "default", "s1", "restored?")
        .await;
    let batch = world.deliver(&agent, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));

    let restored = &agent.environments()[0];
    assert_eq!(restored.start(), Start::Restored);
    let output = texts(restored);
    // Init waited for the runner, so the snapshot holds it warm; it answered the turn after the
    // restore: no restart, no cold start.
    let ready = output
        .iter()
        .position(|l| l.contains("OpenClaw runner ready"));
    let restore = output
        .iter()
        .position(|l| l.contains("restored from the snapshot"));
    assert!(ready.is_some() && ready < restore, "{output:#?}");
    assert_eq!(runner_starts(&output), 1, "{output:#?}");
    assert!(!statuses(&world, "conn-S1=").contains(&"starting".to_owned()));
    assert_eq!(world.fake.requests()[0].api_key(), Some(LLM_KEY));
    // Restored environments share the snapshot's memory; the lease holder id is drawn anew.
    let holders: Vec<&str> = output
        .iter()
        .filter(|l| l.contains("turns take their leases as this holder"))
        .filter_map(|l| l.split("holder=").nth(1))
        .map(|h| h.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(holders.len(), 2, "{output:#?}");
    assert_ne!(holders[0], holders[1]);
    assert!(
        holders.iter().all(|h| h.starts_with("agent-")),
        "{holders:?}"
    );
    let replies = frames_of(&world.recorder, "conn-S1=", "message");
    assert_eq!(replies[0]["content"], reply_text(1, "restored?"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_rotated_after_the_snapshot_is_read_at_restore_and_used_by_the_next_turn() {
    let _one = ONE_AT_A_TIME.lock().await;
    let world = World::create().await;
    let agent = world.agent_service(AGENT, true).await;
    agent.publish().await.expect("the snapshot");
    let rotated = "sk-rotated-after-the-snapshot";
    world.secret("llm-key", rotated).await;

    let message = world.function(WS_MESSAGE).await;
    let connect = world.function(WS_CONNECT).await;
    let (_, token) = world.user("dave").await;
    connect.connect_with("conn-S2=", &token).await;
    message
        .send_on("conn-S2=", "default", "k1", "which key?")
        .await;
    let batch = world.deliver(&agent, 1).await;
    assert_eq!(batch["batchItemFailures"], serde_json::json!([]));

    let requests = world.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].api_key(),
        Some(rotated),
        "the key read at restore"
    );
    let output = texts(&agent.environments()[0]);
    assert!(
        output
            .iter()
            .any(|l| l.contains("an API key changed since the snapshot")),
        "{output:#?}"
    );
    // The runner holds no key: the one from before the snapshot answered, without a restart.
    assert_eq!(runner_starts(&output), 1, "{output:#?}");
    assert!(
        !output.iter().any(|l| l.contains(LLM_KEY)),
        "no key is logged"
    );
}
