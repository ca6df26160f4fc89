//! The Cognito JWT verifier against moto's Cognito: real tokens from `AdminInitiateAuth`, and forged
//! ones signed with moto's own (published, static) signing key, so a forged token differs from a valid
//! one in exactly the claim under test and still verifies against moto's real JWKS. Caching, key
//! rotation and JWKS failures use a small local JWKS server that counts its requests.

use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use serverless_openclaw_aws::cognito::{
    AuthError, CLOCK_LEEWAY_SECS, CognitoConfig, CognitoVerifier, TokenUse,
};
use serverless_openclaw_testkit::cognito::{CognitoPool, MOTO_JWKS, MOTO_KEY_ID, moto_key, sign};
use serverless_openclaw_testkit::moto::{Moto, unique_name};

const PASSWORD: &str = "Corr3ct-horse!";

/// A pool with one user, signed up and ready to sign in.
struct Fixture {
    pool: CognitoPool,
    username: String,
    sub: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let pool = CognitoPool::create(Moto::shared()).await;
        let username = unique_name("alice");
        let sub = pool.create_user(&username, PASSWORD).await;
        Fixture {
            pool,
            username,
            sub,
        }
    }

    fn verifier(&self, token_use: TokenUse) -> CognitoVerifier {
        CognitoVerifier::new(CognitoConfig {
            issuer: self.pool.issuer.clone(),
            client_id: self.pool.client_id.clone(),
            token_use,
            jwks_url: Some(self.pool.jwks_url()),
        })
        .expect("verifier")
    }

    async fn id_token(&self) -> String {
        self.pool.id_token(&self.username, PASSWORD).await
    }

    async fn access_token(&self) -> String {
        self.pool.access_token(&self.username, PASSWORD).await
    }

    /// The claims of a valid ID token of this pool's user (what moto would issue).
    fn id_claims(&self) -> Value {
        let now = now();
        json!({
            "iss": self.pool.issuer,
            "sub": self.sub,
            "aud": self.pool.client_id,
            "token_use": "id",
            "iat": now,
            "auth_time": now,
            "exp": now + 3600,
            "cognito:username": self.username,
        })
    }

    /// The claims of a valid access token of this pool's user.
    fn access_claims(&self) -> Value {
        let now = now();
        json!({
            "iss": self.pool.issuer,
            "sub": self.sub,
            "client_id": self.pool.client_id,
            "token_use": "access",
            "iat": now,
            "exp": now + 3600,
            "username": self.username,
        })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `claims` signed with moto's key, RS256, moto's kid: a token moto could have issued.
fn forge(claims: &Value) -> String {
    sign(Algorithm::RS256, Some(MOTO_KEY_ID), claims, &moto_key())
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().expect("object").remove(name);
    claims
}

#[tokio::test]
async fn a_real_id_token_is_accepted_and_names_the_user_by_sub() {
    let f = Fixture::new().await;
    let user = f
        .verifier(TokenUse::Id)
        .verify(&f.id_token().await)
        .await
        .expect("accepted");
    assert_eq!(user.user.as_str(), f.sub);
    assert_eq!(user.username.as_deref(), Some(f.username.as_str()));
}

#[tokio::test]
async fn a_real_access_token_is_accepted_only_by_an_access_verifier() {
    let f = Fixture::new().await;
    let token = f.access_token().await;
    let user = f
        .verifier(TokenUse::Access)
        .verify(&token)
        .await
        .expect("accepted");
    assert_eq!(user.user.as_str(), f.sub);
    assert_eq!(user.username.as_deref(), Some(f.username.as_str()));

    let err = f.verifier(TokenUse::Id).verify(&token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::WrongTokenUse { expected: TokenUse::Id, found } if found == "access"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_real_id_token_is_refused_by_an_access_verifier() {
    let f = Fixture::new().await;
    let err = f
        .verifier(TokenUse::Access)
        .verify(&f.id_token().await)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::WrongTokenUse { expected: TokenUse::Access, found } if found == "id"),
        "{err:?}"
    );
}

/// The baseline of every forgery below: valid claims signed with moto's key pass, so a forgery that
/// fails differs only in what it changed.
#[tokio::test]
async fn tokens_signed_with_moto_key_and_valid_claims_are_accepted() {
    let f = Fixture::new().await;
    let id = f.verifier(TokenUse::Id);
    assert_eq!(
        id.verify(&forge(&f.id_claims()))
            .await
            .expect("id")
            .user
            .as_str(),
        f.sub
    );
    let access = f.verifier(TokenUse::Access);
    assert_eq!(
        access
            .verify(&forge(&f.access_claims()))
            .await
            .expect("access")
            .user
            .as_str(),
        f.sub
    );
}

#[tokio::test]
async fn a_token_carrying_both_client_claims_is_still_held_to_its_token_use() {
    let f = Fixture::new().await;
    // Both `aud` and `client_id` name the app client, so only `token_use` tells the kinds apart.
    let both = with(f.id_claims(), "client_id", json!(f.pool.client_id));
    let as_access = forge(&with(both.clone(), "token_use", json!("access")));
    let err = f
        .verifier(TokenUse::Id)
        .verify(&as_access)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::WrongTokenUse { .. }), "{err:?}");

    let as_id = forge(&both);
    let err = f
        .verifier(TokenUse::Access)
        .verify(&as_id)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::WrongTokenUse { .. }), "{err:?}");

    let err = f
        .verifier(TokenUse::Id)
        .verify(&forge(&without(f.id_claims(), "token_use")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::MissingClaim("token_use")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_but_one_within_the_leeway_is_accepted() {
    let f = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);
    let now = now();

    let expired = forge(&with(
        f.id_claims(),
        "exp",
        json!(now - CLOCK_LEEWAY_SECS - 60),
    ));
    let err = verifier.verify(&expired).await.unwrap_err();
    assert!(matches!(err, AuthError::Expired), "{err:?}");

    let just_expired = forge(&with(
        f.id_claims(),
        "exp",
        json!(now - CLOCK_LEEWAY_SECS / 2),
    ));
    verifier.verify(&just_expired).await.expect("within leeway");

    let err = verifier
        .verify(&forge(&without(f.id_claims(), "exp")))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::MissingClaim("exp")), "{err:?}");
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused() {
    let f = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);
    let early = forge(&with(
        f.id_claims(),
        "nbf",
        json!(now() + CLOCK_LEEWAY_SECS + 60),
    ));
    let err = verifier.verify(&early).await.unwrap_err();
    assert!(matches!(err, AuthError::NotYetValid), "{err:?}");

    let started = forge(&with(f.id_claims(), "nbf", json!(now() - 10)));
    verifier.verify(&started).await.expect("nbf in the past");
}

