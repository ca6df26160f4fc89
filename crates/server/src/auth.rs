//! Authentication: turns a presented credential into the [`UserId`] it belongs to. The user id always
//! comes from here, never from a request payload.

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

/// Local mode: one access token, one user.
pub struct TokenAuthenticator {
    digest: [u8; 32],
    user: UserId,
}

impl TokenAuthenticator {
    pub fn new(token: &str, user: UserId) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
            user,
        }
    }
}

impl Authenticator for TokenAuthenticator {
    fn verify(&self, credential: &str) -> Option<UserId> {
        // Compare digests in constant time so response timing reveals nothing about the token.
        let presented: [u8; 32] = Sha256::digest(credential.as_bytes()).into();
        let diff = presented
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (diff == 0).then(|| self.user.clone())
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
}
