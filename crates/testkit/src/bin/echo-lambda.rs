//! A minimal Lambda function built on the real `lambda_runtime`, for the tests of the Runtime API
//! emulator (`tests/lambda_runtime.rs`): it answers with its event and the invocation context, fails
//! when the event asks it to, and exits when the event asks it to (a crash mid-invocation).

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The tests read this line from the captured output.
    println!(
        "echo-lambda starting, function {}",
        std::env::var("AWS_LAMBDA_FUNCTION_NAME")?
    );
    lambda_runtime::run(service_fn(echo)).await
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
