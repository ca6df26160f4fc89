//! Contract suites for the ports: one async function per port, run against every adapter (the local
//! twins in `crates/local/tests`, the AWS ones on moto in `crates/aws/tests`). Each asserts the
//! contract written on the port's trait.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serverless_openclaw_core::attachments::{
    Attachment, AttachmentError, AttachmentKind, Attachments, DOWNLOAD_TTL, MAX_FILE_BYTES,
    MAX_IMAGE_BYTES, UPLOAD_TTL,
};
use serverless_openclaw_core::domain::{
    Channel, ConversationSettings, ConversationSettingsUpdate, ExchangeVersion,
    NewAssistantMessage, NewUserMessage, ReplyTarget, Rerun, Role, ThinkingLevel, ToolActivity,
    ToolStatus, Turn, TurnActivity, TurnKind, Usage,
};
use serverless_openclaw_core::ids::{
    AttachmentId, ClientMessageId, ConnectionId, ConversationId, MessageId, UserId,
};
use serverless_openclaw_core::linking::{
    LINK_ATTEMPT_WINDOW, LINK_CODE_DIGITS, LINK_CODE_TTL, Linking, MAX_LINK_FAILURES, Redemption,
};
use serverless_openclaw_core::ports::{
    ApiKeyStore, AttachmentLinks, AttachmentStore, ConnectionStore, ConversationStore,
    DownloadLink, Lease, LinkCodes, MessageSearch, ObjectVersion, PendingUploads, PortError,
    ProcessedUpdates, SessionLeases, SettingsStore, Stored, TelegramLinks, TelegramStore,
    TranscriptStore, TurnQueue, UploadTarget, WorkspaceFile, WorkspaceStore,
};
use serverless_openclaw_core::search::SearchQuery;
use serverless_openclaw_core::settings::{
    ApiKey, ModelSettings, Provider, SpeechProvider, SpeechSettings,
};
use time::OffsetDateTime;
use time::macros::datetime;

fn user(s: &str) -> UserId {
    UserId::parse(s).expect("valid test id")
}

fn conv(s: &str) -> ConversationId {
    ConversationId::parse(s).expect("valid test id")
}

fn user_message(client_id: &str, content: &str) -> NewUserMessage {
    NewUserMessage {
        id: MessageId::generate(),
        client_message_id: ClientMessageId::parse(client_id).expect("valid test id"),
        content: content.into(),
        channel: Channel::Web,
        created_at: OffsetDateTime::now_utc(),
    }
}

fn reply(to: &MessageId, content: &str) -> NewAssistantMessage {
    NewAssistantMessage {
        id: MessageId::generate(),
        reply_to: to.clone(),
        also_answers: Vec::new(),
        content: content.into(),
        channel: Channel::Web,
        usage: Usage {
            input_tokens: 10,
            output_tokens: 5,
        },
        cost_usd: Some(0.001),
        duration_ms: 42,
        activity: None,
        created_at: OffsetDateTime::now_utc(),
    }
}

/// The [`ConversationStore`] contract. `store` must be empty.
pub async fn conversation_store(store: &dyn ConversationStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let c = conv("default");

    // The first message creates the conversation, titled from the message.
    let first = store
        .append_user_message(&alice, &c, user_message("m1", "Hello there\nsecond line"))
        .await
        .expect("append");
    assert!(!first.duplicate && !first.answered);
    let listed = store.list_conversations(&alice).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, c);
    assert_eq!(listed[0].title, "Hello there");
    assert_eq!(listed[0].message_count, 1);

    // Idempotent on the client message id.
    let again = store
        .append_user_message(&alice, &c, user_message("m1", "Hello there"))
        .await
        .expect("append again");
    assert_eq!(again.message_id, first.message_id);
    assert!(again.duplicate && !again.answered);

    // One reply per user message.
    assert!(
        !store
            .is_answered(&alice, &c, &first.message_id)
            .await
            .expect("is_answered")
    );
    store
        .append_assistant_message(&alice, &c, reply(&first.message_id, "Hi!"))
        .await
        .expect("reply");
    assert!(
        store
            .is_answered(&alice, &c, &first.message_id)
            .await
            .expect("is_answered")
    );
    let second_reply = store
        .append_assistant_message(&alice, &c, reply(&first.message_id, "Hi again"))
        .await;
    assert!(
        matches!(second_reply, Err(PortError::Conflict(_))),
        "{second_reply:?}"
    );
    let repeat = store
        .append_user_message(&alice, &c, user_message("m1", "Hello there"))
        .await
        .expect("append after reply");
    assert!(repeat.duplicate && repeat.answered);

    // Messages come back oldest first, paged with `before`.
    for i in 2..=4 {
        store
            .append_user_message(
                &alice,
                &c,
                user_message(&format!("m{i}"), &format!("msg {i}")),
            )
            .await
            .expect("append");
    }
    let all = store
        .list_messages(&alice, &c, 50, None)
        .await
        .expect("messages");
    let contents: Vec<_> = all.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        contents,
        ["Hello there\nsecond line", "Hi!", "msg 2", "msg 3", "msg 4"]
    );
    assert_eq!(all[1].role, Role::Assistant);
    assert_eq!(all[0].channel, Channel::Web);
    assert_eq!((all[0].cost_usd, all[1].cost_usd), (None, Some(0.001)));
    assert_eq!(all[0].usage, None, "a user message has no usage");
    assert_eq!(
        all[1].usage.map(|u| (u.input_tokens, u.output_tokens)),
        Some((10, 5))
    );
    let newest_two = store
        .list_messages(&alice, &c, 2, None)
        .await
        .expect("page");
    assert_eq!(
        newest_two
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["msg 3", "msg 4"]
    );
    let before = store
        .list_messages(&alice, &c, 2, Some(&newest_two[0].id))
        .await
        .expect("page before");
    assert_eq!(
        before
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["Hi!", "msg 2"]
    );

    // Users are isolated.
    assert!(
        store
            .list_conversations(&bob)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(matches!(
        store.list_messages(&bob, &c, 50, None).await,
        Err(PortError::NotFound)
    ));
    assert!(matches!(
        store
            .append_assistant_message(&bob, &c, reply(&all[2].id, "x"))
            .await,
        Err(PortError::NotFound)
    ));
    assert!(matches!(
        store.is_answered(&bob, &c, &first.message_id).await,
        Err(PortError::NotFound)
    ));
    assert!(matches!(
        store.delete_conversation(&bob, &c).await,
        Err(PortError::NotFound)
    ));

    // A reply keeps what the agent did during its turn; replies without it (older ones, and turns
    // without tool calls) load with none.
    let worked = TurnActivity {
        worked_ms: 3400,
        tool_count: 2,
        tools: vec![
            ToolActivity {
                tool_id: "toolu_1".into(),
                name: "exec".into(),
                summary: "ls -la \"notes\" — ünïcode".into(),
                status: ToolStatus::Ok,
                duration_ms: Some(212),
            },
            ToolActivity {
                tool_id: "toolu_2".into(),
                name: "web_fetch".into(),
                summary: "https://example.org/".into(),
                status: ToolStatus::Error,
                duration_ms: Some(0),
            },
        ],
    };
    store
        .append_assistant_message(
            &alice,
            &c,
            NewAssistantMessage {
                activity: Some(worked.clone()),
                ..reply(&all[4].id, "Worked.")
            },
        )
        .await
        .expect("reply with activity");
    let latest = store
        .list_messages(&alice, &c, 50, None)
        .await
        .expect("messages");
    assert_eq!(latest.last().map(|m| m.content.as_str()), Some("Worked."));
    assert_eq!(latest.last().and_then(|m| m.activity.clone()), Some(worked));
    assert_eq!(latest[1].activity, None, "a reply stored without activity");

    // Explicit creation; a second create of the same id conflicts; newest first. The stores keep
    // milliseconds and take the time themselves: without a pause, the reply above and this creation
    // may share one and tie.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let other = conv("other");
    store
        .create_conversation(&alice, &other, "Other")
        .await
        .expect("create");
    assert!(matches!(
        store.create_conversation(&alice, &other, "Other").await,
        Err(PortError::Conflict(_))
    ));
    let listed = store.list_conversations(&alice).await.expect("list");
    assert_eq!(
        listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["other", "default"]
    );
    assert_eq!(listed[0].message_count, 0);

    // Rename changes the title only: not the order, and not another user's conversation.
    store
        .rename_conversation(&alice, &c, "Renamed")
        .await
        .expect("rename");
    let listed = store.list_conversations(&alice).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|c| (c.id.as_str(), c.title.as_str()))
            .collect::<Vec<_>>(),
        [("other", "Other"), ("default", "Renamed")]
    );
    assert!(matches!(
        store.rename_conversation(&user("bob"), &c, "x").await,
        Err(PortError::NotFound)
    ));
    assert!(matches!(
        store.rename_conversation(&alice, &conv("nope"), "x").await,
        Err(PortError::NotFound)
    ));

    // A conversation's own settings: default until set, changed field by field, per user, and
    // settable before the conversation's first message.
    assert_eq!(
        store
            .conversation_settings(&alice, &c)
            .await
            .expect("settings"),
        ConversationSettings::default()
    );
    let model = |m: Option<&str>| ConversationSettingsUpdate {
        model: Some(m.map(str::to_owned)),
        ..Default::default()
    };
    store
        .update_conversation_settings(&alice, &c, &model(Some("fake-b")))
        .await
        .expect("set model");
    store
        .update_conversation_settings(
            &alice,
            &c,
            &ConversationSettingsUpdate {
                thinking: Some(Some(ThinkingLevel::High)),
                fresh_session: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("set thinking");
    assert_eq!(
        store
            .conversation_settings(&alice, &c)
            .await
            .expect("settings"),
        ConversationSettings {
            model: Some("fake-b".into()),
            thinking: Some(ThinkingLevel::High),
            fresh_session: true,
        }
    );
    store
        .update_conversation_settings(
            &alice,
            &c,
            &ConversationSettingsUpdate {
                fresh_session: Some(false),
                ..model(None)
            },
        )
        .await
        .expect("clear");
    assert_eq!(
        store
            .conversation_settings(&alice, &c)
            .await
            .expect("settings"),
        ConversationSettings {
            model: None,
            thinking: Some(ThinkingLevel::High),
            fresh_session: false,
        }
    );
    assert_eq!(
        store.conversation_settings(&bob, &c).await.expect("bob's"),
        ConversationSettings::default()
    );
    let unborn = conv("unborn");
    store
        .update_conversation_settings(&alice, &unborn, &model(Some("early")))
        .await
        .expect("settings before the first message");
    assert_eq!(
        store
            .conversation_settings(&alice, &unborn)
            .await
            .expect("settings")
            .model
            .as_deref(),
        Some("early")
    );
    assert!(
        !store
            .list_conversations(&alice)
            .await
            .expect("list")
            .iter()
            .any(|c| c.id == unborn),
        "settings alone make no conversation"
    );

    // Delete removes the conversation, its messages and its settings.
    store.delete_conversation(&alice, &c).await.expect("delete");
    assert_eq!(
        store
            .conversation_settings(&alice, &c)
            .await
            .expect("settings"),
        ConversationSettings::default()
    );
    assert!(matches!(
        store.list_messages(&alice, &c, 50, None).await,
        Err(PortError::NotFound)
    ));
    assert_eq!(
        store.list_conversations(&alice).await.expect("list").len(),
        1
    );
    assert!(matches!(
        store.delete_conversation(&alice, &c).await,
        Err(PortError::NotFound)
    ));

    burst_replies(store).await;
}

/// The part of the [`ConversationStore`] contract a reply to a burst of messages needs: the latest user
/// messages with their answer state, and one reply that answers several at once.
async fn burst_replies(store: &dyn ConversationStore) {
    let (alice, bob, c) = (user("alice"), user("bob"), conv("burst"));
    assert!(matches!(
        store.latest_user_messages(&alice, &c, 10).await,
        Err(PortError::NotFound)
    ));
    let mut ids = Vec::new();
    for (i, channel) in [
        Channel::Web,
        Channel::Telegram,
        Channel::Telegram,
        Channel::Telegram,
    ]
    .into_iter()
    .enumerate()
    {
        let message = NewUserMessage {
            channel,
            ..user_message(&format!("b{i}"), &format!("part {i}"))
        };
        let appended = store
            .append_user_message(&alice, &c, message)
            .await
            .expect("append");
        ids.push(appended.message_id);
    }
    store
        .append_assistant_message(&alice, &c, reply(&ids[0], "to the web message"))
        .await
        .expect("reply");
    let latest = store
        .latest_user_messages(&alice, &c, 10)
        .await
        .expect("latest");
    assert_eq!(
        latest
            .iter()
            .map(|m| (m.id.clone(), m.content.as_str(), m.channel, m.answered))
            .collect::<Vec<_>>(),
        [
            (ids[0].clone(), "part 0", Channel::Web, true),
            (ids[1].clone(), "part 1", Channel::Telegram, false),
            (ids[2].clone(), "part 2", Channel::Telegram, false),
            (ids[3].clone(), "part 3", Channel::Telegram, false),
        ],
        "user messages only, oldest first"
    );
    assert!(
        latest
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at)
    );
    let newest_two = store
        .latest_user_messages(&alice, &c, 2)
        .await
        .expect("latest two");
    assert_eq!(
        newest_two.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        [ids[2].clone(), ids[3].clone()]
    );
    assert!(matches!(
        store.latest_user_messages(&bob, &c, 10).await,
        Err(PortError::NotFound)
    ));

    // A reply naming a message that was never stored, or one that has a reply, writes nothing.
    let count = async || {
        store
            .list_messages(&alice, &c, 50, None)
            .await
            .expect("messages")
            .len()
    };
    let before = count().await;
    let stray = store
        .append_assistant_message(
            &alice,
            &c,
            NewAssistantMessage {
                also_answers: vec![ids[1].clone(), MessageId::generate()],
                ..reply(&ids[3], "stray")
            },
        )
        .await;
    assert!(matches!(stray, Err(PortError::NotFound)), "{stray:?}");
    let overlapping = store
        .append_assistant_message(
            &alice,
            &c,
            NewAssistantMessage {
                also_answers: vec![ids[0].clone(), ids[1].clone()],
                ..reply(&ids[3], "overlapping")
            },
        )
        .await;
    assert!(
        matches!(overlapping, Err(PortError::Conflict(_))),
        "{overlapping:?}"
    );
    assert_eq!(count().await, before);
    for id in &ids[1..] {
        assert!(
            !store
                .is_answered(&alice, &c, id)
                .await
                .expect("is_answered")
        );
    }

    // One reply to the last message of a burst answers the earlier ones too, once.
    store
        .append_assistant_message(
            &alice,
            &c,
            NewAssistantMessage {
                also_answers: vec![ids[1].clone(), ids[2].clone()],
                ..reply(&ids[3], "one answer to three messages")
            },
        )
        .await
        .expect("a reply to a burst");
    for id in &ids {
        assert!(
            store
                .is_answered(&alice, &c, id)
                .await
                .expect("is_answered")
        );
    }
    assert!(
        store
            .latest_user_messages(&alice, &c, 10)
            .await
            .expect("latest")
            .iter()
            .all(|m| m.answered)
    );
    let again = store
        .append_assistant_message(&alice, &c, reply(&ids[2], "a second answer"))
        .await;
    assert!(matches!(again, Err(PortError::Conflict(_))), "{again:?}");
    let repeat = store
        .append_user_message(&alice, &c, user_message("b2", "part 2"))
        .await
        .expect("append again");
    assert!(repeat.duplicate && repeat.answered);
    assert_eq!(count().await, before + 1);
    store.delete_conversation(&alice, &c).await.expect("delete");
}

