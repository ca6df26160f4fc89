//! Each user's model settings and API keys: the AWS twins of `local`'s SQLite row and key files.
//!
//! - Settings: one item in the conversations table, `pk = USER#<user>`, `sk = SETTINGS`, attributes
//!   `model`, `speech`, `browser` and `disabledSkills` (each as JSON, set and removed on their own), beside the user's conversation items (whose `sk` starts `CONV#`).
//! - API keys: SSM SecureString parameters `<path>/<user>/api-keys/<provider>` (encrypted with the
//!   AWS-managed `aws/ssm` key), so the web API can write and list them without being able to read
//!   them back (it lists names without decryption), and only the agent decrypts them.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ssm::types::ParameterType;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::{ApiKeyStore, PortError, SettingsStore};
use serverless_openclaw_core::settings::{ApiKey, ModelSettings, Provider, SpeechSettings};

use crate::dynamodb::{corrupt, sdk_failure, string_of};

const PK: &str = "pk";
const SK: &str = "sk";
const SETTINGS_SK: &str = "SETTINGS";
const MODEL: &str = "model";
const SPEECH: &str = "speech";
const BROWSER: &str = "browser";
const DISABLED_SKILLS: &str = "disabledSkills";

/// [`SettingsStore`] on the conversations table.
#[derive(Clone)]
pub struct DynamoSettingsStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoSettingsStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(user: &UserId) -> [(&'static str, AttributeValue); 2] {
        [
            (PK, AttributeValue::S(format!("USER#{user}"))),
            (SK, AttributeValue::S(SETTINGS_SK.into())),
        ]
    }
}

impl DynamoSettingsStore {
    /// The JSON attribute `name` of the user's settings item, parsed; `None` when absent.
    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        user: &UserId,
        name: &'static str,
    ) -> Result<Option<T>, PortError> {
        let [(pk, pk_value), (sk, sk_value)] = Self::key(user);
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(pk, pk_value)
            .key(sk, sk_value)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("GetItem", &self.table, e))?;
        match got.item {
            Some(item) if item.contains_key(name) => serde_json::from_str(string_of(&item, name)?)
                .map(Some)
                .map_err(|_| corrupt(name)),
            _ => Ok(None),
        }
    }

    /// Sets (as JSON) or removes the attribute `name` of the user's settings item, leaving the
    /// others as they are.
    async fn write<T: serde::Serialize>(
        &self,
        user: &UserId,
        name: &'static str,
        value: Option<&T>,
    ) -> Result<(), PortError> {
        let [(pk, pk_value), (sk, sk_value)] = Self::key(user);
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(pk, pk_value)
            .key(sk, sk_value)
            .expression_attribute_names("#attr", name);
        let update = match value {
            Some(value) => update
                .update_expression("SET #attr = :value")
                .expression_attribute_values(
                    ":value",
                    AttributeValue::S(serde_json::to_string(value).map_err(PortError::backend)?),
                ),
            None => update.update_expression("REMOVE #attr"),
        };
        update
            .send()
            .await
            .map_err(|e| sdk_failure("UpdateItem", &self.table, e))?;
        Ok(())
    }
}

#[async_trait]
impl SettingsStore for DynamoSettingsStore {
    async fn model_settings(&self, user: &UserId) -> Result<Option<ModelSettings>, PortError> {
        self.read(user, MODEL).await
    }

    async fn set_model_settings(
        &self,
        user: &UserId,
        settings: Option<&ModelSettings>,
    ) -> Result<(), PortError> {
        self.write(user, MODEL, settings).await
    }

    async fn speech_settings(&self, user: &UserId) -> Result<Option<SpeechSettings>, PortError> {
        self.read(user, SPEECH).await
    }

    async fn set_speech_settings(
        &self,
        user: &UserId,
        settings: Option<&SpeechSettings>,
    ) -> Result<(), PortError> {
        self.write(user, SPEECH, settings).await
    }

