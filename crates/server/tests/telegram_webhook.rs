//! Telegram's webhook route end to end, on the local adapters (SQLite, the in-process queue) and on the
//! AWS ones (DynamoDB and SQS FIFO on moto): the secret header, dedupe by update id, access control,
//! linking with one-time codes, the commands, which updates wake the agent. Telegram itself is the fake
//! Bot API of `testkit`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::domain::{
    Channel, Conversation, ConversationSettings, ConversationSettingsUpdate, ExchangeVersion,
    Message, NewAssistantMessage, NewUserMessage, ReplyTarget, Rerun, ThinkingLevel, Turn,
    UserMessage,
};
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::linking::{LINK_CODE_TTL, LinkCode, Linking};
use serverless_openclaw_core::ports::{
    AgentState, AgentStatus, AgentStatusSource, AgentWaker, Appended, ClientPush,
    ConversationStore, PortError, TelegramStore, TurnQueue, WakeReason,
};
use serverless_openclaw_core::protocol::ServerFrame;
use serverless_openclaw_local::{
    LocalTurnQueue, MemorySessionLeases, SqliteConversationStore, SqliteSettingsStore,
    SqliteTelegramStore, TurnHandler,
};
use serverless_openclaw_telegram::{Bot, BotApi, Webhook};
use serverless_openclaw_testkit::fake_telegram::{
    FakeTelegram, callback_update, reply_to, text_update,
};
use serverless_openclaw_testkit::moto::{Moto, unique_name};
use time::OffsetDateTime;
use tower::ServiceExt;

const SECRET: &str = "the-webhook-secret_0123456789";
const OWNER: &str = "owner-1";
const STRANGER: i64 = 555_001;
const FRIEND: i64 = 555_002;
const ALLOWED: i64 = 555_003;

struct NoPush;

#[async_trait]
impl ClientPush for NoPush {
    async fn push(&self, _: &UserId, _: &ServerFrame) {}
}

struct Asleep;

impl AgentStatusSource for Asleep {
    fn status(&self) -> AgentStatus {
        AgentStatus {
            state: AgentState::Stopped,
            openclaw_version: None,
            model: Some("fake/model".into()),
        }
    }
}

/// The wake-ups the bot asked for.
#[derive(Default)]
struct Wakes(Mutex<Vec<WakeReason>>);

#[async_trait]
impl AgentWaker for Wakes {
    async fn wake(&self, reason: WakeReason) {
        self.0.lock().unwrap().push(reason);
    }
}

/// Turns the local queue handed to its consumer.
#[derive(Default)]
struct Recorder(Mutex<Vec<Turn>>);

#[async_trait]
impl TurnHandler for Recorder {
    async fn handle(&self, turn: Turn, _: CancellationToken) {
        self.0.lock().unwrap().push(turn);
    }
}

/// Where the webhook's writes land, and how a test reads them.
enum Storage {
    Local {
        recorder: Arc<Recorder>,
        _dir: tempfile::TempDir,
    },
    Aws {
        dynamodb: aws_sdk_dynamodb::Client,
        table: String,
        sqs: aws_sdk_sqs::Client,
        queue: String,
        received: Mutex<Vec<Turn>>,
    },
}

struct Harness {
    telegram: FakeTelegram,
    router: axum::Router,
    store: Arc<dyn TelegramStore>,
    conversations: Arc<dyn ConversationStore>,
    storage: Storage,
    wakes: Arc<Wakes>,
}

