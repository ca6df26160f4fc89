//! Configuration from environment variables, read once per execution environment, and the adapters
//! built from it. Each adapter reads only the variables it needs, so a function is configured with
//! exactly what it uses (`docs/configuration.md` lists every variable).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serverless_openclaw_aws::cognito::{CognitoConfig, CognitoVerifier, TokenUse};
use serverless_openclaw_aws::connections::DynamoConnectionStore;
use serverless_openclaw_aws::conversations::DynamoConversationStore;
use serverless_openclaw_aws::leases::DynamoSessionLeases;
use serverless_openclaw_aws::push::ApiGatewayPush;
use serverless_openclaw_aws::queue::{SqsRedelivery, SqsTurnQueue};
use serverless_openclaw_aws::settings::{DynamoSettingsStore, SsmApiKeyStore};
use serverless_openclaw_aws::telegram::DynamoTelegramStore;
use serverless_openclaw_aws::transcripts::S3TranscriptStore;
use serverless_openclaw_aws::wake::LambdaAgentWaker;
use serverless_openclaw_aws::workspaces::S3WorkspaceStore;
use serverless_openclaw_aws::{DynamoS3AttachmentStore, S3PendingUploads};
use serverless_openclaw_core::attachments::{Attachments, DEFAULT_QUOTA_BYTES};
use serverless_openclaw_core::config::{Env, EnvError};
use serverless_openclaw_core::ports::{AgentWaker, ConnectionStore, SessionLeases};

/// A missing or malformed setting.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl From<String> for SettingsError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<EnvError> for SettingsError {
    fn from(e: EnvError) -> Self {
        Self(e.to_string())
    }
}

/// The agent is woken at most once per this long by one execution environment of a gateway: an
/// environment it woke stays warm for minutes, and a reload storm should not start several.
const WAKE_INTERVAL: Duration = Duration::from_secs(60);

/// The SDK configuration and the adapters built on it.
pub struct Adapters {
    sdk: SdkConfig,
    loaded_at: Instant,
}

impl Adapters {
    /// Loads the SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) from the environment.
    pub async fn load() -> Self {
        let loaded_at = Instant::now();
        Self {
            sdk: serverless_openclaw_aws::config::load().await,
            loaded_at,
        }
    }

    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// When loading began: at the start of the init phase, which Lambda caps at 10 seconds.
    pub fn loaded_at(&self) -> Instant {
        self.loaded_at
    }