/// The versions of a conversation's last exchange as `(user text, reply text)` pairs, oldest first.
fn version_texts(versions: &[ExchangeVersion]) -> Vec<(String, Option<String>)> {
    versions
        .iter()
        .map(|v| {
            (
                v.user.content.clone(),
                v.reply.as_ref().map(|r| r.content.clone()),
            )
        })
        .collect()
}

/// The edit-and-regenerate clauses of the [`ConversationStore`] contract
/// (`supersede_last_exchange`, `last_exchange_versions`), with what search finds of them. `store`
/// must be empty.
pub async fn exchange_versions(store: &dyn ConversationStore, search: &dyn MessageSearch) {
    let (alice, bob) = (user("alice"), user("bob"));
    let c = conv("versions");
    let texts = |list: Vec<serverless_openclaw_core::domain::Message>| {
        list.into_iter().map(|m| m.content).collect::<Vec<_>>()
    };
    let first = store
        .append_user_message(&alice, &c, user_message("v1", "first question"))
        .await
        .expect("append");
    store
        .append_assistant_message(&alice, &c, reply(&first.message_id, "first answer"))
        .await
        .expect("reply");
    let asked = store
        .append_user_message(&alice, &c, user_message("v2", "what is a wombat"))
        .await
        .expect("append");
    // While the last message has no reply (its turn runs), nothing can be rerun.
    let refused = store
        .supersede_last_exchange(
            &alice,
            &c,
            Rerun::Edit {
                replaces: asked.message_id.clone(),
                message: user_message("v2-early", "changed"),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(PortError::Conflict(_))),
        "{refused:?}"
    );
    let answer = reply(&asked.message_id, "a marsupial wombat answer");
    let answer_id = answer.id.clone();
    store
        .append_assistant_message(&alice, &c, answer)
        .await
        .expect("reply");
    assert!(
        store
            .last_exchange_versions(&alice, &c)
            .await
            .expect("versions")
            .is_empty(),
        "one version is no versions"
    );

    // Only the last reply can be regenerated, and only by its owner.
    let first_reply = store
        .list_messages(&alice, &c, 4, None)
        .await
        .expect("list")[1]
        .id
        .clone();
    for (who, named) in [(&alice, &first_reply), (&alice, &asked.message_id)] {
        let refused = store
            .supersede_last_exchange(
                who,
                &c,
                Rerun::Regenerate {
                    reply: named.clone(),
                },
            )
            .await;
        assert!(
            matches!(refused, Err(PortError::Conflict(_))),
            "{refused:?}"
        );
    }
    let refused = store
        .supersede_last_exchange(
            &bob,
            &c,
            Rerun::Regenerate {
                reply: answer_id.clone(),
            },
        )
        .await;
    assert!(matches!(refused, Err(PortError::NotFound)), "{refused:?}");

    // Regenerate: the reply leaves the current path and the question is unanswered again.
    let regenerated = store
        .supersede_last_exchange(
            &alice,
            &c,
            Rerun::Regenerate {
                reply: answer_id.clone(),
            },
        )
        .await
        .expect("regenerate");
    assert_eq!(regenerated.message_id, asked.message_id);
    assert!(!regenerated.duplicate && !regenerated.answered);
    assert!(
        !store
            .is_answered(&alice, &c, &asked.message_id)
            .await
            .expect("answered")
    );
    assert_eq!(
        texts(
            store
                .list_messages(&alice, &c, 10, None)
                .await
                .expect("list")
        ),
        ["first question", "first answer", "what is a wombat"]
    );
    let versions = store
        .last_exchange_versions(&alice, &c)
        .await
        .expect("versions");
    assert_eq!(
        version_texts(&versions),
        [
            (
                "what is a wombat".to_owned(),
                Some("a marsupial wombat answer".to_owned())
            ),
            ("what is a wombat".to_owned(), None),
        ]
    );
    // The same reply cannot be superseded twice (a repeated frame).
    let again = store
        .supersede_last_exchange(
            &alice,
            &c,
            Rerun::Regenerate {
                reply: answer_id.clone(),
            },
        )
        .await;
    assert!(matches!(again, Err(PortError::Conflict(_))), "{again:?}");
    store
        .append_assistant_message(
            &alice,
            &c,
            reply(&asked.message_id, "a second wombat answer"),
        )
        .await
        .expect("the regenerated reply");

    // Edit: the question and its reply leave the current path; the new message takes their place.
    let edit = user_message("v3", "what is a quokka");
    let edit_id = edit.id.clone();
    let edited = store
        .supersede_last_exchange(
            &alice,
            &c,
            Rerun::Edit {
                replaces: asked.message_id.clone(),
                message: edit,
            },
        )
        .await
        .expect("edit");
    assert_eq!(edited.message_id, edit_id);
    assert!(!edited.duplicate && !edited.answered);
    let repeat = store
        .supersede_last_exchange(
            &alice,
            &c,
            Rerun::Edit {
                replaces: asked.message_id.clone(),
                message: user_message("v3", "what is a quokka"),
            },
        )
        .await
        .expect("a repeated edit");
    assert_eq!(repeat.message_id, edit_id);
    assert!(repeat.duplicate);
    assert_eq!(
        texts(
            store
                .list_messages(&alice, &c, 10, None)
                .await
                .expect("list")
        ),
        ["first question", "first answer", "what is a quokka"]
    );
    let latest = store
        .latest_user_messages(&alice, &c, 10)
        .await
        .expect("latest");
    assert_eq!(
        latest
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["first question", "what is a quokka"]
    );
    store
        .append_assistant_message(&alice, &c, reply(&edit_id, "a quokka answer"))
        .await
        .expect("the edit's reply");
    let versions = store
        .last_exchange_versions(&alice, &c)
        .await
        .expect("versions");
    assert_eq!(
        version_texts(&versions),
        [
            (
                "what is a wombat".to_owned(),
                Some("a marsupial wombat answer".to_owned())
            ),
            (
                "what is a wombat".to_owned(),
                Some("a second wombat answer".to_owned())
            ),
            (
                "what is a quokka".to_owned(),
                Some("a quokka answer".to_owned())
            ),
        ]
    );
    assert_eq!(versions[2].user.id, edit_id);
    let listed = store
        .list_conversations(&alice)
        .await
        .expect("conversations");
    assert_eq!(listed[0].message_count, 4, "the current path's messages");

    // Search covers the current path: earlier versions are not found.
    let find = |raw: &'static str| {
        let alice = alice.clone();
        async move {
            let query = SearchQuery::parse(raw).expect("a valid query");
            let hits = search
                .search_messages(&alice, &query, 10)
                .await
                .expect("search");
            hits.into_iter().map(|m| m.content).collect::<Vec<_>>()
        }
    };
    let mut found = Vec::new();
    for _ in 0..20 {
        found = find("quokka").await;
        if found.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found, ["a quokka answer", "what is a quokka"]);
    assert!(
        find("wombat").await.is_empty(),
        "superseded versions are not found"
    );

    // A new message ends the exchange: the next one has no versions until it is rerun.
    let next = store
        .append_user_message(&alice, &c, user_message("v4", "thanks"))
        .await
        .expect("append");
    assert!(
        store
            .last_exchange_versions(&alice, &c)
            .await
            .expect("versions")
            .is_empty()
    );
    store
        .append_assistant_message(&alice, &c, reply(&next.message_id, "welcome"))
        .await
        .expect("reply");

    // Deleting the conversation deletes its versions.
    store.delete_conversation(&alice, &c).await.expect("delete");
    assert!(matches!(
        store.last_exchange_versions(&alice, &c).await,
        Err(PortError::NotFound)
    ));
    let again = store
        .append_user_message(&alice, &c, user_message("v5", "what is a wombat"))
        .await
        .expect("append");
    store
        .append_assistant_message(&alice, &c, reply(&again.message_id, "new"))
        .await
        .expect("reply");
    let regenerated = store
        .supersede_last_exchange(
            &alice,
            &c,
            Rerun::Regenerate {
                reply: store
                    .list_messages(&alice, &c, 1, None)
                    .await
                    .expect("list")[0]
                    .id
                    .clone(),
            },
        )
        .await
        .expect("regenerate");
    assert_eq!(regenerated.message_id, again.message_id);
    assert_eq!(
        version_texts(
            &store
                .last_exchange_versions(&alice, &c)
                .await
                .expect("versions")
        ),
        [
            ("what is a wombat".to_owned(), Some("new".to_owned())),
            ("what is a wombat".to_owned(), None),
        ],
        "nothing of the deleted conversation's versions is left"
    );
}

