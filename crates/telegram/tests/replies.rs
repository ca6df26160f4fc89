//! A turn's frames delivered into a Telegram chat (the fake Bot API of `testkit`): typing, streamed
//! edits, long replies split below 4096 characters, the formatting fallback, rate limits, errors.

use std::time::{Duration, Instant};

use serverless_openclaw_core::domain::{
    Channel, ReplyTarget, Role, ToolActivity, ToolStatus, Turn, TurnActivity, TurnKind, Usage,
};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::ChannelReplies;
use serverless_openclaw_core::protocol::{ErrorCode, ServerFrame, TurnStatus};
use serverless_openclaw_telegram::format::{MAX_MESSAGE_UTF16, utf16_len};
use serverless_openclaw_telegram::{BotApi, TelegramReplies};
use serverless_openclaw_testkit::fake_telegram::{Failure, FakeTelegram};
use tokio::sync::mpsc;

const CHAT: i64 = 777;
const ASKED: i64 = 31;

fn turn() -> Turn {
    Turn {
        user_id: UserId::parse("owner").unwrap(),
        conversation_id: ConversationId::parse("c1").unwrap(),
        user_message_id: MessageId::generate(),
        client_message_id: ClientMessageId::parse("tg-1").unwrap(),
        prompt: "hi".into(),
        channel: Channel::Telegram,
        reply_to: Some(ReplyTarget::Telegram {
            chat_id: CHAT,
            message_id: ASKED,
        }),
        kind: TurnKind::Reply,
    }
}

fn status(status: TurnStatus) -> ServerFrame {
    ServerFrame::Status {
        conversation_id: ConversationId::parse("c1").unwrap(),
        status,
    }
}

fn delta(text: &str) -> ServerFrame {
    ServerFrame::Delta {
        conversation_id: ConversationId::parse("c1").unwrap(),
        message_id: MessageId::generate(),
        text: text.into(),
        replace: false,
    }
}

fn message(content: &str) -> ServerFrame {
    ServerFrame::Message {
        conversation_id: ConversationId::parse("c1").unwrap(),
        message_id: MessageId::generate(),
        role: Role::Assistant,
        content: content.into(),
        usage: Usage::default(),
        cost_usd: None,
        duration_ms: 1,
        activity: None,
        attachments: Vec::new(),
    }
}

fn tool(id: &str, status: ToolStatus, duration_ms: Option<u64>) -> ToolActivity {
    ToolActivity {
        tool_id: id.into(),
        name: "exec".into(),
        summary: format!("echo {id}"),
        status,
        duration_ms,
    }
}

fn activity(tool: ToolActivity) -> ServerFrame {
    ServerFrame::Activity {
        conversation_id: ConversationId::parse("c1").unwrap(),
        message_id: MessageId::parse("r1").unwrap(),
        tool,
    }
}

/// Delivers `frames` with `pause` between them; returns when the delivery is done.
async fn deliver(telegram: &FakeTelegram, frames: Vec<ServerFrame>, pause: Duration) {
    let replies = TelegramReplies::new(BotApi::new(&telegram.base_url(), telegram.token()));
    let (tx, rx) = mpsc::unbounded_channel();
    let feed = async move {
        for frame in frames {
            tx.send(frame).unwrap();
            tokio::time::sleep(pause).await;
        }
    };
    let turn = turn();
    tokio::join!(feed, replies.deliver(&turn, rx));
}

