//! A WebSocket text frame from a client (`docs/protocol.md`), through `parse_client_frame`.
//!
//! Invariants: an accepted frame is within the size limits and, written again as a client writes it,
//! parses to the same frame; a refusal echoes only valid ids, says why, is `too_large` exactly when a
//! size limit is passed, and its `error` frame reads back as itself.

use serde_json::{Value, json};
use serverless_openclaw_core::domain::MAX_MESSAGE_BYTES;
use serverless_openclaw_core::ids::{MessageId, is_valid_id};
use serverless_openclaw_core::protocol::{
    ClientFrame, ErrorCode, MAX_FRAME_BYTES, ServerFrame, parse_client_frame,
};

pub fn run(data: &[u8]) {
    // Text frames are UTF-8 by the WebSocket protocol: the server never sees anything else.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_client_frame(text) {
        Ok(frame) => {
            assert!(text.len() <= MAX_FRAME_BYTES);
            match &frame {
                ClientFrame::SendMessage {
                    message,
                    attachments,
                    ..
                } => {
                    assert!(message.len() <= MAX_MESSAGE_BYTES);
                    assert!(!message.trim().is_empty() || !attachments.is_empty());
                }
                ClientFrame::EditMessage { message, .. } => {
                    assert!(message.len() <= MAX_MESSAGE_BYTES);
                    assert!(!message.trim().is_empty());
                }
                _ => {}
            }
            let again = wire(&frame).to_string();
            assert_eq!(
                parse_client_frame(&again).as_ref(),
                Ok(&frame),
                "{text:?} was accepted, but not as written again: {again}"
            );
        }
        Err(refusal) => {
            for id in [&refusal.client_message_id, &refusal.conversation_id]
                .into_iter()
                .flatten()
            {
                assert!(is_valid_id(id), "{text:?}: echoed the invalid id {id:?}");
            }
            assert!(!refusal.message.is_empty());
            let too_large = text.len() > MAX_FRAME_BYTES
                || message_of(text).is_some_and(|m| m.len() > MAX_MESSAGE_BYTES);
            if too_large {
                // The frame's size is checked first; a message's size before its other faults.
                assert_eq!(refusal.code, ErrorCode::TooLarge, "{text:?}");
            } else {
                assert_ne!(refusal.code, ErrorCode::TooLarge, "{text:?}");
            }
            let frame = refusal.into_frame();
            let back: ServerFrame = serde_json::from_str(&frame.to_json()).expect("error frame");
            assert_eq!(back, frame);
        }
    }
}

/// The frame as the web client writes it.
fn wire(frame: &ClientFrame) -> Value {
    match frame {
        ClientFrame::SendMessage {
            conversation_id,
            message,
            client_message_id,
            attachments,
        } => json!({
            "action": "sendMessage",
            "conversationId": conversation_id,
            "message": message,
            "clientMessageId": client_message_id,
            "attachments": attachments,
        }),
        ClientFrame::Regenerate {
            conversation_id,
            message_id,
            client_message_id,
        } => json!({
            "action": "regenerate",
            "conversationId": conversation_id,
            "messageId": message_id,
            "clientMessageId": client_message_id,
        }),
        ClientFrame::EditMessage {
            conversation_id,
            message_id,
            message,
            client_message_id,
        } => json!({
            "action": "editMessage",
            "conversationId": conversation_id,
            "messageId": message_id,
            "message": message,
            "clientMessageId": client_message_id,
        }),
        ClientFrame::Cancel { conversation_id } => {
            json!({"action": "cancel", "conversationId": conversation_id})
        }
        ClientFrame::Ping => json!({"action": "ping"}),
    }
}

/// The `message` of a `sendMessage` (or `editMessage`) frame whose ids are in order, if it is one:
/// the only field whose size decides the answer after the frame's.
fn message_of(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let fields = value.as_object()?;
    let id_ok = |name: &str| match fields.get(name) {
        None | Some(Value::Null) => name == "conversationId",
        Some(Value::String(s)) => is_valid_id(s),
        Some(_) => false,
    };
    let ids_ok = match fields.get("action")?.as_str()? {
        "sendMessage" => id_ok("conversationId") && id_ok("clientMessageId"),
        "editMessage" => {
            id_ok("conversationId")
                && id_ok("clientMessageId")
                && message_id_ok(fields.get("messageId"))
        }
        _ => false,
    };
    ids_ok.then(|| fields.get("message")?.as_str().map(str::to_owned))?
}

/// Whether an `editMessage`'s `messageId` is one the server takes.
fn message_id_ok(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_str)
        .is_some_and(|id| MessageId::parse(id).is_ok())
}
