//! `make bench`: the agent's start and turns with the real OpenClaw runner and a fake LLM that answers
//! instantly. Prints Markdown tables for `docs/benchmarks.md`.
//!
//! 1. Cold start ([`cold_start`]): the runner against a naive one-shot runner, message sent at spawn, on
//!    two CPUs and on one, alternating, median of several rounds.
//! 2. Local mode over a real WebSocket: the first turn after the runner's warm-up and 50 warm turns,
//!    each split into our overhead (frame in → the LLM request arrives; the LLM's last byte → the final
//!    frame) and the rest; the runner's RSS.
//!
//! `BENCH_ROUNDS` sets the cold-start rounds (default 5).

mod cold_start;
mod local_mode;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use local_mode::{Bench, TOKEN, load_average, median, ms};
use serde_json::{Value, json};
use serverless_openclaw_testkit::measure::{self, percentile};
use tokio_tungstenite::tungstenite::Message;

const WARM_TURNS: usize = 50;

/// The runner's resident memory: its process tree's, as it runs inside bubblewrap (`bwrap`, then Node).
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    anyhow::ensure!(
        measure::rss_mib(pid).is_some(),
        "the runner (pid {pid}) is gone"
    );
    Ok(measure::tree_rss_mib(pid))
}

/// One turn's timings, all from the moment the client sent its frame.
struct Turn {
    first_delta: Duration,
    last_frame: Duration,
    /// Frame sent → the fake LLM had the request.
    to_llm: Duration,
    /// The fake LLM's last byte → the final `message` frame.
    from_llm: Duration,
    /// The part of the turn spent outside the runner: frame sent → final frame, less the runner's own
    /// `durationMs` (its `run` line → its `result` line).
    outside_runner: Duration,
}

impl Turn {
    fn overhead(&self) -> Duration {
        self.to_llm + self.from_llm
    }
}

fn stats(turns: &[Turn], pick: fn(&Turn) -> Duration) -> String {
    let mut values: Vec<Duration> = turns.iter().map(pick).collect();
    values.sort();
    format!(
        "{} / {}",
        ms(percentile(&values, 50.0)),
        ms(percentile(&values, 95.0))
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bench = Bench::start().await?;
    let fake = &bench.fake;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "Machine: {cpus} CPUs; load average at start {}.\n",
        load_average()
    );

    cold_start::measure(&cold_start::Setup {
        repo: &bench.repo,
        node: &bench.node,
        provider: bench.provider.clone(),
        rounds: local_mode::rounds(),
    })
    .await?;

    // Local mode starts its runner at start-up; the first message usually comes after the warm-up.
    let data = tempfile::tempdir()?;
    let (app, addr) = bench.serve_warm(data.path()).await?;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={TOKEN}")).await?;

    // One turn over the socket.
    let mut turn = async |i: usize| -> anyhow::Result<Turn> {
        let frame = json!({"action":"sendMessage","clientMessageId":format!("b{i}"),"message":format!("turn {i}")});
        let requests_before = fake.request_count();
        let sent = Instant::now();
        ws.send(Message::Text(frame.to_string().into())).await?;
        let mut first_delta = None;
        let (last_frame, runner_ms) = loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                anyhow::bail!("socket closed")
            };
            let frame: Value = serde_json::from_str(text.as_str())?;
            match frame["type"].as_str() {
                Some("delta") => {
                    first_delta.get_or_insert(sent.elapsed());
                }
                Some("message") => {
                    break (
                        Instant::now(),
                        frame["durationMs"].as_u64().unwrap_or_default(),
                    );
                }
                Some("error") => anyhow::bail!("turn failed: {frame}"),
                _ => {}
            }
        };
        let requests = fake.requests();
        anyhow::ensure!(
            requests.len() == requests_before + 1,
            "one LLM request per turn"
        );
        let llm_end = fake
            .last_response_end()
            .ok_or_else(|| anyhow::anyhow!("no LLM response"))?;
        Ok(Turn {
            first_delta: first_delta.unwrap_or_default(),
            last_frame: last_frame - sent,
            to_llm: requests[requests_before].received_at - sent,
            from_llm: last_frame - llm_end,
            outside_runner: (last_frame - sent).saturating_sub(Duration::from_millis(runner_ms)),
        })
    };

    let first = turn(0).await?;
    let pid = app
        .runtime
        .runner_pid()
        .ok_or_else(|| anyhow::anyhow!("no runner"))?;
    let rss_after_first = rss_mib(pid)?;

    // Warm turns in one conversation (its history grows, as in real use).
    let mut warm = Vec::new();
    for i in 1..=WARM_TURNS {
        warm.push(turn(i).await?);
    }
    let rss_after = rss_mib(pid)?;

    println!(
        "| local mode, over the WebSocket | first turn after the warm-up | warm turns, p50 / p95 ({WARM_TURNS}) |"
    );
    println!("|---|---|---|");
    let row = |name: &str, pick: fn(&Turn) -> Duration| {
        println!("| {name} | {} | {} |", ms(pick(&first)), stats(&warm, pick));
    };
    row("frame in → LLM request received", |t| t.to_llm);
    row("LLM's last byte → final frame", |t| t.from_llm);
    row("our overhead (the two above)", Turn::overhead);
    row("frame in → first delta", |t| t.first_delta);
    row("frame in → final frame", |t| t.last_frame);
    row(
        "of which outside the runner (server, queue, stores, files)",
        |t| t.outside_runner,
    );
    println!(
        "| runner RSS (its process tree) | {rss_after_first:.0} MiB | {rss_after:.0} MiB after {} turns |",
        WARM_TURNS + 1
    );
    println!("\nLoad average at the end: {}.", load_average());
    app.runtime.shutdown().await;
    Ok(())
}
