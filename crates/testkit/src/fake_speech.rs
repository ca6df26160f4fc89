//! A fake speech-to-text endpoint speaking OpenAI's transcription API
//! (`POST <base>/audio/transcriptions`, `multipart/form-data` with `file` and `model`), which Groq
//! and self-hosted Whisper servers speak too.
//!
//! Tests point a user's speech settings (provider `openai-compatible`, `baseUrl`
//! [`FakeSpeech::base_url`]) at it. It records every request — the file's bytes, name and type, the
//! model, the key — so a test can check that the audio arrived byte for byte, and answers with a
//! scripted transcript or an HTTP error.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The largest request the fake reads: above the 20 MiB audio limit, with room for the form.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// What the endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeechBehaviour {
    /// `200 {"text": …}`.
    Transcript(String),
    /// This HTTP status with an OpenAI-style error body.
    Status(u16),
}

/// One transcription request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionRequest {
    /// The `Authorization` header's bearer token.
    pub api_key: Option<String>,
    pub model: Option<String>,
    pub file: Vec<u8>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Default)]
struct Shared {
    behaviour: Mutex<Option<SpeechBehaviour>>,
    requests: Mutex<Vec<TranscriptionRequest>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A failed assertion elsewhere must not turn into a cascade of poison errors.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running fake; stops when dropped.
pub struct FakeSpeech {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FakeSpeech {
    /// Serves on a free loopback port, answering `transcript` until told otherwise.
    pub async fn start(transcript: &str) -> FakeSpeech {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the fake speech endpoint");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared::default());
        *lock(&shared.behaviour) = Some(SpeechBehaviour::Transcript(transcript.to_owned()));
        let app = Router::new()
            .route("/v1/audio/transcriptions", post(transcribe))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        FakeSpeech {
            addr,
            shared,
            server,
        }
    }

    /// What a speech setting's `baseUrl` is set to (up to `/v1`, as for OpenAI).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Answers every later request this way.
    pub fn set_behaviour(&self, behaviour: SpeechBehaviour) {
        *lock(&self.shared.behaviour) = Some(behaviour);
    }

    /// The requests so far, oldest first.
    pub fn requests(&self) -> Vec<TranscriptionRequest> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for FakeSpeech {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn transcribe(State(shared): State<Arc<Shared>>, headers: HeaderMap, raw: Bytes) -> Response {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let request = match read_form(content_type, raw, &headers).await {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let missing = request.file.is_empty() || request.model.is_none();
    lock(&shared.requests).push(request);
    if missing {
        return error(StatusCode::BAD_REQUEST, "file and model are required");
    }
    let behaviour = lock(&shared.behaviour).clone();
    match behaviour {
        Some(SpeechBehaviour::Transcript(text)) => Json(json!({ "text": text })).into_response(),
        Some(SpeechBehaviour::Status(status)) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "the fake speech endpoint was told to fail",
        ),
        None => error(StatusCode::INTERNAL_SERVER_ERROR, "no behaviour"),
    }
}

/// OpenAI's error body.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
    )
        .into_response()
}

async fn read_form(
    content_type: &str,
    raw: Bytes,
    headers: &HeaderMap,
) -> Result<TranscriptionRequest, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(raw) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut request = TranscriptionRequest {
        api_key: headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned),
        model: None,
        file: Vec::new(),
        file_name: None,
        content_type: None,
    };
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        match field.name().unwrap_or_default() {
            "file" => {
                request.file_name = field.file_name().map(str::to_owned);
                request.content_type = field.content_type().map(ToString::to_string);
                request.file = field.bytes().await.map_err(|e| e.to_string())?.to_vec();
            }
            "model" => request.model = Some(field.text().await.map_err(|e| e.to_string())?),
            _ => {}
        }
    }
    Ok(request)
}