impl Harness {
    async fn local() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite3");
        let recorder = Arc::new(Recorder::default());
        let queue: Arc<dyn TurnQueue> = Arc::new(LocalTurnQueue::new(recorder.clone()));
        Self::build(
            Arc::new(SqliteTelegramStore::open(&db).unwrap()),
            Arc::new(SqliteConversationStore::open(&db).unwrap()),
            queue,
            Storage::Local {
                recorder,
                _dir: dir,
            },
        )
        .await
    }

    async fn aws() -> Self {
        let config = Moto::shared().sdk_config();
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let table = unique_name("conversations");
        serverless_openclaw_aws::conversations::create_table(&dynamodb, &table)
            .await
            .unwrap();
        let sqs = aws_sdk_sqs::Client::new(&config);
        let queue = sqs
            .create_queue()
            .queue_name(format!("{}.fifo", unique_name("turns")))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
            .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let turns: Arc<dyn TurnQueue> = Arc::new(serverless_openclaw_aws::SqsTurnQueue::new(
            sqs.clone(),
            &queue,
            Arc::new(MemorySessionLeases::new()),
        ));
        Self::build(
            Arc::new(serverless_openclaw_aws::DynamoTelegramStore::new(
                dynamodb.clone(),
                &table,
            )),
            Arc::new(serverless_openclaw_aws::DynamoConversationStore::new(
                dynamodb.clone(),
                &table,
            )),
            turns,
            Storage::Aws {
                dynamodb,
                table,
                sqs,
                queue,
                received: Mutex::new(Vec::new()),
            },
        )
        .await
    }

    async fn build(
        store: Arc<dyn TelegramStore>,
        conversations: Arc<dyn ConversationStore>,
        queue: Arc<dyn TurnQueue>,
        storage: Storage,
    ) -> Self {
        let telegram = FakeTelegram::start().await.unwrap();
        let wakes = Arc::new(Wakes::default());
        let bot = Bot {
            api: BotApi::new(&telegram.base_url(), telegram.token()),
            store: store.clone(),
            chat: ChatService::new(
                conversations.clone(),
                queue,
                Arc::new(NoPush),
                Arc::new(SqliteSettingsStore::in_memory().unwrap()),
                Arc::new(Asleep),
            ),
            waker: Some(wakes.clone()),
            allowlist: vec![ALLOWED],
        };
        let router =
            serverless_openclaw_server::telegram_webhook(Arc::new(Webhook::new(bot, SECRET)));
        Self {
            telegram,
            router,
            store,
            conversations,
            storage,
            wakes,
        }
    }

    /// How many times the bot woke the agent so far (always for Telegram activity).
    fn wakes(&self) -> usize {
        let wakes = self.wakes.0.lock().unwrap();
        assert!(wakes.iter().all(|r| *r == WakeReason::TelegramActivity));
        wakes.len()
    }

    /// Posts an update as Telegram does; the status code.
    async fn post(&self, secret: Option<&str>, body: &Value) -> u16 {
        let mut request =
            Request::post("/telegram/webhook").header("content-type", "application/json");
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        response.status().as_u16()
    }

    async fn send(&self, update_id: i64, from: i64, text: &str) {
        let status = self
            .post(Some(SECRET), &text_update(update_id, from, text))
            .await;
        assert_eq!(status, 200, "update {update_id} {text:?}");
    }

    /// Every turn queued so far.
    async fn turns(&self) -> Vec<Turn> {
        match &self.storage {
            Storage::Local { recorder, .. } => {
                // The local queue hands turns to its consumer on a task; let it run.
                tokio::time::sleep(Duration::from_millis(200)).await;
                recorder.0.lock().unwrap().clone()
            }
            Storage::Aws {
                sqs,
                queue,
                received,
                ..
            } => {
                loop {
                    let got = sqs
                        .receive_message()
                        .queue_url(queue)
                        .max_number_of_messages(10)
                        .wait_time_seconds(1)
                        .send()
                        .await
                        .unwrap();
                    let messages = got.messages.unwrap_or_default();
                    if messages.is_empty() {
                        break;
                    }
                    for message in messages {
                        let turn = serde_json::from_str(message.body().unwrap()).unwrap();
                        received.lock().unwrap().push(turn);
                        sqs.delete_message()
                            .queue_url(queue)
                            .receipt_handle(message.receipt_handle().unwrap())
                            .send()
                            .await
                            .unwrap();
                    }
                }
                received.lock().unwrap().clone()
            }
        }
    }

    /// Whether anything at all was written: a Telegram claim, a conversation, a queued turn (on AWS,
    /// any item in the table or any message in the queue).
    async fn wrote_anything(&self, update_id: i64) -> bool {
        match &self.storage {
            Storage::Local { .. } => {
                let claimed = !self
                    .store
                    .claim_update(
                        update_id,
                        OffsetDateTime::now_utc() + time::Duration::hours(1),
                    )
                    .await
                    .unwrap();
                self.store.release_update(update_id).await.unwrap();
                let owner = UserId::parse(OWNER).unwrap();
                claimed
                    || !self
                        .conversations
                        .list_conversations(&owner)
                        .await
                        .unwrap()
                        .is_empty()
                    || !self.turns().await.is_empty()
            }
            Storage::Aws {
                dynamodb, table, ..
            } => {
                let items = dynamodb
                    .scan()
                    .table_name(table)
                    .send()
                    .await
                    .unwrap()
                    .count;
                items > 0 || !self.turns().await.is_empty()
            }
        }
    }

    fn said_to(&self, chat: i64) -> Vec<String> {
        self.telegram
            .chat(chat)
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    /// A link code for `owner`, as the web app gets one.
    async fn issue_code(&self, owner: &UserId) -> Result<LinkCode, PortError> {
        Linking::new(self.store.clone(), self.store.clone())
            .issue_code(owner, OffsetDateTime::now_utc())
            .await
    }

    async fn link(&self, telegram_user: i64, update_id: i64) {
        let code = self
            .issue_code(&UserId::parse(OWNER).unwrap())
            .await
            .unwrap();
        self.send(update_id, telegram_user, &format!("/link {}", code.code))
            .await;
        assert_eq!(
            self.store.linked_user(telegram_user).await.unwrap(),
            Some(UserId::parse(OWNER).unwrap())
        );
    }
}

