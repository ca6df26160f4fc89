//! The Lambda waker against the Invoke API of the testkit's Lambda service emulator, through the real
//! SDK: what it sends, how it coalesces, and that a failing or hanging Lambda API never fails or holds
//! up its caller.
//!
//! Not moto: moto's Lambda (without Docker, `{"lambda": {"use_docker": false}}`) answers an `Event`
//! invoke with 202 even for a function that does not exist, and keeps no record of the invocations,
//! so a test against it could not fail.

use std::time::{Duration, Instant};

use serverless_openclaw_aws::wake::{LambdaAgentWaker, WAKE_TIMEOUT, WakeEvent};
use serverless_openclaw_core::ports::{AgentWaker, WakeReason};
use serverless_openclaw_testkit::lambda_service::{
    Fault, FunctionConfig, InvocationKind, LambdaService,
};

const WAIT: Duration = Duration::from_secs(5);

async fn agent() -> LambdaService {
    LambdaService::start(FunctionConfig::recorder("agent")).await
}

#[tokio::test]
async fn a_wake_up_is_an_event_invocation_of_the_named_alias_with_a_wake_event() {
    let lambda = agent().await;
    let waker = LambdaAgentWaker::new(
        &lambda.sdk_config(),
        format!("{}:live", lambda.arn()),
        Duration::from_secs(60),
    );
    let before_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();

    waker.wake(WakeReason::WebConnected).await;

    let invocations = lambda.wait_invocations(1, WAIT).await;
    assert_eq!(invocations.len(), 1);
    let woken = &invocations[0];
    assert_eq!(woken.kind, InvocationKind::Event);
    assert_eq!(woken.qualifier.as_deref(), Some("live"));
    let event: WakeEvent = serde_json::from_value(woken.payload.clone()).expect("a wake event");
    assert_eq!(event.wake.reason, WakeReason::WebConnected);
    assert!(u128::from(event.wake.sent_at_ms) >= before_ms);
    assert_eq!(
        woken.payload["wake"]["reason"], "web_connected",
        "{}",
        woken.payload
    );
    assert!(
        woken.payload.get("Records").is_none(),
        "never mistaken for SQS"
    );
}

#[tokio::test]
async fn wake_ups_within_the_interval_invoke_once() {
    let lambda = agent().await;
    let waker = LambdaAgentWaker::new(&lambda.sdk_config(), "agent", Duration::from_secs(60));
    for _ in 0..5 {
        waker.wake(WakeReason::WebConnected).await;
    }
    waker.wake(WakeReason::TelegramActivity).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lambda.invocations().len(), 1, "a reload storm wakes once");

    let eager = LambdaAgentWaker::new(&lambda.sdk_config(), "agent", Duration::ZERO);
    eager.wake(WakeReason::WebConnected).await;
    eager.wake(WakeReason::WebConnected).await;
    assert_eq!(lambda.wait_invocations(3, WAIT).await.len(), 3);
}

#[tokio::test]
async fn a_refusing_or_hanging_lambda_api_or_a_wrong_name_never_fails_or_holds_up_the_caller() {
    let lambda = agent().await;
    let bound = WAKE_TIMEOUT + Duration::from_millis(500);
    for fault in [
        Fault::Refuse {
            status: 429,
            error_type: "TooManyRequestsException".into(),
        },
        Fault::Refuse {
            status: 500,
            error_type: "ServiceException".into(),
        },
        Fault::Hang,
    ] {
        lambda.set_fault(Some(fault.clone()));
        let waker = LambdaAgentWaker::new(&lambda.sdk_config(), "agent", Duration::ZERO);
        let started = Instant::now();
        waker.wake(WakeReason::WebConnected).await;
        assert!(
            started.elapsed() < bound,
            "{fault:?}: {:?}",
            started.elapsed()
        );
    }
    lambda.set_fault(None);
    let wrong = LambdaAgentWaker::new(&lambda.sdk_config(), "not-the-agent", Duration::ZERO);
    let started = Instant::now();
    wrong.wake(WakeReason::WebConnected).await;
    assert!(started.elapsed() < bound);
    assert!(lambda.invocations().is_empty());
}
