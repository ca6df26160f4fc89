//! The settings REST API in local mode (`docs/protocol.md`, "REST"): model settings, write-only API
//! keys kept as owner-only files, Telegram link status and unlinking, renaming conversations, and a
//! conversation's own model and thinking level.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::TelegramLinks;
use serverless_openclaw_local::SqliteTelegramStore;
use support::TestApp;

async fn app(data: &std::path::Path) -> TestApp {
    TestApp::spawn(data, None, Duration::from_secs(30)).await
}

async fn put_settings(app: &TestApp, body: Value) -> (u16, Value) {
    app.call(Method::PUT, "/api/settings", Some(body)).await
}

const NO_KEYS: &str = r#"{"anthropic":false,"bedrock":false,"deepseek":false,"groq":false,"openai":false,"openai-compatible":false}"#;

#[tokio::test]
async fn model_settings_and_keys_are_stored_and_keys_are_never_shown_back() {
    let data = tempfile::tempdir().unwrap();
    let app = app(data.path()).await;
    let (status, initial) = app.get("/api/settings").await;
    assert_eq!(status, 200);
    assert_eq!(initial["model"], Value::Null);
    assert_eq!(initial["speech"], Value::Null, "chosen by the keys stored");
    assert_eq!(
        initial["defaultModel"],
        Value::Null,
        "no provider configured"
    );
    assert_eq!(
        initial["apiKeys"],
        serde_json::from_str::<Value>(NO_KEYS).unwrap()
    );
    assert_eq!(initial["telegram"], json!({"linked": []}));

    let (status, saved) = put_settings(
        &app,
        json!({
            "model": {"provider": "openai-compatible", "model": " m-2 ", "baseUrl": "http://127.0.0.1:9/v1/"},
            "apiKeys": {"openai-compatible": "sk-local-secret"},
        }),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        saved["model"],
        json!({"provider": "openai-compatible", "model": "m-2", "baseUrl": "http://127.0.0.1:9/v1"})
    );
    assert_eq!(saved["apiKeys"]["openai-compatible"], true);
    assert_eq!(saved["apiKeys"]["openai"], false);
    let (_, read) = app.get("/api/settings").await;
    assert_eq!(read, saved);
    assert!(!read.to_string().contains("sk-local-secret"));

    let key_file = data.path().join("secrets/owner/openai-compatible.key");
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        "sk-local-secret"
    );
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Fields left out stay as they are; null removes a key and goes back to the default model.
    let (_, kept) = put_settings(&app, json!({"apiKeys": {"openai-compatible": null}})).await;
    assert_eq!(kept["model"]["model"], "m-2");
    assert_eq!(kept["apiKeys"]["openai-compatible"], false);
    assert!(!key_file.exists());
    let (_, reset) = put_settings(&app, json!({"model": null})).await;
    assert_eq!(reset["model"], Value::Null);

    // The speech-to-text choice is set, kept beside the model and cleared on its own.
    let (status, spoken) = put_settings(
        &app,
        json!({"speech": {"provider": "groq", "model": " whisper-large-v3 "}, "apiKeys": {"groq": "gsk-1"}}),
    )
    .await;
    assert_eq!(status, 200, "{spoken}");
    assert_eq!(
        spoken["speech"],
        json!({"provider": "groq", "model": "whisper-large-v3"})
    );
    assert_eq!(spoken["apiKeys"]["groq"], true);
    let (_, kept) = put_settings(&app, json!({"model": null})).await;
    assert_eq!(kept["speech"]["provider"], "groq");
    let (_, cleared) = put_settings(&app, json!({"speech": null})).await;
    assert_eq!(cleared["speech"], Value::Null);
}

