//! The microphone in a real browser (Debian's Chromium with its fake microphone, driven by playwright-core,
//! `web/e2e/voice.e2e.mjs`) against local mode with the real runner, the fake LLM and the fake
//! speech-to-text endpoint: the speech endpoint and its key are chosen on the Settings page; a recording
//! made with the mic button is uploaded, transcribed with those settings and key, shown with its transcript under the audio player, and the model is asked the
//! words.

mod support;

use std::time::Duration;

use serde_json::json;
use serverless_openclaw_agent::LlmApi;
use serverless_openclaw_cli::paths;
use serverless_openclaw_testkit::fake_llm::Behaviour;
use serverless_openclaw_testkit::fake_speech::FakeSpeech;
use support::TOKEN;

const HEARD: &str = "What is the tallest mountain in the Alps?";

#[tokio::test(flavor = "multi_thread")]
async fn a_voice_note_recorded_in_the_browser_is_transcribed_shown_and_answered() {
    let repo = support::repo_root();
    assert!(
        paths::web_dir(None, Some(&repo)).is_some(),
        "web/dist is missing: run `make web` (make test does)"
    );
    let (fake, data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, Duration::from_secs(120)).await;
    fake.set_behaviour(Behaviour::Reply);
    let speech = FakeSpeech::start(HEARD).await;
    let (status, created) = app
        .call(
            reqwest::Method::POST,
            "/api/conversations",
            Some(json!({"title": "Voice"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let conversation = created["id"].as_str().unwrap().to_owned();

    let (passed, report) = support::run_browser_script(
        "voice.e2e.mjs",
        vec![
            (
                "SERVERLESS_OPENCLAW_E2E_URL",
                app.url(&format!("/?token={TOKEN}")),
            ),
            ("SERVERLESS_OPENCLAW_E2E_CONVERSATION", conversation.clone()),
            ("SERVERLESS_OPENCLAW_E2E_TRANSCRIPT", HEARD.to_owned()),
            ("SERVERLESS_OPENCLAW_E2E_SPEECH_URL", speech.base_url()),
            (
                "SERVERLESS_OPENCLAW_E2E_SPEECH_KEY",
                "sk-speech-web".to_owned(),
            ),
        ],
    )
    .await;
    assert!(passed, "browser test failed\n{report}");
    let screenshots = support::screenshot_dir();
    for name in [
        "voice-settings.png",
        "voice-recording.png",
        "voice-heard.png",
    ] {
        assert!(screenshots.join(name).is_file(), "no {name}\n{report}");
    }

    // The settings page stored the speech endpoint.
    let (_, settings) = app.get("/api/settings").await;
    assert_eq!(
        settings["speech"],
        json!({"provider": "openai-compatible", "baseUrl": speech.base_url()}),
        "{settings}"
    );
    assert_eq!(settings["apiKeys"]["openai-compatible"], true, "{settings}");

    // The recording reached the speech endpoint as the WebM the browser made, with the user's key and
    // the provider's default model, byte for byte as stored.
    let heard = speech.requests();
    assert_eq!(heard.len(), 1, "{report}");
    let request = &heard[0];
    assert!(
        request.file.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]),
        "a WebM (EBML) file: {:?}",
        &request.file[..request.file.len().min(8)]
    );
    assert!(
        request
            .file_name
            .as_deref()
            .is_some_and(|n| n.starts_with("voice-") && n.ends_with(".webm")),
        "{:?}",
        request.file_name
    );
    assert_eq!(request.content_type.as_deref(), Some("audio/webm"));
    assert_eq!(request.model.as_deref(), Some("whisper-1"));
    assert_eq!(request.api_key.as_deref(), Some("sk-speech-web"));
    let (_, history) = app
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    let audio = &history["messages"][0]["attachments"][0];
    assert_eq!(audio["kind"], "audio", "{history}");
    assert_eq!(audio["mediaType"], "audio/webm", "{history}");
    assert_eq!(audio["transcript"], HEARD, "{history}");
    let stored = std::fs::read(
        data.path()
            .join("attachments")
            .join(serverless_openclaw_cli::LOCAL_USER)
            .join(&conversation)
            .join(audio["id"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(stored, request.file, "what was stored was transcribed");

    // The model was asked the words.
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{report}");
    assert_eq!(requests[0].last_user_text().as_deref(), Some(HEARD));
    app.stop().await;
}