/// The [`MessageSearch`] contract, on the messages `store` keeps (`search` searches the same data).
/// `store` must be empty.
pub async fn message_search(store: &dyn ConversationStore, search: &dyn MessageSearch) {
    let (alice, bob) = (user("alice"), user("bob"));
    let (wildlife, dessert) = (conv("wildlife"), conv("dessert"));
    let find = |who: UserId, raw: &'static str, limit: usize| async move {
        let query = SearchQuery::parse(raw).expect("a valid query");
        search
            .search_messages(&who, &query, limit)
            .await
            .expect("search")
            .into_iter()
            .map(|m| m.content)
            .collect::<Vec<_>>()
    };

    let asked = store
        .append_user_message(
            &alice,
            &wildlife,
            user_message("w1", "Where do quokkas live?"),
        )
        .await
        .expect("append");
    store
        .append_assistant_message(
            &alice,
            &wildlife,
            reply(
                &asked.message_id,
                "Quokkas live on Rottnest Island, near Perth.",
            ),
        )
        .await
        .expect("reply");
    store
        .append_user_message(
            &alice,
            &dessert,
            user_message("d1", "Une crème BRÛLÉE, s'il vous plaît"),
        )
        .await
        .expect("append");
    // Bob has a conversation of the same id, about the same animal.
    store
        .append_user_message(&bob, &wildlife, user_message("b1", "Quokka facts for Bob"))
        .await
        .expect("append");

    // Every query word begins a word of the message, in any case; newest first; each hit says
    // where it is.
    let query = SearchQuery::parse("quokka").expect("query");
    let hits = search
        .search_messages(&alice, &query, 10)
        .await
        .expect("search");
    assert_eq!(
        hits.iter()
            .map(|h| (h.content.as_str(), h.role, h.conversation_title.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                "Quokkas live on Rottnest Island, near Perth.",
                Role::Assistant,
                "Where do quokkas live?"
            ),
            (
                "Where do quokkas live?",
                Role::User,
                "Where do quokkas live?"
            ),
        ]
    );
    assert!(hits.iter().all(|h| h.conversation_id == wildlife));
    assert_eq!(hits[1].message_id, asked.message_id);
    assert!(hits[0].created_at >= hits[1].created_at);
    assert_eq!(find(alice.clone(), "QUOK", 10).await.len(), 2, "a prefix");
    assert_eq!(
        find(alice.clone(), "rottnest, PERTH!", 10).await,
        ["Quokkas live on Rottnest Island, near Perth."],
        "every word, punctuation ignored"
    );
    assert!(
        find(alice.clone(), "okka", 10).await.is_empty(),
        "not inside a word"
    );
    assert!(find(alice.clone(), "quokka sydney", 10).await.is_empty());
    assert_eq!(
        find(alice.clone(), "crème brû", 10).await,
        ["Une crème BRÛLÉE, s'il vous plaît"]
    );
    assert_eq!(
        find(alice.clone(), "CRÈME", 10).await.len(),
        1,
        "Unicode case"
    );
    assert!(
        find(alice.clone(), "creme", 10).await.is_empty(),
        "accents count"
    );
    assert_eq!(
        find(alice.clone(), "quokka", 1).await,
        ["Quokkas live on Rottnest Island, near Perth."],
        "the limit keeps the newest"
    );

    // Never another user's messages, even in a conversation of the same id.
    assert_eq!(
        find(bob.clone(), "quokka", 10).await,
        ["Quokka facts for Bob"]
    );
    assert!(find(bob.clone(), "rottnest", 10).await.is_empty());
    assert!(find(user("carol"), "quokka", 10).await.is_empty());

    // A hit names the conversation's current title.
    store
        .rename_conversation(&alice, &wildlife, "Marsupials")
        .await
        .expect("rename");
    let renamed = search
        .search_messages(&alice, &query, 10)
        .await
        .expect("search");
    assert!(renamed.iter().all(|h| h.conversation_title == "Marsupials"));

    // An old message is found behind more than a megabyte of newer ones (a DynamoDB query page).
    let old = conv("old-notes");
    store
        .append_user_message(&alice, &old, user_message("o1", "The zebra crossing"))
        .await
        .expect("append");
    let filler = "lorem ipsum dolor sit amet ".repeat(1_100);
    for i in 0..40 {
        store
            .append_user_message(&alice, &old, user_message(&format!("o-fill-{i}"), &filler))
            .await
            .expect("append filler");
    }
    assert_eq!(
        find(alice.clone(), "zebra", 10).await,
        ["The zebra crossing"]
    );
    assert_eq!(find(alice.clone(), "lorem", 3).await.len(), 3);

    // Deleting a conversation takes its messages out of the search, and only for its owner.
    store
        .delete_conversation(&alice, &wildlife)
        .await
        .expect("delete");
    assert!(find(alice.clone(), "quokka", 10).await.is_empty());
    assert_eq!(find(bob, "quokka", 10).await, ["Quokka facts for Bob"]);
    assert_eq!(find(alice, "brûlée", 10).await.len(), 1);
}

/// The [`TranscriptStore`] contract. `store` must be empty.
pub async fn transcript_store(store: &dyn TranscriptStore) {
    let (alice, bob, c) = (user("alice"), user("bob"), conv("default"));
    assert!(store.load(&alice, &c).await.expect("load").is_none());

    // Create only when absent.
    let v1 = store
        .save(&alice, &c, b"{\"a\":1}\n", None)
        .await
        .expect("create");
    let loaded = store.load(&alice, &c).await.expect("load").expect("exists");
    assert_eq!(loaded.bytes, b"{\"a\":1}\n");
    assert_eq!(loaded.version, v1);
    assert!(matches!(
        store.save(&alice, &c, b"other\n", None).await,
        Err(PortError::Conflict(_))
    ));

    // Replace only at the expected version; a stale writer is refused and changes nothing.
    let v2 = store
        .save(&alice, &c, b"{\"a\":2}\n", Some(&v1))
        .await
        .expect("update");
    assert_ne!(v1, v2);
    let stale = store
        .save(&alice, &c, b"{\"stale\":true}\n", Some(&v1))
        .await;
    assert!(matches!(stale, Err(PortError::Conflict(_))), "{stale:?}");
    let unknown = ObjectVersion("not-a-version".into());
    assert!(matches!(
        store.save(&alice, &c, b"x\n", Some(&unknown)).await,
        Err(PortError::Conflict(_))
    ));
    let loaded = store.load(&alice, &c).await.expect("load").expect("exists");
    assert_eq!(loaded.bytes, b"{\"a\":2}\n");
    assert_eq!(loaded.version, v2);

    // Users are isolated.
    assert!(store.load(&bob, &c).await.expect("load").is_none());

    // Delete, and deleting again is fine.
    store.delete(&alice, &c).await.expect("delete");
    assert!(store.load(&alice, &c).await.expect("load").is_none());
    store.delete(&alice, &c).await.expect("delete again");
}

