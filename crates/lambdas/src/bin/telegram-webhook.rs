//! `telegram-webhook`: Telegram's webhook behind API Gateway's HTTP API (see
//! `serverless_openclaw_lambdas::telegram`).

use serverless_openclaw_lambdas::Error;
use serverless_openclaw_lambdas::settings::Adapters;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = serverless_openclaw_lambdas::telegram::app(&Adapters::load().await).await?;
    lambda_http::run(app).await
}
