//! The admin listener's guard (README "Admin API").
//!
//! - With `server.admin.api_key`: every request but the health checks needs
//!   `Authorization: Bearer <key>`, compared in constant time; failures are counted.
//! - Without one (the listener is then on loopback, or the operator said
//!   `allow_unauthenticated`): refuse what a browser page could send. A `Host` that is not an
//!   IP literal or `localhost` is DNS rebinding (the attacker's name resolved to us); any
//!   `Origin`, or `Sec-Fetch-Site: cross-site`, is a page's request (a form posted to
//!   `/jwks/rotate`, a `fetch`). Operators' tools (curl, scripts, orchestrators) send none of them.

use super::error::ApiError;
use crate::metrics::Metrics;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use domain::config::Secret;
use std::net::IpAddr;

/// What the guard checks, built once from the config.
#[derive(Clone, Debug)]
pub struct AdminGuard {
    api_key: Option<Secret>,
}

/// Why the guard refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No api key, or the wrong one.
    BadApiKey,
    /// A request a browser page made or could have made (rebinding, cross-site).
    BrowserRequest,
}

impl AdminGuard {
    pub fn new(api_key: Option<Secret>) -> Self {
        Self { api_key }
    }

    /// Checks a request's headers.
    pub fn check(&self, path: &str, headers: &header::HeaderMap) -> Result<(), Refusal> {
        match &self.api_key {
            Some(expected) => {
                // Orchestrators probe health without credentials.
                if path.starts_with("/health/") {
                    return Ok(());
                }
                let presented = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().split_once(' '))
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map_or("", |(_, key)| key.trim());
                if same_secret(presented.as_bytes(), expected.expose().as_bytes()) {
                    Ok(())
                } else {
                    Err(Refusal::BadApiKey)
                }
            }
            None => {
                let host_ok = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(is_local_host);
                let cross_site = headers
                    .get("sec-fetch-site")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
                if host_ok && !cross_site && !headers.contains_key(header::ORIGIN) {
                    Ok(())
                } else {
                    Err(Refusal::BrowserRequest)
                }
            }
        }
    }
}

/// Constant-time comparison (aws-lc's), so the key cannot be guessed byte by byte from timings.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(presented, expected).is_ok()
}

/// `localhost` or an IP literal, with an optional port. A name other than `localhost` can only
/// reach a loopback listener through DNS rebinding.
fn is_local_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((v6, port)) if port.is_empty() || port.starts_with(':') => v6,
            _ => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(name, _port)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let refusal = req
        .app_data::<web::Data<AdminGuard>>()
        .map_or(Ok(()), |guard| guard.check(req.path(), req.headers()));
    let error = match refusal {
        Ok(()) => return Ok(next.call(req).await?.map_into_left_body()),
        Err(Refusal::BadApiKey) => {
            if let Some(metrics) = req.app_data::<web::Data<Metrics>>() {
                metrics.admin_auth_failed();
            }
            ApiError::unauthorized()
        }
        Err(Refusal::BrowserRequest) => ApiError::status(StatusCode::FORBIDDEN),
    };
    Ok(req
        .into_response(error.error_response())
        .map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn constant_time_compare() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"abc"));
    }

    #[test]
    fn local_hosts() {
        for good in [
            "localhost",
            "LOCALHOST:8001",
            "127.0.0.1",
            "127.0.0.1:8001",
            "[::1]:8001",
            "[::1]",
            "10.0.0.5:8001",
        ] {
            assert!(is_local_host(good), "{good}");
        }
        for bad in [
            "evil.example",
            "evil.example:8001",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8001",
            "[::1",
            "",
        ] {
            assert!(!is_local_host(bad), "{bad}");
        }
    }

    #[test]
    fn without_a_key_browser_requests_are_refused() {
        let guard = AdminGuard::new(None);
        let ok = guard.check("/users", &headers(&[("host", "127.0.0.1:8001")]));
        assert_eq!(ok, Ok(()));
        for (name, h) in [
            ("rebinding", headers(&[("host", "evil.example:8001")])),
            ("no host", headers(&[])),
            (
                "origin",
                headers(&[("host", "localhost"), ("origin", "https://a.example")]),
            ),
            (
                "cross-site",
                headers(&[("host", "localhost"), ("sec-fetch-site", "cross-site")]),
            ),
        ] {
            assert_eq!(
                guard.check("/users", &h),
                Err(Refusal::BrowserRequest),
                "{name}"
            );
        }
    }
}
