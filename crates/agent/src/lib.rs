//! OpenClaw supervision: runs the real, pinned OpenClaw agent through the Node runner (`runner/`) and
//! implements the core [`AgentRuntime`](serverless_openclaw_core::ports::AgentRuntime) port with it.
//!
//! - [`protocol`]: the JSON lines spoken with the runner (`docs/runner-protocol.md`).
//! - [`runner`]: one long-lived runner process: spawn, wait for `ready`, route lines to turns, detect death.
//! - [`config`]: the deployment's LLM provider and the OpenClaw config rendered from it (keys by env reference
//!   only); a user's choice as a turn's own provider (their key goes to the runner's stdin only).
//! - [`runtime`]: [`OpenClawRuntime`]: per-turn files, deadline, cancel, crash handling, restart.
//! - [`workspace`]: [`SyncedWorkspaceRuntime`]: a user's workspace folder loaded from and saved to a
//!   [`WorkspaceStore`](serverless_openclaw_core::ports::WorkspaceStore) around each turn, for hosts
//!   whose disk does not last (the agent Lambda).

pub mod config;
pub mod protocol;
pub mod runner;
pub mod runtime;
pub mod workspace;

pub use config::{ConfigError, LlmApi, ProviderConfig, SecretEnv};
pub use runtime::{OpenClawRuntime, RuntimeSettings};
pub use workspace::SyncedWorkspaceRuntime;
