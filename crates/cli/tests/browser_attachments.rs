//! Attachments in a real browser (Debian's Chromium driven by playwright-core,
//! `web/e2e/attachments.e2e.mjs`) against local mode with the real runner and the fake LLM: refused uploads
//! show their errors and store nothing; two images and a text file (picked, pasted, dropped) go with a
//! message; the images reach the fake as image blocks byte for byte, a scripted `read` of the file returns
//! its content, the history shows them after a reload, the file downloads; an image the agent makes and
//! attaches to its reply (a `MEDIA:` line) is shown; deleting the conversation deletes them all.

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use serverless_openclaw_testkit::fake_llm::{Behaviour, ToolCall};
use serverless_openclaw_testkit::images::solid_png;
use support::TOKEN;

const NOTES: &str = "Meeting notes: the launch code word is heron-42.\n";

/// The files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn attachments_work_in_a_real_browser() {
    let (fake, data, app) = support::spawn_for_browser().await;
    let conversation = app.create_conversation("Attachments").await;
    // The turn: the model reads the attached file where the prompt says it is, then answers.
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::new(
        "read",
        json!({"path": format!(".attachments/{conversation}/notes.txt")}),
    )]));
    fake.push_behaviour(Behaviour::Reply);
    // The second turn: the agent writes an image into its workspace and attaches it to its reply.
    let chart = solid_png(5, 3, [30, 160, 60]);
    fake.push_agent_attaches("chart.png", &chart, "Here is your chart.");

    let files = tempfile::tempdir().unwrap();
    let (red, blue) = (
        solid_png(8, 8, [220, 30, 30]),
        solid_png(6, 4, [30, 30, 220]),
    );
    std::fs::write(files.path().join("red.png"), &red).unwrap();
    std::fs::write(files.path().join("blue.png"), &blue).unwrap();
    std::fs::write(files.path().join("notes.txt"), NOTES).unwrap();
    let (passed, report) = support::run_browser_script(
        "attachments.e2e.mjs",
        vec![
            (
                "SERVERLESS_OPENCLAW_E2E_URL",
                app.url(&format!("/?token={TOKEN}")),
            ),
            ("SERVERLESS_OPENCLAW_E2E_CONVERSATION", conversation.clone()),
            (
                "SERVERLESS_OPENCLAW_E2E_FILES",
                files.path().to_string_lossy().into_owned(),
            ),
        ],
    )
    .await;
    assert!(passed, "browser test failed\n{report}");
    let screenshots = support::screenshot_dir();
    for name in [
        "attachments-composer.png",
        "attachments-sent.png",
        "attachments-produced.png",
    ] {
        assert!(screenshots.join(name).is_file(), "no {name}\n{report}");
    }

    // The images reached the model as image blocks, byte for byte and in order; the `read` call got the
    // file's content back; the answer came after it.
    let requests = fake.requests();
    assert_eq!(requests.len(), 4, "{report}");
    let images: Vec<(String, Vec<u8>)> = requests[0]
        .images()
        .into_iter()
        .map(|i| (i.media_type.clone(), i.bytes().unwrap()))
        .collect();
    assert_eq!(
        images,
        [
            ("image/png".to_owned(), red),
            ("image/png".to_owned(), blue)
        ],
        "{report}"
    );
    let prompt = requests[0].last_user_text().unwrap();
    assert!(prompt.starts_with("What is in these?"), "{prompt}");
    let results = requests[1].tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(
        !results[0].is_error && results[0].content.contains("heron-42"),
        "{results:?}"
    );

    // Stored: exactly the three sent attachments and the agent's image (bytes and metadata); nothing of
    // the refused ones.
    let stored = data.path().join("attachments");
    assert_eq!(files_under(&stored).len(), 8, "{:?}", files_under(&stored));
    let (_, history) = app
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    let sent = &history["messages"][0]["attachments"];
    let names: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["red.png", "blue.png", "notes.txt"], "{history}");
    let reply = &history["messages"][3];
    assert_eq!(reply["content"], "Here is your chart.", "{history}");
    assert_eq!(reply["attachments"][0]["name"], "chart.png", "{history}");
    let id = reply["attachments"][0]["id"].as_str().unwrap();
    let (_, link) = app
        .get(&format!(
            "/api/conversations/{conversation}/attachments/{id}/link"
        ))
        .await;
    let bytes = reqwest::get(app.url(link["url"].as_str().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        &bytes[..],
        &chart[..],
        "the image the agent made, byte for byte"
    );

    // Deleting the conversation deletes them.
    let (status, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/conversations/{conversation}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(
        files_under(&stored).is_empty(),
        "{:?}",
        files_under(&stored)
    );
    app.stop().await;
}
