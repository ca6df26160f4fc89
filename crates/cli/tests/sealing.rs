//! The agent sealed off from secrets in local mode (`docs/security.md`), end to end: the real
//! `serverless-openclaw local` binary, started with secrets in its environment (AWS credentials, the
//! Telegram bot token, the access token, the deployment's LLM key) and a data dir holding a stored key
//! and a guest's workspace, runs OpenClaw inside bubblewrap. The fake LLM makes the model call `exec`
//! with a probe that dumps the environment, every visible process's environment, `/tmp` and the data
//! dir; the tool result OpenClaw sends back to the fake must hold none of those secrets. A guest from the
//! Telegram allowlist gets no shell at all.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::ApiKeyStore;
use serverless_openclaw_core::settings::{ApiKey, Provider};
use serverless_openclaw_local::FileApiKeyStore;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm, RecordedRequest, ToolCall};
use serverless_openclaw_testkit::fake_telegram::{FakeTelegram, text_update};

const ACCESS_TOKEN: &str = "local-access-token-seal-0a1b";
const AWS_ACCESS_KEY: &str = "AKIASEALTEST0A1B";
const AWS_SECRET: &str = "aws-secret-seal-test-0a1b";
const AWS_SESSION: &str = "aws-session-seal-test-0a1b";
// Not `sk-…`: OpenClaw masks such values in tool output itself, which would hide a leak from the test.
const DEPLOYMENT_KEY: &str = "deployment-llm-key-seal-0a1b";
const OWNER_STORED_KEY: &str = "owner-stored-openai-key-0a1b";
const GUEST: i64 = 7_007;
const GUEST_FILE: &str = "guest-diary-0a1b.md";
const GUEST_CONTENT: &str = "guest-diary-content-0a1b";
/// A cold runner start on 2 cores, inside bubblewrap, plus two model calls and a tool run.
const TURN_WAIT: Duration = Duration::from_secs(240);

/// What the model's `exec` call runs: what a prompt injection would look at first. Its own
/// environment, then its ancestors' (the runner, the sandbox or the host, the host), `/tmp`, and the
/// data dir. Compact, so OpenClaw does not cut the result short.
fn probe(data: &Path) -> String {
    let data = data.display();
    format!(
        "echo PROBE-START; env; p=$PPID; n=0; while [ \"$p\" -gt 0 ] && [ $n -lt 3 ]; do \
         echo \"== $p\"; tr '\\0' '\\n' < /proc/$p/environ 2>&1 | head -40; \
         p=$(cut -d' ' -f4 /proc/$p/stat 2>/dev/null || echo 0); n=$((n+1)); done; \
         ls -la /tmp; find {data} 2>&1 | head -100; \
         cat {data}/access-token {data}/secrets/*/* {data}/workspaces/*/* 2>&1 | head -20; echo PROBE-END"
    )
}

/// The secrets and other users' data the probe must not find.
fn forbidden(telegram_token: &str) -> Vec<&str> {
    vec![
        ACCESS_TOKEN,
        AWS_ACCESS_KEY,
        AWS_SECRET,
        AWS_SESSION,
        DEPLOYMENT_KEY,
        OWNER_STORED_KEY,
        telegram_token,
        GUEST_FILE,
        GUEST_CONTENT,
        "serverless-openclaw.sqlite3",
    ]
}

