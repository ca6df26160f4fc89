//! A minimal Lambda function built on the real `lambda_runtime`, for the tests of the Runtime API
//! emulator and the service around it (`tests/lambda_runtime.rs`, `tests/lambda_service.rs`): it
//! answers with its event and the invocation context, fails when the event asks it to, and exits when
//! the event asks it to (a crash mid-invocation).
//!
//! Switches for the service's tests, from its environment: `ECHO_INIT_SLEEP_MS` (a slow init phase),
//! `ECHO_TICK_MS` (a background task printing `tick` at that interval, to see a frozen environment
//! stop), `ECHO_FAIL_RESTORE` (the after-restore hook fails). With SnapStart it prints `before
//! snapshot` and `after restore` from its hooks.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{
    BoxFuture, Diagnostic, Error, LambdaEvent, Runtime, SnapStartResource, layers, service_fn,
};
use serde_json::{Value, json};

/// Prints what happens around a SnapStart snapshot.
struct Hooks;

impl SnapStartResource for Hooks {
    fn before_snapshot(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async {
            println!("before snapshot");
            Ok(())
        })
    }

    fn after_restore(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async {
            println!("after restore");
            match std::env::var("ECHO_FAIL_RESTORE") {
                Ok(_) => Err("the after-restore hook was told to fail".into()),
                Err(_) => Ok(()),
            }
        })
    }
}

fn millis(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The tests read this line from the captured output.
    println!(
        "echo-lambda starting, function {}",
        std::env::var("AWS_LAMBDA_FUNCTION_NAME")?
    );
    if let Some(sleep) = millis("ECHO_INIT_SLEEP_MS") {
        tokio::time::sleep(sleep).await;
    }
    if let Some(tick) = millis("ECHO_TICK_MS") {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                println!("tick");
            }
        });
    }
    Runtime::new(service_fn(echo))
        .layer(layers::TracingLayer::new())
        .register_snapstart_resource(Arc::new(Hooks))
        .run()
        .await
}

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, context) = event.into_parts();
    if let Some(message) = payload.get("fail").and_then(Value::as_str) {
        return Err(Diagnostic {
            error_type: "EchoFailure".into(),
            error_message: message.into(),
        });
    }
    if let Some(code) = payload.get("exit").and_then(Value::as_i64) {
        std::process::exit(i32::try_from(code).unwrap_or(1));
    }
    eprintln!("echo-lambda handled {}", context.request_id);
    Ok(json!({
        "event": payload,
        "requestId": context.request_id,
        "deadlineMs": context.deadline,
        "functionArn": context.invoked_function_arn,
        "traceId": context.xray_trace_id,
        "functionName": context.env_config.function_name,
        "memoryMb": context.env_config.memory,
    }))
}