/// The [`WorkspaceStore`] contract. `store` must be
/// empty.
pub async fn workspace_store(store: &dyn WorkspaceStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    assert!(store.list(&alice).await.expect("list").is_empty());

    // Create only when absent.
    let v1 = store
        .put(&alice, "MEMORY.md", b"# memory\n", None)
        .await
        .expect("create");
    let again = store.put(&alice, "MEMORY.md", b"other\n", None).await;
    assert!(matches!(again, Err(PortError::Conflict(_))), "{again:?}");
    assert_eq!(
        store.list(&alice).await.expect("list"),
        [WorkspaceFile {
            path: "MEMORY.md".into(),
            bytes: b"# memory\n".to_vec(),
            version: v1.clone(),
        }]
    );

    // Replace only at the expected version; a stale or unknown version is refused and changes nothing.
    let v2 = store
        .put(&alice, "MEMORY.md", b"# memory\nmore\n", Some(&v1))
        .await
        .expect("replace");
    assert_ne!(v1, v2);
    let stale = store.put(&alice, "MEMORY.md", b"stale\n", Some(&v1)).await;
    assert!(matches!(stale, Err(PortError::Conflict(_))), "{stale:?}");
    let unknown = ObjectVersion("not-a-version".into());
    let refused = store.put(&alice, "MEMORY.md", b"x\n", Some(&unknown)).await;
    assert!(
        matches!(refused, Err(PortError::Conflict(_))),
        "{refused:?}"
    );
    // Replacing a file that does not exist is a lost race too (someone deleted it).
    let vanished = store.put(&alice, "GONE.md", b"x\n", Some(&v2)).await;
    assert!(
        matches!(vanished, Err(PortError::Conflict(_))),
        "{vanished:?}"
    );

    // Nested paths; the listing is sorted by path and carries each file's current version.
    let v_day = store
        .put(&alice, "memory/2026-11-21.md", b"- met Bob\n", None)
        .await
        .expect("create nested");
    let v_agents = store
        .put(&alice, "AGENTS.md", b"be brief\n", None)
        .await
        .expect("create");
    let listed = store.list(&alice).await.expect("list");
    let summary: Vec<(&str, &[u8], &ObjectVersion)> = listed
        .iter()
        .map(|f| (f.path.as_str(), f.bytes.as_slice(), &f.version))
        .collect();
    assert_eq!(
        summary,
        [
            ("AGENTS.md", &b"be brief\n"[..], &v_agents),
            ("MEMORY.md", &b"# memory\nmore\n"[..], &v2),
            ("memory/2026-11-21.md", &b"- met Bob\n"[..], &v_day),
        ]
    );

    // Users are isolated: bob sees nothing of alice's, and his file of the same path is his own.
    assert!(store.list(&bob).await.expect("list").is_empty());
    let v_bob = store
        .put(&bob, "MEMORY.md", b"bob\n", None)
        .await
        .expect("another user's file of the same path");
    assert_eq!(store.list(&alice).await.expect("list").len(), 3);

    // Delete only at the expected version.
    let stale = store.delete(&alice, "MEMORY.md", &v1).await;
    assert!(matches!(stale, Err(PortError::Conflict(_))), "{stale:?}");
    assert!(
        store
            .list(&alice)
            .await
            .expect("list")
            .iter()
            .any(|f| f.path == "MEMORY.md"),
        "a refused delete leaves the file"
    );
    store
        .delete(&alice, "MEMORY.md", &v2)
        .await
        .expect("delete at the current version");
    store
        .delete(&alice, "memory/2026-11-21.md", &v_day)
        .await
        .expect("delete nested");
    let paths: Vec<String> = store
        .list(&alice)
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(paths, ["AGENTS.md"]);

    // Deleting a missing file succeeds, whatever the version.
    store
        .delete(&alice, "MEMORY.md", &v2)
        .await
        .expect("delete again");
    store
        .delete(&alice, "never-existed.md", &unknown)
        .await
        .expect("delete a file that never existed");

    // Bob's file was never touched.
    let bobs = store.list(&bob).await.expect("list");
    assert_eq!(bobs.len(), 1);
    assert_eq!(
        (bobs[0].bytes.as_slice(), &bobs[0].version),
        (&b"bob\n"[..], &v_bob)
    );
}

fn connection(s: &str) -> ConnectionId {
    ConnectionId::parse(s).expect("valid test id")
}

/// A fixed clock start for the suites that take `now`: they pass explicit times instead of sleeping.
/// Every time is a whole second, which every adapter stores exactly.
const T0: OffsetDateTime = datetime!(2030-01-01 00:00:00 UTC);

fn at(seconds: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(seconds)
}

