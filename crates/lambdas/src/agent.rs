//! `agent`: the SQS-triggered turn processor (batch size 1, partial batch failures reported), which
//! the gateways also wake ahead of a turn.
//!
//! **Init.** Everything is built and the OpenClaw runner is spawned; init then waits for the runner
//! to be ready and its warm-up turn to be over, but no longer than [`INIT_WAIT`] after the init phase
//! began. Lambda caps an init phase at 10 s (then runs it again inside the first invocation, which
//! would kill the runner and start over), and it freezes an environment between invocations, so a
//! runner still starting or warming up when init ends only progresses while invocations run: the
//! next turn would pay for it. With SnapStart (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`: init
//! runs when a version is published, without the 10 s cap) init waits until the runner is warm and
//! fails if it does not start, so the snapshot holds a warm runner.
//!
//! **Wake-ups** (`{"wake": …}`, sent by `ws-connect` and `telegram-webhook` through
//! `aws::wake::LambdaAgentWaker`). When no environment is idle, the wake-up creates one, and its init
//! (above) warms the runner while the user types. The invocation itself returns at once: an
//! environment busy with an invocation takes no other, so a wake-up that waited would push the very
//! turn it announced into a second, cold environment.
//!
//! **Turns.** A record runs through the core [`TurnProcessor`]: session lease → transcript and
//! workspace from S3 → the warm runner → deltas to the user's connections → transcript back with
//! `If-Match` → assistant message with usage and cost → `message` frame → lease released. A record
//! whose conversation is busy (its lease is held by a delivery still running elsewhere) is reported
//! as a batch item failure, after its visibility was shortened to [`AgentSettings::busy_retry`]: the
//! queue's own visibility timeout is six times the function's timeout (AWS's advice for an SQS event
//! source, whose retries of a throttled invocation need that long), and a lease conflict must not
//! stall the conversation that long. Likewise, once a record's invocation has begun, the record is
//! hidden only until the invocation's deadline plus [`AgentSettings::crash_retry`]: a delivery that
//! dies (a crash, a kill at the timeout) is retried minutes later, not 90. A redelivered turn that
//! was already answered is skipped. Every failed turn is counted as `TurnFailed` by error code (an
//! EMF metric the owner's alarms watch).
//!
//! **SnapStart restore** ([`Function::snapstart`]). Every environment restored from the snapshot
//! starts from the same memory. After a restore the SDK clients are built again (credentials fetched
//! anew, no connection from the snapshot reused), the deployment's API keys are read from SSM again
//! and handed to the runtime, and the lease holder's id is drawn again. The warm runner is kept: it
//! holds no key (each turn brings its key on stdin).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{BoxFuture, LambdaEvent, SnapStartResource};
use serde::{Deserialize, Serialize};
use serverless_openclaw_agent::workspace::SyncedWorkspaceRuntime;
use serverless_openclaw_agent::{
    BrowserSettings, Confinement, DeploymentKeys, OpenClawRuntime, ProviderConfig, READY_TIMEOUT,
    RuntimeSettings,
};
use serverless_openclaw_aws::metrics::{Record, Unit};
use serverless_openclaw_aws::queue::SqsRedelivery;
use serverless_openclaw_aws::secrets::SsmSecrets;
use serverless_openclaw_aws::wake::{Wake, WakeEvent};
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ports::{
    AgentError, AgentState, AgentStatusSource, ClientPush, ToolAccess,
};
use serverless_openclaw_core::turn::{LeasePolicy, TurnOutcome, TurnProcessor};
use serverless_openclaw_speech::HttpSpeechToText;

use crate::settings::{Adapters, SettingsError};
use crate::{Error, Function};
use serverless_openclaw_core::config::{Env, EnvError};

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

/// How long a turn whose conversation is busy waits before its next delivery, unless configured. The
/// CDK app sets it so that the queue's receives before the dead-letter queue outlast a lease.
const DEFAULT_BUSY_RETRY: Duration = Duration::from_secs(180);

/// How long after its invocation's deadline a record comes back if the delivery died, unless
/// configured.
const DEFAULT_CRASH_RETRY: Duration = Duration::from_secs(60);

