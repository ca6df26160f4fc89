//! Telegram in local mode, end to end: long polling against the fake Bot API, the real server and
//! OpenClaw runner, the fake LLM. A code from the web API links the Telegram account; a message is
//! answered in the chat (typing, streamed edits, the final text) and shows in the web history. And
//! `serverless-openclaw telegram set-webhook`/`delete-webhook` against moto's SSM and the fake Bot API.

mod support;

use std::time::Duration;

use serverless_openclaw_agent::LlmApi;
use serverless_openclaw_cli::TelegramOptions;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm};
use serverless_openclaw_testkit::fake_telegram::{FakeTelegram, text_update};
use serverless_openclaw_testkit::moto::{Moto, unique_name};
use support::TestApp;

const TURN_TIMEOUT: Duration = Duration::from_secs(120);
/// A cold runner start on 2 cores plus the streamed reply.
const REPLY_WAIT: Duration = Duration::from_secs(180);
const FRIEND: i64 = 4_242;

#[tokio::test(flavor = "multi_thread")]
async fn local_mode_long_polls_and_answers_a_linked_user_in_the_chat() {
    let fake = FakeLlm::start().await;
    // A reply of many words, streamed slowly (64 chunks at 60 ms), so it is edited while it streams.
    let words: Vec<String> = (0..80).map(|i| format!("w{i}")).collect();
    let reply = format!(
        "A monad, in code:\n\n```rust\nlet x = Some(1).and_then(|v| v.checked_add(1));\n```\n\n{}",
        words.join(" ")
    );
    fake.set_behaviour(Behaviour::Text(reply.clone()));
    fake.set_chunk_delay(Duration::from_millis(60));
    let telegram = FakeTelegram::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with_telegram(
        data.path(),
        Some(support::fake_provider(&fake, LlmApi::AnthropicMessages)),
        TURN_TIMEOUT,
        Some(TelegramOptions {
            token: telegram.token().into(),
            api_url: telegram.base_url(),
            allowlist: Vec::new(),
        }),
    )
    .await;
    let bot = app.app.telegram.clone().expect("the bot is composed");
    let stop = CancellationToken::new();
    let polling = tokio::spawn({
        let stop = stop.clone();
        async move { serverless_openclaw_telegram::poll::long_poll(&bot, stop).await }
    });

    // The menu is registered as polling starts.
    telegram
        .wait_for_call("getUpdates", |_| true, REPLY_WAIT)
        .await
        .expect("polling");
    assert_menu_registered(&telegram);
    assert_eq!(
        telegram.calls_of("getUpdates")[0].body["allowed_updates"],
        serde_json::json!(["message", "callback_query"])
    );

    // Not linked yet: refused with the user's id, nothing reaches the agent.
    telegram.push_update(text_update(1, FRIEND, "hello?"));
    let refusal = telegram
        .wait_for_call("sendMessage", |c| c.body["chat_id"] == FRIEND, REPLY_WAIT)
        .await
        .expect("a refusal");
    assert!(
        refusal.body["text"].as_str().unwrap().contains("4242"),
        "{refusal:?}"
    );

    // The web app's link code links the account.
    let (status, code) = app.post("/api/telegram/link-code").await;
    assert_eq!(status, 201, "{code}");
    let code = code["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    telegram.push_update(text_update(2, FRIEND, &format!("/link {code}")));
    telegram
        .wait_for_call(
            "sendMessage",
            |c| {
                c.body["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Linked!"))
            },
            REPLY_WAIT,
        )
        .await
        .expect("linked");

    // A message: typing, the reply streamed into one message, then the final text.
    telegram.push_update(text_update(3, FRIEND, "What is a monad?"));
    let done = telegram
        .wait_for_call(
            "editMessageText",
            |c| c.body["parse_mode"] == "HTML",
            REPLY_WAIT,
        )
        .await;
    assert!(done.is_some(), "calls: {:#?}", telegram.calls());
    assert!(!telegram.calls_of("sendChatAction").is_empty());
    let chat = telegram.chat(FRIEND);
    let shown = chat.last().unwrap();
    assert!(
        shown.text.starts_with(
            "A monad, in code:\n\n<pre><code class=\"language-rust\">let x = Some(1).and_then(|v| v.checked_add(1));"
        ),
        "{shown:?}"
    );
    assert!(shown.text.ends_with("w78 w79"), "{shown:?}");
    assert!(
        shown.edits >= 2,
        "streamed edits and the final one: {shown:?}"
    );
    let streaming_edits = telegram
        .calls_of("editMessageText")
        .iter()
        .filter(|c| c.body.get("parse_mode").is_none())
        .count();
    assert!(streaming_edits >= 1, "{:#?}", telegram.calls());

    // The web sees the same conversation, each message marked as from Telegram.
    let (_, list) = app.get("/api/conversations").await;
    let conversation = list["conversations"][0]["id"].as_str().unwrap().to_owned();
    let (_, history) = app
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{history}");
    assert_eq!(messages[0]["content"], "What is a monad?");
    assert_eq!(messages[1]["content"], reply.as_str());
    assert!(messages.iter().all(|m| m["channel"] == "telegram"));

    stop.cancel();
    polling.await.unwrap();
    app.stop().await;
}

