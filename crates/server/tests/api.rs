//! Every REST route of [`serverless_openclaw_server::api`] (what the `http-api` Lambda serves), driven
//! with `oneshot` on the local adapters, without a socket: the status and body of a good request, the
//! 401 without the token, and the answer to bad input. A failure names the route. Then local mode's edge
//! ([`serverless_openclaw_server::local_app`]): foreign `Host` and `Origin` refused, security headers.

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use serverless_openclaw_core::attachments::{Attachments, DEFAULT_QUOTA_BYTES};
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::domain::{Channel, NewUserMessage};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::linking::Linking;
use serverless_openclaw_core::ports::{
    AgentStatusSource, ConversationStore, SettingsStore, TelegramStore,
};
use serverless_openclaw_core::search::ConversationSearch;
use serverless_openclaw_core::settings::Endpoints;
use serverless_openclaw_core::skills::Skills;
use serverless_openclaw_local::{
    FileApiKeyStore, FileAttachmentStore, FileLinks, FileTranscriptStore, FileUploads,
    FileWorkspaceStore, LocalTurnQueue, SqliteConversationStore, SqliteSettingsStore,
    SqliteTelegramStore,
};
use serverless_openclaw_server::{
    AllowedHosts, AppState, ConnectionHub, LocalSurface, TokenAuthenticator, api, local_app,
};
use support::{Idle, NoPush, NoTurns};
use tower::ServiceExt;

const TOKEN: &str = "the-api-token_0123456789";
const OWNER: &str = "owner-1";

struct Api {
    router: Router,
    telegram: Arc<dyn TelegramStore>,
    /// The store behind the API, for messages (which only a turn writes).
    store: Arc<SqliteConversationStore>,
    _dir: tempfile::TempDir,
}

impl Api {
    fn new() -> Self {
        Self::with(api)
    }

    /// Local mode's router, answering to the loopback names and `box.lan`.
    fn local() -> Self {
        Self::with(|state| {
            local_app(
                state,
                LocalSurface {
                    hub: Arc::new(ConnectionHub::default()),
                    waker: None,
                    web_dir: None,
                    allowed_hosts: AllowedHosts::new(["box.lan".to_owned()]),
                    uploads: Arc::new(FileUploads::new("unused").unwrap()),
                    downloads: Arc::new(
                        FileLinks::new(Arc::new(FileAttachmentStore::new("unused"))).unwrap(),
                    ),
                },
            )
        })
    }