/// How long after the init phase began init may wait for the runner. Lambda ends an init phase at
/// 10 s; the margin covers what happens before this process runs (the image, the process start).
pub const INIT_WAIT: Duration = Duration::from_secs(8);

/// What the agent is invoked with: a wake-up, or a batch of queued turns from SQS.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AgentEvent {
    Wake(WakeEvent),
    Turns(SqsEvent),
}

/// The answer: the records to deliver again, or, to a wake-up, the runner's state.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AgentResponse {
    Turns(SqsBatchResponse),
    Woken(Woken),
}

/// The answer to a wake-up (Lambda drops it for an asynchronous invocation; tests and logs read it).
#[derive(Debug, Serialize)]
pub struct Woken {
    /// The runner's state when the wake-up arrived.
    pub runner: AgentState,
}

/// The deployment's API keys as read from SSM, compared after a restore. No `Debug`: the values
/// never reach a log.
#[derive(Clone, PartialEq, Eq)]
struct ApiKeys(Vec<(&'static str, String)>);

impl ApiKeys {
    /// A variable's value: the key read from SSM, else the process environment.
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    }

    fn deployment(&self) -> DeploymentKeys {
        DeploymentKeys::from_env(|name| self.get(name))
    }
}

/// The settings read from the environment once.
struct AgentSettings {
    node: PathBuf,
    runner_script: PathBuf,
    state_dir: PathBuf,
    turn_timeout: Duration,
    /// How long a turn whose conversation is busy waits before SQS delivers it again.
    busy_retry: Duration,
    /// How long after its invocation's deadline a record whose delivery died comes back.
    crash_retry: Duration,
    disable_tools: bool,
    /// What users let in by the Telegram allowlist may use of OpenClaw's tools.
    guest_tools: ToolAccess,
    /// Lambda's name for this execution environment; not defined with SnapStart.
    log_stream: Option<String>,
    /// The Chromium the image names (`SERVERLESS_OPENCLAW_CHROMIUM`; nothing is searched for here).
    browser: Option<BrowserSettings>,
}

impl AgentSettings {
    /// The turn deadline ([`Env::turn_timeout`]) must stay below the function timeout (the CDK app
    /// sets 15 minutes).
    fn from_env(env: Env<'_>) -> Result<Self, EnvError> {
        let path = |name: &str, default: &str| {
            PathBuf::from(env.optional(name).unwrap_or_else(|| default.into()))
        };
        Ok(Self {
            node: path("SERVERLESS_OPENCLAW_NODE", "/opt/node/bin/node"),
            runner_script: path("SERVERLESS_OPENCLAW_RUNNER", "/opt/runner/runner.mjs"),
            state_dir: path("SERVERLESS_OPENCLAW_STATE_DIR", "/tmp/openclaw"),
            turn_timeout: env.turn_timeout()?,
            busy_retry: env.seconds(
                "SERVERLESS_OPENCLAW_BUSY_RETRY_SECS",
                DEFAULT_BUSY_RETRY,
                true,
            )?,
            crash_retry: env.seconds(
                "SERVERLESS_OPENCLAW_CRASH_RETRY_SECS",
                DEFAULT_CRASH_RETRY,
                true,
            )?,
            disable_tools: env.disable_tools()?,
            guest_tools: env.guest_tools()?,
            log_stream: env.optional("AWS_LAMBDA_LOG_STREAM_NAME"),
            browser: BrowserSettings::from_env(|name| env.optional(name), || None),
        })
    }

    fn workspace_root(&self) -> PathBuf {
        self.state_dir.join("workspaces")
    }

    /// The OpenClaw runtime with the deployment's `keys`; the runner is not started.
    fn runtime(&self, keys: &ApiKeys) -> Result<Arc<OpenClawRuntime>, Error> {
        let provider = ProviderConfig::from_env(|name| keys.get(name))?;
        Ok(Arc::new(OpenClawRuntime::new(RuntimeSettings {
            node: self.node.clone(),
            runner_script: self.runner_script.clone(),
            state_dir: self.state_dir.clone(),
            workspace_root: self.workspace_root(),
            turn_timeout: self.turn_timeout,
            ready_timeout: READY_TIMEOUT,
            provider,
            disable_tools: self.disable_tools,
            keys: keys.deployment(),
            // The execution environment is the sandbox: Lambda offers no user namespaces. One turn
            // at a time runs here, and the workspace sync leaves no other user's files behind.
            confinement: Confinement::None,
            browser: self.browser.clone(),
        })?))
    }

    /// What turns run through: the turn processor around `runtime` with `keys`, on the SDK clients
    /// of `adapters`.
    fn turns(
        &self,
        adapters: &Adapters,
        runtime: Arc<OpenClawRuntime>,
        keys: ApiKeys,
    ) -> Result<Turns, Error> {
        Ok(Turns {
            processor: self.processor(adapters, Arc::clone(&runtime))?,
            runtime,
            keys,
            redelivery: adapters.redelivery()?,
            busy_retry: self.busy_retry,
            crash_retry: self.crash_retry,
        })
    }

    /// The turn processor around `runtime`, on the SDK clients of `adapters`.
    fn processor(
        &self,
        adapters: &Adapters,
        runtime: Arc<OpenClawRuntime>,
    ) -> Result<TurnProcessor, Error> {
        let agent = Arc::new(SyncedWorkspaceRuntime::new(
            runtime,
            adapters.workspaces()?,
            self.workspace_root(),
        ));
        let push: Arc<dyn ClientPush> = adapters.push(adapters.connections()?)?;
        // The holder's name is what the watchdog reports for a stuck turn: the environment's log
        // stream, or with SnapStart (no log stream name) a fresh id per restored environment.
        let holder = self
            .log_stream
            .clone()
            .unwrap_or_else(|| format!("agent-{}", uuid::Uuid::new_v4().simple()));
        tracing::info!(%holder, "turns take their leases as this holder");
        let mut processor = TurnProcessor::new(
            adapters.conversations()?,
            adapters.transcripts()?,
            agent,
            push,
            adapters.leases()?,
            LeasePolicy::for_turn_timeout(holder, self.turn_timeout),
        )
        .with_model_settings(adapters.settings()?, adapters.api_keys()?)
        .with_guest_tools(self.guest_tools)
        .with_attachments(adapters.attachments()?)
        .with_speech(Arc::new(HttpSpeechToText::new()?));
        if let Some(replies) = crate::telegram::replies(adapters, Some(adapters.attachments()?)) {
            processor = processor.with_replies(replies);
        }
        Ok(processor)
    }
}

/// What turns run through in this execution environment.
struct Turns {
    processor: TurnProcessor,
    runtime: Arc<OpenClawRuntime>,
    /// The keys the runtime has.
    keys: ApiKeys,
    /// Hands a busy conversation's turn back to the queue for a later delivery.
    redelivery: Arc<SqsRedelivery>,
    busy_retry: Duration,
    crash_retry: Duration,
}

/// The function's state, shared with the SnapStart hooks.
struct Shared {
    settings: AgentSettings,
    /// Replaced after a SnapStart restore. A std lock: held only to clone or swap the `Arc`.
    turns: RwLock<Arc<Turns>>,
}

/// The `agent` function.
pub struct AgentFunction {
    shared: Arc<Shared>,
}

impl Function for AgentFunction {
    type Event = AgentEvent;
    type Response = AgentResponse;

    /// Builds everything, starts the runner and waits for it as long as the init phase allows.
    async fn from_env(adapters: &Adapters) -> Result<Self, Error> {
        let settings = AgentSettings::from_env(Env::process())?;
        let keys = read_api_keys(adapters).await?;
        let runtime = settings.runtime(&keys)?;
        let turns = settings.turns(adapters, Arc::clone(&runtime), keys)?;
        let starting = tokio::spawn(start(Arc::clone(&runtime)));
        if Env::process()
            .optional("AWS_LAMBDA_INITIALIZATION_TYPE")
            .as_deref()
            == Some("snap-start")
        {
            let version = starting.await??;
            tracing::info!(%version, "the runner is warm; ready for the snapshot");
        } else {
            let deadline = tokio::time::Instant::from_std(adapters.loaded_at() + INIT_WAIT);
            match tokio::time::timeout_at(deadline, starting).await {
                Ok(Ok(Ok(version))) => tracing::info!(%version, "the runner is warm"),
                // Logged by `start`; turns start it again.
                Ok(Ok(Err(_))) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "starting the runner panicked"),
                Err(_) => tracing::info!(
                    "the runner is still starting or warming up; init ends now, within Lambda's 10 s limit"
                ),
            }
        }
        Ok(Self {
            shared: Arc::new(Shared {
                settings,
                turns: RwLock::new(Arc::new(turns)),
            }),
        })
    }

    async fn handle(&self, event: LambdaEvent<AgentEvent>) -> Result<AgentResponse, Error> {
        let turns = self.shared.current();
        match event.payload {
            AgentEvent::Wake(event) => Ok(AgentResponse::Woken(turns.woken(&event.wake))),
            AgentEvent::Turns(batch) => {
                let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
                let mut undone = Vec::new();
                for record in &batch.records {
                    if !turns.process(record, deadline).await {
                        undone.push(record);
                    }
                }
                Ok(AgentResponse::Turns(crate::redeliver(undone)))
            }
        }
    }

    fn snapstart(&self) -> Option<Arc<dyn SnapStartResource>> {
        Some(self.shared.clone())
    }
}

