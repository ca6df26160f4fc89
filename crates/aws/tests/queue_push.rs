//! The SQS FIFO turn queue (moto) against the queue contract, cancel through the lease, and client
//! push through the API Gateway Management API (a local recorder, which can answer 410 Gone).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serverless_openclaw_aws::{ApiGatewayPush, SqsTurnQueue};
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ids::{ConnectionId, ConversationId, UserId};
use serverless_openclaw_core::ports::{ClientPush, ConnectionStore, SessionLeases, TurnQueue};
use serverless_openclaw_core::protocol::ServerFrame;
use serverless_openclaw_local::{MemoryConnectionStore, MemorySessionLeases};
use serverless_openclaw_testkit::apigw::ApiGatewayRecorder;
use serverless_openclaw_testkit::contract;
use serverless_openclaw_testkit::moto::{Moto, unique_name};
use time::OffsetDateTime;

async fn fifo_queue(sqs: &aws_sdk_sqs::Client) -> String {
    sqs.create_queue()
        .queue_name(format!("{}.fifo", unique_name("turns")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
        .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned()
}

#[tokio::test]
async fn sqs_turn_queue_honours_the_contract() {
    let sqs = aws_sdk_sqs::Client::new(&Moto::shared().sdk_config());
    let url = fifo_queue(&sqs).await;
    let queue = SqsTurnQueue::new(sqs.clone(), &url, Arc::new(MemorySessionLeases::new()));
    contract::turn_queue(&queue, |n| async move {
        // The event source mapping's part: receive, consume, delete (which frees the group's next).
        let mut got = Vec::new();
        for _ in 0..50 {
            if got.len() >= n {
                break;
            }
            let received = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            for message in received.messages.unwrap_or_default() {
                got.push(serde_json::from_str::<Turn>(message.body().unwrap()).expect("a turn"));
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        got
    })
    .await;
}

#[tokio::test]
async fn cancel_marks_the_running_turns_lease_and_is_false_without_one() {
    let sqs = aws_sdk_sqs::Client::new(&Moto::shared().sdk_config());
    let url = fifo_queue(&sqs).await;
    let leases = Arc::new(MemorySessionLeases::new());
    let queue = SqsTurnQueue::new(sqs, &url, leases.clone());
    let (user, conversation) = (
        UserId::parse("u").unwrap(),
        ConversationId::parse("c").unwrap(),
    );
    assert!(!queue.cancel(&user, &conversation).await.unwrap());
    let lease = leases
        .acquire(
            &user,
            &conversation,
            "agent",
            Duration::from_secs(60),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(queue.cancel(&user, &conversation).await.unwrap());
    assert!(leases.cancel_requested(&lease).await.unwrap());
}

#[tokio::test]
async fn push_reaches_every_connection_of_the_user_in_order_and_forgets_gone_ones() {
    let recorder = ApiGatewayRecorder::start().await;
    let connections = Arc::new(MemoryConnectionStore::new());
    let push = ApiGatewayPush::new(
        &Moto::shared().sdk_config(),
        recorder.endpoint(),
        connections.clone(),
    );
    let (alice, bob) = (
        UserId::parse("alice").unwrap(),
        UserId::parse("bob").unwrap(),
    );
    let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let (tab1, tab2, gone, bobs) = (
        ConnectionId::parse("tab1=").unwrap(),
        ConnectionId::parse("tab2=").unwrap(),
        ConnectionId::parse("gone=").unwrap(),
        ConnectionId::parse("bob=").unwrap(),
    );
    for (connection, user) in [
        (&tab1, &alice),
        (&tab2, &alice),
        (&gone, &alice),
        (&bobs, &bob),
    ] {
        connections.register(connection, user, later).await.unwrap();
    }
    recorder.mark_gone("gone=");

    push.push(&alice, &ServerFrame::Pong).await;
    let frame = ServerFrame::Error {
        code: serverless_openclaw_core::protocol::ErrorCode::Internal,
        message: "second".into(),
        client_message_id: None,
        conversation_id: None,
    };
    push.push(&alice, &frame).await;

    for tab in ["tab1=", "tab2="] {
        let frames = recorder.frames(tab);
        assert_eq!(frames.len(), 2, "{tab}: {frames:?}");
        assert_eq!(frames[0]["type"], "pong");
        assert_eq!(frames[1]["message"], "second");
    }
    assert!(
        recorder.frames("bob=").is_empty(),
        "another user's connection gets nothing"
    );
    // The gone connection's record was deleted on the first 410.
    assert_eq!(
        connections
            .user_of(&gone, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        None
    );
    let mut left = connections
        .connections_of(&alice, OffsetDateTime::now_utc())
        .await
        .unwrap();
    left.sort();
    assert_eq!(left, [tab1, tab2]);
}
