//! What the server's tests share: stand-ins for the ports a REST or webhook test does not exercise.

#![allow(dead_code)] // Each test binary uses a different part.

use async_trait::async_trait;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::{AgentState, AgentStatus, AgentStatusSource, ClientPush};
use serverless_openclaw_core::protocol::ServerFrame;
use serverless_openclaw_local::TurnHandler;

/// Pushes nowhere.
pub struct NoPush;

#[async_trait]
impl ClientPush for NoPush {
    async fn push(&self, _: &UserId, _: &ServerFrame) {}
}

/// Takes queued turns and runs none.
pub struct NoTurns;

#[async_trait]
impl TurnHandler for NoTurns {
    async fn handle(&self, _: Turn, _: CancellationToken) {}
}

/// An agent that is stopped, with a default model configured.
pub struct Idle;

impl AgentStatusSource for Idle {
    fn status(&self) -> AgentStatus {
        AgentStatus {
            state: AgentState::Stopped,
            openclaw_version: None,
            model: Some("fake/default".into()),
        }
    }
}
