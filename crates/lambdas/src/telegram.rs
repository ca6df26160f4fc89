//! `telegram-webhook`: Telegram's webhook (`POST /telegram/webhook` on the HTTP API, no authorizer:
//! the secret header is checked by the bot), served by the `server` crate's webhook route through
//! `lambda_http`. A message is stored and queued as a turn for the `agent` function, which streams the
//! reply into the chat; the webhook answers Telegram at once.
//!
//! Also what the `agent` function needs to reach Telegram: [`replies`].

use std::sync::Arc;

use async_trait::async_trait;
use serverless_openclaw_aws::secrets::{SecretError, SsmSecrets};
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::ports::{
    ChannelReplies, ConnectionStore, ConversationStore, TurnQueue,
};
use serverless_openclaw_telegram::api::DEFAULT_BASE_URL;
use serverless_openclaw_telegram::webhook::SecretSource;
use serverless_openclaw_telegram::{Bot, BotApi, TelegramReplies, Webhook, parse_allowlist};

use crate::Error;
use crate::http::OnDemandAgent;
use crate::settings::{Adapters, SettingsError, optional, required};

const TOKEN_PARAMETER: &str = "SERVERLESS_OPENCLAW_TELEGRAM_TOKEN_PARAMETER";
const SECRET_PARAMETER: &str = "SERVERLESS_OPENCLAW_TELEGRAM_SECRET_PARAMETER";

/// The webhook secret, reloaded from its SSM parameter after `telegram set-webhook` rotated it.
struct SsmSecret {
    secrets: Arc<SsmSecrets>,
    parameter: String,
}

#[async_trait]
impl SecretSource for SsmSecret {
    async fn reload(&self) -> Option<String> {
        match self.secrets.reload(&self.parameter).await {
            Ok(secret) => Some(secret.expose().to_owned()),
            Err(e) => {
                tracing::error!(error = %e, "reloading the webhook secret failed");
                None
            }
        }
    }
}

/// The Bot API client with the token from `SERVERLESS_OPENCLAW_TELEGRAM_TOKEN_PARAMETER` (and
/// `SERVERLESS_OPENCLAW_TELEGRAM_API_URL`, Telegram's by default).
async fn bot_api(secrets: &SsmSecrets, parameter: &str) -> Result<BotApi, SecretError> {
    let token = secrets.get(parameter).await?;
    let base =
        optional("SERVERLESS_OPENCLAW_TELEGRAM_API_URL").unwrap_or_else(|| DEFAULT_BASE_URL.into());
    Ok(BotApi::new(&base, token.expose()))
}

/// The router with the webhook route and AWS adapters.
pub async fn app(adapters: &Adapters) -> Result<axum::Router, Error> {
    let secrets = Arc::new(SsmSecrets::new(adapters.sdk()));
    let token_parameter = required(TOKEN_PARAMETER)?;
    let api = bot_api(&secrets, &token_parameter)
        .await
        .map_err(|e| SettingsError::from(format!("reading {TOKEN_PARAMETER}: {e}")))?;
    let secret_parameter = required(SECRET_PARAMETER)?;
    let secret = secrets.get(&secret_parameter).await.map_err(|e| {
        SettingsError::from(format!(
            "reading {SECRET_PARAMETER}: {e} (run `serverless-openclaw telegram set-webhook`)"
        ))
    })?;
    let allowlist =
        parse_allowlist(&optional("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST").unwrap_or_default())
            .map_err(|e| {
                SettingsError::from(format!("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST: {e}"))
            })?;
    let connections: Arc<dyn ConnectionStore> = adapters.connections()?;
    let conversations: Arc<dyn ConversationStore> = adapters.conversations()?;
    let queue: Arc<dyn TurnQueue> = adapters.queue(adapters.leases()?)?;
    let bot = Bot {
        api,
        store: adapters.telegram()?,
        chat: ChatService::new(conversations.clone(), queue, adapters.push(connections)?),
        conversations,
        agent: Arc::new(OnDemandAgent::from_env()),
        allowlist,
    };
    let source = Arc::new(SsmSecret {
        secrets,
        parameter: secret_parameter,
    });
    Ok(serverless_openclaw_server::telegram_webhook(Arc::new(
        Webhook::with_source(bot, secret.expose(), source),
    )))
}

/// Telegram replies for the `agent` function, when a bot token is stored; `None` otherwise (the
/// parameter is named by the stack whether or not a token was given at deploy).
pub async fn replies(adapters: &Adapters) -> Option<Arc<dyn ChannelReplies>> {
    let parameter = optional(TOKEN_PARAMETER)?;
    match bot_api(&SsmSecrets::new(adapters.sdk()), &parameter).await {
        Ok(api) => Some(Arc::new(TelegramReplies::new(api))),
        Err(SecretError::NotFound(_)) => {
            tracing::info!("no Telegram bot token is stored; replies go to the web only");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the Telegram bot token failed; Telegram turns get no reply in the chat");
            None
        }
    }
}
