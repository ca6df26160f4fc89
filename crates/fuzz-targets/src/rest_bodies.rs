//! The REST request bodies (`docs/protocol.md`, "REST"): the same bytes as the body of every route
//! that reads one, through the body parsers of `server::rest`.
//!
//! Invariants: a refusal is a 400 `bad_request` or a 413 `too_large` with a message; an accepted body
//! holds only checked values (titles trimmed, not blank, not too long; valid model ids; settings that
//! pass their own validation again unchanged), and those values, written back as a client would send
//! them, are accepted as the same; a base URL accepted for public endpoints only is accepted when any
//! is allowed.

use serde_json::{Map, Value, json};
use serverless_openclaw_core::domain::MAX_TITLE_CHARS;
use serverless_openclaw_core::protocol::ErrorCode;
use serverless_openclaw_core::settings::{Endpoints, validate_model_id};
use serverless_openclaw_server::rest::{
    ApiError, SettingsChange, conversation_settings_change, new_conversation_title, renamed_title,
    settings_change,
};

pub fn run(data: &[u8]) {
    new_title(data);
    rename(data);
    conversation_settings(data);
    settings(data);
}

fn new_title(body: &[u8]) {
    if let Some(title) = accepted(new_conversation_title(body)) {
        checked_title(&title);
        let again = json!({ "title": title }).to_string();
        assert_eq!(
            accepted(new_conversation_title(again.as_bytes())),
            Some(title)
        );
    }
}

fn rename(body: &[u8]) {
    if let Some(title) = accepted(renamed_title(body)) {
        checked_title(&title);
        let again = json!({ "title": title }).to_string();
        assert_eq!(accepted(renamed_title(again.as_bytes())), Some(title));
    }
}

fn checked_title(title: &str) {
    assert!(!title.is_empty() && title == title.trim(), "{title:?}");
    assert!(title.chars().count() <= MAX_TITLE_CHARS);
}

fn conversation_settings(body: &[u8]) {
    let Some(change) = accepted(conversation_settings_change(body)) else {
        return;
    };
    assert_eq!(change.fresh_session, None, "a client cannot ask for that");
    if let Some(Some(model)) = &change.model {
        assert_eq!(validate_model_id(model).as_ref(), Ok(model));
    }
    let mut again = Map::new();
    if let Some(model) = &change.model {
        again.insert("model".into(), json!(model));
    }
    if let Some(thinking) = &change.thinking {
        again.insert("thinking".into(), json!(thinking));
    }
    let again = Value::Object(again).to_string();
    assert_eq!(
        accepted(conversation_settings_change(again.as_bytes())),
        Some(change)
    );
}

fn settings(body: &[u8]) {
    let public = accepted(settings_change(body, Endpoints::Public));
    let any = accepted(settings_change(body, Endpoints::Any));
    if public.is_some() {
        assert!(
            any.is_some(),
            "allowed for public endpoints only, but not for any"
        );
    }
    for (change, endpoints) in [(public, Endpoints::Public), (any, Endpoints::Any)] {
        let Some(change) = change else { continue };
        if let Some(Some(model)) = &change.model {
            assert_eq!(
                model.clone().validated(endpoints).as_ref(),
                Ok(model),
                "stored settings must pass their own validation unchanged"
            );
        }
        let again = written_back(&change).to_string();
        assert_eq!(
            accepted(settings_change(again.as_bytes(), endpoints)),
            Some(change),
            "{again}"
        );
    }
}

/// The body a client would send for `change`.
fn written_back(change: &SettingsChange) -> Value {
    let keys: Map<String, Value> = change
        .api_keys
        .iter()
        .map(|(provider, key)| {
            (
                provider.to_string(),
                json!(key.as_ref().map(|k| k.expose())),
            )
        })
        .collect();
    let mut body = json!({ "apiKeys": keys });
    if let Some(model) = &change.model {
        body["model"] = json!(model);
    }
    body
}

/// The value of an accepted body; `None` for a refusal, after checking it is one a client can act on.
fn accepted<T>(result: Result<T, ApiError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(refusal) => {
            let expected = match refusal.status().as_u16() {
                400 => ErrorCode::BadRequest,
                413 => ErrorCode::TooLarge,
                other => panic!("a body refused with status {other}"),
            };
            assert_eq!(refusal.body().code, expected);
            assert!(!refusal.body().message.is_empty());
            None
        }
    }
}
