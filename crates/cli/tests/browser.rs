//! The web app in a real browser (Debian's Chromium driven by playwright-core, `web/e2e/chat.e2e.mjs`)
//! against local mode with the real runner and the fake LLM. The script runs its scenarios in one browser
//! session; this test queues the fake's answers they expect, and checks afterwards what reached the fake
//! (the model and thinking level chosen in the chat header's picker, the model and key chosen on the
//! settings page) and what the server stored.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serverless_openclaw_testkit::fake_llm::{Api, Behaviour, DEFAULT_CHUNK_DELAY, ToolCall};
use support::TOKEN;

/// The first reply: a rust code block, and HTML that must be shown as text and never run.
const MARKDOWN_REPLY: &str = "Here is the program:\n\n```rust\nfn main() {\n    println!(\"hello from the fake LLM\");\n}\n```\n\n<script>window.__pwned = 1</script>\n";

/// What the settings scenario enters; the last turn must reach the fake with these.
const E2E_MODEL: &str = "e2e-model-b";
const E2E_API_KEY: &str = "sk-e2e-browser-key-0123456789";

/// What the picker scenario enters in the second conversation's header.
const PICKED_MODEL: &str = "fake-picked";

/// The stop scenario's reply streams this slowly, so Stop lands while it streams.
const SLOW_CHUNK_DELAY: Duration = Duration::from_millis(300);

/// The activity scenario's two tool calls, one per model request: each takes a moment, so the page shows
/// a row running while the turn works.
const TOOL_COMMANDS: [&str; 2] = [
    "sleep 1.5; echo first-tool-done",
    "sleep 1.5; echo second-tool-done",
];

/// Screenshots of the main views, kept under the target dir for people (and CI artifacts) to look at.
const SCREENSHOTS: [&str; 8] = [
    "chat-code.png",
    "sidebar.png",
    "activity-live.png",
    "activity-worked.png",
    "picker.png",
    "settings.png",
    "search.png",
    "phone-chat.png",
];

fn count_words(n: usize) -> String {
    (1..=n)
        .map(|i| format!("{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_app_works_in_a_real_browser() {
    let (fake, _data, app) = support::spawn_for_browser().await;
    let fake = Arc::new(fake);
    // The script's turns, in order: the markdown reply; the second conversation; the one with two tool
    // calls (three requests: a call, a call, the answer); the stopped one; then the retry, the picker's two
    // turns and the turn after the settings change get the default reply.
    fake.push_behaviour(Behaviour::Text(MARKDOWN_REPLY.into()));
    fake.push_behaviour(Behaviour::Reply);
    for command in TOOL_COMMANDS {
        fake.push_behaviour(Behaviour::tool_calls([ToolCall::exec(command)]));
    }
    fake.push_behaviour(Behaviour::Reply);
    fake.push_behaviour(Behaviour::Text(format!(
        "Counting slowly: {}.",
        count_words(40)
    )));
    // Only the stopped turn streams slowly: the delay is set once the turn before it reached the fake, and
    // put back once the slow one did (a request's pacing is fixed when it arrives).
    let pacing = tokio::spawn({
        let fake = Arc::clone(&fake);
        async move {
            let wait = Duration::from_secs(180);
            fake.wait_for_requests(5, wait)
                .await
                .expect("the turn with tools");
            fake.set_chunk_delay(SLOW_CHUNK_DELAY);
            fake.wait_for_requests(6, wait)
                .await
                .expect("the slow turn");
            fake.set_chunk_delay(DEFAULT_CHUNK_DELAY);
        }
    });

    // This test's screenshots of an earlier run must not pass for this one's.
    let screenshots = support::screenshot_dir();
    for name in SCREENSHOTS.iter().chain(&["failure.png"]) {
        let _ = std::fs::remove_file(screenshots.join(name));
    }

    let (passed, report) = support::run_browser_script(
        "chat.e2e.mjs",
        vec![
            (
                "SERVERLESS_OPENCLAW_E2E_URL",
                app.url(&format!("/?token={TOKEN}")),
            ),
            (
                "SERVERLESS_OPENCLAW_E2E_LLM_BASE_URL",
                fake.openai_base_url(),
            ),
            ("SERVERLESS_OPENCLAW_E2E_MODEL", E2E_MODEL.to_owned()),
            ("SERVERLESS_OPENCLAW_E2E_API_KEY", E2E_API_KEY.to_owned()),
        ],
    )
    .await;
    assert!(passed, "browser test failed\n{report}");
    pacing.await.expect("pacing task");
    for name in SCREENSHOTS {
        assert!(screenshots.join(name).is_file(), "no {name}\n{report}");
    }

    // Eight turns reached the model (the one with tools in three requests): the server default (Anthropic
    // API) until the settings page chose the OpenAI-compatible provider, which the last turn used with the
    // model and key entered there. The tools ran: their output went back to the model.
    let requests = fake.requests();
    assert_eq!(requests.len(), 10, "{report}");
    assert!(
        requests[..7]
            .iter()
            .all(|r| r.api == Api::AnthropicMessages && r.body["model"] == "fake-model"),
        "{:?}",
        requests[..7]
            .iter()
            .map(|r| (r.api, r.body["model"].clone()))
            .collect::<Vec<_>>()
    );
    let results: Vec<String> = requests[3..5]
        .iter()
        .filter_map(|r| r.tool_results().last().map(|t| t.content.clone()))
        .collect();
    assert_eq!(results, ["first-tool-done", "second-tool-done"], "{report}");
    // The picker's turns: the second conversation with the model chosen in its header and `/think high` as
    // Anthropic's thinking budget (the command never reached the model as text); then the first one with
    // the default model and no thinking.
    let picked = &requests[7];
    assert_eq!(picked.body["model"], PICKED_MODEL, "{}", picked.body);
    assert_eq!(
        picked.body["thinking"]["type"], "enabled",
        "{}",
        picked.body
    );
    assert!(
        picked.body["thinking"]["budget_tokens"].as_u64() > Some(0),
        "{}",
        picked.body
    );
    assert!(
        !picked.body["messages"].to_string().contains("/think"),
        "{}",
        picked.body
    );
    let default = &requests[8];
    assert_eq!(default.api, Api::AnthropicMessages);
    assert_eq!(default.body["model"], "fake-model", "{}", default.body);
    assert_ne!(
        default.body["thinking"]["type"], "enabled",
        "{}",
        default.body
    );
    let last = requests.last().unwrap();
    assert_eq!(last.api, Api::OpenAiCompletions);
    assert_eq!(last.body["model"], E2E_MODEL, "{}", last.body);
    assert_eq!(last.api_key(), Some(E2E_API_KEY));

    // What the page left on the server: the first conversation (the second was renamed, then deleted) with
    // its five turns; the stopped one stored no reply.
    let (_, body) = app.get("/api/conversations").await;
    let conversations = body["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1, "{body}");
    assert_eq!(conversations[0]["title"], "Show me a program,", "{body}");
    let id = conversations[0]["id"].as_str().unwrap();
    let (_, body) = app.get(&format!("/api/conversations/{id}/messages")).await;
    let roles = support::roles(&body);
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "user",
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant"
        ],
        "{body}"
    );
    app.stop().await;
}
