//! OpenClaw supervision: runs the real, pinned OpenClaw agent through the Node runner (`runner/`) and
//! implements the core [`AgentRuntime`](serverless_openclaw_core::ports::AgentRuntime) port with it.
//!
//! - [`protocol`]: the JSON lines spoken with the runner (`docs/runner-protocol.md`).
//! - [`runner`]: one long-lived runner process: spawn, wait for `ready`, route lines to turns, detect death.
//! - [`config`]: LLM provider settings and the OpenClaw config rendered from them (keys by env reference only).
//! - [`runtime`]: [`OpenClawRuntime`]: per-turn files, deadline, cancel, crash handling, restart.

pub mod config;
pub mod protocol;
pub mod runner;
pub mod runtime;

pub use config::{ConfigError, LlmApi, ProviderConfig};
pub use runtime::{OpenClawRuntime, RuntimeSettings};
