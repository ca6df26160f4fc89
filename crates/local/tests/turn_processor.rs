//! The *process a turn* use case on the local stores, with a scripted agent runtime standing in for
//! OpenClaw, to drive the failure paths exactly: a concurrent transcript writer, a redelivered turn, a
//! conversation deleted while its turn runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::attachments::{Attachments, DEFAULT_QUOTA_BYTES};
use serverless_openclaw_core::chat::{ChatService, Submission};
use serverless_openclaw_core::domain::{
    Channel, ReplyTarget, ThinkingLevel, ToolActivity, ToolStatus, Turn, TurnActivity, TurnKind,
    Usage,
};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, UserId};
use serverless_openclaw_core::ports::{
    AgentCompaction, AgentError, AgentEvent, AgentReply, AgentRuntime, AgentState, AgentStatus,
    AgentStatusSource, AgentTurn, ApiKeyStore, ClientPush, Compacted, ConversationStore, PortError,
    ProducedFile, SessionLeases, SettingsStore, SpeechError, SpeechToText, SpokenAudio, ToolAccess,
    TranscriptStore, TurnQueue,
};
use serverless_openclaw_core::protocol::{ErrorCode, ServerFrame};
use serverless_openclaw_core::settings::{
    ApiKey, ModelChoice, ModelSettings, Provider, SpeechChoice,
};
use serverless_openclaw_core::turn::{
    AbandonedTurns, LeasePolicy, MAX_RUNNING_TURNS_PER_USER, TurnOutcome, TurnProcessor,
};
use serverless_openclaw_local::{
    FileApiKeyStore, FileAttachmentStore, FileTranscriptStore, LocalTurnQueue, MemorySessionLeases,
    SqliteConversationStore, SqliteSettingsStore,
};
use serverless_openclaw_testkit::images::solid_png;
use tokio::sync::mpsc;

/// The burst window of these tests: short, so they wait little.
const BURST_WINDOW: Duration = Duration::from_millis(300);

/// What the scripted agent does while a turn "runs".
type DuringTurn = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Answers every turn with "reply to <prompt>", appending one line to the transcript. A prompt
/// starting with "use tools" first reports two tool calls, the second of which fails; one starting with
/// "make files" attaches a PNG and a zip to its reply. While `provider_down` is set, every turn fails as
/// a provider error does.
struct ScriptedAgent {
    during: Mutex<Option<DuringTurn>>,
    provider_down: std::sync::atomic::AtomicBool,
    /// The prompt of every turn run, in order.
    prompts: Mutex<Vec<String>>,
    /// The model choice of every turn run, in order.
    models: Mutex<Vec<Option<ModelChoice>>>,
    /// The tool access of every turn run, in order.
    tools: Mutex<Vec<ToolAccess>>,
    /// Whether each turn run may use the browser, in order.
    browser: Mutex<Vec<bool>>,
    /// Every turn's conversation, model id, thinking level and whether it continued a transcript.
    own: Mutex<Vec<TurnOwnSettings>>,
}

type TurnOwnSettings = (String, Option<String>, Option<ThinkingLevel>, bool);

impl AgentStatusSource for ScriptedAgent {
    fn status(&self) -> AgentStatus {
        AgentStatus {
            state: AgentState::Ready,
            openclaw_version: None,
            model: Some("scripted/model".into()),
        }
    }
}

#[async_trait]
impl AgentRuntime for ScriptedAgent {
    async fn run_turn(
        &self,
        turn: AgentTurn,
        events: mpsc::UnboundedSender<AgentEvent>,
        _cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError> {
        self.prompts.lock().unwrap().push(turn.prompt.clone());
        if self.provider_down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(AgentError::new(ErrorCode::LlmError, "provider down"));
        }
        self.models.lock().unwrap().push(turn.model.clone());
        self.tools.lock().unwrap().push(turn.tools);
        self.browser.lock().unwrap().push(turn.browser);
        self.own.lock().unwrap().push((
            turn.conversation_id.to_string(),
            turn.model_id.clone(),
            turn.thinking,
            turn.transcript.is_some(),
        ));
        let _ = events.send(AgentEvent::Started);
        if turn.prompt.starts_with("use tools") {
            for (id, status, duration_ms) in [
                ("a", ToolStatus::Running, None),
                ("b", ToolStatus::Running, None),
                ("a", ToolStatus::Ok, Some(120)),
                ("b", ToolStatus::Error, Some(80)),
            ] {
                let _ = events.send(AgentEvent::Tool(ToolActivity {
                    tool_id: id.into(),
                    name: "exec".into(),
                    summary: format!("echo {id}"),
                    status,
                    duration_ms,
                }));
            }
        }
        let text = format!("reply to {}", turn.prompt);
        let _ = events.send(AgentEvent::Delta {
            text: text.clone(),
            replace: false,
        });
        let during = self.during.lock().unwrap().take();
        if let Some(during) = during {
            during().await;
        }
        let mut transcript = turn.transcript.unwrap_or_default();
        transcript.extend_from_slice(format!("{{\"turn\":\"{}\"}}\n", turn.prompt).as_bytes());
        let files = if turn.prompt.starts_with("make files") {
            vec![
                ProducedFile {
                    name: "chart.png".into(),
                    bytes: solid_png(3, 2, [0, 160, 0]),
                },
                ProducedFile {
                    name: "bundle.zip".into(),
                    bytes: b"PK\x03\x04 zipped".to_vec(),
                },
            ]
        } else {
            Vec::new()
        };
        Ok(AgentReply {
            text,
            usage: Usage {
                input_tokens: 1,
                output_tokens: 2,
            },
            cost_usd: None,
            duration_ms: 3,
            transcript,
            files,
        })
    }