/// The text of the tool results in the requests OpenClaw made.
fn tool_output(requests: &[RecordedRequest]) -> String {
    requests
        .iter()
        .flat_map(RecordedRequest::tool_results)
        .map(|result| result.content)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names of the tools a request offered the model.
fn offered_tools(request: &RecordedRequest) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn seed(data: &Path) {
    let guest_workspace = data
        .join("workspaces")
        .join(UserId::telegram_guest(GUEST).as_str());
    std::fs::create_dir_all(&guest_workspace).unwrap();
    std::fs::write(guest_workspace.join(GUEST_FILE), GUEST_CONTENT).unwrap();
    FileApiKeyStore::new(data.join("secrets"))
        .put(
            &UserId::parse("owner").unwrap(),
            Provider::OpenAi,
            &ApiKey::parse(OWNER_STORED_KEY).unwrap(),
        )
        .await
        .unwrap();
}

/// Starts the real binary with secrets in its environment; returns the child and its address.
async fn start_local(
    data: &Path,
    fake: &FakeLlm,
    telegram: &FakeTelegram,
) -> (tokio::process::Child, String) {
    let repo = support::repo_root();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_serverless-openclaw"));
    command
        .args(["local", "--port", "0", "--data-dir"])
        .arg(data)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("AWS_SESSION_TOKEN", AWS_SESSION)
        .env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("SERVERLESS_OPENCLAW_TELEGRAM_API_URL", telegram.base_url())
        .env("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST", GUEST.to_string())
        .env("SERVERLESS_OPENCLAW_TOKEN", ACCESS_TOKEN)
        .env(
            "SERVERLESS_OPENCLAW_LLM_BASE_URL",
            fake.anthropic_base_url(),
        )
        .env("SERVERLESS_OPENCLAW_LLM_API", "anthropic-messages")
        .env("SERVERLESS_OPENCLAW_LLM_API_KEY", DEPLOYMENT_KEY)
        .env("SERVERLESS_OPENCLAW_MODEL", "fake-model")
        .env("SERVERLESS_OPENCLAW_SANDBOX", "bwrap")
        .current_dir(&repo);
    support::start_binary(command).await
}

/// Sends one message over the WebSocket and waits for the turn's final frame.
async fn owner_turn(address: &str, text: &str) -> Value {
    let mut client = support::Client::open(address, ACCESS_TOKEN, TURN_WAIT).await;
    client.send_message("probe", "m1", text).await;
    client.turn().await.last
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_of_the_owner_finds_no_secret_and_a_guest_gets_no_shell() {
    let fake = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    seed(data.path()).await;
    let (mut child, address) = start_local(data.path(), &fake, &telegram).await;

    // The owner (full tools): the model runs the probe, then answers.
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::exec(probe(data.path()))]));
    let answer = owner_turn(&address, "look around").await;
    assert_eq!(answer["type"], "message", "{answer}");
    let owner_requests = fake.requests();
    let output = tool_output(&owner_requests);
    assert!(
        output.contains("PROBE-START") && output.contains("PROBE-END"),
        "the probe ran to its end: {output}"
    );
    assert!(
        output.contains("OPENCLAW_STATE_DIR="),
        "the probe saw the runner's environment: {output}"
    );
    for secret in forbidden(telegram.token()) {
        assert!(
            !output.contains(secret),
            "the owner's tool found {secret}: {output}"
        );
    }

    // A guest from the allowlist (restricted tools): no shell is offered, and a call to it fails, also
    // through OpenClaw's `tool_call`, which reaches tools that are not offered directly.
    fake.push_behaviour(Behaviour::tool_calls([
        ToolCall::exec(probe(data.path())),
        ToolCall::new(
            "tool_call",
            json!({"id": "exec", "args": {"command": probe(data.path())}}),
        ),
    ]));
    let seen = fake.request_count();
    telegram.push_update(text_update(1, GUEST, "look around"));
    // A turn that called tools ends with its answer as a new message (after the progress message).
    telegram
        .wait_for_call(
            "sendMessage",
            |c| c.body["chat_id"] == GUEST && c.body["parse_mode"] == "HTML",
            TURN_WAIT,
        )
        .await
        .unwrap_or_else(|| panic!("the guest is answered: {:#?}", telegram.calls()));
    let guest_requests: Vec<RecordedRequest> = fake.requests().into_iter().skip(seen).collect();
    assert!(!guest_requests.is_empty());
    let owner_tools = offered_tools(&owner_requests[0]);
    assert!(
        owner_tools.iter().any(|t| t == "exec"),
        "the owner is offered exec: {owner_tools:?}"
    );
    for request in &guest_requests {
        let tools = offered_tools(request);
        for shell in ["exec", "process", "code_execution"] {
            assert!(
                !tools.iter().any(|t| t == shell),
                "a guest is offered {shell}: {tools:?}"
            );
        }
    }
    let guest_output = tool_output(&guest_requests);
    assert!(
        !guest_output.contains("PROBE-START"),
        "the guest's exec call ran: {guest_output}"
    );

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
