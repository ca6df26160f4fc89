//! The port contract suites run against the local adapters.

use std::sync::Arc;

use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{ConversationStore, MessageSearch};
use serverless_openclaw_core::search::SearchQuery;
use serverless_openclaw_local::{
    FileApiKeyStore, FileTranscriptStore, FileWorkspaceStore, MemoryConnectionStore,
    MemorySessionLeases, SqliteConversationStore, SqliteSettingsStore, SqliteTelegramStore,
};
use serverless_openclaw_testkit::contract;

#[tokio::test]
async fn sqlite_conversation_store_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteConversationStore::open(&dir.path().join("db.sqlite")).unwrap();
    contract::conversation_store(&store).await;
}

/// A database made before replies kept their activity and user messages their reply target and
/// answer mark: the `messages` table without `activity`, `reply_target` and `answered_by`.
const SCHEMA_BEFORE_ACTIVITY: &str = "
CREATE TABLE conversations (user_id TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (user_id, id));
CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
    channel TEXT NOT NULL, client_message_id TEXT, reply_to TEXT UNIQUE, input_tokens INTEGER,
    output_tokens INTEGER, cost_usd REAL, duration_ms INTEGER, created_at INTEGER NOT NULL,
    UNIQUE (user_id, conversation_id, client_message_id),
    FOREIGN KEY (user_id, conversation_id) REFERENCES conversations (user_id, id) ON DELETE CASCADE);
INSERT INTO conversations VALUES ('alice', 'old', 'Old', 1, 2);
INSERT INTO messages (id, user_id, conversation_id, role, content, channel, client_message_id, created_at)
    VALUES ('u-old', 'alice', 'old', 'user', 'an old question', 'web', 'c1', 1),
           ('u-open', 'alice', 'old', 'user', 'an unanswered one', 'web', 'c2', 3);
INSERT INTO messages (id, user_id, conversation_id, role, content, channel, reply_to, input_tokens,
    output_tokens, cost_usd, duration_ms, created_at)
    VALUES ('m-old', 'alice', 'old', 'assistant', 'an old reply', 'web', 'u-old', 1, 2, NULL, 3, 2);
";

/// A database file as a version before activity (and search) left it, in `dir`.
fn database_before_activity(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("db.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(SCHEMA_BEFORE_ACTIVITY)
        .unwrap();
    path
}

#[tokio::test]
async fn an_sqlite_database_from_before_activity_is_migrated_and_its_replies_and_answers_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = database_before_activity(dir.path());
    let store = SqliteConversationStore::open(&path).unwrap();
    let (alice, old) = (
        UserId::parse("alice").unwrap(),
        ConversationId::parse("old").unwrap(),
    );
    let messages = store.list_messages(&alice, &old, 10, None).await.unwrap();
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.content.as_str(), m.activity.clone()))
            .collect::<Vec<_>>(),
        [
            ("an old question", None),
            ("an unanswered one", None),
            ("an old reply", None)
        ]
    );
    // The older replies' `reply_to` became their messages' answer marks.
    let latest = store.latest_user_messages(&alice, &old, 10).await.unwrap();
    assert_eq!(
        latest
            .iter()
            .map(|m| (m.id.as_str(), m.answered))
            .collect::<Vec<_>>(),
        [("u-old", true), ("u-open", false)]
    );
    let old_question = MessageId::parse("u-old").unwrap();
    assert!(
        store
            .is_answered(&alice, &old, &old_question)
            .await
            .unwrap()
    );
    // The migrated database is a full one: the contract holds on it (emptied), and it opens again.
    store.delete_conversation(&alice, &old).await.unwrap();
    contract::conversation_store(&store).await;
    drop(store);
    SqliteConversationStore::open(&path).unwrap();
}

#[tokio::test]
async fn sqlite_message_search_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteConversationStore::open(&dir.path().join("db.sqlite")).unwrap();
    contract::message_search(&store, &store).await;
}

#[tokio::test]
async fn sqlite_exchange_versions_honour_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteConversationStore::open(&dir.path().join("db.sqlite")).unwrap();
    contract::exchange_versions(&store, &store).await;
}

