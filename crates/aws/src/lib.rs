//! AWS adapters, the twins of the `local` ones: every port of `core` on DynamoDB, S3, SQS FIFO and the
//! API Gateway Management API, plus what only AWS needs (SSM secrets, Cognito JWT verification, metrics
//! as CloudWatch Embedded Metric Format log lines).
//!
//! Layout:
//! - [`config`]: building SDK clients once per execution environment.
//! - [`conversations`]: conversations, messages and dedupe keys in one DynamoDB table
//!   ([`ConversationStore`](serverless_openclaw_core::ports::ConversationStore)).
//! - [`search`]: full-text search over those messages, on a sparse index of the same table
//!   ([`MessageSearch`](serverless_openclaw_core::ports::MessageSearch)), and the backfill of messages
//!   stored before it.
//! - [`connections`]: WebSocket connection → user records in DynamoDB
//!   ([`ConnectionStore`](serverless_openclaw_core::ports::ConnectionStore)).
//! - [`leases`]: session leases with fencing tokens in DynamoDB
//!   ([`SessionLeases`](serverless_openclaw_core::ports::SessionLeases)).
//! - [`settings`]: each user's model settings in the conversations table and API keys as SSM
//!   SecureStrings ([`SettingsStore`](serverless_openclaw_core::ports::SettingsStore),
//!   [`ApiKeyStore`](serverless_openclaw_core::ports::ApiKeyStore)).
//! - [`telegram`]: the Telegram bot's links, link codes and processed updates in the conversations
//!   table ([`TelegramStore`](serverless_openclaw_core::ports::TelegramStore)).
//! - [`attachments`]: attachments' bytes as S3 objects, their metadata and each user's usage in the
//!   conversations table ([`AttachmentStore`](serverless_openclaw_core::ports::AttachmentStore)).
//! - [`uploads`]: uploads in flight, put by the client straight into the bucket with a presigned
//!   request ([`PendingUploads`](serverless_openclaw_core::ports::PendingUploads)).
//! - [`transcripts`]: OpenClaw transcripts as S3 objects, written with ETag conditions
//!   ([`TranscriptStore`](serverless_openclaw_core::ports::TranscriptStore)).
//! - [`workspaces`]: per-user OpenClaw workspace files as S3 objects, written and deleted with ETag
//!   conditions ([`WorkspaceStore`](serverless_openclaw_core::ports::WorkspaceStore)).
//! - `dynamodb`: attribute reading and table creation the DynamoDB adapters share.
//! - `s3`: the conditional S3 object calls and error mapping both stores share.
//! - [`queue`]: the turn queue on SQS FIFO ([`queue::SqsTurnQueue`]).
//! - [`push`]: client push through the API Gateway Management API ([`push::ApiGatewayPush`]).
//! - [`cognito`]: verifying Cognito user-pool JWTs (RS256 only, JWKS cached per execution environment).
//! - [`secrets`]: SSM SecureString parameters, read once and cached, redacted in `Debug`/`Display`.
//! - [`metrics`]: CloudWatch Embedded Metric Format log lines.
//! - [`wake`]: waking the agent function ahead of a turn with an asynchronous Lambda invoke
//!   ([`AgentWaker`](serverless_openclaw_core::ports::AgentWaker)).

pub mod attachments;
pub mod cognito;
pub mod config;
pub mod connections;
pub mod conversations;
mod dynamodb;
pub mod leases;
pub mod metrics;
pub mod push;
pub mod queue;
mod s3;
pub mod search;
pub mod secrets;
pub mod settings;
pub mod telegram;
pub mod transcripts;
pub mod uploads;
pub mod wake;
pub mod workspaces;

pub use attachments::DynamoS3AttachmentStore;
pub use connections::DynamoConnectionStore;
pub use conversations::DynamoConversationStore;
pub use leases::DynamoSessionLeases;
pub use push::ApiGatewayPush;
pub use queue::SqsTurnQueue;
pub use settings::{DynamoSettingsStore, SsmApiKeyStore};
pub use telegram::DynamoTelegramStore;
pub use transcripts::S3TranscriptStore;
pub use uploads::S3PendingUploads;
pub use wake::LambdaAgentWaker;
pub use workspaces::S3WorkspaceStore;