    async fn browser_enabled(&self, user: &UserId) -> Result<bool, PortError> {
        Ok(self.read(user, BROWSER).await?.unwrap_or(true))
    }

    async fn set_browser_enabled(&self, user: &UserId, enabled: bool) -> Result<(), PortError> {
        self.write(user, BROWSER, Some(&enabled)).await
    }

    async fn disabled_skills(&self, user: &UserId) -> Result<Vec<String>, PortError> {
        Ok(self.read(user, DISABLED_SKILLS).await?.unwrap_or_default())
    }

    async fn set_disabled_skills(&self, user: &UserId, names: &[String]) -> Result<(), PortError> {
        self.write(user, DISABLED_SKILLS, (!names.is_empty()).then_some(&names))
            .await
    }
}

/// [`ApiKeyStore`] on SSM Parameter Store.
#[derive(Clone)]
pub struct SsmApiKeyStore {
    client: aws_sdk_ssm::Client,
    /// `/serverless-openclaw/<stack>/users`, without a trailing slash.
    path: String,
}

/// An SSM call that failed; names the parameter, never a value.
#[derive(Debug, thiserror::Error)]
#[error("SSM {operation} on {name:?} failed")]
struct SsmError {
    operation: &'static str,
    name: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl SsmApiKeyStore {
    /// Keys under `path` (e.g. `/serverless-openclaw/<stack>/users`).
    pub fn new(config: &SdkConfig, path: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_ssm::Client::new(config),
            path: path.into().trim_end_matches('/').to_owned(),
        }
    }

    fn folder(&self, user: &UserId) -> String {
        format!("{}/{user}/api-keys", self.path)
    }

    fn name(&self, user: &UserId, provider: Provider) -> String {
        format!("{}/{provider}", self.folder(user))
    }
}

fn ssm_failure(
    operation: &'static str,
    name: String,
    e: impl std::error::Error + Send + Sync + 'static,
) -> PortError {
    PortError::backend(SsmError {
        operation,
        name,
        source: Box::new(e),
    })
}

#[async_trait]
impl ApiKeyStore for SsmApiKeyStore {
    async fn put(&self, user: &UserId, provider: Provider, key: &ApiKey) -> Result<(), PortError> {
        let name = self.name(user, provider);
        self.client
            .put_parameter()
            .name(&name)
            .value(key.expose())
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| ssm_failure("PutParameter", name, e))?;
        Ok(())
    }

    async fn get(&self, user: &UserId, provider: Provider) -> Result<Option<ApiKey>, PortError> {
        let name = self.name(user, provider);
        let got = self
            .client
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await;
        match got {
            Ok(out) => out
                .parameter
                .and_then(|p| p.value)
                .map(|v| {
                    ApiKey::parse(&v).map_err(|_| {
                        PortError::backend(format!("SSM parameter {name:?} is corrupt"))
                    })
                })
                .transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(ssm_failure("GetParameter", name, e)),
        }
    }

    async fn delete(&self, user: &UserId, provider: Provider) -> Result<(), PortError> {
        let name = self.name(user, provider);
        match self.client.delete_parameter().name(&name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                Ok(())
            }
            Err(e) => Err(ssm_failure("DeleteParameter", name, e)),
        }
    }

    async fn providers(&self, user: &UserId) -> Result<Vec<Provider>, PortError> {
        let folder = self.folder(user);
        let pages: Vec<_> = self
            .client
            .get_parameters_by_path()
            .path(&folder)
            .recursive(false)
            .with_decryption(false)
            .into_paginator()
            .send()
            .collect()
            .await;
        let mut stored = Vec::new();
        for page in pages {
            let page = page.map_err(|e| ssm_failure("GetParametersByPath", folder.clone(), e))?;
            stored.extend(page.parameters().iter().filter_map(|p| {
                let name = p.name()?;
                Provider::parse(name.strip_prefix(&folder)?.strip_prefix('/')?)
            }));
        }
        Ok(Provider::ALL
            .into_iter()
            .filter(|p| stored.contains(p))
            .collect())
    }
}
