//! Message search on DynamoDB (moto server): the shared contract (which includes a user never finding
//! another user's messages) and the one of edited and regenerated exchanges (whose earlier versions
//! search leaves out), the table's index as the CDK app declares it, and the backfill that indexes
//! messages stored before search existed.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serverless_openclaw_aws::conversations::{DynamoConversationStore, create_table};
use serverless_openclaw_aws::search::{Backfill, MESSAGES_BY_USER};
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{ConversationStore, MessageSearch};
use serverless_openclaw_core::search::SearchQuery;
use serverless_openclaw_testkit::contract;
use serverless_openclaw_testkit::moto::{Moto, unique_name};

async fn fresh_store() -> (DynamoConversationStore, Client, String) {
    let client = Client::new(&Moto::shared().sdk_config());
    let table = unique_name("conversations");
    create_table(&client, &table).await.expect("create table");
    (
        DynamoConversationStore::new(client.clone(), &table),
        client,
        table,
    )
}

#[tokio::test]
async fn dynamo_message_search_honours_the_contract() {
    let (store, _, _) = fresh_store().await;
    contract::message_search(&store, &store).await;
}

#[tokio::test]
async fn dynamo_exchange_versions_honour_the_contract() {
    let (store, _, _) = fresh_store().await;
    contract::exchange_versions(&store, &store).await;
}

#[tokio::test]
async fn the_table_has_the_index_the_cdk_app_declares() {
    let (_, client, table) = fresh_store().await;
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let index = described
        .table()
        .and_then(|t| {
            t.global_secondary_indexes()
                .iter()
                .find(|i| i.index_name() == Some(MESSAGES_BY_USER))
        })
        .expect("the index");
    let keys: Vec<_> = index
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(keys, [("searchUser", "HASH"), ("sk", "RANGE")]);
    let mut projected = index
        .projection()
        .map(|p| p.non_key_attributes().to_vec())
        .unwrap_or_default();
    projected.sort();
    assert_eq!(projected, ["createdAt", "role", "searchText"]);
}

/// A message item as the store wrote it before search existed: without `searchUser`/`searchText`.
async fn put_unindexed(client: &Client, table: &str, user: &str, conv: &str, n: usize, text: &str) {
    let s = |v: String| AttributeValue::S(v);
    client
        .put_item()
        .table_name(table)
        .item("pk", s(format!("USER#{user}")))
        .item("sk", s(format!("CONV#{conv}")))
        .item("title", s(format!("Old {conv}")))
        .item("createdAt", AttributeValue::N("1".into()))
        .item("updatedAt", AttributeValue::N("1".into()))
        .item("messageCount", AttributeValue::N(n.to_string()))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(table)
        .item("pk", s(format!("CONV#{user}#{conv}")))
        // UUIDv7-shaped ids of 2023, in order.
        .item("sk", s(format!("MSG#018b0000-0000-7000-8000-{n:012}")))
        .item("role", s("user".into()))
        .item("content", s(text.into()))
        .item("channel", s("web".into()))
        .item("clientMessageId", s(format!("old-{n}")))
        .item(
            "createdAt",
            AttributeValue::N((1_700_000_000_000 + n).to_string()),
        )
        .send()
        .await
        .unwrap();
}

async fn find(store: &DynamoConversationStore, user: &str, raw: &str) -> Vec<String> {
    store
        .search_messages(
            &UserId::parse(user).unwrap(),
            &SearchQuery::parse(raw).unwrap(),
            50,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect()
}

#[tokio::test]
async fn messages_stored_before_search_are_indexed_by_the_backfill_a_piece_at_a_time() {
    let (store, client, table) = fresh_store().await;
    put_unindexed(&client, &table, "alice", "trip", 0, "The zebra crossing").await;
    put_unindexed(&client, &table, "bob", "trip", 1, "Zebra stripes, says Bob").await;
    // More than a megabyte of old messages: the scan takes more than one page.
    let filler = "lorem ipsum dolor sit amet ".repeat(1_100);
    for n in 2..42 {
        put_unindexed(&client, &table, "alice", "filler", n, &filler).await;
    }
    // A message written today is indexed already, and a deleted conversation stays deleted.
    store
        .append_user_message(
            &UserId::parse("alice").unwrap(),
            &ConversationId::parse("new").unwrap(),
            serverless_openclaw_core::domain::NewUserMessage {
                id: serverless_openclaw_core::ids::MessageId::generate(),
                client_message_id: serverless_openclaw_core::ids::ClientMessageId::parse("n1")
                    .unwrap(),
                content: "A zebra today".into(),
                channel: serverless_openclaw_core::domain::Channel::Web,
                created_at: time::OffsetDateTime::now_utc(),
            },
        )
        .await
        .unwrap();
    assert_eq!(find(&store, "alice", "zebra").await, ["A zebra today"]);

    // No time left after a page: the first call stops after one, the next continues from there.
    let first = store.backfill_search_index(Duration::ZERO).await.unwrap();
    let Backfill::Paused { indexed: first } = first else {
        panic!("expected a pause after the first page: {first:?}");
    };
    assert!(first > 0 && first < 42, "{first}");
    let second = store
        .backfill_search_index(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        second,
        Backfill::Finished {
            indexed: 42 - first
        }
    );
    assert_eq!(
        store
            .backfill_search_index(Duration::from_secs(60))
            .await
            .unwrap(),
        Backfill::Complete
    );

    assert_eq!(
        find(&store, "alice", "zebra").await,
        ["A zebra today", "The zebra crossing"]
    );
    assert_eq!(
        find(&store, "bob", "zebra").await,
        ["Zebra stripes, says Bob"]
    );
    assert_eq!(find(&store, "alice", "lorem").await.len(), 40);
    let hits = store
        .search_messages(
            &UserId::parse("alice").unwrap(),
            &SearchQuery::parse("crossing").unwrap(),
            5,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].conversation_title, "Old trip");
}
