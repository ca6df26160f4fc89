//! `make load`, local mode: many conversations at once, and a soak of one runner. Local mode as `make run`
//! composes it (the real runner in bubblewrap when it works here), on loopback, against the testkit fake
//! LLM answering at once. A test as well as a measurement: it exits non-zero when a turn is missing,
//! answered out of order or with the wrong history.
//!
//! - `local`: 50 conversations × 4 turns, every turn of every conversation sent at once. Local mode has
//!   one user (the owner), who may hold at most `MAX_CONNECTIONS_PER_USER` (32) sockets, so the 50
//!   conversations share 25 WebSocket clients, two each. Every frame goes to all the owner's sockets;
//!   each client checks its own conversations. The fake LLM's reply quotes the turn's message (unique to
//!   the conversation and turn) and counts the messages it was sent, so turn k's reply proves that it
//!   came in order, after the conversation's k − 1 earlier turns and their replies, and from no other.
//! - `soak`: 500 turns (`LOAD_SOAK_TURNS`) on the one runner, one at a time, round-robin over a
//!   conversation for every 20 turns (so no history reaches compaction), the runner's resident memory
//!   sampled every 25 turns.
//!
//! Overhead is `make bench`'s: frame in → the LLM request arrives, plus the LLM's last byte → the final
//! frame, the `testkit::measure::overhead` of each turn's own request. With turns queued behind each
//! other, a turn's "frame in" is when it could start: its frame, or the end of the conversation's
//! previous turn if that came later. What one user's turns wait for each other beyond that (local mode
//! runs at most `MAX_RUNNING_TURNS_PER_USER` of them at once, the others retry every 500 ms) is in
//! the overhead too: it is ours.

#[path = "bench/local_mode.rs"]
#[allow(dead_code)] // The load suite serves local mode; it prints no medians and repeats no rounds.
mod local_mode;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::{SinkExt, StreamExt};
use local_mode::{Bench, TOKEN, load_average, ms};
use serde_json::{Value, json};
use serverless_openclaw_testkit::fake_llm::{FakeLlm, RecordedRequest, reply_text};
use serverless_openclaw_testkit::measure::{self, distribution, tree_rss_mib};
use tokio_tungstenite::tungstenite::Message;

const CONVERSATIONS: usize = 50;
const TURNS: usize = 4;
const SOCKETS: usize = 25;
/// The soak's turns unless `LOAD_SOAK_TURNS` says otherwise.
const SOAK_TURNS: usize = 500;
/// Each soak conversation gets this many turns, so no history reaches compaction however long the
/// soak: a longer soak spreads over more conversations.
const SOAK_TURNS_PER_CONVERSATION: usize = 20;
const SOAK_SAMPLE_EVERY: usize = 25;
/// How long all the turns of the `local` scenario may take together.
const LOAD_DEADLINE: Duration = Duration::from_secs(600);

/// One answered turn: when it was sent, when it could start, and when its final frame came.
struct Answered {
    message: String,
    sent: Instant,
    ready: Instant,
    done: Instant,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    ensure!(
        matches!(scenario.as_str(), "local" | "soak"),
        "usage: load local|soak"
    );
    let soak_turns = soak_turns()?;
    let bench = Bench::start().await?;
    let fake = &bench.fake;
    let data = tempfile::tempdir()?;
    let (app, addr) = bench.serve_warm(data.path()).await?;
    let runner = app.runtime.runner_pid().context("no runner")?;
    println!(
        "`load {scenario}`: {} CPUs, load average at the start {}.\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average()
    );
    let outcome = if scenario == "local" {
        many_at_once(addr, fake, runner).await
    } else {
        soak(addr, fake, runner, soak_turns).await
    };
    println!("\nLoad average at the end: {}.", load_average());
    app.runtime.shutdown().await;
    outcome
}

/// The message of turn `turn` (from 0) of conversation `conversation`, unique to both.
fn message_of(conversation: &str, turn: usize) -> String {
    format!("load test {conversation} turn {turn}")
}

/// The reply that proves turn `turn` saw its conversation's history: its own message and the `turn`
/// earlier exchanges.
fn expected_reply(conversation: &str, turn: usize) -> String {
    reply_text(2 * turn + 1, &message_of(conversation, turn))
}

async fn connect(
    addr: SocketAddr,
) -> anyhow::Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={TOKEN}")).await?;
    Ok(ws)
}

fn send_frame(conversation: &str, turn: usize) -> Message {
    let frame = json!({
        "action": "sendMessage",
        "conversationId": conversation,
        "clientMessageId": format!("{conversation}-t{turn}"),
        "message": message_of(conversation, turn),
    });
    Message::Text(frame.to_string().into())
}