#[tokio::test]
async fn an_sqlite_database_from_before_search_is_indexed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = database_before_activity(dir.path());
    let alice = UserId::parse("alice").unwrap();
    let query = SearchQuery::parse("OLD repl").unwrap();
    let found = |store: SqliteConversationStore| {
        let (alice, query) = (alice.clone(), query.clone());
        async move {
            store
                .search_messages(&alice, &query, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|m| (m.conversation_title, m.message_id.to_string(), m.content))
                .collect::<Vec<_>>()
        }
    };
    let expected = [(
        "Old".to_owned(),
        "m-old".to_owned(),
        "an old reply".to_owned(),
    )];
    assert_eq!(
        found(SqliteConversationStore::open(&path).unwrap()).await,
        expected
    );
    // Opened again, the index is kept as it is, not filled a second time.
    assert_eq!(
        found(SqliteConversationStore::open(&path).unwrap()).await,
        expected
    );
}

#[tokio::test]
async fn sqlite_telegram_store_honours_the_contract_beside_the_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let conversations = SqliteConversationStore::open(&path).unwrap();
    let store = SqliteTelegramStore::open(&path).unwrap();
    contract::processed_updates(&store, 1_000).await;
    contract::link_codes(&store, 1_000).await;
    contract::telegram_links(&store, 1_000).await;
    contract::conversation_store(&conversations).await;
}

#[tokio::test]
async fn linking_follows_its_policy_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteTelegramStore::open(&dir.path().join("db.sqlite")).unwrap();
    contract::linking(Arc::new(store), 2_000).await;
}

#[tokio::test]
async fn sqlite_settings_store_honours_the_contract_beside_the_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let conversations = SqliteConversationStore::open(&path).unwrap();
    contract::settings_store(&SqliteSettingsStore::open(&path).unwrap()).await;
    contract::conversation_store(&conversations).await;
}

#[tokio::test]
async fn file_api_key_store_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract::api_key_store(&FileApiKeyStore::new(dir.path().join("secrets"))).await;
}

#[tokio::test]
async fn file_transcript_store_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract::transcript_store(&FileTranscriptStore::new(dir.path())).await;
}

#[tokio::test]
async fn file_workspace_store_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract::workspace_store(&FileWorkspaceStore::new(dir.path())).await;
}

#[tokio::test]
async fn a_workspace_store_keeps_files_in_the_users_folder_and_refuses_escaping_paths() {
    use serverless_openclaw_core::ids::UserId;
    use serverless_openclaw_core::ports::{PortError, WorkspaceStore};
    let dir = tempfile::tempdir().unwrap();
    let store = FileWorkspaceStore::new(dir.path());
    let u = UserId::parse("u").unwrap();
    let v = store
        .put(&u, "memory/2026-11-21.md", b"note\n", None)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("u/memory/2026-11-21.md")).unwrap(),
        b"note\n"
    );
    for bad in ["../escape.md", "/etc/passwd", "a/../../b"] {
        let refused = store.put(&u, bad, b"x", None).await;
        assert!(
            matches!(refused, Err(PortError::Backend(_))),
            "{bad}: {refused:?}"
        );
    }
    assert!(!dir.path().join("escape.md").exists());
    // Deleting the last file of a folder removes the folder too.
    store.delete(&u, "memory/2026-11-21.md", &v).await.unwrap();
    assert!(!dir.path().join("u/memory").exists());
    assert!(dir.path().join("u").exists());
}

#[tokio::test]
async fn a_transcript_save_leaves_no_temporary_files() {
    use serverless_openclaw_core::ids::{ConversationId, UserId};
    use serverless_openclaw_core::ports::TranscriptStore;
    let dir = tempfile::tempdir().unwrap();
    let store = FileTranscriptStore::new(dir.path());
    let (u, c) = (
        UserId::parse("u").unwrap(),
        ConversationId::parse("c").unwrap(),
    );
    let v = store.save(&u, &c, b"1\n", None).await.unwrap();
    store.save(&u, &c, b"2\n", Some(&v)).await.unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path().join("u"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["c.jsonl"]);
}

#[tokio::test]
async fn memory_connection_store_honours_the_contract() {
    contract::connection_store(&MemoryConnectionStore::new()).await;
}

