//! The core turn processor on the AWS adapters (DynamoDB, S3 and leases on moto), for the races only
//! AWS has: a turn processor that lost its lease (its Lambda ran past the lease, and SQS redelivered the
//! turn to another) must not overwrite the newer transcript, and must say so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_aws::{DynamoConversationStore, DynamoSessionLeases, S3TranscriptStore};
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::{Channel, NewUserMessage, Role, Turn, TurnKind, Usage};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{
    AgentError, AgentEvent, AgentReply, AgentRuntime, AgentState, AgentStatus, AgentStatusSource,
    AgentTurn, ClientPush, ConversationStore, TranscriptStore,
};
use serverless_openclaw_core::protocol::{ErrorCode, ServerFrame};
use serverless_openclaw_core::turn::{
    LeasePolicy, MAX_RUNNING_TURNS_PER_USER, TurnOutcome, TurnProcessor,
};
use serverless_openclaw_testkit::moto::{Moto, unique_name};
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc};

/// An agent whose first turn stalls until released; every turn replies with the transcript `<name>`.
struct StallingAgent {
    calls: Mutex<u32>,
    stalled: Notify,
    release: Notify,
}

impl AgentStatusSource for StallingAgent {
    fn status(&self) -> AgentStatus {
        AgentStatus {
            state: AgentState::Ready,
            openclaw_version: None,
            model: None,
        }
    }
}

#[async_trait]
impl AgentRuntime for StallingAgent {
    async fn run_turn(
        &self,
        _turn: AgentTurn,
        events: mpsc::UnboundedSender<AgentEvent>,
        _cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError> {
        let call = {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        let _ = events.send(AgentEvent::Started);
        if call == 1 {
            self.stalled.notify_one();
            self.release.notified().await;
        }
        Ok(AgentReply {
            text: format!("reply {call}"),
            usage: Usage::default(),
            cost_usd: None,
            duration_ms: 1,
            transcript: format!("{{\"turn\":\"delivery {call}\"}}\n").into_bytes(),
            files: Vec::new(),
        })
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<ServerFrame>>);

#[async_trait]
impl ClientPush for Recorder {
    async fn push(&self, _user: &UserId, frame: &ServerFrame) {
        self.0.lock().unwrap().push(frame.clone());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_lease_holders_transcript_write_is_rejected_and_the_newer_transcript_stays() {
    let sdk = Moto::shared().sdk_config();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let (conversations_table, leases_table, bucket) = (
        unique_name("conversations"),
        unique_name("leases"),
        unique_name("bucket"),
    );
    serverless_openclaw_aws::conversations::create_table(&dynamodb, &conversations_table)
        .await
        .unwrap();
    serverless_openclaw_aws::leases::create_table(&dynamodb, &leases_table)
        .await
        .unwrap();
    let s3 = serverless_openclaw_aws::config::s3_client(&sdk);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let conversations = Arc::new(DynamoConversationStore::new(
        dynamodb.clone(),
        conversations_table,
    ));
    let transcripts = Arc::new(S3TranscriptStore::new(s3, bucket));
    let leases = Arc::new(DynamoSessionLeases::new(dynamodb, leases_table));
    let agent = Arc::new(StallingAgent {
        calls: Mutex::new(0),
        stalled: Notify::new(),
        release: Notify::new(),
    });
    let (first_push, second_push) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let processor = |push: Arc<Recorder>, ttl: Duration| {
        TurnProcessor::new(
            conversations.clone(),
            transcripts.clone(),
            agent.clone(),
            push,
            leases.clone(),
            LeasePolicy {
                holder: "test".into(),
                ttl,
                cancel_poll: Duration::from_millis(200),
                max_running_per_user: MAX_RUNNING_TURNS_PER_USER,
            },
        )
    };
    // The first delivery's lease is short: it runs past it, like a Lambda frozen or slowed past its
    // lease, and SQS hands the turn to a second one.
    let (first, second) = (
        processor(first_push.clone(), Duration::from_secs(1)),
        processor(second_push.clone(), Duration::from_secs(60)),
    );

    let (user, conversation) = (
        UserId::parse("alice").unwrap(),
        ConversationId::parse("c").unwrap(),
    );
    let appended = conversations
        .append_user_message(
            &user,
            &conversation,
            NewUserMessage {
                id: MessageId::generate(),
                client_message_id: ClientMessageId::parse("m1").unwrap(),
                content: "hello".into(),
                channel: Channel::Web,
                created_at: OffsetDateTime::now_utc(),
            },
        )
        .await
        .unwrap();
    let turn = Turn {
        user_id: user.clone(),
        conversation_id: conversation.clone(),
        user_message_id: appended.message_id,
        client_message_id: ClientMessageId::parse("m1").unwrap(),
        prompt: "hello".into(),
        channel: Channel::Web,
        reply_to: None,
        kind: TurnKind::Reply,
    };

    let stale = tokio::spawn({
        let turn = turn.clone();
        async move { first.process(&turn, CancellationToken::new()).await }
    });
    agent.stalled.notified().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let newer = second.process(&turn, CancellationToken::new()).await;
    assert!(matches!(newer, TurnOutcome::Answered(_)), "{newer:?}");
    agent.release.notify_one();
    let stale = stale.await.unwrap();

    assert_eq!(stale, TurnOutcome::Failed(ErrorCode::Conflict));
    assert!(
        first_push.0.lock().unwrap().iter().any(|f| matches!(
            f,
            ServerFrame::Error {
                code: ErrorCode::Conflict,
                ..
            }
        )),
        "the stale holder told its user"
    );
    let stored = transcripts
        .load(&user, &conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.bytes, b"{\"turn\":\"delivery 2\"}\n");
    let messages = conversations
        .list_messages(&user, &conversation, 10, None)
        .await
        .unwrap();
    let replies: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(replies, ["reply 2"]);
}
