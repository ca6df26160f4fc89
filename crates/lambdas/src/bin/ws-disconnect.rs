//! `ws-disconnect`: see `serverless_openclaw_lambdas::websocket`.

use serverless_openclaw_lambdas::{Error, serve, websocket};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve::<websocket::Disconnect>().await
}
