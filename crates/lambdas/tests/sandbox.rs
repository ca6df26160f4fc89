//! The agent function as Lambda runs its container image: the image's file tree laid out from
//! docker/agent.image.json (the manifest the Dockerfile follows) in a bubblewrap sandbox with a
//! read-only root, only `/tmp` writable and capped at 512 MB, Lambda's environment and nothing else, a
//! non-root user, one CPU and its own PID namespace (`testkit::lambda_sandbox`). The bootstrap is this
//! workspace's build of the `agent` bin (the image's is an arm64 build this machine cannot run).

mod support;

use std::time::Duration;

use serde_json::json;
use serverless_openclaw_aws::DynamoConversationStore;
use serverless_openclaw_core::domain::Role;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::ConversationStore;
use serverless_openclaw_testkit::fake_llm::{Behaviour, ToolCall, reply_text};
use serverless_openclaw_testkit::fixtures;
use serverless_openclaw_testkit::lambda_runtime::RuntimeApi;
use serverless_openclaw_testkit::lambda_sandbox::{
    BOOTSTRAP, ImageManifest, LAMBDA_GID, LAMBDA_UID, LambdaSandbox, SandboxedProcess, TMP_BYTES,
    sandboxed_processes,
};
use support::{GATEWAY_INVOKE, World, frames_of, send_frame};

const WS_CONNECT: &str = env!("CARGO_BIN_EXE_ws-connect");
const WS_MESSAGE: &str = env!("CARGO_BIN_EXE_ws-message");
const AGENT: &str = env!("CARGO_BIN_EXE_agent");
const HTTP_API: &str = env!("CARGO_BIN_EXE_http-api");

/// Run inside the sandbox by `sh`: one `name=value` line per observation.
const PROBE: &str = r#"
echo "uid=$(id -u)"
echo "gid=$(id -g)"
echo "pid=$$"
echo "cpus=$(nproc)"
echo "cwd=$(pwd)"
set -- $(stat -f -c '%b %S' /tmp)
echo "tmp_bytes=$(($1 * $2))"
echo "node=$(/opt/node/bin/node --version)"
for dir in / /etc /usr /opt/node/bin /opt/runner /opt/runner/lib /opt/runner/node_modules/openclaw /var/runtime /var/task /dev /tmp; do
  if error=$( (echo probe > "$dir/.probe") 2>&1 ); then
    echo "writable=$dir"
  else
    case "$error" in
      *"Read-only file system"*) echo "read_only=$dir" ;;
      *) echo "refused=$dir: $error" ;;
    esac
  fi
