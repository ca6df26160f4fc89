//! [`OpenClawRuntime`] with the real runner and OpenClaw, tools on: a turn's image reaches the fake LLM
//! as an image block, byte for byte; its file lies in the workspace where the prompt says, so a
//! scripted `read` call returns its content; and the copy is gone after the turn. One runner start.

mod support;

use serde_json::json;
use serverless_openclaw_agent::{DEFAULT_CONTEXT_WINDOW, LlmApi, ProviderConfig};
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::attachments::{Attachment, AttachmentKind, TurnAttachment};
use serverless_openclaw_core::ids::{AttachmentId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{AgentRuntime, AgentTurn, ToolAccess};
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm, ToolCall};
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// A 2×1 PNG (its header is all the server and OpenClaw read of it; a browser shows it).
static PNG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    serverless_openclaw_testkit::images::solid_png(2, 1, [255, 128, 0])
});

const NOTES: &str = "The password for the vault is pelican-7.";

fn attachment(name: &str, kind: AttachmentKind, media_type: &str, bytes: &[u8]) -> TurnAttachment {
    TurnAttachment {
        attachment: Attachment {
            id: AttachmentId::generate(),
            conversation_id: ConversationId::parse("c1").unwrap(),
            name: name.into(),
            media_type: media_type.into(),
            kind,
            size: bytes.len() as u64,
            created_at: OffsetDateTime::now_utc(),
            message_id: None,
            transcript: None,
        },
        bytes: bytes.to_vec(),
        with_prompt: true,
    }
}

#[tokio::test]
async fn an_image_reaches_the_model_and_a_file_is_read_by_a_tool_then_removed() {
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().unwrap();
    let runtime = support::runtime(
        data.path(),
        ProviderConfig::Custom {
            base_url: fake.anthropic_base_url(),
            api: LlmApi::AnthropicMessages,
            model: "e2e-vision".into(),
            context_window: DEFAULT_CONTEXT_WINDOW,
        },
        false,
    );
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::new(
        "read",
        json!({"path": ".attachments/c1/notes.txt"}),
    )]));
    let turn = AgentTurn {
        user_id: UserId::parse("user-1").unwrap(),
        conversation_id: ConversationId::parse("c1").unwrap(),
        message_id: MessageId::generate(),
        transcript: None,
        prompt: "what do you make of these?".into(),
        model: None,
        model_id: None,
        thinking: None,
        tools: ToolAccess::Restricted,
        browser: true,
        attachments: vec![
            attachment("cat.png", AttachmentKind::Image, "image/png", &PNG[..]),
            attachment(
                "notes.txt",
                AttachmentKind::File,
                "text/plain",
                NOTES.as_bytes(),
            ),
        ],
        disabled_skills: Vec::new(),
    };
    let (events, _received) = mpsc::unbounded_channel();
    let reply = runtime
        .run_turn(turn, events, CancellationToken::new())
        .await
        .expect("the turn");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "the tool call, then the answer");
    let images = requests[0].images();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0].media_type, "image/png");
    assert_eq!(
        images[0].bytes().as_deref(),
        Some(&PNG[..]),
        "the image, byte for byte"
    );
    let prompt = requests[0].last_user_text().unwrap();
    assert!(prompt.starts_with("what do you make of these?"), "{prompt}");
    assert!(prompt.contains("[Attached image: cat.png]"), "{prompt}");
    assert!(
        prompt.contains("[Attached file: .attachments/c1/notes.txt (text/plain, 40 bytes)"),
        "{prompt}"
    );
    let results = requests[1].tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(
        !results[0].is_error && results[0].content.contains("pelican-7"),
        "a guest's confined read tool reads the file: {results:?}"
    );
    assert_eq!(reply.text, requests[1].expected_reply());
    assert!(
        !data.path().join("workspaces/user-1/.attachments").exists(),
        "the copy goes with the turn"
    );
    runtime.shutdown().await;
}