/// Runs a scenario on both adapter sets.
macro_rules! on_both {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test]
            async fn local() {
                super::$scenario(super::Harness::local().await).await;
            }

            #[tokio::test]
            async fn aws_on_moto() {
                super::$scenario(super::Harness::aws().await).await;
            }
        }
    };
}

async fn a_missing_or_wrong_secret_is_refused_without_side_effects(h: Harness) {
    let update = text_update(41, FRIEND, "hello");
    assert_eq!(h.post(None, &update).await, 403);
    assert_eq!(h.post(Some("wrong"), &update).await, 403);
    assert_eq!(h.post(Some(&format!("{SECRET}x")), &update).await, 403);
    assert_eq!(h.post(Some(""), &update).await, 403);
    assert!(
        !h.wrote_anything(41).await,
        "a refused request wrote something"
    );
    assert!(h.telegram.calls().is_empty(), "{:?}", h.telegram.calls());
    // A body that is not an update, with the right secret: 400, nothing written.
    assert_eq!(
        h.post(Some(SECRET), &serde_json::json!({"x": 1})).await,
        400
    );
    assert!(!h.wrote_anything(41).await);
}
on_both!(a_missing_or_wrong_secret_is_refused_without_side_effects);

async fn a_redelivered_update_makes_one_turn(h: Harness) {
    h.link(FRIEND, 1).await;
    h.send(2, FRIEND, "What is the weather?").await;
    h.send(2, FRIEND, "What is the weather?").await;
    let turns = h.turns().await;
    assert_eq!(turns.len(), 1, "{turns:?}");
    let turn = &turns[0];
    assert_eq!(turn.user_id.as_str(), OWNER);
    assert_eq!(turn.prompt, "What is the weather?");
    assert_eq!(turn.channel, Channel::Telegram);
    assert_eq!(turn.client_message_id.as_str(), "tg-2");
    assert_eq!(
        turn.reply_to,
        Some(ReplyTarget::Telegram {
            chat_id: FRIEND,
            message_id: 10_002
        })
    );
    // Stored as the owner's, marked as from Telegram, and shown typing at once.
    let owner = UserId::parse(OWNER).unwrap();
    let messages = h
        .conversations
        .list_messages(&owner, &turn.conversation_id, 10, None)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].channel, Channel::Telegram);
    assert_eq!(h.telegram.calls_of("sendChatAction").len(), 1);

    // The next message continues the same conversation; /new starts another.
    h.send(3, FRIEND, "And tomorrow?").await;
    h.send(4, FRIEND, "/new").await;
    h.send(5, FRIEND, "Something else").await;
    let turns = h.turns().await;
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[1].conversation_id, turn.conversation_id);
    assert_ne!(turns[2].conversation_id, turn.conversation_id);
    // Linking and /new woke the agent (a message is likely to follow); the messages, themselves
    // turns, did not.
    assert_eq!(h.wakes(), 2);
}
on_both!(a_redelivered_update_makes_one_turn);

