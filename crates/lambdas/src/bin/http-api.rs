//! `http-api`: the REST API behind API Gateway's HTTP API (see `serverless_openclaw_lambdas::http`).

use serverless_openclaw_lambdas::Error;
use serverless_openclaw_lambdas::settings::Adapters;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = serverless_openclaw_lambdas::http::app(&Adapters::load().await)?;
    lambda_http::run(app).await
}
