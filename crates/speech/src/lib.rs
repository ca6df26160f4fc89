//! Speech-to-text for voice notes: the [`SpeechToText`] port over OpenAI's transcription API,
//! `POST <base>/audio/transcriptions` with a `multipart/form-data` body of `file` and `model`, which
//! OpenAI, Groq and self-hosted Whisper servers all speak. The endpoint, model and key come from the
//! user's speech settings ([`SpeechChoice`]); this crate only makes the request.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serverless_openclaw_core::attachments::audio_extension;
use serverless_openclaw_core::ports::{SpeechError, SpeechToText, SpokenAudio};
use serverless_openclaw_core::settings::SpeechChoice;

/// How long one transcription may take: a 20 MiB voice note is a long one (OpenAI takes some
/// seconds per minute of audio), and the turn's own deadline still bounds the agent's run after it.
pub const TRANSCRIPTION_TIMEOUT: Duration = Duration::from_secs(90);

/// The most of an error answer kept for the user (providers explain a refused key or format there).
const MAX_DETAIL_CHARS: usize = 200;

/// [`SpeechToText`] over HTTP.
#[derive(Debug, Clone)]
pub struct HttpSpeechToText {
    client: reqwest::Client,
}

impl HttpSpeechToText {
    /// One client (its connection pool) for every transcription of the process.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(TRANSCRIPTION_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { client })
    }
}

#[derive(Deserialize)]
struct Transcription {
    text: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

#[async_trait]
impl SpeechToText for HttpSpeechToText {
    async fn transcribe(
        &self,
        audio: SpokenAudio<'_>,
        choice: &SpeechChoice,
    ) -> Result<String, SpeechError> {
        let settings = &choice.settings;
        // The endpoints tell the format by the file name's extension.
        let stem = audio
            .name
            .rsplit_once('.')
            .map_or(audio.name, |(stem, _)| stem);
        let file_name = format!("{stem}.{}", audio_extension(audio.media_type));
        let file = reqwest::multipart::Part::bytes(audio.bytes.to_vec())
            .file_name(file_name)
            .mime_str(audio.media_type)
            .map_err(|e| SpeechError::Unreachable(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", settings.model().to_owned())
            .text("response_format", "json");
        let url = format!("{}/audio/transcriptions", settings.base_url());
        let answer = self
            .client
            .post(&url)
            .bearer_auth(choice.api_key.expose())
            .multipart(form)
            .send()
            .await
            .map_err(|e| {
                let why = if e.is_timeout() {
                    format!("no answer within {} s", TRANSCRIPTION_TIMEOUT.as_secs())
                } else {
                    "no connection".to_owned()
                };
                tracing::warn!(error = %e, "the speech-to-text request failed");
                SpeechError::Unreachable(why)
            })?;
        let status = answer.status();
        let body = answer.bytes().await.map_err(|e| {
            tracing::warn!(error = %e, "reading the speech-to-text answer failed");
            SpeechError::BadAnswer
        })?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<ErrorBody>(&body)
                .map(|b| b.error.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            return Err(SpeechError::Refused {
                status: status.as_u16(),
                detail: detail.chars().take(MAX_DETAIL_CHARS).collect(),
            });
        }
        serde_json::from_slice::<Transcription>(&body)
            .map(|t| t.text)
            .map_err(|_| SpeechError::BadAnswer)
    }
}
