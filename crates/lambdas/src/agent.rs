//! `agent`: the SQS-triggered turn processor (batch size 1, partial batch failures reported).
//!
//! The OpenClaw runner is spawned during the Lambda init phase and reused by warm invocations; the
//! first turn waits for it if it is still starting. A turn runs through the core
//! [`TurnProcessor`]: session lease → transcript and workspace from S3 → the warm runner → deltas to
//! the user's connections → transcript back with `If-Match` → assistant message with usage and cost
//! → `message` frame → lease released. A record whose conversation is busy (its lease is held by a
//! delivery still running elsewhere) is reported as a batch item failure, so SQS delivers it again
//! after the visibility timeout; a redelivered turn that was already answered is skipped.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serverless_openclaw_agent::workspace::SyncedWorkspaceRuntime;
use serverless_openclaw_agent::{
    Confinement, DeploymentKeys, OpenClawRuntime, ProviderConfig, RuntimeSettings,
};
use serverless_openclaw_aws::metrics::{Record, Unit};
use serverless_openclaw_aws::secrets::SsmSecrets;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ports::{ClientPush, ToolAccess};
use serverless_openclaw_core::turn::{LeasePolicy, TurnOutcome, TurnProcessor};

use crate::settings::{Adapters, SettingsError, optional, seconds};
use crate::{Error, Function};

/// The deployment's API keys read from SSM: the key's variable ← the variable naming its SSM parameter.
const SECRET_PARAMETERS: [(&str, &str); 3] = [
    (
        "ANTHROPIC_API_KEY",
        "SERVERLESS_OPENCLAW_ANTHROPIC_API_KEY_PARAMETER",
    ),
    (
        "OPENAI_API_KEY",
        "SERVERLESS_OPENCLAW_OPENAI_API_KEY_PARAMETER",
    ),
    (
        "SERVERLESS_OPENCLAW_LLM_API_KEY",
        "SERVERLESS_OPENCLAW_LLM_API_KEY_PARAMETER",
    ),
];

/// The turn deadline; the function timeout must be longer (the CDK app sets 15 minutes).
const DEFAULT_TURN_TIMEOUT_SECS: u64 = 600;

/// The `agent` function.
pub struct AgentFunction {
    processor: TurnProcessor,
    /// No turn has run in this execution environment yet.
    cold: AtomicBool,
}

impl Function for AgentFunction {
    type Event = SqsEvent;
    type Response = SqsBatchResponse;

    /// Builds everything and starts the runner in the background, so the runner's cold start overlaps
    /// the rest of the init phase and the first invocation.
    async fn from_env(adapters: &Adapters) -> Result<Self, Error> {
        let secrets = read_secrets(adapters).await?;
        let from_secrets_or_env = |name: &str| {
            secrets
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(name).ok())
        };
        let provider = ProviderConfig::from_env(from_secrets_or_env)?;
        let keys = DeploymentKeys::from_env(from_secrets_or_env);
        let guest_tools = match optional("SERVERLESS_OPENCLAW_GUEST_TOOLS") {
            None => ToolAccess::Restricted,
            Some(raw) => ToolAccess::parse(&raw).ok_or_else(|| {
                SettingsError::from(
                    "SERVERLESS_OPENCLAW_GUEST_TOOLS must be restricted or full".to_owned(),
                )
            })?,
        };
        let state_dir = PathBuf::from(
            optional("SERVERLESS_OPENCLAW_STATE_DIR").unwrap_or_else(|| "/tmp/openclaw".into()),
        );
        let workspace_root = state_dir.join("workspaces");
        let turn_timeout = seconds(
            "SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS",
            DEFAULT_TURN_TIMEOUT_SECS,
        )?;
        let runtime = OpenClawRuntime::new(RuntimeSettings {
            node: PathBuf::from(
                optional("SERVERLESS_OPENCLAW_NODE").unwrap_or_else(|| "/opt/node/bin/node".into()),
            ),
            runner_script: PathBuf::from(
                optional("SERVERLESS_OPENCLAW_RUNNER")
                    .unwrap_or_else(|| "/opt/runner/runner.mjs".into()),
            ),
            state_dir,
            workspace_root: workspace_root.clone(),
            turn_timeout,
            ready_timeout: Duration::from_secs(120),
            provider,
            disable_tools: optional("SERVERLESS_OPENCLAW_DISABLE_TOOLS").is_some_and(|v| v == "1"),
            keys,
            // The execution environment is the sandbox: Lambda offers no user namespaces. One turn
            // at a time runs here, and the workspace sync leaves no other user's files behind.
            confinement: Confinement::None,
        })?;
        let agent = Arc::new(SyncedWorkspaceRuntime::new(
            runtime,
            adapters.workspaces()?,
            workspace_root,
        ));
        let warm = agent.clone();
        tokio::spawn(async move {
            if let Err(e) = warm.inner().start().await {
                tracing::error!(error = %e, "the OpenClaw runner did not start; turns will retry");
            }
        });
        let connections = adapters.connections()?;
        let push: Arc<dyn ClientPush> = adapters.push(connections)?;
        let mut processor = TurnProcessor::new(
            adapters.conversations()?,
            adapters.transcripts()?,
            agent,
            push,
            adapters.leases()?,
            // The execution environment's log stream names the holder in the watchdog's reports.
            LeasePolicy::for_turn_timeout(
                optional("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|| "agent".into()),
                turn_timeout,
            ),
        )
        .with_model_settings(adapters.settings()?, adapters.api_keys()?)
        .with_guest_tools(guest_tools);
        if let Some(replies) = crate::telegram::replies(adapters) {
            processor = processor.with_replies(replies);
        }
        Ok(Self {
            processor,
            cold: AtomicBool::new(true),
        })
    }

