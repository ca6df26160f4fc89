//! Telegram in local mode, end to end: long polling against the fake Bot API, the real server and
//! OpenClaw runner, the fake LLM. A code from the web API links the Telegram account; a message is
//! answered in the chat (typing, streamed edits, the final text) and shows in the web history.

mod support;

use std::time::Duration;

use serde_json::Value;
use serverless_openclaw_telegram::replies::EDIT_INTERVAL;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm};
use serverless_openclaw_testkit::fake_telegram::{
    FakeTelegram, SentMessage, callback_update, reply_to, text_update,
};
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
    let (app, polling) =
        TestApp::spawn_polling_bot(data.path(), &fake, &telegram, TURN_TIMEOUT).await;

    // The menu is registered as polling starts.
    telegram
        .wait_for_call("getUpdates", |_| true, REPLY_WAIT)
        .await
        .expect("polling");
    support::assert_menu_registered(&telegram);
    assert_eq!(
        telegram.calls_of("getUpdates")[0].body["allowed_updates"],
        serde_json::json!(["message", "callback_query"])
    );

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
    app.link_telegram(&telegram, FRIEND, 2, REPLY_WAIT).await;

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
    assert_eq!(telegram.reactions(FRIEND, 10_003), ["👀"]);
    edits_stay_within_the_chat_limit(&telegram, FRIEND);

    // A slow turn (the reply stalls 3 s between chunks) shows a Stop button; /stop cancels it, the
    // user is told, and the error offers Retry.
    fake.set_chunk_delay(Duration::from_secs(3));
    telegram.push_update(text_update(4, FRIEND, "Take your time."));
    let live = wait_for_button(&telegram, "stop:").await;
    telegram.push_update(text_update(5, FRIEND, "/stop"));
    let stopped = wait_for_button(&telegram, "retry:").await;
    assert!(stopped.0.text.starts_with("⚠️"), "{stopped:?}");
    assert!(
        telegram
            .texts(FRIEND)
            .contains(&"Stopping the running answer.".to_owned()),
        "{:?}",
        telegram.texts(FRIEND)
    );
    assert_eq!(message(&telegram, live.0.message_id).reply_markup, None);

    // Retry runs the stopped message again (answered quickly now).
    fake.set_chunk_delay(Duration::ZERO);
    fake.set_behaviour(Behaviour::Reply);
    let asked_before = fake.requests().len();
    telegram.push_update(callback_update(6, FRIEND, stopped.0.message_id, &stopped.1));
    finals_after(&telegram, 1).await;
    assert_eq!(fake.requests().len(), asked_before + 1);
    assert!(
        last_prompt(&fake).contains("Take your time."),
        "{:?}",
        last_prompt(&fake)
    );
    assert_eq!(message(&telegram, stopped.0.message_id).reply_markup, None);

    // The Stop button cancels a slow turn too.
    fake.set_behaviour(Behaviour::Text(words.join(" ")));
    fake.set_chunk_delay(Duration::from_secs(3));
    telegram.push_update(text_update(7, FRIEND, "Another slow one."));
    let live = wait_for_button(&telegram, "stop:").await;
    telegram.push_update(callback_update(8, FRIEND, live.0.message_id, &live.1));
    let stopped_again = wait_for_button(&telegram, "retry:").await;
    assert_ne!(stopped_again.0.message_id, stopped.0.message_id);
    let answers: Vec<_> = telegram
        .callback_answers()
        .into_iter()
        .map(|a| (a.callback_query_id, a.text.unwrap_or_default()))
        .collect();
    assert_eq!(
        answers,
        [
            ("cb-6".to_owned(), "Trying again.".to_owned()),
            ("cb-8".to_owned(), "Stopping the running answer.".to_owned())
        ]
    );

    // /model offers the models as buttons; pressing one switches the model the LLM is called with.
    fake.set_chunk_delay(Duration::ZERO);
    fake.set_behaviour(Behaviour::Reply);
    telegram.push_update(text_update(9, FRIEND, "/model other-model"));
    telegram.push_update(text_update(10, FRIEND, "/model"));
    let offer = wait_for_button(&telegram, "model:").await;
    let choices: Vec<Value> = offer.0.reply_markup.as_ref().unwrap()["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0]["callback_data"].clone())
        .collect();
    assert_eq!(choices, ["model:fake-model", "model:other-model"]);
    for (update_id, model, text) in [(11, "fake-model", "First?"), (13, "other-model", "Second?")] {
        telegram.push_update(callback_update(
            update_id,
            FRIEND,
            offer.0.message_id,
            &format!("model:{model}"),
        ));
        // The second message replies to an earlier answer: its text reaches the model as a quote.
        let update = text_update(update_id + 1, FRIEND, text);
        let update = if update_id == 13 {
            reply_to(
                update,
                answers_so_far(&telegram),
                true,
                "The quoted answer.",
            )
        } else {
            update
        };
        let before = fake.requests().len();
        telegram.push_update(update);
        finals_after(&telegram, 1).await;
        let requests = fake.requests();
        assert_eq!(requests.len(), before + 1);
        assert_eq!(requests.last().unwrap().body["model"], model);
    }
    assert!(
        last_prompt(&fake).contains("> The quoted answer.\n\nSecond?"),
        "{:?}",
        last_prompt(&fake)
    );

    // Two messages sent together are one turn, answered as a reply to the second.
    let before = fake.requests().len();
    telegram.push_update(text_update(15, FRIEND, "Part one."));
    telegram.push_update(text_update(16, FRIEND, "Part two."));
    finals_after(&telegram, 1).await;
    assert_eq!(fake.requests().len(), before + 1);
    assert!(
        last_prompt(&fake).contains("Part one.\n\nPart two."),
        "{:?}",
        last_prompt(&fake)
    );
    let quoted = telegram
        .calls_of("sendMessage")
        .iter()
        .rev()
        .find_map(|c| c.body["reply_parameters"]["message_id"].as_i64());
    assert_eq!(quoted, Some(10_016));
    assert_eq!(telegram.reactions(FRIEND, 10_015), ["👀"]);
    edits_stay_within_the_chat_limit(&telegram, FRIEND);

    polling.stop().await;
    app.stop().await;
}