impl Shared {
    fn current(&self) -> Arc<Turns> {
        Arc::clone(&self.turns.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// After a restore: fresh SDK clients, API keys and lease holder, around the same warm runner.
    async fn restore(&self) -> Result<(), Error> {
        let adapters = Adapters::load().await;
        let keys = read_api_keys(&adapters).await?;
        let current = self.current();
        let runtime = Arc::clone(&current.runtime);
        if keys != current.keys {
            tracing::info!("an API key changed since the snapshot; turns use the new one");
            runtime.set_keys(keys.deployment());
        }
        let turns = self.settings.turns(&adapters, runtime, keys)?;
        *self.turns.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(turns);
        tracing::info!(
            "restored from the snapshot: SDK clients, API keys and lease holder renewed"
        );
        Ok(())
    }
}

impl SnapStartResource for Shared {
    /// Init waited for the runner; one that died since would be dead in every restored environment,
    /// so the snapshot (and the version's publication) fails instead.
    fn before_snapshot(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            match self.current().runtime.status().state {
                AgentState::Ready => Ok(()),
                state => Err(format!("the runner is {state:?}, not ready, at the snapshot").into()),
            }
        })
    }

    fn after_restore(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.restore())
    }
}

impl Turns {
    /// Answers a wake-up at once. A runner that is not running (it died) is started in the background,
    /// to continue during the next invocation.
    fn woken(&self, wake: &Wake) -> Woken {
        let runner = self.runtime.status().state;
        if runner == AgentState::Stopped {
            tokio::spawn(start(Arc::clone(&self.runtime)));
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default();
        tracing::info!(
            reason = ?wake.reason,
            late_ms = now_ms.saturating_sub(wake.sent_at_ms),
            ?runner,
            "woken"
        );
        Woken { runner }
    }

    /// Whether the record is done with (answered, skipped or failed with the user told). `deadline`:
    /// the invocation's.
    async fn process(&self, record: &SqsMessage, deadline: SystemTime) -> bool {
        let turn: Turn = match serde_json::from_str(record.body.as_deref().unwrap_or_default()) {
            Ok(turn) => turn,
            Err(e) => {
                // Nothing to tell anyone: leave it to the dead-letter queue for inspection.
                tracing::error!(error = %e, message = ?record.message_id, "a queued record is not a turn");
                return false;
            }
        };
        let started = Instant::now();
        // Cold: the turn has to wait for the runner (no wake-up or init warmed it in time).
        let cold = self.runtime.status().state != AgentState::Ready;
        let (_, outcome) = tokio::join!(
            self.hide_until(record, deadline + self.crash_retry),
            self.processor.process(&turn, CancellationToken::new()),
        );
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
            TurnOutcome::Compacted => {
                metrics = metrics.property("outcome", "compacted");
                true
            }
            TurnOutcome::Failed(code) => {
                let code = serde_json::to_value(code).unwrap_or_default();
                turn_failed(code.as_str().unwrap_or("unknown")).emit();
                metrics = metrics
                    .property("outcome", "failed")
                    .property("errorCode", code);
                true
            }
            TurnOutcome::Busy => {
                metrics = metrics.property("outcome", "busy");
                self.redeliver_later(record).await;
                false
            }
        };
        metrics.emit();
        done
    }
}

