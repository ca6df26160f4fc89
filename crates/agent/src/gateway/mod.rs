//! OpenClaw's own gateway as an agent runtime (issue 17): the same pinned package run as
//! `openclaw gateway run` on loopback, spoken to over its WebSocket protocol v4. Shaped for any host
//! (local mode, the Fargate `bridge`): nothing here knows where turns come from.
//!
//! - [`client`]: [`GatewayClient`], one protocol-v4 connection (handshake, requests, events per run).
//! - [`supervisor`]: [`GatewaySupervisor`], the child process (config, token, env, ready, stop, exit).
//! - [`proxy`]: [`LlmProxy`](proxy::LlmProxy), which adds the LLM key on loopback so the gateway never has it.
//! - [`sync`]: [`TranscriptSync`], the Node helper that exports and imports sessions.
//! - [`runtime`]: [`GatewayRuntime`], the [`AgentRuntime`](serverless_openclaw_core::ports::AgentRuntime)
//!   port on top of them.

pub mod client;
pub mod proxy;
pub mod runtime;
pub mod supervisor;
pub mod sync;

pub use client::GatewayClient;
pub use runtime::{GatewayRuntime, GatewaySettings};
pub use supervisor::{Gateway, GatewaySpec, GatewaySupervisor};
pub use sync::TranscriptSync;
