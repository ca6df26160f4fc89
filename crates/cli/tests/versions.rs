//! Edit and regenerate over the WebSocket against local mode with the real runner and the fake LLM: only
//! the last exchange, and never while a turn of the conversation runs, with a clear error frame; a rerun
//! that fails leaves the earlier version intact, and regenerating the unanswered message runs it again,
//! from the history before the exchange.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use serverless_openclaw_agent::LlmApi;
use serverless_openclaw_testkit::fake_llm::Behaviour;

/// The ids of the conversation's current messages, and the versions of its last exchange as
/// `(user text, reply text)`.
async fn stored(app: &support::TestApp) -> (Vec<String>, Vec<(String, Option<String>)>) {
    let (_, body) = app.get("/api/conversations/default/messages").await;
    let ids = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let versions = body["versions"]
        .as_array()
        .map(|versions| {
            versions
                .iter()
                .map(|v| {
                    (
                        v["user"]["content"].as_str().unwrap().to_owned(),
                        v["reply"]["content"].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (ids, versions)
}

fn rerun(action: &str, message_id: &str, client_id: &str) -> Value {
    json!({"action": action, "conversationId": "default", "messageId": message_id,
           "clientMessageId": client_id, "message": "Changed?"})
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_finished_last_exchange_is_rerun_and_a_failed_rerun_keeps_the_earlier_version() {
    let (fake, _data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, Duration::from_secs(120)).await;
    app.app.runtime.start().await.expect("runner starts");
    let mut client = app.connect().await;
    fake.push_behaviour(Behaviour::Text("ONE".into()));
    client.send_message("default", "s1", "First?").await;
    assert_eq!(client.turn().await.content(), "ONE");
    let (ids, _) = stored(&app).await;
    let (first_question, first_reply) = (ids[0].clone(), ids[1].clone());

    // While the next message's turn runs, nothing can be rerun: not its exchange, not the one before.
    fake.set_delay(Duration::from_secs(3));
    fake.push_behaviour(Behaviour::Text("TWO".into()));
    client.send_message("default", "s2", "Second?").await;
    let ack = client.next_of("ack").await;
    let second_question = ack["messageId"].as_str().unwrap().to_owned();
    for (frame, client_id) in [
        (rerun("regenerate", &first_reply, "r1"), "r1"),
        (rerun("editMessage", &second_question, "e1"), "e1"),
    ] {
        client.send(frame).await;
        let refused = client.next_of("error").await;
        assert_eq!(refused["code"], "conflict", "{refused}");
        assert_eq!(refused["clientMessageId"], client_id);
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("still answering"),
            "{refused}"
        );
    }
    assert_eq!(client.turn().await.content(), "TWO");
    fake.set_delay(Duration::ZERO);
    let (ids, versions) = stored(&app).await;
    assert_eq!(ids.len(), 4);
    assert!(versions.is_empty());
    let second_reply = ids[3].clone();

    // Only the last exchange: an earlier message or reply, or an edit naming a reply, is refused.
    for (frame, client_id) in [
        (rerun("regenerate", &first_reply, "r2"), "r2"),
        (rerun("editMessage", &first_question, "e2"), "e2"),
        (rerun("editMessage", &second_reply, "e3"), "e3"),
    ] {
        client.send(frame).await;
        let refused = client.next_of("error").await;
        assert_eq!(refused["code"], "bad_request", "{refused}");
        assert_eq!(refused["clientMessageId"], client_id);
    }
    assert_eq!(stored(&app).await.0, ids, "refusals change nothing");

    // A rerun whose model fails: the usual error, and the earlier version stays intact, one back.
    fake.set_behaviour(Behaviour::Status(400));
    client.send(rerun("regenerate", &second_reply, "r3")).await;
    let failed = client.turn().await;
    assert_eq!(failed.last["code"], "llm_error", "{}", failed.last);
    assert_eq!(failed.last["clientMessageId"], "r3");
    let (current, versions) = stored(&app).await;
    assert_eq!(current, ids[..3], "the reply left the current path");
    assert_eq!(
        versions,
        [
            ("Second?".to_owned(), Some("TWO".to_owned())),
            ("Second?".to_owned(), None)
        ]
    );

    // Regenerate naming the unanswered message runs it again, from the history before the exchange.
    fake.set_behaviour(Behaviour::Text("TWO AGAIN".into()));
    let before = fake.request_count();
    client
        .send(rerun("regenerate", &second_question, "r4"))
        .await;
    let ack = client.next_of("ack").await;
    assert_eq!(ack["messageId"], second_question.as_str());
    assert_eq!(client.turn().await.content(), "TWO AGAIN");
    let sent = fake.requests()[before].conversation();
    let texts: Vec<&str> = sent.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(texts.len(), 3, "{sent:?}");
    assert!(texts[0].ends_with("First?") && texts[1] == "ONE" && texts[2].ends_with("Second?"));
    let (_, versions) = stored(&app).await;
    assert_eq!(
        versions,
        [
            ("Second?".to_owned(), Some("TWO".to_owned())),
            ("Second?".to_owned(), Some("TWO AGAIN".to_owned()))
        ]
    );
    app.stop().await;
}