impl Turns {
    /// Shortens the visibility of a record whose conversation is busy to [`Turns::busy_retry`].
    async fn redeliver_later(&self, record: &SqsMessage) {
        self.redeliver_after(record, self.busy_retry).await;
    }

    /// Hides a record being processed until `until` only (the invocation's deadline plus
    /// [`Turns::crash_retry`]) instead of the queue's visibility timeout.
    async fn hide_until(&self, record: &SqsMessage, until: SystemTime) {
        let after = until
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            // SQS counts visibility in whole seconds; never less than the time left.
            + Duration::from_secs(1);
        self.redeliver_after(record, after).await;
    }

    /// Makes `record` visible again `after` from now; if that fails, SQS delivers it again after the
    /// queue's visibility timeout.
    async fn redeliver_after(&self, record: &SqsMessage, after: Duration) {
        let Some(receipt_handle) = record.receipt_handle.as_deref() else {
            return;
        };
        if let Err(e) = self.redelivery.redeliver_after(receipt_handle, after).await {
            tracing::warn!(error = %e, message = ?record.message_id, ?after, "could not change a turn's visibility; it waits for the queue's timeout");
        }
    }
}

/// The `TurnFailed` metric of one failed turn, by its error code: an alarm per code that needs the
/// owner (`llm_error` for an expired key, ...) watches it.
pub fn turn_failed(code: &str) -> Record {
    Record::new("agent")
        .dimension("ErrorCode", code)
        .metric("TurnFailed", 1.0, Unit::Count)
}

