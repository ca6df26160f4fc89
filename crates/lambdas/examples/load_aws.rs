//! `make load`, the AWS path: 50 users × 4 turns at once through the release bootstraps of `ws-connect`,
//! `ws-message` and `agent`, with moto (DynamoDB, S3, SQS FIFO, SSM, Cognito), the Management API
//! recorder and the fake LLM answering at once, the real OpenClaw runner in every agent environment. A
//! test as well as a measurement: it exits non-zero when a turn is missing, answered out of order or
//! with the wrong history.
//!
//! The harness plays API Gateway and the turn queue's event source mapping, as the end-to-end tests do
//! (`tests/support`): each user (a Cognito user with a real ID token) connects through `ws-connect`,
//! then sends its 4 turns to one conversation through `ws-message` back to back, all users at once;
//! [`AGENT_CONCURRENCY`] pollers receive one turn at a time (the mapping's batch size) and invoke the
//! agent on the Lambda service emulator, which starts an environment per concurrent invocation, so at
//! most that many environments run, each with its own runner. The gateway functions run one
//! environment each, so their invocations queue behind each other.
//!
//! Checks: every turn's final `message` frame reaches its user's connection, in order, with the fake
//! LLM's reply that quotes the turn's own message and counts the conversation's earlier exchanges.
//! Overhead is `make bench`'s (`testkit::measure::overhead`) from when a turn could start (its
//! `ws-message` invocation, or the end of the user's previous turn if that came later), so it takes in
//! the gateway, the queue and the pollers, the agent's stores, the runner's IPC and the posts back.

mod bench_common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bench_common::release_bin;
use serverless_openclaw_testkit::fake_llm::reply_text;
use serverless_openclaw_testkit::fixtures;
use serverless_openclaw_testkit::lambda_service::LambdaService;
use serverless_openclaw_testkit::measure::{self, distribution, load_average, ms, tree_rss_mib};
use support::{GATEWAY_INVOKE, World, send_frame};

const USERS: usize = 50;
const TURNS: usize = 4;
/// Agent environments at once (the event source mapping's maximum concurrency here): each is a
/// bootstrap and a Node runner, about 610 MiB together, and the two cores of this machine are shared by all.
const AGENT_CONCURRENCY: usize = 4;
/// How long all the turns may take together.
const DEADLINE: Duration = Duration::from_secs(900);

/// The message of `user`'s turn `turn` (from 0), unique to both.
fn message_of(user: usize, turn: usize) -> String {
    format!("load test user {user:02} turn {turn}")
}

fn connection_of(user: usize) -> String {
    format!("load-{user:02}=")
}