    fn with(router: impl FnOnce(AppState) -> Router) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite3");
        let store = Arc::new(SqliteConversationStore::open(&db).unwrap());
        let conversations: Arc<dyn ConversationStore> = store.clone();
        let settings: Arc<dyn SettingsStore> = Arc::new(SqliteSettingsStore::open(&db).unwrap());
        let telegram: Arc<dyn TelegramStore> = Arc::new(SqliteTelegramStore::open(&db).unwrap());
        let agent: Arc<dyn AgentStatusSource> = Arc::new(Idle);
        let attachments = Attachments::new(
            Arc::new(FileAttachmentStore::new(dir.path().join("attachments"))),
            DEFAULT_QUOTA_BYTES,
        );
        let chat = ChatService::new(
            conversations.clone(),
            Arc::new(LocalTurnQueue::new(Arc::new(NoTurns))),
            Arc::new(NoPush),
            settings.clone(),
            agent.clone(),
        )
        .with_attachments(attachments.clone());
        let router = router(AppState {
            auth: Arc::new(TokenAuthenticator::new(
                TOKEN,
                UserId::parse(OWNER).unwrap(),
            )),
            chat,
            conversations,
            search: ConversationSearch::new(store.clone()),
            transcripts: Arc::new(FileTranscriptStore::new(dir.path().join("transcripts"))),
            agent,
            linking: Linking::new(telegram.clone(), telegram.clone()),
            settings: settings.clone(),
            api_keys: Arc::new(FileApiKeyStore::new(dir.path().join("secrets"))),
            endpoints: Endpoints::Public,
            attachments: Some(attachments),
            skills: Skills::new(
                Arc::new(FileWorkspaceStore::new(dir.path().join("workspaces"))),
                settings,
            ),
        });
        Self {
            router,
            telegram,
            store,
            _dir: dir,
        }
    }

    /// Sends one request (with the token unless `anonymous`) and returns the status and JSON body
    /// (`Null` when empty).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        anonymous: bool,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if !anonymous {
            request = request.header("authorization", format!("Bearer {TOKEN}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, body)
    }

    async fn ok(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        self.call(method, path, body, false).await
    }

    /// Asserts an error answer: its status and `code`, and a message.
    async fn refused(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        status: StatusCode,
        code: &str,
    ) {
        let (got, answer) = self.ok(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path} {body:?}: {answer}");
        assert_eq!(answer["code"], code, "{method} {path} {body:?}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {answer}"
        );
    }

    async fn create(&self, title: &str) -> String {
        let (status, body) = self
            .ok(
                Method::POST,
                "/api/conversations",
                Some(&json!({ "title": title }).to_string()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

/// Every route, with a well-formed request.
const ROUTES: [(&str, &str); 18] = [
    ("GET", "/api/search?q=quokka"),
    ("GET", "/api/conversations"),
    ("POST", "/api/conversations"),
    ("PATCH", "/api/conversations/c-1"),
    ("DELETE", "/api/conversations/c-1"),
    ("GET", "/api/conversations/c-1/messages"),
    ("POST", "/api/conversations/c-1/attachments/uploads"),
    (
        "POST",
        "/api/conversations/c-1/attachments/uploads/u1/complete",
    ),
    ("GET", "/api/conversations/c-1/attachments/a-1/link"),
    ("DELETE", "/api/conversations/c-1/attachments/a-1"),
    ("GET", "/api/conversations/c-1/settings"),
    ("PUT", "/api/conversations/c-1/settings"),
    ("GET", "/api/status"),
    ("GET", "/api/settings"),
    ("PUT", "/api/settings"),
    ("POST", "/api/telegram/link-code"),
    ("DELETE", "/api/telegram/links/42"),
    ("GET", "/api/no-such-endpoint"),
];

#[tokio::test]
async fn every_route_refuses_a_caller_without_the_token() {
    let api = Api::new();
    for (method, path) in ROUTES {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, body) = api.call(method.clone(), path, Some("{}"), true).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert_eq!(body["code"], "unauthorized", "{method} {path}");
    }
}

#[tokio::test]
async fn conversations_are_created_listed_renamed_paged_and_deleted() {
    let api = Api::new();
    let (status, body) = api.ok(Method::GET, "/api/conversations", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "conversations": [] }))
    );

    let id = api.create("  Trip plans  ").await;
    let (status, body) = api.ok(Method::POST, "/api/conversations", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let untitled = body["id"].as_str().unwrap().to_owned();
    let (_, body) = api.ok(Method::GET, "/api/conversations", None).await;
    let titles: Vec<(&str, &str)> = body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["title"].as_str().unwrap()))
        .collect();
    assert!(titles.contains(&(id.as_str(), "Trip plans")), "{titles:?}");
    assert!(
        titles.contains(&(untitled.as_str(), "New conversation")),
        "{titles:?}"
    );

    let path = format!("/api/conversations/{id}");
    let (status, _) = api
        .ok(Method::PATCH, &path, Some(r#"{"title":"Renamed"}"#))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = api.ok(Method::GET, "/api/conversations", None).await;
    assert!(body.to_string().contains("Renamed"), "{body}");

    let (status, body) = api
        .ok(Method::GET, &format!("{path}/messages?limit=10"), None)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "messages": [] })));

    let (status, _) = api.ok(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    api.refused(
        Method::PATCH,
        &path,
        Some(r#"{"title":"Gone"}"#),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn bad_conversation_requests_are_refused_with_a_reason() {
    let api = Api::new();
    let id = api.create("Kept").await;
    let path = format!("/api/conversations/{id}");
    let long = "x".repeat(10_000);
    for (method, path, body, status, code) in [
        (
            Method::POST,
            "/api/conversations".to_owned(),
            Some("{not json"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(r#"{"title":"   "}"#),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(r#"{"name":"x"}"#),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::PATCH,
            "/api/conversations/..%2Fetc".to_owned(),
            Some(r#"{"title":"x"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            Method::DELETE,
            "/api/conversations/has%20space".to_owned(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            Method::GET,
            format!("{path}/messages?limit=0"),
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            format!("{path}/messages?limit=abc"),
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            format!("{path}/messages?before=not%20an%20id"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            Method::GET,
            "/api/no-such-endpoint".to_owned(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        api.refused(method, &path, body, status, code).await;
    }
    let too_long = json!({ "title": long }).to_string();
    api.refused(
        Method::PATCH,
        &path,
        Some(&too_long),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    api.refused(
        Method::POST,
        "/api/conversations",
        Some(&too_long),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    // Nothing refused changed the conversation.
    let (_, body) = api.ok(Method::GET, "/api/conversations", None).await;
    assert_eq!(body["conversations"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["conversations"][0]["title"], "Kept");
}

/// Stores a user message as a turn's submission would.
async fn say(store: &SqliteConversationStore, user: &str, conversation: &str, text: &str) {
    store
        .append_user_message(
            &UserId::parse(user).unwrap(),
            &ConversationId::parse(conversation).unwrap(),
            NewUserMessage {
                id: MessageId::generate(),
                client_message_id: ClientMessageId::parse(MessageId::generate().as_str()).unwrap(),
                content: text.into(),
                channel: Channel::Web,
                created_at: time::OffsetDateTime::now_utc(),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn search_finds_the_callers_messages_newest_first_with_snippets() {
    let api = Api::new();
    say(&api.store, OWNER, "wild", "Where do quokkas live?").await;
    say(&api.store, OWNER, "wild", "On Rottnest Island, near Perth.").await;
    say(&api.store, OWNER, "other", "A QUOKKA selfie, please").await;
    say(&api.store, "someone-else", "wild", "quokka secrets").await;

    let (status, body) = api.ok(Method::GET, "/api/search?q=Quokka", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2, "only the caller's: {body}");
    assert_eq!(hits[0]["conversationId"], "other");
    assert_eq!(hits[0]["title"], "A QUOKKA selfie, please");
    assert_eq!(hits[0]["role"], "user");
    assert_eq!(
        hits[0]["snippet"],
        json!([
            { "text": "A ", "match": false },
            { "text": "QUOKKA", "match": true },
            { "text": " selfie, please", "match": false },
        ])
    );
    assert_eq!(hits[1]["conversationId"], "wild");
    assert!(
        hits[1]["messageId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        hits[1]["createdAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let (_, body) = api
        .ok(Method::GET, "/api/search?q=rottnest+PERTH%21&limit=1", None)
        .await;
    assert_eq!(body["hits"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["hits"][0]["title"], "Where do quokkas live?");
    let (_, body) = api
        .ok(Method::GET, "/api/search?q=quokka&limit=1", None)
        .await;
    assert_eq!(body["hits"][0]["conversationId"], "other", "{body}");
    let (_, body) = api.ok(Method::GET, "/api/search?q=sydney", None).await;
    assert_eq!(body, json!({ "hits": [] }));
}

#[tokio::test]
async fn a_bad_search_is_refused_with_a_reason() {
    let api = Api::new();
    let long = "a".repeat(201);
    for path in [
        "/api/search".to_owned(),
        "/api/search?q=".to_owned(),
        "/api/search?q=%20%20".to_owned(),
        "/api/search?q=%3F%21".to_owned(),
        format!("/api/search?q={long}"),
        "/api/search?q=a+b+c+d+e+f+g+h+i".to_owned(),
        "/api/search?q=quokka&limit=0".to_owned(),
        "/api/search?q=quokka&limit=51".to_owned(),
    ] {
        api.refused(
            Method::GET,
            &path,
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
}

#[tokio::test]
async fn a_conversations_own_model_and_thinking_are_read_written_and_checked() {
    let api = Api::new();
    let path = "/api/conversations/c-1/settings";
    let (status, before) = api.ok(Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["effectiveModel"], "fake/default", "{before}");
    for bad in [
        "[]",
        r#"{"model":"two words"}"#,
        r#"{"thinking":"extreme"}"#,
        r#"{"colour":"red"}"#,
    ] {
        api.refused(
            Method::PUT,
            path,
            Some(bad),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    api.refused(
        Method::PUT,
        "/api/conversations/bad%20id/settings",
        Some("{}"),
        StatusCode::BAD_REQUEST,
        "invalid_id",
    )
    .await;
    assert_eq!(api.ok(Method::GET, path, None).await.1, before);
    let (status, body) = api
        .ok(
            Method::PUT,
            path,
            Some(r#"{"model":"custom/m","thinking":"high"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model"], "custom/m", "{body}");
    assert_eq!(body["thinking"], "high", "{body}");
    let (_, other) = api
        .ok(Method::GET, "/api/conversations/c-2/settings", None)
        .await;
    assert_eq!(other["effectiveModel"], "fake/default", "{other}");
}

#[tokio::test]
async fn status_reports_the_agent_and_the_default_model() {
    let api = Api::new();
    let (status, body) = api.ok(Method::GET, "/api/status", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["agent"]["state"], "stopped", "{body}");
    assert_eq!(
        body["provider"],
        json!({ "configured": true, "model": "fake/default" })
    );
}

#[tokio::test]
async fn settings_are_read_written_and_bad_ones_change_nothing() {
    let api = Api::new();
    let (status, before) = api.ok(Method::GET, "/api/settings", None).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["defaultModel"], "fake/default", "{before}");

    for body in [
        "{not json",
        r#"{"apiKeys":{"nobody":"k-123456789"}}"#,
        r#"{"apiKeys":{"anthropic":""}}"#,
    ] {
        api.refused(
            Method::PUT,
            "/api/settings",
            Some(body),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let huge = json!({ "apiKeys": { "anthropic": "k".repeat(100_000) } }).to_string();
    api.refused(
        Method::PUT,
        "/api/settings",
        Some(&huge),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    let metadata = json!({ "model": {
        "provider": "openai-compatible",
        "model": "m",
        "baseUrl": "http://169.254.169.254/latest",
    } })
    .to_string();
    api.refused(
        Method::PUT,
        "/api/settings",
        Some(&metadata),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let (_, after) = api.ok(Method::GET, "/api/settings", None).await;
    assert_eq!(after, before, "a refused update changes nothing");

    let (status, body) = api
        .ok(
            Method::PUT,
            "/api/settings",
            Some(r#"{"apiKeys":{"anthropic":"test-key-0123456789"}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !body.to_string().contains("test-key-0123456789"),
        "a key is never shown back: {body}"
    );
    assert_ne!(body, before, "the stored key shows as stored: {body}");

    assert_eq!(
        before["browser"], true,
        "the browser is on until turned off"
    );
    api.refused(
        Method::PUT,
        "/api/settings",
        Some(r#"{"browser":"off"}"#),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let (status, body) = api
        .ok(Method::PUT, "/api/settings", Some(r#"{"browser":false}"#))
        .await;
    assert_eq!((status, &body["browser"]), (StatusCode::OK, &json!(false)));
    let (_, body) = api.ok(Method::GET, "/api/settings", None).await;
    assert_eq!(body["browser"], false, "{body}");
    assert_eq!(body["apiKeys"]["anthropic"], true, "the rest stays");
}

#[tokio::test]
async fn link_codes_are_issued_and_only_linked_accounts_unlinked() {
    let api = Api::new();
    let (status, body) = api.ok(Method::POST, "/api/telegram/link-code", None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    assert!(body["expiresAt"].as_str().is_some(), "{body}");

    let owner = UserId::parse(OWNER).unwrap();
    api.telegram.link(42, &owner).await.unwrap();
    api.telegram
        .link(43, &UserId::parse("someone-else").unwrap())
        .await
        .unwrap();
    let (_, body) = api.ok(Method::GET, "/api/settings", None).await;
    assert_eq!(body["telegram"]["linked"], json!([42]), "{body}");
    let (status, _) = api.ok(Method::DELETE, "/api/telegram/links/42", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.telegram.linked_user(42).await.unwrap(), None);
    for not_mine in ["42", "43"] {
        api.refused(
            Method::DELETE,
            &format!("/api/telegram/links/{not_mine}"),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert!(api.telegram.linked_user(43).await.unwrap().is_some());
    for bad in ["0", "-7", "abc"] {
        api.refused(
            Method::DELETE,
            &format!("/api/telegram/links/{bad}"),
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
}

/// One request to local mode's router with these `Host` and `Origin` headers.
async fn edge(api: &Api, path: &str, host: &str, origin: Option<&str>) -> axum::response::Response {
    let mut request = Request::builder()
        .uri(path)
        .header("host", host)
        .header("authorization", format!("Bearer {TOKEN}"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    api.router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn local_mode_refuses_a_foreign_host_or_origin_and_sends_security_headers() {
    let api = Api::local();
    for path in ["/api/status", "/ws", "/healthz", "/", "/config.json"] {
        for (host, origin) in [
            ("evil.example:8787", None),
            ("127.0.0.1.evil.example", None),
            ("127.0.0.1:8787", Some("http://evil.example")),
            ("127.0.0.1:8787", Some("null")),
            ("localhost:8787", Some("http://localhost.evil.example:8787")),
        ] {
            let response = edge(&api, path, host, origin).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} Host {host} Origin {origin:?}"
            );
        }
    }
    for (host, origin) in [
        ("127.0.0.1:8787", None),
        ("localhost:8787", Some("http://localhost:8787")),
        ("[::1]:8787", Some("http://[::1]:8787")),
        ("BOX.lan:8787", Some("http://box.lan:8787")),
    ] {
        let response = edge(&api, "/api/status", host, origin).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "Host {host} Origin {origin:?}"
        );
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
    // The page itself (here: the "not built" page) carries them too.
    let page = edge(&api, "/", "127.0.0.1:8787", None).await;
    assert!(page.headers().contains_key("content-security-policy"));
}
