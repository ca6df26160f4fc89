//! The port contract suites run against the local adapters.

use serverless_openclaw_local::{FileTranscriptStore, SqliteConversationStore};
use serverless_openclaw_testkit::contract;

#[tokio::test]
async fn sqlite_conversation_store_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteConversationStore::open(&dir.path().join("db.sqlite")).unwrap();
    contract::conversation_store(&store).await;
}

#[tokio::test]
async fn file_transcript_store_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract::transcript_store(&FileTranscriptStore::new(dir.path())).await;
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