/// One client: sends every turn of its `conversations` at once, then reads until each has all its
/// replies, checking each against what its turn should have seen. Error frames and replies that
/// are not the next expected one fail it.
async fn client(addr: SocketAddr, conversations: Vec<String>) -> anyhow::Result<Vec<Answered>> {
    let mut ws = connect(addr).await?;
    let mut sent = HashMap::new();
    for turn in 0..TURNS {
        for conversation in &conversations {
            ws.send(send_frame(conversation, turn)).await?;
            sent.insert((conversation.clone(), turn), Instant::now());
        }
    }
    let mut answered: HashMap<&str, Vec<Answered>> = HashMap::new();
    while answered.values().map(Vec::len).sum::<usize>() < conversations.len() * TURNS {
        let Some(frame) = ws.next().await else {
            bail!("the socket closed")
        };
        let Message::Text(text) = frame? else {
            continue;
        };
        let frame: Value = serde_json::from_str(text.as_str())?;
        let Some(conversation) = conversations
            .iter()
            .find(|c| frame["conversationId"] == c.as_str())
        else {
            continue;
        };
        match frame["type"].as_str() {
            Some("error") => bail!("{conversation}: {frame}"),
            Some("message") if frame["role"] == "assistant" => {
                let done = Instant::now();
                let replies = answered.entry(conversation).or_default();
                let turn = replies.len();
                ensure!(
                    turn < TURNS,
                    "{conversation}: a reply past its {TURNS} turns: {frame}"
                );
                let wanted = expected_reply(conversation, turn);
                ensure!(
                    frame["content"] == wanted.as_str(),
                    "{conversation} turn {turn}: wanted {wanted:?}, got {}",
                    frame["content"]
                );
                let sent = sent[&(conversation.clone(), turn)];
                let ready = replies
                    .last()
                    .map_or(sent, |previous| previous.done.max(sent));
                replies.push(Answered {
                    message: message_of(conversation, turn),
                    sent,
                    ready,
                    done,
                });
            }
            _ => {}
        }
    }
    Ok(answered.into_values().flatten().collect())
}

/// The request of each turn, by its message: exactly one each.
fn requests_by_message(fake: &FakeLlm) -> anyhow::Result<HashMap<String, RecordedRequest>> {
    let mut by_message = HashMap::new();
    for request in fake.requests() {
        let message = request.last_user_text().unwrap_or_default();
        ensure!(
            by_message.insert(message.clone(), request).is_none(),
            "two LLM requests for {message:?}"
        );
    }
    Ok(by_message)
}

/// Our overhead in each turn (see the module docs), and the part of it after the LLM's last byte (the
/// rest includes the wait for a free turn slot).
fn overheads(fake: &FakeLlm, turns: &[Answered]) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let requests = requests_by_message(fake)?;
    let mut overheads = Vec::new();
    let mut after_llm = Vec::new();
    for turn in turns {
        let request = requests
            .get(&turn.message)
            .with_context(|| format!("no LLM request for {:?}", turn.message))?;
        let ended = request.response_end.context("a response did not end")?;
        overheads.push(measure::overhead(turn.ready, request, turn.done).unwrap_or_default());
        after_llm.push(turn.done.saturating_duration_since(ended));
    }
    Ok((overheads, after_llm))
}

async fn many_at_once(addr: SocketAddr, fake: &FakeLlm, runner: u32) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for socket in 0..SOCKETS {
        let conversations = (socket..CONVERSATIONS)
            .step_by(SOCKETS)
            .map(|c| format!("load-{c:02}"))
            .collect();
        clients.spawn(client(addr, conversations));
    }
    let mut peak_runner = 0.0_f64;
    let mut peak_process = 0.0_f64;
    let mut turns = Vec::new();
    let deadline = tokio::time::sleep(LOAD_DEADLINE);
    tokio::pin!(deadline);
    let mut sample = tokio::time::interval(Duration::from_millis(250));
    while !clients.is_empty() {
        tokio::select! {
            joined = clients.join_next() => {
                if let Some(joined) = joined {
                    turns.extend(joined??);
                }
            }
            _ = sample.tick() => {
                peak_runner = peak_runner.max(tree_rss_mib(runner));
                peak_process = peak_process.max(measure::rss_mib(std::process::id()).unwrap_or(0.0));
            }
            () = &mut deadline => bail!("not every turn was answered within {LOAD_DEADLINE:?}"),
        }
    }
    let elapsed = started.elapsed();
    ensure!(
        turns.len() == CONVERSATIONS * TURNS,
        "{} of {} turns answered",
        turns.len(),
        CONVERSATIONS * TURNS
    );
    ensure!(
        fake.request_count() == CONVERSATIONS * TURNS,
        "{} LLM requests for {} turns",
        fake.request_count(),
        CONVERSATIONS * TURNS
    );
    let (mut overhead, mut after_llm) = overheads(fake, &turns)?;
    let mut end_to_end: Vec<Duration> = turns.iter().map(|t| t.done - t.sent).collect();
    println!(
        "{CONVERSATIONS} conversations × {TURNS} turns over {SOCKETS} WebSocket clients, all sent at once: \
         all {} answered in order with their own history.\n",
        turns.len()
    );
    println!("| local mode | value |");
    println!("|---|---|");
    println!("| wall time | {} |", ms(elapsed));
    println!(
        "| throughput | {:.1} turns/s |",
        turns.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| our overhead, p50 / p95 / p99 | {} |",
        distribution(&mut overhead)
    );
    println!(
        "| of which the LLM's last byte → final frame, p50 / p95 / p99 | {} |",
        distribution(&mut after_llm)
    );
    println!(
        "| frame sent → reply, p50 / p95 / p99 (queueing included) | {} |",
        distribution(&mut end_to_end)
    );
    println!("| peak RSS, runner (bwrap + Node) | {peak_runner:.0} MiB |");
    println!(
        "| peak RSS, this process (local mode's server, queue and stores, the fake LLM, the clients) | {peak_process:.0} MiB |"
    );
    Ok(())
}

