//! The web page's Cognito client (`web/src/auth`) against moto's Cognito, over the real wire protocol:
//! this test creates the pools, app clients and users on moto, then runs
//! `web/src/auth/cognito.moto.test.ts` under Node (vitest, `web/vitest.moto.config.ts`) with them.
//! That script covers SRP sign-in, refresh, TOTP enrolment and the MFA challenge, MFA setup at
//! sign-in, sign-out and password reset; its header says what moto checks and what it does not.
//!
//! Needs `web/node_modules` (`make web`) and Node (`scripts/install-runner.sh`, or
//! `SERVERLESS_OPENCLAW_NODE`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use serverless_openclaw_testkit::cognito::CognitoPool;
use serverless_openclaw_testkit::moto::{Moto, REGION};

/// Meets moto's default password policy and the deployment's.
const PASSWORD: &str = "Initial-Passw0rd!";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn node_binary(repo: &Path) -> PathBuf {
    let node = std::env::var_os("SERVERLESS_OPENCLAW_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join(".tools/node/node_modules/node/bin/node"));
    assert!(
        node.is_file(),
        "{} is missing: run scripts/install-runner.sh or set SERVERLESS_OPENCLAW_NODE",
        node.display()
    );
    node
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_sign_in_works_against_motos_cognito() {
    let repo = repo_root();
    let web = repo.join("web");
    let vitest = web.join("node_modules/vitest/vitest.mjs");
    assert!(
        vitest.is_file(),
        "{} is missing: run `make web`",
        vitest.display()
    );
    let node = node_binary(&repo);

    let moto = Moto::shared();
    let pool = CognitoPool::create(moto).await;
    let client_id = pool.add_web_client().await;
    pool.create_user("owner@example.com", PASSWORD).await;
    pool.create_user("reset@example.com", PASSWORD).await;
    let mfa_pool = CognitoPool::create(moto).await;
    mfa_pool.require_totp().await;
    let mfa_client_id = mfa_pool.add_web_client().await;
    mfa_pool.create_user("enrol@example.com", PASSWORD).await;

    let fixture = json!({
        "endpoint": moto.endpoint(),
        "region": REGION,
        "userPoolId": pool.pool_id,
        "clientId": client_id,
        "adminClientId": pool.client_id,
        "password": PASSWORD,
        "user": "owner@example.com",
        "resetUser": "reset@example.com",
        "mfaPoolId": mfa_pool.pool_id,
        "mfaClientId": mfa_client_id,
        "mfaUser": "enrol@example.com",
    });
    let output = tokio::task::spawn_blocking(move || {
        Command::new(node)
            .arg(vitest)
            .args(["run", "--config", "vitest.moto.config.ts"])
            .current_dir(web)
            .env("SERVERLESS_OPENCLAW_MOTO_COGNITO", fixture.to_string())
            .env("NO_COLOR", "1")
            .output()
    })
    .await
    .unwrap()
    .expect("node runs vitest");
    let report = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the web Cognito tests failed against moto\n{report}"
    );
}