#[tokio::test]
async fn memory_session_leases_honour_the_contract() {
    contract::session_leases(&MemorySessionLeases::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_concurrent_acquires_of_a_free_conversation_exactly_one_wins() {
    use std::sync::Arc;
    use std::time::Duration;

    use serverless_openclaw_core::ids::{ConversationId, UserId};
    use serverless_openclaw_core::ports::SessionLeases;
    use time::OffsetDateTime;

    let leases = Arc::new(MemorySessionLeases::new());
    let (user, conversation) = (
        UserId::parse("alice").unwrap(),
        ConversationId::parse("default").unwrap(),
    );
    let now = OffsetDateTime::now_utc();
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let (leases, user, conversation) =
                (Arc::clone(&leases), user.clone(), conversation.clone());
            tokio::spawn(async move {
                leases
                    .acquire(
                        &user,
                        &conversation,
                        &format!("worker-{i}"),
                        Duration::from_secs(60),
                        now,
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut granted = Vec::new();
    for attempt in attempts {
        granted.extend(attempt.await.unwrap());
    }
    assert_eq!(granted.len(), 1, "{granted:?}");
}

#[tokio::test]
async fn local_turn_queue_honours_the_contract() {
    use std::sync::Arc;

    use serverless_openclaw_core::CancellationToken;
    use serverless_openclaw_core::domain::Turn;
    use serverless_openclaw_local::{LocalTurnQueue, TurnHandler};
    use tokio::sync::mpsc;

    /// The consumer: hands each turn on as it runs it.
    struct Consumer(mpsc::UnboundedSender<Turn>);

    #[async_trait::async_trait]
    impl TurnHandler for Consumer {
        async fn handle(&self, turn: Turn, _cancel: CancellationToken) {
            let _ = self.0.send(turn);
        }
    }

    let (tx, mut rx) = mpsc::unbounded_channel();
    let queue = LocalTurnQueue::new(Arc::new(Consumer(tx)));
    contract::turn_queue(&queue, |n| async move {
        let mut got = Vec::new();
        while got.len() < n {
            got.push(rx.recv().await.expect("a delivered turn"));
        }
        got
    })
    .await;
}

#[tokio::test]
async fn file_attachment_store_honours_the_contract_and_keeps_its_files_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = serverless_openclaw_local::FileAttachmentStore::new(dir.path().join("attachments"));
    contract::attachment_store(&store).await;
    contract::attachment_quota_race(&store).await;

    // What a put leaves on disk is readable by its owner only.
    let (alice, c) = (
        UserId::parse("alice").unwrap(),
        ConversationId::parse("c").unwrap(),
    );
    let attachments = serverless_openclaw_core::attachments::Attachments::new(
        std::sync::Arc::new(store.clone()),
        1024,
    );
    attachments
        .upload(&alice, &c, "notes.txt", "text/plain", b"private")
        .await
        .unwrap();
    for entry in walk(&dir.path().join("attachments")) {
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        let want = if entry.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn file_uploads_honour_the_contract_through_their_signed_token() {
    use serverless_openclaw_core::ports::UploadInbox;
    use serverless_openclaw_local::uploads::UPLOAD_ROUTE;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(serverless_openclaw_local::FileAttachmentStore::new(
        dir.path().join("attachments"),
    ));
    let uploads =
        Arc::new(serverless_openclaw_local::FileUploads::new(dir.path().join("uploads")).unwrap());
    let inbox = uploads.clone();
    contract::pending_uploads(store, uploads, |target, bytes| {
        let inbox = inbox.clone();
        async move {
            assert_eq!(target.method, "PUT");
            let token = target
                .url
                .strip_prefix(UPLOAD_ROUTE)
                .expect("a local target");
            inbox.receive(token, &bytes).await.unwrap()
        }
    })
    .await;
}

#[tokio::test]
async fn file_links_honour_the_contract_through_their_signed_token() {
    use serverless_openclaw_core::attachments::served;
    use serverless_openclaw_core::ports::{AttachmentStore, LinkedAttachments};
    use serverless_openclaw_local::links::DOWNLOAD_ROUTE;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn AttachmentStore> = Arc::new(
        serverless_openclaw_local::FileAttachmentStore::new(dir.path().join("attachments")),
    );
    let links = Arc::new(serverless_openclaw_local::FileLinks::new(store.clone()).unwrap());
    let desk = links.clone();
    contract::attachment_links(store, links, |link| {
        let desk = desk.clone();
        async move {
            let token = link.url.strip_prefix(DOWNLOAD_ROUTE).expect("a local link");
            // The headers are what the download route sends (`server::rest::serve_download`).
            let (attachment, bytes) = desk.open(token).await.unwrap()?;
            let served = served(&attachment);
            Some(contract::Fetched {
                content_type: served.content_type,
                content_disposition: served.content_disposition,
                bytes,
            })
        }
    })
    .await;
}
