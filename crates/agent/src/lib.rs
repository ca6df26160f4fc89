//! OpenClaw supervision: runs the real, pinned OpenClaw agent through the Node runner (`runner/`) and
//! implements the core [`AgentRuntime`](serverless_openclaw_core::ports::AgentRuntime) port with it.
//!
//! - [`protocol`]: the JSON lines spoken with the runner (`docs/runner-protocol.md`).
//! - [`runner`]: one long-lived runner process: spawn, wait for `ready`, route lines to turns, detect death.
//! - [`config`]: the deployment's LLM provider and keys, a user's choice, and the OpenClaw config file
//!   (no provider, no secret); every turn's provider and key go to the runner's stdin only.
//! - `attachments`: a turn's images on the `run` line and its files in the workspace.
//! - [`runtime`]: [`OpenClawRuntime`]: per-turn files, deadline, cancel, crash handling, restart, and
//!   the workspaces of turns in flight.
//! - [`sandbox`]: what seals the runner off: its allow-listed environment, a host process its tools
//!   cannot inspect, optionally a bubblewrap namespace (`docs/security.md`).
//! - [`workspace`]: [`SyncedWorkspaceRuntime`]: a user's workspace folder loaded from and saved to a
//!   [`WorkspaceStore`](serverless_openclaw_core::ports::WorkspaceStore) around each turn, for hosts
//!   whose disk does not last (the agent Lambda); the folder is removed after each turn.
//! - [`gateway`]: [`GatewayRuntime`], the same port on OpenClaw's own gateway (`openclaw gateway run`,
//!   protocol v4), with its process supervisor, client and transcript sync.
//! - [`wake`]: [`RunnerWaker`], local mode's [`AgentWaker`](serverless_openclaw_core::ports::AgentWaker):
//!   a wake-up starts the runner (or the gateway) if it is not running.

mod attachments;
pub mod config;
pub mod gateway;
pub mod protocol;
pub mod runner;
pub mod runtime;
pub mod sandbox;
pub mod wake;
pub mod workspace;

pub use config::{
    BrowserSettings, ConfigError, DEFAULT_CONTEXT_WINDOW, DeploymentKeys, LlmApi, ProviderConfig,
};
pub use gateway::{GatewayRuntime, GatewaySettings};
pub use runtime::{OpenClawRuntime, READY_TIMEOUT, RuntimeSettings};
pub use sandbox::{Bubblewrap, Confinement};
pub use wake::RunnerWaker;
pub use workspace::SyncedWorkspaceRuntime;
