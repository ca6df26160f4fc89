//! The DynamoDB conversation store on moto server: the shared contract, plus what only a distributed
//! store can get wrong (racing duplicates, deletes racing replies, key-range paging, half-done deletes,
//! a missing table).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serverless_openclaw_aws::conversations::{DynamoConversationStore, create_table};
use serverless_openclaw_core::domain::{Channel, NewAssistantMessage, NewUserMessage, Usage};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{ConversationStore, PortError};
use serverless_openclaw_testkit::contract;
use serverless_openclaw_testkit::moto::{Moto, unique_name};
use time::OffsetDateTime;
use tokio::sync::Mutex;

/// A store on a fresh table, with the raw client and the table name for looking underneath.
async fn fresh_store() -> (DynamoConversationStore, Client, String) {
    fresh_store_at(Moto::shared().endpoint()).await
}

/// The same, talking to moto through `endpoint` (moto's own or a [`SerialFront`]).
async fn fresh_store_at(endpoint: &str) -> (DynamoConversationStore, Client, String) {
    let config = Moto::shared()
        .sdk_config()
        .into_builder()
        .endpoint_url(endpoint)
        .build();
    let client = Client::new(&config);
    let table = unique_name("conversations");
    create_table(&client, &table).await.expect("create table");
    (
        DynamoConversationStore::new(client.clone(), &table),
        client,
        table,
    )
}

/// A front for moto that passes one request at a time, as DynamoDB serialises the transactions that
/// touch an item. moto runs requests on parallel threads and its TransactWriteItems is not atomic
/// across them: it snapshots the table, and on cancellation restores the snapshot, dropping what other
/// requests wrote meanwhile. The front can also answer TransactWriteItems with the cancellation
/// DynamoDB gives when another transaction holds an item, which moto never does.
struct SerialFront {
    endpoint: String,
    /// TransactWriteItems calls seen, including the ones answered with a conflict.
    transactions: Arc<AtomicUsize>,
}

struct FrontState {
    one_at_a_time: Mutex<()>,
    conflicts_left: AtomicUsize,
    transactions: Arc<AtomicUsize>,
    http: reqwest::Client,
}

impl SerialFront {
    /// A front answering the first `conflicts` TransactWriteItems calls with a conflict.
    async fn start(conflicts: usize) -> SerialFront {
        let transactions = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(FrontState {
            one_at_a_time: Mutex::new(()),
            conflicts_left: AtomicUsize::new(conflicts),
            transactions: Arc::clone(&transactions),
            http: reqwest::Client::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        SerialFront {
            endpoint,
            transactions,
        }
    }
}

async fn forward(
    State(state): State<Arc<FrontState>>,
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _turn = state.one_at_a_time.lock().await;
    let target = headers.get("x-amz-target").and_then(|t| t.to_str().ok());
    if target == Some("DynamoDB_20120810.TransactWriteItems") {
        state.transactions.fetch_add(1, Ordering::SeqCst);
        let conflict = state
            .conflicts_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if conflict {
            return transaction_conflict();
        }
    }
    for hop in [header::HOST, header::CONTENT_LENGTH] {
        headers.remove(hop);
    }
    let url = format!("{}{uri}", Moto::shared().endpoint());
    let answer = state
        .http
        .request(method, url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .expect("moto answers");
    let status = answer.status();
    let mut headers = answer.headers().clone();
    for hop in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ] {
        headers.remove(hop);
    }
    let body = answer.bytes().await.expect("moto's body");
    (status, headers, body).into_response()
}

/// DynamoDB's answer when another transaction is writing the first item at the same moment.
fn transaction_conflict() -> Response {
    let body = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None, None]",
        "CancellationReasons": [
            {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
            {"Code": "None"},
            {"Code": "None"},
        ],
    });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}

fn alice() -> UserId {
    UserId::parse("alice").unwrap()
}

fn conv(id: &str) -> ConversationId {
    ConversationId::parse(id).unwrap()
}

fn user_message(client_id: &str, content: &str) -> NewUserMessage {
    NewUserMessage {
        id: MessageId::generate(),
        client_message_id: ClientMessageId::parse(client_id).unwrap(),
        content: content.into(),
        channel: Channel::Web,
        created_at: OffsetDateTime::now_utc(),
    }
}

fn reply(to: &MessageId) -> NewAssistantMessage {
    NewAssistantMessage {
        id: MessageId::generate(),
        reply_to: to.clone(),
        also_answers: Vec::new(),
        content: "reply".into(),
        channel: Channel::Web,
        usage: Usage::default(),
        cost_usd: None,
        duration_ms: 1,
        activity: None,
        created_at: OffsetDateTime::now_utc(),
    }
}