/// The [`ConnectionStore`] contract. `store` must be empty.
///
/// A connection is live through its `expires_at` instant and expired after it; the suite pins that
/// boundary so the twins agree on it.
pub async fn connection_store(store: &dyn ConnectionStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let (a1, a2, b1) = (
        connection("L0SM9cOFvHcCIhw="),
        connection("a2+/x"),
        connection("b1"),
    );
    // Ids as sorted strings: `connections_of` promises no order.
    let ids_of = async |user: &UserId, now| {
        let connections = store.connections_of(user, now).await;
        let mut ids: Vec<String> = connections
            .expect("connections_of")
            .into_iter()
            .map(String::from)
            .collect();
        ids.sort();
        ids
    };

    store.register(&a1, &alice, at(60)).await.expect("register");
    store
        .register(&a2, &alice, at(120))
        .await
        .expect("register");
    store.register(&b1, &bob, at(60)).await.expect("register");

    // `user_of`: the owner until expiry (inclusive), then nothing; nothing for an unknown id.
    let user_of = async |c: &ConnectionId, now| store.user_of(c, now).await.expect("user_of");
    assert_eq!(user_of(&a1, at(0)).await, Some(alice.clone()));
    assert_eq!(user_of(&a1, at(60)).await, Some(alice.clone()));
    assert_eq!(user_of(&a1, at(61)).await, None);
    assert_eq!(user_of(&connection("unknown"), at(0)).await, None);

    // `connections_of`: the user's own unexpired connections only.
    assert_eq!(ids_of(&alice, at(0)).await, ["L0SM9cOFvHcCIhw=", "a2+/x"]);
    assert_eq!(ids_of(&bob, at(0)).await, ["b1"]);
    assert!(ids_of(&carol, at(0)).await.is_empty());
    assert_eq!(ids_of(&alice, at(61)).await, ["a2+/x"]);
    assert!(ids_of(&bob, at(61)).await.is_empty());

    // Registering the same id again replaces the record: new owner, new expiry.
    store
        .register(&a1, &bob, at(300))
        .await
        .expect("re-register");
    assert_eq!(user_of(&a1, at(200)).await, Some(bob.clone()));
    assert_eq!(ids_of(&alice, at(0)).await, ["a2+/x"]);
    assert_eq!(ids_of(&bob, at(0)).await, ["L0SM9cOFvHcCIhw=", "b1"]);
    assert_eq!(ids_of(&bob, at(200)).await, ["L0SM9cOFvHcCIhw="]);

    // `remove`: gone at once; removing again or removing an unknown id succeeds.
    store.remove(&b1).await.expect("remove");
    assert_eq!(user_of(&b1, at(0)).await, None);
    assert_eq!(ids_of(&bob, at(0)).await, ["L0SM9cOFvHcCIhw="]);
    store.remove(&b1).await.expect("remove again");
    store
        .remove(&connection("never-seen"))
        .await
        .expect("remove unknown");

    // `remove_expired` deletes exactly the records expired at `now` (they are gone even for an earlier
    // `now`) and names them; live ones stay.
    let (c1, c2) = (connection("c1"), connection("c2"));
    store.register(&c1, &carol, at(10)).await.expect("register");
    store
        .register(&c2, &carol, at(121))
        .await
        .expect("register");
    let removed = async |now| {
        let mut ids: Vec<String> = store
            .remove_expired(now)
            .await
            .expect("remove_expired")
            .into_iter()
            .map(String::from)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(removed(at(121)).await, ["a2+/x", "c1"]);
    assert!(ids_of(&alice, at(0)).await.is_empty());
    assert_eq!(ids_of(&carol, at(0)).await, ["c2"]);
    assert_eq!(user_of(&a2, at(0)).await, None);
    assert_eq!(user_of(&a1, at(0)).await, Some(bob.clone()));
    assert!(removed(at(121)).await.is_empty());
    assert_eq!(removed(at(122)).await, ["c2"]);
    assert!(ids_of(&carol, at(0)).await.is_empty());
    assert_eq!(user_of(&a1, at(0)).await, Some(bob));
}

/// The [`SessionLeases`] contract. `leases` must be empty.
///
/// A lease is live through its `expires_at` instant and expired after it; the suite pins that
/// boundary so the twins agree on it.
pub async fn session_leases(leases: &dyn SessionLeases) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let (c, other, long) = (conv("default"), conv("other"), conv("long"));
    let minute = std::time::Duration::from_secs(60);
    let acquire = async |user: &UserId, conversation: &ConversationId, holder: &str, now| {
        leases
            .acquire(user, conversation, holder, minute, now)
            .await
            .expect("acquire")
    };
    let request_cancel = async |user: &UserId, conversation: &ConversationId, now| {
        leases
            .request_cancel(user, conversation, now)
            .await
            .expect("request_cancel")
    };
    let cancel_requested = async |lease: &Lease| {
        leases
            .cancel_requested(lease)
            .await
            .expect("cancel_requested")
    };
    let release = async |lease: &Lease| leases.release(lease).await.expect("release");

    // A free conversation is granted, to the holder, until now + ttl.
    let first = acquire(&alice, &c, "worker-1", at(0))
        .await
        .expect("a free conversation is granted");
    assert_eq!(
        (
            &first.user,
            &first.conversation,
            first.holder.as_str(),
            first.expires_at
        ),
        (&alice, &c, "worker-1", at(60))
    );

    // Other conversations and other users' conversations are independent.
    let other_lease = acquire(&alice, &other, "worker-o", at(0))
        .await
        .expect("another conversation is free");
    let bobs = acquire(&bob, &c, "worker-b", at(0))
        .await
        .expect("another user's conversation is free");
    let long_lease = leases
        .acquire(
            &alice,
            &long,
            "worker-l",
            std::time::Duration::from_secs(3600),
            at(0),
        )
        .await
        .expect("acquire")
        .expect("free");
    assert_eq!(long_lease.expires_at, at(3600));

    // `held_by` counts the user's conversations whose lease is held and live at `now`.
    let held_by = async |user: &UserId, now| leases.held_by(user, now).await.expect("held_by");
    assert_eq!(held_by(&alice, at(0)).await, 3);
    assert_eq!(held_by(&bob, at(60)).await, 1);
    assert_eq!(held_by(&carol, at(0)).await, 0);
    assert_eq!(held_by(&alice, at(61)).await, 1, "two of them expired");

    // Cancel marks only the conversation's current lease; none to mark is `false`.
    assert!(!cancel_requested(&first).await);
    assert!(request_cancel(&alice, &c, at(10)).await);
    assert!(cancel_requested(&first).await);
    assert!(!cancel_requested(&other_lease).await);
    assert!(!cancel_requested(&bobs).await);
    assert!(!request_cancel(&alice, &conv("never"), at(10)).await);
    assert!(!request_cancel(&carol, &c, at(10)).await);

    // A held, unexpired lease is refused to anyone else, up to its last instant.
    assert!(acquire(&alice, &c, "worker-2", at(30)).await.is_none());
    assert!(acquire(&alice, &c, "worker-2", at(60)).await.is_none());

    // An expired lease cannot be cancelled, and is granted again with a greater token and no mark.
    assert!(!request_cancel(&alice, &other, at(61)).await);
    let second = acquire(&alice, &c, "worker-2", at(61))
        .await
        .expect("an expired lease is granted again");
    assert!(second.token > first.token, "{second:?} after {first:?}");
    assert_eq!(second.holder, "worker-2");
    assert!(
        !cancel_requested(&second).await,
        "a new grant starts unmarked"
    );
    assert!(
        !cancel_requested(&first).await,
        "the stale holder is not the current one"
    );

    // The stale holder's release changes nothing: the new holder keeps the lease.
    release(&first).await;
    assert!(acquire(&alice, &c, "worker-3", at(62)).await.is_none());
    assert!(request_cancel(&alice, &c, at(63)).await);
    assert!(cancel_requested(&second).await);
    assert!(!cancel_requested(&first).await);

    // The current holder's release frees the conversation at once; the next grant is unmarked and
    // its token still greater.
    release(&second).await;
    assert!(
        !request_cancel(&alice, &c, at(64)).await,
        "a released lease cannot be cancelled"
    );
    let third = acquire(&alice, &c, "worker-3", at(64))
        .await
        .expect("a released conversation is granted");
    assert!(third.token > second.token, "{third:?} after {second:?}");
    assert!(!cancel_requested(&third).await);

    // Releasing twice is a no-op: the second release does not free the next holder's lease.
    release(&second).await;
    assert!(acquire(&alice, &c, "worker-4", at(65)).await.is_none());
    release(&third).await;
    release(&third).await;
    let fourth = acquire(&alice, &c, "worker-4", at(66))
        .await
        .expect("free again");
    assert!(fourth.token > third.token, "{fourth:?} after {third:?}");
    release(&fourth).await;
    assert_eq!(
        held_by(&alice, at(66)).await,
        1,
        "released and expired ones do not count"
    );

    // `clear_expired` releases and returns exactly the held leases expired at `now`: not the released
    // one, not the live one.
    let mut cleared = leases.clear_expired(at(200)).await.expect("clear_expired");
    cleared.sort_by(|a, b| (&a.user, &a.conversation).cmp(&(&b.user, &b.conversation)));
    assert_eq!(cleared, [other_lease.clone(), bobs.clone()]);
    assert!(
        leases
            .clear_expired(at(200))
            .await
            .expect("clear_expired")
            .is_empty()
    );
    assert!(acquire(&alice, &long, "worker-x", at(200)).await.is_none());

    // What was cleared is free, granted again with greater tokens.
    let other_again = acquire(&alice, &other, "worker-o2", at(200))
        .await
        .expect("a cleared lease is free");
    assert!(other_again.token > other_lease.token);
    let bobs_again = acquire(&bob, &c, "worker-b2", at(200))
        .await
        .expect("a cleared lease is free");
    assert!(bobs_again.token > bobs.token);
}

/// The [`TurnQueue`] contract. `queue` must be empty;
/// `delivered(n)` returns the first `n` turns the queue hands to its consumer, in the order the
/// consumer got them (it must consume a turn of a conversation before it can get the next one).
pub async fn turn_queue<F, Fut>(queue: &dyn TurnQueue, delivered: F)
where
    F: FnOnce(usize) -> Fut,
    Fut: Future<Output = Vec<Turn>>,
{
    let turn = |who: &str, conversation: &str, prompt: &str| Turn {
        user_id: user(who),
        conversation_id: conv(conversation),
        user_message_id: MessageId::generate(),
        client_message_id: ClientMessageId::parse(prompt).expect("valid test id"),
        prompt: prompt.into(),
        channel: Channel::Web,
        reply_to: None,
        kind: TurnKind::Reply,
    };
    // A compaction from Telegram: the queue keeps what a turn does and where it answers.
    let from_telegram = Turn {
        channel: Channel::Telegram,
        reply_to: Some(ReplyTarget::Telegram {
            chat_id: 4242,
            message_id: 17,
        }),
        kind: TurnKind::Compact,
        ..turn("bob", "a", "bob1")
    };
    let sent = [
        turn("alice", "a", "a1"),
        turn("alice", "b", "b1"),
        turn("alice", "a", "a2"),
        from_telegram,
        turn("alice", "a", "a3"),
        turn("alice", "b", "b2"),
    ];
    for t in &sent {
        queue.enqueue(t.clone()).await.expect("enqueue");
    }
    let got = delivered(sent.len()).await;

    // Every turn arrives, intact; within one (user, conversation) in enqueue order.
    let mut got_sorted: Vec<String> = got.iter().map(|t| t.prompt.clone()).collect();
    got_sorted.sort();
    let mut sent_sorted: Vec<String> = sent.iter().map(|t| t.prompt.clone()).collect();
    sent_sorted.sort();
    assert_eq!(got_sorted, sent_sorted);
    for t in &got {
        assert!(sent.contains(t), "delivered as sent: {t:?}");
    }
    let lane = |who: &str, conversation: &str| -> Vec<&str> {
        got.iter()
            .filter(|t| t.user_id.as_str() == who && t.conversation_id.as_str() == conversation)
            .map(|t| t.prompt.as_str())
            .collect()
    };
    assert_eq!(lane("alice", "a"), ["a1", "a2", "a3"]);
    assert_eq!(lane("alice", "b"), ["b1", "b2"]);
    assert_eq!(lane("bob", "a"), ["bob1"]);
}

/// The [`ProcessedUpdates`] contract. Update ids are made unique per run by `base` (stores on a
/// shared table keep earlier runs' items).
pub async fn processed_updates(store: &dyn ProcessedUpdates, base: i64) {
    let update = base;
    // An update is claimed once; a released claim can be taken again. (Claims expire by the clock.)
    let keep = OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert!(store.claim_update(update, keep).await.expect("claim"));
    assert!(!store.claim_update(update, keep).await.expect("claim again"));
    store.release_update(update).await.expect("release");
    assert!(
        store
            .claim_update(update, keep)
            .await
            .expect("claim after release")
    );
}

/// The [`LinkCodes`] contract. Codes and Telegram ids are made unique per run by `base`.
pub async fn link_codes(store: &dyn LinkCodes, base: i64) {
    let t0 = datetime!(2026-11-21 10:00 UTC);
    let minutes = |m: i64| t0 + time::Duration::minutes(m);
    let (tg, other) = (base + 1, base + 2);

    // A link code is redeemed once, only before it expires; an unexpired code cannot be replaced.
    let code = format!("{base}");
    store
        .put_link_code(&code, &user("alice"), t0, minutes(10))
        .await
        .expect("put code");
    let again = store
        .put_link_code(&code, &user("bob"), minutes(5), minutes(15))
        .await;
    assert!(matches!(again, Err(PortError::Conflict(_))), "{again:?}");
    assert_eq!(
        store
            .take_link_code(&code, minutes(11))
            .await
            .expect("take expired"),
        None
    );
    store
        .put_link_code(&code, &user("bob"), minutes(11), minutes(30))
        .await
        .expect("an expired code may be issued again");
    assert_eq!(
        store
            .take_link_code(&code, minutes(12))
            .await
            .expect("take"),
        Some(user("bob"))
    );
    assert_eq!(
        store
            .take_link_code(&code, minutes(12))
            .await
            .expect("take twice"),
        None
    );
    assert_eq!(
        store
            .take_link_code("0", minutes(12))
            .await
            .expect("unknown"),
        None
    );

    // Failed attempts are counted per Telegram user over a sliding window.
    let hour = Duration::from_secs(3600);
    for (i, at) in [0, 10, 20, 30, 40].into_iter().enumerate() {
        let count = store
            .record_link_failure(tg, minutes(at), hour)
            .await
            .expect("record failure");
        assert_eq!(count, i as u32 + 1);
    }
    assert_eq!(
        store
            .link_failures(tg, minutes(41), hour)
            .await
            .expect("count"),
        5
    );
    assert_eq!(
        store
            .link_failures(tg, minutes(65), hour)
            .await
            .expect("count"),
        4
    );
    assert_eq!(
        store
            .link_failures(tg, minutes(101), hour)
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        store
            .link_failures(other, minutes(41), hour)
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        store
            .record_link_failure(tg, minutes(95), hour)
            .await
            .expect("record"),
        2,
        "the attempts at 40 and 95 minutes are within the hour"
    );
}

