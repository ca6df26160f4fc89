//! The S3 adapters on moto server: the transcript and workspace contract suites, a stale writer that
//! must lose without touching the newer object, a missing bucket that must be a backend error, and a
//! user's skills kept under their workspace prefix (with their disabled list in DynamoDB).

use futures::{StreamExt, TryStreamExt, stream};
use serverless_openclaw_aws::config::s3_client;
use serverless_openclaw_aws::{S3TranscriptStore, S3WorkspaceStore};
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{PortError, TranscriptStore, WorkspaceStore};
use serverless_openclaw_testkit::archives::zip_of;
use serverless_openclaw_testkit::contract;
use serverless_openclaw_testkit::moto::{Moto, unique_name};

/// A client for the shared moto server and a fresh bucket of this test's own.
async fn bucket() -> (aws_sdk_s3::Client, String) {
    let client = s3_client(&Moto::shared().sdk_config());
    let name = unique_name("bucket");
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    (client, name)
}

fn ids() -> (UserId, ConversationId) {
    (
        UserId::parse("alice").unwrap(),
        ConversationId::parse("c1").unwrap(),
    )
}

#[tokio::test]
async fn s3_transcript_store_honours_the_contract() {
    let (client, name) = bucket().await;
    contract::transcript_store(&S3TranscriptStore::new(client, name)).await;
}

#[tokio::test]
async fn s3_workspace_store_honours_the_contract() {
    let (client, name) = bucket().await;
    contract::workspace_store(&S3WorkspaceStore::new(client, name)).await;
}

#[tokio::test]
async fn transcripts_and_workspace_files_are_stored_under_the_users_prefix() {
    let (client, name) = bucket().await;
    let (user, conversation) = ids();
    S3TranscriptStore::new(client.clone(), &name)
        .save(&user, &conversation, b"{}\n", None)
        .await
        .unwrap();
    S3WorkspaceStore::new(client.clone(), &name)
        .put(&user, "memory/2026-11-21.md", b"note\n", None)
        .await
        .unwrap();
    for (key, expected) in [
        ("transcripts/alice/c1.jsonl", &b"{}\n"[..]),
        ("workspaces/alice/memory/2026-11-21.md", &b"note\n"[..]),
    ] {
        let object = client
            .get_object()
            .bucket(&name)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(&bytes[..], expected, "{key}");
    }
}

#[tokio::test]
async fn a_stale_transcript_writer_gets_a_conflict_and_the_newer_transcript_survives() {
    let (client, name) = bucket().await;
    let store = S3TranscriptStore::new(client, name);
    let (user, conversation) = ids();
    store
        .save(&user, &conversation, b"v1\n", None)
        .await
        .unwrap();
    let loaded_v1 = store.load(&user, &conversation).await.unwrap().unwrap();
    // Someone else saves v2 on top of v1 meanwhile.
    let v2 = store
        .save(&user, &conversation, b"v2\n", Some(&loaded_v1.version))
        .await
        .unwrap();
    let stale = store
        .save(&user, &conversation, b"stale\n", Some(&loaded_v1.version))
        .await;
    match stale {
        Err(PortError::Conflict(message)) => {
            assert!(message.contains("transcripts/alice/c1.jsonl"), "{message}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let stored = store.load(&user, &conversation).await.unwrap().unwrap();
    assert_eq!(stored.bytes, b"v2\n");
    assert_eq!(stored.version, v2);
}

#[tokio::test]
async fn a_stale_workspace_writer_or_deleter_gets_a_conflict_and_the_newer_file_survives() {
    let (client, name) = bucket().await;
    let store = S3WorkspaceStore::new(client, name);
    let (user, _) = ids();
    store.put(&user, "MEMORY.md", b"v1\n", None).await.unwrap();
    let v1 = store.list(&user).await.unwrap().remove(0).version;
    let v2 = store
        .put(&user, "MEMORY.md", b"v2\n", Some(&v1))
        .await
        .unwrap();
    let stale_put = store.put(&user, "MEMORY.md", b"stale\n", Some(&v1)).await;
    assert!(
        matches!(stale_put, Err(PortError::Conflict(_))),
        "{stale_put:?}"
    );
    let stale_delete = store.delete(&user, "MEMORY.md", &v1).await;
    assert!(
        matches!(stale_delete, Err(PortError::Conflict(_))),
        "{stale_delete:?}"
    );
    let files = store.list(&user).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].bytes.as_slice(), &files[0].version),
        (&b"v2\n"[..], &v2)
    );
}

