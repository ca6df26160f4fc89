//! SDK clients, built once per execution environment from the standard AWS environment (region,
//! credentials, and `AWS_ENDPOINT_URL`, which tests point at moto server).

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the shared SDK configuration from the environment.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An S3 client; path-style addressing when an endpoint override is set (moto, LocalStack), since
/// virtual-hosted buckets need DNS that a local endpoint does not have.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