done
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_is_read_only_but_for_a_capped_tmp_and_runs_as_a_non_root_user_on_one_cpu() {
    let api = RuntimeApi::start().await;
    let sandbox = LambdaSandbox::new(&ImageManifest::agent()).source(BOOTSTRAP, AGENT);
    let probe = sandbox
        .spawn(&api, "/bin/sh", &["-c", PROBE])
        .expect("the sandbox starts");
    let status = probe
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("the probe ends");
    assert!(status.success(), "{:?}", probe.output());
    let seen = probe.stdout_lines();
    let value = |name: &str| -> Vec<&str> {
        seen.iter()
            .filter_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .collect()
    };
    assert_eq!(value("uid"), [LAMBDA_UID.to_string()]);
    assert_eq!(value("gid"), [LAMBDA_GID.to_string()]);
    // bwrap's init is pid 1 of the new namespace; the probe (setpriv exec'd it) is the next.
    assert_eq!(value("pid"), ["2"]);
    assert_eq!(value("cpus"), ["1"]);
    assert_eq!(value("cwd"), ["/var/task"]);
    assert_eq!(value("tmp_bytes"), [TMP_BYTES.to_string()]);
    assert!(value("node")[0].starts_with("v24."), "{seen:?}");
    assert_eq!(value("writable"), ["/tmp"], "only /tmp is writable");
    assert_eq!(value("refused"), Vec::<&str>::new());
    assert_eq!(value("read_only").len(), 10, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_image_answers_two_turns_in_a_lambda_like_sandbox() {
    let world = World::create().await;
    let (connect, message) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
    );
    let sandbox = world.agent_sandbox(AGENT);
    let agent = world.function_in(&sandbox).await;
    let (sub, token) = world.user("erin").await;
    let connected = connect
        .invoke(
            fixtures::ws_connect("conn-S1=", Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(connected["statusCode"], 200);

    for (client_id, text) in [("s1", "first question"), ("s2", "second question")] {
        let sent = message
            .invoke(
                fixtures::ws_message("conn-S1=", &send_frame("default", client_id, text)),
                GATEWAY_INVOKE,
            )
            .await;
        assert_eq!(sent["statusCode"], 200);
        let batch = world.deliver(&agent, 1).await;
        assert_eq!(batch["batchItemFailures"], serde_json::json!([]));
    }

    // The replies were pushed to the connection and stored in DynamoDB, after the questions.
    let replies: Vec<String> = frames_of(&world.recorder, "conn-S1=", "message")
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected = [
        reply_text(1, "first question"),
        reply_text(3, "second question"),
    ];
    assert_eq!(replies, expected);
    let stored = DynamoConversationStore::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        &world.conversations_table,
    )
    .list_messages(
        &UserId::parse(&sub).unwrap(),
        &ConversationId::parse("default").unwrap(),
        10,
        None,
    )
    .await
    .expect("messages");
    let stored: Vec<(Role, &str)> = stored
        .iter()
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(
        stored,
        [
            (Role::User, "first question"),
            (Role::Assistant, expected[0].as_str()),
            (Role::User, "second question"),
            (Role::Assistant, expected[1].as_str()),
        ]
    );
    // The second turn's LLM request carried the first: the transcript went through /tmp and S3.
    let requests = world.fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].conversation().len(), 3);

    // What answered them ran as laid out: the bootstrap with exactly Lambda's environment, and the
    // runner it started with a read-only /opt/runner (OpenClaw wrote nothing into node_modules).
    let processes = sandboxed_processes(&agent.process);
    let bootstrap = find(&processes, |p| {
        p.cmdline.first().map(String::as_str) == Some(BOOTSTRAP)
    });
    let runner = find(&processes, |p| p.parent == bootstrap.pid);
    assert_eq!(
        runner.cmdline.first().map(String::as_str),
        Some("/opt/node/bin/node"),
        "the runner runs the image's Node: {runner:?}"
    );
    assert_eq!(
        runner.cmdline.last().map(String::as_str),
        Some("/opt/runner/runner.mjs")
    );
    let mut environment = bootstrap.environment();
    // Set by bwrap with the working directory (and by /lambda-entrypoint.sh, a shell, on Lambda).
    environment.retain(|(name, _)| name != "PWD");
    assert_eq!(environment, sandbox.environment(&agent.api));
    for process in [&bootstrap, &runner] {
        let uid = process.status("Uid").unwrap_or_default();
        assert!(
            uid.split_whitespace()
                .all(|id| id == LAMBDA_UID.to_string()),
            "{process:?}: Uid {uid}"
        );
        let cpus = process.status("Cpus_allowed_list").unwrap_or_default();
        assert!(
            !cpus.contains([',', '-']),
            "{process:?}: one CPU, not {cpus}"
        );
        let namespaces = process.status("NSpid").unwrap_or_default();
        assert_eq!(
            namespaces.split_whitespace().count(),
            2,
            "{process:?}: NSpid {namespaces}"
        );
    }
    let mounts = runner.mounts();
    let mount = |point: &str| {
        mounts
            .iter()
            .find(|m| m.mount_point == point)
            .unwrap_or_else(|| panic!("no mount at {point}: {mounts:?}"))
    };
    for point in [
        "/",
        "/opt/runner/node_modules",
        "/opt/runner/runner.mjs",
        "/opt/node/bin/node",
        BOOTSTRAP,
        "/usr",
        "/etc",
    ] {
        assert!(mount(point).read_only(), "{point} is read-only");
    }
    let tmp = mount("/tmp");
    assert!(!tmp.read_only());
    assert_eq!(tmp.fs_type, "tmpfs");
    assert!(
        tmp.super_options
            .contains(&format!("size={}k", TMP_BYTES / 1024))
    );
    let writable: Vec<&str> = mounts
        .iter()
        .filter(|m| {
            !m.read_only()
                && m.fs_type != "proc"
                && m.fs_type != "devpts"
                && m.fs_type != "devtmpfs"
        })
        .map(|m| m.mount_point.as_str())
        .collect();
    assert_eq!(writable, ["/tmp"], "{mounts:?}");
}