#[tokio::test]
async fn a_token_of_another_pool_is_refused_for_its_issuer() {
    let f = Fixture::new().await;
    let other = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);

    // Same moto, same signing key: only the claims tell the pools apart.
    let err = verifier.verify(&other.id_token().await).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::WrongIssuer(iss) if *iss == other.pool.issuer),
        "{err:?}"
    );

    // Everything else right for this pool, the issuer of the other one, or almost this one.
    for iss in [
        other.pool.issuer.clone(),
        format!("{}/", f.pool.issuer),
        f.pool.issuer.replace("https://", "http://"),
        f.pool.issuer.to_uppercase(),
    ] {
        let token = forge(&with(f.id_claims(), "iss", json!(iss)));
        let err = verifier.verify(&token).await.unwrap_err();
        assert!(matches!(err, AuthError::WrongIssuer(_)), "{iss}: {err:?}");
    }
    let err = verifier
        .verify(&forge(&without(f.id_claims(), "iss")))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::MissingClaim("iss")), "{err:?}");
}

#[tokio::test]
async fn an_id_token_for_another_app_client_is_refused() {
    let f = Fixture::new().await;
    let other_client = f.pool.add_client().await;
    let token = f
        .pool
        .sign_in(&other_client, &f.username, PASSWORD, "IdToken")
        .await;
    let err = f.verifier(TokenUse::Id).verify(&token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::WrongAudience(aud) if *aud == other_client),
        "{err:?}"
    );

    let token = forge(&with(f.id_claims(), "aud", json!(other_client)));
    let err = f.verifier(TokenUse::Id).verify(&token).await.unwrap_err();
    assert!(matches!(err, AuthError::WrongAudience(_)), "{err:?}");

    // Cognito's `aud` is one string; a list (even one naming the client) is not a Cognito token.
    let token = forge(&with(f.id_claims(), "aud", json!([f.pool.client_id])));
    let err = f.verifier(TokenUse::Id).verify(&token).await.unwrap_err();
    assert!(matches!(err, AuthError::Malformed(_)), "{err:?}");
    let err = f
        .verifier(TokenUse::Id)
        .verify(&forge(&without(f.id_claims(), "aud")))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::MissingClaim("aud")), "{err:?}");
}

