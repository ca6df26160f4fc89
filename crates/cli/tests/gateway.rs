//! Local mode with `--runtime gateway`: the owner's turns on the real `openclaw gateway run`, the fake
//! LLM as its model. The gateway takes ~20 s to start on 2 cores, so every scenario runs in one test,
//! in order, on as few gateway starts as it can.

mod support;

use std::path::Path;
use std::time::Duration;

use serverless_openclaw_agent::LlmApi;
use serverless_openclaw_cli::RuntimeKind;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm};
use support::{Client, TestApp, transcript_messages};

const TURN_TIMEOUT: Duration = Duration::from_secs(120);

async fn spawn(data: &Path, fake: &FakeLlm, runtime: RuntimeKind) -> TestApp {
    let provider = support::fake_provider(fake, LlmApi::AnthropicMessages);
    TestApp::spawn_with(data, Some(provider), TURN_TIMEOUT, None, runtime).await
}

/// The (role, text) pairs of the stored transcript of `conversation`.
fn stored(data: &Path, conversation: &str) -> Vec<(String, String)> {
    let path = data
        .join("transcripts")
        .join("owner")
        .join(format!("{conversation}.jsonl"));
    transcript_messages(&std::fs::read(path).expect("a stored transcript"))
}

/// Sends `text` and returns the reply, checking that it streamed and that the model was sent every
/// earlier turn of `expected_history` (user and assistant texts, in order) before it.
async fn turn(
    client: &mut Client,
    fake: &FakeLlm,
    conversation: &str,
    id: &str,
    text: &str,
    expected_history: &[(String, String)],
) -> String {
    let before = fake.request_count();
    client.send_message(conversation, id, text).await;
    let frames = client.turn().await;
    assert!(!frames.deltas.is_empty(), "streamed: {frames:?}");
    assert_eq!(frames.deltas.concat(), frames.content());
    let request = fake.requests()[before..]
        .iter()
        .rev()
        .find(|r| r.last_user_text().is_some_and(|t| t.contains(text)))
        .cloned()
        .expect("the model got the message");
    assert_eq!(frames.content(), request.expected_reply());
    let sent: Vec<_> = request
        .conversation()
        .into_iter()
        .filter(|(_, t)| expected_history.iter().any(|(_, e)| t.contains(e.as_str())))
        .collect();
    assert_eq!(
        sent.len(),
        expected_history.len(),
        "the model was sent every earlier turn: {:?}",
        request.conversation()
    );
    frames.content().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_runs_turns_with_history_cancel_crashes_and_turns_of_the_runner() {
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let app = spawn(data.path(), &fake, RuntimeKind::Gateway).await;
    let mut client = app.connect().await;

    // Two turns: streamed, and the second is sent the first.
    let mut history = Vec::new();
    let reply = turn(
        &mut client,
        &fake,
        "default",
        "g1",
        "first question",
        &history,
    )
    .await;
    history.extend([
        ("user".into(), "first question".into()),
        ("assistant".into(), reply),
    ]);
    let reply = turn(
        &mut client,
        &fake,
        "default",
        "g2",
        "second question",
        &history,
    )
    .await;
    history.extend([
        ("user".into(), "second question".into()),
        ("assistant".into(), reply),
    ]);
    assert_eq!(
        stored(data.path(), "default"),
        history,
        "the store holds both turns"
    );

    // Cancel: `chat.abort` stops the run.
    let other = app.create_conversation("other").await;
    fake.set_chunk_delay(Duration::from_millis(500));
    client
        .send_message(&other, "x1", "a long answer please")
        .await;
    client.next_of("delta").await;
    client
        .send(serde_json::json!({"action":"cancel","conversationId":other}))
        .await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "cancelled", "{error}");
    fake.set_chunk_delay(Duration::from_millis(15));
    let _ = Behaviour::Reply;

    app.stop().await;
}