fn non_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[tokio::test]
async fn a_streamed_reply_shows_typing_then_edits_one_message_then_the_formatted_text() {
    let telegram = FakeTelegram::start().await.unwrap();
    let mut frames = vec![status(TurnStatus::Starting), status(TurnStatus::Running)];
    let words: Vec<String> = (0..30).map(|i| format!("word{i} ")).collect();
    frames.extend(words.iter().map(|w| delta(w)));
    let full = format!("**Done:** {}", words.concat());
    frames.push(message(&full));
    frames.push(status(TurnStatus::Idle));
    let started = Instant::now();
    deliver(&telegram, frames, Duration::from_millis(100)).await;
    let took = started.elapsed();

    let typing = telegram.calls_of("sendChatAction");
    assert!(!typing.is_empty());
    assert_eq!(typing[0].body["action"], "typing");
    let chat = telegram.chat(CHAT);
    assert_eq!(chat.len(), 1, "one message, edited: {chat:?}");
    let shown = &chat[0];
    assert!(
        shown.edits >= 2,
        "at least one streaming edit and the final one: {shown:?}"
    );
    assert_eq!(shown.parse_mode.as_deref(), Some("HTML"));
    assert!(
        shown.text.starts_with("<b>Done:</b> word0"),
        "{}",
        shown.text
    );
    assert!(shown.text.contains("word29"));
    // At most about one edit per second while streaming (3 s of deltas).
    let edits = telegram.calls_of("editMessageText").len();
    assert!(
        edits as f64 <= took.as_secs_f64() + 2.0,
        "{edits} edits in {took:?}"
    );
    // The first message quotes the user's.
    let first = &telegram.calls_of("sendMessage")[0];
    assert_eq!(first.body["reply_parameters"]["message_id"], ASKED);
}

#[tokio::test]
async fn a_turn_with_tools_shows_a_throttled_progress_message_then_the_answer_as_a_new_message() {
    let telegram = FakeTelegram::start().await.unwrap();
    let mut frames = vec![status(TurnStatus::Running)];
    // Twelve calls, started and ended in a burst: far more changes than Telegram allows edits.
    let mut worked = TurnActivity::default();
    for i in 0..12 {
        let id = format!("t{i}");
        let start = tool(&id, ToolStatus::Running, None);
        let end = tool(&id, ToolStatus::Ok, Some(100 + i));
        worked.record(&start);
        worked.record(&end);
        frames.extend([activity(start), activity(end)]);
    }
    frames.extend((0..5).map(|i| delta(&format!("part{i} "))));
    worked.worked_ms = 4_200;
    let mut answer = message("**Done** after the tools.");
    if let ServerFrame::Message { activity, .. } = &mut answer {
        *activity = Some(worked);
    }
    frames.push(answer);
    frames.push(status(TurnStatus::Idle));
    let started = Instant::now();
    deliver(&telegram, frames, Duration::from_millis(60)).await;
    let took = started.elapsed();

    let chat = telegram.chat(CHAT);
    assert_eq!(chat.len(), 2, "a progress message and the answer: {chat:?}");
    let (progress, answer) = (&chat[0], &chat[1]);
    // The progress message is kept as the turn's record: how long it worked, the latest calls.
    assert!(
        progress
            .text
            .starts_with("✅ Worked for 4.2 s · 12 tools\n… 2 earlier\n✓ exec · echo t2 (0.1 s)"),
        "{}",
        progress.text
    );
    assert_eq!(progress.parse_mode, None);
    // The answer is a message of its own (which notifies), formatted, quoting the user's message.
    assert_eq!(answer.text, "<b>Done</b> after the tools.");
    assert_eq!(answer.edits, 0);
    let sent = telegram.calls_of("sendMessage");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].body["reply_parameters"]["message_id"], ASKED);
    // Edits stay within Telegram's per-chat limit: at most one a second while the turn works, plus
    // the final one.
    let edits = telegram.calls_of("editMessageText");
    assert!(
        edits.len() as f64 <= took.as_secs_f64() + 1.0,
        "{} edits in {took:?}",
        edits.len()
    );
    for pair in edits[..edits.len() - 1].windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(950),
            "{:?}",
            pair[1].at - pair[0].at
        );
    }
    eprintln!(
        "telegram: {} progress edits for {} tool events and 5 deltas in {took:?}",
        edits.len(),
        24
    );
}

