//! Secrets from SSM Parameter Store (SecureString parameters, decrypted on read): the LLM API keys, the
//! Telegram bot token. Each value is read once per execution environment and then served from memory,
//! so a warm Lambda does not call SSM per request.
//!
//! Values travel as `core`'s [`Secret`], whose `Debug` and `Display` print a placeholder: a secret that ends up
//! in a log line, an error or a `{:?}` of a config struct shows nothing. Nothing here logs a value.

use std::collections::HashMap;

use aws_config::SdkConfig;
use serverless_openclaw_core::config::Secret;
use tokio::sync::RwLock;

/// Why a secret could not be read. Names the parameter, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("SSM parameter {0:?} does not exist")]
    NotFound(String),
    #[error("SSM parameter {0:?} has no value")]
    NoValue(String),
    #[error("reading SSM parameter {name:?} failed")]
    Backend {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Reads SecureString parameters and keeps each value for the life of the execution environment.
pub struct SsmSecrets {
    client: aws_sdk_ssm::Client,
    /// Parameter name → value. Two concurrent first reads of one name may both call SSM; the values
    /// are the same, and that only happens while a cold environment warms up.
    cache: RwLock<HashMap<String, Secret>>,
}

impl SsmSecrets {
    /// Secrets read through the SSM endpoint of `config`.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_ssm::Client::new(config),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The value of parameter `name` (decrypted): from memory after the first successful read.
    pub async fn get(&self, name: &str) -> Result<Secret, SecretError> {
        if let Some(secret) = self.cache.read().await.get(name) {
            return Ok(secret.clone());
        }
        self.reload(name).await
    }

    /// Reads parameter `name` from SSM even when it is in memory (it may have been rotated).
    pub async fn reload(&self, name: &str) -> Result<Secret, SecretError> {
        let output = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found())
                {
                    SecretError::NotFound(name.to_owned())
                } else {
                    SecretError::Backend {
                        name: name.to_owned(),
                        source: e.into(),
                    }
                }
            })?;
        let secret = output
            .parameter
            .and_then(|p| p.value)
            .map(Secret::new)
            .ok_or_else(|| SecretError::NoValue(name.to_owned()))?;
        tracing::debug!(parameter = name, "read a secret from SSM");
        self.cache
            .write()
            .await
            .insert(name.to_owned(), secret.clone());
        Ok(secret)
    }

    /// Stores `value` as SecureString parameter `name` (replacing it), encrypted with `aws/ssm`.
    pub async fn put(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        self.client
            .put_parameter()
            .name(name)
            .value(value.expose())
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| SecretError::Backend {
                name: name.to_owned(),
                source: e.into(),
            })?;
        self.cache
            .write()
            .await
            .insert(name.to_owned(), value.clone());
        Ok(())
    }
}
