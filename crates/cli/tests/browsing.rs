//! The agent's web browser through the real local-mode binary, its runner inside bubblewrap: the fake LLM
//! scripts `browser` calls that open a page served by the test and read it (the page's random phrase
//! reaches the model in the tool result, an activity row reaches the web socket), that are refused
//! loopback and link-local addresses, and that take a screenshot, which arrives as the reply's image. A
//! turn without the browser starts no Chromium; after a browsing turn none is left and no profile.
//! Needs a Chromium (`SERVERLESS_OPENCLAW_CHROMIUM`, else one on `PATH`; `make test` installs Debian's).

mod support;

use std::path::Path;
use std::time::Duration;

use axum::response::Html;
use serde_json::{Value, json};
use serverless_openclaw_agent::config::find_system_chromium;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm, ToolCall};

const ACCESS_TOKEN: &str = "local-access-token-browse-5c6d";
const TURN_WAIT: Duration = Duration::from_secs(300);

/// Serves one HTML page holding `phrase` on a loopback port; returns the port.
async fn serve_page(phrase: String) -> u16 {
    let page = format!(
        "<html><head><title>test page</title></head><body><main><h1>Hello</h1><p>{phrase}</p></main></body></html>"
    );
    let router = axum::Router::new().fallback(move || {
        let page = page.clone();
        async move { Html(page) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    port
}

/// The Chromiums whose profile lies under `data` (every one the runner of this test starts), from /proc.
fn chromiums_of(data: &Path) -> Vec<String> {
    let marker = format!("--user-data-dir={}", data.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.ok()?.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains("--remote-debugging-port") && cmdline.contains(&marker))
                .then_some(cmdline)
        })
        .collect()
}

/// Every folder named `user-data` under `dir`.
fn user_data_dirs(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            if entry.file_name() == "user-data" {
                found.push(path.clone());
            }
            user_data_dirs(&path, found);
        }
    }
}

/// Sends `text` (as client message `client_id`) in conversation `conversation` and returns the turn's `activity` frames and its final
/// `message` (or `error`) frame.
async fn turn(address: &str, client_id: &str, text: &str) -> (Vec<Value>, Value) {
    let mut client = support::Client::open(address, ACCESS_TOKEN, TURN_WAIT).await;
    client.send_message("browse", client_id, text).await;
    let turn = client.turn().await;
    (turn.activity, turn.last)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_browses_a_page_is_refused_private_addresses_and_leaves_no_chromium() {
    let chromium = std::env::var_os("SERVERLESS_OPENCLAW_CHROMIUM")
        .map(Into::into)
        .or_else(|| find_system_chromium(std::env::var_os("PATH").as_deref()))
        .expect("a Chromium: install chromium or set SERVERLESS_OPENCLAW_CHROMIUM");
    let phrase = format!("PHRASE-{}", uuid_like());
    let port = serve_page(phrase.clone()).await;
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().unwrap();
    let repo = support::repo_root();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_serverless-openclaw"));
    command
        .args(["local", "--port", "0", "--data-dir"])
        .arg(data.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("SERVERLESS_OPENCLAW_TOKEN", ACCESS_TOKEN)
        .env(
            "SERVERLESS_OPENCLAW_LLM_BASE_URL",
            fake.anthropic_base_url(),
        )
        .env("SERVERLESS_OPENCLAW_LLM_API", "anthropic-messages")
        .env("SERVERLESS_OPENCLAW_MODEL", "fake-model")
        .env("SERVERLESS_OPENCLAW_SANDBOX", "bwrap")
        .env("SERVERLESS_OPENCLAW_CHROMIUM", &chromium)
        // The test page's host, and only it: every other private address stays refused.
        .env("SERVERLESS_OPENCLAW_BROWSER_ALLOWED_HOSTS", "127.0.0.1")
        .current_dir(&repo);
    let (mut child, address) = support::start_binary(command).await;

    // A turn without the browser starts none.
    let (_, plain) = turn(&address, "m1", "just say hello").await;
    assert_eq!(plain["type"], "message", "{plain}");
    assert_eq!(chromiums_of(data.path()), Vec::<String>::new());

    let page = format!("http://127.0.0.1:{port}/page");
    for call in [
        json!({"action": "open", "url": page}),
        json!({"action": "text", "maxChars": 2000}),
        json!({"action": "open", "url": "http://169.254.169.254/latest/meta-data/"}),
        json!({"action": "open", "url": format!("http://localhost:{port}/page")}),
        json!({"action": "screenshot"}),
    ] {
        fake.push_behaviour(Behaviour::tool_calls([ToolCall::new("browser", call)]));
    }
    let (activity, answer) = turn(&address, "m2", "read the test page").await;
    assert_eq!(answer["type"], "message", "{answer}");

    // What the model got back (its last request carries every result of the turn): the phrase from
    // `text`, a refusal for each private address.
    let results = fake.requests().last().expect("requests").tool_results();
    assert_eq!(results.len(), 5, "{results:?}");
    assert!(
        !results[1].is_error && results[1].content.contains(&phrase),
        "the page's phrase reaches the model: {results:?}"
    );
    for refused in &results[2..4] {
        assert!(
            refused.is_error && refused.content.contains("blocked by policy"),
            "{refused:?}"
        );
    }

    // The activity rows reached the web socket: a start and an end per call, named `browser`.
    let ends: Vec<(&str, &str, &str)> = activity
        .iter()
        .filter(|a| a["status"] != "running")
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["summary"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ends,
        [
            ("browser", page.as_str(), "ok"),
            ("browser", "text", "ok"),
            (
                "browser",
                "http://169.254.169.254/latest/meta-data/",
                "error"
            ),
            (
                "browser",
                format!("http://localhost:{port}/page").as_str(),
                "error"
            ),
            ("browser", "screenshot", "ok"),
        ],
        "{activity:?}"
    );
    // The screenshot is the reply's image.
    let attachments = answer["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1, "{answer}");
    assert_eq!(attachments[0]["mediaType"], "image/png", "{answer}");
    assert_eq!(attachments[0]["kind"], "image", "{answer}");

    // Nothing of the browser is left: no Chromium, no profile, no screenshot in the workspace.
    assert_eq!(chromiums_of(data.path()), Vec::<String>::new());
    let mut profiles = Vec::new();
    user_data_dirs(data.path(), &mut profiles);
    assert_eq!(profiles, Vec::<std::path::PathBuf>::new());
    assert!(
        !data
            .path()
            .join("workspaces/owner/.attachments/browser")
            .exists()
    );

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// A random hex string from the clock and the process id (no extra dependency).
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{:x}", std::process::id())
}