#[tokio::test]
async fn a_workspace_listing_reads_every_page() {
    let (client, name) = bucket().await;
    let store = S3WorkspaceStore::new(client.clone(), &name);
    let (user, _) = ids();
    // More than one ListObjectsV2 page (at most 1000 keys each), written straight to the bucket.
    stream::iter(0..1005)
        .map(|i| {
            client
                .put_object()
                .bucket(&name)
                .key(format!("workspaces/alice/memory/{i:04}.md"))
                .body(format!("{i}").into_bytes().into())
                .send()
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let files = store.list(&user).await.unwrap();
    assert_eq!(files.len(), 1005);
    assert_eq!(files[0].path, "memory/0000.md");
    assert_eq!(files[1004].path, "memory/1004.md");
    assert_eq!(files[1004].bytes, b"1004");
}

#[tokio::test]
async fn a_workspace_listing_skips_objects_with_invalid_paths_and_puts_refuse_them() {
    let (client, name) = bucket().await;
    let store = S3WorkspaceStore::new(client.clone(), &name);
    let (user, _) = ids();
    store.put(&user, "MEMORY.md", b"ok\n", None).await.unwrap();
    client
        .put_object()
        .bucket(&name)
        .key("workspaces/alice/has space.md")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let paths: Vec<String> = store
        .list(&user)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(paths, ["MEMORY.md"]);
    let refused = store.put(&user, "../escape.md", b"x", None).await;
    assert!(matches!(refused, Err(PortError::Backend(_))), "{refused:?}");
}

#[tokio::test]
async fn a_missing_bucket_is_a_backend_error() {
    let client = s3_client(&Moto::shared().sdk_config());
    let missing = unique_name("missing");
    let (user, conversation) = ids();
    let transcripts = S3TranscriptStore::new(client.clone(), &missing);
    let load = transcripts.load(&user, &conversation).await;
    assert!(matches!(load, Err(PortError::Backend(_))), "{load:?}");
    let save = transcripts.save(&user, &conversation, b"x", None).await;
    assert!(matches!(save, Err(PortError::Backend(_))), "{save:?}");
    let delete = transcripts.delete(&user, &conversation).await;
    assert!(matches!(delete, Err(PortError::Backend(_))), "{delete:?}");
    let workspaces = S3WorkspaceStore::new(client, &missing);
    match workspaces.list(&user).await {
        Err(PortError::Backend(e)) => assert!(e.to_string().contains("NoSuchBucket"), "{e}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

/// The keys under `prefix`, sorted.
async fn keys_under(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list");
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn skills_are_stored_replaced_disabled_and_deleted_under_the_user_s_workspace_prefix() {
    use std::sync::Arc;

    use serverless_openclaw_aws::DynamoSettingsStore;
    use serverless_openclaw_aws::conversations::create_table;
    use serverless_openclaw_core::skills::{Skills, Stored, skill_from_markdown, skill_from_zip};

    let (client, name) = bucket().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&Moto::shared().sdk_config());
    let table = unique_name("conversations");
    create_table(&dynamo, &table).await.expect("create table");
    let skills = Skills::new(
        Arc::new(S3WorkspaceStore::new(client.clone(), &name)),
        Arc::new(DynamoSettingsStore::new(dynamo, table)),
    );
    let (alice, _) = ids();
    let bob = UserId::parse("bob").unwrap();
    let md = "---\nname: zeta\ndescription: Zeta things\n---\n# Zeta\n";
    let zip = zip_of(&[("SKILL.md", md.as_bytes()), ("scripts/run.sh", b"echo")]);

    let stored = skills
        .put(&alice, "zeta", skill_from_zip("zeta", &zip).unwrap())
        .await
        .unwrap();
    assert_eq!(stored, Stored::Created);
    let prefix = "workspaces/alice/skills/";
    assert_eq!(
        keys_under(&client, &name, prefix).await,
        [
            "workspaces/alice/skills/zeta/SKILL.md",
            "workspaces/alice/skills/zeta/scripts/run.sh"
        ]
    );
    // Replaced by its SKILL.md alone: the script goes.
    let stored = skills
        .put(
            &alice,
            "zeta",
            skill_from_markdown("zeta", md.as_bytes()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(stored, Stored::Replaced);
    assert_eq!(
        keys_under(&client, &name, prefix).await,
        ["workspaces/alice/skills/zeta/SKILL.md"]
    );
    skills.set_enabled(&alice, "zeta", false).await.unwrap();
    let listed = skills.list(&alice).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].enabled);
    assert_eq!(listed[0].meta.as_ref().unwrap().description, "Zeta things");
    assert!(skills.list(&bob).await.unwrap().is_empty());

    skills.delete(&alice, "zeta").await.unwrap();
    assert!(keys_under(&client, &name, prefix).await.is_empty());
    assert!(skills.list(&alice).await.unwrap().is_empty());
    // Its disabled mark went with it: a new skill of that name starts enabled.
    skills
        .put(
            &alice,
            "zeta",
            skill_from_markdown("zeta", md.as_bytes()).unwrap(),
        )
        .await
        .unwrap();
    assert!(skills.list(&alice).await.unwrap()[0].enabled);
}
