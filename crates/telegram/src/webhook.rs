//! Telegram's webhook request: the secret header checked in constant time, the body parsed, the
//! update handled by the [`Bot`]. The HTTP route around it lives in the `server` crate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::bot::Bot;
use crate::update::Update;

/// The shortest time between two reloads of the secret, so forged requests cannot drive up reads.
const RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Where the webhook secret is kept (an SSM parameter on AWS). Registering the webhook again rotates
/// it, so a warm webhook that sees a wrong secret reloads it once before refusing.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The stored secret, read anew; `None` (logged by the source) when it cannot be read.
    async fn reload(&self) -> Option<String>;
}

/// The secret in use and how to reload it.
struct Secret {
    value: String,
    source: Option<Arc<dyn SecretSource>>,
    reloaded: Option<Instant>,
}

/// The header Telegram sends the webhook secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The webhook: the bot and the secret registered with `setWebhook`.
pub struct Webhook {
    pub bot: Bot,
    secret: Mutex<Secret>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Webhook(<secret redacted>)")
    }
}

/// What to answer Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200: handled, skipped as a redelivery, or a kind the bot ignores.
    Done,
    /// 403: the secret header is missing or wrong; nothing was read or written.
    Forbidden,
    /// 400: the body is not an update.
    BadRequest,
    /// 500: storage failed; Telegram delivers the update again.
    Retry,
}

impl Webhook {
    /// A webhook with a fixed secret.
    pub fn new(bot: Bot, secret: impl Into<String>) -> Self {
        Self::build(bot, secret.into(), None)
    }

    /// A webhook whose secret is reloaded from `source` when a request does not match it.
    pub fn with_source(bot: Bot, secret: impl Into<String>, source: Arc<dyn SecretSource>) -> Self {
        Self::build(bot, secret.into(), Some(source))
    }

    fn build(bot: Bot, value: String, source: Option<Arc<dyn SecretSource>>) -> Self {
        Self {
            bot,
            secret: Mutex::new(Secret {
                value,
                source,
                reloaded: None,
            }),
        }
    }

    /// Handles one webhook request. Never waits for the agent: a message is queued as a turn.
    pub async fn handle(&self, secret: Option<&[u8]>, body: &[u8]) -> Answer {
        let Some(given) = secret else {
            tracing::warn!("webhook request without a secret token; refused");
            return Answer::Forbidden;
        };
        if !self.accepts(given).await {
            tracing::warn!("webhook request with a wrong secret token; refused");
            return Answer::Forbidden;
        }
        let update: Update = match serde_json::from_slice(body) {
            Ok(update) => update,
            Err(e) => {
                tracing::warn!(error = %e, "webhook body is not a Telegram update");
                return Answer::BadRequest;
            }
        };
        match self.bot.handle_update(update).await {
            Ok(()) => Answer::Done,
            Err(e) => {
                tracing::error!(error = %e, "webhook update failed; Telegram will retry");
                Answer::Retry
            }
        }
    }
}

impl Webhook {
    async fn accepts(&self, given: &[u8]) -> bool {
        let mut secret = self.secret.lock().await;
        if same_secret(given, secret.value.as_bytes()) {
            return true;
        }
        let due = secret
            .reloaded
            .is_none_or(|at| at.elapsed() >= RELOAD_INTERVAL);
        let Some(source) = secret.source.clone().filter(|_| due) else {
            return false;
        };
        secret.reloaded = Some(Instant::now());
        if let Some(value) = source.reload().await {
            secret.value = value;
        }
        same_secret(given, secret.value.as_bytes())
    }
}

/// Compares two secrets in time independent of where they differ (and of their lengths): both are
/// hashed, and the digests compared without an early exit.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// A random webhook secret: 64 hex characters (Telegram allows 1–256 of `A-Za-z0-9_-`).
pub fn generate_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }

    #[test]
    fn generated_secrets_are_long_random_and_allowed_by_telegram() {
        let (a, b) = (generate_secret().unwrap(), generate_secret().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
