//! [`AgentWaker`] on AWS: an asynchronous Lambda `Invoke` (invocation type `Event`) of the agent
//! function with a [`WakeEvent`], which is not an SQS event, so the agent tells it apart and answers
//! at once (its init phase is what waits for the runner; see `lambdas::agent`).
//!
//! The target must be exactly what the agent's SQS event source invokes (the function, or with
//! SnapStart its alias): Lambda keeps separate execution environments per version, so waking another
//! version would warm an environment no turn ever reaches.
//!
//! Wake-ups are coalesced per execution environment of the caller: after one, the next within
//! `interval` is dropped, so a page reload storm invokes the agent once. The call returns as soon as
//! Lambda has queued the event, and is bounded by [`WAKE_TIMEOUT`] so a slow Lambda API never holds
//! up a connect; the caller awaits it because a Lambda environment is frozen once its handler returns,
//! and a request still in flight then would not leave until the next invocation.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::{Deserialize, Serialize};
use serverless_openclaw_core::ports::{AgentWaker, WakeReason};

/// The longest a wake-up may hold up its caller.
pub const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the agent function receives when it is woken: `{"wake": {"reason": …, "sentAtMs": …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WakeEvent {
    pub wake: Wake,
}

/// The body of a [`WakeEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Wake {
    pub reason: WakeReason,
    /// When the caller sent it (Unix milliseconds), so the agent can log how late it arrived.
    pub sent_at_ms: u64,
}

impl WakeEvent {
    /// A wake-up sent now.
    pub fn now(reason: WakeReason) -> Self {
        let sent_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default();
        Self {
            wake: Wake { reason, sent_at_ms },
        }
    }
}

/// Wakes the agent function through the Lambda Invoke API.
pub struct LambdaAgentWaker {
    client: aws_sdk_lambda::Client,
    /// The function name or ARN, qualified with the alias the event source invokes when there is one.
    function: String,
    interval: Duration,
    /// When the last wake-up was sent. A std mutex: held only to read and set the instant.
    last: Mutex<Option<Instant>>,
}

impl LambdaAgentWaker {
    /// Wakes `function` (a name or ARN, optionally `:alias`) at most once per `interval`.
    pub fn new(config: &SdkConfig, function: impl Into<String>, interval: Duration) -> Self {
        Self {
            client: aws_sdk_lambda::Client::new(config),
            function: function.into(),
            interval,
            last: Mutex::new(None),
        }
    }

    /// Takes the slot for a wake-up now, unless one was sent within `interval`.
    fn claim(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < self.interval) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[async_trait]
impl AgentWaker for LambdaAgentWaker {
    async fn wake(&self, reason: WakeReason) {
        if !self.claim() {
            tracing::debug!(?reason, "the agent was woken moments ago; not again");
            return;
        }
        let payload = match serde_json::to_vec(&WakeEvent::now(reason)) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = %e, "could not encode the wake-up event");
                return;
            }
        };
        let invoke = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send();
        match tokio::time::timeout(WAKE_TIMEOUT, invoke).await {
            Ok(Ok(_)) => tracing::info!(?reason, function = %self.function, "woke the agent"),
            Ok(Err(e)) => tracing::warn!(
                error = %aws_sdk_lambda::Error::from(e),
                function = %self.function,
                "waking the agent failed; its next turn starts it"
            ),
            Err(_) => tracing::warn!(
                function = %self.function,
                "waking the agent took longer than {WAKE_TIMEOUT:?}; gave up"
            ),
        }
    }
}