fn find(
    processes: &[SandboxedProcess],
    which: impl Fn(&SandboxedProcess) -> bool,
) -> SandboxedProcess {
    processes
        .iter()
        .find(|p| which(p))
        .cloned()
        .unwrap_or_else(|| panic!("not among the sandbox's processes: {processes:?}"))
}

/// What the model's `exec` call runs in the sandbox: what a prompt injection would look at first. Its
/// environment, its ancestors' (the runner, the bootstrap, the sandbox's init) and every other visible
/// process's, the runner's memory map (the way into its memory), and all of `/tmp`. Compact, so
/// OpenClaw does not cut the result short.
const SEALING_PROBE: &str = "echo PROBE-START; env; \
    echo \"runner-maps: $(head -c 60 /proc/$PPID/maps 2>&1)\"; \
    for f in /proc/[0-9]*/environ; do echo \"== $f\"; tr '\\0' '\\n' < \"$f\" 2>&1 | head -40; done; \
    find /tmp 2>&1 | grep -v '^/tmp/openclaw/openclaw-state/' | head -150; \
    cat /tmp/openclaw/workspaces/*/* /tmp/openclaw/active/*/* 2>&1 | head -20; echo PROBE-END";

#[tokio::test(flavor = "multi_thread")]
async fn in_the_lambda_sandbox_a_tool_finds_no_credential_token_or_other_users_data() {
    const AWS_ACCESS: &str = "AKIASEALLAMBDA0A1B";
    const AWS_SECRET: &str = "aws-secret-lambda-seal-0a1b";
    const AWS_SESSION: &str = "aws-session-lambda-seal-0a1b";
    const BOT_TOKEN: &str = "424242:telegram-bot-token-seal-0a1b";
    // Not `sk-…`: OpenClaw masks such values in tool output by itself, which would hide a leak.
    const BOB_KEY: &str = "bob-own-key-seal-0a1b";
    const BOB_FILE: &str = "bob-private-notes-0a1b.md";
    const BOB_CONTENT: &str = "bob-private-content-0a1b";

    let world = World::create().await;
    world.secret("telegram-bot-token", BOT_TOKEN).await;
    let (connect, message, http) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
        world.function(HTTP_API).await,
    );
    // The execution role's credentials as Lambda sets them (moto takes any).
    let sandbox = world.agent_sandbox(AGENT).envs([
        ("AWS_ACCESS_KEY_ID", AWS_ACCESS),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
        ("AWS_SESSION_TOKEN", AWS_SESSION),
    ]);
    let agent = world.function_in(&sandbox).await;

    // Bob's turn first, in the same warm environment: his own key (from his settings) and a workspace
    // file go through it.
    let (bob, bob_token) = world.user("bob").await;
    let chosen = json!({
        "model": {"provider": "openai-compatible", "model": "bob-model", "baseUrl": world.fake.openai_base_url()},
        "apiKeys": {"openai-compatible": BOB_KEY},
    });
    let saved = http
        .invoke(
            fixtures::http_v2("PUT", "/api/settings", &[], Some(&chosen.to_string()), &bob),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(saved["statusCode"], 200, "{saved}");
    serverless_openclaw_aws::config::s3_client(&world.sdk)
        .put_object()
        .bucket(&world.bucket)
        .key(format!("workspaces/{bob}/{BOB_FILE}"))
        .body(BOB_CONTENT.as_bytes().to_vec().into())
        .send()
        .await
        .expect("Bob's workspace file");
    let (alice, alice_token) = world.user("alice").await;
    for (connection, token) in [("conn-B=", &bob_token), ("conn-A=", &alice_token)] {
        let connected = connect
            .invoke(
                fixtures::ws_connect(connection, Some(token)),
                GATEWAY_INVOKE,
            )
            .await;
        assert_eq!(connected["statusCode"], 200);
    }
    let say = async |connection: &str, text: &str| {
        let sent = message
            .invoke(
                fixtures::ws_message(connection, &send_frame("default", "m1", text)),
                GATEWAY_INVOKE,
            )
            .await;
        assert_eq!(sent["statusCode"], 200);
        let batch = world.deliver(&agent, 1).await;
        assert_eq!(batch["batchItemFailures"], json!([]));
    };
    say("conn-B=", "remember my notes").await;
    let bob_requests = world.fake.requests();
    assert_eq!(bob_requests.len(), 1);
    assert_eq!(
        bob_requests[0].api_key(),
        Some(BOB_KEY),
        "Bob's turn used his key"
    );

    // Alice's turn: the model runs the probe, then answers.
    world
        .fake
        .push_behaviour(Behaviour::tool_calls([ToolCall::exec(SEALING_PROBE)]));
    say("conn-A=", "look around").await;
    assert_eq!(frames_of(&world.recorder, "conn-A=", "message").len(), 1);
    let output: String = world
        .fake
        .requests()
        .iter()
        .skip(1)
        .flat_map(|request| request.tool_results())
        .map(|result| result.content)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        output.contains("PROBE-START") && output.contains("PROBE-END"),
        "the probe ran to its end: {output}"
    );
    assert!(
        output.contains("OPENCLAW_STATE_DIR=")
            && output.contains(&format!("/tmp/openclaw/active/{alice}")),
        "the probe saw the runner's environment and /tmp: {output}"
    );
    let maps = output
        .lines()
        .find_map(|line| line.strip_prefix("runner-maps: "))
        .unwrap_or_else(|| panic!("no runner-maps line: {output}"));
    assert!(
        maps.contains("Permission denied"),
        "the runner's memory is open to its tools: {maps}"
    );
    for secret in [
        AWS_ACCESS,
        AWS_SECRET,
        AWS_SESSION,
        "AWS_LAMBDA_RUNTIME_API",
        BOT_TOKEN,
        support::LLM_KEY,
        BOB_KEY,
        bob.as_str(),
        BOB_FILE,
        BOB_CONTENT,
    ] {
        assert!(
            !output.contains(secret),
            "Alice's tool found {secret}: {output}"
        );
    }
}