async fn an_unlinked_user_is_refused_once_per_message_and_nothing_reaches_the_agent(h: Harness) {
    h.send(7, STRANGER, "hello, agent?").await;
    let said = h.said_to(STRANGER);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains(&STRANGER.to_string()), "{}", said[0]);
    assert!(said[0].contains("/link"), "{}", said[0]);
    assert!(h.turns().await.is_empty());
    // Commands that need access are refused the same way; help is for everyone.
    h.send(8, STRANGER, "/status").await;
    h.send(9, STRANGER, "/new").await;
    h.send(10, STRANGER, "/help").await;
    let said = h.said_to(STRANGER);
    assert_eq!(said.len(), 4);
    assert!(said[1].contains("not linked") && said[2].contains("not linked"));
    assert!(said[3].contains("/link CODE"));
    assert!(h.turns().await.is_empty());
    assert_eq!(h.store.current_conversation(STRANGER).await.unwrap(), None);
    assert_eq!(h.wakes(), 0, "a stranger never wakes the agent");
}
on_both!(an_unlinked_user_is_refused_once_per_message_and_nothing_reaches_the_agent);

async fn a_code_links_once_and_wrong_or_expired_codes_are_refused(h: Harness) {
    let owner = UserId::parse(OWNER).unwrap();
    let code = h.issue_code(&owner).await.unwrap();
    let expires_in = code.expires_at - OffsetDateTime::now_utc();
    assert!(expires_in <= LINK_CODE_TTL && expires_in > LINK_CODE_TTL - Duration::from_secs(60));
    h.send(20, FRIEND, &format!("/link {}", code.code)).await;
    assert_eq!(
        h.store.linked_user(FRIEND).await.unwrap(),
        Some(owner.clone())
    );
    assert!(h.said_to(FRIEND).last().unwrap().starts_with("Linked!"));
    // Single use: someone else trying the same code is refused.
    h.send(21, STRANGER, &format!("/link {}", code.code)).await;
    assert_eq!(h.store.linked_user(STRANGER).await.unwrap(), None);
    assert!(h.said_to(STRANGER)[0].contains("wrong or has expired"));

    // An expired code is refused.
    let past = OffsetDateTime::now_utc() - time::Duration::minutes(20);
    h.store
        .put_link_code("11112222", &owner, past, past + LINK_CODE_TTL)
        .await
        .unwrap();
    h.send(22, STRANGER, "/link 11112222").await;
    assert_eq!(h.store.linked_user(STRANGER).await.unwrap(), None);

    // Five wrong attempts in the hour (the two above and three more), then even a good code is refused.
    for (i, wrong) in ["1", "abcdefgh", "00000000"].iter().enumerate() {
        h.send(23 + i as i64, STRANGER, &format!("/link {wrong}"))
            .await;
    }
    let said = h.said_to(STRANGER);
    assert!(said[4].contains("0 attempts left"), "{said:?}");
    let good = h.issue_code(&owner).await.unwrap();
    h.send(30, STRANGER, &format!("/link {}", good.code)).await;
    assert_eq!(h.store.linked_user(STRANGER).await.unwrap(), None);
    assert!(h.said_to(STRANGER)[5].contains("Too many wrong codes"));
    assert_eq!(h.said_to(STRANGER).len(), 6);
    // The good code was not used up by the refused attempt.
    assert_eq!(
        h.store
            .take_link_code(&good.code, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        Some(owner)
    );
}
on_both!(a_code_links_once_and_wrong_or_expired_codes_are_refused);

async fn commands_answer_and_unlink_asks_first(h: Harness) {
    h.link(FRIEND, 40).await;
    h.send(41, FRIEND, "/start").await;
    h.send(42, FRIEND, "/status").await;
    h.send(43, FRIEND, "/frobnicate").await;
    h.send(44, FRIEND, "/model e2e-b").await;
    h.send(45, FRIEND, "/think high").await;
    h.send(46, FRIEND, "/stop").await;
    h.send(47, FRIEND, "/unlink").await;
    assert!(
        h.store.linked_user(FRIEND).await.unwrap().is_some(),
        "unlink must ask first"
    );
    h.send(48, FRIEND, "/unlink yes").await;
    assert_eq!(h.store.linked_user(FRIEND).await.unwrap(), None);
    h.send(49, FRIEND, "still there?").await;
    let said = h.said_to(FRIEND);
    assert!(said[1].contains("linked to your agent"), "{}", said[1]);
    assert!(
        said[2].contains("Agent: asleep") && said[2].contains("Model: fake/model"),
        "{}",
        said[2]
    );
    assert!(said[2].contains("Last turn: none yet"), "{}", said[2]);
    assert!(said[2].contains("linked to your account"), "{}", said[2]);
    // A /word that is no command is a turn; the shared commands answer in the current conversation.
    let turns = h.turns().await;
    assert_eq!(
        turns.iter().map(|t| t.prompt.as_str()).collect::<Vec<_>>(),
        ["/frobnicate"]
    );
    assert!(said[3].contains("e2e-b"), "{}", said[3]);
    assert!(said[4].contains("Thinking set to high"), "{}", said[4]);
    assert_eq!(said[5], "Nothing is running in this conversation.");
    let own = h
        .conversations
        .conversation_settings(&turns[0].user_id, &turns[0].conversation_id)
        .await
        .unwrap();
    assert_eq!(
        (own.model.as_deref(), own.thinking),
        (Some("e2e-b"), Some(ThinkingLevel::High))
    );
    assert!(said[6].contains("/unlink yes"), "{}", said[6]);
    assert!(said[7].starts_with("Unlinked."), "{}", said[7]);
    assert!(said[8].contains(&FRIEND.to_string()), "{}", said[8]);
    // The link and the seven commands sent while linked; nothing once unlinked.
    assert_eq!(h.wakes(), 8);
}
on_both!(commands_answer_and_unlink_asks_first);

async fn buttons_act_once_checked_and_forged_ones_are_refused(h: Harness) {
    h.link(FRIEND, 60).await;
    // A message: 👀 on it, a turn with the quoted message it replies to above its text.
    h.send(61, FRIEND, "hello there").await;
    assert_eq!(h.telegram.reactions(FRIEND, 10_061), ["👀"]);
    let quoted = reply_to(
        text_update(62, FRIEND, "and why?"),
        7,
        true,
        "The answer is 42.\nSee above.",
    );
    assert_eq!(h.post(Some(SECRET), &quoted).await, 200);
    let turns = h.turns().await;
    assert_eq!(turns.len(), 2, "{turns:?}");
    assert_eq!(turns[0].prompt, "hello there");
    assert_eq!(
        turns[1].prompt,
        "> The answer is 42.\n> See above.\n\nand why?"
    );
    let (user, conversation) = (turns[0].user_id.clone(), turns[0].conversation_id.clone());

    // /model offers the default and this conversation's own model as buttons; one press switches.
    h.send(63, FRIEND, "/model e2e-b").await;
    h.send(64, FRIEND, "/model").await;
    let offer = h.telegram.chat(FRIEND).last().unwrap().clone();
    let buttons: Vec<Value> =
        offer.reply_markup.as_ref().expect("model buttons")["inline_keyboard"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row[0]["callback_data"].clone())
            .collect();
    assert_eq!(buttons, ["model:model", "model:e2e-b"]);
    let press = |update_id, data: &str| callback_update(update_id, FRIEND, offer.message_id, data);
    assert_eq!(h.post(Some(SECRET), &press(65, "model:model")).await, 200);
    let own = h
        .conversations
        .conversation_settings(&user, &conversation)
        .await
        .unwrap();
    assert_eq!(own.model.as_deref(), Some("model"));

    // Stop with nothing running; Retry queues the last message again, as the same stored message.
    let stop = format!("stop:{conversation}");
    assert_eq!(h.post(Some(SECRET), &press(66, &stop)).await, 200);
    let mut retry = press(67, &format!("retry:{conversation}"));
    retry["callback_query"]["message"]["reply_to_message"] =
        serde_json::json!({"message_id": 10_062, "chat": {"id": FRIEND, "type": "private"}});
    assert_eq!(h.post(Some(SECRET), &retry).await, 200);
    let turns = h.turns().await;
    assert_eq!(turns.len(), 3, "{turns:?}");
    assert_eq!(turns[2].prompt, turns[1].prompt);
    assert_eq!(turns[2].user_message_id, turns[1].user_message_id);
    assert_eq!(
        turns[2].reply_to,
        Some(ReplyTarget::Telegram {
            chat_id: FRIEND,
            message_id: 10_062
        })
    );

    // Stale, forged or oversized data, a press by a stranger, a redelivered press: each answered
    // once with a reason, nothing done.
    let forged = [
        "model:bad id",
        "delete:everything",
        "stop:../x",
        "retry:",
        "",
        &format!("model:{}", "m".repeat(80)),
    ];
    for (i, data) in forged.iter().enumerate() {
        assert_eq!(h.post(Some(SECRET), &press(70 + i as i64, data)).await, 200);
    }
    let mut no_data = press(80, "x");
    no_data["callback_query"]
        .as_object_mut()
        .unwrap()
        .remove("data");
    assert_eq!(h.post(Some(SECRET), &no_data).await, 200);
    let stranger = callback_update(81, STRANGER, 1, &stop);
    assert_eq!(h.post(Some(SECRET), &stranger).await, 200);
    assert_eq!(h.post(Some(SECRET), &press(65, "model:e2e-b")).await, 200);
    let answers: Vec<String> = h
        .telegram
        .callback_answers()
        .into_iter()
        .map(|a| format!("{}: {}", a.callback_query_id, a.text.unwrap_or_default()))
        .collect();
    let mut expected = vec![
        "cb-65: This conversation now uses model, from your next message on.".to_owned(),
        "cb-66: Nothing is running there any more.".to_owned(),
        "cb-67: Trying again.".to_owned(),
    ];
    expected.extend((70..76).map(|id| format!("cb-{id}: This button no longer works.")));
    expected.push("cb-80: This button no longer works.".to_owned());
    expected.push(format!(
        "cb-81: This is a private OpenClaw agent; your Telegram user id is {STRANGER}."
    ));
    assert_eq!(answers, expected);
    assert_eq!(h.turns().await.len(), 3);
    let own = h
        .conversations
        .conversation_settings(&user, &conversation)
        .await
        .unwrap();
    assert_eq!(own.model.as_deref(), Some("model"));
}
on_both!(buttons_act_once_checked_and_forged_ones_are_refused);

async fn an_allowlisted_user_talks_as_their_own_user(h: Harness) {
    h.send(50, ALLOWED, "hi from the allowlist").await;
    h.send(51, STRANGER, "hi from nowhere").await;
    let turns = h.turns().await;
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(turns[0].user_id.as_str(), format!("telegram-{ALLOWED}"));
    // Group chats and other update kinds are acknowledged and ignored.
    let mut group = text_update(52, ALLOWED, "in a group");
    group["message"]["chat"]["type"] = "group".into();
    assert_eq!(h.post(Some(SECRET), &group).await, 200);
    let edited = serde_json::json!({"update_id": 53, "edited_message": {"message_id": 1}});
    assert_eq!(h.post(Some(SECRET), &edited).await, 200);
    assert_eq!(h.turns().await.len(), 1);
}
on_both!(an_allowlisted_user_talks_as_their_own_user);

async fn a_conversation_started_on_telegram_is_titled_from_its_first_message(h: Harness) {
    h.link(FRIEND, 60).await;
    h.send(61, FRIEND, "Plan a weekend in Lisbon\nwith trains")
        .await;
    h.send(62, FRIEND, "And the hotels?").await;
    h.send(63, FRIEND, "/new").await;
    // A reply starts the next one: the replied-to text is quoted above the user's own words, which
    // name the conversation.
    let quoted = reply_to(
        text_update(64, FRIEND, "Is this still true?"),
        500,
        true,
        "Trains leave every hour.",
    );
    assert_eq!(h.post(Some(SECRET), &quoted).await, 200);
    let turns = h.turns().await;
    assert_eq!(turns.len(), 3, "{turns:?}");
    let titles: Vec<(ConversationId, String)> = h
        .conversations
        .list_conversations(&UserId::parse(OWNER).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.title))
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(
        titles.contains(&(
            turns[0].conversation_id.clone(),
            "Plan a weekend in Lisbon".into()
        )),
        "{titles:?}"
    );
    assert!(
        titles.contains(&(
            turns[2].conversation_id.clone(),
            "Is this still true?".into()
        )),
        "{titles:?}"
    );
}
on_both!(a_conversation_started_on_telegram_is_titled_from_its_first_message);

