//! The speech-to-text adapter against the fake endpoint: what it sends (the audio byte for byte,
//! a file name whose extension names the format, the model, the user's key), what it returns, and
//! how each failure comes back.

use serverless_openclaw_core::ports::{SpeechError, SpeechToText, SpokenAudio};
use serverless_openclaw_core::settings::{ApiKey, SpeechChoice, SpeechProvider, SpeechSettings};
use serverless_openclaw_speech::HttpSpeechToText;
use serverless_openclaw_testkit::fake_speech::{FakeSpeech, SpeechBehaviour};

fn choice(base_url: String, model: Option<&str>) -> SpeechChoice {
    SpeechChoice {
        settings: SpeechSettings {
            provider: SpeechProvider::OpenAiCompatible,
            model: model.map(str::to_owned),
            base_url: Some(base_url),
        },
        api_key: ApiKey::parse("sk-speech-1").unwrap(),
    }
}

const AUDIO: &[u8] = b"OggS\0\x02 pretend opus pages";

fn voice() -> SpokenAudio<'static> {
    SpokenAudio {
        bytes: AUDIO,
        media_type: "audio/ogg",
        name: "voice-10002.oga",
    }
}

#[tokio::test]
async fn the_audio_model_and_key_reach_the_endpoint_and_its_text_comes_back() {
    let fake = FakeSpeech::start("the boat leaves at dawn").await;
    let speech = HttpSpeechToText::new().unwrap();
    let text = speech
        .transcribe(voice(), &choice(fake.base_url(), Some("whisper-large-v3")))
        .await
        .unwrap();
    assert_eq!(text, "the boat leaves at dawn");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.file, AUDIO, "byte for byte");
    assert_eq!(request.file_name.as_deref(), Some("voice-10002.ogg"));
    assert_eq!(request.content_type.as_deref(), Some("audio/ogg"));
    assert_eq!(request.model.as_deref(), Some("whisper-large-v3"));
    assert_eq!(request.api_key.as_deref(), Some("sk-speech-1"));

    speech
        .transcribe(voice(), &choice(fake.base_url(), None))
        .await
        .unwrap();
    assert_eq!(
        fake.requests()[1].model.as_deref(),
        Some("whisper-1"),
        "the provider's default model"
    );
}

#[tokio::test]
async fn an_error_answer_or_no_endpoint_is_a_typed_failure_without_the_key() {
    let fake = FakeSpeech::start("unused").await;
    fake.set_behaviour(SpeechBehaviour::Status(500));
    let speech = HttpSpeechToText::new().unwrap();
    let failed = speech
        .transcribe(voice(), &choice(fake.base_url(), None))
        .await
        .unwrap_err();
    assert!(
        matches!(&failed, SpeechError::Refused { status: 500, detail } if detail.contains("told to fail")),
        "{failed:?}"
    );
    assert!(!failed.to_string().contains("sk-speech-1"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let failed = speech
        .transcribe(voice(), &choice(nobody, None))
        .await
        .unwrap_err();
    assert!(matches!(failed, SpeechError::Unreachable(_)), "{failed:?}");
}
