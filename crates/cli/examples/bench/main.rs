//! `make bench`: local mode with the real OpenClaw runner and a fake LLM that answers instantly.
//!
//! Measures (a) agent cold start: runner spawn → first delta of the first turn; (b) warm turns over the
//! WebSocket: `sendMessage` → first `delta` and → final `message`, median and p95; (c) the runner's RSS
//! after 50 turns. Prints a Markdown table for `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use serverless_openclaw_agent::{LlmApi, ProviderConfig};
use serverless_openclaw_cli::{LocalOptions, compose, paths};
use serverless_openclaw_testkit::fake_llm::FakeLlm;
use tokio_tungstenite::tungstenite::Message;

const WARM_TURNS: usize = 50;
const TOKEN: &str = "bench";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    Ok(kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    let data = tempfile::tempdir()?;
    let repo = paths::repo_root(&std::env::current_dir()?)
        .ok_or_else(|| anyhow::anyhow!("run from the repository"))?;
    let app = compose(LocalOptions {
        data_dir: data.path().to_path_buf(),
        token: Some(TOKEN.into()),
        provider: Some(ProviderConfig::Custom {
            base_url: fake.anthropic_base_url(),
            api: LlmApi::AnthropicMessages,
            model: "fake-model".into(),
            has_key: false,
        }),
        node: paths::node_binary(None, Some(&repo))?,
        runner_script: repo.join(paths::RUNNER_SCRIPT),
        web_dir: None,
        turn_timeout: Duration::from_secs(120),
        disable_tools: false,
        telegram: None,
    })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(axum::serve(listener, app.router.clone()).into_future());
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={TOKEN}")).await?;

    // One turn over the socket: time to the first delta and to the final message.
    let mut turn = async |i: usize| -> anyhow::Result<(Duration, Duration)> {
        let frame = json!({"action":"sendMessage","clientMessageId":format!("b{i}"),"message":format!("turn {i}")});
        let sent = Instant::now();
        ws.send(Message::Text(frame.to_string().into())).await?;
        let mut first = None;
        loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                anyhow::bail!("socket closed")
            };
            let frame: Value = serde_json::from_str(text.as_str())?;
            match frame["type"].as_str() {
                Some("delta") => {
                    first.get_or_insert(sent.elapsed());
                }
                Some("message") => return Ok((first.unwrap_or_default(), sent.elapsed())),
                Some("error") => anyhow::bail!("turn failed: {frame}"),
                _ => {}
            }
        }
    };

    // (a) The runner is not started yet: the first turn pays spawn + import + first call.
    let (cold_first_delta, cold_final) = turn(0).await?;
    let pid = app
        .runtime
        .runner_pid()
        .ok_or_else(|| anyhow::anyhow!("no runner"))?;
    let rss_after_first = rss_mib(pid)?;

    // (b) Warm turns in one conversation (its history grows, as in real use).
    let mut first_deltas = Vec::new();
    let mut finals = Vec::new();
    for i in 1..=WARM_TURNS {
        let (d, f) = turn(i).await?;
        first_deltas.push(d);
        finals.push(f);
    }
    first_deltas.sort();
    finals.sort();
    // (c) After 1 + 50 turns.
    let rss_after = rss_mib(pid)?;

    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| (a) cold start: runner spawn → first delta | {} |",
        ms(cold_first_delta)
    );
    println!(
        "| (a) cold start: runner spawn → final message | {} |",
        ms(cold_final)
    );
    println!(
        "| (b) warm turn → first delta, median / p95 ({WARM_TURNS} turns) | {} / {} |",
        ms(percentile(&first_deltas, 50.0)),
        ms(percentile(&first_deltas, 95.0))
    );
    println!(
        "| (b) warm turn → final message, median / p95 | {} / {} |",
        ms(percentile(&finals, 50.0)),
        ms(percentile(&finals, 95.0))
    );
    println!("| (c) runner RSS after the first turn | {rss_after_first:.0} MiB |");
    println!(
        "| (c) runner RSS after {} turns | {rss_after:.0} MiB |",
        WARM_TURNS + 1
    );
    app.runtime.shutdown().await;
    Ok(())
}