/// The [`TelegramLinks`] contract. Telegram ids are made unique per run by `base`.
pub async fn telegram_links(store: &dyn TelegramLinks, base: i64) {
    let (tg, other) = (base + 1, base + 2);

    // Links and the current conversation; a relink moves the Telegram user to the new owner.
    let (alice, bob) = (user(&format!("alice-{base}")), user(&format!("bob-{base}")));
    assert_eq!(store.linked_user(tg).await.expect("linked"), None);
    assert_eq!(store.current_conversation(tg).await.expect("current"), None);
    store.link(tg, &alice).await.expect("link");
    assert_eq!(
        store.linked_telegram_users(&alice).await.expect("links"),
        [tg]
    );
    store.link(tg, &bob).await.expect("relink");
    store.link(other, &bob).await.expect("link another");
    assert_eq!(
        store.linked_user(tg).await.expect("linked"),
        Some(bob.clone())
    );
    assert_eq!(
        store.linked_telegram_users(&alice).await.expect("links"),
        Vec::<i64>::new()
    );
    assert_eq!(
        store.linked_telegram_users(&bob).await.expect("links"),
        [tg, other]
    );
    assert!(
        !store
            .unlink(other, &alice)
            .await
            .expect("unlink by another"),
        "only the owner's unlink removes a link"
    );
    assert_eq!(
        store.linked_user(other).await.expect("linked"),
        Some(bob.clone())
    );
    assert!(store.unlink(other, &bob).await.expect("unlink another"));
    assert_eq!(store.linked_user(other).await.expect("linked"), None);
    store
        .set_current_conversation(tg, &conv("c1"))
        .await
        .expect("set current");
    store
        .set_current_conversation(tg, &conv("c2"))
        .await
        .expect("set current again");
    assert_eq!(
        store.current_conversation(tg).await.expect("current"),
        Some(conv("c2"))
    );
    assert_eq!(
        store.linked_user(tg).await.expect("linked"),
        Some(bob.clone())
    );
    // Alice looked before the relink to Bob: her unlink, arriving after it, leaves Bob's link alone.
    assert!(!store.unlink(tg, &alice).await.expect("stale unlink"));
    assert_eq!(
        store.linked_user(tg).await.expect("linked"),
        Some(bob.clone())
    );
    assert_eq!(
        store.current_conversation(tg).await.expect("current"),
        Some(conv("c2"))
    );
    assert!(store.unlink(tg, &bob).await.expect("unlink"));
    assert!(!store.unlink(tg, &bob).await.expect("unlink twice"));
    assert_eq!(store.linked_user(tg).await.expect("linked"), None);
    assert_eq!(store.current_conversation(tg).await.expect("current"), None);
    assert!(
        store
            .linked_telegram_users(&bob)
            .await
            .expect("links")
            .is_empty()
    );
}

/// The linking use case ([`Linking`]) on a store's [`LinkCodes`] and [`TelegramLinks`]: a code links
/// once; wrong, malformed and expired codes count towards the limit, after which even a good code is
/// refused (and not used up); an owner's unlink racing a relink to someone else never removes the new
/// link. Telegram ids are made unique per run by `base`.
pub async fn linking(store: Arc<dyn TelegramStore>, base: i64) {
    let linking = Linking::new(store.clone(), store.clone());
    let now = OffsetDateTime::now_utc();
    let (tg, stranger) = (base + 1, base + 2);
    let (alice, bob) = (user(&format!("alice-{base}")), user(&format!("bob-{base}")));

    let code = linking.issue_code(&alice, now).await.expect("issue");
    assert_eq!(code.code.len(), LINK_CODE_DIGITS);
    assert_eq!(code.expires_at, now + LINK_CODE_TTL);
    assert_eq!(
        linking.redeem(tg, &code.code, now).await.expect("redeem"),
        Redemption::Linked {
            owner: alice.clone()
        }
    );
    assert_eq!(
        store.linked_user(tg).await.expect("linked"),
        Some(alice.clone())
    );
    assert!(
        store
            .current_conversation(tg)
            .await
            .expect("current")
            .is_some()
    );
    assert_eq!(
        linking.linked_accounts(&alice).await.expect("accounts"),
        [tg]
    );

    // Used, expired, malformed: each a failure; the fifth leaves no attempts, then linking is blocked.
    let expired = linking
        .issue_code(&alice, now - LINK_CODE_TTL * 2)
        .await
        .expect("issue");
    for (i, attempt) in [
        code.code.as_str(),
        expired.code.as_str(),
        "",
        "1234",
        "abcdefgh",
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            linking
                .redeem(stranger, attempt, now)
                .await
                .expect("redeem"),
            Redemption::Refused {
                attempts_left: MAX_LINK_FAILURES - 1 - i as u32
            },
            "attempt {i}: {attempt:?}"
        );
    }
    let good = linking.issue_code(&bob, now).await.expect("issue");
    assert_eq!(
        linking
            .redeem(stranger, &good.code, now)
            .await
            .expect("redeem"),
        Redemption::Blocked
    );
    assert_eq!(store.linked_user(stranger).await.expect("linked"), None);
    assert_eq!(
        store.take_link_code(&good.code, now).await.expect("take"),
        Some(bob.clone()),
        "the blocked attempt did not use the code up"
    );
    // Once the failures are older than the window, a code links again.
    let later = now + LINK_ATTEMPT_WINDOW + Duration::from_secs(1);
    let fresh = linking.issue_code(&bob, later).await.expect("issue");
    assert_eq!(
        linking
            .redeem(stranger, &fresh.code, later)
            .await
            .expect("redeem"),
        Redemption::Linked { owner: bob.clone() }
    );

    // Alice unlinks while the account is being relinked to Bob: whatever the order, Bob's link stays.
    for round in 0..10 {
        store.link(tg, &alice).await.expect("link");
        let (unlinked, relinked) = tokio::join!(linking.unlink(tg, &alice), store.link(tg, &bob));
        relinked.expect("relink");
        unlinked.expect("unlink");
        assert_eq!(
            store.linked_user(tg).await.expect("linked"),
            Some(bob.clone()),
            "round {round}"
        );
    }
    assert!(linking.unlink(tg, &bob).await.expect("unlink"));
    assert!(!linking.unlink(tg, &bob).await.expect("unlink twice"));
    assert_eq!(
        linking.linked_accounts(&bob).await.expect("accounts"),
        [stranger]
    );
}

/// The [`SettingsStore`] contract. `store` must be empty.
pub async fn settings_store(store: &dyn SettingsStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(store.model_settings(&alice).await.expect("get"), None);
    let chosen = ModelSettings {
        provider: Provider::OpenAiCompatible,
        model: "m-1".into(),
        base_url: Some("http://127.0.0.1:9/v1".into()),
        region: None,
    };
    store
        .set_model_settings(&alice, Some(&chosen))
        .await
        .expect("set");
    assert_eq!(
        store.model_settings(&alice).await.expect("get"),
        Some(chosen)
    );
    assert_eq!(store.model_settings(&bob).await.expect("get"), None);
    let bedrock = ModelSettings {
        provider: Provider::Bedrock,
        model: "us.anthropic.claude-opus-4-6-v1".into(),
        base_url: None,
        region: Some("eu-west-1".into()),
    };
    store
        .set_model_settings(&alice, Some(&bedrock))
        .await
        .expect("replace");
    assert_eq!(
        store.model_settings(&alice).await.expect("get"),
        Some(bedrock)
    );
    store.set_model_settings(&alice, None).await.expect("clear");
    assert_eq!(store.model_settings(&alice).await.expect("get"), None);

    // Speech settings are kept beside the model settings, each set without touching the other.
    assert_eq!(store.speech_settings(&alice).await.expect("get"), None);
    let speech = SpeechSettings {
        provider: SpeechProvider::OpenAiCompatible,
        model: Some("whisper-1".into()),
        base_url: Some("http://127.0.0.1:9/v1".into()),
    };
    store
        .set_speech_settings(&alice, Some(&speech))
        .await
        .expect("set speech");
    let model = ModelSettings {
        provider: Provider::Anthropic,
        model: "claude-sonnet-5".into(),
        base_url: None,
        region: None,
    };
    store
        .set_model_settings(&alice, Some(&model))
        .await
        .expect("set");
    assert_eq!(
        store.speech_settings(&alice).await.expect("get"),
        Some(speech)
    );
    assert_eq!(store.speech_settings(&bob).await.expect("get"), None);
    let groq = SpeechSettings {
        provider: SpeechProvider::Groq,
        model: None,
        base_url: None,
    };
    store
        .set_speech_settings(&alice, Some(&groq))
        .await
        .expect("replace speech");
    assert_eq!(
        store.speech_settings(&alice).await.expect("get"),
        Some(groq)
    );
    store
        .set_speech_settings(&alice, None)
        .await
        .expect("clear speech");
    assert_eq!(store.speech_settings(&alice).await.expect("get"), None);
    assert_eq!(
        store.model_settings(&alice).await.expect("get"),
        Some(model.clone()),
        "the model settings stay"
    );

    // The browser is on until the user turns it off, for them alone.
    assert!(store.browser_enabled(&alice).await.expect("get"));
    store
        .set_browser_enabled(&alice, false)
        .await
        .expect("turn off");
    assert!(!store.browser_enabled(&alice).await.expect("get"));
    assert!(store.browser_enabled(&bob).await.expect("get"));
    assert_eq!(
        store.model_settings(&alice).await.expect("get"),
        Some(model.clone()),
        "the model settings stay"
    );
    store
        .set_browser_enabled(&alice, true)
        .await
        .expect("turn on");
    assert!(store.browser_enabled(&alice).await.expect("get"));

    // The disabled skills: a list of its own, kept in order, per user.
    assert!(store.disabled_skills(&alice).await.expect("get").is_empty());
    let names = vec!["zeta".to_owned(), "alpha-2".to_owned()];
    store
        .set_disabled_skills(&alice, &names)
        .await
        .expect("set disabled skills");
    assert_eq!(store.disabled_skills(&alice).await.expect("get"), names);
    assert!(store.disabled_skills(&bob).await.expect("get").is_empty());
    assert_eq!(
        store.model_settings(&alice).await.expect("get"),
        Some(model.clone()),
        "the model settings stay"
    );
    store
        .set_disabled_skills(&alice, &[])
        .await
        .expect("clear disabled skills");
    assert!(store.disabled_skills(&alice).await.expect("get").is_empty());
    assert_eq!(
        store.model_settings(&alice).await.expect("get"),
        Some(model)
    );
}

