//! The web page's Cognito sign-in (`web/src/auth`) against moto's Cognito, over the real wire
//! protocol. Each test creates its own pools, app clients and users on moto, then runs a Node script
//! with them (in `SERVERLESS_OPENCLAW_MOTO_COGNITO`):
//! - `web/src/auth/cognito.moto.test.ts` (vitest, `web/vitest.moto.config.ts`): the Cognito client and
//!   the session keeper: SRP sign-in, the new-password step, refresh, TOTP enrolment and the MFA
//!   challenge, MFA set-up at sign-in, sign-out, password reset;
//! - `web/e2e/cognito.e2e.mjs`: the built page in Chromium, its Cognito calls routed to moto: reset,
//!   sign-in, reload, renewal before expiry, the MFA challenge, a revoked session, MFA set-up with the
//!   QR code, an invited user's first sign-in.
//!
//! The scripts' headers say what moto checks and what it does not. Needs Node
//! (`scripts/install-runner.sh`, or `SERVERLESS_OPENCLAW_NODE`), `web/node_modules` and `web/dist`
//! (`make web`), and Chromium for the browser test (`make chromium`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use serverless_openclaw_testkit::cognito::CognitoPool;
use serverless_openclaw_testkit::moto::{Moto, REGION};

/// Meets moto's default password policy and the deployment's.
const PASSWORD: &str = "Initial-Passw0rd!";

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

fn node_binary() -> PathBuf {
    let node = std::env::var_os("SERVERLESS_OPENCLAW_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../.tools/node/node_modules/node/bin/node")
        });
    assert!(
        node.is_file(),
        "{} is missing: run scripts/install-runner.sh or set SERVERLESS_OPENCLAW_NODE",
        node.display()
    );
    node
}

/// A pool like the deployment's (optional MFA) with its web client and three users, and a pool that
/// requires TOTP MFA with one user who has no authenticator yet; all passwords are [`PASSWORD`].
async fn pools(moto: &Moto) -> Value {
    let pool = CognitoPool::create_with_email_sign_in(moto).await;
    let client_id = pool.add_web_client().await;
    pool.create_user("owner@example.com", PASSWORD).await;
    pool.create_user("reset@example.com", PASSWORD).await;
    pool.invite_user("invited@example.com", PASSWORD).await;
    let mfa_pool = CognitoPool::create_with_email_sign_in(moto).await;
    mfa_pool.require_totp().await;
    let mfa_client_id = mfa_pool.add_web_client().await;
    mfa_pool.create_user("enrol@example.com", PASSWORD).await;
    json!({
        "endpoint": moto.endpoint(),
        "region": REGION,
        "userPoolId": pool.pool_id,
        "clientId": client_id,
        "adminClientId": pool.client_id,
        "password": PASSWORD,
        "user": "owner@example.com",
        "resetUser": "reset@example.com",
        "invitedUser": "invited@example.com",
        "mfaPoolId": mfa_pool.pool_id,
        "mfaClientId": mfa_client_id,
        "mfaUser": "enrol@example.com",
    })
}

/// Runs `node <args>` in `web/` with the pools; panics with its output unless it succeeds.
async fn run_node(args: Vec<PathBuf>, fixture: Value, what: &'static str) -> Output {
    let node = node_binary();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(node)
            .args(args)
            .current_dir(web_dir())
            .env("SERVERLESS_OPENCLAW_MOTO_COGNITO", fixture.to_string())
            .env("NO_COLOR", "1")
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    assert!(
        output.status.success(),
        "{what} failed against moto\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_cognito_client_signs_in_refreshes_enrols_mfa_and_resets_passwords_on_moto() {
    let vitest = web_dir().join("node_modules/vitest/vitest.mjs");
    assert!(
        vitest.is_file(),
        "{} is missing: run `make web`",
        vitest.display()
    );
    let fixture = pools(Moto::shared()).await;
    let args = vec![
        vitest,
        "run".into(),
        "--config".into(),
        "vitest.moto.config.ts".into(),
    ];
    run_node(args, fixture, "the web Cognito tests").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_page_works_in_a_real_browser_against_motos_cognito() {
    assert!(
        web_dir().join("dist/index.html").is_file(),
        "web/dist is missing: run `make web`"
    );
    let fixture = pools(Moto::shared()).await;
    let script = web_dir().join("e2e/cognito.e2e.mjs");
    let output = run_node(vec![script], fixture, "the sign-in browser test").await;
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed, 0 failed"));
}