/// The command menu Telegram shows after `/`: the shared chat commands, then the bot's own.
fn assert_menu_registered(telegram: &FakeTelegram) {
    let menu = telegram.menu().expect("setMyCommands was called");
    let names: Vec<&str> = menu.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(
        names,
        [
            "new", "reset", "stop", "model", "think", "status", "usage", "help", "link", "unlink"
        ]
    );
    assert_eq!(menu[2].description, "stop the running answer");
    let scopes: Vec<_> = telegram
        .calls_of("setMyCommands")
        .iter()
        .map(|c| c.body["scope"]["type"].clone())
        .collect();
    assert!(
        scopes.iter().all(|s| s == "all_private_chats"),
        "{scopes:?}"
    );
}

/// Runs the CLI binary with moto's AWS environment and the fake Bot API.
async fn cli(telegram: &FakeTelegram, args: &[&str]) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_serverless-openclaw"));
    command
        .args(args)
        .envs(Moto::shared().sdk_env())
        .env("SERVERLESS_OPENCLAW_TELEGRAM_API_URL", telegram.base_url())
        .env_remove("TELEGRAM_BOT_TOKEN");
    command.output().await.expect("the CLI runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn set_webhook_stores_a_fresh_secret_and_registers_it_and_delete_webhook_removes_it() {
    let telegram = FakeTelegram::start().await.unwrap();
    let ssm = aws_sdk_ssm::Client::new(&Moto::shared().sdk_config());
    let stack = unique_name("Stack");
    ssm.put_parameter()
        .name(format!("/serverless-openclaw/{stack}/telegram-bot-token"))
        .value(telegram.token())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let url = "https://abc.execute-api.us-east-1.amazonaws.com/telegram/webhook";
    let stored_secret = || async {
        ssm.get_parameter()
            .name(format!(
                "/serverless-openclaw/{stack}/telegram-webhook-secret"
            ))
            .with_decryption(true)
            .send()
            .await
            .unwrap()
            .parameter
            .unwrap()
            .value
            .unwrap()
    };

    let mut secrets = Vec::new();
    for _ in 0..2 {
        let out = cli(
            &telegram,
            &["telegram", "set-webhook", "--stack", &stack, "--url", url],
        )
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let webhook = telegram.webhook().expect("a webhook");
        assert_eq!(webhook.url, url);
        assert_eq!(
            webhook.allowed_updates,
            Some(vec!["message".to_owned(), "callback_query".to_owned()])
        );
        assert_menu_registered(&telegram);
        let secret = stored_secret().await;
        assert_eq!(webhook.secret_token.as_deref(), Some(secret.as_str()));
        assert_eq!(secret.len(), 64);
        secrets.push(secret);
    }
    assert_ne!(
        secrets[0], secrets[1],
        "each registration rotates the secret"
    );

    // Bad input is refused before anything is written.
    let out = cli(
        &telegram,
        &[
            "telegram",
            "set-webhook",
            "--stack",
            "bad/stack",
            "--url",
            url,
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a stack name"));
    let out = cli(
        &telegram,
        &[
            "telegram",
            "set-webhook",
            "--stack",
            &stack,
            "--url",
            "http://x",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert_eq!(stored_secret().await, secrets[1]);

    let out = cli(
        &telegram,
        &["telegram", "delete-webhook", "--stack", &stack],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(telegram.webhook(), None);
}
