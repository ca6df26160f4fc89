//! The skill routes of [`serverless_openclaw_server::api`] on the local adapters, driven with `oneshot`:
//! a skill uploaded as a `SKILL.md` or a zip is listed, read, disabled, enabled and deleted; uploads that
//! break a rule (a zip with `../x`, a symbolic link, 2 MiB of content, a name that differs from the
//! URL's) are refused with a message naming the problem and change nothing stored; every route needs
//! the token; another user never sees, changes or deletes the skill.

mod support;

use std::io::{Cursor, Write};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use serverless_openclaw_core::attachments::{Attachments, DEFAULT_QUOTA_BYTES};
use serverless_openclaw_local::FileAttachmentStore;
use serverless_openclaw_server::api;
use serverless_openclaw_testkit::archives::zip_of;
use support::named_users_state;
use tower::ServiceExt;
use zip::write::SimpleFileOptions;

fn skill_md(name: &str, description: &str) -> String {
    format!("---\nname: {name}\ndescription: {description}\n---\n# {name}\n\nSteps.\n")
}

struct Server {
    router: Router,
    dir: tempfile::TempDir,
}

impl Server {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let attachments = Attachments::new(
            std::sync::Arc::new(FileAttachmentStore::new(dir.path().join("attachments"))),
            DEFAULT_QUOTA_BYTES,
        );
        let router = api(named_users_state(dir.path(), attachments));
        Self { router, dir }
    }

    /// Sends a request as `user` (none: anonymous) and returns the status and JSON body.
    async fn call(
        &self,
        user: Option<&str>,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(user) = user {
            request = request.header("authorization", format!("Bearer {user}"));
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn put(
        &self,
        user: &str,
        name: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let path = format!("/api/skills/{name}");
        self.call(Some(user), Method::PUT, &path, Some(content_type), body)
            .await
    }

    async fn list(&self, user: &str) -> Value {
        let (status, body) = self
            .call(Some(user), Method::GET, "/api/skills", None, Vec::new())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Every file under the data dir's workspaces, as `<user>/<path>`.
    fn stored_files(&self) -> Vec<String> {
        let root = self.dir.path().join("workspaces");
        let mut found = Vec::new();
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().unwrap().is_dir() {
                    pending.push(entry.path());
                } else {
                    let path = entry.path();
                    found.push(path.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        found.sort();
        found
    }
}

#[tokio::test]
async fn a_markdown_skill_is_listed_read_disabled_enabled_replaced_and_deleted() {
    let server = Server::new();
    assert_eq!(server.list("alice").await, json!({"skills": []}));

    let md = skill_md("zeta-skill", "Does zeta things");
    let (status, body) = server
        .put(
            "alice",
            "zeta-skill",
            "text/markdown; charset=utf-8",
            md.clone().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let view = json!({"name": "zeta-skill", "description": "Does zeta things", "enabled": true,
        "userInvocable": true, "files": 1, "bytes": md.len()});
    assert_eq!(body, view);
    assert_eq!(server.list("alice").await, json!({"skills": [view]}));
    assert_eq!(server.stored_files(), ["alice/skills/zeta-skill/SKILL.md"]);

    let (status, body) = server
        .call(
            Some("alice"),
            Method::GET,
            "/api/skills/zeta-skill",
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["skillMd"], md);
    assert_eq!(
        body["fileList"],
        json!([{"path": "SKILL.md", "bytes": md.len()}])
    );

    let patch = |enabled: bool| {
        server.call(
            Some("alice"),
            Method::PATCH,
            "/api/skills/zeta-skill",
            Some("application/json"),
            json!({"enabled": enabled}).to_string().into_bytes(),
        )
    };
    let (status, body) = patch(false).await;
    assert_eq!(
        (status, &body["enabled"]),
        (StatusCode::OK, &json!(false)),
        "{body}"
    );
    assert_eq!(server.list("alice").await["skills"][0]["enabled"], false);
    assert_eq!(server.stored_files().len(), 1, "disabling keeps the files");
    let (status, body) = patch(true).await;
    assert_eq!(
        (status, &body["enabled"]),
        (StatusCode::OK, &json!(true)),
        "{body}"
    );

    // A replacement answers 200 and drops the files the new version no longer has.
    let zip = zip_of(&[
        (
            "SKILL.md",
            skill_md("zeta-skill", "Zeta, second edition").as_bytes(),
        ),
        ("scripts/run.sh", b"echo zeta"),
    ]);
    let (status, body) = server
        .put("alice", "zeta-skill", "application/zip", zip)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["files"], 2);
    let md2 = zip_of(&[("SKILL.md", skill_md("zeta-skill", "Third").as_bytes())]);
    let (status, _) = server
        .put("alice", "zeta-skill", "application/zip", md2)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.stored_files(), ["alice/skills/zeta-skill/SKILL.md"]);

    let (status, _) = server
        .call(
            Some("alice"),
            Method::DELETE,
            "/api/skills/zeta-skill",
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.list("alice").await, json!({"skills": []}));
    assert!(server.stored_files().is_empty());
    let (status, body) = server
        .call(
            Some("alice"),
            Method::GET,
            "/api/skills/zeta-skill",
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
}

#[tokio::test]
async fn a_zip_with_its_folder_on_top_keeps_its_files_under_the_skill() {
    let server = Server::new();
    let zip = zip_of(&[
        ("helper/SKILL.md", skill_md("helper", "Helps").as_bytes()),
        ("helper/reference/notes.md", b"notes"),
    ]);
    let (status, body) = server.put("alice", "helper", "application/zip", zip).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        server.stored_files(),
        [
            "alice/skills/helper/SKILL.md",
            "alice/skills/helper/reference/notes.md"
        ]
    );
}

#[tokio::test]
async fn uploads_that_break_a_rule_are_refused_by_name_and_store_nothing() {
    let server = Server::new();
    let md = skill_md("keep", "Stays as it is");
    let (status, _) = server
        .put("alice", "keep", "text/markdown", md.clone().into_bytes())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let listing = server.list("alice").await;
    let stored = server.stored_files();

    let good = skill_md("keep", "Replaced?");
    let mut symlink = zip::ZipWriter::new(Cursor::new(Vec::new()));
    symlink
        .start_file("SKILL.md", SimpleFileOptions::default())
        .unwrap();
    symlink.write_all(good.as_bytes()).unwrap();
    symlink
        .add_symlink("secrets", "/etc/passwd", SimpleFileOptions::default())
        .unwrap();
    let symlink = symlink.finish().unwrap().into_inner();
    let big = vec![b'a'; 2 * 1024 * 1024];
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "keep",
            "application/zip",
            zip_of(&[("SKILL.md", good.as_bytes()), ("../x", b"escape")]),
            "entry \"../x\" leaves its folder",
        ),
        (
            "keep",
            "application/zip",
            symlink,
            "entry \"secrets\" is a symbolic link",
        ),
        (
            "keep",
            "application/zip",
            zip_of(&[("SKILL.md", good.as_bytes()), ("big.txt", &big)]),
            "larger than 1024 KiB",
        ),
        (
            "keep",
            "text/markdown",
            skill_md("other", "Wrong name").into_bytes(),
            "uploaded as \"keep\"",
        ),
        (
            "keep",
            "text/markdown",
            b"no frontmatter".to_vec(),
            "frontmatter",
        ),
        (
            "Bad_Name",
            "text/markdown",
            good.clone().into_bytes(),
            "invalid skill name",
        ),
    ];
    for (name, content_type, body, why) in cases {
        let (status, answer) = server.put("alice", name, content_type, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {answer}");
        assert_eq!(answer["code"], "invalid_skill", "{why}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(why), "{why}: {message}");
        assert_eq!(server.list("alice").await, listing, "{why}");
        assert_eq!(server.stored_files(), stored, "{why}");
    }

    let (status, answer) = server
        .put("alice", "keep", "application/json", md.into_bytes())
        .await;
    assert_eq!(
        (status, &answer["code"]),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &json!("unsupported_type")
        )
    );
    // 2 MiB sent as is are refused before they are read whole.
    let (status, answer) = server.put("alice", "keep", "text/markdown", big).await;
    assert_eq!(
        (status, &answer["code"]),
        (StatusCode::PAYLOAD_TOO_LARGE, &json!("too_large")),
        "{answer}"
    );
    assert_eq!(server.stored_files(), stored);
}

#[tokio::test]
async fn every_skill_route_needs_the_token() {
    let server = Server::new();
    for (method, path) in [
        (Method::GET, "/api/skills"),
        (Method::GET, "/api/skills/zeta"),
        (Method::PUT, "/api/skills/zeta"),
        (Method::PATCH, "/api/skills/zeta"),
        (Method::DELETE, "/api/skills/zeta"),
    ] {
        let body = skill_md("zeta", "z").into_bytes();
        let (status, answer) = server
            .call(None, method.clone(), path, Some("text/markdown"), body)
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
    }
    assert!(server.stored_files().is_empty());
}

#[tokio::test]
async fn another_user_never_sees_changes_or_deletes_the_skill() {
    let server = Server::new();
    let (status, _) = server
        .put(
            "alice",
            "zeta",
            "text/markdown",
            skill_md("zeta", "Alice's").into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    assert_eq!(server.list("bob").await, json!({"skills": []}));
    for (method, body) in [
        (Method::GET, Vec::new()),
        (
            Method::PATCH,
            json!({"enabled": false}).to_string().into_bytes(),
        ),
        (Method::DELETE, Vec::new()),
    ] {
        let (status, answer) = server
            .call(
                Some("bob"),
                method.clone(),
                "/api/skills/zeta",
                Some("application/json"),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}: {answer}");
    }
    let alice = server.list("alice").await;
    assert_eq!(alice["skills"][0]["enabled"], true);
    assert_eq!(alice["skills"][0]["description"], "Alice's");
    // Bob's own skill of the same name is his alone.
    let (status, _) = server
        .put(
            "bob",
            "zeta",
            "text/markdown",
            skill_md("zeta", "Bob's").into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        server.list("alice").await["skills"][0]["description"],
        "Alice's"
    );
}