/// `LOAD_SOAK_TURNS`, or the default [`SOAK_TURNS`].
fn soak_turns() -> anyhow::Result<usize> {
    Ok(match std::env::var("LOAD_SOAK_TURNS") {
        Ok(turns) => turns
            .parse::<usize>()
            .ok()
            .filter(|t| *t >= 2 * SOAK_SAMPLE_EVERY)
            .with_context(|| {
                format!(
                    "LOAD_SOAK_TURNS={turns}: a number of turns, at least {}",
                    2 * SOAK_SAMPLE_EVERY
                )
            })?,
        Err(_) => SOAK_TURNS,
    })
}

async fn soak(
    addr: SocketAddr,
    fake: &FakeLlm,
    runner: u32,
    soak_turns: usize,
) -> anyhow::Result<()> {
    let mut ws = connect(addr).await?;
    let conversations = soak_turns.div_ceil(SOAK_TURNS_PER_CONVERSATION);
    let mut samples = vec![(0, tree_rss_mib(runner))];
    let mut turns = Vec::new();
    let started = Instant::now();
    for n in 0..soak_turns {
        let conversation = format!("soak-{:03}", n % conversations);
        let turn = n / conversations;
        ws.send(send_frame(&conversation, turn)).await?;
        let sent = Instant::now();
        loop {
            let Some(frame) = ws.next().await else {
                bail!("the socket closed")
            };
            let Message::Text(text) = frame? else {
                continue;
            };
            let frame: Value = serde_json::from_str(text.as_str())?;
            match frame["type"].as_str() {
                Some("error") => bail!("{conversation} turn {turn}: {frame}"),
                Some("message") if frame["role"] == "assistant" => {
                    let wanted = expected_reply(&conversation, turn);
                    ensure!(
                        frame["conversationId"] == conversation.as_str()
                            && frame["content"] == wanted.as_str(),
                        "{conversation} turn {turn}: wanted {wanted:?}, got {frame}"
                    );
                    turns.push(Answered {
                        message: message_of(&conversation, turn),
                        sent,
                        ready: sent,
                        done: Instant::now(),
                    });
                    break;
                }
                _ => {}
            }
        }
        if (n + 1) % SOAK_SAMPLE_EVERY == 0 {
            ensure!(
                app_runner_alive(runner),
                "the runner (pid {runner}) went away after {} turns",
                n + 1
            );
            samples.push((n + 1, tree_rss_mib(runner)));
        }
    }
    let elapsed = started.elapsed();
    let (mut overhead, mut after_llm) = overheads(fake, &turns)?;
    let first = samples[1].1;
    let last = samples[samples.len() - 1].1;
    let max = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    // Least-squares slope over the samples after the first SOAK_SAMPLE_EVERY turns (the first turns
    // load OpenClaw's lazily imported modules).
    let points = &samples[1..];
    let mean_x = points.iter().map(|p| p.0 as f64).sum::<f64>() / points.len() as f64;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let slope = points
        .iter()
        .map(|p| (p.0 as f64 - mean_x) * (p.1 - mean_y))
        .sum::<f64>()
        / points
            .iter()
            .map(|p| (p.0 as f64 - mean_x).powi(2))
            .sum::<f64>();
    println!(
        "{soak_turns} turns on one runner, one at a time over {conversations} conversations: all \
         answered with their own history in {} ({:.1} turns/s); our overhead p50 / p95 / p99 {} (of \
         which after the LLM's last byte {}).\n",
        ms(elapsed),
        soak_turns as f64 / elapsed.as_secs_f64(),
        distribution(&mut overhead),
        distribution(&mut after_llm)
    );
    println!(
        "Runner RSS (bwrap + Node): {:.0} MiB before the first turn, {first:.0} MiB after {SOAK_SAMPLE_EVERY} \
         turns, {last:.0} MiB after {soak_turns}, at most {max:.0} MiB; slope after turn \
         {SOAK_SAMPLE_EVERY}: {:.1} KiB a turn.",
        samples[0].1,
        slope * 1024.0
    );
    println!(
        "Samples (turns: MiB): {}",
        samples
            .iter()
            .map(|(n, mib)| format!("{n}: {mib:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Whether the runner started before the soak still runs (a restarted one would hide a leak).
fn app_runner_alive(pid: u32) -> bool {
    measure::rss_mib(pid).is_some()
}
