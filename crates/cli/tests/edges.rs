//! Local mode's edges that need no LLM: authentication, validation, no provider configured.

mod support;

use std::time::Duration;

use serde_json::json;
use support::TestApp;

async fn app_without_provider(data: &std::path::Path) -> TestApp {
    TestApp::spawn(data, None, Duration::from_secs(30)).await
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_with_401_everywhere() {
    let data = tempfile::tempdir().unwrap();
    let app = app_without_provider(data.path()).await;
    let http = reqwest::Client::new();
    for path in [
        "/api/conversations",
        "/api/status",
        "/api/conversations/default/messages",
        "/api/settings",
    ] {
        let none = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(none.status(), 401, "{path}");
        let body: serde_json::Value = none.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized");
        let wrong = http
            .get(app.url(path))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    for query in ["", "?token=nope"] {
        let err = tokio_tungstenite::connect_async(format!("ws://{}/ws{query}", app.addr))
            .await
            .unwrap_err();
        match err {
            tokio_tungstenite::tungstenite::Error::Http(response) => {
                assert_eq!(response.status(), 401)
            }
            other => panic!("expected an HTTP 401, got {other:?}"),
        }
    }
    assert_eq!(
        http.get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    // The web UI's runtime configuration is public, like the page (web/src/runtimeConfig.ts).
    let config = http.get(app.url("/config.json")).send().await.unwrap();
    assert_eq!(config.status(), 200);
    assert_eq!(config.headers()["cache-control"], "no-cache");
    assert_eq!(
        config.json::<serde_json::Value>().await.unwrap(),
        json!({"version": 1, "apiUrl": "/", "websocketUrl": "/ws", "auth": {"kind": "token"}})
    );
}

#[tokio::test]
async fn bad_frames_are_answered_with_errors_and_the_socket_stays_usable() {
    let data = tempfile::tempdir().unwrap();
    let app = app_without_provider(data.path()).await;
    let mut client = app.connect().await;
    let cases = [
        ("{not json".to_owned(), "bad_request"),
        (json!({"action":"dance"}).to_string(), "bad_request"),
        (json!({"action":"sendMessage","clientMessageId":"m1","message":"a".repeat(40 * 1024)}).to_string(), "too_large"),
        (json!({"action":"sendMessage","conversationId":"../etc","clientMessageId":"m2","message":"hi"}).to_string(), "invalid_id"),
        (json!({"action":"sendMessage","clientMessageId":"a b","message":"hi"}).to_string(), "invalid_id"),
        ("x".repeat(70 * 1024), "too_large"),
    ];
    for (frame, code) in cases {
        client.send_text(frame).await;
        let error = client.next().await;
        assert_eq!(error["type"], "error");
        assert_eq!(error["code"], code, "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    client.send(json!({"action":"ping"})).await;
    assert_eq!(client.next().await, json!({"type":"pong"}));
    // Nothing was stored for refused frames.
    let (_, list) = app.get("/api/conversations").await;
    assert_eq!(list["conversations"], json!([]));
}

#[tokio::test]
async fn without_a_provider_a_turn_answers_no_provider_and_keeps_the_message() {
    let data = tempfile::tempdir().unwrap();
    let app = app_without_provider(data.path()).await;
    let mut client = app.connect().await;
    client.send_message("default", "p1", "hello?").await;
    let ack = client.next_of("ack").await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "no_provider");
    assert_eq!(error["clientMessageId"], "p1");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("ANTHROPIC_API_KEY")
    );
    let (_, body) = app.get("/api/conversations/default/messages").await;
    assert_eq!(body["messages"][0]["id"], ack["messageId"]);
    let (_, status) = app.get("/api/status").await;
    assert_eq!(status["provider"]["configured"], false);
    assert_eq!(status["agent"]["state"], "stopped");
}

#[tokio::test]
async fn the_same_client_message_id_is_acknowledged_again_and_stored_once() {
    let data = tempfile::tempdir().unwrap();
    let app = app_without_provider(data.path()).await;
    let mut client = app.connect().await;
    client.send_message("default", "same", "once").await;
    let first = client.next_of("ack").await;
    client.next_of("error").await;
    client.send_message("default", "same", "once").await;
    let second = client.next_of("ack").await;
    assert_eq!(first["messageId"], second["messageId"]);
    let (_, body) = app.get("/api/conversations/default/messages").await;
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn conversations_can_be_created_paged_and_deleted_over_rest() {
    let data = tempfile::tempdir().unwrap();
    let app = app_without_provider(data.path()).await;
    let http = reqwest::Client::new();
    let created = http
        .post(app.url("/api/conversations"))
        .bearer_auth(support::TOKEN)
        .json(&json!({"title":"Trip plans"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, list) = app.get("/api/conversations").await;
    assert_eq!(list["conversations"][0]["title"], "Trip plans");
    assert_eq!(
        app.get(&format!("/api/conversations/{id}/messages?limit=0"))
            .await
            .0,
        400
    );
    assert_eq!(
        app.get(&format!("/api/conversations/{id}/messages?limit=201"))
            .await
            .0,
        400
    );
    assert_eq!(app.get("/api/conversations/..%2Fetc/messages").await.0, 400);
    assert_eq!(app.get("/api/conversations/nope/messages").await.0, 404);
    let long_title = http
        .post(app.url("/api/conversations"))
        .bearer_auth(support::TOKEN)
        .json(&json!({"title": "t".repeat(201)}))
        .send()
        .await
        .unwrap();
    assert_eq!(long_title.status(), 413);
    let delete = |id: String| {
        http.delete(app.url(&format!("/api/conversations/{id}")))
            .bearer_auth(support::TOKEN)
            .send()
    };
    assert_eq!(delete(id.clone()).await.unwrap().status(), 204);
    assert_eq!(delete(id).await.unwrap().status(), 404);
}

/// The real binary under a low file descriptor limit (256): 300 sockets that connect and send
/// nothing would take every descriptor without the connection cap, and `/healthz` would wait in the
/// listen queue until they closed; with it, the oldest idle ones make room.
#[tokio::test]
async fn half_open_sockets_do_not_silence_the_server() {
    let data = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new("prlimit");
    command
        .args(["--nofile=256:256", "--"])
        .arg(env!("CARGO_BIN_EXE_serverless-openclaw"))
        .args(["local", "--port", "0", "--data-dir"])
        .arg(data.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "SERVERLESS_OPENCLAW_TOKEN",
            "a-long-enough-access-token-for-tests",
        )
        .current_dir(support::repo_root());
    let (_child, address) = support::start_binary(command).await;
    let mut half_open = Vec::new();
    for _ in 0..300 {
        half_open.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        http.get(format!("http://{address}/healthz")).send(),
    )
    .await
    .expect("/healthz answers while 300 half-open sockets are held")
    .unwrap();
    assert_eq!(answer.text().await.unwrap(), "ok");
    println!(
        "/healthz answered in {:?} beside 300 half-open sockets",
        started.elapsed()
    );
}
