//! Telegram on the AWS path, end to end: moto, the fake LLM, the fake Telegram Bot API and the real
//! OpenClaw runner, through the real `http-api`, `telegram-webhook` and `agent` bootstraps with API
//! Gateway and SQS event JSON. Messages sent together reach the agent as one turn and get one answer;
//! a message after the burst window is its own turn; a failed burst is told once and leaves its
//! messages unanswered until Retry; `/compact` in the chat answers with the sizes before and after,
//! and the next turn starts from the summary. An album (a photo per webhook call) is one turn with
//! all its images, stored in S3; a file we do not take is refused in the chat and stores nothing; an
//! image the agent attaches to its reply arrives with `sendPhoto`. A voice note is stored by the webhook
//! and transcribed by the agent function with the owner's speech settings (DynamoDB) and key (SSM).

mod support;

use std::time::Duration;

use serde_json::Value;
use serverless_openclaw_core::turn::BURST_WINDOW;
use serverless_openclaw_testkit::fake_llm::{Behaviour, RecordedRequest, SUMMARY};
use serverless_openclaw_testkit::fake_speech::FakeSpeech;
use serverless_openclaw_testkit::fake_telegram::{
    FakeTelegram, SentMessage, callback_update, document_update, in_album, photo_update,
    text_update, voice_update,
};
use serverless_openclaw_testkit::fixtures;
use serverless_openclaw_testkit::images::solid_png;
use serverless_openclaw_testkit::rest::message_pairs;
use support::{Function, GATEWAY_INVOKE, World};

const AGENT: &str = env!("CARGO_BIN_EXE_agent");
const HTTP_API: &str = env!("CARGO_BIN_EXE_http-api");
const TELEGRAM_WEBHOOK: &str = env!("CARGO_BIN_EXE_telegram-webhook");

/// The Telegram user of these tests (their private chat has the same id), linked to the owner.
const FRIEND: i64 = 7_070;
/// The id Telegram gives the user's message of update `update_id` (the fake's numbering).
fn user_message_id(update_id: i64) -> i64 {
    10_000 + update_id
}

/// An owner whose Telegram account is linked (update 1), and the functions a chat goes through.
struct Chat {
    world: World,
    telegram: FakeTelegram,
    webhook: Function,
    agent: Function,
    http: Function,
    sub: String,
}

impl Chat {
    /// The agent function gets `agent_env` on top of what it needs for Telegram.
    async fn start(agent_env: &[(&str, String)]) -> Chat {
        let world = World::create().await;
        let telegram = FakeTelegram::start().await.expect("fake Telegram");
        let telegram_env = world.telegram_env(&telegram).await;
        let webhook = world.function_with(TELEGRAM_WEBHOOK, &telegram_env).await;
        let mut env = telegram_env;
        env.extend(agent_env.iter().cloned());
        let agent = world.function_with(AGENT, &env).await;
        let http = world.function(HTTP_API).await;
        let (sub, _) = world.user("tg-owner").await;
        world.link_telegram(&http, &webhook, &sub, FRIEND, 1).await;
        let chat = Chat {
            world,
            telegram,
            webhook,
            agent,
            http,
            sub,
        };
        assert!(chat.said()[0].text.starts_with("Linked!"));
        chat
    }

    /// The user sends `text` (update `update_id`) to the bot.
    async fn send(&self, update_id: i64, text: &str) {
        self.webhook
            .telegram_update(&text_update(update_id, FRIEND, text))
            .await;
    }

    /// The SQS event source hands the agent the next queued turn.
    async fn deliver(&self) {
        let batch = self.world.deliver(&self.agent, 1).await;
        assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    }

    /// The bot's messages in the chat, as they stand now.
    fn said(&self) -> Vec<SentMessage> {
        self.telegram.chat(FRIEND)
    }

    /// The user message ids that the bot's messages in the chat quote, in order.
    fn quoted(&self) -> Vec<i64> {
        self.telegram
            .calls_of("sendMessage")
            .iter()
            .filter(|c| c.body["chat_id"] == FRIEND)
            .filter_map(|c| c.body["reply_parameters"]["message_id"].as_i64())
            .collect()
    }

    /// The requests the fake LLM got for turns (not for summaries).
    fn turn_requests(&self) -> Vec<RecordedRequest> {
        self.world
            .fake
            .requests()
            .into_iter()
            .filter(|r| !r.is_summary_request())
            .collect()
    }

    /// The owner's one conversation (the Telegram user's), through `http-api`.
    async fn conversation(&self) -> String {
        let listed = self.get("/api/conversations").await;
        let conversations = listed["conversations"].as_array().expect("a list");
        assert_eq!(conversations.len(), 1, "{listed}");
        conversations[0]["id"].as_str().unwrap().to_owned()
    }

