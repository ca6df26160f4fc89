//! Contract suites for the ports: one async function per port, run against every adapter (the local
//! ones now, the AWS ones on moto later). Each asserts the contract written on the port's trait.

use serverless_openclaw_core::domain::{Channel, NewAssistantMessage, NewUserMessage, Role, Usage};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{
    ConversationStore, PortError, TranscriptStore, ObjectVersion,
};
use time::OffsetDateTime;

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
        content: content.into(),
        channel: Channel::Web,
        usage: Usage {
            input_tokens: 10,
            output_tokens: 5,
        },
        cost_usd: Some(0.001),
        duration_ms: 42,
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

    // Explicit creation; a second create of the same id conflicts; newest first.
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

    // Delete removes the conversation and its messages.
    store.delete_conversation(&alice, &c).await.expect("delete");
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