    /// Keeps the last line of the transcript behind a summary line naming the instructions; with the
    /// instructions "fail", fails like a refused summary; a one-line transcript has nothing to compact.
    async fn compact(
        &self,
        request: AgentCompaction,
        _cancel: CancellationToken,
    ) -> Result<Compacted, AgentError> {
        let text = String::from_utf8(request.transcript).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let instructions = request.instructions.unwrap_or_default();
        if instructions == "fail" {
            return Err(AgentError::new(ErrorCode::LlmError, "summary refused"));
        }
        if lines.len() < 2 {
            return Ok(Compacted {
                transcript: None,
                tokens_before: 10,
                tokens_after: 10,
                reason: Some("nothing to compact yet".into()),
            });
        }
        let compacted = format!(
            "{{\"summary\":\"{instructions}\"}}\n{}\n",
            lines.last().unwrap()
        );
        Ok(Compacted {
            transcript: Some(compacted.into_bytes()),
            tokens_before: 10 * lines.len() as u64,
            tokens_after: 5,
            reason: None,
        })
    }
}

#[derive(Default)]
struct RecordedPush(Mutex<Vec<ServerFrame>>);

#[async_trait]
impl ClientPush for RecordedPush {
    async fn push(&self, _user: &UserId, frame: &ServerFrame) {
        self.0.lock().unwrap().push(frame.clone());
    }
}

/// Keeps queued turns so the test decides when each is processed.
#[derive(Default)]
struct HeldQueue(Mutex<Vec<Turn>>);

#[async_trait]
impl TurnQueue for HeldQueue {
    async fn enqueue(&self, turn: Turn) -> Result<(), PortError> {
        self.0.lock().unwrap().push(turn);
        Ok(())
    }
    async fn cancel(&self, _: &UserId, _: &ConversationId) -> Result<bool, PortError> {
        Ok(false)
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    conversations: Arc<SqliteConversationStore>,
    transcripts: Arc<FileTranscriptStore>,
    agent: Arc<ScriptedAgent>,
    push: Arc<RecordedPush>,
    queue: Arc<HeldQueue>,
    chat: ChatService,
    processor: TurnProcessor,
    leases: Arc<MemorySessionLeases>,
    settings: Arc<SqliteSettingsStore>,
    keys: Arc<FileApiKeyStore>,
    user: UserId,
    conversation: ConversationId,
    attachments: Attachments,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conversations =
            Arc::new(SqliteConversationStore::open(&dir.path().join("db")).unwrap());
        let transcripts = Arc::new(FileTranscriptStore::new(dir.path().join("t")));
        let agent = Arc::new(ScriptedAgent {
            during: Mutex::new(None),
            provider_down: Default::default(),
            prompts: Mutex::new(Vec::new()),
            models: Mutex::new(Vec::new()),
            tools: Mutex::new(Vec::new()),
            browser: Mutex::new(Vec::new()),
            own: Mutex::new(Vec::new()),
        });
        let settings = Arc::new(SqliteSettingsStore::open(&dir.path().join("db")).unwrap());
        let keys = Arc::new(FileApiKeyStore::new(dir.path().join("secrets")));
        let push = Arc::new(RecordedPush::default());
        let queue = Arc::new(HeldQueue::default());
        let attachments = Attachments::new(
            Arc::new(FileAttachmentStore::new(dir.path().join("attachments"))),
            DEFAULT_QUOTA_BYTES,
        );
        let leases = Arc::new(MemorySessionLeases::new());
        let chat = ChatService::new(
            conversations.clone(),
            queue.clone(),
            push.clone(),
            settings.clone(),
            agent.clone(),
        )
        .with_attachments(attachments.clone());
        let processor = TurnProcessor::new(
            conversations.clone(),
            transcripts.clone(),
            agent.clone(),
            push.clone(),
            leases.clone(),
            LeasePolicy::for_turn_timeout("test", Duration::from_secs(60)),
        )
        .with_model_settings(settings.clone(), keys.clone())
        .with_attachments(attachments.clone())
        .with_burst_window(BURST_WINDOW);
        Self {
            _dir: dir,
            conversations,
            transcripts,
            agent,
            push,
            queue,
            chat,
            processor,
            leases,
            settings,
            keys,
            user: UserId::parse("u").unwrap(),
            conversation: ConversationId::parse("c").unwrap(),
            attachments,
        }
    }

    /// Submits a message and returns its queued turn.
    async fn submit(&self, client_id: &str, text: &str) -> Turn {
        self.submit_as(&self.user, client_id, text).await
    }

    /// Submits a message of `user` and returns its queued turn.
    async fn submit_as(&self, user: &UserId, client_id: &str, text: &str) -> Turn {
        self.submit_from(user, client_id, text, None).await
    }

    /// Submits a message from a Telegram chat (message `message_id` there) and returns its queued turn.
    async fn submit_telegram(&self, message_id: i64, text: &str) -> Turn {
        let chat = ReplyTarget::Telegram {
            chat_id: 7,
            message_id,
        };
        let client_id = format!("tg-{message_id}");
        self.submit_from(&self.user, &client_id, text, Some(chat))
            .await
    }

    async fn submit_from(
        &self,
        user: &UserId,
        client_id: &str,
        text: &str,
        chat: Option<ReplyTarget>,
    ) -> Turn {
        self.chat
            .submit(
                user,
                Submission {
                    conversation_id: self.conversation.clone(),
                    client_message_id: ClientMessageId::parse(client_id).unwrap(),
                    text: text.into(),
                    channel: if chat.is_some() {
                        Channel::Telegram
                    } else {
                        Channel::Web
                    },
                    reply_to: chat,
                    attachments: Vec::new(),
                },
            )
            .await
            .unwrap();
        self.queue.0.lock().unwrap().pop().expect("a queued turn")
    }

    async fn process(&self, turn: &Turn) -> TurnOutcome {
        self.processor.process(turn, CancellationToken::new()).await
    }

    fn prompts(&self) -> Vec<String> {
        self.agent.prompts.lock().unwrap().clone()
    }

