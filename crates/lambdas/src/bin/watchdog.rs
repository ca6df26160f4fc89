//! `watchdog`: see `serverless_openclaw_lambdas::watchdog`.

use serverless_openclaw_lambdas::{Error, serve, watchdog};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve::<watchdog::Watchdog>().await
}
