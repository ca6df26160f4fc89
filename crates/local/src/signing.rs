//! Signed tokens, local mode's stand-in for S3's presigned URLs: a token names what it grants and
//! until when, signed with HMAC-SHA256 under a key made at start-up (a restart ends every token in
//! flight), and is the only credential of the route it is used on. Upload targets
//! ([`crate::uploads`]) and download links ([`crate::links`]) each sign with a key of their own, so a
//! token of one is never taken by the other.

use hmac::{Hmac, Mac};
use serverless_openclaw_core::ports::PortError;
use sha2::Sha256;
use time::OffsetDateTime;

/// Signs and checks tokens `<claims>.<expiry (unix s)>.<signature (hex)>`.
pub(crate) struct TokenSigner {
    key: [u8; 32],
}

impl TokenSigner {
    /// A signer with a fresh random key.
    pub(crate) fn new() -> Result<Self, PortError> {
        let mut key = [0; 32];
        getrandom::fill(&mut key).map_err(|e| PortError::backend(e.to_string()))?;
        Ok(Self { key })
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; 32 bytes is never refused.
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    /// A token granting `claims` (dot-separated fields, none holding a dot) until `expires_at`.
    pub(crate) fn sign(&self, claims: &str, expires_at: OffsetDateTime) -> String {
        let signed = format!("{claims}.{}", expires_at.unix_timestamp());
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// The claims of `token`, if it was signed here (compared in constant time) and has not expired.
    pub(crate) fn verify<'t>(&self, token: &'t str) -> Option<&'t str> {
        let (signed, signature) = token.rsplit_once('.')?;
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        mac.verify_slice(&hex::decode(signature).ok()?).ok()?;
        let (claims, expires) = signed.rsplit_once('.')?;
        let expires: i64 = expires.parse().ok()?;
        (OffsetDateTime::now_utc().unix_timestamp() < expires).then_some(claims)
    }
}