#[tokio::main]
async fn main() {
    // `LOAD_USERS` runs fewer (or more) users, to try the suite quickly.
    let users = std::env::var("LOAD_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(USERS);
    let cache = tempfile::tempdir().expect("temp dir");
    bench_common::primed_compile_cache(cache.path()).await;
    let world = Arc::new(World::create().await);
    world.fake.set_chunk_delay(Duration::ZERO);
    let connect = world.function(&release_bin("ws-connect")).await;
    let message = Arc::new(world.function(&release_bin("ws-message")).await);
    let agent = Arc::new(
        world
            .agent_service_with(
                &release_bin("agent"),
                false,
                &[("NODE_COMPILE_CACHE", cache.path().display().to_string())],
            )
            .await,
    );
    for user in 0..users {
        let (_, token) = world.user(&format!("load-{user:02}")).await;
        let answer = connect.connect_with(&connection_of(user), &token).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
    }
    println!(
        "`load aws`: {} CPUs, load average at the start {}.\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average()
    );

    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for user in 0..users {
        let message = Arc::clone(&message);
        senders.spawn(async move {
            let connection = connection_of(user);
            let conversation = format!("load-{user:02}");
            let mut sent = Vec::new();
            for turn in 0..TURNS {
                sent.push(Instant::now());
                // Client message ids unique across users, as the web app's are: moto keeps one
                // deduplication scope per queue, not per message group.
                let frame = send_frame(
                    &conversation,
                    &format!("u{user:02}-t{turn}"),
                    &message_of(user, turn),
                );
                let answer = message
                    .invoke(fixtures::ws_message(&connection, &frame), GATEWAY_INVOKE)
                    .await;
                assert_eq!(answer["statusCode"], 200, "{answer}");
            }
            (user, sent)
        });
    }
    let done = Arc::new(AtomicBool::new(false));
    let mut pollers = tokio::task::JoinSet::new();
    for _ in 0..AGENT_CONCURRENCY {
        let (world, agent, done) = (Arc::clone(&world), Arc::clone(&agent), Arc::clone(&done));
        pollers.spawn(async move { poll(&world, &agent, &done).await });
    }
    let sent: HashMap<usize, Vec<Instant>> = senders.join_all().await.into_iter().collect();

    // Waits for every final frame, sampling the environments' memory meanwhile.
    let (mut peak_agent, mut peak_gateway) = (0.0_f64, 0.0_f64);
    let gateways = [connect.process.pid(), message.process.pid()];
    loop {
        peak_agent = peak_agent.max(
            agent
                .environments()
                .iter()
                .filter_map(|e| e.process().pid())
                .map(tree_rss_mib)
                .sum(),
        );
        peak_gateway = peak_gateway.max(
            gateways
                .iter()
                .flatten()
                .filter_map(|pid| measure::rss_mib(*pid))
                .sum(),
        );
        if let Some(error) = world
            .recorder
            .posts()
            .iter()
            .find(|p| p.body["type"] == "error")
        {
            panic!("{}: {}", error.connection_id, error.body);
        }
        if replies(&world).len() >= users * TURNS {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{} of {} turns answered within {DEADLINE:?}",
            replies(&world).len(),
            users * TURNS
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::SeqCst);
    pollers.join_all().await;

    // Every user's replies, in order, each the one its turn should have had.
    let requests: HashMap<String, _> = world
        .fake
        .requests()
        .into_iter()
        .map(|r| (r.last_user_text().unwrap_or_default(), r))
        .collect();
    assert_eq!(
        world.fake.request_count(),
        users * TURNS,
        "one LLM request per turn"
    );
    let all_replies = replies(&world);
    let (mut overhead, mut after_llm, mut end_to_end) = (Vec::new(), Vec::new(), Vec::new());
    for user in 0..users {
        let mine: Vec<&(String, String, Instant)> = all_replies
            .iter()
            .filter(|(connection, _, _)| *connection == connection_of(user))
            .collect();
        let contents: Vec<&str> = mine
            .iter()
            .map(|(_, content, _)| content.as_str())
            .collect();
        let wanted: Vec<String> = (0..TURNS)
            .map(|turn| reply_text(2 * turn + 1, &message_of(user, turn)))
            .collect();
        assert_eq!(contents, wanted, "user {user}'s replies");
        let mut previous: Option<Instant> = None;
        for (turn, (_, _, at)) in mine.iter().enumerate() {
            let sent = sent[&user][turn];
            let ready = previous.map_or(sent, |p| p.max(sent));
            let request = &requests[&message_of(user, turn)];
            overhead.push(measure::overhead(ready, request, *at).expect("the response ended"));
            after_llm.push(at.saturating_duration_since(request.response_end.expect("ended")));
            end_to_end.push(*at - sent);
            previous = Some(*at);
        }
    }
    let environments = agent.environments();
    println!(
        "{users} users × {TURNS} turns, all sent at once, agent concurrency {AGENT_CONCURRENCY}: all {} \
         answered in order with their own history.\n",
        users * TURNS
    );
    println!("| AWS path | value |");
    println!("|---|---|");
    println!("| wall time | {} |", ms(elapsed));
    println!(
        "| throughput | {:.1} turns/s |",
        (users * TURNS) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| our overhead, p50 / p95 / p99 | {} |",
        distribution(&mut overhead)
    );
    println!(
        "| of which the LLM's last byte → final frame posted, p50 / p95 / p99 | {} |",
        distribution(&mut after_llm)
    );
    println!(
        "| `ws-message` → reply, p50 / p95 / p99 (queueing included) | {} |",
        distribution(&mut end_to_end)
    );
    println!("| agent environments started | {} |", environments.len());
    println!(
        "| peak RSS, agent environments together (bootstrap + Node runner each) | {peak_agent:.0} MiB |"
    );
    println!(
        "| RSS now, per agent environment | {} |",
        environments
            .iter()
            .filter_map(|e| e.process().pid())
            .map(|pid| format!(
                "{:.0} MiB ({:.0} bootstrap)",
                tree_rss_mib(pid),
                measure::rss_mib(pid).unwrap_or(0.0)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("| peak RSS, `ws-connect` + `ws-message` | {peak_gateway:.0} MiB |");
    println!(
        "| moto RSS at the end | {:.0} MiB |",
        tree_rss_mib(world.moto.pid())
    );
    println!("\nLoad average at the end: {}.", load_average());
}

/// The final `message` frames posted so far: connection, content, when the recorder had it.
fn replies(world: &World) -> Vec<(String, String, Instant)> {
    world
        .recorder
        .posts()
        .into_iter()
        .filter(|p| p.body["type"] == "message" && p.body["role"] == "assistant")
        .map(|p| {
            let content = p.body["content"].as_str().unwrap_or_default().to_owned();
            (p.connection_id, content, p.received_at)
        })
        .collect()
}

/// One poller of the event source mapping: a turn at a time to the agent until `done`.
async fn poll(world: &World, agent: &LambdaService, done: &AtomicBool) {
    while !done.load(Ordering::SeqCst) {
        // Short polls: moto's long poll reads which message groups are in flight once, when it
        // starts, so a turn received by another poller meanwhile would not hold back the next turn
        // of its group (SQS does).
        match world.deliver_within(&world.queue_url, agent, 1, 0).await {
            Some(response) => assert_eq!(
                response["batchItemFailures"],
                serde_json::json!([]),
                "a turn failed"
            ),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