#[tokio::test]
async fn an_access_token_for_another_app_client_is_refused() {
    let f = Fixture::new().await;
    let other_client = f.pool.add_client().await;
    let token = f
        .pool
        .sign_in(&other_client, &f.username, PASSWORD, "AccessToken")
        .await;
    let err = f
        .verifier(TokenUse::Access)
        .verify(&token)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::WrongClient(client) if *client == other_client),
        "{err:?}"
    );

    let err = f
        .verifier(TokenUse::Access)
        .verify(&forge(&without(f.access_claims(), "client_id")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::MissingClaim("client_id")),
        "{err:?}"
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let f = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);
    let payload = b64(&f.id_claims());
    for alg in ["none", "None", "NONE", ""] {
        let header = b64(&json!({ "alg": alg, "kid": MOTO_KEY_ID, "typ": "JWT" }));
        for signature in ["", "AAAA"] {
            let token = format!("{header}.{payload}.{signature}");
            let err = verifier.verify(&token).await.unwrap_err();
            assert!(
                matches!(&err, AuthError::DisallowedAlgorithm(a) if a == alg),
                "{alg:?}: {err:?}"
            );
        }
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let f = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);
    // The confusion attack: HMAC keyed with public material, hoping the verifier feeds its RSA public
    // key to HMAC. Try the forms a verifier might hold: the JWKS document, the modulus, the JWK.
    let jwks = reqwest::get(f.pool.jwks_url())
        .await
        .expect("jwks")
        .bytes()
        .await
        .expect("jwks body");
    let jwk: Value = serde_json::from_slice::<Value>(&jwks).expect("jwks json")["keys"][0].clone();
    let modulus = URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().expect("n"))
        .expect("n is base64url");
    for secret in [jwks.to_vec(), modulus, jwk.to_string().into_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = sign(
                alg,
                Some(MOTO_KEY_ID),
                &f.id_claims(),
                &EncodingKey::from_secret(&secret),
            );
            let err = verifier.verify(&token).await.unwrap_err();
            assert!(
                matches!(&err, AuthError::DisallowedAlgorithm(a) if a.starts_with("HS")),
                "{alg:?}: {err:?}"
            );
        }
    }
}

#[tokio::test]
async fn rsa_algorithms_other_than_rs256_are_refused_even_with_the_right_key() {
    let f = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);
    for alg in [
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS512,
    ] {
        let token = sign(alg, Some(MOTO_KEY_ID), &f.id_claims(), &moto_key());
        let err = verifier.verify(&token).await.unwrap_err();
        assert!(
            matches!(&err, AuthError::DisallowedAlgorithm(a) if *a == format!("{alg:?}")),
            "{alg:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let f = Fixture::new().await;
    let victim = f.pool.create_user(&unique_name("bob"), PASSWORD).await;
    let token = f.id_token().await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("payload")).expect("json");
    claims["sub"] = json!(victim);
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);

    let err = f
        .verifier(TokenUse::Id)
        .verify(&tampered)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadSignature), "{err:?}");

    // Another token's signature does not fit either.
    let other = f.access_token().await;
    let spliced = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        other.rsplit('.').next().expect("signature")
    );
    let err = f.verifier(TokenUse::Id).verify(&spliced).await.unwrap_err();
    assert!(matches!(err, AuthError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn a_token_with_an_unknown_or_no_kid_is_refused() {
    let f = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);
    let token = sign(
        Algorithm::RS256,
        Some("rotated-away"),
        &f.id_claims(),
        &moto_key(),
    );
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::UnknownKeyId(kid) if kid == "rotated-away"),
        "{err:?}"
    );

    let token = sign(Algorithm::RS256, None, &f.id_claims(), &moto_key());
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, AuthError::MissingKeyId), "{err:?}");
}

#[tokio::test]
async fn a_sub_that_is_not_a_valid_user_id_is_refused() {
    let f = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);
    for sub in ["", "../etc", "a/b", "a.b", &"x".repeat(65)] {
        let token = forge(&with(f.id_claims(), "sub", json!(sub)));
        let err = verifier.verify(&token).await.unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidSubject(_)),
            "{sub:?}: {err:?}"
        );
    }
    let err = verifier
        .verify(&forge(&without(f.id_claims(), "sub")))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::MissingClaim("sub")), "{err:?}");
}

