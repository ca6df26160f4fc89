//! [`OpenClawRuntime`] with the real runner and OpenClaw, tools on, the fake LLM scripting tool calls:
//! OpenClaw runs the `exec` tool the model calls, sends the command's output back as a tool result in
//! its next request, and the turn's reply is the model's answer after that; a failing command and an
//! unknown tool come back as results too, and each call is reported as a tool start and end event
//! while the turn runs. On both wire protocols, one runner start (~10 s on 2 cores) for all of it.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use serverless_openclaw_agent::{DEFAULT_CONTEXT_WINDOW, LlmApi, OpenClawRuntime, ProviderConfig};
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::{ToolActivity, ToolStatus};
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{
    AgentEvent, AgentReply, AgentRuntime, AgentTurn, ToolAccess,
};
use serverless_openclaw_core::settings::{ApiKey, ModelChoice, ModelSettings, Provider};
use serverless_openclaw_testkit::fake_llm::{
    Behaviour, FakeLlm, RecordedRequest, ToolCall, ToolResult, reply_text,
};
use tokio::sync::mpsc;

/// Prints `tool-ran-42` only if a shell ran it: nothing the fake sends contains the number 42.
const COMMAND: &str = "echo tool-ran-$((6*7))";

/// The runtime with tools on; its default model is the fake's Anthropic Messages API.
fn runtime(data: &Path, fake: &FakeLlm) -> OpenClawRuntime {
    let provider = ProviderConfig::Custom {
        base_url: fake.anthropic_base_url(),
        api: LlmApi::AnthropicMessages,
        model: "e2e-claude".into(),
        context_window: DEFAULT_CONTEXT_WINDOW,
    };
    support::runtime(data, provider, false)
}

/// The user's own OpenAI-compatible endpoint: the fake's chat completions API.
fn openai_choice(fake: &FakeLlm) -> ModelChoice {
    ModelChoice {
        settings: ModelSettings {
            provider: Provider::OpenAiCompatible,
            model: "e2e-gpt".into(),
            base_url: Some(fake.base_url()),
            region: None,
        },
        api_key: Some(ApiKey::parse("sk-user-1").unwrap()),
    }
}

/// Runs the first turn of a new conversation and returns its reply with the requests it made and
/// the tool events it sent.
async fn run(
    runtime: &OpenClawRuntime,
    fake: &FakeLlm,
    conversation: &str,
    prompt: &str,
    model: Option<ModelChoice>,
) -> (AgentReply, Vec<RecordedRequest>, Vec<ToolActivity>) {
    let before = fake.request_count();
    let turn = AgentTurn {
        user_id: UserId::parse("user-1").unwrap(),
        conversation_id: ConversationId::parse(conversation).unwrap(),
        message_id: MessageId::generate(),
        transcript: None,
        prompt: prompt.into(),
        model,
        model_id: None,
        thinking: None,
        tools: ToolAccess::Full,
        browser: true,
        attachments: Vec::new(),
        disabled_skills: Vec::new(),
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let reply = runtime
        .run_turn(turn, events, CancellationToken::new())
        .await
        .expect("the turn");
    let mut tools = Vec::new();
    while let Ok(event) = received.try_recv() {
        if let AgentEvent::Tool(tool) = event {
            tools.push(tool);
        }
    }
    (reply, fake.requests().split_off(before), tools)
}

/// The tool events of a turn as (name, summary, status), with each end checked against its start.
fn tool_lines(tools: &[ToolActivity]) -> Vec<(&str, &str, ToolStatus)> {
    for (i, end) in tools
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status != ToolStatus::Running)
    {
        let start = tools[..i]
            .iter()
            .find(|t| t.tool_id == end.tool_id && t.status == ToolStatus::Running)
            .unwrap_or_else(|| panic!("no start before {end:?}"));
        assert_eq!((&start.name, &start.summary), (&end.name, &end.summary));
        assert!(
            end.duration_ms.is_some() && start.duration_ms.is_none(),
            "{tools:?}"
        );
    }
    tools
        .iter()
        .map(|t| (t.name.as_str(), t.summary.as_str(), t.status))
        .collect()
}

