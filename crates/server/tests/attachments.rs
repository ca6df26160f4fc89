//! The attachment routes of [`serverless_openclaw_server::api`] on the local adapters, driven with
//! `oneshot` (uploads in two steps, through local mode's upload route; reads through a download link,
//! local mode's download route): an upload comes back byte for byte with headers that keep a browser
//! from running it, and a download link that expired or was altered is refused;
//! oversized, unaccepted, corrupt and over-quota uploads are refused with their own codes and store
//! nothing; a user cannot read, delete or send another user's attachment; a message's attachments show
//! in its history; deleting the conversation deletes them; an upload target admits only its own
//! bytes, and an upload is completed only by its own user, once.

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use serverless_openclaw_core::attachments::{Attachments, MAX_FILE_BYTES, MAX_IMAGE_BYTES};
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::AttachmentStore;
use serverless_openclaw_core::protocol::ServerFrame;
use serverless_openclaw_local::{FileAttachmentStore, FileLinks, FileUploads};
use serverless_openclaw_server::{api, download_links, upload_inbox};
use support::named_users_state;
use tower::ServiceExt;

/// A 2×1 PNG (its header is all the server and OpenClaw read of it; a browser shows it).
static PNG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    serverless_openclaw_testkit::images::solid_png(2, 1, [255, 128, 0])
});

const QUOTA: u64 = 64 * 1024 * 1024;

struct Server {
    router: Router,
    chat: ChatService,
    store: Arc<dyn AttachmentStore>,
    links: Arc<FileLinks>,
    _dir: tempfile::TempDir,
}

/// An answer: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Asserts a refusal with `status` and `code`, whose message is for people.
    fn refused(&self, status: StatusCode, code: &str) {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.len() > 10),
            "{body}"
        );
    }
}

impl Server {
    fn new(quota: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn AttachmentStore> =
            Arc::new(FileAttachmentStore::new(dir.path().join("attachments")));
        let uploads = Arc::new(FileUploads::new(dir.path().join("uploads")).unwrap());
        let links = Arc::new(FileLinks::new(store.clone()).unwrap());
        let attachments = Attachments::new(store.clone(), quota)
            .with_uploads(uploads.clone())
            .with_links(links.clone());
        let state = named_users_state(dir.path(), attachments);
        let chat = state.chat.clone();
        let router = api(state)
            .merge(upload_inbox(uploads))
            .merge(download_links(links.clone()));
        Self {
            router,
            chat,
            store,
            links,
            _dir: dir,
        }
    }

