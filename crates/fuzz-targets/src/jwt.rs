//! A bearer token, as the web client's `Authorization` header or the WebSocket `$connect` query brings
//! it, through the Cognito verifier (`aws::cognito`) with a fixed JWKS (moto's published key: nothing is
//! fetched, no network).
//!
//! Invariants: nothing is fetched; a token is accepted only with the RS256 header and the key's `kid`,
//! and only when its claims meet the verifier's rules as [`claims_hold`] judges them on its own, and
//! then for the user its `sub` names; an algorithm or `kid` is refused only when it is not the right
//! one. The fuzzer cannot sign, so its accepted tokens are the signed seeds (`fuzz/seeds/jwt`); the
//! property tests sign tokens with moto's key and check the verdict against [`claims_hold`] both ways.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use serverless_openclaw_aws::cognito::{
    AuthError, CLOCK_LEEWAY_SECS, CognitoConfig, CognitoVerifier, TokenUse, VerifiedUser,
};
use serverless_openclaw_core::ids::is_valid_id;
use serverless_openclaw_testkit::cognito::{MOTO_JWKS, MOTO_KEY_ID};
use time::OffsetDateTime;
use tokio::runtime::Runtime;

/// The pool and app client the verifier accepts ID tokens of.
pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_fuzz";
pub const CLIENT_ID: &str = "fuzz-client";

/// The claims read as text: absent, `null` or a string, or the token is malformed.
const TEXT_CLAIMS: [&str; 7] = [
    "iss",
    "sub",
    "aud",
    "client_id",
    "token_use",
    "username",
    "cognito:username",
];

/// Built once per process: libFuzzer calls [`run`] millions of times.
static VERIFIER: LazyLock<(Runtime, CognitoVerifier)> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let config = CognitoConfig {
        issuer: ISSUER.into(),
        client_id: CLIENT_ID.into(),
        token_use: TokenUse::Id,
        jwks_url: None,
    };
    let verifier = CognitoVerifier::with_jwks(config, MOTO_JWKS).expect("moto's JWKS");
    (runtime, verifier)
});

/// The verifier's answer for `token`.
pub fn verdict(token: &str) -> Result<VerifiedUser, AuthError> {
    let (runtime, verifier) = &*VERIFIER;
    runtime.block_on(verifier.verify(token))
}

pub fn run(data: &[u8]) {
    // Header values and query strings reach the verifier as `&str`.
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    match verdict(token) {
        Ok(user) => {
            let header = segment(token, 0).expect("an accepted token has a JSON header");
            assert_eq!(header["alg"], "RS256");
            assert_eq!(header["kid"], MOTO_KEY_ID);
            let claims = segment(token, 1).expect("an accepted token has JSON claims");
            assert!(claims_hold(&claims, now()), "accepted: {claims}");
            assert_eq!(claims["sub"], user.user.as_str());
        }
        Err(AuthError::DisallowedAlgorithm(alg)) => assert_ne!(alg, "RS256"),
        Err(AuthError::UnknownKeyId(kid)) => assert_ne!(kid, MOTO_KEY_ID),
        Err(e @ AuthError::Jwks { .. }) => panic!("the verifier fetched keys: {e}"),
        Err(_) => {}
    }
}

/// Whether `claims` meet the rules of `aws::cognito` for an ID token of [`ISSUER`] and [`CLIENT_ID`]
/// at `now` (Unix seconds): the text claims are text, `iss`, `token_use` and `aud` are exactly right,
/// `sub` is a valid id, `exp` a whole number of seconds not past (with the leeway) and representable as
/// a date, and `nbf`, if there, a whole number of seconds not ahead (with the leeway).
pub fn claims_hold(claims: &Value, now: u64) -> bool {
    let Some(fields) = claims.as_object() else {
        return false;
    };
    let is_text = |name: &&str| {
        matches!(
            fields.get(*name),
            None | Some(Value::Null) | Some(Value::String(_))
        )
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    let exp = fields.get("exp").and_then(Value::as_u64);
    let nbf = fields.get("nbf").map(Value::as_u64);
    TEXT_CLAIMS.iter().all(is_text)
        && text("iss") == Some(ISSUER)
        && text("token_use") == Some("id")
        && text("aud") == Some(CLIENT_ID)
        && text("sub").is_some_and(is_valid_id)
        && exp.is_some_and(|exp| {
            exp.saturating_add(CLOCK_LEEWAY_SECS) >= now
                && i64::try_from(exp).is_ok_and(|e| OffsetDateTime::from_unix_timestamp(e).is_ok())
        })
        && nbf.is_none_or(|nbf| nbf.is_some_and(|nbf| nbf <= now.saturating_add(CLOCK_LEEWAY_SECS)))
}

/// The JSON of the token's `index`th dot-separated segment.
fn segment(token: &str, index: usize) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(index)?).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