/// Starts the runner; a failure is logged here, since the caller may have stopped waiting.
async fn start(runtime: Arc<OpenClawRuntime>) -> Result<String, AgentError> {
    let started = runtime.start_warm().await;
    if let Err(e) = &started {
        tracing::error!(error = %e, "the OpenClaw runner did not start; turns will retry");
    }
    started
}

async fn read_api_keys(adapters: &Adapters) -> Result<ApiKeys, Error> {
    let ssm = SsmSecrets::new(adapters.sdk());
    let mut vars = Vec::new();
    for (variable, parameter_env) in SECRET_PARAMETERS {
        if let Some(parameter) = Env::process().optional(parameter_env) {
            let value = ssm.get(&parameter).await.map_err(|e| {
                SettingsError::from(format!(
                    "reading {parameter_env} ({parameter}) from SSM: {e}"
                ))
            })?;
            vars.push((variable, value.expose().to_owned()));
        }
    }
    Ok(ApiKeys(vars))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<AgentSettings, EnvError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = move |name: &str| map.get(name).cloned();
        AgentSettings::from_env(Env::new(&lookup))
    }

    #[test]
    fn the_agent_follows_the_shared_rules() {
        let defaults = settings(&[]).unwrap();
        assert_eq!(defaults.turn_timeout, Duration::from_secs(600));
        assert!(!defaults.disable_tools);
        assert_eq!(defaults.guest_tools, ToolAccess::Restricted);
        assert_eq!(defaults.busy_retry, DEFAULT_BUSY_RETRY);

        let set = settings(&[
            ("SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS", "90"),
            ("SERVERLESS_OPENCLAW_DISABLE_TOOLS", "true"),
            ("SERVERLESS_OPENCLAW_GUEST_TOOLS", "full"),
            ("SERVERLESS_OPENCLAW_BUSY_RETRY_SECS", "0"),
        ])
        .unwrap();
        assert_eq!(set.turn_timeout, Duration::from_secs(90));
        assert!(set.disable_tools, "`true` turns the tools off, as locally");
        assert_eq!(set.guest_tools, ToolAccess::Full);
        assert_eq!(set.busy_retry, Duration::ZERO);

        for (name, bad) in [
            ("SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS", "0"),
            ("SERVERLESS_OPENCLAW_DISABLE_TOOLS", "sometimes"),
            ("SERVERLESS_OPENCLAW_GUEST_TOOLS", "all"),
            ("SERVERLESS_OPENCLAW_CRASH_RETRY_SECS", "soon"),
        ] {
            let err = settings(&[(name, bad)]).err().expect(name);
            assert_eq!(err.name, name);
        }
    }
}