/// Appends `n` user messages of alice to `c`, saying "0", "1", ...; their ids, in order.
async fn append_numbered(
    store: &DynamoConversationStore,
    c: &ConversationId,
    n: usize,
) -> Vec<MessageId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let appended = store
            .append_user_message(&alice(), c, user_message(&format!("m{i}"), &i.to_string()))
            .await
            .unwrap();
        ids.push(appended.message_id);
    }
    ids
}

/// How many items the table holds under a partition key.
async fn items_under(client: &Client, table: &str, pk: &str) -> usize {
    let out = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
        .send()
        .await
        .expect("query");
    out.items().len()
}

#[tokio::test]
async fn dynamo_conversation_store_honours_the_contract() {
    let (store, _, _) = fresh_store().await;
    contract::conversation_store(&store).await;
}

#[tokio::test]
async fn dynamo_telegram_store_honours_the_contract_in_the_conversations_table() {
    let (conversations, client, table) = fresh_store().await;
    let store = serverless_openclaw_aws::DynamoTelegramStore::new(client, table);
    contract::processed_updates(&store, 1_000).await;
    contract::link_codes(&store, 1_000).await;
    contract::telegram_links(&store, 1_000).await;
    contract::conversation_store(&conversations).await;
}

#[tokio::test]
async fn linking_follows_its_policy_on_dynamodb() {
    let (_, client, table) = fresh_store().await;
    let store = serverless_openclaw_aws::DynamoTelegramStore::new(client, table);
    contract::linking(Arc::new(store), 2_000).await;
}

