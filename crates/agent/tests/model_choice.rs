//! [`OpenClawRuntime`] with the real runner and OpenClaw, the fake LLM standing in for the provider: a
//! turn with a user's [`ModelChoice`] runs with that provider, model and key; a turn without one runs
//! with the deployment's default; a choice missing its key fails before the runner. One runner start
//! (~10 s on 2 cores) for all of it.

mod support;

use std::path::Path;

use serverless_openclaw_agent::{DEFAULT_CONTEXT_WINDOW, LlmApi, OpenClawRuntime, ProviderConfig};
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{
    AgentError, AgentReply, AgentRuntime, AgentStatusSource, AgentTurn, ToolAccess,
};
use serverless_openclaw_core::protocol::ErrorCode;
use serverless_openclaw_core::settings::{ApiKey, ModelChoice, ModelSettings, Provider};
use serverless_openclaw_testkit::fake_llm::FakeLlm;
use tokio::sync::mpsc;

fn runtime(data: &Path, fake: &FakeLlm) -> OpenClawRuntime {
    let provider = ProviderConfig::Custom {
        base_url: fake.openai_base_url(),
        api: LlmApi::OpenAiCompletions,
        model: "e2e-model-a".into(),
        context_window: DEFAULT_CONTEXT_WINDOW,
    };
    // Tools make OpenClaw's first turn seconds slower and have nothing to do with providers.
    support::runtime(data, provider, true)
}

fn turn(prompt: &str, transcript: Option<Vec<u8>>, model: Option<ModelChoice>) -> AgentTurn {
    AgentTurn {
        user_id: UserId::parse("user-1").unwrap(),
        conversation_id: ConversationId::parse("conversation-1").unwrap(),
        message_id: MessageId::generate(),
        transcript,
        prompt: prompt.into(),
        model,
        model_id: None,
        thinking: None,
        tools: ToolAccess::Full,
        browser: true,
        attachments: Vec::new(),
        disabled_skills: Vec::new(),
    }
}

async fn run(runtime: &OpenClawRuntime, turn: AgentTurn) -> Result<AgentReply, AgentError> {
    let (events, _) = mpsc::unbounded_channel();
    runtime
        .run_turn(turn, events, CancellationToken::new())
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_choice_runs_with_its_model_and_key_and_a_turn_without_one_with_the_default() {
    // DeepSeek without a user's key falls back on the deployment's; with one set here the turn would
    // go to the real DeepSeek instead of failing.
    assert!(
        std::env::var_os("DEEPSEEK_API_KEY").is_none(),
        "unset DEEPSEEK_API_KEY to run this test"
    );
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let runtime = runtime(data.path(), &fake);

    let no_key = ModelChoice {
        settings: ModelSettings {
            provider: Provider::DeepSeek,
            model: "deepseek-v4-flash".into(),
            base_url: None,
            region: None,
        },
        api_key: None,
    };
    let err = run(&runtime, turn("hello", None, Some(no_key)))
        .await
        .expect_err("no key for DeepSeek");
    assert_eq!(err.code, ErrorCode::NoProvider, "{err}");
    assert!(err.message.contains("Settings → API keys"), "{err}");
    assert_eq!(fake.request_count(), 0);
    assert_eq!(
        runtime.runner_pid(),
        None,
        "the runner was not even started"
    );

    let mine = ModelChoice {
        settings: ModelSettings {
            provider: Provider::OpenAiCompatible,
            model: "e2e-model-b".into(),
            // Without /v1: the runtime adds it, as for the deployment's own endpoint.
            base_url: Some(fake.base_url()),
            region: None,
        },
        api_key: Some(ApiKey::parse("sk-user-1").unwrap()),
    };
    let first = run(&runtime, turn("hello", None, Some(mine)))
        .await
        .expect("the turn with the user's choice");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(requests[0].body["model"], "e2e-model-b");
    assert_eq!(
        requests[0]
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer sk-user-1")
    );
    assert_eq!(first.text, requests[0].expected_reply());

    // The same conversation goes on with the deployment's default: its model, its (placeholder) key,
    // and the history of the first turn.
    let second = run(&runtime, turn("and now?", Some(first.transcript), None))
        .await
        .expect("the turn with the default");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].body["model"], "e2e-model-a");
    assert_eq!(requests[1].api_key(), Some("no-key"));
    assert_eq!(
        requests[1].message_count(),
        3,
        "{:?}",
        requests[1].conversation()
    );
    assert_eq!(second.text, requests[1].expected_reply());
    assert_eq!(
        runtime.status().model.as_deref(),
        Some("custom/e2e-model-a"),
        "the status shows the deployment's default"
    );
    runtime.shutdown().await;
}