    async fn send(
        &self,
        user: &str,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {user}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The first step: `201` with the upload id and its target, or the refusal.
    async fn begin(
        &self,
        user: &str,
        conversation: &str,
        name: &str,
        kind: &str,
        size: usize,
    ) -> Answer {
        let body = json!({"name": name, "size": size, "contentType": kind});
        self.send(
            user,
            Method::POST,
            &format!("/api/conversations/{conversation}/attachments/uploads"),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Sends the bytes to a target as a browser does (no bearer token).
    async fn put(&self, target: &Value, bytes: &[u8]) -> StatusCode {
        assert_eq!(target["method"], "PUT");
        let request = Request::builder()
            .method(Method::PUT)
            .uri(target["url"].as_str().unwrap())
            .body(Body::from(bytes.to_vec()))
            .unwrap();
        self.router.clone().oneshot(request).await.unwrap().status()
    }

    async fn complete(
        &self,
        user: &str,
        conversation: &str,
        upload: &str,
        name: &str,
        kind: &str,
    ) -> Answer {
        let body = json!({"name": name, "contentType": kind});
        self.send(
            user,
            Method::POST,
            &format!("/api/conversations/{conversation}/attachments/uploads/{upload}/complete"),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// An upload as the web app makes it: begin, send the bytes, complete. The answer of the step that
    /// refused, or of the last.
    async fn upload(
        &self,
        user: &str,
        conversation: &str,
        name: &str,
        kind: &str,
        bytes: &[u8],
    ) -> Answer {
        let begun = self
            .begin(user, conversation, name, kind, bytes.len())
            .await;
        if begun.status != StatusCode::CREATED {
            return begun;
        }
        let view = begun.json();
        assert_eq!(
            self.put(&view["target"], bytes).await,
            StatusCode::NO_CONTENT
        );
        let upload = view["uploadId"].as_str().unwrap();
        self.complete(user, conversation, upload, name, kind).await
    }

    async fn get(&self, user: &str, path: &str) -> Answer {
        self.send(user, Method::GET, path, None, Vec::new()).await
    }

    /// Reads an attachment as the web app does: its link (`{path}/link`, with the bearer token), then
    /// the link itself without it. A refused link request is the answer.
    async fn read(&self, user: &str, path: &str) -> Answer {
        let link = self.get(user, &format!("{path}/link")).await;
        if link.status != StatusCode::OK {
            return link;
        }
        self.fetch(link.json()["url"].as_str().unwrap()).await
    }

    /// A plain `GET` of `url`, as a browser's `<img src>` makes (no bearer token).
    async fn fetch(&self, url: &str) -> Answer {
        let request = Request::builder().uri(url).body(Body::empty()).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn delete(&self, user: &str, path: &str) -> Answer {
        self.send(user, Method::DELETE, path, None, Vec::new())
            .await
    }

    async fn usage(&self, user: &str) -> u64 {
        self.store
            .usage(&UserId::parse(user).unwrap())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_upload_comes_back_byte_for_byte_and_is_never_run_by_a_browser() {
    let server = Server::new(QUOTA);
    let uploaded = server
        .upload("alice", "c1", "../holiday cat.PNG", "image/png", &PNG[..])
        .await;
    assert_eq!(uploaded.status, StatusCode::CREATED);
    let view = uploaded.json();
    assert_eq!(view["name"], "holiday cat.PNG", "the name is made safe");
    assert_eq!(
        (&view["mediaType"], &view["kind"], &view["size"]),
        (&json!("image/png"), &json!("image"), &json!(PNG.len()))
    );
    let id = view["id"].as_str().unwrap();
    let image = server
        .read("alice", &format!("/api/conversations/c1/attachments/{id}"))
        .await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(image.body, &PNG[..]);
    let header = |answer: &Answer, name: &str| answer.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header(&image, "content-type"), "image/png");
    assert_eq!(header(&image, "x-content-type-options"), "nosniff");
    assert_eq!(header(&image, "content-security-policy"), "sandbox");
    assert!(
        header(&image, "content-disposition").starts_with("inline; filename=\"holiday cat.PNG\"")
    );

    // Text is served as plain text, and as a download, whatever it declared or looks like.
    let page = b"<html><script>alert(1)</script></html>";
    let text = server
        .upload("alice", "c1", "page.txt", "text/plain", page)
        .await
        .json();
    let text = server
        .read(
            "alice",
            &format!(
                "/api/conversations/c1/attachments/{}",
                text["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(text.body, page);
    assert_eq!(header(&text, "content-type"), "text/plain; charset=utf-8");
    assert!(header(&text, "content-disposition").starts_with("attachment; "));
    assert_eq!(server.usage("alice").await, (PNG.len() + page.len()) as u64);
}

#[tokio::test]
async fn oversized_unaccepted_corrupt_and_over_quota_uploads_are_refused_and_store_nothing() {
    let server = Server::new(QUOTA);
    let mut big_image = PNG.to_vec();
    big_image.resize(MAX_IMAGE_BYTES as usize + 1, 0);
    server
        .upload("alice", "c1", "big.png", "image/png", &big_image)
        .await
        .refused(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    server
        .upload(
            "alice",
            "c1",
            "huge.txt",
            "text/plain",
            &vec![b'a'; MAX_FILE_BYTES as usize + 1],
        )
        .await
        .refused(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    server
        .upload(
            "alice",
            "c1",
            "a.zip",
            "application/zip",
            b"PK\x03\x04 zipped",
        )
        .await
        .refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type");
    server
        .upload("alice", "c1", "page.html", "text/html", b"<p>hi</p>")
        .await
        .refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type");
    let corrupt = server
        .upload(
            "alice",
            "c1",
            "cat.png",
            "image/png",
            b"these are words, not a picture",
        )
        .await;
    corrupt.refused(StatusCode::UNPROCESSABLE_ENTITY, "corrupt_file");
    assert!(
        corrupt.json()["message"]
            .as_str()
            .unwrap()
            .contains("image/png")
    );
    server
        .upload("alice", "c1", "cat.jpg", "image/jpeg", &PNG[..])
        .await
        .refused(StatusCode::UNPROCESSABLE_ENTITY, "corrupt_file");
    server
        .upload(
            "alice",
            "c1",
            "notes.txt",
            "text/plain",
            &[0x66, 0xff, 0x00],
        )
        .await
        .refused(StatusCode::UNPROCESSABLE_ENTITY, "corrupt_file");
    // A file that says it is more than an image may be, found to be an image once it arrived.
    let mut twelve_megabytes = PNG.to_vec();
    twelve_megabytes.resize(12 * 1024 * 1024, 0);
    server
        .upload("alice", "c1", "big.bin", "", &twelve_megabytes)
        .await
        .refused(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    server
        .upload("alice", "c1", "", "text/plain", b"no name")
        .await
        .refused(StatusCode::BAD_REQUEST, "bad_request");
    server
        .upload("alice", "c1", "empty.txt", "text/plain", b"")
        .await
        .refused(StatusCode::BAD_REQUEST, "bad_request");
    server
        .upload("alice", "..", "x.txt", "text/plain", b"x")
        .await
        .refused(StatusCode::BAD_REQUEST, "invalid_id");
    assert_eq!(server.usage("alice").await, 0, "nothing was stored");
    let c1 = ConversationId::parse("c1").unwrap();
    assert!(
        server
            .store
            .list(&UserId::parse("alice").unwrap(), &c1)
            .await
            .unwrap()
            .is_empty()
    );

    let small = Server::new(PNG.len() as u64 + 10);
    assert_eq!(
        small
            .upload("alice", "c1", "a.png", "image/png", &PNG[..])
            .await
            .status,
        StatusCode::CREATED
    );
    let over = small
        .upload("alice", "c2", "b.png", "image/png", &PNG[..])
        .await;
    over.refused(StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded");
    assert!(
        over.json()["message"]
            .as_str()
            .unwrap()
            .contains("storage limit")
    );
    assert_eq!(small.usage("alice").await, PNG.len() as u64);
    assert_eq!(
        small
            .upload("bob", "c1", "b.png", "image/png", &PNG[..])
            .await
            .status,
        StatusCode::CREATED,
        "bob's quota is his own"
    );
}

#[tokio::test]
async fn a_user_cannot_read_delete_or_send_another_user_s_attachment() {
    let server = Server::new(QUOTA);
    let id = server
        .upload("alice", "c1", "cat.png", "image/png", &PNG[..])
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/conversations/c1/attachments/{id}");
    server
        .read("bob", &path)
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");
    server
        .delete("bob", &path)
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");
    server
        .read("alice", &format!("/api/conversations/c2/attachments/{id}"))
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");
    let frame = json!({"action": "sendMessage", "conversationId": "c1", "message": "look",
                       "clientMessageId": "m1", "attachments": [id]})
    .to_string();
    let refused = server
        .chat
        .handle_frame(&UserId::parse("bob").unwrap(), &frame)
        .await
        .expect("an error frame");
    let ServerFrame::Error { code, message, .. } = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        code,
        serverless_openclaw_core::protocol::ErrorCode::BadRequest
    );
    assert!(message.contains("does not exist"), "{message}");
    let bobs = server.get("bob", "/api/conversations/c1/messages").await;
    assert_eq!(
        bobs.status,
        StatusCode::NOT_FOUND,
        "bob's message was not stored"
    );
    assert_eq!(
        server.read("alice", &path).await.body,
        &PNG[..],
        "alice still has it"
    );
}

#[tokio::test]
async fn a_message_s_attachments_show_in_its_history_and_go_with_its_conversation() {
    let server = Server::new(QUOTA);
    let image = server
        .upload("alice", "c1", "cat.png", "image/png", &PNG[..])
        .await
        .json();
    let file = server
        .upload("alice", "c1", "notes.md", "text/markdown", b"# hi")
        .await
        .json();
    let unsent = server
        .upload("alice", "c1", "later.txt", "text/plain", b"later")
        .await
        .json();
    let frame = json!({"action": "sendMessage", "conversationId": "c1", "message": "",
                       "clientMessageId": "m1", "attachments": [image["id"], file["id"]]})
    .to_string();
    assert_eq!(
        server
            .chat
            .handle_frame(&UserId::parse("alice").unwrap(), &frame)
            .await,
        None,
        "a blank message with attachments is accepted"
    );
    let again = server
        .chat
        .handle_frame(&UserId::parse("alice").unwrap(), &frame)
        .await;
    assert_eq!(
        again, None,
        "a resent message links its attachments again harmlessly"
    );
    let history = server
        .get("alice", "/api/conversations/c1/messages")
        .await
        .json();
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    assert_eq!(history["messages"][0]["attachments"], json!([image, file]));
    let listed = server.get("alice", "/api/conversations").await.json();
    assert_eq!(
        listed["conversations"][0]["title"], "cat.png and 1 more",
        "a first message without text titles its conversation by what it sent"
    );

    let reuse = json!({"action": "sendMessage", "conversationId": "c1", "message": "again",
                       "clientMessageId": "m2", "attachments": [image["id"]]})
    .to_string();
    let refused = server
        .chat
        .handle_frame(&UserId::parse("alice").unwrap(), &reuse)
        .await;
    assert!(
        matches!(&refused, Some(ServerFrame::Error { message, .. }) if message.contains("another message")),
        "{refused:?}"
    );

    let unsent_path = format!(
        "/api/conversations/c1/attachments/{}",
        unsent["id"].as_str().unwrap()
    );
    assert_eq!(
        server.delete("alice", &unsent_path).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.read("alice", &unsent_path).await.status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        server.delete("alice", "/api/conversations/c1").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.usage("alice").await,
        0,
        "the conversation's attachments are gone"
    );
    let image_path = format!(
        "/api/conversations/c1/attachments/{}",
        image["id"].as_str().unwrap()
    );
    assert_eq!(
        server.read("alice", &image_path).await.status,
        StatusCode::NOT_FOUND
    );

    // A conversation that never got a message is not listed, but its uploads are deleted with it.
    server
        .upload("alice", "draft", "cat.png", "image/png", &PNG[..])
        .await;
    server
        .delete("alice", "/api/conversations/draft")
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(server.usage("alice").await, 0);
}

#[tokio::test]
async fn an_upload_target_takes_only_its_own_bytes_and_only_its_user_completes_it() {
    let server = Server::new(QUOTA);
    let begun = server
        .begin("alice", "c1", "cat.png", "image/png", PNG.len())
        .await;
    assert_eq!(begun.status, StatusCode::CREATED, "{}", begun.json());
    let view = begun.json();
    let (target, upload) = (&view["target"], view["uploadId"].as_str().unwrap());
    assert!(target["expiresAt"].as_str().is_some());

    let longer = [&PNG[..], b"more"].concat();
    assert_eq!(server.put(target, &longer).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        server.put(target, &PNG[..PNG.len() - 1]).await,
        StatusCode::BAD_REQUEST
    );
    let url = target["url"].as_str().unwrap();
    let forged = json!({"method": "PUT", "url": url.replacen(".alice.", ".bob.", 1)
        .replacen("/uploads/alice.", "/uploads/bob.", 1)});
    assert_eq!(server.put(&forged, &PNG[..]).await, StatusCode::FORBIDDEN);
    let mut bad_signature = url.to_owned();
    bad_signature.pop();
    bad_signature.push(if url.ends_with('0') { '1' } else { '0' });
    assert_eq!(
        server
            .put(&json!({"method": "PUT", "url": bad_signature}), &PNG[..])
            .await,
        StatusCode::FORBIDDEN
    );
    server
        .complete("alice", "c1", upload, "cat.png", "image/png")
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");

    assert_eq!(server.put(target, &PNG[..]).await, StatusCode::NO_CONTENT);
    server
        .complete("bob", "c1", upload, "cat.png", "image/png")
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");
    server
        .complete("alice", "c2", upload, "cat.png", "image/png")
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");
    let done = server
        .complete("alice", "c1", upload, "cat.png", "image/png")
        .await;
    assert_eq!(done.status, StatusCode::CREATED);
    assert_eq!(
        done.json()["id"],
        upload,
        "the upload id is the attachment's"
    );
    let again = server
        .complete("alice", "c1", upload, "cat.png", "image/png")
        .await;
    assert_eq!(
        (again.status, again.json()),
        (StatusCode::CREATED, done.json()),
        "completing again (a retry) answers the same"
    );
    assert_eq!(server.usage("alice").await, PNG.len() as u64);
    assert_eq!(server.usage("bob").await, 0);
}

#[tokio::test]
async fn a_refused_completion_removes_what_arrived() {
    let server = Server::new(QUOTA);
    let words = b"these are words, not a picture";
    let view = server
        .begin("alice", "c1", "cat.png", "image/png", words.len())
        .await
        .json();
    assert_eq!(
        server.put(&view["target"], words).await,
        StatusCode::NO_CONTENT
    );
    let upload = view["uploadId"].as_str().unwrap();
    server
        .complete("alice", "c1", upload, "cat.png", "image/png")
        .await
        .refused(StatusCode::UNPROCESSABLE_ENTITY, "corrupt_file");
    server
        .complete("alice", "c1", upload, "cat.txt", "text/plain")
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(server.usage("alice").await, 0);
}

#[tokio::test]
async fn a_download_link_answers_until_it_expires_and_never_once_altered() {
    use serverless_openclaw_core::ports::AttachmentLinks;
    let server = Server::new(QUOTA);
    let view = server
        .upload("alice", "c1", "cat.png", "image/png", &PNG[..])
        .await
        .json();
    let path = format!(
        "/api/conversations/c1/attachments/{}",
        view["id"].as_str().unwrap()
    );
    let link = server.get("alice", &format!("{path}/link")).await.json();
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with("/downloads/"), "{link}");
    assert!(
        link["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{link}"
    );
    let fetched = server.fetch(url).await;
    assert_eq!(
        (fetched.status, fetched.body.as_slice()),
        (StatusCode::OK, &PNG[..])
    );

    // Another user's name in the token, a token of the upload route, a truncated signature.
    let forged = url.replacen("/downloads/alice.", "/downloads/bob.", 1);
    let upload = server
        .begin("alice", "c1", "cat.png", "image/png", PNG.len())
        .await
        .json();
    let upload_token =
        upload["target"]["url"]
            .as_str()
            .unwrap()
            .replacen("/uploads/", "/downloads/", 1);
    for refused in [
        forged.as_str(),
        &upload_token,
        &url[..url.len() - 2],
        "/downloads/x",
    ] {
        server
            .fetch(refused)
            .await
            .refused(StatusCode::FORBIDDEN, "forbidden");
    }

    // A link made to last no time has expired when it is fetched.
    let alice = UserId::parse("alice").unwrap();
    let stored = server
        .store
        .list(&alice, &ConversationId::parse("c1").unwrap())
        .await
        .unwrap()
        .remove(0);
    let expired = server
        .links
        .link(&alice, &stored, std::time::Duration::ZERO)
        .await
        .unwrap();
    server
        .fetch(&expired.url)
        .await
        .refused(StatusCode::FORBIDDEN, "forbidden");

    // A deleted attachment's link answers nothing.
    server.delete("alice", &path).await;
    server
        .fetch(url)
        .await
        .refused(StatusCode::FORBIDDEN, "forbidden");
}