#[tokio::test]
async fn an_owner_index_item_left_without_its_link_is_not_listed() {
    use serverless_openclaw_core::ports::TelegramLinks;
    let (_, client, table) = fresh_store().await;
    let store = serverless_openclaw_aws::DynamoTelegramStore::new(client.clone(), &table);
    let (alice, bob) = (
        UserId::parse("alice").unwrap(),
        UserId::parse("bob").unwrap(),
    );
    store.link(7, &alice).await.unwrap();
    store.link(8, &bob).await.unwrap();
    // As if linking 8 to alice had failed after writing her index item.
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("USER#alice".into()))
        .item("sk", AttributeValue::S("TGLINK#8".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(store.linked_telegram_users(&alice).await.unwrap(), [7]);
    assert_eq!(store.linked_telegram_users(&bob).await.unwrap(), [8]);
}

#[tokio::test]
async fn dynamo_settings_store_honours_the_contract_in_the_conversations_table() {
    let (conversations, client, table) = fresh_store().await;
    let store = serverless_openclaw_aws::DynamoSettingsStore::new(client, table);
    contract::settings_store(&store).await;
    contract::conversation_store(&conversations).await;
}

#[tokio::test]
async fn concurrent_appends_of_one_client_message_store_it_once() {
    let front = SerialFront::start(0).await;
    let (store, _, _) = fresh_store_at(&front.endpoint).await;
    let (user, c) = (alice(), conv("race"));
    for round in 0..10 {
        let client_id = format!("m{round}");
        let (a, b) = tokio::join!(
            store.append_user_message(&user, &c, user_message(&client_id, "hi")),
            store.append_user_message(&user, &c, user_message(&client_id, "hi")),
        );
        let (a, b) = (a.expect("first append"), b.expect("second append"));
        assert_eq!(a.message_id, b.message_id, "round {round}");
        assert!(a.duplicate != b.duplicate, "round {round}: {a:?} {b:?}");
    }
    let messages = store.list_messages(&user, &c, 50, None).await.unwrap();
    assert_eq!(messages.len(), 10);
    let listed = store.list_conversations(&user).await.unwrap();
    assert_eq!(listed[0].message_count, 10);
}

#[tokio::test]
async fn an_append_that_meets_a_transaction_in_flight_is_tried_again() {
    let front = SerialFront::start(2).await;
    let (store, _, _) = fresh_store_at(&front.endpoint).await;
    let c = conv("default");
    let appended = store
        .append_user_message(&alice(), &c, user_message("m1", "hi"))
        .await
        .expect("append");
    assert!(!appended.duplicate);
    assert_eq!(front.transactions.load(Ordering::SeqCst), 3);
    let messages = store.list_messages(&alice(), &c, 50, None).await.unwrap();
    assert_eq!(messages.len(), 1);
}

#[tokio::test]
async fn a_transaction_that_keeps_meeting_conflicts_gives_up_with_a_backend_error() {
    let front = SerialFront::start(usize::MAX).await;
    let (store, _, _) = fresh_store_at(&front.endpoint).await;
    let err = store
        .append_user_message(&alice(), &conv("default"), user_message("m1", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Backend(_)), "{err:?}");
    assert!(
        err.to_string().contains("TransactionCanceledException"),
        "{err}"
    );
    assert_eq!(front.transactions.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn a_reply_after_the_conversation_is_deleted_is_not_found() {
    let (store, client, table) = fresh_store().await;
    let c = conv("doomed");
    let sent = store
        .append_user_message(&alice(), &c, user_message("m1", "hi"))
        .await
        .unwrap();
    store.delete_conversation(&alice(), &c).await.unwrap();
    let late = store
        .append_assistant_message(&alice(), &c, reply(&sent.message_id))
        .await;
    assert!(matches!(late, Err(PortError::NotFound)), "{late:?}");
    assert_eq!(items_under(&client, &table, "CONV#alice#doomed").await, 0);
    assert!(store.list_conversations(&alice()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reply_to_a_message_never_stored_is_not_found() {
    let (store, _, _) = fresh_store().await;
    let c = conv("default");
    store
        .append_user_message(&alice(), &c, user_message("m1", "hi"))
        .await
        .unwrap();
    let stray = store
        .append_assistant_message(&alice(), &c, reply(&MessageId::generate()))
        .await;
    assert!(matches!(stray, Err(PortError::NotFound)), "{stray:?}");
    let listed = store.list_conversations(&alice()).await.unwrap();
    assert_eq!(listed[0].message_count, 1);
}

#[tokio::test]
async fn paging_with_before_walks_back_through_every_message_in_order() {
    let (store, _, _) = fresh_store().await;
    let c = conv("long");
    append_numbered(&store, &c, 35).await;
    let mut pages = Vec::new();
    let mut before: Option<MessageId> = None;
    // Bounded, so paging that never reaches the start fails instead of hanging.
    for _ in 0..6 {
        let page = store
            .list_messages(&alice(), &c, 10, before.as_ref())
            .await
            .unwrap();
        let Some(oldest) = page.first() else { break };
        before = Some(oldest.id.clone());
        pages.push(page.iter().map(|m| m.content.clone()).collect::<Vec<_>>());
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 10, 5]
    );
    let walked: Vec<String> = pages.into_iter().rev().flatten().collect();
    let expected: Vec<String> = (0..35).map(|i| i.to_string()).collect();
    assert_eq!(walked, expected);
}

#[tokio::test]
async fn the_latest_user_messages_are_found_past_pages_of_replies() {
    let (store, _, _) = fresh_store().await;
    let c = conv("queued");
    // Twelve messages sent while the agent was busy, then replies to all but the last: the newest
    // items are replies, so the first filtered page holds no user message.
    let asked = append_numbered(&store, &c, 12).await;
    for id in &asked[..11] {
        store
            .append_assistant_message(&alice(), &c, reply(id))
            .await
            .unwrap();
    }
    let latest = store.latest_user_messages(&alice(), &c, 5).await.unwrap();
    assert_eq!(
        latest
            .iter()
            .map(|m| (m.content.as_str(), m.answered))
            .collect::<Vec<_>>(),
        [
            ("7", true),
            ("8", true),
            ("9", true),
            ("10", true),
            ("11", false)
        ]
    );
}

#[tokio::test]
async fn after_a_delete_the_same_client_message_id_starts_afresh() {
    let (store, _, _) = fresh_store().await;
    let c = conv("default");
    let first = store
        .append_user_message(&alice(), &c, user_message("m1", "first life"))
        .await
        .unwrap();
    store.delete_conversation(&alice(), &c).await.unwrap();
    let again = store
        .append_user_message(&alice(), &c, user_message("m1", "second life"))
        .await
        .unwrap();
    assert!(!again.duplicate);
    assert_ne!(again.message_id, first.message_id);
    let messages = store.list_messages(&alice(), &c, 50, None).await.unwrap();
    assert_eq!(
        messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["second life"]
    );
}

#[tokio::test]
async fn deleting_again_finishes_a_delete_that_died_half_way() {
    let (store, client, table) = fresh_store().await;
    let c = conv("default");
    store
        .append_user_message(&alice(), &c, user_message("m1", "hi"))
        .await
        .unwrap();
    // What a delete leaves when it dies right after removing the conversation item.
    client
        .delete_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("USER#alice".into()))
        .key("sk", AttributeValue::S("CONV#default".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(items_under(&client, &table, "CONV#alice#default").await, 2);
    let retried = store.delete_conversation(&alice(), &c).await;
    assert!(matches!(retried, Err(PortError::NotFound)), "{retried:?}");
    assert_eq!(items_under(&client, &table, "CONV#alice#default").await, 0);
}

#[tokio::test]
async fn a_store_on_a_missing_table_fails_with_a_backend_error_naming_it() {
    let client = Client::new(&Moto::shared().sdk_config());
    let table = unique_name("missing");
    let store = DynamoConversationStore::new(client, &table);
    let err = store.list_conversations(&alice()).await.unwrap_err();
    assert!(matches!(err, PortError::Backend(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&table) && text.contains("ResourceNotFoundException"),
        "{text}"
    );
}