    /// Whether each of `turns`' messages has a reply.
    async fn answered(&self, turns: &[&Turn]) -> Vec<bool> {
        let mut answered = Vec::new();
        for turn in turns {
            answered.push(
                self.conversations
                    .is_answered(&self.user, &self.conversation, &turn.user_message_id)
                    .await
                    .unwrap(),
            );
        }
        answered
    }

    fn during_turn(&self, during: DuringTurn) {
        *self.agent.during.lock().unwrap() = Some(during);
    }

    async fn assistant_replies(&self) -> usize {
        self.conversations
            .list_messages(&self.user, &self.conversation, 200, None)
            .await
            .map(|m| {
                m.iter()
                    .filter(|m| m.role == serverless_openclaw_core::domain::Role::Assistant)
                    .count()
            })
            .unwrap_or(0)
    }

    fn error_codes(&self) -> Vec<ErrorCode> {
        self.push
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Error { code, .. } => Some(*code),
                _ => None,
            })
            .collect()
    }
}

#[tokio::test]
async fn a_reply_is_stored_once_and_its_transcript_written() {
    let fx = Fixture::new();
    let turn = fx.submit("m1", "hi").await;
    assert!(matches!(
        fx.processor.process(&turn, CancellationToken::new()).await,
        TurnOutcome::Answered(_)
    ));
    let transcript = fx
        .transcripts
        .load(&fx.user, &fx.conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(transcript.bytes, b"{\"turn\":\"hi\"}\n");
    let frames = fx.push.0.lock().unwrap().clone();
    assert!(matches!(frames.first(), Some(ServerFrame::Ack { .. })));
    assert!(matches!(
        frames.last(),
        Some(ServerFrame::Status {
            status: serverless_openclaw_core::protocol::TurnStatus::Idle,
            ..
        })
    ));
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Message { content, .. } if content == "reply to hi"))
    );
}

#[tokio::test]
async fn files_the_agent_attaches_are_stored_with_its_reply_and_one_we_do_not_take_is_named() {
    let f = Fixture::new();
    let turn = f.submit("m1", "make files please").await;
    let outcome = f.processor.process(&turn, CancellationToken::new()).await;
    let TurnOutcome::Answered(answer) = outcome else {
        panic!("{outcome:?}")
    };
    let frame = f
        .push
        .0
        .lock()
        .unwrap()
        .clone()
        .into_iter()
        .find(|fr| matches!(fr, ServerFrame::Message { .. }))
        .expect("the reply");
    let ServerFrame::Message {
        content,
        attachments,
        ..
    } = frame
    else {
        unreachable!()
    };
    assert_eq!(
        attachments
            .iter()
            .map(|a| (a.name.as_str(), a.media_type.as_str()))
            .collect::<Vec<_>>(),
        [("chart.png", "image/png")]
    );
    assert!(
        content.starts_with("reply to make files please")
            && content.contains("file bundle.zip could not be attached")
            && content.contains("application/zip files are not accepted"),
        "{content}"
    );
    let by_message = f
        .attachments
        .by_message(&f.user, &f.conversation)
        .await
        .unwrap();
    assert_eq!(
        by_message[&answer.message_id].len(),
        1,
        "linked to the reply"
    );
    let (_, bytes) = f
        .attachments
        .read(&f.user, &f.conversation, &attachments[0].id)
        .await
        .unwrap();
    assert_eq!(bytes, solid_png(3, 2, [0, 160, 0]));
    let history = f
        .conversations
        .list_messages(&f.user, &f.conversation, 10, None)
        .await
        .unwrap();
    assert_eq!(
        history[1].content, content,
        "the stored reply names the refused file too"
    );
}

#[tokio::test]
async fn tool_calls_are_pushed_as_they_happen_and_kept_with_the_reply() {
    let fx = Fixture::new();
    let plain = fx.submit("m0", "hi").await;
    fx.processor.process(&plain, CancellationToken::new()).await;
    let turn = fx.submit("m1", "use tools please").await;
    let TurnOutcome::Answered(answer) = fx.processor.process(&turn, CancellationToken::new()).await
    else {
        panic!("answered")
    };
    let frames = fx.push.0.lock().unwrap().clone();
    let pushed: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Activity {
                message_id, tool, ..
            } => Some((message_id.clone(), tool.tool_id.as_str(), tool.status)),
            _ => None,
        })
        .collect();
    let id = answer.message_id.clone();
    assert_eq!(
        pushed,
        [
            (id.clone(), "a", ToolStatus::Running),
            (id.clone(), "b", ToolStatus::Running),
            (id.clone(), "a", ToolStatus::Ok),
            (id.clone(), "b", ToolStatus::Error),
        ],
        "each tool start and end, tied to the reply"
    );
    let expected = TurnActivity {
        worked_ms: 3,
        tool_count: 2,
        tools: vec![
            ToolActivity {
                tool_id: "a".into(),
                name: "exec".into(),
                summary: "echo a".into(),
                status: ToolStatus::Ok,
                duration_ms: Some(120),
            },
            ToolActivity {
                tool_id: "b".into(),
                name: "exec".into(),
                summary: "echo b".into(),
                status: ToolStatus::Error,
                duration_ms: Some(80),
            },
        ],
    };
    let final_activity: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Message { activity, .. } => Some(activity.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(final_activity, [None, Some(expected.clone())]);
    let stored = fx
        .conversations
        .list_messages(&fx.user, &fx.conversation, 10, None)
        .await
        .unwrap();
    let activities: Vec<_> = stored.iter().map(|m| m.activity.clone()).collect();
    assert_eq!(activities, [None, None, None, Some(expected)]);
}

