//! A Cognito user pool on moto server, for the JWT verifier's tests and the end-to-end tests: create a
//! pool with an app client, create users, and sign them in to get real ID and access tokens.
//!
//! It speaks Cognito's JSON API directly (a POST with `X-Amz-Target`) rather than through an SDK
//! crate: five operations do not justify compiling `aws-sdk-cognitoidentityprovider`.
//!
//! Facts about moto's Cognito that the verifier's configuration depends on:
//! - tokens carry `iss = https://cognito-idp.<region>.amazonaws.com/<poolId>`, exactly as on AWS;
//! - the JWKS is served at `<endpoint>/<poolId>/.well-known/jwks.json` (on AWS it is under the issuer);
//! - every pool signs with the same static RSA key, `kid = "dummy"`, which moto ships in
//!   `moto/cognitoidp/resources/jwks-private.json`. [`moto_key`] is that key, so tests can
//!   forge tokens (expired, wrong claims) that verify against moto's real JWKS ([`MOTO_JWKS`], for a
//!   verifier given its keys without moto).
//!
//! - TOTP codes are checked (against the one key moto hands out) only because the launcher sets
//!   `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP` ([`crate::moto`]).
//!
//! Helpers panic with a message on failure: they are test set-up, not code under test.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::moto::{Moto, REGION, unique_name};

/// The key id moto puts in the header of every token it issues.
pub const MOTO_KEY_ID: &str = "dummy";

/// moto's Cognito signing key, from a PKCS#1 `RSAPrivateKey` DER.
///
/// moto ships the key as a JWK with `n`, `e` and `d` only; the fixture was derived from it once with
/// Python's `cryptography` (`rsa_recover_prime_factors`, then `private_bytes(DER, TraditionalOpenSSL)`).
pub fn moto_key() -> EncodingKey {
    let der = hex::decode(include_str!("../fixtures/moto-cognito-signing-key.der.hex").trim())
        .expect("the key fixture is hex");
    EncodingKey::from_rsa_der(&der)
}

/// A JWT of `claims` signed with `key`, its header naming `alg` and `kid`: with [`moto_key`], RS256 and
/// [`MOTO_KEY_ID`], a token moto could have issued.
pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

/// The public half of that key as moto serves it: a JWKS with one RS256 key, `kid` [`MOTO_KEY_ID`]
/// (moto's `moto/cognitoidp/resources/jwks-public.json`).
pub const MOTO_JWKS: &str = include_str!("../fixtures/moto-cognito-jwks.json");

/// A user pool with one app client that allows `ADMIN_USER_PASSWORD_AUTH`; more clients on request.
pub struct CognitoPool {
    endpoint: String,
    http: reqwest::Client,
    /// The pool id, `<region>_<hex>`.
    pub pool_id: String,
    /// The app client the pool was created with.
    pub client_id: String,
    /// The `iss` of the pool's tokens.
    pub issuer: String,
}

impl CognitoPool {
    /// Creates a pool (uniquely named) and an app client on `moto`.
    pub async fn create(moto: &Moto) -> CognitoPool {
        Self::create_with(moto, json!({ "PoolName": unique_name("pool") })).await
    }

    /// Creates a pool whose users sign in with their email, like the deployment's (`infra/lib/auth.ts`):
    /// each user's user name is their `sub`, and the email is an attribute. The web client's SRP sign-in
    /// needs this on moto, which names the user by `sub` in the SRP challenge.
    pub async fn create_with_email_sign_in(moto: &Moto) -> CognitoPool {
        Self::create_with(
            moto,
            json!({ "PoolName": unique_name("pool"), "UsernameAttributes": ["email"] }),
        )
        .await
    }

    async fn create_with(moto: &Moto, request: Value) -> CognitoPool {
        let http = reqwest::Client::new();
        let endpoint = moto.endpoint().to_owned();
        let pool = call(&http, &endpoint, "CreateUserPool", request).await;
        let pool_id = string_at(&pool, "/UserPool/Id");
        let mut pool = CognitoPool {
            issuer: format!("https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"),
            endpoint,
            http,
            pool_id,
            client_id: String::new(),
        };
        pool.client_id = pool.add_client().await;
        pool
    }

