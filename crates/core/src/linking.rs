//! Linking a Telegram account to its owner: the policy, whichever channel asks.
//!
//! The web app (REST) issues a one-time code; the Telegram user sends it to the bot (`/link CODE`).
//! A code has [`LINK_CODE_DIGITS`] random digits, works once and for [`LINK_CODE_TTL`]; a Telegram
//! user may send [`MAX_LINK_FAILURES`] wrong codes per sliding [`LINK_ATTEMPT_WINDOW`], then `/link`
//! is refused until the window has passed. An owner unlinks only their own link, in one conditional
//! operation of the store, so a relink to someone else in between is never undone by the previous
//! owner. The stores keep the data ([`LinkCodes`], [`TelegramLinks`]); this module decides.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::ids::{ConversationId, UserId};
use crate::ports::{LinkCodes, PortError, TelegramLinks, TelegramUserId};

/// How long a link code works.
pub const LINK_CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// Wrong codes a Telegram user may send per [`LINK_ATTEMPT_WINDOW`] before linking is refused.
pub const MAX_LINK_FAILURES: u32 = 5;
/// The sliding window of [`MAX_LINK_FAILURES`].
pub const LINK_ATTEMPT_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Digits in a link code.
pub const LINK_CODE_DIGITS: usize = 8;
/// Fresh codes tried when one collides with a live code, before giving up.
const CODE_COLLISION_RETRIES: u32 = 5;

/// A one-time code that links a Telegram account to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCode {
    pub code: String,
    pub expires_at: OffsetDateTime,
}

/// The outcome of a Telegram user sending a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Linked to `owner`, with a new current conversation.
    Linked { owner: UserId },
    /// The code is malformed, unknown, used or expired; `attempts_left` more may be tried in the
    /// window.
    Refused { attempts_left: u32 },
    /// Too many wrong codes in the window; the code was not even looked at.
    Blocked,
}

/// The linking use cases, on the stores that keep codes and links.
#[derive(Clone)]
pub struct Linking {
    codes: Arc<dyn LinkCodes>,
    links: Arc<dyn TelegramLinks>,
}

impl Linking {
    pub fn new(codes: Arc<dyn LinkCodes>, links: Arc<dyn TelegramLinks>) -> Self {
        Self { codes, links }
    }

    /// Issues a fresh code for `user`, valid for [`LINK_CODE_TTL`] from `now`.
    pub async fn issue_code(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<LinkCode, PortError> {
        let expires_at = now + LINK_CODE_TTL;
        let mut collisions = 0;
        loop {
            let code = random_digits(LINK_CODE_DIGITS)?;
            match self.codes.put_link_code(&code, user, now, expires_at).await {
                Ok(()) => return Ok(LinkCode { code, expires_at }),
                Err(PortError::Conflict(_)) if collisions < CODE_COLLISION_RETRIES => {
                    collisions += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `telegram_user` sends `code` at `now`: links them to the code's owner, or counts a failure.
    pub async fn redeem(
        &self,
        telegram_user: TelegramUserId,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Redemption, PortError> {
        let failures = self
            .codes
            .link_failures(telegram_user, now, LINK_ATTEMPT_WINDOW)
            .await?;
        if failures >= MAX_LINK_FAILURES {
            return Ok(Redemption::Blocked);
        }
        let well_formed =
            code.len() == LINK_CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit());
        let owner = if well_formed {
            self.codes.take_link_code(code, now).await?
        } else {
            None
        };
        let Some(owner) = owner else {
            let failures = self
                .codes
                .record_link_failure(telegram_user, now, LINK_ATTEMPT_WINDOW)
                .await?;
            return Ok(Redemption::Refused {
                attempts_left: MAX_LINK_FAILURES.saturating_sub(failures),
            });
        };
        self.links.link(telegram_user, &owner).await?;
        self.links
            .set_current_conversation(telegram_user, &ConversationId::generate())
            .await?;
        Ok(Redemption::Linked { owner })
    }

    /// Removes `telegram_user`'s link if it is to `owner`; whether there was one.
    pub async fn unlink(
        &self,
        telegram_user: TelegramUserId,
        owner: &UserId,
    ) -> Result<bool, PortError> {
        self.links.unlink(telegram_user, owner).await
    }

    /// The Telegram users linked to `owner`, in ascending order.
    pub async fn linked_accounts(&self, owner: &UserId) -> Result<Vec<TelegramUserId>, PortError> {
        self.links.linked_telegram_users(owner).await
    }
}

/// `n` random decimal digits, each equally likely.
fn random_digits(n: usize) -> Result<String, PortError> {
    let mut digits = String::with_capacity(n);
    let mut bytes = vec![0u8; n];
    loop {
        getrandom::fill(&mut bytes).map_err(|e| PortError::backend(e.to_string()))?;
        // 250 = 25 * 10: dropping bytes from 250 up keeps every digit equally likely.
        for b in bytes.iter().filter(|b| **b < 250) {
            digits.push(char::from(b'0' + b % 10));
            if digits.len() == n {
                return Ok(digits);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_codes_are_eight_random_digits() {
        let codes: Vec<String> = (0..50)
            .map(|_| random_digits(LINK_CODE_DIGITS).unwrap())
            .collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert!(unique.len() > 45, "{codes:?}");
    }
}
