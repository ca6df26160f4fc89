//! Long conversations in local mode, with the real runner and the fake LLM: a conversation driven past
//! its model's (small) context window is compacted by OpenClaw during a turn, `/compact` compacts on
//! demand, and the next turn — in a new process on the same data dir — starts from the compacted
//! transcript: the model is sent the summary instead of the summarised turns.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serverless_openclaw_agent::{LlmApi, ProviderConfig};
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm, SUMMARY};
use support::{Client, TestApp};

const TURN_TIMEOUT: Duration = Duration::from_secs(120);
/// A context window OpenClaw accepts, which a few dozen padded turns overflow.
const CONTEXT_WINDOW: u32 = 32_768;
/// Makes a prompt about 1,500 tokens (OpenClaw and the fake estimate four characters a token).
const PADDING_WORDS: usize = 1_000;

fn small_window(fake: &FakeLlm) -> ProviderConfig {
    ProviderConfig::Custom {
        base_url: fake.anthropic_base_url(),
        api: LlmApi::AnthropicMessages,
        model: "fake-model".into(),
        context_window: CONTEXT_WINDOW,
    }
}

fn prompt(n: usize) -> String {
    format!("TURN-{n}-MARKER{}", " lorem".repeat(PADDING_WORDS))
}

fn transcript_path(data: &Path) -> PathBuf {
    data.join("transcripts").join("owner").join("default.jsonl")
}

/// Sends `text` and returns the turn's reply, failing on an error frame.
async fn answer(client: &mut Client, id: &str, text: &str) -> String {
    client.send_message("default", id, text).await;
    client.turn().await.content().to_owned()
}

/// The next turn, in a new process on the same data dir, sends the model the summary and the recent
/// turns but not the first one.
async fn next_turn_starts_from_the_summary(fake: &FakeLlm, data: &Path, recent: &str) {
    let app = TestApp::spawn(data, Some(small_window(fake)), TURN_TIMEOUT).await;
    let mut client = app.connect().await;
    let from = fake.request_count();
    answer(&mut client, "after", "AFTER-COMPACTION").await;
    let requests = fake.requests();
    let turn = requests[from..]
        .iter()
        .find(|r| !r.is_summary_request())
        .expect("the turn's request");
    let sent = turn.sent_text();
    assert!(sent.contains(SUMMARY), "the summary is sent: {sent:.300}");
    assert!(
        !sent.contains("TURN-1-MARKER"),
        "the first turn is not sent"
    );
    assert!(sent.contains(recent), "the recent turns are kept");
    assert!(sent.contains("AFTER-COMPACTION"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_past_the_context_window_is_compacted_and_continues_from_its_summary() {
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(data.path(), Some(small_window(&fake)), TURN_TIMEOUT).await;
    let mut client = app.connect().await;
    let mut n = 0;
    while !fake.requests().iter().any(|r| r.is_summary_request()) {
        n += 1;
        assert!(n <= 40, "no compaction after 40 turns");
        let reply = answer(&mut client, &format!("m{n}"), &prompt(n)).await;
        assert!(reply.starts_with("Fake reply to"), "{reply}");
    }
    let stored = std::fs::read_to_string(transcript_path(data.path())).unwrap();
    assert!(stored.contains(r#""type":"compaction""#));
    assert!(stored.contains(SUMMARY));
    assert!(
        !stored.contains("TURN-1-MARKER"),
        "the stored transcript is the compacted one"
    );
    // The conversation's messages are all kept for the user to read.
    let (_, body) = app.get("/api/conversations/default/messages").await;
    assert_eq!(body["messages"].as_array().unwrap().len(), 2 * n);
    app.stop().await;

    next_turn_starts_from_the_summary(&fake, data.path(), &format!("TURN-{n}-MARKER")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn compact_compacts_on_demand_and_a_failed_summary_changes_nothing() {
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(data.path(), Some(small_window(&fake)), TURN_TIMEOUT).await;
    let mut client = app.connect().await;
    for n in 1..=3 {
        answer(&mut client, &format!("m{n}"), &prompt(n)).await;
    }
    let path = transcript_path(data.path());
    let before = std::fs::read(&path).unwrap();

    // The summary request fails: the user is told, the transcript stays.
    fake.push_behaviour(Behaviour::Status(400));
    client.send_message("default", "k1", "/compact").await;
    let queued = client.next_of("notice").await;
    assert_eq!(queued["clientMessageId"], "k1");
    assert!(queued["text"].as_str().unwrap().starts_with("Compacting"));
    let failed = client.next_of("error").await;
    assert!(
        failed["message"].as_str().unwrap().contains("unchanged"),
        "{failed}"
    );
    assert_eq!(client.next_of("status").await["status"], "idle");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // Compacted: a notice with the sizes, and a smaller transcript without the first turns.
    let from = fake.request_count();
    client
        .send_message("default", "k2", "/compact keep the markers")
        .await;
    client.next_of("notice").await;
    let done = client.next_of("notice").await;
    let text = done["text"].as_str().unwrap();
    assert!(text.starts_with("Compacted this conversation"), "{text}");
    assert!(
        text.contains(&format!("({:.1} KB to", before.len() as f64 / 1000.0)),
        "{text}"
    );
    // OpenClaw summarises the older turns, and the start of a turn it cuts, in one request each.
    let asked: Vec<String> = fake.requests()[from..]
        .iter()
        .filter(|r| r.is_summary_request())
        .map(|r| r.last_user_text().unwrap_or_default())
        .collect();
    assert!(
        asked.iter().any(|a| a.contains("TURN-1-MARKER")),
        "the older turns are summarised"
    );
    assert!(
        asked.iter().all(|a| a.contains("keep the markers")),
        "the focus reaches every summary request"
    );
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.len() < before.len());
    assert!(after.contains(SUMMARY) && !after.contains("TURN-1-MARKER"));
    app.stop().await;

    next_turn_starts_from_the_summary(&fake, data.path(), "TURN-3-MARKER").await;
}
