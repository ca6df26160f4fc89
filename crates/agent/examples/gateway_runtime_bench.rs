//! `make bench` (the gateway runtime, issue 17): `GatewayRuntime` with the real `openclaw gateway run`
//! and a fake LLM that answers instantly. Prints a Markdown table for `docs/benchmarks.md`: the gateway's
//! start (spawn → `hello-ok`), its first turn (→ first delta, → reply), the runtime's overhead in warm
//! turns of one growing conversation (`chat.send` → the LLM request arrives; the LLM's last byte → the
//! reply, which includes the export of the session), the runtime's own steps timed apart (a request to
//! the gateway, the export, its SHA-256), and the RSS of the gateway's process tree.
//!
//! `BENCH_GATEWAY_TURNS` sets the warm turns (default 50).

use std::path::Path;
use std::time::{Duration, Instant};

use serverless_openclaw_agent::{
    DEFAULT_CONTEXT_WINDOW, DeploymentKeys, GatewayRuntime, GatewaySettings, LlmApi, ProviderConfig,
};
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{
    AgentEvent, AgentReply, AgentRuntime, AgentTurn, ToolAccess,
};
use serverless_openclaw_testkit::fake_llm::FakeLlm;
use serverless_openclaw_testkit::measure::{self, ms, percentile};
use sha2::Digest;
use tokio::sync::mpsc;

/// One turn: the reply, when its first delta came and when it ended, from the call.
async fn turn(
    runtime: &GatewayRuntime,
    transcript: Option<Vec<u8>>,
    prompt: &str,
) -> (AgentReply, Option<Duration>, Instant) {
    let (events, mut received) = mpsc::unbounded_channel();
    let sent = Instant::now();
    let run = runtime.run_turn(
        AgentTurn {
            user_id: UserId::parse("owner").unwrap(),
            conversation_id: ConversationId::parse("bench").unwrap(),
            message_id: MessageId::generate(),
            transcript,
            prompt: prompt.into(),
            model: None,
            model_id: None,
            thinking: None,
            tools: ToolAccess::Full,
            browser: false,
            disabled_skills: Vec::new(),
            attachments: Vec::new(),
        },
        events,
        CancellationToken::new(),
    );
    let first_delta = async {
        while let Some(event) = received.recv().await {
            if matches!(event, AgentEvent::Delta { .. }) {
                return Some(sent.elapsed());
            }
        }
        None
    };
    let (reply, first_delta) = tokio::join!(run, first_delta);
    (reply.expect("the turn succeeds"), first_delta, sent)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let turns: usize = std::env::var("BENCH_GATEWAY_TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let node = repo
        .join(".tools/node/node_modules/node/bin/node")
        .canonicalize()
        .expect("Node 24: run scripts/install-runner.sh");
    let runner = repo.join("runner").canonicalize().expect("the runner");
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let runtime = GatewayRuntime::new(GatewaySettings {
        node,
        entry: runner.join("node_modules/openclaw/openclaw.mjs"),
        sync_script: runner.join("gateway-sync.mjs"),
        state_dir: data.path().join("gateway"),
        workspace: data.path().join("workspace"),
        turn_timeout: Duration::from_secs(300),
        ready_timeout: Duration::from_secs(300),
        provider: Some(ProviderConfig::Custom {
            base_url: fake.anthropic_base_url(),
            api: LlmApi::AnthropicMessages,
            model: "fake-model".into(),
            context_window: DEFAULT_CONTEXT_WINDOW,
        }),
        keys: DeploymentKeys::default(),
    });
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "Machine: {cpus} CPUs; load average at start {}.\n",
        measure::load_average()
    );

    let started = Instant::now();
    runtime.start().await.expect("the gateway starts");
    let ready = started.elapsed();
    let pid = runtime.gateway_pid().expect("a live gateway");
    let (reply, first_delta, sent) = turn(&runtime, None, "hello").await;
    let first_turn = sent.elapsed();
    let rss_first = measure::tree_rss_mib(pid);

    let mut transcript = reply.transcript;
    let mut overheads = Vec::new();
    let mut to_llm = Vec::new();
    for n in 0..turns {
        let before = fake.request_count();
        let (reply, _, sent) = turn(&runtime, Some(transcript), &format!("warm turn {n}")).await;
        let done = Instant::now();
        let requests = fake.requests();
        let request = &requests[before];
        to_llm.push(request.received_at.saturating_duration_since(sent));
        overheads.push(measure::overhead(sent, request, done).expect("the response ended"));
        transcript = reply.transcript;
    }
    let rss_after = measure::tree_rss_mib(pid);

    // The runtime's own work in a warm turn, timed apart: one request to the gateway (as `chat.send`'s
    // answer), the export of the session (a `sessions.describe` and the sync helper's read) and the
    // SHA-256 of the transcript.
    let (user, conversation) = (
        UserId::parse("owner").unwrap(),
        ConversationId::parse("bench").unwrap(),
    );
    let key = serverless_openclaw_agent::gateway::runtime::session_key(&user, &conversation);
    let (mut requests, mut exports, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    let mut size = 0;
    for _ in 0..20 {
        let at = Instant::now();
        runtime
            .call("sessions.describe", &serde_json::json!({ "key": key }))
            .await
            .expect("sessions.describe");
        requests.push(at.elapsed());
        let at = Instant::now();
        let exported = runtime.export(&user, &conversation).await.expect("export");
        exports.push(at.elapsed());
        let at = Instant::now();
        std::hint::black_box(sha2::Sha256::digest(&exported));
        hashes.push(at.elapsed());
        size = exported.len();
    }
    requests.sort();
    exports.sort();
    hashes.sort();
    overheads.sort();
    to_llm.sort();
    let p = |v: &[Duration]| format!("{} / {}", ms(percentile(v, 50.0)), ms(percentile(v, 95.0)));
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| gateway spawn → `hello-ok` (and the sync helper ready) | {} |",
        ms(ready)
    );
    println!(
        "| first turn: call → first delta / → reply | {} / {} |",
        first_delta.map_or("none".into(), ms),
        ms(first_turn)
    );
    println!(
        "| warm turns: overhead p50 / p95 ({turns} turns, one conversation) | {} |",
        p(&overheads)
    );
    println!("| of which call → LLM request p50 / p95 | {} |", p(&to_llm));
    println!(
        "| a request to the gateway (`sessions.describe`) p50 / p95 | {} |",
        p(&requests)
    );
    println!(
        "| export of the {}-turn session ({} KiB) p50 / p95 | {} |",
        turns + 1,
        size / 1024,
        p(&exports)
    );
    println!("| SHA-256 of it p50 / p95 | {} |", p(&hashes));
    println!(
        "| RSS of the gateway's process tree after the first turn / after {turns} more | {rss_first:.0} MiB / {rss_after:.0} MiB |"
    );
    runtime.shutdown().await;
}