/// The user text of the fake LLM's latest request (with whatever the runner wraps around it).
fn last_prompt(fake: &FakeLlm) -> String {
    let requests = fake.requests();
    let last = requests.last().expect("a request");
    last.last_user_text().unwrap_or_default()
}

fn message(telegram: &FakeTelegram, message_id: i64) -> SentMessage {
    telegram
        .chat(FRIEND)
        .into_iter()
        .find(|m| m.message_id == message_id)
        .unwrap()
}

/// The id of the bot's newest message in the friend's chat.
fn answers_so_far(telegram: &FakeTelegram) -> i64 {
    telegram.chat(FRIEND).last().unwrap().message_id
}

/// Waits for a new message whose first button's data starts with `prefix`; it and that data.
async fn wait_for_button(telegram: &FakeTelegram, prefix: &str) -> (SentMessage, String) {
    let data = |m: &SentMessage| {
        m.reply_markup.as_ref()?["inline_keyboard"][0][0]["callback_data"]
            .as_str()
            .filter(|d| d.starts_with(prefix))
            .map(str::to_owned)
    };
    let seen: Vec<i64> = telegram
        .chat(FRIEND)
        .iter()
        .filter(|m| data(m).is_some())
        .map(|m| m.message_id)
        .collect();
    let deadline = tokio::time::Instant::now() + REPLY_WAIT;
    loop {
        let found = telegram
            .chat(FRIEND)
            .into_iter()
            .filter(|m| !seen.contains(&m.message_id))
            .find_map(|m| Some((data(&m)?, m)));
        if let Some((data, message)) = found {
            return (message, data);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {prefix} button: {:#?}",
            telegram.calls()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for `n` more final replies than the chat has now; those replies.
async fn finals_after(telegram: &FakeTelegram, n: usize) -> Vec<SentMessage> {
    let before = telegram.finals(FRIEND).len();
    let finals = telegram
        .wait_for_finals(FRIEND, before + n, REPLY_WAIT)
        .await
        .unwrap_or_else(|| panic!("no final reply: {:#?}", telegram.calls()));
    finals[before..].to_vec()
}

/// Telegram allows about one edit per second in a chat. The bound checked: edits of a streamed reply
/// or progress message (plain text) are at least [`EDIT_INTERVAL`] apart (less 50 ms of scheduling),
/// and each message gets at most one more, closing edit (the formatted reply or "Worked for") right
/// after its last one. Prints the most edits a message got, for the record.
fn edits_stay_within_the_chat_limit(telegram: &FakeTelegram, chat: i64) {
    let edits: Vec<_> = telegram
        .calls_of("editMessageText")
        .into_iter()
        .filter(|c| c.body["chat_id"] == chat && c.status == 200)
        .collect();
    let mut per_message: std::collections::BTreeMap<i64, Vec<_>> = Default::default();
    for edit in &edits {
        per_message
            .entry(edit.body["message_id"].as_i64().unwrap())
            .or_default()
            .push(edit);
    }
    let streaming: Vec<_> = edits
        .iter()
        .filter(|c| c.body.get("parse_mode").is_none())
        .collect();
    for pair in streaming.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= EDIT_INTERVAL - Duration::from_millis(50),
            "two streaming edits {gap:?} apart: {pair:#?}"
        );
    }
    for (message_id, edits) in &per_message {
        let closing = edits
            .iter()
            .filter(|c| c.body.get("parse_mode").is_some())
            .count();
        assert!(closing <= 1, "message {message_id}: {edits:#?}");
    }
    let most = per_message.values().map(Vec::len).max().unwrap_or(0);
    eprintln!(
        "editMessageText in chat {chat}: {} calls, {} streaming, at most {most} on one message",
        edits.len(),
        streaming.len()
    );
}
