//! Test-only tooling for serverless-openclaw: fakes for what cannot run in a test.
//!
//! Tests run the real OpenClaw agent and the real wire protocols; only the outside services
//! that cannot run here are replaced.
//!
//! - [`fake_llm`]: a local HTTP server speaking the Anthropic Messages and OpenAI chat
//!   completions APIs with deterministic replies, switchable failures and request recording.
//!   The `fake-llm` binary runs it by hand.
//! - [`contract`]: the contract suites of the core ports, run against every adapter twin.
//! - [`moto`]: moto server (AWS on loopback) for the AWS adapters and the Lambda end-to-end tests.

pub mod contract;
pub mod fake_llm;
pub mod moto;