    /// Processes the batch; returns the records to deliver again.
    async fn handle(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        let mut response = SqsBatchResponse::default();
        for record in event.payload.records {
            if !self.process(&record).await {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        Ok(response)
    }
}

impl AgentFunction {
    /// Whether the record is done with (answered, skipped or failed with the user told).
    async fn process(&self, record: &SqsMessage) -> bool {
        let turn: Turn = match serde_json::from_str(record.body.as_deref().unwrap_or_default()) {
            Ok(turn) => turn,
            Err(e) => {
                // Nothing to tell anyone: leave it to the dead-letter queue for inspection.
                tracing::error!(error = %e, message = ?record.message_id, "a queued record is not a turn");
                return false;
            }
        };
        let started = Instant::now();
        let cold = self.cold.swap(false, Ordering::SeqCst);
        let outcome = self
            .processor
            .process(&turn, CancellationToken::new())
            .await;
        let mut metrics = Record::new("agent")
            .metric(
                "TurnLatency",
                started.elapsed().as_millis() as f64,
                Unit::Milliseconds,
            )
            .metric("ColdStart", if cold { 1.0 } else { 0.0 }, Unit::Count);
        let done = match &outcome {
            TurnOutcome::Answered(answer) => {
                metrics = metrics
                    .metric("InputTokens", answer.usage.input_tokens as f64, Unit::Count)
                    .metric(
                        "OutputTokens",
                        answer.usage.output_tokens as f64,
                        Unit::Count,
                    )
                    .metric("CostUsd", answer.cost_usd.unwrap_or(0.0), Unit::None)
                    .property("outcome", "answered");
                true
            }
            TurnOutcome::Skipped => {
                metrics = metrics.property("outcome", "skipped");
                true
            }
            TurnOutcome::Failed(code) => {
                metrics = metrics
                    .property("outcome", "failed")
                    .property("errorCode", serde_json::to_value(code).unwrap_or_default());
                true
            }
            TurnOutcome::Busy => {
                metrics = metrics.property("outcome", "busy");
                false
            }
        };
        metrics.emit();
        done
    }
}

async fn read_secrets(adapters: &Adapters) -> Result<Vec<(&'static str, String)>, Error> {
    let ssm = SsmSecrets::new(adapters.sdk());
    let mut vars = Vec::new();
    for (variable, parameter_env) in SECRET_PARAMETERS {
        if let Some(parameter) = optional(parameter_env) {
            let value = ssm.get(&parameter).await.map_err(|e| {
                SettingsError::from(format!(
                    "reading {parameter_env} ({parameter}) from SSM: {e}"
                ))
            })?;
            vars.push((variable, value.expose().to_owned()));
        }
    }
    Ok(vars)
}
