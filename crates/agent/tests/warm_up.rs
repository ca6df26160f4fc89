//! [`OpenClawRuntime::start_warm`] with the real runner and OpenClaw: it returns only once the
//! runner's warm-up turn is over (the agent Lambda's init waits for it, as a frozen environment would
//! leave an unfinished warm-up to the next real turn), and it does not wait for a warm-up that a turn
//! sent at once made the runner skip.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serverless_openclaw_agent::{DEFAULT_CONTEXT_WINDOW, LlmApi, OpenClawRuntime, ProviderConfig};
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{AgentRuntime, AgentTurn, ToolAccess};
use serverless_openclaw_testkit::fake_llm::FakeLlm;
use tokio::sync::mpsc;

fn runtime(data: &Path, fake: &FakeLlm) -> OpenClawRuntime {
    let provider = ProviderConfig::Custom {
        base_url: fake.anthropic_base_url(),
        api: LlmApi::AnthropicMessages,
        model: "e2e-claude".into(),
        context_window: DEFAULT_CONTEXT_WINDOW,
    };
    support::runtime(data, provider, true)
}

/// The warm-up's folders (`lib/warmup.mjs`) in the runner's temp dir (`<state dir>/tmp`).
fn warm_up_folders(data: &Path) -> Vec<String> {
    std::fs::read_dir(data.join("agent/tmp"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.starts_with("openclaw-warmup-"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn start_warm_returns_once_the_warm_up_turn_is_over() {
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let runtime = runtime(data.path(), &fake);

    // The warm-up works in a folder of its own and removes it before it says `warm`: seen while
    // `start_warm` waits, gone when it returns.
    let seen = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn({
        let (seen, done, dir) = (seen.clone(), done.clone(), data.path().to_owned());
        async move {
            while !done.load(Ordering::SeqCst) {
                if !warm_up_folders(&dir).is_empty() {
                    seen.store(true, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let version = runtime.start_warm().await.expect("the runner starts");
    done.store(true, Ordering::SeqCst);
    watcher.await.unwrap();

    assert!(!version.is_empty());
    assert!(
        seen.load(Ordering::SeqCst),
        "the runner warmed up in its folder"
    );
    assert_eq!(
        warm_up_folders(data.path()),
        Vec::<String>::new(),
        "start_warm returned before the warm-up was over"
    );
    assert_eq!(fake.request_count(), 0, "the warm-up never reaches the LLM");
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn start_warm_does_not_wait_for_a_warm_up_a_waiting_turn_made_the_runner_skip() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    let data = tempfile::tempdir().expect("temp dir");
    let runtime = runtime(data.path(), &fake);
    let turn = AgentTurn {
        user_id: UserId::parse("user-1").unwrap(),
        conversation_id: ConversationId::parse("conversation-1").unwrap(),
        message_id: MessageId::generate(),
        transcript: None,
        prompt: "hello".into(),
        model: None,
        model_id: None,
        thinking: None,
        tools: ToolAccess::Full,
        browser: true,
        attachments: Vec::new(),
        disabled_skills: Vec::new(),
    };
    let (events, _) = mpsc::unbounded_channel();

    // The turn is sent the moment the runner is ready, so the runner never warms up and never
    // says `warm`.
    let (reply, warm) = tokio::join!(
        runtime.run_turn(turn, events, CancellationToken::new()),
        tokio::time::timeout(Duration::from_secs(150), runtime.start_warm()),
    );
    reply.expect("the turn");
    warm.expect("start_warm returned")
        .expect("the runner started");
    assert_eq!(fake.request_count(), 1);
    assert_eq!(warm_up_folders(data.path()), Vec::<String>::new());
    runtime.shutdown().await;
}