/// Serves `page` as HTML to every request on a loopback port (the sandbox shares this machine's
/// network); returns the port.
async fn serve_page(page: String) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn in_the_lambda_sandbox_the_agent_browses_is_refused_private_addresses_and_leaves_no_chromium()
 {
    // Also: Chromium, like every tool, gets none of the function's credentials (moto's are `testing`).
    let phrase = format!(
        "PHRASE-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let port = serve_page(format!(
        "<html><body><main><h1>Hello</h1><p>{phrase}</p></main></body></html>"
    ))
    .await;
    let world = World::create().await;
    let (connect, message) = (
        world.function(WS_CONNECT).await,
        world.function(WS_MESSAGE).await,
    );
    // The system's Chromium (Debian's, as in the image), read-only like the rest of /usr; the test page's
    // host is the one private address allowed.
    let sandbox = world.agent_sandbox(AGENT).envs([
        ("SERVERLESS_OPENCLAW_CHROMIUM", "/usr/bin/chromium"),
        ("SERVERLESS_OPENCLAW_BROWSER_ALLOWED_HOSTS", "127.0.0.1"),
        // OpenClaw's own lines (its browser's among them) in the output shown when the test fails.
        ("RUST_LOG", "info,openclaw_runner=debug"),
    ]);
    let agent = world.function_in(&sandbox).await;
    let (_, token) = world.user("frank").await;
    let connected = connect
        .invoke(
            fixtures::ws_connect("conn-F=", Some(&token)),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(connected["statusCode"], 200);
    let chromiums = || -> Vec<SandboxedProcess> {
        sandboxed_processes(&agent.process)
            .into_iter()
            .filter(|p| {
                p.cmdline
                    .iter()
                    .any(|a| a.starts_with("--remote-debugging-port"))
            })
            .collect()
    };

    // A turn without the browser starts none.
    let sent = message
        .invoke(
            fixtures::ws_message("conn-F=", &send_frame("default", "f1", "hello")),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(sent["statusCode"], 200);
    assert_eq!(
        world.deliver(&agent, 1).await["batchItemFailures"],
        json!([])
    );
    assert_eq!(chromiums(), []);

    for call in [
        json!({"action": "open", "url": format!("http://127.0.0.1:{port}/page")}),
        json!({"action": "text", "maxChars": 2000}),
        json!({"action": "open", "url": "http://169.254.169.254/latest/meta-data/"}),
        json!({"action": "open", "url": format!("http://localhost:{port}/page")}),
        json!({"action": "navigate", "url": format!("http://127.0.0.2:{port}/page")}),
    ] {
        world
            .fake
            .push_behaviour(Behaviour::tool_calls([ToolCall::new("browser", call)]));
    }
    let sent = message
        .invoke(
            fixtures::ws_message("conn-F=", &send_frame("default", "f2", "read the page")),
            GATEWAY_INVOKE,
        )
        .await;
    assert_eq!(sent["statusCode"], 200);
    // While the turn runs, the environment of each Chromium seen (it inherits the runner's).
    let turn_over = std::sync::atomic::AtomicBool::new(false);
    let watch = async {
        let mut seen: Vec<Vec<(String, String)>> = Vec::new();
        while !turn_over.load(std::sync::atomic::Ordering::SeqCst) {
            seen.extend(chromiums().iter().map(SandboxedProcess::environment));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        seen
    };
    let deliver = async {
        let batch = world.deliver(&agent, 1).await;
        turn_over.store(true, std::sync::atomic::Ordering::SeqCst);
        batch
    };
    let (chromium_environments, batch) = tokio::join!(watch, deliver);
    assert_eq!(batch["batchItemFailures"], json!([]));
    assert!(
        !chromium_environments.is_empty(),
        "Chromium ran during the turn"
    );
    for environment in &chromium_environments {
        let names: Vec<&str> = environment.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            names.contains(&"OPENCLAW_STATE_DIR"),
            "the runner's environment, read: {names:?}"
        );
        for secret in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            assert!(!names.contains(&secret), "Chromium got {secret}: {names:?}");
        }
        assert!(
            !environment.iter().any(|(_, v)| v == "testing"),
            "no credential value reaches Chromium: {environment:?}"
        );
    }

    let results = world
        .fake
        .requests()
        .last()
        .expect("requests")
        .tool_results();
    assert_eq!(results.len(), 5, "{results:?}");
    assert!(
        !results[1].is_error && results[1].content.contains(&phrase),
        "the page's phrase reaches the model: {results:?}"
    );
    for refused in &results[2..] {
        assert!(
            refused.is_error && refused.content.contains("blocked by policy"),
            "{refused:?}"
        );
    }
    let activity: Vec<(String, String)> = frames_of(&world.recorder, "conn-F=", "activity")
        .iter()
        .filter(|a| a["status"] != "running")
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = ["ok", "ok", "error", "error", "error"]
        .iter()
        .map(|s| ("browser".to_owned(), (*s).to_owned()))
        .collect();
    assert_eq!(activity, expected);

    // Chromium is gone before the environment would be frozen, and so is its profile.
    assert_eq!(chromiums(), []);
    let runner = sandboxed_processes(&agent.process)
        .into_iter()
        .find(|p| p.cmdline.last().map(String::as_str) == Some("/opt/runner/runner.mjs"))
        .expect("the runner");
    let profiles = std::path::PathBuf::from(format!(
        "/proc/{}/root/tmp/openclaw/openclaw-state/browser",
        runner.pid
    ));
    let left: Vec<_> = std::fs::read_dir(&profiles)
        .expect("the browser's state")
        .flatten()
        .filter(|profile| profile.path().join("user-data").exists())
        .map(|profile| profile.path())
        .collect();
    assert_eq!(left, Vec::<std::path::PathBuf>::new());
}
