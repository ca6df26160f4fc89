//! `dead-letters`: see `serverless_openclaw_lambdas::dead_letters`.

use serverless_openclaw_lambdas::{Error, dead_letters, serve};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve::<dead_letters::DeadLetters>().await
}
