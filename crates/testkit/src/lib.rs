//! Test-only tooling for serverless-openclaw: fakes for what cannot run in a test.
//!
//! Tests run the real OpenClaw agent and the real wire protocols; only the outside services
//! that cannot run here are replaced.
//!
//! - [`fake_llm`]: a local HTTP server speaking the Anthropic Messages and OpenAI chat
//!   completions APIs with deterministic replies, scripted tool calls, switchable failures and
//!   request recording (tool results included).
//!   The `fake-llm` binary runs it by hand.
//! - [`fake_speech`]: a local speech-to-text endpoint (OpenAI's `audio/transcriptions`) that records
//!   the audio it gets and answers a scripted transcript or an error.
//! - [`fake_telegram`]: a local Telegram Bot API server (`getUpdates` long polling, webhooks,
//!   sending and editing messages with Telegram's HTML checks) that records calls and injects failures.
//! - [`telegram_html`]: a strict reader of Telegram's HTML parse mode, the renderer's oracle.
//! - [`contract`]: the contract suites of the core ports, run against every adapter twin.
//! - [`moto`]: moto server (AWS on loopback) for the AWS adapters and the Lambda end-to-end tests.
//! - [`fault_proxy`]: a proxy in front of moto that answers chosen operations with AWS's throttling
//!   or server errors, for the fault tests.
//! - [`cognito`]: a Cognito user pool on moto: users, real ID and access tokens, moto's signing key.
//! - [`apigw`]: a recorder standing in for the API Gateway Management API endpoint.
//! - [`lambda_runtime`]: an emulator of the AWS Lambda Runtime API and a launcher for the real
//!   `bootstrap` binaries, so the Lambda functions run outside Docker.
//! - [`lambda_sandbox`]: a Lambda execution environment imitated with bubblewrap: the agent's image
//!   laid out from its manifest, read-only but a capped `/tmp`, Lambda's environment and user, one CPU.
//! - [`lambda_service`]: the Lambda service around one function on top of the Runtime API emulator:
//!   environments started per concurrent invocation and frozen while idle, the 10 s init cap,
//!   SnapStart snapshots and restores, and the Invoke API (synchronous and `Event` invocations,
//!   recorded).
//! - [`images`]: valid PNG files made without an image library (solid colours, noise).
//! - [`measure`]: what the benchmarks and the load suite measure with (percentiles, a process tree's
//!   memory, the load average, a turn's overhead from the fake LLM's timestamps).
//! - [`rest`]: reading the REST API's answers.
//! - [`fixtures`]: event JSON as API Gateway, SQS and EventBridge send it (`fixtures/*.json`), with
//!   fillers that set the fields a test cares about.

pub mod apigw;
pub mod archives;
pub mod cognito;
pub mod contract;
pub mod fake_llm;
pub mod fake_speech;
pub mod fake_telegram;
pub mod fault_proxy;
pub mod fixtures;
pub mod images;
pub mod lambda_runtime;
pub mod lambda_sandbox;
pub mod lambda_service;
pub mod measure;
pub mod moto;
pub mod rest;
pub mod telegram_html;