/// The [`ApiKeyStore`] contract. `store` must be empty.
pub async fn api_key_store(store: &dyn ApiKeyStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let key = |k: &str| ApiKey::parse(k).expect("valid test key");
    assert_eq!(store.providers(&alice).await.expect("list"), []);
    assert_eq!(
        store.get(&alice, Provider::OpenAi).await.expect("get"),
        None
    );
    store
        .put(&alice, Provider::OpenAi, &key("sk-open-1"))
        .await
        .expect("put");
    store
        .put(&alice, Provider::Anthropic, &key("sk-ant-1"))
        .await
        .expect("put");
    store
        .put(&alice, Provider::OpenAi, &key("sk-open-2"))
        .await
        .expect("replace");
    assert_eq!(
        store.get(&alice, Provider::OpenAi).await.expect("get"),
        Some(key("sk-open-2"))
    );
    assert_eq!(
        store.providers(&alice).await.expect("list"),
        [Provider::Anthropic, Provider::OpenAi]
    );
    assert_eq!(store.providers(&bob).await.expect("list"), []);
    assert_eq!(store.get(&bob, Provider::OpenAi).await.expect("get"), None);
    store
        .delete(&alice, Provider::OpenAi)
        .await
        .expect("delete");
    store
        .delete(&alice, Provider::OpenAi)
        .await
        .expect("delete twice");
    assert_eq!(
        store.get(&alice, Provider::OpenAi).await.expect("get"),
        None
    );
    assert_eq!(
        store.providers(&alice).await.expect("list"),
        [Provider::Anthropic]
    );
}

fn attachment(conversation: &ConversationId, name: &str, size: usize) -> (Attachment, Vec<u8>) {
    let attachment = Attachment {
        id: AttachmentId::generate(),
        conversation_id: conversation.clone(),
        name: name.into(),
        media_type: "text/plain".into(),
        kind: AttachmentKind::File,
        size: size as u64,
        // Stores keep milliseconds.
        created_at: datetime!(2026-12-07 13:35:22.123 UTC),
        message_id: None,
        transcript: None,
    };
    let bytes = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    (attachment, bytes)
}

/// The [`AttachmentStore`] contract. `store` must be empty.
pub async fn attachment_store(store: &dyn AttachmentStore) {
    let (alice, bob) = (user("att-alice"), user("att-bob"));
    let (c1, c2) = (conv("att-c1"), conv("att-c2"));
    const QUOTA: u64 = 100;

    let (first, first_bytes) = attachment(&c1, "first.txt", 40);
    assert_eq!(
        store
            .put(&alice, &first, &first_bytes, QUOTA)
            .await
            .unwrap(),
        Stored::Stored
    );
    let (second, second_bytes) = attachment(&c1, "second.txt", 30);
    assert_eq!(
        store
            .put(&alice, &second, &second_bytes, QUOTA)
            .await
            .unwrap(),
        Stored::Stored
    );
    assert_eq!(
        store.get(&alice, &c1, &first.id).await.unwrap().as_ref(),
        Some(&first)
    );
    assert_eq!(
        store.read(&alice, &c1, &first.id).await.unwrap(),
        Some(first_bytes.clone())
    );
    assert_eq!(
        store.list(&alice, &c1).await.unwrap(),
        [first.clone(), second.clone()],
        "listed in the order stored"
    );
    assert_eq!(store.usage(&alice).await.unwrap(), 70);

    // Scoped by user and conversation: the id alone finds nothing elsewhere.
    assert_eq!(store.get(&bob, &c1, &first.id).await.unwrap(), None);
    assert_eq!(store.read(&bob, &c1, &first.id).await.unwrap(), None);
    assert_eq!(store.get(&alice, &c2, &first.id).await.unwrap(), None);
    assert_eq!(store.read(&alice, &c2, &first.id).await.unwrap(), None);
    assert!(store.list(&bob, &c1).await.unwrap().is_empty());
    assert!(!store.delete(&bob, &c1, &first.id).await.unwrap());
    assert!(matches!(
        store
            .link(&bob, &c1, &first.id, &MessageId::generate())
            .await,
        Err(PortError::NotFound)
    ));
    store.delete_conversation(&bob, &c1).await.unwrap();
    assert_eq!(store.usage(&bob).await.unwrap(), 0);
    assert_eq!(
        store.read(&alice, &c1, &first.id).await.unwrap(),
        Some(first_bytes.clone()),
        "another user's deletes touch nothing of alice's"
    );

    // The quota counts every conversation of the user, and a refused put stores nothing.
    let (too_big, too_big_bytes) = attachment(&c2, "big.txt", 31);
    assert_eq!(
        store
            .put(&alice, &too_big, &too_big_bytes, QUOTA)
            .await
            .unwrap(),
        Stored::OverQuota { used: 70 }
    );
    assert_eq!(store.get(&alice, &c2, &too_big.id).await.unwrap(), None);
    assert_eq!(store.read(&alice, &c2, &too_big.id).await.unwrap(), None);
    assert_eq!(store.usage(&alice).await.unwrap(), 70);
    let (fits, fits_bytes) = attachment(&c2, "fits.txt", 30);
    assert_eq!(
        store.put(&alice, &fits, &fits_bytes, QUOTA).await.unwrap(),
        Stored::Stored,
        "exactly the quota is allowed"
    );
    let (bobs, bobs_bytes) = attachment(&c1, "bob.txt", 90);
    assert_eq!(
        store.put(&bob, &bobs, &bobs_bytes, QUOTA).await.unwrap(),
        Stored::Stored,
        "each user has a quota of their own"
    );

    // Linking: once per message, idempotent, never to a second message.
    let message = MessageId::generate();
    store.link(&alice, &c1, &first.id, &message).await.unwrap();
    store.link(&alice, &c1, &first.id, &message).await.unwrap();
    assert!(matches!(
        store
            .link(&alice, &c1, &first.id, &MessageId::generate())
            .await,
        Err(PortError::Conflict(_))
    ));
    assert!(matches!(
        store
            .link(&alice, &c1, &AttachmentId::generate(), &message)
            .await,
        Err(PortError::NotFound)
    ));
    assert_eq!(
        store
            .get(&alice, &c1, &first.id)
            .await
            .unwrap()
            .and_then(|a| a.message_id),
        Some(message.clone())
    );
    assert_eq!(
        store
            .get(&alice, &c1, &second.id)
            .await
            .unwrap()
            .and_then(|a| a.message_id),
        None
    );

    // A transcript is kept with its attachment (and may be replaced); only the owner's is found.
    let transcript = |a: Option<Attachment>| a.and_then(|a| a.transcript);
    assert_eq!(
        transcript(store.get(&alice, &c1, &first.id).await.unwrap()),
        None
    );
    store
        .set_transcript(&alice, &c1, &first.id, "first words")
        .await
        .unwrap();
    store
        .set_transcript(&alice, &c1, &first.id, "héllo — the boat leaves at dawn")
        .await
        .unwrap();
    let listed = store.list(&alice, &c1).await.unwrap();
    let with_transcript = listed.iter().find(|a| a.id == first.id).cloned();
    assert_eq!(
        transcript(with_transcript.clone()).as_deref(),
        Some("héllo — the boat leaves at dawn")
    );
    assert_eq!(
        with_transcript.and_then(|a| a.message_id),
        Some(message.clone()),
        "the link stays"
    );
    assert!(matches!(
        store.set_transcript(&bob, &c1, &first.id, "x").await,
        Err(PortError::NotFound)
    ));
    assert!(matches!(
        store
            .set_transcript(&alice, &c1, &AttachmentId::generate(), "x")
            .await,
        Err(PortError::NotFound)
    ));

    // Deleting gives the bytes back to the quota.
    assert!(store.delete(&alice, &c1, &second.id).await.unwrap());
    assert!(!store.delete(&alice, &c1, &second.id).await.unwrap());
    assert_eq!(store.read(&alice, &c1, &second.id).await.unwrap(), None);
    assert_eq!(store.usage(&alice).await.unwrap(), 70);
    store.delete_conversation(&alice, &c1).await.unwrap();
    assert!(store.list(&alice, &c1).await.unwrap().is_empty());
    assert_eq!(store.get(&alice, &c1, &first.id).await.unwrap(), None);
    assert_eq!(store.read(&alice, &c1, &first.id).await.unwrap(), None);
    assert_eq!(store.usage(&alice).await.unwrap(), 30);
    assert_eq!(store.list(&alice, &c2).await.unwrap(), [fits]);
    store.delete_conversation(&alice, &c1).await.unwrap();

    // Leave it empty.
    store.delete_conversation(&alice, &c2).await.unwrap();
    store.delete_conversation(&bob, &c1).await.unwrap();
    assert_eq!(store.usage(&alice).await.unwrap(), 0);
    assert_eq!(store.usage(&bob).await.unwrap(), 0);
}

/// Concurrent puts never pass the quota together. Separate from [`attachment_store`] because moto
/// does not make DynamoDB's conditional writes atomic under concurrency (`docs/architecture.md`).
pub async fn attachment_quota_race(store: &dyn AttachmentStore) {
    let racer = user("att-racer");
    let c = conv("att-race");
    let puts: Vec<_> = (0..4)
        .map(|i| attachment(&c, &format!("{i}.txt"), 60))
        .collect();
    let outcomes =
        futures::future::join_all(puts.iter().map(|(a, b)| store.put(&racer, a, b, 100))).await;
    let stored = outcomes
        .into_iter()
        .filter(|o| matches!(o, Ok(Stored::Stored)))
        .count();
    assert_eq!(stored, 1, "one 60-byte put fits a 100-byte quota");
    assert_eq!(store.usage(&racer).await.unwrap(), 60);
    assert_eq!(store.list(&racer, &c).await.unwrap().len(), 1);
    store.delete_conversation(&racer, &c).await.unwrap();
}

