//! `make bench` (pre-warm part): the release bootstraps of `ws-connect`, `ws-message` and `agent` on the
//! Lambda service emulator (an environment per concurrent invocation, frozen while idle, the 10 s
//! init cap), moto, the Management API recorder and the fake LLM, with the real OpenClaw runner.
//!
//! Each round, in this order, on a fresh agent function (no environment yet):
//! - `cold`: a message with no wake-up before it;
//! - `woken, message 3 s later` and `woken, message 10 s later`: a client connects (`ws-connect` wakes
//!   the agent), the message is sent that long after the connect;
//! - `warm`: the next message in the environment that answered the 10 s one;
//! - `warm, another user`: then a first message of another user there (OpenClaw meets that user's
//!   workspace for the first time in this runner).
//!
//! The agent gets what its image gives it: a Node compile cache primed by `runner.mjs --prime` (one
//! for every environment, as the image's `/opt/runner/compile-cache` is).
//!
//! Each is timed from the `ws-message` invocation to the first `delta` frame posted to the client
//! (queueing included: this plays the SQS event source as the tests do). Also: how long the 10 s
//! case's wake-up took (its environment's init, then the answer) and whether the runner was ready when
//! that init ended. Prints a Markdown table for `docs/benchmarks.md`, medians over the rounds; the
//! target is 10 s ≤ 1.5 × warm.

mod bench_common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use bench_common::release_bin;
use serverless_openclaw_testkit::fixtures;
use serverless_openclaw_testkit::lambda_service::LambdaService;
use support::{GATEWAY_INVOKE, World, send_frame, waking};

const ROUNDS: usize = 5;

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

struct Bench {
    world: World,
    token: String,
    /// Another user's.
    other_token: String,
    message: support::Function,
    agent_bin: String,
    /// The primed compile cache, for `NODE_COMPILE_CACHE`.
    compile_cache: String,
}

impl Bench {
    /// A fresh agent function (no environment yet), and a `ws-connect` that wakes it (or not).
    async fn agent(&self, wake: bool) -> (LambdaService, support::Function) {
        let agent = self
            .world
            .agent_service_with(
                &self.agent_bin,
                false,
                &[("NODE_COMPILE_CACHE", self.compile_cache.clone())],
            )
            .await;
        let extra = if wake {
            waking(&agent).to_vec()
        } else {
            Vec::new()
        };
        let connect = self
            .world
            .function_with(&release_bin("ws-connect"), &extra)
            .await;
        (agent, connect)
    }

    /// Connects `id` through `connect` with `token`; returns when it was accepted.
    async fn connection_of(&self, connect: &support::Function, id: &str, token: &str) -> Instant {
        let answer = connect
            .invoke(fixtures::ws_connect(id, Some(token)), GATEWAY_INVOKE)
            .await;
        assert_eq!(answer["statusCode"], 200);
        Instant::now()
    }

    /// Sends a message on `connection`, in a conversation of its own, and lets `agent` take it; the
    /// time to its first delta, and to its request reaching the LLM.
    async fn first_delta(
        &self,
        agent: &LambdaService,
        connection: &str,
        n: usize,
    ) -> (Duration, Duration) {
        let conversation = format!("{}-{n}", connection.trim_end_matches('='));
        let sent = Instant::now();
        self.message
            .invoke(
                fixtures::ws_message(
                    connection,
                    &send_frame(&conversation, &format!("m{n}"), "how are you?"),
                ),
                GATEWAY_INVOKE,
            )
            .await;
        let delta = async {
            self.world
                .recorder
                .wait_for(connection, support::AGENT_INVOKE, |f| {
                    f["type"] == "delta" && f["conversationId"] == conversation.as_str()
                })
                .await;
            sent.elapsed()
        };
        let (first, batch) = tokio::join!(delta, self.world.deliver(agent, 1));
        assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
        let asked = self
            .world
            .fake
            .requests()
            .iter()
            .map(|r| r.received_at)
            .filter(|at| *at > sent)
            .min()
            .expect("the turn asked the LLM");
        (first, asked - sent)
    }
}

