//! The Lambda service emulator around the `echo-lambda` bootstrap: environments started per concurrent
//! invocation and reused when idle, frozen between invocations, the init cap, SnapStart's snapshot and
//! restore (and a failing restore), and the Invoke API.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serverless_openclaw_testkit::lambda_service::{
    Fault, FunctionConfig, InvocationKind, LambdaService, Start,
};

const ECHO: &str = env!("CARGO_BIN_EXE_echo-lambda");
const WAIT: Duration = Duration::from_secs(20);

fn echo(env: &[(&str, &str)]) -> FunctionConfig {
    FunctionConfig::new(
        "echo",
        ECHO,
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn lines(service: &LambdaService, environment: usize, text: &str) -> usize {
    service.environments()[environment]
        .output()
        .iter()
        .filter(|l| l.text == text)
        .count()
}

#[tokio::test]
async fn an_invocation_during_another_starts_a_new_environment_and_an_idle_one_is_reused() {
    let mut config = echo(&[("ECHO_INIT_SLEEP_MS", "500")]);
    config.tmp_variables = vec!["ECHO_TMP".into()];
    let service = LambdaService::start(config).await;
    // The first environment is still in its init phase, busy with the event that started it.
    let first = service.invoke_event(json!({"n": 1}));
    let second = service.invoke(json!({"n": 2})).await.expect("answered");
    assert_eq!(second["event"], json!({"n": 2}));
    let first = service.wait_finished(first, WAIT).await.expect("finished");
    assert_eq!(first.kind, InvocationKind::Event);
    assert_eq!(first.outcome.unwrap().unwrap()["event"], json!({"n": 1}));
    assert_eq!(service.environments().len(), 2);
    assert_ne!(
        first.environment,
        service.invocations()[1].environment,
        "two environments ran them"
    );

    // Each has a /tmp of its own.
    let tmps: Vec<String> = service
        .environments()
        .iter()
        .map(|e| {
            let pid = e.process().pid().expect("a pid");
            let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
            environ
                .split(|b| *b == 0)
                .filter_map(|v| std::str::from_utf8(v).ok())
                .find_map(|v| v.strip_prefix("ECHO_TMP=").map(str::to_owned))
                .expect("ECHO_TMP is set")
        })
        .collect();
    assert_ne!(tmps[0], tmps[1]);
    assert!(tmps.iter().all(|t| std::path::Path::new(t).is_dir()));

    // Both are idle now: the next invocations reuse them, one at a time.
    for n in 3..6 {
        service.invoke(json!({ "n": n })).await.expect("answered");
    }
    assert_eq!(service.environments().len(), 2);
    assert!(
        service
            .environments()
            .iter()
            .all(|e| e.start() == Start::OnDemand && !e.init_timed_out())
    );
}

#[tokio::test]
async fn an_idle_environment_is_frozen_until_its_next_invocation() {
    let service = LambdaService::start(echo(&[("ECHO_TICK_MS", "50")])).await;
    service.invoke(json!({})).await.expect("answered");
    // Idle: its background task does not run.
    let frozen = lines(&service, 0, "tick");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        lines(&service, 0, "tick") <= frozen + 1,
        "ticked while frozen"
    );

    // An invocation thaws it; the ticks it missed are not made up, the next ones come.
    let thawed = Instant::now();
    service.invoke(json!({})).await.expect("answered");
    let environment = &service.environments()[0];
    let before = lines(&service, 0, "tick");
    environment
        .wait_for_line(|l| l == "tick", WAIT)
        .await
        .expect("a tick after the thaw");
    assert!(thawed.elapsed() < WAIT);
    assert!(lines(&service, 0, "tick") <= before + 3);
}

#[tokio::test]
async fn an_init_beyond_the_cap_runs_again_inside_the_invocation() {
    let mut config = echo(&[("ECHO_INIT_SLEEP_MS", "1500")]);
    config.init_timeout = Duration::from_millis(700);
    let service = LambdaService::start(config).await;
    let started = Instant::now();
    let answer = service
        .invoke(json!({"late": true}))
        .await
        .expect("answered");
    assert_eq!(answer["event"], json!({"late": true}));
    // The first init was killed at the cap; the second ran in full inside the invocation.
    assert!(started.elapsed() >= Duration::from_millis(2200));
    let environment = &service.environments()[0];
    assert!(environment.init_timed_out());
    let starts = environment
        .output()
        .iter()
        .filter(|l| l.text.starts_with("echo-lambda starting"))
        .count();
    assert_eq!(starts, 2);
}

#[tokio::test]
async fn snapstart_snapshots_at_publish_and_the_first_invocation_restores() {
    let mut config = echo(&[("ECHO_TICK_MS", "50")]);
    config.snap_start = true;
    let service = LambdaService::start(config).await;
    service.publish().await.expect("published");
    assert!(
        service.environments().is_empty(),
        "a snapshot is not an environment"
    );
    // Nothing runs in a snapshot: its background task would tick a dozen times meanwhile.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let answer = service
        .invoke(json!({"after": "restore"}))
        .await
        .expect("answered");
    assert_eq!(answer["event"], json!({"after": "restore"}));
    let environment = &service.environments()[0];
    assert_eq!(environment.start(), Start::Restored);
    let texts: Vec<String> = environment.output().into_iter().map(|l| l.text).collect();
    let before = texts.iter().position(|t| t == "before snapshot");
    let after = texts.iter().position(|t| t == "after restore");
    assert!(before.is_some() && before < after, "{texts:?}");
    // Frozen from the snapshot to the restore.
    let (before, after) = (before.unwrap(), after.unwrap());
    assert!(
        texts[before..after].iter().filter(|t| *t == "tick").count() <= 1,
        "{texts:?}"
    );
    assert_eq!(service.environments().len(), 1);
}

#[tokio::test]
async fn a_failing_after_restore_hook_fails_the_invocation_with_a_snapstart_exception() {
    let mut config = echo(&[("ECHO_FAIL_RESTORE", "1")]);
    config.snap_start = true;
    let service = LambdaService::start(config).await;
    service.publish().await.expect("published");
    let error = service
        .invoke(json!({}))
        .await
        .expect_err("the restore failed");
    assert_eq!(error.error_type, "SnapStartException");
    assert!(
        error.error_message.contains("told to fail"),
        "{}",
        error.error_message
    );
}

#[tokio::test]
async fn the_invoke_api_runs_request_response_and_event_invocations_and_refuses_others() {
    let service = LambdaService::start(echo(&[])).await;
    let http = reqwest::Client::new();
    let url = |function: &str| {
        format!(
            "{}/2015-03-31/functions/{function}/invocations",
            service.endpoint()
        )
    };

    let answered = http
        .post(url("echo"))
        .body(json!({"sync": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    let body: Value = answered.json().await.unwrap();
    assert_eq!(body["event"], json!({"sync": 1}));

    let queued = http
        .post(url(&format!("{}:live", service.arn())))
        .header("X-Amz-Invocation-Type", "Event")
        .body(json!({"async": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let event = service.wait_finished(1, WAIT).await.expect("ran");
    assert_eq!(event.kind, InvocationKind::Event);
    assert_eq!(event.qualifier.as_deref(), Some("live"));
    assert!(event.outcome.unwrap().is_ok());

    let failed = http
        .post(url("echo"))
        .body(json!({"fail": "on purpose"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 200);
    assert_eq!(failed.headers()["x-amz-function-error"], "Unhandled");

    let unknown = http.post(url("other")).body("{}").send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["x-amzn-errortype"],
        "ResourceNotFoundException"
    );

    service.set_fault(Some(Fault::Refuse {
        status: 429,
        error_type: "TooManyRequestsException".into(),
    }));
    let refused = http.post(url("echo")).body("{}").send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(
        service.invocations().len(),
        3,
        "refused calls are not invocations"
    );
}
