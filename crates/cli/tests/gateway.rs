//! Local mode with `--runtime gateway`: the owner's turns on the real `openclaw gateway run`, the fake
//! LLM as its model: streamed turns with history, cancel, a message's image and file, the LLM key kept
//! from the gateway's tools, turns alternating with the runner, a crash mid-turn, the scheduler. The gateway takes ~20 s to start on 2 cores, so every scenario runs in one test,
//! in order, on as few gateway starts as it can.

mod support;

use std::path::Path;
use std::time::Duration;

use serverless_openclaw_agent::{DeploymentKeys, LlmApi};
use serverless_openclaw_cli::RuntimeKind;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm, ToolCall};
use support::{Client, TestApp, transcript_messages};

const TURN_TIMEOUT: Duration = Duration::from_secs(120);

/// The deployment's key for the fake LLM's endpoint.
const LLM_KEY: &str = "sk-deployment-key-5f0c2e9a";

async fn spawn(data: &Path, fake: &FakeLlm, runtime: RuntimeKind) -> TestApp {
    let provider = support::fake_provider(fake, LlmApi::AnthropicMessages);
    let keys = DeploymentKeys::from_env(|name| {
        (name == "SERVERLESS_OPENCLAW_LLM_API_KEY").then(|| LLM_KEY.to_owned())
    });
    TestApp::spawn_with(data, Some(provider), keys, TURN_TIMEOUT, None, runtime).await
}

/// The (role, text) pairs of the stored transcript of `conversation`.
fn stored(data: &Path, conversation: &str) -> Vec<(String, String)> {
    let path = data
        .join("transcripts")
        .join("owner")
        .join(format!("{conversation}.jsonl"));
    transcript_messages(&std::fs::read(path).expect("a stored transcript"))
}

/// Sends `text` and returns the reply, checking that it streamed and that the model was sent every
/// earlier turn of `expected_history` (user and assistant texts, in order) before it.
async fn turn(
    client: &mut Client,
    fake: &FakeLlm,
    conversation: &str,
    id: &str,
    text: &str,
    expected_history: &[(String, String)],
) -> String {
    let before = fake.request_count();
    client.send_message(conversation, id, text).await;
    let frames = client.turn().await;
    assert!(!frames.deltas.is_empty(), "streamed: {frames:?}");
    assert_eq!(frames.deltas.concat(), frames.content());
    let request = fake.requests()[before..]
        .iter()
        .rev()
        .find(|r| r.last_user_text().is_some_and(|t| t.contains(text)))
        .cloned()
        .expect("the model got the message");
    assert_eq!(frames.content(), request.expected_reply());
    assert!(
        frames.last["usage"]["inputTokens"].as_u64() > Some(0),
        "usage stored: {}",
        frames.last
    );
    let sent: Vec<_> = request
        .conversation()
        .into_iter()
        .filter(|(_, t)| expected_history.iter().any(|(_, e)| t.contains(e.as_str())))
        .collect();
    assert_eq!(
        sent.len(),
        expected_history.len(),
        "the model was sent every earlier turn: {:?}",
        request.conversation()
    );
    frames.content().to_owned()
}

/// Uploads `bytes` as an attachment of `conversation` (the web app's three steps); its id.
async fn upload(
    app: &TestApp,
    conversation: &str,
    name: &str,
    kind: &str,
    bytes: Vec<u8>,
) -> String {
    let uploads = format!("/api/conversations/{conversation}/attachments/uploads");
    let declared = serde_json::json!({"name": name, "size": bytes.len(), "contentType": kind});
    let (status, begun) = app
        .call(reqwest::Method::POST, &uploads, Some(declared))
        .await;
    assert_eq!(status, 201, "{begun}");
    let put = reqwest::Client::new()
        .put(app.url(begun["target"]["url"].as_str().expect("a target")))
        .body(bytes)
        .send()
        .await
        .expect("put");
    assert!(put.status().is_success(), "{}", put.status());
    let complete = format!(
        "{uploads}/{}/complete",
        begun["uploadId"].as_str().expect("an id")
    );
    let (status, view) = app
        .call(
            reqwest::Method::POST,
            &complete,
            Some(serde_json::json!({"name": name, "contentType": kind})),
        )
        .await;
    assert_eq!(status, 201, "{view}");
    view["id"].as_str().expect("an attachment id").to_owned()
}

