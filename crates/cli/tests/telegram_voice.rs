//! Voice notes on Telegram in local mode, end to end: long polling against the fake Bot API
//! (`getFile`, the download), the real server, attachment store and OpenClaw runner, the fake
//! speech-to-text endpoint and the fake LLM. A voice note is transcribed with the user's speech
//! settings and key, the transcript is echoed ("🎤 …") and is what the model is asked; without a
//! speech key, or when the endpoint fails, the user is told and the agent does not run.

mod support;

use std::time::Duration;

use serde_json::json;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm};
use serverless_openclaw_testkit::fake_speech::{FakeSpeech, SpeechBehaviour};
use serverless_openclaw_testkit::fake_telegram::{FakeTelegram, voice_update};
use support::TestApp;

const TURN_TIMEOUT: Duration = Duration::from_secs(120);
/// A cold runner start on 2 cores plus the reply.
const REPLY_WAIT: Duration = Duration::from_secs(180);
const OWNER: i64 = 6_262;
const HEARD: &str = "Remind me what the quokka ate for breakfast";

/// The start of an Ogg Opus stream, as Telegram records voice notes: a page header, then the
/// `OpusHead` packet, then (pretend) audio.
fn voice_note(seed: u8) -> Vec<u8> {
    let mut ogg = b"OggS\0\x02".to_vec();
    ogg.resize(28, 0);
    ogg.extend_from_slice(b"OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0");
    ogg.extend((0..2_000u32).map(|i| (i as u8).wrapping_mul(seed)));
    ogg
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voice_note_is_transcribed_echoed_and_answered_and_failures_are_told_without_a_run() {
    let fake = FakeLlm::start().await;
    fake.set_behaviour(Behaviour::Reply);
    let speech = FakeSpeech::start(HEARD).await;
    let telegram = FakeTelegram::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (app, polling) =
        TestApp::spawn_polling_bot(data.path(), &fake, &telegram, TURN_TIMEOUT).await;
    app.link_telegram(&telegram, OWNER, 1, REPLY_WAIT).await;

    // No speech key: the user is told what to set; nothing is transcribed, the agent does not run.
    let first = voice_note(3);
    let first_id = telegram.add_file(first.clone());
    let before = telegram.texts(OWNER).len();
    telegram.push_update(voice_update(2, OWNER, &first_id, 3));
    let told = telegram
        .wait_for_text(OWNER, before, "⚠️", REPLY_WAIT)
        .await
        .unwrap_or_else(|| panic!("no \"⚠️\" reply: {:#?}", telegram.calls()));
    assert!(
        told.contains(
            "Voice notes need a speech-to-text key: add an OpenAI or Groq key in Settings"
        ),
        "{told}"
    );
    assert!(speech.requests().is_empty());
    assert_eq!(fake.request_count(), 0, "no LLM call");

    // With the user's speech settings and key: transcribed, echoed, and the model gets the words.
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            "/api/settings",
            Some(json!({
                "speech": {"provider": "openai-compatible", "baseUrl": speech.base_url(), "model": "whisper-1"},
                "apiKeys": {"openai-compatible": "sk-speech-7"},
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["speech"]["provider"], "openai-compatible", "{body}");
    let second = voice_note(5);
    let second_id = telegram.add_file(second.clone());
    let before = telegram.texts(OWNER).len();
    telegram.push_update(voice_update(3, OWNER, &second_id, 4));
    let echo = telegram
        .wait_for_text(OWNER, before, "🎤", REPLY_WAIT)
        .await
        .unwrap_or_else(|| panic!("no \"🎤\" reply: {:#?}", telegram.calls()));
    assert_eq!(echo, format!("🎤 {HEARD}"));
    telegram
        .wait_for_finals(OWNER, 1, REPLY_WAIT)
        .await
        .expect("a final reply");
    let heard = speech.requests();
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0].file, second, "the voice note, byte for byte");
    assert_eq!(heard[0].file_name.as_deref(), Some("voice-10003.ogg"));
    assert_eq!(heard[0].model.as_deref(), Some("whisper-1"));
    assert_eq!(heard[0].api_key.as_deref(), Some("sk-speech-7"));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let prompt = requests[0].last_user_text().unwrap();
    assert_eq!(prompt, HEARD, "the transcript is the user's text");
    assert!(
        !requests[0].sent_text().contains("voice-10003"),
        "the audio itself is not handed to the agent"
    );
    assert_eq!(telegram.reactions(OWNER, 10_003), ["👀"]);
    // The history keeps the audio with its transcript.
    let (_, list) = app.get("/api/conversations").await;
    let conversation = list["conversations"][0]["id"].as_str().unwrap().to_owned();
    let (_, history) = app
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    let voiced = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| {
            m["attachments"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["transcript"] == HEARD).cloned())
        })
        .unwrap_or_else(|| panic!("{history:#}"));
    assert_eq!(voiced["kind"], "audio");
    assert_eq!(voiced["mediaType"], "audio/ogg");

    // The endpoint fails: the user is told, the agent does not run, the message stays unanswered.
    speech.set_behaviour(SpeechBehaviour::Status(500));
    let third_id = telegram.add_file(voice_note(7));
    let before = telegram.texts(OWNER).len();
    telegram.push_update(voice_update(4, OWNER, &third_id, 2));
    let told = telegram
        .wait_for_text(OWNER, before, "⚠️", REPLY_WAIT)
        .await
        .unwrap_or_else(|| panic!("no \"⚠️\" reply: {:#?}", telegram.calls()));
    assert!(
        told.contains("Your voice note could not be transcribed") && told.contains("answered 500"),
        "{told}"
    );
    assert_eq!(speech.requests().len(), 2);
    assert_eq!(fake.request_count(), 1, "no LLM call");

    polling.stop().await;
    app.stop().await;
}
