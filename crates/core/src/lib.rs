//! The heart of serverless-openclaw: what a conversation, a message and a turn are, the wire protocol
//! spoken with clients, the ports (traits) that storage, queues, client push and the agent runtime
//! implement, and the use cases every deployment shares: *submit a message*, *process a turn*, *give
//! up on a turn*, *search my conversations* and *link a Telegram account*.
//!
//! Nothing here knows about AWS, SQLite, HTTP frameworks or Node: adapters live in the `local` and `aws`
//! crates, the OpenClaw runtime in `agent`, and composition in `cli` and `lambdas`.
//!
//! Layout:
//! - [`ids`]: validated identifiers (every id that becomes a key or a path goes through here).
//! - [`domain`]: conversations, messages, turns, token usage.
//! - [`attachments`]: images and files sent with messages: the rules, the check of an upload, the use case.
//! - [`protocol`]: client ⇄ server frames and REST bodies (`docs/protocol.md`).
//! - [`ports`]: the traits adapters implement, each with its contract.
//! - [`config`]: settings from environment variables (one rule and one default each), and [`config::Secret`].
//! - [`settings`]: a user's chosen provider and model, and API keys (secrets).
//! - [`chat`]: the *submit a message* use case.
//! - [`commands`]: the chat commands (`/new`, `/model`, `/think`, ...) both surfaces answer before a turn.
//! - [`turn`]: the *process a turn* and *give up on a turn* use cases.
//! - [`transcript`]: cutting a superseded exchange (edited or regenerated) out of OpenClaw's transcript.
//! - [`search`]: the *search my conversations* use case and the matching rule both storage twins follow.
//! - [`linking`]: linking a Telegram account to its owner (one-time codes, attempts, owner-only unlink).
//! - [`skills`]: the user's skills in their workspace: the upload rules and the use cases.

pub mod attachments;
pub mod chat;
pub mod commands;
pub mod config;
pub mod domain;
pub mod ids;
pub mod linking;
pub mod ports;
pub mod protocol;
pub mod search;
pub mod settings;
pub mod skills;
pub mod transcript;
pub mod turn;

pub use tokio_util::sync::CancellationToken;