/// Kills the gateway's whole process group, as a crash or an OOM kill would.
fn kill_gateway(app: &TestApp) -> u32 {
    let pid = app
        .app
        .gateway
        .as_ref()
        .and_then(|g| g.gateway_pid())
        .expect("a live gateway");
    let killed = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
    pid
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_runs_turns_with_history_cancel_crashes_the_scheduler_and_turns_of_the_runner()
{
    let fake = FakeLlm::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let app = spawn(data.path(), &fake, RuntimeKind::Gateway).await;
    let mut client = app.connect().await;
    // Connecting wakes the gateway, ahead of the first message.
    let gateway = app.app.gateway.clone().expect("the gateway runtime");
    tokio::time::timeout(TURN_TIMEOUT, async {
        while gateway.gateway_pid().is_none() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the gateway started on connect");

    // Two turns: streamed, and the second is sent the first; usage comes from the gateway's session.
    let mut history: Vec<(String, String)> = Vec::new();
    let reply = turn(
        &mut client,
        &fake,
        "default",
        "g1",
        "first question",
        &history,
    )
    .await;
    history.extend([
        ("user".into(), "first question".into()),
        ("assistant".into(), reply),
    ]);
    let reply = turn(
        &mut client,
        &fake,
        "default",
        "g2",
        "second question",
        &history,
    )
    .await;
    history.extend([
        ("user".into(), "second question".into()),
        ("assistant".into(), reply),
    ]);
    assert_eq!(
        stored(data.path(), "default"),
        history,
        "the store holds both turns"
    );

    // Cancel: `chat.abort` stops the run, and the conversation takes the next message.
    let other = app.create_conversation("other").await;
    fake.set_chunk_delay(Duration::from_millis(500));
    client
        .send_message(&other, "x1", "a long answer please")
        .await;
    client.next_of("delta").await;
    client
        .send(serde_json::json!({"action":"cancel","conversationId":other}))
        .await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "cancelled", "{error}");
    fake.set_chunk_delay(Duration::from_millis(15));
    turn(&mut client, &fake, &other, "x2", "are you still there", &[]).await;

    // The gateway's tools see neither the LLM key (the host's proxy adds it) in its environment or
    // config, while every request the model got carried it.
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::exec(
        "env; cat \"$OPENCLAW_CONFIG_PATH\"",
    )]));
    let before = fake.request_count();
    client
        .send_message(&other, "e1", "show me your environment")
        .await;
    client.turn().await.content();
    let results: Vec<_> = fake.requests()[before..]
        .iter()
        .flat_map(|r| r.tool_results())
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(
        results[0].content.contains("OPENCLAW_CONFIG_PATH=")
            && results[0].content.contains("\"gateway\""),
        "the tool printed the environment and the config: {}",
        results[0].content
    );
    assert!(
        !results[0].content.contains(LLM_KEY),
        "{}",
        results[0].content
    );
    assert!(
        fake.requests().iter().all(|r| r.api_key() == Some(LLM_KEY)),
        "every request carried the deployment's key"
    );

    // A message's image reaches the model as an image, its file is named in the prompt.
    let png = serverless_openclaw_testkit::images::solid_png(8, 8, [200, 30, 30]);
    let image = upload(&app, &other, "red.png", "image/png", png.clone()).await;
    let file = upload(
        &app,
        &other,
        "notes.txt",
        "text/plain",
        b"remember the milk".to_vec(),
    )
    .await;
    let before = fake.request_count();
    client
        .send(
            serde_json::json!({"action": "sendMessage", "conversationId": other,
            "clientMessageId": "a1", "message": "what is in these?", "attachments": [image, file]}),
        )
        .await;
    client.turn().await.content();
    let request = &fake.requests()[before];
    let images = request.images();
    assert_eq!(images.len(), 1, "one image sent");
    assert_eq!(images[0].bytes(), Some(png));
    let prompt = request.last_user_text().unwrap_or_default();
    assert!(prompt.contains("notes.txt"), "{prompt}");
    app.stop().await;

    // The runner continues the conversation the gateway ran...
    let app = spawn(data.path(), &fake, RuntimeKind::Runner).await;
    let mut client = app.connect().await;
    let reply = turn(
        &mut client,
        &fake,
        "default",
        "r3",
        "third question",
        &history,
    )
    .await;
    history.extend([
        ("user".into(), "third question".into()),
        ("assistant".into(), reply),
    ]);
    app.stop().await;

    // ... and the gateway the one the runner ran.
    let app = spawn(data.path(), &fake, RuntimeKind::Gateway).await;
    let mut client = app.connect().await;
    let reply = turn(
        &mut client,
        &fake,
        "default",
        "g4",
        "fourth question",
        &history,
    )
    .await;
    history.extend([
        ("user".into(), "fourth question".into()),
        ("assistant".into(), reply),
    ]);
    assert_eq!(stored(data.path(), "default"), history);

    // The gateway killed mid-turn: an error frame, the stored transcript untouched, and the next
    // turn runs on a fresh gateway that is sent the whole conversation.
    fake.set_chunk_delay(Duration::from_millis(400));
    client
        .send_message("default", "k5", "during the crash")
        .await;
    client.next_of("delta").await;
    let pid = kill_gateway(&app);
    let after_kill = fake.request_count();
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "agent_crashed", "{error}");
    assert_eq!(error["clientMessageId"], "k5");
    assert_eq!(
        stored(data.path(), "default"),
        history,
        "the last good transcript"
    );
    fake.set_chunk_delay(Duration::from_millis(15));
    let reply = turn(
        &mut client,
        &fake,
        "default",
        "g6",
        "after the crash",
        &history,
    )
    .await;
    history.extend([
        ("user".into(), "after the crash".into()),
        ("assistant".into(), reply),
    ]);
    let gateway = app.app.gateway.clone().expect("the gateway runtime");
    assert_ne!(gateway.gateway_pid(), Some(pid), "a fresh gateway");
    // The fresh gateway neither resumed the interrupted turn nor was given it: it is not ours.
    for request in &fake.requests()[after_kill..] {
        assert!(
            !request.sent_text().contains("during the crash"),
            "{:?}",
            request.conversation()
        );
    }

    // OpenClaw's scheduler: the model calls its `automations` tool, and the job is listed.
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::new(
        "automations",
        serde_json::json!({
            "action": "add",
            "job": {
                "name": "Water the plants",
                "schedule": { "kind": "at", "at": "2030-06-01T08:00:00Z" },
                "payload": { "kind": "agentTurn", "message": "Remind me to water the plants" },
                "sessionTarget": "current",
                "deleteAfterRun": true,
            },
        }),
    )]));
    let before = fake.request_count();
    client
        .send_message("default", "s7", "remind me to water the plants")
        .await;
    let frames = client.turn().await;
    frames.content();
    let tools = &frames.last["activity"]["tools"];
    assert_eq!(tools[0]["name"], "automations", "{}", frames.last);
    assert_eq!(tools[0]["status"], "ok", "{}", frames.last);
    let results: Vec<_> = fake.requests()[before..]
        .iter()
        .flat_map(|r| r.tool_results())
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(!results[0].is_error, "the tool ran: {results:?}");
    let jobs = gateway
        .call("cron.list", &serde_json::json!({}))
        .await
        .expect("cron.list");
    let names: Vec<_> = jobs["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["name"].as_str())
        .collect();
    assert!(names.contains(&"Water the plants"), "{jobs}");

    app.stop().await;
}
