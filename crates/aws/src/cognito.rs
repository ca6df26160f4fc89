//! Verifying Cognito user-pool JWTs: the credential the web client and the WebSocket `$connect`
//! present. A token is accepted only if all of these hold, checked in this order:
//!
//! 1. the header's `alg` is exactly `RS256` (before any key is touched: `none`, `HS256` signed with the
//!    public key, and every other algorithm are refused outright);
//! 2. its `kid` is a key of the pool's JWKS;
//! 3. the RS256 signature verifies with that key;
//! 4. `exp` is not past and `nbf` (if present) is not ahead, each with [`CLOCK_LEEWAY_SECS`] of leeway;
//! 5. `iss` equals the configured issuer exactly;
//! 6. `token_use` is the configured one (`id` or `access`);
//! 7. for ID tokens `aud`, for access tokens `client_id`, equals the app client id;
//! 8. `sub` is a valid [`UserId`]; it becomes the user id.
//!
//! The JWKS is fetched on first use and kept for the life of the execution environment. A `kid` it does
//! not hold (Cognito rotated its keys) triggers one refetch, and then no other for
//! [`JWKS_REFETCH_INTERVAL`], so a stream of forged `kid`s cannot turn into a stream of requests. The
//! interval is short, so forged `kid`s that spend the refetch just before a real rotation delay the new
//! key by at most that long. Tokens whose `kid` is cached never wait for a fetch in flight.
//!
//! [`AuthError`] says why a token was refused, for the logs; callers answer every refusal with the
//! same bare 401.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serverless_openclaw_core::ids::{InvalidId, UserId};
use time::OffsetDateTime;
use tokio::sync::Mutex;

/// Clock skew tolerated on `exp` and `nbf`, in seconds: a token is still accepted up to a minute after
/// it expired, and from a minute before it becomes valid. Lambda hosts are NTP-synced, so this only
/// covers the skew between Cognito's clock and ours, not client clocks.
pub const CLOCK_LEEWAY_SECS: u64 = 60;

/// The shortest time between two JWKS refetches caused by an unknown `kid`: at most two JWKS requests
/// a minute per execution environment, however many forged `kid`s arrive, and a key Cognito rotates in
/// is accepted within this long even when forged `kid`s spent the refetch just before.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// How long one JWKS request may take; a verification waiting on it waits at most this long.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// Which of the pool's tokens the verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// ID tokens: `token_use = "id"`, the app client in `aud`.
    Id,
    /// Access tokens: `token_use = "access"`, the app client in `client_id`.
    Access,
}

impl TokenUse {
    fn claim(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }
}

impl fmt::Display for TokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.claim())
    }
}

/// What identifies the user pool and app client whose tokens are accepted.
#[derive(Debug, Clone)]
pub struct CognitoConfig {
    /// `https://cognito-idp.<region>.amazonaws.com/<poolId>`; moto issues the same form.
    pub issuer: String,
    /// The app client id the tokens must be for.
    pub client_id: String,
    /// Which tokens are accepted.
    pub token_use: TokenUse,
    /// Where the JWKS is; `None` means `<issuer>/.well-known/jwks.json` (AWS). moto serves it at
    /// `<endpoint>/<poolId>/.well-known/jwks.json`.
    pub jwks_url: Option<String>,
}

/// The user a verified token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUser {
    /// The token's `sub`.
    pub user: UserId,
    /// The sign-in name: `cognito:username` of an ID token, `username` of an access token.
    pub username: Option<String>,
    /// When the token stops being valid (`exp`): what it authorised ends then too.
    pub expires_at: OffsetDateTime,
}

