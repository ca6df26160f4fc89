//! The Lambda Runtime API emulator against a real `lambda_runtime` bootstrap (the `echo-lambda` bin):
//! invocations, handler errors, crashes, timeouts, restarts, captured output and the init phase.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use serverless_openclaw_testkit::lambda_runtime::{
    InvocationError, LambdaProcess, RuntimeApi, Stream,
};

const ECHO: &str = env!("CARGO_BIN_EXE_echo-lambda");
const TIMEOUT: Duration = Duration::from_secs(10);

fn spawn_echo(api: &RuntimeApi) -> LambdaProcess {
    api.spawn_bootstrap(ECHO, Vec::<(String, String)>::new())
        .expect("spawn echo-lambda")
}

#[tokio::test]
async fn an_invocation_returns_the_handlers_answer_with_the_invocation_context() {
    let api = RuntimeApi::start().await;
    let _echo = spawn_echo(&api);
    let before_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();

    let answer = api
        .invoke(json!({"hello": "world", "n": [1, 2]}), TIMEOUT)
        .await
        .expect("the echo succeeds");

    assert_eq!(answer["event"], json!({"hello": "world", "n": [1, 2]}));
    assert_eq!(answer["requestId"].as_str().unwrap().len(), 36, "{answer}");
    assert_eq!(
        answer["functionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:echo-lambda"
    );
    assert_eq!(answer["functionName"], "echo-lambda");
    assert_eq!(answer["memoryMb"], 128);
    assert!(
        answer["traceId"].as_str().unwrap().starts_with("Root=1-"),
        "{answer}"
    );
    let deadline = u128::from(answer["deadlineMs"].as_u64().unwrap());
    assert!(
        deadline >= before_ms + TIMEOUT.as_millis()
            && deadline <= before_ms + TIMEOUT.as_millis() + 5_000,
        "the deadline is the function timeout from now: {deadline} vs {before_ms}"
    );
}

#[tokio::test]
async fn a_handler_error_becomes_an_invocation_error_and_the_process_keeps_serving() {
    let api = RuntimeApi::start().await;
    let _echo = spawn_echo(&api);

    let error = api
        .invoke(json!({"fail": "no such conversation"}), TIMEOUT)
        .await
        .expect_err("the handler fails");
    assert_eq!(
        error,
        InvocationError {
            error_type: "EchoFailure".into(),
            error_message: "no such conversation".into(),
        }
    );

    let answer = api.invoke(json!("after"), TIMEOUT).await.unwrap();
    assert_eq!(answer["event"], "after");
}

#[tokio::test]
async fn one_process_serves_sequential_invocations_in_order() {
    let api = RuntimeApi::start().await;
    let echo = spawn_echo(&api);

    let mut request_ids = Vec::new();
    for n in 0..5 {
        let answer = api.invoke(json!({"n": n}), TIMEOUT).await.unwrap();
        assert_eq!(answer["event"]["n"], n);
        request_ids.push(answer["requestId"].as_str().unwrap().to_owned());
    }

    request_ids.sort();
    request_ids.dedup();
    assert_eq!(
        request_ids.len(),
        5,
        "every invocation has its own request id"
    );
    assert_eq!(echo.exit_status(), None, "the same process served them all");
}

#[tokio::test]
async fn the_init_phase_is_measured_from_spawn_to_the_first_poll() {
    let api = RuntimeApi::start().await;
    assert_eq!(api.first_poll_at(), None);
    let echo = spawn_echo(&api);

    let init = api
        .wait_ready(&echo, TIMEOUT)
        .await
        .expect("the bootstrap polls /next");

    let first_poll = api.first_poll_at().expect("a poll was recorded");
    assert_eq!(first_poll.duration_since(echo.spawned_at()), init);
    assert!(init < TIMEOUT);
}

#[tokio::test]
async fn the_output_of_both_streams_is_captured_line_by_line() {
    let api = RuntimeApi::start().await;
    let echo = spawn_echo(&api);

    let answer = api.invoke(json!({}), TIMEOUT).await.unwrap();
    let request_id = answer["requestId"].as_str().unwrap();

    let handled = format!("echo-lambda handled {request_id}");
    assert_eq!(
        echo.wait_for_line(|line| line == handled, TIMEOUT).await,
        Some(handled.clone())
    );
    assert!(
        echo.stdout_lines()
            .contains(&"echo-lambda starting, function echo-lambda".to_owned()),
        "{:?}",
        echo.output()
    );
    assert!(echo.stderr_lines().contains(&handled));
    assert!(
        echo.output()
            .iter()
            .any(|line| line.stream == Stream::Stderr && line.text == handled)
    );
}

#[tokio::test]
async fn the_environment_is_lambdas_plus_what_the_test_passes() {
    let api = RuntimeApi::start().await;
    let _echo = api
        .spawn_bootstrap(
            ECHO,
            [
                ("AWS_LAMBDA_FUNCTION_NAME", "serverless-openclaw-agent"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"),
            ],
        )
        .unwrap();

    let answer = api.invoke(json!({}), TIMEOUT).await.unwrap();

    assert_eq!(answer["functionName"], "serverless-openclaw-agent");
    assert_eq!(answer["memoryMb"], 2048);
    assert_eq!(
        answer["functionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:serverless-openclaw-agent"
    );
}

#[tokio::test]
async fn a_bootstrap_that_exits_fails_its_invocation_with_runtime_exit_error() {
    let api = RuntimeApi::start().await;
    let echo = spawn_echo(&api);

    let started = std::time::Instant::now();
    let error = api
        .invoke(json!({"exit": 3}), TIMEOUT)
        .await
        .expect_err("the process exits instead of answering");

    assert_eq!(error.error_type, "Runtime.ExitError", "{error}");
    assert!(error.error_message.contains("exit status: 3"), "{error}");
    assert!(
        started.elapsed() < TIMEOUT,
        "it fails when the process exits, not at the timeout"
    );
    assert_eq!(echo.exit_status().and_then(|s| s.code()), Some(3));
}

#[tokio::test]
async fn an_unanswered_invocation_times_out_and_is_never_delivered_later() {
    let api = RuntimeApi::start().await;

    let error = api
        .invoke(json!({"stale": true}), Duration::from_millis(200))
        .await
        .expect_err("no bootstrap runs");
    assert_eq!(error.error_type, "Sandbox.Timedout");

    let echo = spawn_echo(&api);
    let answer = api.invoke(json!({"fresh": true}), TIMEOUT).await.unwrap();
    assert_eq!(answer["event"], json!({"fresh": true}));

    // Events are handed out in order, so a delivered stale event would have been handled first.
    let fresh = format!(
        "echo-lambda handled {}",
        answer["requestId"].as_str().unwrap()
    );
    echo.wait_for_line(|line| line == fresh, TIMEOUT)
        .await
        .unwrap();
    let handled: Vec<String> = echo
        .stderr_lines()
        .into_iter()
        .filter(|line| line.starts_with("echo-lambda handled"))
        .collect();
    assert_eq!(handled, [fresh]);
}

#[tokio::test]
async fn a_restarted_bootstrap_takes_the_next_invocation() {
    let api = RuntimeApi::start().await;
    let mut first = spawn_echo(&api);
    api.invoke(json!(1), TIMEOUT).await.unwrap();
    // The first process now waits in a long poll of /next; killing it must not swallow an event.
    assert!(first.kill().await.is_some(), "the first process is gone");

    let second = spawn_echo(&api);
    assert!(api.wait_ready(&second, TIMEOUT).await.is_some());
    let answer = api.invoke(json!(2), TIMEOUT).await.unwrap();

    assert_eq!(answer["event"], 2);
}

#[tokio::test]
async fn init_errors_are_recorded_and_unknown_request_ids_are_refused() {
    let api = RuntimeApi::start().await;
    let client = reqwest::Client::new();
    let base = format!("http://{}/2018-06-01/runtime", api.addr());
    assert_eq!(api.init_error(), None);

    // What lambda_runtime sends when its init fails.
    let status = client
        .post(format!("{base}/init/error"))
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .body(r#"{"errorType":"ConfigError","errorMessage":"TABLE_NAME is not set"}"#)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    assert_eq!(
        api.init_error(),
        Some(InvocationError {
            error_type: "ConfigError".into(),
            error_message: "TABLE_NAME is not set".into(),
        })
    );

    let refused = client
        .post(format!("{base}/invocation/not-a-request/response"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errorType"], "InvalidRequestID");
}

#[tokio::test]
async fn dropping_a_bootstrap_kills_the_processes_it_started() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bootstrap");
    std::fs::write(&script, "#!/bin/sh\nsleep 300 &\necho \"child $!\"\nwait\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let api = RuntimeApi::start().await;
    // A freshly written script can be "busy" for a moment while another test forks.
    let mut spawned = api.spawn_bootstrap(&script, Vec::<(String, String)>::new());
    for _ in 0..10 {
        if spawned.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        spawned = api.spawn_bootstrap(&script, Vec::<(String, String)>::new());
    }
    let bootstrap = spawned.expect("spawn the script");
    let line = bootstrap
        .wait_for_line(|line| line.starts_with("child "), TIMEOUT)
        .await
        .expect("the script reports its child");
    let grandchild = line["child ".len()..].to_owned();
    assert!(running(&grandchild), "the grandchild {grandchild} runs");

    drop(bootstrap);

    let deadline = std::time::Instant::now() + TIMEOUT;
    while running(&grandchild) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !running(&grandchild),
        "the grandchild {grandchild} was killed"
    );
}

/// Whether the process exists and is not a zombie waiting to be reaped.
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            // The state follows the command name, which is in parentheses.
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            state != Some(Some('Z'))
        })
        .unwrap_or(false)
}