/// What a client got from fetching a download link: the headers a browser acts on and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub content_type: String,
    pub content_disposition: String,
    pub bytes: Vec<u8>,
}

/// The [`AttachmentLinks`] contract, through [`Attachments::download_link`] over `store`: a link,
/// fetched without credentials (`fetch` makes the client's `GET` and returns what it got, `None` when
/// refused), answers the attachment's bytes with the type and disposition it is served with, and lasts
/// [`DOWNLOAD_TTL`]; only the attachment's own user and conversation get one. `store` must hold
/// nothing of the users `dl-*`.
pub async fn attachment_links<F, Fut>(
    store: Arc<dyn AttachmentStore>,
    links: Arc<dyn AttachmentLinks>,
    fetch: F,
) where
    F: Fn(DownloadLink) -> Fut,
    Fut: Future<Output = Option<Fetched>>,
{
    let (alice, bob) = (user("dl-alice"), user("dl-bob"));
    let (c1, c2) = (conv("dl-c1"), conv("dl-c2"));
    let attachments = Attachments::new(store.clone(), 64 * 1024 * 1024).with_links(links);
    let png = crate::images::solid_png(3, 2, [10, 200, 30]);
    let image = attachments
        .upload(&alice, &c1, "holiday cat.png", "image/png", &png)
        .await
        .unwrap();
    let page = b"<html><script>alert(1)</script></html>".to_vec();
    let text = attachments
        .upload(&alice, &c1, "page.txt", "text/plain", &page)
        .await
        .unwrap();

    let before = OffsetDateTime::now_utc();
    let link = attachments
        .download_link(&alice, &c1, &image.id)
        .await
        .unwrap();
    assert!(
        link.expires_at > before + DOWNLOAD_TTL - Duration::from_secs(5)
            && link.expires_at <= OffsetDateTime::now_utc() + DOWNLOAD_TTL,
        "the link lasts the download time: {link:?}"
    );
    let fetched = fetch(link).await.expect("the link answers");
    assert_eq!(fetched.bytes, png);
    assert_eq!(fetched.content_type, "image/png");
    assert!(
        fetched
            .content_disposition
            .starts_with("inline; filename=\"holiday cat.png\""),
        "an image is shown in the page, under its name: {fetched:?}"
    );

    let link = attachments
        .download_link(&alice, &c1, &text.id)
        .await
        .unwrap();
    let fetched = fetch(link).await.expect("the link answers");
    assert_eq!(fetched.bytes, page);
    assert_eq!(
        fetched.content_type, "text/plain; charset=utf-8",
        "text is served as plain text, whatever it looks like"
    );
    assert!(
        fetched
            .content_disposition
            .starts_with("attachment; filename=\"page.txt\""),
        "a file is downloaded under its name: {fetched:?}"
    );

    for (who, conversation, id) in [
        (&bob, &c1, &image.id),
        (&alice, &c2, &image.id),
        (&alice, &c1, &AttachmentId::generate()),
    ] {
        let refused = attachments.download_link(who, conversation, id).await;
        assert!(
            matches!(refused, Err(AttachmentError::NotFound)),
            "only the attachment's own user and conversation get a link: {refused:?}"
        );
    }
    store.delete_conversation(&alice, &c1).await.unwrap();
}

/// The [`PendingUploads`] contract, and the two-step upload of [`Attachments`] over it and `store`:
/// a target takes the bytes (`send` makes the client's request to it and says whether it was
/// accepted), only its own user and conversation read or complete them, completing checks them like
/// any upload, and a refusal removes what arrived. `store` must hold nothing of the users `up-*`.
pub async fn pending_uploads<F, Fut>(
    store: Arc<dyn AttachmentStore>,
    uploads: Arc<dyn PendingUploads>,
    send: F,
) where
    F: Fn(UploadTarget, Vec<u8>) -> Fut,
    Fut: Future<Output = bool>,
{
    let (alice, bob) = (user("up-alice"), user("up-bob"));
    let (c1, c2) = (conv("up-c1"), conv("up-c2"));
    let png = crate::images::solid_png(3, 2, [10, 200, 30]);

    // The port: a target, the bytes sent to it, read back only by their own user and conversation.
    let id = AttachmentId::generate();
    let before = OffsetDateTime::now_utc();
    let target = uploads
        .target(&alice, &c1, &id, png.len() as u64, UPLOAD_TTL)
        .await
        .unwrap();
    assert!(
        target.expires_at > before + UPLOAD_TTL - Duration::from_secs(5)
            && target.expires_at <= OffsetDateTime::now_utc() + UPLOAD_TTL,
        "the target lasts the time asked for: {target:?}"
    );
    assert_eq!(uploads.read(&alice, &c1, &id, 1 << 20).await.unwrap(), None);
    assert!(send(target, png.clone()).await, "the target took the bytes");
    assert_eq!(
        uploads.read(&alice, &c1, &id, 1 << 20).await.unwrap(),
        Some(png.clone())
    );
    assert_eq!(
        uploads.read(&alice, &c1, &id, 9).await.unwrap(),
        Some(png[..10].to_vec()),
        "at most limit + 1 bytes are read"
    );
    assert_eq!(uploads.read(&bob, &c1, &id, 1 << 20).await.unwrap(), None);
    assert_eq!(uploads.read(&alice, &c2, &id, 1 << 20).await.unwrap(), None);
    uploads.discard(&alice, &c1, &id).await.unwrap();
    assert_eq!(uploads.read(&alice, &c1, &id, 1 << 20).await.unwrap(), None);
    uploads.discard(&alice, &c1, &id).await.unwrap();

    // The use case over it: begin, send, complete.
    let attachments =
        Attachments::new(store.clone(), 64 * 1024 * 1024).with_uploads(uploads.clone());
    let begun = attachments
        .begin_upload(&alice, &c1, "cat.png", "image/png", png.len() as u64)
        .await
        .unwrap();
    assert!(send(begun.target.clone(), png.clone()).await);
    let refused = attachments
        .complete_upload(&bob, &c1, &begun.id, "cat.png", "image/png")
        .await;
    assert!(
        matches!(refused, Err(AttachmentError::NotFound)),
        "another user cannot complete it: {refused:?}"
    );
    let done = attachments
        .complete_upload(&alice, &c1, &begun.id, "cat.png", "image/png")
        .await
        .unwrap();
    assert_eq!(
        (&done.id, done.kind, done.size),
        (&begun.id, AttachmentKind::Image, png.len() as u64)
    );
    assert_eq!(
        store.read(&alice, &c1, &begun.id).await.unwrap(),
        Some(png.clone())
    );
    assert_eq!(
        uploads.read(&alice, &c1, &begun.id, 1 << 20).await.unwrap(),
        None,
        "what arrived is gone once it is an attachment"
    );
    assert_eq!(store.usage(&alice).await.unwrap(), png.len() as u64);

    // Refused when completed: corrupt bytes, and an image larger than images may be (declared
    // without a type, so only the bytes tell). Nothing is stored, and what arrived is removed.
    let words = b"these are words, not a picture".to_vec();
    let corrupt = attachments
        .begin_upload(&alice, &c1, "fake.png", "image/png", words.len() as u64)
        .await
        .unwrap();
    assert!(send(corrupt.target.clone(), words).await);
    let refused = attachments
        .complete_upload(&alice, &c1, &corrupt.id, "fake.png", "image/png")
        .await;
    assert!(
        matches!(refused, Err(AttachmentError::Corrupt(_))),
        "{refused:?}"
    );
    let mut twelve_megabytes = png.clone();
    twelve_megabytes.resize(12 * 1024 * 1024, 0);
    assert!(twelve_megabytes.len() as u64 > MAX_IMAGE_BYTES);
    let big = attachments
        .begin_upload(&alice, &c1, "big.bin", "", twelve_megabytes.len() as u64)
        .await
        .unwrap();
    assert!(send(big.target.clone(), twelve_megabytes).await);
    let refused = attachments
        .complete_upload(&alice, &c1, &big.id, "big.bin", "")
        .await;
    assert!(
        matches!(refused, Err(AttachmentError::TooLarge(_))),
        "{refused:?}"
    );
    for refused in [&corrupt.id, &big.id] {
        assert_eq!(
            uploads.read(&alice, &c1, refused, 1 << 20).await.unwrap(),
            None
        );
        assert_eq!(store.get(&alice, &c1, refused).await.unwrap(), None);
    }
    assert_eq!(store.usage(&alice).await.unwrap(), png.len() as u64);

    // Refused before any byte: a declared size over the limit, a type we do not take, the quota.
    let declared = attachments
        .begin_upload(&alice, &c1, "big.png", "image/png", 12 * 1024 * 1024)
        .await;
    assert!(
        matches!(declared, Err(AttachmentError::TooLarge(_))),
        "{declared:?}"
    );
    let declared = attachments
        .begin_upload(&alice, &c1, "f.txt", "text/plain", MAX_FILE_BYTES + 1)
        .await;
    assert!(
        matches!(declared, Err(AttachmentError::TooLarge(_))),
        "{declared:?}"
    );
    let declared = attachments
        .begin_upload(&alice, &c1, "a.zip", "application/zip", 10)
        .await;
    assert!(
        matches!(declared, Err(AttachmentError::UnsupportedType(_))),
        "{declared:?}"
    );
    let small = Attachments::new(store.clone(), png.len() as u64 + 10).with_uploads(uploads);
    let declared = small
        .begin_upload(&alice, &c2, "b.png", "image/png", png.len() as u64)
        .await;
    assert!(
        matches!(declared, Err(AttachmentError::OverQuota { .. })),
        "{declared:?}"
    );
    attachments.delete_conversation(&alice, &c1).await.unwrap();
}