#[tokio::test]
async fn a_9000_character_reply_arrives_as_three_messages_below_the_limit_with_nothing_lost() {
    let telegram = FakeTelegram::start().await.unwrap();
    let paragraphs: Vec<String> = (0..45)
        .map(|i| format!("Paragraph {i:02}: {}", "lorem ipsum & <dolor> ".repeat(9)))
        .collect();
    let reply = paragraphs.join("\n\n");
    assert!(reply.chars().count() >= 9000, "{}", reply.chars().count());
    deliver(
        &telegram,
        vec![delta(&reply[..500]), message(&reply)],
        Duration::from_millis(50),
    )
    .await;

    let chat = telegram.chat(CHAT);
    assert_eq!(
        chat.len(),
        3,
        "{:?}",
        chat.iter().map(|m| m.text.len()).collect::<Vec<_>>()
    );
    let visible: Vec<String> = chat
        .iter()
        .map(|m| {
            m.text
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect();
    for text in &visible {
        assert!(utf16_len(text) < MAX_MESSAGE_UTF16, "{}", utf16_len(text));
    }
    assert_eq!(non_space(&visible.concat()), non_space(&reply));
}

#[tokio::test]
async fn formatting_telegram_refuses_is_sent_again_as_plain_text() {
    let telegram = FakeTelegram::start().await.unwrap();
    telegram.fail_next("sendMessage", Failure::EntityParse);
    deliver(
        &telegram,
        vec![message("Use `cargo test` **now**")],
        Duration::ZERO,
    )
    .await;
    let sends = telegram.calls_of("sendMessage");
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[0].status, 400);
    assert_eq!(sends[0].body["parse_mode"], "HTML");
    assert!(sends[1].body.get("parse_mode").is_none());
    let chat = telegram.chat(CHAT);
    assert_eq!(chat.len(), 1);
    // The plain text is what the formatted message would have shown, without the markup.
    assert_eq!(chat[0].text, "Use cargo test now");
}

#[tokio::test]
async fn a_rate_limited_call_is_retried_after_retry_after() {
    let telegram = FakeTelegram::start().await.unwrap();
    telegram.fail_next("sendMessage", Failure::TooManyRequests { retry_after: 2 });
    deliver(&telegram, vec![message("hello")], Duration::ZERO).await;
    let sends = telegram.calls_of("sendMessage");
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[0].status, 429);
    let waited = sends[1].at - sends[0].at;
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    assert_eq!(telegram.chat(CHAT)[0].text, "hello");
}

#[tokio::test]
async fn a_failed_turn_is_reported_in_plain_words() {
    let telegram = FakeTelegram::start().await.unwrap();
    deliver(
        &telegram,
        vec![
            status(TurnStatus::Starting),
            ServerFrame::Error {
                code: ErrorCode::LlmError,
                message: "the model provider failed <500>; please retry".into(),
                client_message_id: Some("tg-1".into()),
                conversation_id: Some("c1".into()),
            },
            status(TurnStatus::Idle),
        ],
        Duration::ZERO,
    )
    .await;
    let chat = telegram.chat(CHAT);
    assert_eq!(chat.len(), 1);
    assert_eq!(chat[0].parse_mode, None);
    assert_eq!(
        chat[0].text,
        "⚠️ the model provider failed <500>; please retry"
    );
}

#[tokio::test]
async fn a_turn_from_another_channel_is_not_delivered() {
    let telegram = FakeTelegram::start().await.unwrap();
    let replies = TelegramReplies::new(BotApi::new(&telegram.base_url(), telegram.token()));
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(message("hello")).unwrap();
    drop(tx);
    let web = Turn {
        reply_to: None,
        ..turn()
    };
    replies.deliver(&web, rx).await;
    assert!(telegram.calls().is_empty());
}

/// A 1×1 GIF.
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