/// The `exec` tool as a request offers it, in either API's shape.
fn offered_exec(request: &RecordedRequest) -> Value {
    let tools = request.body["tools"].as_array().expect("tools are offered");
    tools
        .iter()
        .find_map(|tool| match tool["name"].as_str() {
            Some("exec") => Some(tool["input_schema"].clone()),
            _ if tool["function"]["name"] == "exec" => Some(tool["function"]["parameters"].clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no exec tool in {tools:?}"))
}

/// A turn in which the model ran [`COMMAND`] and then gave the default reply: two requests, the
/// second carrying the call as it was made and the command's output as its result.
fn assert_exec_round(prompt: &str, reply: &AgentReply, requests: &[RecordedRequest]) {
    assert_eq!(requests.len(), 2, "one request for the call, one after it");
    let schema = offered_exec(&requests[0]);
    assert_eq!(schema["properties"]["command"]["type"], "string");
    assert_eq!(schema["required"], json!(["command"]));

    let after = &requests[1];
    let results = after.tool_results();
    let [result] = &results[..] else {
        panic!("not one tool result: {results:?}");
    };
    // OpenClaw may rewrite the fake's call ids, so the result is matched to the call it echoes.
    assert_eq!(
        after.tool_calls(),
        [(result.id.clone(), ToolCall::exec(COMMAND))]
    );
    assert_eq!(
        *result,
        ToolResult {
            id: result.id.clone(),
            name: Some("exec".into()),
            content: "tool-ran-42".into(),
            is_error: false,
        }
    );
    // The prompt, the assistant's call, the result: OpenClaw's context message is not counted.
    assert_eq!(after.message_count(), 3, "{:?}", after.conversation());
    assert_eq!(reply.text, reply_text(3, prompt));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_model_runs_exec_and_answers_after_seeing_the_output_on_both_apis() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    let data = tempfile::tempdir().expect("temp dir");
    let runtime = runtime(data.path(), &fake);
    let prompt = "What does the command print?";

    // Anthropic Messages, the deployment's default.
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::exec(COMMAND)]));
    let (reply, requests, tools) = run(&runtime, &fake, "conversation-1", prompt, None).await;
    assert_exec_round(prompt, &reply, &requests);
    assert_eq!(
        tool_lines(&tools),
        [
            ("exec", COMMAND, ToolStatus::Running),
            ("exec", COMMAND, ToolStatus::Ok)
        ]
    );

    // Text first, then two calls in one answer, both failing in their own way.
    fake.push_behaviour(Behaviour::ToolCalls {
        text: "Let me try.".into(),
        calls: vec![
            ToolCall::exec("echo failing >&2; exit 3"),
            ToolCall::new("no_such_tool", json!({"x": 1})),
        ],
    });
    let (reply, requests, tools) = run(&runtime, &fake, "conversation-2", "Try both.", None).await;
    assert_eq!(requests.len(), 2);
    // A non-zero exit is still a call that worked; a tool that does not exist is an error.
    let mut ends: Vec<_> = tool_lines(&tools)
        .into_iter()
        .filter(|(_, _, status)| *status != ToolStatus::Running)
        .collect();
    ends.sort_by_key(|(name, _, _)| *name);
    assert_eq!(
        ends,
        [
            ("exec", "echo failing >&2; exit 3", ToolStatus::Ok),
            ("no_such_tool", "", ToolStatus::Error)
        ]
    );
    let results = requests[1].tool_results();
    let [exited, unknown] = &results[..] else {
        panic!("not two tool results: {results:?}");
    };
    // A command that fails is not a failed call: its output and exit code come back as text.
    assert_eq!(exited.name.as_deref(), Some("exec"));
    assert_eq!(exited.content, "failing\n\n(Command exited with code 3)");
    assert!(!exited.is_error);
    assert_eq!(unknown.name.as_deref(), Some("no_such_tool"));
    assert!(unknown.is_error, "{unknown:?}");
    assert!(unknown.content.contains("not found"), "{unknown:?}");
    assert_eq!(
        requests[1].conversation()[1..],
        [
            ("assistant".to_owned(), "Let me try.".to_owned()),
            (
                "tool".to_owned(),
                format!("{}\n{}", exited.content, unknown.content)
            ),
        ]
    );
    // The text before the calls stays in the history, but OpenClaw neither streams it nor puts it
    // in the reply: the reply is the answer after the results.
    assert_eq!(reply.text, reply_text(3, "Try both."));

    // OpenAI chat completions, through a user's choice of an OpenAI-compatible endpoint.
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::exec(COMMAND)]));
    let choice = Some(openai_choice(&fake));
    let (reply, requests, tools) = run(&runtime, &fake, "conversation-3", prompt, choice).await;
    assert!(requests.iter().all(|r| r.path == "/v1/chat/completions"));
    assert_exec_round(prompt, &reply, &requests);
    assert_eq!(tools.len(), 2, "a start and an end: {tools:?}");

    runtime.shutdown().await;
}