/// Why a token was refused. For logs only: it never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not RS256")]
    DisallowedAlgorithm(String),
    #[error("the header has no kid")]
    MissingKeyId,
    #[error("kid {0:?} is not in the user pool's JWKS")]
    UnknownKeyId(String),
    #[error("fetching the JWKS from {url} failed")]
    Jwks {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    #[error("iss {0:?} is not the configured issuer")]
    WrongIssuer(String),
    #[error("token_use {found:?} is not {expected}")]
    WrongTokenUse { expected: TokenUse, found: String },
    #[error("aud {0:?} is not the app client")]
    WrongAudience(String),
    #[error("client_id {0:?} is not the app client")]
    WrongClient(String),
    #[error("sub is not a valid user id")]
    InvalidSubject(#[source] InvalidId),
}

/// Verifies one user pool's tokens. Build it once per execution environment and share it: it holds the
/// cached JWKS.
pub struct CognitoVerifier {
    config: CognitoConfig,
    jwks_url: String,
    http: reqwest::Client,
    validation: Validation,
    /// The keys by `kid`, `None` until the first successful fetch. Held only to read or swap the map,
    /// never across a fetch, so a token whose key is known never waits for one.
    keys: std::sync::RwLock<Option<Arc<HashMap<String, DecodingKey>>>>,
    /// Held across a fetch, so concurrent verifications that need one wait for that one request
    /// instead of each sending their own; holds when the last refetch for an unknown `kid` started
    /// (the first fetch does not count).
    fetching: Mutex<Option<Instant>>,
}

impl CognitoVerifier {
    /// A verifier for `config`; fetches nothing until the first token arrives.
    pub fn new(config: CognitoConfig) -> Result<Self, AuthError> {
        let jwks_url = config.jwks_url.clone().unwrap_or_else(|| {
            format!(
                "{}/.well-known/jwks.json",
                config.issuer.trim_end_matches('/')
            )
        });
        let http = reqwest::Client::builder()
            .timeout(JWKS_TIMEOUT)
            .build()
            .map_err(|e| AuthError::Jwks {
                url: jwks_url.clone(),
                source: e.into(),
            })?;
        // The library checks the signature, `exp` and `nbf`; the claims are compared here, below, so
        // each refusal has its own reason and the comparisons are exact (no lists of issuers or
        // audiences).
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = CLOCK_LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Ok(Self {
            config,
            jwks_url,
            http,
            validation,
            keys: std::sync::RwLock::new(None),
            fetching: Mutex::new(None),
        })
    }

    /// The user `token` belongs to, if every rule of this module's documentation holds.
    pub async fn verify(&self, token: &str) -> Result<VerifiedUser, AuthError> {
        let header = Header::parse(token)?;
        if header.alg != "RS256" {
            return Err(AuthError::DisallowedAlgorithm(header.alg));
        }
        let kid = header.kid.ok_or(AuthError::MissingKeyId)?;
        let key = self.key(&kid).await?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| match e.into_kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::MissingRequiredClaim(_) => AuthError::MissingClaim("exp"),
                other => AuthError::Malformed(format!("{other:?}")),
            })?
            .claims;
        self.check(claims)
    }

    fn check(&self, claims: Claims) -> Result<VerifiedUser, AuthError> {
        let iss = claims.iss.ok_or(AuthError::MissingClaim("iss"))?;
        if iss != self.config.issuer {
            return Err(AuthError::WrongIssuer(iss));
        }
        let expected = self.config.token_use;
        let token_use = claims
            .token_use
            .ok_or(AuthError::MissingClaim("token_use"))?;
        if token_use != expected.claim() {
            return Err(AuthError::WrongTokenUse {
                expected,
                found: token_use,
            });
        }
        let username = match expected {
            TokenUse::Id => {
                let aud = claims.aud.ok_or(AuthError::MissingClaim("aud"))?;
                if aud != self.config.client_id {
                    return Err(AuthError::WrongAudience(aud));
                }
                claims.cognito_username
            }
            TokenUse::Access => {
                let client = claims
                    .client_id
                    .ok_or(AuthError::MissingClaim("client_id"))?;
                if client != self.config.client_id {
                    return Err(AuthError::WrongClient(client));
                }
                claims.username
            }
        };
        let sub = claims.sub.ok_or(AuthError::MissingClaim("sub"))?;
        let user = UserId::parse(sub).map_err(AuthError::InvalidSubject)?;
        let exp = claims.exp.ok_or(AuthError::MissingClaim("exp"))?;
        let expires_at = OffsetDateTime::from_unix_timestamp(exp)
            .map_err(|_| AuthError::Malformed("exp is out of range".into()))?;
        Ok(VerifiedUser {
            user,
            username,
            expires_at,
        })
    }

    /// The key `kid` names: from the cache, else from a first fetch, else from a refetch if one is
    /// allowed now.
    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        let unknown = || AuthError::UnknownKeyId(kid.to_owned());
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let mut last_refetch = self.fetching.lock().await;
        // Whoever held the lock before may have fetched what this token needs.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let first = self.read_keys().is_none();
        if !first {
            let now = Instant::now();
            if !may_refetch(*last_refetch, now) {
                return Err(unknown());
            }
            // Counted before the request, so a failing endpoint is not retried on every token either.
            *last_refetch = Some(now);
        }
        // On failure the old keys stay: they are still good for the tokens they signed.
        let keys = Arc::new(self.fetch().await?);
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&keys));
        keys.get(kid).cloned().ok_or_else(unknown)
    }

    fn read_keys(&self) -> Option<Arc<HashMap<String, DecodingKey>>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.read_keys()?.get(kid).cloned()
    }

    /// Fetches the JWKS and keeps its RS256 signing keys, by `kid`.
    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, AuthError> {
        let jwks_error = |e: reqwest::Error| AuthError::Jwks {
            url: self.jwks_url.clone(),
            source: e.into(),
        };
        let jwks: Jwks = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(jwks_error)?
            .json()
            .await
            .map_err(jwks_error)?;
        let keys: HashMap<_, _> = jwks
            .keys
            .into_iter()
            .filter(|k| {
                k.kty == "RSA"
                    && k.alg.as_deref().is_none_or(|a| a == "RS256")
                    && k.key_use.as_deref().is_none_or(|u| u == "sig")
            })
            .filter_map(|k| match DecodingKey::from_rsa_components(&k.n, &k.e) {
                Ok(key) => Some((k.kid, key)),
                Err(e) => {
                    tracing::warn!(kid = %k.kid, error = %e, "skipping an unusable JWKS key");
                    None
                }
            })
            .collect();
        tracing::info!(url = %self.jwks_url, keys = keys.len(), "fetched the Cognito JWKS");
        Ok(keys)
    }
}