    /// `SERVERLESS_OPENCLAW_AGENT_FUNCTION`: the agent function to wake ahead of a turn (its name or ARN,
    /// with the alias its SQS event source invokes, if any). Unset: nothing is woken.
    pub fn waker(&self) -> Option<Arc<dyn AgentWaker>> {
        let function = Env::process().optional("SERVERLESS_OPENCLAW_AGENT_FUNCTION")?;
        Some(Arc::new(LambdaAgentWaker::new(
            &self.sdk,
            function,
            WAKE_INTERVAL,
        )))
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// `SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE`.
    pub fn conversations(&self) -> Result<Arc<DynamoConversationStore>, SettingsError> {
        Ok(Arc::new(DynamoConversationStore::new(
            self.dynamodb(),
            Env::process().required("SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE` (the Telegram items share it).
    pub fn telegram(&self) -> Result<Arc<DynamoTelegramStore>, SettingsError> {
        Ok(Arc::new(DynamoTelegramStore::new(
            self.dynamodb(),
            Env::process().required("SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE` (the settings items share it).
    pub fn settings(&self) -> Result<Arc<DynamoSettingsStore>, SettingsError> {
        Ok(Arc::new(DynamoSettingsStore::new(
            self.dynamodb(),
            Env::process().required("SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_USER_KEYS_PATH`: the SSM path users' API keys live under.
    pub fn api_keys(&self) -> Result<Arc<SsmApiKeyStore>, SettingsError> {
        Ok(Arc::new(SsmApiKeyStore::new(
            &self.sdk,
            Env::process().required("SERVERLESS_OPENCLAW_USER_KEYS_PATH")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_CONNECTIONS_TABLE`.
    pub fn connections(&self) -> Result<Arc<DynamoConnectionStore>, SettingsError> {
        Ok(Arc::new(DynamoConnectionStore::new(
            self.dynamodb(),
            Env::process().required("SERVERLESS_OPENCLAW_CONNECTIONS_TABLE")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_LEASES_TABLE`.
    pub fn leases(&self) -> Result<Arc<DynamoSessionLeases>, SettingsError> {
        Ok(Arc::new(DynamoSessionLeases::new(
            self.dynamodb(),
            Env::process().required("SERVERLESS_OPENCLAW_LEASES_TABLE")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_BUCKET`.
    pub fn transcripts(&self) -> Result<Arc<S3TranscriptStore>, SettingsError> {
        Ok(Arc::new(S3TranscriptStore::new(
            serverless_openclaw_aws::config::s3_client(&self.sdk),
            Env::process().required("SERVERLESS_OPENCLAW_BUCKET")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_BUCKET`.
    pub fn workspaces(&self) -> Result<Arc<S3WorkspaceStore>, SettingsError> {
        Ok(Arc::new(S3WorkspaceStore::new(
            serverless_openclaw_aws::config::s3_client(&self.sdk),
            Env::process().required("SERVERLESS_OPENCLAW_BUCKET")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE` (the metadata and usage items share it) and
    /// `SERVERLESS_OPENCLAW_BUCKET` (the bytes, and uploads in flight under `uploads/`); each user may
    /// store the default quota. Download links are presigned by this function's role.
    pub fn attachments(&self) -> Result<Attachments, SettingsError> {
        let store = DynamoS3AttachmentStore::new(
            self.dynamodb(),
            Env::process().required("SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE")?,
            serverless_openclaw_aws::config::s3_client(&self.sdk),
            Env::process().required("SERVERLESS_OPENCLAW_BUCKET")?,
        );
        let uploads = S3PendingUploads::new(
            serverless_openclaw_aws::config::s3_client(&self.sdk),
            Env::process().required("SERVERLESS_OPENCLAW_BUCKET")?,
        );
        let store = Arc::new(store);
        Ok(Attachments::new(store.clone(), DEFAULT_QUOTA_BYTES)
            .with_uploads(Arc::new(uploads))
            .with_links(store))
    }

    /// `SERVERLESS_OPENCLAW_QUEUE_URL`; cancel requests go through `leases`.
    pub fn queue(
        &self,
        leases: Arc<dyn SessionLeases>,
    ) -> Result<Arc<SqsTurnQueue>, SettingsError> {
        Ok(Arc::new(SqsTurnQueue::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            Env::process().required("SERVERLESS_OPENCLAW_QUEUE_URL")?,
            leases,
        )))
    }

    /// `SERVERLESS_OPENCLAW_QUEUE_URL`: redeliveries of the turns the agent received from it.
    pub fn redelivery(&self) -> Result<Arc<SqsRedelivery>, SettingsError> {
        Ok(Arc::new(SqsRedelivery::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            Env::process().required("SERVERLESS_OPENCLAW_QUEUE_URL")?,
        )))
    }

    /// `SERVERLESS_OPENCLAW_WEBSOCKET_ENDPOINT`: the WebSocket stage's Management API endpoint.
    pub fn push(
        &self,
        connections: Arc<dyn ConnectionStore>,
    ) -> Result<Arc<ApiGatewayPush>, SettingsError> {
        Ok(Arc::new(ApiGatewayPush::new(
            &self.sdk,
            &Env::process().required("SERVERLESS_OPENCLAW_WEBSOCKET_ENDPOINT")?,
            connections,
        )))
    }

    /// `SERVERLESS_OPENCLAW_COGNITO_USER_POOL_ID`, `SERVERLESS_OPENCLAW_COGNITO_CLIENT_ID`, and optionally
    /// `SERVERLESS_OPENCLAW_COGNITO_ISSUER` / `SERVERLESS_OPENCLAW_COGNITO_JWKS_URL` (both derived from
    /// the pool and region by default).
    pub fn cognito(&self) -> Result<CognitoVerifier, SettingsError> {
        let issuer = match Env::process().optional("SERVERLESS_OPENCLAW_COGNITO_ISSUER") {
            Some(issuer) => issuer,
            None => {
                let pool = Env::process().required("SERVERLESS_OPENCLAW_COGNITO_USER_POOL_ID")?;
                let region = self
                    .sdk
                    .region()
                    .ok_or_else(|| SettingsError("AWS_REGION is not set".into()))?;
                format!("https://cognito-idp.{region}.amazonaws.com/{pool}")
            }
        };
        CognitoVerifier::new(CognitoConfig {
            issuer,
            client_id: Env::process().required("SERVERLESS_OPENCLAW_COGNITO_CLIENT_ID")?,
            token_use: TokenUse::Id,
            jwks_url: Env::process().optional("SERVERLESS_OPENCLAW_COGNITO_JWKS_URL"),
        })
        .map_err(|e| SettingsError(format!("preparing the Cognito verifier: {e}")))
    }
}