#[tokio::test]
async fn garbage_is_refused_as_malformed() {
    let f = Fixture::new().await;
    let verifier = f.verifier(TokenUse::Id);
    let real = f.id_token().await;
    let valid_header = real.split('.').next().expect("header").to_owned();
    for garbage in [
        String::new(),
        "not a token".into(),
        "a.b.c".into(),
        "...".into(),
        "..".into(),
        format!("{real}.extra"),
        format!("{valid_header}.!!!.%%%"),
        format!("{valid_header}.{}", "A".repeat(10_000)),
        format!("{}..", b64(&json!("a string, not an object"))),
        format!("{}..", b64(&json!({ "kid": MOTO_KEY_ID }))),
        "eyJhbGciOiJSUzI1NiJ9".into(),
        "\u{0}\u{1}.\u{ff}.é".into(),
    ] {
        let err = verifier.verify(&garbage).await.unwrap_err();
        assert!(
            matches!(err, AuthError::Malformed(_)),
            "{garbage:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_verifier_given_its_jwks_uses_those_keys_and_fetches_nothing() {
    let config = CognitoConfig {
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_given".into(),
        client_id: "given-client".into(),
        token_use: TokenUse::Id,
        // Refused at once if it were asked (a `Jwks` error): the given keys are all there is.
        jwks_url: Some(format!("http://127.0.0.1:{}/jwks.json", closed_port())),
    };
    let claims = json!({
        "iss": config.issuer, "sub": "given-user", "aud": config.client_id, "token_use": "id",
        "exp": now() + 3600,
    });
    let verifier = CognitoVerifier::with_jwks(config.clone(), MOTO_JWKS).expect("verifier");
    let user = verifier.verify(&forge(&claims)).await.expect("valid");
    assert_eq!(user.user.as_str(), "given-user");
    let token = sign(Algorithm::RS256, Some("rotated-in"), &claims, &moto_key());
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::UnknownKeyId(kid) if kid == "rotated-in"),
        "{err:?}"
    );
    for bad in ["", "{}", r#"{"keys":7}"#] {
        let err = CognitoVerifier::with_jwks(config.clone(), bad)
            .err()
            .expect("refused");
        assert!(matches!(err, AuthError::Jwks { .. }), "{bad:?}: {err:?}");
    }
}

