//! End-to-end turns in local mode: the real server, the real OpenClaw runner, the fake LLM.

mod support;

use std::time::Duration;

use serde_json::Value;
use serverless_openclaw_agent::LlmApi;
use serverless_openclaw_testkit::fake_llm::FakeLlm;
use serverless_openclaw_testkit::fake_llm::{Behaviour, reply_text};
use serverless_openclaw_testkit::rest::message_pairs;
use support::{Client, TestApp, transcript_messages};

const TURN_TIMEOUT: Duration = Duration::from_secs(120);

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(r, t)| ((*r).to_owned(), (*t).to_owned()))
        .collect()
}

fn transcript_path(data: &std::path::Path, conversation: &str) -> std::path::PathBuf {
    data.join("transcripts")
        .join("owner")
        .join(format!("{conversation}.jsonl"))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_turns_stream_and_are_remembered_across_a_restart() {
    let (fake, data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, TURN_TIMEOUT).await;
    // OpenClaw's memory files live in the user's workspace and are injected into the prompt.
    let workspace = data.path().join("workspaces").join("owner");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(
        workspace.join("AGENTS.md"),
        "Always remember: marker-7f3a.\n",
    )
    .unwrap();
    let mut client = app.connect().await;

    client.send_message("default", "c1", "first question").await;
    let ack = client.next_of("ack").await;
    assert_eq!(ack["clientMessageId"], "c1");
    let turn1 = client.turn().await;
    assert!(
        turn1.deltas.len() >= 2,
        "at least two deltas, got {:?}",
        turn1.deltas
    );
    assert_eq!(turn1.deltas.concat(), turn1.content());
    assert_eq!(turn1.content(), reply_text(1, "first question"));
    assert_eq!(turn1.last["role"], "assistant");
    assert!(turn1.last["usage"]["inputTokens"].as_u64().unwrap() > 0);
    assert!(
        fake.requests()[0].body["system"]
            .to_string()
            .contains("marker-7f3a"),
        "the workspace's AGENTS.md reached the system prompt"
    );
    assert!(
        turn1.statuses.contains(&"running".to_owned()),
        "{:?}",
        turn1.statuses
    );

    client
        .send_message("default", "c2", "second question")
        .await;
    let turn2 = client.turn().await;
    assert!(turn2.deltas.len() >= 2);
    assert_eq!(turn2.deltas.concat(), turn2.content());
    // The LLM saw turn 1's user and assistant messages before the new one.
    assert_eq!(
        fake.requests()[1].conversation(),
        pairs(&[
            ("user", "first question"),
            ("assistant", turn1.content()),
            ("user", "second question")
        ])
    );
    assert_eq!(turn2.content(), reply_text(3, "second question"));
    app.stop().await;

    // A new process on the same data dir: history is served and continued.
    let app = TestApp::spawn(
        data.path(),
        Some(support::fake_provider(&fake, LlmApi::AnthropicMessages)),
        TURN_TIMEOUT,
    )
    .await;
    let (status, body) = app.get("/api/conversations/default/messages").await;
    assert_eq!(status, 200);
    let messages = body["messages"].as_array().unwrap();
    let stored: Vec<_> = messages
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stored,
        [
            ("user", "first question"),
            ("assistant", turn1.content()),
            ("user", "second question"),
            ("assistant", turn2.content())
        ]
    );
    assert!(messages.iter().all(|m| m["channel"] == "web"));
    let (_, list) = app.get("/api/conversations").await;
    assert_eq!(list["conversations"][0]["messageCount"], 4);

    let mut client = app.connect().await;
    client.send_message("default", "c3", "third question").await;
    let turn3 = client.turn().await;
    assert_eq!(turn3.content(), reply_text(5, "third question"));
    assert_eq!(
        fake.requests()[2].conversation(),
        pairs(&[
            ("user", "first question"),
            ("assistant", turn1.content()),
            ("user", "second question"),
            ("assistant", turn2.content()),
            ("user", "third question"),
        ])
    );
    app.stop().await;
    assert_private(data.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn five_messages_at_once_are_answered_in_order_and_the_transcript_stays_valid() {
    let (_fake, data, app) =
        support::spawn_with_fake_llm(LlmApi::OpenAiCompletions, TURN_TIMEOUT).await;
    let mut client = app.connect().await;
    for i in 1..=5 {
        client
            .send_message("burst", &format!("b{i}"), &format!("message {i}"))
            .await;
    }
    for i in 1..=5 {
        let turn = client.turn().await;
        // Message counts 1, 3, 5, 7, 9 prove both order and that each turn saw all earlier ones.
        assert_eq!(
            turn.content(),
            reply_text(2 * i - 1, &format!("message {i}"))
        );
    }
    let bytes = std::fs::read(transcript_path(data.path(), "burst")).unwrap();
    let messages = transcript_messages(&bytes);
    assert_eq!(messages.len(), 10, "{messages:?}");
    for (i, pair) in messages.chunks(2).enumerate() {
        assert_eq!(pair[0], ("user".to_owned(), format!("message {}", i + 1)));
        assert_eq!(pair[1].0, "assistant");
        assert_eq!(
            pair[1].1,
            reply_text(2 * i + 1, &format!("message {}", i + 1))
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_killed_mid_turn_fails_the_turn_keeps_the_transcript_and_recovers() {
    let (fake, data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, TURN_TIMEOUT).await;
    let mut client = app.connect().await;
    client
        .send_message("default", "k1", "before the crash")
        .await;
    client.turn().await.content();
    let path = transcript_path(data.path(), "default");
    let good = std::fs::read(&path).unwrap();

    // A slow reply, so the runner is killed while it streams.
    fake.set_chunk_delay(Duration::from_millis(400));
    client
        .send_message("default", "k2", "during the crash")
        .await;
    client.next_of("delta").await;
    let pid = app.app.runtime.runner_pid().expect("a live runner");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let error = client.next_of("error").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "error after {:?}",
        started.elapsed()
    );
    assert_eq!(error["code"], "agent_crashed");
    assert_eq!(error["clientMessageId"], "k2");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        good,
        "the transcript is the last good version"
    );

    fake.set_chunk_delay(Duration::from_millis(15));
    client
        .send_message("default", "k3", "after the crash")
        .await;
    let turn = client.turn().await;
    // The failed turn left nothing behind: the LLM sees turn 1 and the new message only.
    assert_eq!(turn.content(), reply_text(3, "after the crash"));
    assert_ne!(app.app.runtime.runner_pid(), Some(pid), "a fresh runner");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_connecting_starts_the_runner_before_its_first_message() {
    use serverless_openclaw_core::ports::{AgentState, AgentStatusSource};

    let (_fake, _data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, TURN_TIMEOUT).await;
    let runtime = app.app.runtime.clone();
    // Nothing starts it on its own here (the binary starts it at launch; a test app does not).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runtime.status().state, AgentState::Stopped);
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?token=wrong", app.addr)).await;
    assert!(refused.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        runtime.status().state,
        AgentState::Stopped,
        "a refused client wakes nothing"
    );

    // The connect starts it in the background, before any message.
    let _client = app.connect().await;
    let ready = tokio::time::timeout(Duration::from_secs(120), async {
        while runtime.status().state != AgentState::Ready {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "the runner did not become ready");
    assert!(runtime.runner_pid().is_some());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_llm_answering_500_ends_in_llm_error_and_stores_no_reply() {
    // OpenClaw retries a 500 with backoff for a minute or more before giving up: the deadline must
    // outlast that by far, or the turn would end in `timeout` instead.
    let (fake, _data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, Duration::from_secs(240)).await;
    app.app.runtime.start().await.expect("runner starts");
    let mut client = app.connect().await;
    fake.set_behaviour(Behaviour::Status(500));
    client
        .send_message("default", "e1", "provider is down")
        .await;
    let failed = client.turn().await;
    assert_eq!(failed.last["code"], "llm_error", "{}", failed.last);
    assert_eq!(failed.last["clientMessageId"], "e1");
    assert!(fake.request_count() > 1, "OpenClaw retried");

    fake.set_behaviour(Behaviour::Reply);
    client
        .send_message("default", "e2", "provider is back")
        .await;
    let turn = client.turn().await;
    assert_eq!(
        turn.content(),
        reply_text(1, "provider is back"),
        "the failed turn left no history"
    );
    let (_, body) = app.get("/api/conversations/default/messages").await;
    let roles: Vec<_> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].clone())
        .collect();
    assert_eq!(
        roles,
        [Value::from("user"), "user".into(), "assistant".into()]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_llm_hanging_past_the_deadline_ends_in_timeout() {
    let deadline = Duration::from_secs(15);
    let (fake, _data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, deadline).await;
    app.app.runtime.start().await.expect("runner starts");
    let mut client = app.connect().await;
    fake.set_behaviour(Behaviour::Hang);
    client.send_message("default", "h1", "provider hangs").await;
    let started = std::time::Instant::now();
    let hung = client.turn().await;
    assert_eq!(hung.last["code"], "timeout", "{}", hung.last);
    assert!(
        started.elapsed() < deadline + Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(client.next_of("status").await["status"], "idle");

    fake.set_behaviour(Behaviour::Reply);
    client
        .send_message("default", "h2", "provider is back")
        .await;
    assert_eq!(
        client.turn().await.content(),
        reply_text(1, "provider is back")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_conversations_run_at_the_same_time() {
    let (fake, _data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, TURN_TIMEOUT).await;
    fake.set_chunk_delay(Duration::from_millis(250));
    app.app.runtime.start().await.expect("runner starts");
    let mut client = app.connect().await;
    client.send_message("one", "p1", "first conversation").await;
    client
        .send_message("two", "p2", "second conversation")
        .await;
    // Each reply streams for about 2 s; both conversations stream before either finishes.
    let mut first_delta_of = std::collections::HashSet::new();
    let mut finished = Vec::new();
    while finished.len() < 2 {
        let frame = client.next().await;
        let conversation = frame["conversationId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match frame["type"].as_str() {
            Some("delta") if finished.is_empty() => {
                first_delta_of.insert(conversation);
            }
            Some("message") => finished.push(conversation),
            Some("error") => panic!("turn failed: {frame}"),
            _ => {}
        }
    }
    assert_eq!(
        first_delta_of.len(),
        2,
        "only {first_delta_of:?} streamed before the first reply ended"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_turn() {
    let (fake, data, app) =
        support::spawn_with_fake_llm(LlmApi::AnthropicMessages, TURN_TIMEOUT).await;
    fake.set_chunk_delay(Duration::from_millis(500));
    let mut client = app.connect().await;
    client
        .send_message("default", "x1", "a long answer please")
        .await;
    client.next_of("delta").await;
    client
        .send(serde_json::json!({"action":"cancel","conversationId":"default"}))
        .await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "cancelled");
    assert_eq!(client.next_of("status").await["status"], "idle");
    assert!(
        !transcript_path(data.path(), "default").exists(),
        "a cancelled first turn writes no transcript"
    );
    app.stop().await;
}

/// Everything in the data dir is the owner's alone: folders 0700, files 0600 (the database and its
/// `-wal` and `-shm` files, transcripts, the token, OpenClaw's own state).
fn assert_private(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir).unwrap();
    if meta.is_symlink() {
        return;
    }
    let mode = meta.permissions().mode() & 0o777;
    let want = if meta.is_dir() { 0o700 } else { 0o600 };
    assert_eq!(mode, want, "{} is {mode:o}", dir.display());
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            assert_private(&entry.unwrap().path());
        }
    }
}

/// The real binary with its data dir on a 64 MiB tmpfs of its own (bubblewrap), filled up from
/// outside between turns: a turn on the full disk fails with one clear error and no reply, and once
/// space is back the same message, sent again, is answered once; the history and transcript stay
/// consistent throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_turn_clearly_and_loses_nothing() {
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new("bwrap");
    command
        .args([
            "--die-with-parent",
            "--dev-bind",
            "/",
            "/",
            "--size",
            &(64 << 20).to_string(),
            "--tmpfs",
        ])
        .arg(data.path())
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_serverless-openclaw"))
        .args(["local", "--port", "0", "--data-dir"])
        .arg(data.path());
    local_mode_env(&mut command, &fake);
    command
        // The runner inside the sandbox would need a second mount namespace; the tmpfs is the point.
        .env("SERVERLESS_OPENCLAW_SANDBOX", "off")
        // Node's compile cache (tens of MB) stays off the small disk.
        .env("NODE_COMPILE_CACHE", cache.path())
        .current_dir(support::repo_root());
    let (child, address) = support::start_binary(command).await;
    // The data dir as the server sees it: its tmpfs, through the mount namespace of bwrap's child.
    let bwrap = child.id().expect("bwrap runs");
    let server = std::fs::read_to_string(format!("/proc/{bwrap}/task/{bwrap}/children"))
        .unwrap()
        .split_whitespace()
        .next()
        .expect("bwrap's child")
        .to_owned();
    let disk = std::path::PathBuf::from(format!("/proc/{server}/root"))
        .join(data.path().strip_prefix("/").unwrap());
    assert!(
        disk.join("serverless-openclaw.sqlite3").exists(),
        "{disk:?}"
    );

    let mut client = Client::open(&address, TOKEN, Duration::from_secs(240)).await;
    client.send_message("default", "d1", "before").await;
    client.turn().await.content();

    let fill = disk.join("fill");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&fill).unwrap();
        let block = vec![0u8; 1 << 20];
        while file.write_all(&block).is_ok() {}
    }
    client.send_message("default", "d2", "on a full disk").await;
    let failed = client.next_of("error").await;
    assert_eq!(failed["code"], "internal", "{failed}");
    assert_eq!(failed["clientMessageId"], "d2");

    std::fs::remove_file(&fill).unwrap();
    // As the web app does for a send that failed: again, with the same id.
    client.send_message("default", "d2", "on a full disk").await;
    let answered = client.turn().await;
    assert!(
        answered.content().contains("on a full disk"),
        "{:?}",
        answered.last
    );

    let stored = stored_messages(&address).await;
    let roles: Vec<&str> = stored.iter().map(|(role, _)| role.as_str()).collect();
    assert_eq!(
        roles,
        ["user", "assistant", "user", "assistant"],
        "{stored:?}"
    );
    let transcript = std::fs::read(disk.join("transcripts/owner/default.jsonl")).unwrap();
    let said: Vec<String> = transcript_messages(&transcript)
        .into_iter()
        .filter(|(role, _)| role == "user")
        .map(|(_, text)| text)
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].contains("before") && said[1].contains("on a full disk"));
}

/// The access token of the real binary in these tests.
const TOKEN: &str = "a-long-enough-access-token-for-tests";

/// Local mode's environment for the real binary: only `PATH`, the token, and the fake LLM as the
/// provider.
fn local_mode_env(command: &mut tokio::process::Command, fake: &FakeLlm) {
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SERVERLESS_OPENCLAW_TOKEN", TOKEN)
        .env(
            "SERVERLESS_OPENCLAW_LLM_BASE_URL",
            fake.anthropic_base_url(),
        )
        .env("SERVERLESS_OPENCLAW_LLM_API", "anthropic-messages")
        .env("SERVERLESS_OPENCLAW_LLM_API_KEY", "fake-deployment-key")
        .env("SERVERLESS_OPENCLAW_MODEL", "fake-model");
}

/// The conversation's stored messages as (role, content).
async fn stored_messages(address: &str) -> Vec<(String, String)> {
    let body: Value = reqwest::Client::new()
        .get(format!(
            "http://{address}/api/conversations/default/messages"
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    message_pairs(&body)
}

/// Where in a turn the server is killed.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// The model has the request (the user message stored, the runner working).
    Asked,
    /// The first words of the reply reached the client.
    Streaming,
    /// This long after the model finished answering: the transcript and the reply being stored.
    AfterReply(Duration),
}

/// The real binary killed with SIGKILL at points across a turn, and started again on the same data
/// dir each time: it opens its database and files, the history holds every message sent, each user
/// message followed by at most one reply, the transcript is whole JSON lines, and the message left
/// unanswered, sent again with the same id as the web app does, is answered once.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_turn_starts_again_consistent_and_answers_the_message_sent_again() {
    let fake = FakeLlm::start().await;
    // A reply streamed over about a second, so the kills land inside it.
    fake.set_chunk_delay(Duration::from_millis(100));
    let data = tempfile::tempdir().unwrap();
    let start = || async {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_serverless-openclaw"));
        command
            .args(["local", "--port", "0", "--data-dir"])
            .arg(data.path())
            .current_dir(support::repo_root());
        local_mode_env(&mut command, &fake);
        support::start_binary(command).await
    };
    let points = [
        KillPoint::Asked,
        KillPoint::Streaming,
        KillPoint::AfterReply(Duration::ZERO),
        KillPoint::AfterReply(Duration::from_millis(100)),
        KillPoint::AfterReply(Duration::from_millis(200)),
        KillPoint::AfterReply(Duration::from_millis(400)),
    ];
    for (round, point) in points.into_iter().enumerate() {
        let (mut server, address) = start().await;
        let mut client = Client::open(&address, TOKEN, TURN_TIMEOUT).await;
        let text = format!("round {round}");
        let asked_before = fake.request_count();
        let sent_at = std::time::Instant::now();
        client
            .send_message("default", &format!("k{round}"), &text)
            .await;
        match point {
            KillPoint::Asked => {
                fake.wait_for_requests(asked_before + 1, TURN_TIMEOUT)
                    .await
                    .expect("the model is asked");
            }
            KillPoint::Streaming => {
                client.next_of("delta").await;
            }
            KillPoint::AfterReply(after) => {
                while fake.last_response_end().is_none_or(|end| end <= sent_at) {
                    assert!(sent_at.elapsed() < TURN_TIMEOUT, "{point:?}: no reply");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                tokio::time::sleep(after).await;
            }
        }
        server.kill().await.expect("SIGKILL");

        let (_server, address) = start().await;
        let stored = stored_messages(&address).await;
        assert_eq!(
            stored.iter().filter(|(role, _)| role == "user").count(),
            round + 1,
            "{point:?}: every message sent is kept: {stored:?}"
        );
        for pair in stored.windows(2) {
            assert!(
                !(pair[0].0 == "assistant" && pair[1].0 == "assistant"),
                "{point:?}: one reply per message: {stored:?}"
            );
        }
        let transcript = std::fs::read(transcript_path(data.path(), "default")).unwrap_or_default();
        for line in transcript.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            serde_json::from_slice::<Value>(line).unwrap_or_else(|e| {
                panic!(
                    "{point:?}: a torn transcript line ({e}): {}",
                    String::from_utf8_lossy(line)
                )
            });
        }
        let unanswered = stored.last().is_some_and(|(role, _)| role == "user");
        println!(
            "{point:?}: the reply was {}stored before the kill",
            if unanswered { "not " } else { "" }
        );
        if unanswered {
            let mut client = Client::open(&address, TOKEN, TURN_TIMEOUT).await;
            client
                .send_message("default", &format!("k{round}"), &text)
                .await;
            let answered = client.turn().await;
            assert!(
                answered.content().contains(&text),
                "{point:?}: {:?}",
                answered.last
            );
        }
        let stored = stored_messages(&address).await;
        assert_eq!(stored.len(), 2 * (round + 1), "{point:?}: {stored:?}");
        assert!(
            stored.last().unwrap().1.contains(&text),
            "{point:?}: {stored:?}"
        );
    }
}
