//! `serverless-openclaw telegram set-webhook`/`delete-webhook --stack` (a build with the `aws` feature)
//! against moto's SSM and the fake Bot API.

mod support;

use serverless_openclaw_testkit::fake_telegram::FakeTelegram;
use serverless_openclaw_testkit::moto::{Moto, unique_name};

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
        support::assert_menu_registered(&telegram);
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