#[tokio::test]
async fn an_unreachable_jwks_endpoint_is_an_error() {
    let f = Fixture::new().await;
    let verifier = CognitoVerifier::new(CognitoConfig {
        issuer: f.pool.issuer.clone(),
        client_id: f.pool.client_id.clone(),
        token_use: TokenUse::Id,
        jwks_url: Some(format!("http://127.0.0.1:{}/jwks.json", closed_port())),
    })
    .expect("verifier");
    let token = f.id_token().await;
    for _ in 0..2 {
        let err = verifier.verify(&token).await.unwrap_err();
        assert!(matches!(err, AuthError::Jwks { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn a_jwks_endpoint_answering_an_error_or_not_json_is_an_error() {
    let f = Fixture::new().await;
    let server = JwksServer::start(&[MOTO_KEY_ID]).await;
    server.fail();
    let err = server
        .verifier(&f)
        .verify(&f.id_token().await)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Jwks { .. }), "{err:?}");

    // moto's dashboard: 200, but HTML.
    let html = CognitoVerifier::new(CognitoConfig {
        jwks_url: Some(format!("{}/moto-api/", Moto::shared().endpoint())),
        ..server.config(&f)
    })
    .expect("verifier");
    let err = html.verify(&f.id_token().await).await.unwrap_err();
    assert!(matches!(err, AuthError::Jwks { .. }), "{err:?}");
}

#[tokio::test]
async fn the_jwks_is_fetched_once_and_then_served_from_memory() {
    let f = Fixture::new().await;
    let server = JwksServer::start(&[MOTO_KEY_ID]).await;
    let verifier = server.verifier(&f);
    assert_eq!(server.fetches(), 0, "nothing is fetched before a token");
    for _ in 0..3 {
        verifier
            .verify(&f.id_token().await)
            .await
            .expect("accepted");
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn a_new_kid_refetches_the_jwks_once_and_then_not_again_for_a_while() {
    let f = Fixture::new().await;
    let server = JwksServer::start(&["old"]).await;
    let verifier = server.verifier(&f);
    let token = |kid: &str| sign(Algorithm::RS256, Some(kid), &f.id_claims(), &moto_key());

    verifier.verify(&token("old")).await.expect("old key");
    assert_eq!(server.fetches(), 1);

    // Cognito rotated: the new key is published, and the first token signed with it is accepted.
    server.publish("new");
    verifier.verify(&token("new")).await.expect("new key");
    assert_eq!(server.fetches(), 2);

    // Another unknown kid within the interval: refused without asking the endpoint.
    server.publish("newer");
    let err = verifier.verify(&token("newer")).await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownKeyId(_)), "{err:?}");
    assert_eq!(server.fetches(), 2);
    verifier
        .verify(&token("old"))
        .await
        .expect("old key still known");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn an_unknown_kid_on_the_first_token_costs_one_fetch_only() {
    let f = Fixture::new().await;
    let server = JwksServer::start(&["known"]).await;
    let verifier = server.verifier(&f);
    let token = sign(
        Algorithm::RS256,
        Some("unknown"),
        &f.id_claims(),
        &moto_key(),
    );
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownKeyId(_)), "{err:?}");
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn a_known_kid_does_not_wait_for_a_refetch_in_flight() {
    let f = Fixture::new().await;
    let server = JwksServer::start(&["old"]).await;
    let verifier = Arc::new(server.verifier(&f));
    let token = |kid: &str| sign(Algorithm::RS256, Some(kid), &f.id_claims(), &moto_key());
    verifier.verify(&token("old")).await.expect("old key");

    server.slow_down();
    server.publish("new");
    let refetch = tokio::spawn({
        let verifier = Arc::clone(&verifier);
        let token = token("new");
        async move { verifier.verify(&token).await }
    });
    while server.fetches() < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let started = std::time::Instant::now();
    verifier.verify(&token("old")).await.expect("old key");
    assert!(
        started.elapsed() < SLOW_JWKS / 3,
        "a cached key waited {:?} for the refetch",
        started.elapsed()
    );
    refetch.await.unwrap().expect("the new key, once fetched");
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_keys_already_known() {
    let f = Fixture::new().await;
    let server = JwksServer::start(&["old"]).await;
    let verifier = server.verifier(&f);
    let token = |kid: &str| sign(Algorithm::RS256, Some(kid), &f.id_claims(), &moto_key());
    verifier.verify(&token("old")).await.expect("old key");

    server.fail();
    let err = verifier.verify(&token("new")).await.unwrap_err();
    assert!(matches!(err, AuthError::Jwks { .. }), "{err:?}");
    assert_eq!(server.fetches(), 2);

    verifier.verify(&token("old")).await.expect("old key kept");
    assert_eq!(server.fetches(), 2);
}

/// A JWKS endpoint under the test's control: it publishes moto's public key under the kids it is told,
/// counts its requests, and can be switched to answer 500.
struct JwksServer {
    url: String,
    state: Arc<JwksState>,
}

struct JwksState {
    keys: Mutex<Vec<Value>>,
    fetches: AtomicUsize,
    failing: AtomicBool,
    /// Answers only after [`SLOW_JWKS`].
    slow: AtomicBool,
}

/// How long a slow JWKS endpoint takes to answer (within the verifier's 5 s timeout).
const SLOW_JWKS: std::time::Duration = std::time::Duration::from_secs(3);

impl JwksServer {
    async fn start(kids: &[&str]) -> JwksServer {
        let state = Arc::new(JwksState {
            keys: Mutex::new(Vec::new()),
            fetches: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
            slow: AtomicBool::new(false),
        });
        let app = axum::Router::new()
            .route("/jwks.json", get(serve_jwks))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let server = JwksServer { url, state };
        for kid in kids {
            server.publish(kid);
        }
        server
    }

    fn fail(&self) {
        self.state.failing.store(true, Ordering::SeqCst);
    }

    fn slow_down(&self) {
        self.state.slow.store(true, Ordering::SeqCst);
    }

    fn publish(&self, kid: &str) {
        let mut jwk = Jwk::from_encoding_key(&moto_key(), Algorithm::RS256).expect("public jwk");
        jwk.common.key_id = Some(kid.to_owned());
        let mut jwk = serde_json::to_value(jwk).expect("jwk json");
        jwk["use"] = json!("sig");
        self.state.keys.lock().expect("keys").push(jwk);
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    fn config(&self, f: &Fixture) -> CognitoConfig {
        CognitoConfig {
            issuer: f.pool.issuer.clone(),
            client_id: f.pool.client_id.clone(),
            token_use: TokenUse::Id,
            jwks_url: Some(self.url.clone()),
        }
    }

    fn verifier(&self, f: &Fixture) -> CognitoVerifier {
        CognitoVerifier::new(self.config(f)).expect("verifier")
    }
}

async fn serve_jwks(State(state): State<Arc<JwksState>>) -> Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    if state.slow.load(Ordering::SeqCst) {
        tokio::time::sleep(SLOW_JWKS).await;
    }
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let keys = state.keys.lock().expect("keys").clone();
    Json(json!({ "keys": keys })).into_response()
}
