//! [`RunnerWaker`]: the [`AgentWaker`] of local mode, where the agent lives in the same process: a
//! wake-up starts the runner in the background if it is not running (after a crash, say), so the next
//! message finds it warm. Starting is idempotent (concurrent starts share one), so calls need no
//! coalescing here.

use std::sync::Arc;

use async_trait::async_trait;
use serverless_openclaw_core::ports::{AgentWaker, WakeReason};

use crate::OpenClawRuntime;

/// Starts the local runner on a wake-up.
pub struct RunnerWaker(pub Arc<OpenClawRuntime>);

#[async_trait]
impl AgentWaker for RunnerWaker {
    async fn wake(&self, reason: WakeReason) {
        let runtime = Arc::clone(&self.0);
        // In the background: the caller (a connect, a Telegram update) must not wait for a cold start.
        tokio::spawn(async move {
            if let Err(e) = runtime.start().await {
                tracing::error!(error = %e, ?reason, "the agent did not start; the next message will retry");
            }
        });
    }
}
