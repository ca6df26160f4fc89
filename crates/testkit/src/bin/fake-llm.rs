//! Runs the fake LLM by hand (for people and benchmarks): prints its base URL on stdout, then
//! serves until interrupted.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use serverless_openclaw_testkit::fake_llm::FakeLlm;

/// A fake LLM speaking the Anthropic Messages (`POST /v1/messages`) and OpenAI chat completions
/// (`POST /v1/chat/completions`) APIs on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "fake-llm")]
struct Args {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Pause between two streamed text deltas, in milliseconds.
    #[arg(long, default_value_t = 15)]
    chunk_delay_ms: u64,
    /// Wait before the first byte of every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let fake = FakeLlm::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port))).await?;
    fake.set_chunk_delay(Duration::from_millis(args.chunk_delay_ms));
    fake.set_delay(Duration::from_millis(args.delay_ms));
    // stdout carries only the URL so scripts can read it; the hints go to stderr.
    println!("{}", fake.base_url());
    eprintln!(
        "anthropic-messages baseUrl: {}\nopenai-completions baseUrl: {}",
        fake.anthropic_base_url(),
        fake.openai_base_url()
    );
    tokio::signal::ctrl_c().await?;
    fake.shutdown().await
}
