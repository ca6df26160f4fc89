//! Edit and regenerate in a real browser (Debian's Chromium driven by playwright-core,
//! `web/e2e/versions.e2e.mjs`) against local mode with the real runner and the fake LLM: a reply is
//! regenerated and a question edited, each a new version with the earlier ones browsable ("< 1/2 >"); the
//! model is sent the history before the exchange only (the transcript was cut back, not appended to); a
//! rerun that fails leaves the earlier version intact.

mod support;

use std::time::Duration;

use serde_json::json;
use serverless_openclaw_agent::LlmApi;
use serverless_openclaw_cli::paths;
use serverless_openclaw_testkit::fake_llm::Behaviour;
use support::TOKEN;

#[tokio::test(flavor = "multi_thread")]
async fn edit_and_regenerate_make_versions_in_a_real_browser() {
    let repo = support::repo_root();
    assert!(
        paths::web_dir(None, Some(&repo)).is_some(),
        "web/dist is missing: run `make web` (make test does)"
    );
    let (fake, _data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, Duration::from_secs(120)).await;
    let (status, created) = app
        .call(
            reqwest::Method::POST,
            "/api/conversations",
            Some(json!({"title": "Versions"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let conversation = created["id"].as_str().unwrap().to_owned();
    for answer in [
        "FIRST-ANSWER: wombats dig burrows.",
        "SECOND-ANSWER: wombats are marsupials.",
        "QUOKKA-ANSWER: quokkas smile.",
    ] {
        fake.push_behaviour(Behaviour::Text(answer.into()));
    }
    // Then the model is down: the last rerun fails.
    fake.set_behaviour(Behaviour::Status(400));

    let (passed, report) = support::run_browser_script(
        "versions.e2e.mjs",
        vec![
            (
                "SERVERLESS_OPENCLAW_E2E_URL",
                app.url(&format!("/?token={TOKEN}")),
            ),
            ("SERVERLESS_OPENCLAW_E2E_CONVERSATION", conversation.clone()),
        ],
    )
    .await;
    assert!(passed, "browser test failed\n{report}");
    let screenshots = support::screenshot_dir();
    for name in [
        "versions-regenerated.png",
        "versions-first.png",
        "versions-editing.png",
        "versions-edited.png",
        "versions-failed.png",
    ] {
        assert!(screenshots.join(name).is_file(), "no {name}\n{report}");
    }

    // What the model was sent: each rerun starts from the history before the exchange (OpenClaw's own
    // context message is left out by `conversation()`; its time envelope precedes the user's text).
    let requests = fake.requests();
    let turns: Vec<Vec<(String, String)>> = requests.iter().map(|r| r.conversation()).collect();
    assert!(turns.len() >= 4, "{turns:#?}\n{report}");
    let only_asked = |turn: &[(String, String)], asked: &str| {
        turn.len() == 1 && turn[0].0 == "user" && turn[0].1.ends_with(asked)
    };
    assert!(
        only_asked(&turns[0], "What is a wombat?"),
        "{:#?}",
        turns[0]
    );
    assert!(
        only_asked(&turns[1], "What is a wombat?"),
        "the regenerated turn sees neither the first answer nor the question twice: {:#?}",
        turns[1]
    );
    assert!(
        only_asked(&turns[2], "What is a quokka?"),
        "the edited turn sees neither the old question nor its answers: {:#?}",
        turns[2]
    );
    for turn in &turns[3..] {
        assert!(
            turn.first()
                .is_some_and(|(role, text)| role == "user" && text.ends_with("What is a quokka?")),
            "the failed rerun was sent the edited question alone: {turn:#?}"
        );
        assert!(
            !turn.iter().any(|(_, text)| text.contains("ANSWER")),
            "{turn:#?}"
        );
    }

    // Stored: the failed rerun left the edit's answer as an earlier version, intact.
    let (_, history) = app
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    let versions = history["versions"].as_array().expect("versions");
    let texts: Vec<(&str, Option<&str>)> = versions
        .iter()
        .map(|v| {
            (
                v["user"]["content"].as_str().unwrap(),
                v["reply"]["content"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            (
                "What is a wombat?",
                Some("FIRST-ANSWER: wombats dig burrows.")
            ),
            (
                "What is a wombat?",
                Some("SECOND-ANSWER: wombats are marsupials.")
            ),
            ("What is a quokka?", Some("QUOKKA-ANSWER: quokkas smile.")),
            ("What is a quokka?", None),
        ],
        "{history}"
    );
    app.stop().await;
}