#[tokio::test]
async fn invalid_settings_are_refused_with_a_reason_and_change_nothing() {
    let data = tempfile::tempdir().unwrap();
    let app = app(data.path()).await;
    let with_valid_key = |model: Value| json!({"model": model, "apiKeys": {"openai": "sk-ok"}});
    for (body, reason) in [
        (
            with_valid_key(json!({"provider": "openai-compatible", "model": "m"})),
            "baseUrl is required",
        ),
        (
            with_valid_key(json!({"provider": "openai", "model": "two words"})),
            "model must be",
        ),
        (
            with_valid_key(json!({"provider": "azure", "model": "m"})),
            "unknown variant",
        ),
        (
            with_valid_key(
                json!({"provider": "openai-compatible", "model": "m", "baseUrl": "javascript:alert(1)"}),
            ),
            "baseUrl must be",
        ),
        (
            json!({"apiKeys": {"openai": "sk-ok", "azure": "k"}}),
            "is not a provider",
        ),
        (
            json!({"apiKeys": {"openai": "sk-ok", "anthropic": "has space"}}),
            "apiKeys.anthropic",
        ),
        (json!({"theme": "dark"}), "unknown field"),
        (
            json!({"speech": {"provider": "openai-compatible"}}),
            "speech.baseUrl is required",
        ),
        (
            json!({"speech": {"provider": "openai", "baseUrl": "https://h/v1"}}),
            "speech.baseUrl is only for",
        ),
        (
            json!({"speech": {"provider": "deepgram"}}),
            "unknown variant",
        ),
    ] {
        let (status, error) = put_settings(&app, body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["code"], "bad_request");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(reason), "{body}: {message}");
        assert!(!message.contains("sk-ok"), "{message}");
    }
    let (status, _) = put_settings(&app, json!({"apiKeys": {"openai": "k".repeat(40_000)}})).await;
    assert_eq!(status, 413);
    let (_, after) = app.get("/api/settings").await;
    assert_eq!(after["model"], Value::Null);
    assert_eq!(after["speech"], Value::Null);
    assert_eq!(
        after["apiKeys"],
        serde_json::from_str::<Value>(NO_KEYS).unwrap()
    );
}