/// A conversation store whose writes of user messages fail while `failing` is set.
struct Flaky {
    inner: SqliteConversationStore,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ConversationStore for Flaky {
    async fn create_conversation(
        &self,
        u: &UserId,
        c: &ConversationId,
        t: &str,
    ) -> Result<(), PortError> {
        self.inner.create_conversation(u, c, t).await
    }
    async fn list_conversations(&self, u: &UserId) -> Result<Vec<Conversation>, PortError> {
        self.inner.list_conversations(u).await
    }
    async fn append_user_message(
        &self,
        u: &UserId,
        c: &ConversationId,
        m: NewUserMessage,
    ) -> Result<Appended, PortError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(PortError::backend("disk full"));
        }
        self.inner.append_user_message(u, c, m).await
    }
    async fn append_assistant_message(
        &self,
        u: &UserId,
        c: &ConversationId,
        m: NewAssistantMessage,
    ) -> Result<(), PortError> {
        self.inner.append_assistant_message(u, c, m).await
    }
    async fn is_answered(
        &self,
        u: &UserId,
        c: &ConversationId,
        m: &MessageId,
    ) -> Result<bool, PortError> {
        self.inner.is_answered(u, c, m).await
    }
    async fn latest_user_messages(
        &self,
        u: &UserId,
        c: &ConversationId,
        limit: usize,
    ) -> Result<Vec<UserMessage>, PortError> {
        self.inner.latest_user_messages(u, c, limit).await
    }
    async fn list_messages(
        &self,
        u: &UserId,
        c: &ConversationId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<Vec<Message>, PortError> {
        self.inner.list_messages(u, c, limit, before).await
    }
    async fn delete_conversation(&self, u: &UserId, c: &ConversationId) -> Result<(), PortError> {
        self.inner.delete_conversation(u, c).await
    }
    async fn rename_conversation(
        &self,
        u: &UserId,
        c: &ConversationId,
        title: &str,
    ) -> Result<(), PortError> {
        self.inner.rename_conversation(u, c, title).await
    }
    async fn conversation_settings(
        &self,
        u: &UserId,
        c: &ConversationId,
    ) -> Result<ConversationSettings, PortError> {
        self.inner.conversation_settings(u, c).await
    }
    async fn update_conversation_settings(
        &self,
        u: &UserId,
        c: &ConversationId,
        update: &ConversationSettingsUpdate,
    ) -> Result<(), PortError> {
        self.inner.update_conversation_settings(u, c, update).await
    }
    async fn supersede_last_exchange(
        &self,
        u: &UserId,
        c: &ConversationId,
        rerun: Rerun,
    ) -> Result<Appended, PortError> {
        self.inner.supersede_last_exchange(u, c, rerun).await
    }
    async fn last_exchange_versions(
        &self,
        u: &UserId,
        c: &ConversationId,
    ) -> Result<Vec<ExchangeVersion>, PortError> {
        self.inner.last_exchange_versions(u, c).await
    }
}