#[tokio::main]
async fn main() {
    let cache = tempfile::tempdir().expect("temp dir");
    bench_common::primed_compile_cache(cache.path()).await;
    let world = World::create().await;
    let (_, token) = world.user("bench").await;
    let (_, other_token) = world.user("bench-other").await;
    let message = world.function(&release_bin("ws-message")).await;
    let bench = Bench {
        world,
        token,
        other_token,
        message,
        agent_bin: release_bin("agent"),
        compile_cache: cache.path().display().to_string(),
    };
    let (mut cold, mut after3, mut after10, mut warm) = (vec![], vec![], vec![], vec![]);
    let mut other = vec![];
    // Message → LLM request, in the 10 s case and the warm one.
    let (mut asked10, mut asked_warm) = (vec![], vec![]);
    let (mut wakes, mut ready) = (vec![], 0);
    let mut environments = (0, 0);
    for round in 0..ROUNDS {
        let (agent, connect) = bench.agent(false).await;
        let connection = format!("cold-{round}=");
        bench
            .connection_of(&connect, &connection, &bench.token)
            .await;
        cold.push(bench.first_delta(&agent, &connection, 0).await.0);
        drop(agent);

        for (wait, samples) in [(3, &mut after3), (10, &mut after10)] {
            let (agent, connect) = bench.agent(true).await;
            let connection = format!("woken-{wait}-{round}=");
            let connected = bench
                .connection_of(&connect, &connection, &bench.token)
                .await;
            tokio::time::sleep_until((connected + Duration::from_secs(wait)).into()).await;
            let (first, asked) = bench.first_delta(&agent, &connection, 1).await;
            samples.push(first);
            if wait == 3 {
                environments.0 += agent.environments().len();
            } else {
                environments.1 += agent.environments().len();
                let wake = &agent.invocations()[0];
                wakes.push(wake.finished_at.expect("the wake-up finished") - wake.received_at);
                let answer = wake
                    .outcome
                    .clone()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                ready += usize::from(answer["runner"] == "ready");
                asked10.push(asked);
                let (next, asked) = bench.first_delta(&agent, &connection, 2).await;
                warm.push(next);
                asked_warm.push(asked);
                let stranger = format!("other-{round}=");
                bench
                    .connection_of(&connect, &stranger, &bench.other_token)
                    .await;
                other.push(bench.first_delta(&agent, &stranger, 3).await.0);
            }
        }
        eprintln!(
            "round {}: cold {}, 3 s {}, 10 s {} (wake-up {}), warm {}",
            round + 1,
            ms(cold[round]),
            ms(after3[round]),
            ms(after10[round]),
            ms(wakes[round]),
            ms(warm[round])
        );
    }
    let warm = median(warm);
    let row = |name: &str, samples: Vec<Duration>, environments: &str| {
        let median = median(samples);
        println!(
            "| {name} | {} | {:.2} | {environments} |",
            ms(median),
            median.as_secs_f64() / warm.as_secs_f64()
        );
    };
    println!("| message → first delta ({ROUNDS} rounds) | median | × warm | environments |");
    println!("|---|---|---|---|");
    row("cold (no wake-up)", cold, "1");
    row(
        "woken, message 3 s after the connect",
        after3,
        &format!("{:.1}", environments.0 as f64 / ROUNDS as f64),
    );
    row(
        "woken, message 10 s after the connect",
        after10,
        &format!("{:.1}", environments.1 as f64 / ROUNDS as f64),
    );
    row("warm (the next message)", vec![warm], "—");
    row("warm, another user's first message", other, "—");
    println!();
    println!(
        "10 s case: the wake-up took {} (median; its environment's init, then the answer); the runner \
         was ready when that init ended in {ready} of {ROUNDS} rounds. Message → LLM request: {} in \
         the 10 s case, {} warm (medians).",
        ms(median(wakes)),
        ms(median(asked10)),
        ms(median(asked_warm))
    );
}
