//! `telegram-webhook`: Telegram's webhook (`POST /telegram/webhook` on the HTTP API, no authorizer:
//! the secret header is checked by the bot), served by the `server` crate's webhook route through
//! `lambda_http`. A message is stored and queued as a turn for the `agent` function, which streams the
//! reply into the chat; the webhook answers Telegram at once. A command from a user with access wakes
//! the agent function (see `telegram::bot`).
//!
//! Also what the `agent` function needs to reach Telegram: [`replies`].

use std::sync::Arc;

use async_trait::async_trait;
use serverless_openclaw_aws::secrets::{SecretError, SsmSecrets};
use serverless_openclaw_core::attachments::Attachments;
use serverless_openclaw_core::chat::ChatService;
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ports::{
    ChannelReplies, ConnectionStore, ConversationStore, TurnQueue,
};
use serverless_openclaw_core::protocol::ServerFrame;
use serverless_openclaw_core::skills::Skills;
use serverless_openclaw_telegram::api::DEFAULT_BASE_URL;
use serverless_openclaw_telegram::webhook::SecretSource;
use serverless_openclaw_telegram::{Bot, BotApi, TelegramReplies, Webhook, parse_allowlist};
use tokio::sync::{OnceCell, mpsc};

use crate::Error;
use crate::http::OnDemandAgent;
use crate::settings::{Adapters, SettingsError};
use serverless_openclaw_core::config::Env;

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
    let base = Env::process()
        .optional("SERVERLESS_OPENCLAW_TELEGRAM_API_URL")
        .unwrap_or_else(|| DEFAULT_BASE_URL.into());
    Ok(BotApi::new(&base, token.expose()))
}

/// The router with the webhook route and AWS adapters.
pub async fn app(adapters: &Adapters) -> Result<axum::Router, Error> {
    let secrets = Arc::new(SsmSecrets::new(adapters.sdk()));
    let (token_parameter, secret_parameter) = (
        Env::process().required(TOKEN_PARAMETER)?,
        Env::process().required(SECRET_PARAMETER)?,
    );
    let (api, secret) = tokio::join!(
        bot_api(&secrets, &token_parameter),
        secrets.get(&secret_parameter)
    );
    let api = api.map_err(|e| SettingsError::from(format!("reading {TOKEN_PARAMETER}: {e}")))?;
    let secret = secret.map_err(|e| {
        SettingsError::from(format!(
            "reading {SECRET_PARAMETER}: {e} (run `serverless-openclaw telegram set-webhook`)"
        ))
    })?;
    let allowlist = parse_allowlist(
        &Env::process()
            .optional("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST")
            .unwrap_or_default(),
    )
    .map_err(|e| SettingsError::from(format!("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST: {e}")))?;
    let connections: Arc<dyn ConnectionStore> = adapters.connections()?;
    let conversations: Arc<dyn ConversationStore> = adapters.conversations()?;
    let queue: Arc<dyn TurnQueue> = adapters.queue(adapters.leases()?)?;
    let bot = Bot {
        api,
        store: adapters.telegram()?,
        chat: ChatService::new(
            conversations.clone(),
            queue,
            adapters.push(connections)?,
            adapters.settings()?,
            Arc::new(OnDemandAgent::from_env()),
        )
        // Photos and documents are fetched here, where the bot token is, and stored like uploads.
        .with_attachments(adapters.attachments()?)
        .with_skills(Skills::new(adapters.workspaces()?, adapters.settings()?)),
        waker: adapters.waker(),
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

/// Telegram replies for the `agent` function, when the stack names a bot token parameter. The token
/// is read on the first Telegram turn, not at start-up: most turns come from the web, and the parameter
/// is named whether or not a token was stored at deploy.
/// The files the agent attached to a reply are read from `attachments` (if given: a reporter of
/// failed turns has none to send) and sent after its text.
pub fn replies(
    adapters: &Adapters,
    attachments: Option<Attachments>,
) -> Option<Arc<dyn ChannelReplies>> {
    Some(Arc::new(LazyReplies {
        secrets: SsmSecrets::new(adapters.sdk()),
        parameter: Env::process().optional(TOKEN_PARAMETER)?,
        attachments,
        replies: OnceCell::new(),
    }))
}

/// [`TelegramReplies`] built on first use; `None` once it is known that no token is stored.
struct LazyReplies {
    secrets: SsmSecrets,
    parameter: String,
    attachments: Option<Attachments>,
    replies: OnceCell<Option<TelegramReplies>>,
}

#[async_trait]
impl ChannelReplies for LazyReplies {
    async fn deliver(&self, turn: &Turn, frames: mpsc::UnboundedReceiver<ServerFrame>) {
        let replies = self
            .replies
            .get_or_try_init(|| async {
                match bot_api(&self.secrets, &self.parameter).await {
                    Ok(api) => Ok(Some(match &self.attachments {
                        Some(attachments) => {
                            TelegramReplies::new(api).with_attachments(attachments.clone())
                        }
                        None => TelegramReplies::new(api),
                    })),
                    Err(SecretError::NotFound(_)) => {
                        tracing::info!(
                            "no Telegram bot token is stored; replies go to the web only"
                        );
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })
            .await;
        match replies {
            Ok(Some(replies)) => replies.deliver(turn, frames).await,
            Ok(None) => {}
            // Not remembered: the next Telegram turn tries again.
            Err(e) => {
                tracing::error!(error = %e, "reading the Telegram bot token failed; this turn gets no reply in the chat")
            }
        }
    }
}