#[tokio::test]
async fn a_storage_failure_answers_500_and_the_redelivered_update_is_handled_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let recorder = Arc::new(Recorder::default());
    let flaky = Arc::new(Flaky {
        inner: SqliteConversationStore::open(&db).unwrap(),
        failing: std::sync::atomic::AtomicBool::new(false),
    });
    let h = Harness::build(
        Arc::new(SqliteTelegramStore::open(&db).unwrap()),
        flaky.clone(),
        Arc::new(LocalTurnQueue::new(recorder.clone())),
        Storage::Local {
            recorder,
            _dir: dir,
        },
    )
    .await;
    h.link(FRIEND, 1).await;
    flaky
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let update = text_update(2, FRIEND, "remember this");
    assert_eq!(h.post(Some(SECRET), &update).await, 500);
    assert!(h.turns().await.is_empty());
    // Telegram delivers it again once storage is back: handled now, exactly once.
    flaky
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(h.post(Some(SECRET), &update).await, 200);
    assert_eq!(h.post(Some(SECRET), &update).await, 200);
    let turns = h.turns().await;
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(turns[0].prompt, "remember this");
}

async fn status_reports_the_last_turns_cost(h: Harness) {
    h.link(FRIEND, 60).await;
    h.send(61, FRIEND, "a question").await;
    let turn = h.turns().await.remove(0);
    let owner = UserId::parse(OWNER).unwrap();
    let reply = NewAssistantMessage {
        id: MessageId::generate(),
        reply_to: turn.user_message_id.clone(),
        also_answers: Vec::new(),
        content: "an answer".into(),
        channel: Channel::Telegram,
        usage: Default::default(),
        cost_usd: Some(0.00123),
        duration_ms: 5,
        activity: None,
        created_at: OffsetDateTime::now_utc(),
    };
    h.conversations
        .append_assistant_message(&owner, &turn.conversation_id, reply)
        .await
        .unwrap();
    h.send(62, FRIEND, "/status").await;
    let said = h.said_to(FRIEND);
    assert!(
        said.last().unwrap().contains("Last turn: $0.0012"),
        "{said:?}"
    );
}
on_both!(status_reports_the_last_turns_cost);
