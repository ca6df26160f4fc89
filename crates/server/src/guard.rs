//! Local mode's outer edge, in front of every route: which `Host` and `Origin` may reach the server,
//! and the security headers on every answer.
//!
//! The local server listens on the owner's machine, where any web page the owner opens can send it
//! requests. A page on another site that resolves its own name to 127.0.0.1 (DNS rebinding) arrives with
//! its own name in `Host`; a cross-site request or WebSocket carries its site in `Origin`. Both are
//! refused with 403 unless the name is allowed: loopback names, the address the server is bound to, and
//! what the owner adds (`SERVERLESS_OPENCLAW_ALLOWED_HOSTS`). Requests without an `Origin` (curl, a
//! same-origin navigation) pass the origin check; every request must pass the host check.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, HOST, ORIGIN, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serverless_openclaw_core::protocol::ErrorCode;

use crate::rest::ApiError;

/// The page runs only its own scripts and styles, talks only to this server (`'self'` includes its
/// WebSocket), shows images and plays audio only of its own (attachments through their download
/// links, `/downloads/...`; `blob:` for the previews of images picked but not sent yet), and cannot be
/// framed; the same policy CloudFront sends on AWS, minus the AWS endpoints.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   media-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'self'";

/// The host names local mode answers to (lowercase, without port or brackets).
#[derive(Debug, Clone)]
pub struct AllowedHosts(Arc<Vec<String>>);

impl AllowedHosts {
    /// The loopback names plus `extra` (the bound address, the owner's names).
    pub fn new(extra: impl IntoIterator<Item = String>) -> Self {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .map(str::to_owned)
            .chain(extra.into_iter().map(|n| normalize(&n)))
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        names.dedup();
        Self(Arc::new(names))
    }

    /// `host` as [`normalize`] leaves it.
    fn allows(&self, host: &str) -> bool {
        self.0.iter().any(|allowed| allowed == host)
    }
}

/// `[::1]` and `::1`, `LocalHost` and `localhost` are the same name.
fn normalize(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// The host name of a `Host` header value (`name`, `name:port`, `[v6]:port`).
fn host_name(value: &str) -> Option<String> {
    let uri: Uri = format!("http://{value}").parse().ok()?;
    uri.host().map(normalize)
}

fn forbidden(message: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message).into_response()
}

/// The middleware: refuses a foreign `Host` or `Origin`, and adds the security headers.
pub async fn guard(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(host_name);
    if !host.is_some_and(|h| allowed.allows(&h)) {
        tracing::warn!(host = ?request.headers().get(HOST), "refused a request for a foreign Host");
        return forbidden(
            "this server answers only to its own address (set SERVERLESS_OPENCLAW_ALLOWED_HOSTS to add a name)",
        );
    }
    if let Some(origin) = request.headers().get(ORIGIN) {
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.parse::<Uri>().ok())
            .and_then(|u| u.host().map(normalize));
        if !origin_host.is_some_and(|h| allowed.allows(&h)) {
            tracing::warn!(?origin, "refused a request from a foreign Origin");
            return forbidden("requests from other sites are refused");
        }
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_compared_without_port_brackets_or_case() {
        let allowed = AllowedHosts::new(["My-Box.lan".to_owned()]);
        for ok in [
            "127.0.0.1:8787",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8787",
            "my-box.lan:9000",
        ] {
            assert!(host_name(ok).is_some_and(|h| allowed.allows(&h)), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8787",
            "127.0.0.2",
            "localhost.evil.example",
            "",
        ] {
            assert!(
                !host_name(refused).is_some_and(|h| allowed.allows(&h)),
                "{refused}"
            );
        }
    }
}
