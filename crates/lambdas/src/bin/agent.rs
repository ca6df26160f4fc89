//! `agent`: see `serverless_openclaw_lambdas::agent`. The container image's bootstrap; it also runs
//! outside a container against any Lambda Runtime API (the tests do).

use serverless_openclaw_lambdas::{Error, agent, serve};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve::<agent::AgentFunction>().await
}