    /// The conversation's history as `(role, content)`, through `http-api`.
    async fn history(&self) -> Vec<(String, String)> {
        let conversation = self.conversation().await;
        let body = self
            .get(&format!("/api/conversations/{conversation}/messages"))
            .await;
        message_pairs(&body)
    }

    async fn get(&self, path: &str) -> Value {
        let answered = self
            .http
            .invoke(
                fixtures::http_v2("GET", path, &[], None, &self.sub),
                GATEWAY_INVOKE,
            )
            .await;
        assert_eq!(answered["statusCode"], 200, "{answered}");
        serde_json::from_str(answered["body"].as_str().unwrap()).unwrap()
    }
}

impl Chat {
    /// The keys of the attachment objects in the bucket.
    async fn stored_attachments(&self) -> Vec<String> {
        let listed = serverless_openclaw_aws::config::s3_client(&self.world.sdk)
            .list_objects_v2()
            .bucket(&self.world.bucket)
            .prefix("attachments/")
            .send()
            .await
            .expect("listing");
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_album_is_one_turn_with_its_images_and_the_agents_image_comes_back_as_a_photo() {
    let chat = Chat::start(&[]).await;
    let (warm, cold) = (
        solid_png(12, 8, [230, 120, 20]),
        solid_png(8, 12, [20, 120, 230]),
    );
    let (warm_id, cold_id) = (
        chat.telegram.add_file(warm.clone()),
        chat.telegram.add_file(cold.clone()),
    );
    // Each photo of the album is its own webhook call, the caption on the first.
    let album = [
        photo_update(
            2,
            FRIEND,
            &[(warm_id.as_str(), 12, 8, warm.len())],
            Some("Which is warmer?"),
        ),
        photo_update(3, FRIEND, &[(cold_id.as_str(), 8, 12, cold.len())], None),
    ];
    for update in album {
        chat.webhook
            .telegram_update(&in_album(update, "album-7"))
            .await;
    }
    assert_eq!(
        chat.stored_attachments().await.len(),
        2,
        "both photos in S3"
    );
    chat.deliver().await;
    chat.deliver().await;
    let requests = chat.turn_requests();
    assert_eq!(requests.len(), 1, "one turn for the album");
    let images: Vec<Vec<u8>> = requests[0]
        .images()
        .iter()
        .map(|i| i.bytes().unwrap())
        .collect();
    assert_eq!(images, [warm, cold], "both, byte for byte, in order");
    let asked = requests[0].last_user_text().unwrap_or_default();
    assert!(asked.starts_with("Which is warmer?"), "{asked}");
    assert_eq!(chat.quoted(), [user_message_id(3)], "it answers the last");

    // A file we do not take is refused in plain words: nothing stored, nothing queued.
    let zip = chat.telegram.add_file(b"PK\x03\x04 an archive".to_vec());
    chat.webhook
        .telegram_update(&document_update(
            4,
            FRIEND,
            &zip,
            "a.zip",
            "application/zip",
            18,
            None,
        ))
        .await;
    let refusal = chat.said().last().unwrap().text.clone();
    assert!(
        refusal.starts_with("I couldn't take that file: application/zip files are not accepted"),
        "{refusal}"
    );
    assert_eq!(chat.stored_attachments().await.len(), 2);
    assert_eq!(roles(&chat.history().await), ["user", "user", "assistant"]);

    // The agent draws an image and attaches it: it arrives as a photo, after the reply's text.
    let chart = solid_png(5, 3, [30, 160, 60]);
    chat.world
        .fake
        .push_agent_attaches("chart.png", &chart, "Here is your chart.");
    chat.send(5, "Draw me a chart.").await;
    chat.deliver().await;
    let uploads = chat.telegram.uploads(FRIEND);
    assert_eq!(uploads.len(), 1, "{:#?}", chat.telegram.calls());
    assert_eq!(
        (uploads[0].method.as_str(), uploads[0].reply_to),
        ("sendPhoto", Some(user_message_id(5)))
    );
    assert_eq!(uploads[0].bytes, chart, "byte for byte");
    assert!(
        chat.said()
            .iter()
            .any(|m| m.text.contains("Here is your chart.")),
        "{:#?}",
        chat.said()
    );
}

fn roles(history: &[(String, String)]) -> Vec<&str> {
    history.iter().map(|(role, _)| role.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_sent_together_are_one_turn_and_one_answer_and_a_later_one_is_its_own() {
    let chat = Chat::start(&[]).await;

    // Three messages in a row, each its own webhook call and queued turn.
    let burst = [(2, "First part."), (3, "Second part."), (4, "Third part.")];
    let sending = std::time::Instant::now();
    for (update_id, text) in burst {
        chat.send(update_id, text).await;
    }
    eprintln!("three webhook calls took {:?}", sending.elapsed());
    for _ in burst {
        chat.deliver().await;
    }
    let requests = chat.turn_requests();
    assert_eq!(requests.len(), 1, "one turn for the burst");
    let asked = requests[0].last_user_text().unwrap_or_default();
    assert!(
        asked.contains("First part.\n\nSecond part.\n\nThird part."),
        "{asked}"
    );
    let said = chat.said();
    assert_eq!(said.len(), 2, "the link and one answer: {said:#?}");
    assert_eq!(said[1].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(chat.quoted(), [user_message_id(4)], "it answers the last");
    for (update_id, _) in burst {
        assert_eq!(
            chat.telegram.reactions(FRIEND, user_message_id(update_id)),
            ["👀"]
        );
    }
    let history = chat.history().await;
    assert_eq!(
        history[..3]
            .iter()
            .map(|(_, content)| content.as_str())
            .collect::<Vec<_>>(),
        burst.map(|(_, text)| text),
        "each message is kept as sent"
    );
    assert_eq!(roles(&history), ["user", "user", "user", "assistant"]);

    // Two messages further apart than the window are two turns, even queued together.
    chat.send(5, "Fourth, alone.").await;
    tokio::time::sleep(BURST_WINDOW + Duration::from_millis(500)).await;
    chat.send(6, "Fifth, alone too.").await;
    chat.deliver().await;
    chat.deliver().await;
    let asked: Vec<String> = chat.turn_requests()[1..]
        .iter()
        .map(|r| r.last_user_text().unwrap_or_default())
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked[0].contains("Fourth, alone.") && !asked[0].contains("Fifth"),
        "{asked:?}"
    );
    assert!(
        asked[1].contains("Fifth, alone too.") && !asked[1].contains("Fourth"),
        "{asked:?}"
    );
    assert_eq!(chat.said().len(), 4);
    assert_eq!(
        chat.quoted(),
        [user_message_id(4), user_message_id(5), user_message_id(6)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_burst_is_told_once_and_stays_unanswered_until_retry_answers_it_all() {
    let chat = Chat::start(&[]).await;
    chat.world.fake.set_behaviour(Behaviour::Status(400));
    chat.send(2, "Will this fail?").await;
    chat.send(3, "And this?").await;
    chat.deliver().await;
    chat.deliver().await;

    let requests = chat.turn_requests();
    assert!(!requests.is_empty());
    for request in &requests {
        let sent = request.sent_text();
        assert!(sent.contains("Will this fail?\n\nAnd this?"), "{sent:.400}");
    }
    let said = chat.said();
    assert_eq!(said.len(), 2, "the link and one error: {said:#?}");
    let error = &said[1];
    assert!(error.text.starts_with("⚠️"), "{error:?}");
    assert_eq!(chat.quoted(), [user_message_id(3)]);
    let retry = error.reply_markup.as_ref().expect("a Retry button")["inline_keyboard"][0][0]
        ["callback_data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(retry.starts_with("retry:"), "{retry}");
    assert_eq!(roles(&chat.history().await), ["user", "user"]);

    // Retry runs the whole burst again, and its answer answers both messages.
    chat.world.fake.set_behaviour(Behaviour::Reply);
    let asked_before = chat.turn_requests().len();
    chat.webhook
        .telegram_update(&callback_update(4, FRIEND, error.message_id, &retry))
        .await;
    chat.deliver().await;
    let requests = chat.turn_requests();
    assert_eq!(requests.len(), asked_before + 1);
    let asked = requests
        .last()
        .unwrap()
        .last_user_text()
        .unwrap_or_default();
    assert!(asked.contains("Will this fail?\n\nAnd this?"), "{asked}");
    assert_eq!(roles(&chat.history().await), ["user", "user", "assistant"]);
    let said = chat.said();
    assert_eq!(said.len(), 3, "{said:#?}");
    assert_eq!(said[2].parse_mode.as_deref(), Some("HTML"));
}

#[tokio::test(flavor = "multi_thread")]
async fn compact_in_a_chat_tells_the_sizes_and_the_next_turn_starts_from_the_summary() {
    // A context window OpenClaw accepts, which a few padded turns fill enough to compact.
    let chat = Chat::start(&[("SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW", "32768".to_owned())]).await;
    // Each under Telegram's 4096 characters.
    for n in 1..=4 {
        chat.send(n + 1, &format!("TURN-{n}-MARKER{}", " lorem".repeat(650)))
            .await;
        chat.deliver().await;
    }
    assert_eq!(chat.said().len(), 5, "the link and four answers");
    let conversation = chat.conversation().await;
    let before = chat.world.transcript(&chat.sub, &conversation).await;

    // `/compact`: answered at once by the webhook, then by the agent with the sizes.
    chat.send(6, "/compact").await;
    let queued = chat.said().pop().unwrap();
    assert!(queued.text.starts_with("Compacting"), "{queued:?}");
    let summaries = chat.world.fake.requests().len() - chat.turn_requests().len();
    chat.deliver().await;
    assert!(
        chat.world.fake.requests().len() - chat.turn_requests().len() > summaries,
        "a summary was made"
    );
    let done = chat.said().pop().unwrap();
    let kb = |bytes: usize| format!("{:.1} KB", bytes as f64 / 1000.0);
    assert!(
        done.text.starts_with("Compacted this conversation")
            && done.text.contains("tokens")
            && done.text.contains(&format!("({} to ", kb(before.len()))),
        "{done:?}"
    );
    let after = chat.world.transcript(&chat.sub, &conversation).await;
    assert!(
        done.text
            .contains(&format!("to {} stored", kb(after.len()))),
        "{done:?}"
    );
    assert!(after.len() < before.len());
    assert_eq!(
        chat.quoted().last(),
        Some(&user_message_id(6)),
        "the notice answers /compact"
    );

    // The next turn sends the model the summary instead of the first turns.
    chat.send(7, "AFTER-COMPACT").await;
    chat.deliver().await;
    let sent = chat.turn_requests().pop().unwrap().sent_text();
    assert!(sent.contains(SUMMARY), "{sent:.400}");
    assert!(sent.contains("AFTER-COMPACT"));
    assert!(!sent.contains("TURN-1-MARKER"), "{sent:.400}");
    assert_eq!(
        chat.said().len(),
        8,
        "the link, five answers and two notices"
    );
}

/// The start of an Ogg Opus stream, as Telegram records voice notes, then (pretend) audio.
fn voice_note() -> Vec<u8> {
    let mut ogg = b"OggS\0\x02".to_vec();
    ogg.resize(28, 0);
    ogg.extend_from_slice(b"OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0");
    ogg.extend((0..1_500u32).map(|i| (i % 251) as u8));
    ogg
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voice_note_is_stored_by_the_webhook_and_transcribed_by_the_agent_with_the_users_settings()
 {
    const HEARD: &str = "Is it going to rain in Lisbon tomorrow?";
    let chat = Chat::start(&[]).await;
    let speech = FakeSpeech::start(HEARD).await;

    // No speech key: the user is told what to set; the agent does not run.
    let first = chat.telegram.add_file(voice_note());
    chat.webhook
        .telegram_update(&voice_update(2, FRIEND, &first, 2))
        .await;
    assert_eq!(chat.stored_attachments().await.len(), 1, "the note in S3");
    chat.deliver().await;
    let told = chat.said().last().unwrap().text.clone();
    assert!(
        told.starts_with("⚠️ Voice notes need a speech-to-text key"),
        "{told}"
    );
    assert!(speech.requests().is_empty());
    assert!(chat.turn_requests().is_empty(), "no LLM call");

    // The owner chooses an endpoint and stores its key (DynamoDB and SSM); the next note is heard.
    let chosen = serde_json::json!({
        "speech": {"provider": "openai-compatible", "baseUrl": speech.base_url(), "model": "whisper-large-v3"},
        "apiKeys": {"openai-compatible": "sk-speech-aws"},
    })
    .to_string();
    let saved = chat
        .http
        .invoke(
            fixtures::http_v2("PUT", "/api/settings", &[], Some(&chosen), &chat.sub),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(saved["statusCode"], 200, "{saved}");
    let note = voice_note();
    let second = chat.telegram.add_file(note.clone());
    chat.webhook
        .telegram_update(&voice_update(3, FRIEND, &second, 3))
        .await;
    chat.deliver().await;
    let heard = speech.requests();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].file, note, "byte for byte, from S3");
    assert_eq!(heard[0].model.as_deref(), Some("whisper-large-v3"));
    assert_eq!(heard[0].api_key.as_deref(), Some("sk-speech-aws"));
    let said: Vec<String> = chat.said().into_iter().map(|m| m.text).collect();
    assert!(said.contains(&format!("🎤 {HEARD}")), "{said:#?}");
    let requests = chat.turn_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].last_user_text().as_deref(), Some(HEARD));
    let conversation = chat.conversation().await;
    let history = chat
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    assert!(
        history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["attachments"][0]["transcript"] == HEARD),
        "the transcript kept in DynamoDB: {history}"
    );
}
