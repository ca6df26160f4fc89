//! SSM secrets on moto server: SecureString parameters are decrypted, read once and then served from
//! memory, a missing parameter is an error naming it, and the value never shows in `Debug` or
//! `Display`.

use aws_sdk_ssm::types::ParameterType;
use serverless_openclaw_aws::SsmApiKeyStore;
use serverless_openclaw_aws::secrets::{SecretError, SsmSecrets};
use serverless_openclaw_core::config::Secret;
use serverless_openclaw_testkit::moto::{Moto, unique_name};

fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&Moto::shared().sdk_config())
}

/// Puts a SecureString parameter and returns its name.
async fn put_secure_string(value: &str) -> String {
    let name = format!("/serverless-openclaw/test/{}", unique_name("secret"));
    ssm()
        .put_parameter()
        .name(&name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    name
}

#[tokio::test]
async fn a_secure_string_is_read_decrypted() {
    let name = put_secure_string("sk-ant-decrypted-value").await;
    let secrets = SsmSecrets::new(&Moto::shared().sdk_config());
    let secret = secrets.get(&name).await.expect("read");
    assert_eq!(secret.expose(), "sk-ant-decrypted-value");
}

#[tokio::test]
async fn a_second_read_is_served_from_memory() {
    let name = put_secure_string("cached-value").await;
    let secrets = SsmSecrets::new(&Moto::shared().sdk_config());
    assert_eq!(
        secrets.get(&name).await.expect("first read").expose(),
        "cached-value"
    );

    // Gone from SSM: only the cache can still answer.
    ssm()
        .delete_parameter()
        .name(&name)
        .send()
        .await
        .expect("delete parameter");
    assert_eq!(
        secrets.get(&name).await.expect("second read").expose(),
        "cached-value"
    );

    // A fresh environment has no cache, so the deletion shows.
    let cold = SsmSecrets::new(&Moto::shared().sdk_config());
    assert!(matches!(
        cold.get(&name).await,
        Err(SecretError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_missing_parameter_is_an_error_naming_it() {
    let name = format!("/serverless-openclaw/test/{}", unique_name("missing"));
    let secrets = SsmSecrets::new(&Moto::shared().sdk_config());
    let err = secrets.get(&name).await.unwrap_err();
    assert!(
        matches!(&err, SecretError::NotFound(n) if *n == name),
        "{err:?}"
    );
    assert!(err.to_string().contains(&name), "{err}");
}

#[tokio::test]
async fn a_failed_read_is_not_cached() {
    let name = format!("/serverless-openclaw/test/{}", unique_name("later"));
    let secrets = SsmSecrets::new(&Moto::shared().sdk_config());
    assert!(secrets.get(&name).await.is_err());

    ssm()
        .put_parameter()
        .name(&name)
        .value("created-later")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    assert_eq!(
        secrets.get(&name).await.expect("read").expose(),
        "created-later"
    );
}

#[tokio::test]
async fn an_unreachable_ssm_is_an_error_naming_the_parameter() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = Moto::shared()
        .sdk_config()
        .into_builder()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    let err = SsmSecrets::new(&config)
        .get("/serverless-openclaw/test/unreachable")
        .await
        .unwrap_err();
    assert!(matches!(err, SecretError::Backend { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("/serverless-openclaw/test/unreachable"),
        "{err}"
    );
}

#[tokio::test]
async fn the_value_never_shows_in_debug_or_display() {
    let name = put_secure_string("hunter2-very-secret").await;
    let secret = SsmSecrets::new(&Moto::shared().sdk_config())
        .get(&name)
        .await
        .expect("read");
    for shown in [
        format!("{secret:?}"),
        format!("{secret:#?}"),
        format!("{secret}"),
        format!("{:?}", Some(&secret)),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
    assert_eq!(secret, Secret::new("hunter2-very-secret"));
}

#[tokio::test]
async fn ssm_api_key_store_honours_the_contract() {
    let path = format!("/serverless-openclaw/{}/users", unique_name("keys"));
    let store = SsmApiKeyStore::new(&Moto::shared().sdk_config(), &path);
    serverless_openclaw_testkit::contract::api_key_store(&store).await;
    // Stored as SecureStrings under the user's folder.
    let stored = ssm()
        .get_parameter()
        .name(format!("{path}/alice/api-keys/anthropic"))
        .send()
        .await
        .expect("the key is a parameter");
    let parameter = stored.parameter.expect("parameter");
    assert_eq!(parameter.r#type, Some(ParameterType::SecureString));
}
