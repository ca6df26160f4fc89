//! Authentication: turns a presented credential into the [`UserId`] it belongs to. The user id always
//! comes from here, never from a request payload.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serverless_openclaw_core::ids::UserId;
use sha2::{Digest, Sha256};

/// Verifies a caller.
pub trait Authenticator: Send + Sync {
    /// The user a credential (a bearer token, the WebSocket `?token=`) belongs to, or `None` when it is
    /// missing, wrong or expired.
    fn verify(&self, credential: &str) -> Option<UserId>;

    /// The user making a REST request: by default the `Authorization: Bearer` credential. A gateway
    /// that verified the caller before the request arrived (API Gateway's JWT authorizer) overrides
    /// this to read what it verified.
    fn authenticate(&self, parts: &Parts) -> Option<UserId> {
        bearer(&parts.headers).and_then(|token| self.verify(token))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Failed attempts allowed per [`FAILURE_WINDOW`]; past them every attempt, right or wrong, is refused
/// until the window ends. Local clients all come from loopback, so the limit is the server's, not a
/// client's: during an attack the owner may be refused for up to one window too.
pub const MAX_FAILURES: u32 = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(10);

/// Local mode: one access token, one user; guessing is limited to [`MAX_FAILURES`] per
/// [`FAILURE_WINDOW`] and logged (the count, never what was presented).
pub struct TokenAuthenticator {
    digest: [u8; 32],
    user: UserId,
    failures: Mutex<Failures>,
}

/// The failed attempts of the current window.
struct Failures {
    window_start: Instant,
    count: u32,
}

impl TokenAuthenticator {
    pub fn new(token: &str, user: UserId) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
            user,
            failures: Mutex::new(Failures {
                window_start: Instant::now(),
                count: 0,
            }),
        }
    }

    fn verify_at(&self, credential: &str, now: Instant) -> Option<UserId> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(failures.window_start) >= FAILURE_WINDOW {
            *failures = Failures {
                window_start: now,
                count: 0,
            };
        }
        if failures.count >= MAX_FAILURES {
            return None;
        }
        // Compare digests in constant time so response timing reveals nothing about the token.
        let presented: [u8; 32] = Sha256::digest(credential.as_bytes()).into();
        let diff = presented
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            return Some(self.user.clone());
        }
        failures.count += 1;
        if failures.count == MAX_FAILURES {
            tracing::warn!(
                failures = failures.count,
                window_secs = FAILURE_WINDOW.as_secs(),
                "too many wrong access tokens: every attempt is refused until the window ends"
            );
        }
        None
    }
}

impl Authenticator for TokenAuthenticator {
    fn verify(&self, credential: &str) -> Option<UserId> {
        self.verify_at(credential, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_accepted() {
        let auth = TokenAuthenticator::new("s3cret", UserId::parse("owner").unwrap());
        assert_eq!(auth.verify("s3cret").unwrap().as_str(), "owner");
        for wrong in ["", "s3cre", "s3cret ", "S3CRET"] {
            assert!(auth.verify(wrong).is_none(), "{wrong:?}");
        }
    }

    #[test]
    fn guessing_is_cut_off_for_the_rest_of_the_window() {
        let auth = TokenAuthenticator::new("s3cret", UserId::parse("owner").unwrap());
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            assert!(auth.verify_at("guess", start).is_none());
        }
        assert!(auth.verify_at("s3cret", start).is_some(), "below the limit");
        assert!(auth.verify_at("guess", start).is_none());
        let later = start + FAILURE_WINDOW - Duration::from_millis(1);
        assert!(
            auth.verify_at("s3cret", later).is_none(),
            "past the limit even the right token waits for the window"
        );
        assert!(auth.verify_at("s3cret", start + FAILURE_WINDOW).is_some());
    }
}