#[tokio::test]
async fn the_agents_files_follow_the_text_as_photos_or_documents() {
    use serverless_openclaw_core::attachments::{Attachments, DEFAULT_QUOTA_BYTES};
    use serverless_openclaw_core::ids::AttachmentId;
    use serverless_openclaw_core::protocol::AttachmentView;
    use serverless_openclaw_local::attachments::FileAttachmentStore;

    let telegram = FakeTelegram::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let attachments = Attachments::new(
        std::sync::Arc::new(FileAttachmentStore::new(dir.path())),
        DEFAULT_QUOTA_BYTES,
    );
    let turn = turn();
    let png = serverless_openclaw_testkit::images::solid_png(4, 4, [9, 9, 9]);
    let mut views = Vec::new();
    for (name, bytes) in [
        ("wide.png", png.as_slice()),
        ("spin.gif", GIF),
        ("notes.txt", b"plain notes".as_slice()),
        ("chart.png", png.as_slice()),
    ] {
        let stored = attachments
            .upload(&turn.user_id, &turn.conversation_id, name, "", bytes)
            .await
            .unwrap();
        views.push(AttachmentView::from(&stored));
    }
    let mut gone = views[2].clone();
    gone.id = AttachmentId::generate();
    gone.name = "gone.txt".into();
    views.push(gone);
    // Telegram refuses the first photo (as it does an image of extreme proportions).
    telegram.fail_next(
        "sendPhoto",
        Failure::Status {
            code: 400,
            description: "Bad Request: PHOTO_INVALID_DIMENSIONS".into(),
        },
    );
    let replies = TelegramReplies::new(BotApi::new(&telegram.base_url(), telegram.token()))
        .with_attachments(attachments);
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(ServerFrame::Message {
        conversation_id: turn.conversation_id.clone(),
        message_id: MessageId::generate(),
        role: Role::Assistant,
        content: "Here they are.".into(),
        usage: Usage::default(),
        cost_usd: None,
        duration_ms: 1,
        activity: None,
        attachments: views,
    })
    .unwrap();
    drop(tx);
    replies.deliver(&turn, rx).await;

    let methods: Vec<String> = telegram
        .calls()
        .into_iter()
        .filter(|c| c.status == 200)
        .map(|c| c.method)
        .collect();
    assert_eq!(
        methods,
        [
            "sendMessage",
            "sendDocument",
            "sendDocument",
            "sendDocument",
            "sendPhoto",
            "sendMessage"
        ],
        "{:#?}",
        telegram.calls()
    );
    let uploads = telegram.uploads(CHAT);
    let sent: Vec<_> = uploads
        .iter()
        .map(|u| (u.method.as_str(), u.file_name.as_deref().unwrap()))
        .collect();
    assert_eq!(
        sent,
        [
            ("sendDocument", "wide.png"),
            ("sendDocument", "spin.gif"),
            ("sendDocument", "notes.txt"),
            ("sendPhoto", "chart.png"),
        ]
    );
    assert!(uploads.iter().all(|u| u.reply_to == Some(ASKED)));
    assert_eq!(uploads[3].bytes, png);
    let said: Vec<String> = telegram.chat(CHAT).into_iter().map(|m| m.text).collect();
    assert_eq!(
        said,
        ["Here they are.", "(The file gone.txt could not be sent.)"]
    );
}

#[tokio::test]
async fn a_reply_of_files_alone_sends_no_empty_text() {
    let telegram = FakeTelegram::start().await.unwrap();
    let views = vec![serverless_openclaw_core::protocol::AttachmentView {
        id: serverless_openclaw_core::ids::AttachmentId::generate(),
        name: "missing.png".into(),
        media_type: "image/png".into(),
        size: 1,
        kind: serverless_openclaw_core::attachments::AttachmentKind::Image,
        created_at: "2026-12-07T00:00:00Z".into(),
        transcript: None,
    }];
    let turn = turn();
    let frame = ServerFrame::Message {
        conversation_id: turn.conversation_id.clone(),
        message_id: MessageId::generate(),
        role: Role::Assistant,
        content: String::new(),
        usage: Usage::default(),
        cost_usd: None,
        duration_ms: 1,
        activity: None,
        attachments: views,
    };
    deliver(&telegram, vec![frame], Duration::ZERO).await;
    let said: Vec<String> = telegram.chat(CHAT).into_iter().map(|m| m.text).collect();
    assert!(said.iter().all(|t| !t.contains("empty reply")), "{said:?}");
}
