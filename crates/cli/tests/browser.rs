//! The web page in a real browser (Debian's Chromium driven by playwright-core) against local mode
//! with the real runner and the fake LLM: two turns, then a reload restores the history.

mod support;

use std::time::Duration;

use serverless_openclaw_agent::LlmApi;
use serverless_openclaw_cli::paths;
use support::TOKEN;

#[tokio::test(flavor = "multi_thread")]
async fn the_web_page_chats_with_the_agent_in_a_real_browser() {
    let repo = support::repo_root();
    assert!(
        paths::web_dir(None, Some(&repo)).is_some(),
        "web/dist is missing: run `make web` (make test does)"
    );
    let (fake, data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, Duration::from_secs(120)).await;
    let url = app.url(&format!("/?token={TOKEN}"));
    let node = paths::node_binary(None, Some(&repo)).unwrap();
    let script = repo.join("web/e2e/chat.e2e.mjs");
    let screenshot = data.path().join("chat.png");
    let output = tokio::task::spawn_blocking({
        let screenshot = screenshot.clone();
        move || {
            std::process::Command::new(node)
                .arg(script)
                .env("SERVERLESS_OPENCLAW_E2E_URL", url)
                .env("SERVERLESS_OPENCLAW_E2E_SCREENSHOT", screenshot)
                .output()
        }
    })
    .await
    .unwrap()
    .expect("node runs the browser test");
    let report = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "browser test failed\n{report}");
    assert!(screenshot.is_file(), "no screenshot\n{report}");
    // The page's two turns reached the real agent and were stored.
    assert_eq!(fake.request_count(), 2);
    let (_, body) = app.get("/api/conversations/default/messages").await;
    assert_eq!(body["messages"].as_array().unwrap().len(), 4, "{body}");
    app.stop().await;
}