#[tokio::test]
async fn linked_telegram_accounts_are_listed_and_can_be_unlinked() {
    let data = tempfile::tempdir().unwrap();
    let app = app(data.path()).await;
    let store =
        SqliteTelegramStore::open(&data.path().join("serverless-openclaw.sqlite3")).unwrap();
    store
        .link(42, &UserId::parse("owner").unwrap())
        .await
        .unwrap();
    store
        .link(7, &UserId::parse("someone-else").unwrap())
        .await
        .unwrap();
    let (_, settings) = app.get("/api/settings").await;
    assert_eq!(settings["telegram"], json!({"linked": [42]}));

    assert_eq!(
        app.call(Method::DELETE, "/api/telegram/links/7", None)
            .await
            .0,
        404,
        "another user's link is not the caller's to remove"
    );
    assert_eq!(
        store.linked_user(7).await.unwrap().unwrap().as_str(),
        "someone-else"
    );
    for bad in ["abc", "-1", "0"] {
        let (status, _) = app
            .call(Method::DELETE, &format!("/api/telegram/links/{bad}"), None)
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(
        app.call(Method::DELETE, "/api/telegram/links/42", None)
            .await
            .0,
        204
    );
    assert_eq!(store.linked_user(42).await.unwrap(), None);
    assert_eq!(
        app.call(Method::DELETE, "/api/telegram/links/42", None)
            .await
            .0,
        404
    );
    let (_, settings) = app.get("/api/settings").await;
    assert_eq!(settings["telegram"], json!({"linked": []}));
}

#[tokio::test]
async fn a_conversation_can_be_renamed_with_a_valid_title() {
    let data = tempfile::tempdir().unwrap();
    let app = app(data.path()).await;
    let (_, created) = app
        .call(
            Method::POST,
            "/api/conversations",
            Some(json!({"title": "Old"})),
        )
        .await;
    let path = format!("/api/conversations/{}", created["id"].as_str().unwrap());
    let rename = |title: Value| app.call(Method::PATCH, &path, Some(json!({ "title": title })));
    assert_eq!(rename(json!("  Trip to Lisbon ")).await.0, 204);
    let (_, list) = app.get("/api/conversations").await;
    assert_eq!(list["conversations"][0]["title"], "Trip to Lisbon");
    assert_eq!(rename(json!("   ")).await.0, 400);
    assert_eq!(rename(json!("t".repeat(201))).await.0, 413);
    assert_eq!(rename(json!(5)).await.0, 400);
    assert_eq!(
        app.call(
            Method::PATCH,
            "/api/conversations/missing",
            Some(json!({"title": "x"}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.call(
            Method::PATCH,
            "/api/conversations/..%2Fx",
            Some(json!({"title": "x"}))
        )
        .await
        .0,
        400
    );
    let (_, list) = app.get("/api/conversations").await;
    assert_eq!(list["conversations"][0]["title"], "Trip to Lisbon");
}

#[tokio::test]
async fn a_conversations_model_and_thinking_level_are_shown_changed_and_checked() {
    let (_fake, _data, app) = support::spawn_with_fake_llm(
        serverless_openclaw_agent::LlmApi::AnthropicMessages,
        Duration::from_secs(30),
    )
    .await;
    let path = "/api/conversations/picker-1/settings";
    // A new chat (no message yet) has the defaults.
    let (status, initial) = app.get(path).await;
    assert_eq!(status, 200, "{initial}");
    assert_eq!(initial["model"], Value::Null);
    assert_eq!(initial["thinking"], Value::Null);
    assert_eq!(initial["defaultModel"], "fake-model");
    assert_eq!(initial["modelSource"], "deployment");
    assert_eq!(
        initial["models"],
        json!([{"id": "fake-model", "default": true}])
    );
    assert_eq!(
        initial["thinkingLevels"],
        json!(["off", "minimal", "low", "medium", "high"])
    );

    let (status, changed) = app
        .call(
            Method::PUT,
            path,
            Some(json!({"model": "fake-b", "thinking": "high"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["model"], "fake-b");
    assert_eq!(changed["thinking"], "high");
    assert_eq!(changed["modelSource"], "conversation");
    assert_eq!(
        changed["models"],
        json!([{"id": "fake-model", "default": true}, {"id": "fake-b", "default": false}])
    );
    assert_eq!(
        app.get(path).await.1,
        changed,
        "a GET reads what the PUT stored"
    );
    // Another conversation keeps the defaults.
    let (_, other) = app.get("/api/conversations/picker-2/settings").await;
    assert_eq!(other["model"], Value::Null);
    // An absent field stays; null goes back to the default.
    let (_, thinking_only) = app
        .call(Method::PUT, path, Some(json!({"thinking": null})))
        .await;
    assert_eq!(
        (&thinking_only["model"], &thinking_only["thinking"]),
        (&json!("fake-b"), &Value::Null)
    );

    // Bad input is a 400 (413 for a body over the limit) with a reason, and changes nothing.
    for (body, reason) in [
        (json!({"model": "two words"}), "model must be"),
        (json!({"thinking": "hard"}), "unknown variant"),
        (json!({"freshSession": true}), "unknown field"),
        (json!(["fake-b"]), "JSON object"),
    ] {
        let (status, error) = app.call(Method::PUT, path, Some(body)).await;
        assert_eq!(status, 400, "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(reason),
            "{error}"
        );
    }
    let raw = |body: String| {
        reqwest::Client::new()
            .put(app.url(path))
            .bearer_auth(support::TOKEN)
            .body(body)
            .send()
    };
    assert_eq!(raw("{".into()).await.unwrap().status().as_u16(), 400);
    let padded = format!(r#"{{"model": "fake-c"{}}}"#, " ".repeat(2048));
    assert_eq!(raw(padded).await.unwrap().status().as_u16(), 413);
    for bad_id in ["..%2Fx", &"x".repeat(200)] {
        let bad = format!("/api/conversations/{bad_id}/settings");
        assert_eq!(app.get(&bad).await.0, 400, "{bad_id}");
        assert_eq!(
            app.call(Method::PUT, &bad, Some(json!({"model": "fake-c"})))
                .await
                .0,
            400
        );
    }
    assert_eq!(app.get(path).await.1["model"], "fake-b");
}
