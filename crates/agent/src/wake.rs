//! [`RunnerWaker`]: the [`AgentWaker`] of local mode, where the agent lives in the same process: a
//! wake-up starts the runtime in the background if it is not running (after a crash, say), so the next
//! message finds it warm: the runner, or with `--runtime gateway` the gateway ([`Startable`]). Starting
//! is idempotent (concurrent starts share one), so calls need no coalescing here.

use std::sync::Arc;

use async_trait::async_trait;
use serverless_openclaw_core::ports::{AgentError, AgentWaker, WakeReason};

use crate::{GatewayRuntime, OpenClawRuntime};

/// A runtime that can be started ahead of its first turn.
#[async_trait]
pub trait Startable: Send + Sync + 'static {
    async fn start_now(&self) -> Result<(), AgentError>;
}

#[async_trait]
impl Startable for OpenClawRuntime {
    async fn start_now(&self) -> Result<(), AgentError> {
        self.start().await.map(drop)
    }
}

#[async_trait]
impl Startable for GatewayRuntime {
    async fn start_now(&self) -> Result<(), AgentError> {
        self.start().await
    }
}

/// Starts a local runtime on a wake-up.
pub struct RunnerWaker<R>(pub Arc<R>);

#[async_trait]
impl<R: Startable> AgentWaker for RunnerWaker<R> {
    async fn wake(&self, reason: WakeReason) {
        let runtime = Arc::clone(&self.0);
        // In the background: the caller (a connect, a Telegram update) must not wait for a cold start.
        tokio::spawn(async move {
            if let Err(e) = runtime.start_now().await {
                tracing::error!(error = %e, ?reason, "the agent did not start; the next message will retry");
            }
        });
    }
}