#[tokio::test]
async fn a_user_with_the_most_turns_running_waits_for_one_to_end() {
    let fx = Fixture::new();
    let turn = fx.submit("m1", "hi").await;
    let pushed_before = fx.push.0.lock().unwrap().len();
    let now = time::OffsetDateTime::now_utc();
    let mut running = Vec::new();
    for i in 0..MAX_RUNNING_TURNS_PER_USER {
        let conversation = ConversationId::parse(format!("busy-{i}")).unwrap();
        let lease = fx
            .leases
            .acquire(
                &fx.user,
                &conversation,
                "elsewhere",
                Duration::from_secs(60),
                now,
            )
            .await
            .unwrap()
            .expect("free");
        running.push(lease);
    }
    assert_eq!(
        fx.processor.process(&turn, CancellationToken::new()).await,
        TurnOutcome::Busy
    );
    assert_eq!(
        fx.push.0.lock().unwrap().len(),
        pushed_before,
        "a waiting turn pushes nothing: it still shows as queued"
    );
    assert!(
        fx.agent.models.lock().unwrap().is_empty(),
        "the agent did not run"
    );
    // Another user is not held back by this one's turns.
    let other = UserId::parse("someone-else").unwrap();
    let theirs = fx.submit_as(&other, "o1", "hello").await;
    assert!(matches!(
        fx.processor
            .process(&theirs, CancellationToken::new())
            .await,
        TurnOutcome::Answered(_)
    ));
    // In local mode's queue the turn waits (as SQS redelivers it on AWS) and runs once one ends.
    let queue = LocalTurnQueue::new(Arc::new(fx.processor.clone()));
    queue.enqueue(turn.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fx.agent.models.lock().unwrap().len(), 1, "still waiting");
    fx.leases.release(&running[0]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !fx
            .conversations
            .is_answered(&fx.user, &fx.conversation, &turn.user_message_id)
            .await
            .unwrap()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("answered once a running turn ended");
}

#[tokio::test]
async fn a_redelivered_turn_is_not_answered_twice() {
    let fx = Fixture::new();
    let turn = fx.submit("m1", "hi").await;
    fx.processor.process(&turn, CancellationToken::new()).await;
    assert_eq!(
        fx.processor.process(&turn, CancellationToken::new()).await,
        TurnOutcome::Skipped
    );
    assert_eq!(fx.assistant_replies().await, 1);
    // A client resending the same id after the reply is acknowledged but not queued again.
    fx.chat
        .submit(
            &fx.user,
            Submission {
                conversation_id: fx.conversation.clone(),
                client_message_id: ClientMessageId::parse("m1").unwrap(),
                text: "hi".into(),
                channel: Channel::Web,
                reply_to: None,
                attachments: Vec::new(),
            },
        )
        .await
        .unwrap();
    assert!(fx.queue.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_transcript_changed_during_the_turn_is_a_conflict_and_is_kept() {
    let fx = Fixture::new();
    let first = fx.submit("m1", "one").await;
    fx.processor.process(&first, CancellationToken::new()).await;
    let turn = fx.submit("m2", "two").await;
    // Another writer (a stale lease holder on AWS) replaces the transcript while the turn runs.
    let transcripts = fx.transcripts.clone();
    let (user, conversation) = (fx.user.clone(), fx.conversation.clone());
    fx.during_turn(Box::new(move || {
        let transcripts = transcripts.clone();
        let (user, conversation) = (user.clone(), conversation.clone());
        Box::pin(async move {
            let current = transcripts
                .load(&user, &conversation)
                .await
                .unwrap()
                .unwrap();
            transcripts
                .save(
                    &user,
                    &conversation,
                    b"{\"other\":true}\n",
                    Some(&current.version),
                )
                .await
                .unwrap();
        })
    }));
    assert_eq!(
        fx.processor.process(&turn, CancellationToken::new()).await,
        TurnOutcome::Failed(ErrorCode::Conflict)
    );
    let kept = fx
        .transcripts
        .load(&fx.user, &fx.conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.bytes, b"{\"other\":true}\n",
        "the newer transcript is intact"
    );
    assert_eq!(
        fx.assistant_replies().await,
        1,
        "the losing reply was not stored"
    );
    assert_eq!(fx.error_codes(), [ErrorCode::Conflict]);
}

#[tokio::test]
async fn a_conversation_deleted_during_its_turn_leaves_nothing_behind() {
    let fx = Fixture::new();
    let turn = fx.submit("m1", "hi").await;
    let conversations = fx.conversations.clone();
    let (user, conversation) = (fx.user.clone(), fx.conversation.clone());
    fx.during_turn(Box::new(move || {
        let conversations = conversations.clone();
        let (user, conversation) = (user.clone(), conversation.clone());
        Box::pin(async move {
            conversations
                .delete_conversation(&user, &conversation)
                .await
                .unwrap();
        })
    }));
    assert_eq!(
        fx.processor.process(&turn, CancellationToken::new()).await,
        TurnOutcome::Skipped
    );
    assert!(
        fx.transcripts
            .load(&fx.user, &fx.conversation)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        fx.conversations
            .list_conversations(&fx.user)
            .await
            .unwrap()
            .is_empty()
    );
    // A turn still queued for the deleted conversation is skipped before the agent runs.
    assert_eq!(
        fx.processor.process(&turn, CancellationToken::new()).await,
        TurnOutcome::Skipped
    );
}

#[tokio::test]
async fn each_turn_runs_with_the_model_and_key_its_user_chose_at_that_time() {
    let fx = Fixture::new();
    let turn = fx.submit("m1", "with the default").await;
    fx.processor.process(&turn, CancellationToken::new()).await;

    let chosen = ModelSettings {
        provider: Provider::OpenAi,
        model: "gpt-5.4-mini".into(),
        base_url: None,
        region: None,
    };
    fx.settings
        .set_model_settings(&fx.user, Some(&chosen))
        .await
        .unwrap();
    let turn = fx.submit("m2", "with a model, no key").await;
    fx.processor.process(&turn, CancellationToken::new()).await;

    let key = ApiKey::parse("sk-user-key").unwrap();
    fx.keys.put(&fx.user, Provider::OpenAi, &key).await.unwrap();
    // A key for another provider is not passed along.
    fx.keys
        .put(
            &fx.user,
            Provider::Anthropic,
            &ApiKey::parse("sk-ant").unwrap(),
        )
        .await
        .unwrap();
    let turn = fx.submit("m3", "with a model and its key").await;
    fx.processor.process(&turn, CancellationToken::new()).await;

    fx.settings
        .set_model_settings(&fx.user, None)
        .await
        .unwrap();
    let turn = fx.submit("m4", "back to the default").await;
    fx.processor.process(&turn, CancellationToken::new()).await;

    assert_eq!(
        *fx.agent.models.lock().unwrap(),
        [
            None,
            Some(ModelChoice {
                settings: chosen.clone(),
                api_key: None
            }),
            Some(ModelChoice {
                settings: chosen,
                api_key: Some(key)
            }),
            None,
        ]
    );
    assert_eq!(fx.assistant_replies().await, 4);
}

#[tokio::test]
async fn guests_from_the_telegram_allowlist_get_the_guests_tool_access_and_everyone_else_full() {
    let fx = Fixture::new();
    let guest = UserId::telegram_guest(4242);
    for (user, id) in [(&fx.user, "m1"), (&guest, "m2")] {
        let turn = fx.submit_as(user, id, "hi").await;
        fx.processor.process(&turn, CancellationToken::new()).await;
    }
    let opened = fx.processor.clone().with_guest_tools(ToolAccess::Full);
    let turn = fx.submit_as(&guest, "m3", "again").await;
    opened.process(&turn, CancellationToken::new()).await;
    assert_eq!(
        *fx.agent.tools.lock().unwrap(),
        [ToolAccess::Full, ToolAccess::Restricted, ToolAccess::Full]
    );
}

#[tokio::test]
async fn a_turn_may_browse_until_its_user_turns_the_browser_off_in_settings() {
    let fx = Fixture::new();
    let turn = fx.submit("m1", "browse").await;
    fx.processor.process(&turn, CancellationToken::new()).await;
    fx.settings
        .set_browser_enabled(&fx.user, false)
        .await
        .unwrap();
    let turn = fx.submit("m2", "browse again").await;
    fx.processor.process(&turn, CancellationToken::new()).await;
    assert_eq!(*fx.agent.browser.lock().unwrap(), [true, false]);
}

/// Records what reaches a turn's channel (Telegram in production).
#[derive(Default)]
struct RecordedReplies(Mutex<Vec<ServerFrame>>);

#[async_trait]
impl serverless_openclaw_core::ports::ChannelReplies for RecordedReplies {
    async fn deliver(&self, _turn: &Turn, mut frames: mpsc::UnboundedReceiver<ServerFrame>) {
        while let Some(frame) = frames.recv().await {
            self.0.lock().unwrap().push(frame);
        }
    }
}

#[tokio::test]
async fn a_turn_given_up_is_reported_on_the_web_and_in_its_channel_and_its_message_stays() {
    let fx = Fixture::new();
    let mut turn = fx.submit("m1", "hi").await;
    turn.reply_to = Some(serverless_openclaw_core::domain::ReplyTarget::Telegram {
        chat_id: 7,
        message_id: 1,
    });
    let replies = Arc::new(RecordedReplies::default());
    let abandoned = AbandonedTurns::new(fx.conversations.clone(), fx.push.clone())
        .with_replies(replies.clone());
    fx.push.0.lock().unwrap().clear();

    assert!(
        abandoned
            .report(&turn, "the agent never finished it")
            .await
            .unwrap()
    );

    for frames in [
        fx.push.0.lock().unwrap().clone(),
        replies.0.lock().unwrap().clone(),
    ] {
        match frames.as_slice() {
            [
                ServerFrame::Error {
                    code: ErrorCode::Internal,
                    message,
                    client_message_id,
                    conversation_id,
                },
                ServerFrame::Status {
                    status: serverless_openclaw_core::protocol::TurnStatus::Idle,
                    ..
                },
            ] => {
                assert_eq!(
                    message,
                    "This message could not be answered: the agent never finished it"
                );
                assert_eq!(client_message_id.as_deref(), Some("m1"));
                assert_eq!(conversation_id.as_deref(), Some("c"));
            }
            other => panic!("expected error and idle, got {other:?}"),
        }
    }
    let stored = fx
        .conversations
        .list_messages(&fx.user, &fx.conversation, 10, None)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "the user message stays, without a reply");
    assert_eq!(stored[0].content, "hi");
}

#[tokio::test]
async fn a_turn_given_up_after_a_delivery_answered_it_is_not_reported() {
    let fx = Fixture::new();
    let turn = fx.submit("m1", "hi").await;
    fx.processor.process(&turn, CancellationToken::new()).await;
    fx.push.0.lock().unwrap().clear();
    let abandoned = AbandonedTurns::new(fx.conversations.clone(), fx.push.clone());
    assert!(!abandoned.report(&turn, "late").await.unwrap());
    assert!(fx.push.0.lock().unwrap().is_empty());
}

/// Sends `text` as the web does and returns the `notice` text it was answered with.
async fn command(fx: &Fixture, conversation: &str, text: &str) -> String {
    let frame = serde_json::json!({
        "action": "sendMessage", "conversationId": conversation, "message": text,
        "clientMessageId": format!("cmd-{}", text.len()),
    });
    match fx.chat.handle_frame(&fx.user, &frame.to_string()).await {
        Some(ServerFrame::Notice {
            text,
            conversation_id,
            ..
        }) => {
            assert_eq!(conversation_id.as_str(), conversation);
            text
        }
        other => panic!("{text:?} was answered with {other:?}"),
    }
}

#[tokio::test]
async fn web_commands_are_answered_at_once_and_set_this_conversations_model_and_thinking() {
    let fx = Fixture::new();
    let set = command(&fx, "c", "/model fake-b").await;
    assert!(set.contains("fake-b"), "{set}");
    command(&fx, "c", "/think HIGH").await;
    assert!(
        command(&fx, "c", "/think hard")
            .await
            .contains("no thinking level")
    );
    let shown = command(&fx, "c", "/model").await;
    assert!(
        shown.contains("scripted/fake-b (from this conversation)"),
        "{shown}"
    );
    // Commands are neither stored nor queued.
    assert!(fx.queue.0.lock().unwrap().is_empty());
    assert!(
        fx.conversations
            .list_conversations(&fx.user)
            .await
            .unwrap()
            .is_empty()
    );

    let turn = fx.submit("m1", "hi").await;
    fx.processor.process(&turn, CancellationToken::new()).await;
    let other = Submission {
        conversation_id: ConversationId::parse("other").unwrap(),
        client_message_id: ClientMessageId::parse("m2").unwrap(),
        text: "hello".into(),
        channel: Channel::Web,
        reply_to: None,
        attachments: Vec::new(),
    };
    fx.chat.submit(&fx.user, other).await.unwrap();
    let other = fx.queue.0.lock().unwrap().pop().unwrap();
    fx.processor.process(&other, CancellationToken::new()).await;
    assert_eq!(
        fx.agent.own.lock().unwrap().clone(),
        [
            (
                "c".into(),
                Some("fake-b".into()),
                Some(ThinkingLevel::High),
                false
            ),
            ("other".into(), None, None, false),
        ]
    );
    let usage = command(&fx, "c", "/usage").await;
    assert!(
        usage.contains("1 answers, 1 input and 2 output tokens"),
        "{usage}"
    );
    command(&fx, "c", "/model default").await;
    command(&fx, "c", "/think default").await;
    let turn = fx.submit("m3", "again").await;
    fx.processor.process(&turn, CancellationToken::new()).await;
    assert_eq!(
        fx.agent.own.lock().unwrap().last().cloned(),
        Some(("c".into(), None, None, true))
    );
}

#[tokio::test]
async fn after_reset_one_turn_starts_a_fresh_session_and_replaces_the_transcript() {
    let fx = Fixture::new();
    for (id, text) in [("m1", "one"), ("m2", "two")] {
        let turn = fx.submit(id, text).await;
        fx.processor.process(&turn, CancellationToken::new()).await;
    }
    assert!(command(&fx, "c", "/reset").await.contains("afresh"));
    for (id, text) in [("m3", "three"), ("m4", "four")] {
        let turn = fx.submit(id, text).await;
        fx.processor.process(&turn, CancellationToken::new()).await;
    }
    let continued: Vec<bool> = fx.agent.own.lock().unwrap().iter().map(|t| t.3).collect();
    assert_eq!(continued, [false, true, false, true]);
    let transcript = fx
        .transcripts
        .load(&fx.user, &fx.conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8(transcript.bytes).unwrap(),
        "{\"turn\":\"three\"}\n{\"turn\":\"four\"}\n"
    );
    // The history stays readable.
    assert_eq!(fx.assistant_replies().await, 4);
}

#[tokio::test]
async fn new_on_the_web_names_a_fresh_conversation_to_switch_to() {
    let fx = Fixture::new();
    let frame =
        r#"{"action":"sendMessage","conversationId":"c","message":"/new","clientMessageId":"n1"}"#;
    let Some(ServerFrame::Notice {
        new_conversation_id: Some(new),
        client_message_id,
        ..
    }) = fx.chat.handle_frame(&fx.user, frame).await
    else {
        panic!("a notice naming a new conversation")
    };
    assert_ne!(new.as_str(), "c");
    assert_eq!(client_message_id.as_str(), "n1");
    // Not a command: text for the model.
    let frame = r#"{"action":"sendMessage","conversationId":"c","message":"/frobnicate","clientMessageId":"n2"}"#;
    assert_eq!(fx.chat.handle_frame(&fx.user, frame).await, None);
    assert_eq!(
        fx.queue.0.lock().unwrap().pop().unwrap().prompt,
        "/frobnicate"
    );
}

#[tokio::test]
async fn compact_is_queued_and_replaces_the_stored_transcript_or_leaves_it_when_it_fails() {
    let fx = Fixture::new();
    let notices = |fx: &Fixture| -> Vec<String> {
        fx.push
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Notice { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    let transcript = async |fx: &Fixture| {
        let stored = fx.transcripts.load(&fx.user, &fx.conversation).await;
        stored.unwrap().map(|t| String::from_utf8(t.bytes).unwrap())
    };
    let compact = async |fx: &Fixture, text: &str| {
        assert!(command(fx, "c", text).await.starts_with("Compacting"));
        let queued = fx.queue.0.lock().unwrap().pop().expect("queued");
        assert_eq!(queued.kind, TurnKind::Compact);
        fx.push.0.lock().unwrap().clear();
        fx.processor
            .process(&queued, CancellationToken::new())
            .await
    };

    // No history yet: nothing to compact, and nothing stored.
    assert_eq!(compact(&fx, "/compact").await, TurnOutcome::Compacted);
    assert!(
        notices(&fx)[0].starts_with("Nothing to compact"),
        "{:?}",
        notices(&fx)
    );
    assert_eq!(transcript(&fx).await, None);

    for (id, text) in [("m1", "one"), ("m2", "two")] {
        let turn = fx.submit(id, text).await;
        fx.processor.process(&turn, CancellationToken::new()).await;
    }
    let before = transcript(&fx).await.unwrap();

    // A failed summary: the user is told, the transcript stays.
    assert_eq!(
        compact(&fx, "/compact fail").await,
        TurnOutcome::Failed(ErrorCode::LlmError)
    );
    let frames = fx.push.0.lock().unwrap().clone();
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Error { message, .. }
            if message.contains("unchanged") && message.contains("summary refused"))),
        "{frames:?}"
    );
    assert_eq!(transcript(&fx).await.unwrap(), before);

    // Compacted: the new transcript is stored and the sizes are reported.
    assert_eq!(
        compact(&fx, "/compact the names").await,
        TurnOutcome::Compacted
    );
    let compacted = "{\"summary\":\"the names\"}\n{\"turn\":\"two\"}\n";
    assert_eq!(transcript(&fx).await.unwrap(), compacted);
    let notice = notices(&fx).pop().unwrap();
    assert!(notice.contains("from about 20 to 5 tokens"), "{notice}");
    assert!(
        notice.contains(&format!("({:.1} KB to", before.len() as f64 / 1000.0)),
        "{notice}"
    );
    let frames = fx.push.0.lock().unwrap().clone();
    assert!(matches!(
        frames.last(),
        Some(ServerFrame::Status {
            status: serverless_openclaw_core::protocol::TurnStatus::Idle,
            ..
        })
    ));

    // The next turn continues from the compacted transcript.
    let turn = fx.submit("m3", "three").await;
    fx.processor.process(&turn, CancellationToken::new()).await;
    assert_eq!(
        transcript(&fx).await.unwrap(),
        format!("{compacted}{{\"turn\":\"three\"}}\n")
    );
}

#[tokio::test]
async fn a_burst_of_telegram_messages_is_one_turn_answered_by_the_last_ones_turn() {
    let fx = Fixture::new();
    let first = fx.submit_telegram(1, "one").await;
    let second = fx.submit_telegram(2, "two").await;
    let third = fx.submit_telegram(3, "three").await;

    // The earlier messages' turns see a later message and leave the burst to its turn.
    assert_eq!(fx.process(&first).await, TurnOutcome::Skipped);
    assert_eq!(fx.process(&second).await, TurnOutcome::Skipped);
    assert!(fx.prompts().is_empty());
    assert!(matches!(fx.process(&third).await, TurnOutcome::Answered(_)));
    assert_eq!(fx.prompts(), ["one\n\ntwo\n\nthree"]);
    assert_eq!(fx.answered(&[&first, &second, &third]).await, [true; 3]);
    assert_eq!(fx.assistant_replies().await, 1);

    // Redelivered turns of the burst do nothing.
    for turn in [&first, &second, &third] {
        assert_eq!(fx.process(turn).await, TurnOutcome::Skipped);
    }
    assert_eq!(fx.prompts().len(), 1);

    // Web messages are never merged, and never wait.
    let started = std::time::Instant::now();
    let web = [fx.submit("w1", "a").await, fx.submit("w2", "b").await];
    for turn in &web {
        assert!(matches!(fx.process(turn).await, TurnOutcome::Answered(_)));
    }
    assert_eq!(fx.prompts()[1..], ["a", "b"]);
    assert!(started.elapsed() < BURST_WINDOW, "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_newest_messages_turn_waits_out_the_window_for_messages_on_their_way() {
    let fx = Fixture::new();
    let first = fx.submit_telegram(1, "one").await;
    let started = std::time::Instant::now();
    let waiting = tokio::spawn({
        let (processor, first) = (fx.processor.clone(), first.clone());
        async move { processor.process(&first, CancellationToken::new()).await }
    });
    tokio::time::sleep(BURST_WINDOW / 3).await;
    let second = fx.submit_telegram(2, "two").await;
    assert_eq!(waiting.await.unwrap(), TurnOutcome::Skipped);
    // The window counts from the message's stored time (milliseconds), a little before `started`.
    let slack = Duration::from_millis(50);
    assert!(
        started.elapsed() >= BURST_WINDOW - slack,
        "{:?}",
        started.elapsed()
    );

    let started = std::time::Instant::now();
    assert!(matches!(
        fx.process(&second).await,
        TurnOutcome::Answered(_)
    ));
    let waited = started.elapsed();
    assert!(
        waited >= BURST_WINDOW / 3 - slack && waited < BURST_WINDOW,
        "the second message's turn waits out the rest of its window: {waited:?}"
    );
    assert_eq!(fx.prompts(), ["one\n\ntwo"]);
    assert_eq!(fx.answered(&[&first, &second]).await, [true, true]);
}

#[tokio::test]
async fn a_failed_burst_is_reported_once_stays_unanswered_and_retry_runs_it_again() {
    let fx = Fixture::new();
    fx.agent
        .provider_down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let burst = [
        fx.submit_telegram(1, "one").await,
        fx.submit_telegram(2, "two").await,
        fx.submit_telegram(3, "three").await,
    ];
    let mut outcomes = Vec::new();
    for turn in &burst {
        outcomes.push(fx.process(turn).await);
    }
    assert_eq!(
        outcomes,
        [
            TurnOutcome::Skipped,
            TurnOutcome::Skipped,
            TurnOutcome::Failed(ErrorCode::LlmError)
        ]
    );
    assert_eq!(fx.error_codes(), [ErrorCode::LlmError], "told once");
    assert_eq!(fx.prompts(), ["one\n\ntwo\n\nthree"], "run once");
    assert_eq!(
        fx.answered(&[&burst[0], &burst[1], &burst[2]]).await,
        [false; 3]
    );
    assert_eq!(fx.assistant_replies().await, 0);

    // Retry queues the last message again: the whole burst is answered.
    fx.agent
        .provider_down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    fx.chat
        .retry(
            &fx.user,
            &fx.conversation,
            ClientMessageId::parse("tg-retry").unwrap(),
            burst[2].reply_to,
        )
        .await
        .unwrap()
        .expect("something to retry");
    let retried = fx.queue.0.lock().unwrap().pop().unwrap();
    assert!(matches!(
        fx.process(&retried).await,
        TurnOutcome::Answered(_)
    ));
    assert_eq!(fx.prompts()[1], "one\n\ntwo\n\nthree");
    assert_eq!(
        fx.answered(&[&burst[0], &burst[1], &burst[2]]).await,
        [true; 3]
    );

    // A message after the window is its own turn, even after an unanswered one.
    fx.agent
        .provider_down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = fx.submit_telegram(4, "four").await;
    assert_eq!(
        fx.process(&failed).await,
        TurnOutcome::Failed(ErrorCode::LlmError)
    );
    fx.agent
        .provider_down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(BURST_WINDOW).await;
    let later = fx.submit_telegram(5, "five").await;
    assert!(matches!(fx.process(&later).await, TurnOutcome::Answered(_)));
    assert_eq!(fx.prompts()[2..], ["four", "five"]);
    assert_eq!(fx.answered(&[&failed, &later]).await, [false, true]);
}

/// Hears every recording as "heard <n>" (n counting calls) and records each call's type and model;
/// fails as an endpoint error does while `down` is set.
#[derive(Default)]
struct CountingSpeech {
    calls: Mutex<Vec<(String, String)>>,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl SpeechToText for CountingSpeech {
    async fn transcribe(
        &self,
        audio: SpokenAudio<'_>,
        choice: &SpeechChoice,
    ) -> Result<String, SpeechError> {
        let mut calls = self.calls.lock().unwrap();
        calls.push((
            audio.media_type.to_owned(),
            choice.settings.model().to_owned(),
        ));
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SpeechError::Refused {
                status: 503,
                detail: "overloaded".into(),
            });
        }
        Ok(format!("heard {}", calls.len()))
    }
}

/// The start of an Ogg Opus stream (a Telegram voice note).
fn ogg_opus() -> Vec<u8> {
    let mut ogg = b"OggS\0\x02".to_vec();
    ogg.resize(28, 0);
    ogg.extend_from_slice(b"OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0");
    ogg
}

impl Fixture {
    /// Uploads a voice note and submits it with `text`; its queued turn and the attachment's id.
    async fn submit_voice(
        &self,
        client_id: &str,
        text: &str,
    ) -> (Turn, serverless_openclaw_core::ids::AttachmentId) {
        let voice = self
            .attachments
            .upload(
                &self.user,
                &self.conversation,
                "voice.ogg",
                "audio/ogg",
                &ogg_opus(),
            )
            .await
            .unwrap();
        self.chat
            .submit(
                &self.user,
                Submission {
                    conversation_id: self.conversation.clone(),
                    client_message_id: ClientMessageId::parse(client_id).unwrap(),
                    text: text.into(),
                    channel: Channel::Web,
                    reply_to: None,
                    attachments: vec![voice.id.clone()],
                },
            )
            .await
            .unwrap();
        let turn = self.queue.0.lock().unwrap().pop().expect("a queued turn");
        (turn, voice.id)
    }

    async fn transcript_of(
        &self,
        id: &serverless_openclaw_core::ids::AttachmentId,
    ) -> Option<String> {
        self.attachments
            .read(&self.user, &self.conversation, id)
            .await
            .unwrap()
            .0
            .transcript
    }
}

#[tokio::test]
async fn a_voice_note_is_heard_once_its_words_are_the_prompt_and_failures_stop_before_the_agent() {
    let fx = Fixture::new();
    let speech = Arc::new(CountingSpeech::default());
    let processor = fx.processor.clone().with_speech(speech.clone());
    let run = |turn: Turn| {
        let processor = processor.clone();
        async move { processor.process(&turn, CancellationToken::new()).await }
    };
    let (turn, voice) = fx.submit_voice("v1", "About this:").await;

    // No speech key: told what to set; nothing transcribed, the agent not run, the message unanswered.
    assert_eq!(
        run(turn.clone()).await,
        TurnOutcome::Failed(ErrorCode::NoProvider)
    );
    assert!(speech.calls.lock().unwrap().is_empty());
    assert!(fx.prompts().is_empty());
    assert_eq!(fx.answered(&[&turn]).await, [false]);
    let told = fx.push.0.lock().unwrap().iter().find_map(|f| match f {
        ServerFrame::Error { message, .. } => Some(message.clone()),
        _ => None,
    });
    assert!(
        told.as_deref()
            .is_some_and(|t| t.starts_with("Voice notes need a speech-to-text key")),
        "{told:?}"
    );

    // With a Groq key (no speech settings: chosen by the keys), heard with Groq's default model; the
    // agent fails after that, and the transcript is kept with the voice note.
    fx.keys
        .put(&fx.user, Provider::Groq, &ApiKey::parse("gsk-1").unwrap())
        .await
        .unwrap();
    fx.agent
        .provider_down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        run(turn.clone()).await,
        TurnOutcome::Failed(ErrorCode::LlmError)
    );
    assert_eq!(
        *speech.calls.lock().unwrap(),
        [("audio/ogg".to_owned(), "whisper-large-v3-turbo".to_owned())]
    );
    assert_eq!(fx.transcript_of(&voice).await.as_deref(), Some("heard 1"));
    assert!(fx.push.0.lock().unwrap().iter().any(|f| matches!(
        f,
        ServerFrame::Transcript { text, message_id, attachment_id, .. }
            if text == "heard 1" && *message_id == turn.user_message_id && *attachment_id == voice
    )));

    // Sent again: the stored transcript is used, not heard again; the typed text comes first.
    fx.agent
        .provider_down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(run(turn.clone()).await, TurnOutcome::Answered(_)));
    assert_eq!(speech.calls.lock().unwrap().len(), 1);
    assert_eq!(
        fx.prompts().last().map(String::as_str),
        Some("About this:\n\nheard 1")
    );

    // The endpoint fails: told, the agent not run, the message unanswered, no transcript stored.
    speech.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let (second, second_voice) = fx.submit_voice("v2", "").await;
    let prompts = fx.prompts().len();
    assert_eq!(
        run(second.clone()).await,
        TurnOutcome::Failed(ErrorCode::TranscriptionFailed)
    );
    assert_eq!(fx.prompts().len(), prompts);
    assert_eq!(fx.answered(&[&second]).await, [false]);
    assert_eq!(fx.transcript_of(&second_voice).await, None);
}