    /// Creates another app client of this pool (a different audience) and returns its id.
    pub async fn add_client(&self) -> String {
        self.create_client(&["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
            .await
    }

    /// Creates an app client like the deployment's web client (`infra/lib/auth.ts`): SRP sign-in and
    /// refresh tokens only. Returns its id.
    /// Its ID tokens carry the email, as Cognito's do for a client that reads every attribute (moto's
    /// clients read none unless told).
    pub async fn add_web_client(&self) -> String {
        self.create_client_with(json!({
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "ReadAttributes": ["email"],
        }))
        .await
    }

    async fn create_client(&self, auth_flows: &[&str]) -> String {
        self.create_client_with(json!({ "ExplicitAuthFlows": auth_flows }))
            .await
    }

    async fn create_client_with(&self, mut settings: Value) -> String {
        settings["UserPoolId"] = json!(self.pool_id);
        settings["ClientName"] = json!(unique_name("client"));
        let client = self.call("CreateUserPoolClient", settings).await;
        string_at(&client, "/UserPoolClient/ClientId")
    }

    /// Makes TOTP MFA required in this pool: a user without an authenticator enrols one at sign-in
    /// (the `MFA_SETUP` challenge).
    pub async fn require_totp(&self) {
        self.call(
            "SetUserPoolMfaConfig",
            json!({
                "UserPoolId": self.pool_id,
                "SoftwareTokenMfaConfiguration": { "Enabled": true },
                "MfaConfiguration": "ON",
            }),
        )
        .await;
    }

    /// Where moto serves this pool's JWKS.
    pub fn jwks_url(&self) -> String {
        format!("{}/{}/.well-known/jwks.json", self.endpoint, self.pool_id)
    }

    /// Creates a confirmed user with a permanent password; returns the user's `sub`.
    pub async fn create_user(&self, username: &str, password: &str) -> String {
        let user = self
            .call(
                "AdminCreateUser",
                json!({
                    "UserPoolId": self.pool_id,
                    "Username": username,
                    "MessageAction": "SUPPRESS",
                }),
            )
            .await;
        // A permanent password takes the user out of FORCE_CHANGE_PASSWORD, so sign-in yields tokens
        // instead of a NEW_PASSWORD_REQUIRED challenge.
        self.call(
            "AdminSetUserPassword",
            json!({
                "UserPoolId": self.pool_id,
                "Username": username,
                "Password": password,
                "Permanent": true,
            }),
        )
        .await;
        let attributes = user
            .pointer("/User/Attributes")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("AdminCreateUser returned no attributes: {user}"));
        attributes
            .iter()
            .find(|a| a["Name"] == "sub")
            .and_then(|a| a["Value"].as_str())
            .unwrap_or_else(|| panic!("AdminCreateUser returned no sub: {user}"))
            .to_owned()
    }

    /// Creates a user as an invitation does: with a temporary password, so the first sign-in asks for
    /// a new one (`NEW_PASSWORD_REQUIRED`).
    pub async fn invite_user(&self, username: &str, temporary_password: &str) {
        self.call(
            "AdminCreateUser",
            json!({
                "UserPoolId": self.pool_id,
                "Username": username,
                "TemporaryPassword": temporary_password,
                "MessageAction": "SUPPRESS",
            }),
        )
        .await;
    }

    /// Signs `username` in through the pool's own app client and returns the ID token.
    pub async fn id_token(&self, username: &str, password: &str) -> String {
        self.sign_in(&self.client_id, username, password, "IdToken")
            .await
    }

    /// Signs `username` in through the pool's own app client and returns the access token.
    pub async fn access_token(&self, username: &str, password: &str) -> String {
        self.sign_in(&self.client_id, username, password, "AccessToken")
            .await
    }

    /// Signs `username` in through `client_id` (e.g. one from [`CognitoPool::add_client`]) and
    /// returns the token named `which`: `"IdToken"` or `"AccessToken"`.
    pub async fn sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
        which: &str,
    ) -> String {
        let auth = self
            .call(
                "AdminInitiateAuth",
                json!({
                    "UserPoolId": self.pool_id,
                    "ClientId": client_id,
                    "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                    "AuthParameters": { "USERNAME": username, "PASSWORD": password },
                }),
            )
            .await;
        string_at(&auth, &format!("/AuthenticationResult/{which}"))
    }

    async fn call(&self, operation: &str, body: Value) -> Value {
        call(&self.http, &self.endpoint, operation, body).await
    }
}

/// One Cognito JSON API call. The `Authorization` header is not checked by moto; it is there because
/// moto takes the request's region from its credential scope.
async fn call(http: &reqwest::Client, endpoint: &str, operation: &str, body: Value) -> Value {
    let response = http
        .post(endpoint)
        .header(
            "X-Amz-Target",
            format!("AWSCognitoIdentityProviderService.{operation}"),
        )
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/20240101/{REGION}/cognito-idp/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("Cognito {operation}: {e}"));
    let status = response.status();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("Cognito {operation}: reading the response: {e}"));
    assert!(status.is_success(), "Cognito {operation}: {status} {text}");
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("Cognito {operation}: {e} in response {text}"))
}

fn string_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
        .to_owned()
}
