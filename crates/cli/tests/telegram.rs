//! Telegram in local mode, end to end: long polling against the fake Bot API, the real server and
//! OpenClaw runner, the fake LLM. A code from the web API links the Telegram account; a message is
//! answered in the chat (typing, streamed edits, the final text) and shows in the web history.

mod support;

use std::time::Duration;

use serverless_openclaw_agent::LlmApi;
use serverless_openclaw_cli::TelegramOptions;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm};
use serverless_openclaw_testkit::fake_telegram::{FakeTelegram, text_update};
use support::TestApp;

const TURN_TIMEOUT: Duration = Duration::from_secs(120);
/// A cold runner start on 2 cores plus the streamed reply.
const REPLY_WAIT: Duration = Duration::from_secs(180);
const FRIEND: i64 = 4_242;

#[tokio::test(flavor = "multi_thread")]
async fn local_mode_long_polls_and_answers_a_linked_user_in_the_chat() {
    let fake = FakeLlm::start().await;
    // A reply of many words, streamed slowly (64 chunks at 60 ms), so it is edited while it streams.
    let words: Vec<String> = (0..80).map(|i| format!("w{i}")).collect();
    let reply = format!(
        "A monad, in code:\n\n```rust\nlet x = Some(1).and_then(|v| v.checked_add(1));\n```\n\n{}",
        words.join(" ")
    );
    fake.set_behaviour(Behaviour::Text(reply.clone()));
    fake.set_chunk_delay(Duration::from_millis(60));
    let telegram = FakeTelegram::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with_telegram(
        data.path(),
        Some(support::fake_provider(&fake, LlmApi::AnthropicMessages)),
        TURN_TIMEOUT,
        Some(TelegramOptions {
            token: telegram.token().into(),
            api_url: telegram.base_url(),
            allowlist: Vec::new(),
        }),
    )
    .await;
    let bot = app.app.telegram.clone().expect("the bot is composed");
    let stop = CancellationToken::new();
    let polling = tokio::spawn({
        let stop = stop.clone();
        async move { serverless_openclaw_telegram::poll::long_poll(&bot, stop).await }
    });

    // Not linked yet: refused with the user's id, nothing reaches the agent.
    telegram.push_update(text_update(1, FRIEND, "hello?"));
    let refusal = telegram
        .wait_for_call("sendMessage", |c| c.body["chat_id"] == FRIEND, REPLY_WAIT)
        .await
        .expect("a refusal");
    assert!(
        refusal.body["text"].as_str().unwrap().contains("4242"),
        "{refusal:?}"
    );

    // The web app's link code links the account.
    let (status, code) = app.post("/api/telegram/link-code").await;
    assert_eq!(status, 201, "{code}");
    let code = code["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    telegram.push_update(text_update(2, FRIEND, &format!("/link {code}")));
    telegram
        .wait_for_call(
            "sendMessage",
            |c| {
                c.body["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Linked!"))
            },
            REPLY_WAIT,
        )
        .await
        .expect("linked");

    // A message: typing, the reply streamed into one message, then the final text.
    telegram.push_update(text_update(3, FRIEND, "What is a monad?"));
    let done = telegram
        .wait_for_call(
            "editMessageText",
            |c| c.body["parse_mode"] == "HTML",
            REPLY_WAIT,
        )
        .await;
    assert!(done.is_some(), "calls: {:#?}", telegram.calls());
    assert!(!telegram.calls_of("sendChatAction").is_empty());
    let chat = telegram.chat(FRIEND);
    let shown = chat.last().unwrap();
    assert!(
        shown.text.starts_with(
            "A monad, in code:\n\n<pre><code class=\"language-rust\">let x = Some(1).and_then(|v| v.checked_add(1));"
        ),
        "{shown:?}"
    );
    assert!(shown.text.ends_with("w78 w79"), "{shown:?}");
    assert!(
        shown.edits >= 2,
        "streamed edits and the final one: {shown:?}"
    );
    let streaming_edits = telegram
        .calls_of("editMessageText")
        .iter()
        .filter(|c| c.body.get("parse_mode").is_none())
        .count();
    assert!(streaming_edits >= 1, "{:#?}", telegram.calls());

    // The web sees the same conversation, each message marked as from Telegram.
    let (_, list) = app.get("/api/conversations").await;
    let conversation = list["conversations"][0]["id"].as_str().unwrap().to_owned();
    let (_, history) = app
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{history}");
    assert_eq!(messages[0]["content"], "What is a monad?");
    assert_eq!(messages[1]["content"], reply.as_str());
    assert!(messages.iter().all(|m| m["channel"] == "telegram"));

    stop.cancel();
    polling.await.unwrap();
    app.stop().await;
}