/// Whether an unknown `kid` may trigger a refetch now, given when the last such refetch was.
fn may_refetch(last_refetch: Option<Instant>, now: Instant) -> bool {
    last_refetch.is_none_or(|at| now.saturating_duration_since(at) >= JWKS_REFETCH_INTERVAL)
}

/// The JOSE header, read by hand rather than with `jsonwebtoken::decode_header`, which fails on
/// algorithms it does not know (`none`) instead of reporting them.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

impl Header {
    fn parse(token: &str) -> Result<Header, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("not three dot-separated parts".into()));
        };
        let json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|e| AuthError::Malformed(format!("header: {e}")))?;
        serde_json::from_slice(&json).map_err(|e| AuthError::Malformed(format!("header: {e}")))
    }
}

/// The claims this module looks at. All optional, so a missing one is reported by name rather than as
/// a parse error; a claim of the wrong type (an array `aud`, say) fails to parse and is refused.
#[derive(Deserialize)]
struct Claims {
    /// Required and checked by `jsonwebtoken`; optional here so its absence is reported as such.
    exp: Option<i64>,
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<String>,
    client_id: Option<String>,
    token_use: Option<String>,
    username: Option<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: String,
    kty: String,
    alg: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    n: String,
    e: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_unknown_kid_may_refetch() {
        assert!(may_refetch(None, Instant::now()));
    }

    #[test]
    fn another_refetch_waits_for_the_interval() {
        let at = Instant::now();
        assert!(!may_refetch(Some(at), at));
        assert!(!may_refetch(
            Some(at),
            at + JWKS_REFETCH_INTERVAL - Duration::from_secs(1)
        ));
        assert!(may_refetch(Some(at), at + JWKS_REFETCH_INTERVAL));
    }

    #[test]
    fn the_default_jwks_url_is_under_the_issuer() {
        let verifier = CognitoVerifier::new(CognitoConfig {
            issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc".into(),
            client_id: "client".into(),
            token_use: TokenUse::Id,
            jwks_url: None,
        })
        .unwrap();
        assert_eq!(
            verifier.jwks_url,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"
        );
    }
}
