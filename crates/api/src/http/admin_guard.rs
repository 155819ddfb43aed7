//! The admin listener's guard (docs/api.md "Admin API", docs/operations.md "Operator console").
//!
//! - A request a page of another origin sent is refused (403) whatever it carries, api key
//!   included: `Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` other than the
//!   listener's own (`http://` or `https://` and the request's `Host`). The console is
//!   same-origin, so its requests pass; operators' tools (curl, scripts, orchestrators) send
//!   none of these headers. Browsers set them and no page can change them.
//! - With `server.admin.api_key`: every request but the health checks and the console's own
//!   files needs `Authorization: Bearer <key>`, compared in constant time; failures are counted.
//! - Without one (the listener is then on loopback, or the operator said
//!   `allow_unauthenticated`): a `Host` that is not an IP literal or `localhost` is DNS
//!   rebinding (the attacker's name resolved to us), refused too.

use super::error::ApiError;
use crate::metrics::Metrics;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
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

    /// Checks a request's method, path and headers.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        headers: &header::HeaderMap,
    ) -> Result<(), Refusal> {
        // The console's files are public (they are in the repository) and hold no data, so a
        // link from another site may open it; everything else refuses other origins.
        let console_file =
            (method == Method::GET || method == Method::HEAD) && path.starts_with("/console/");
        if !console_file && from_another_origin(headers) {
            return Err(Refusal::BrowserRequest);
        }
        match &self.api_key {
            Some(expected) => {
                // Orchestrators probe health without credentials; the console asks for the key.
                if path.starts_with("/health/") || console_file {
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
                if host_ok {
                    Ok(())
                } else {
                    Err(Refusal::BrowserRequest)
                }
            }
        }
    }
}

/// Whether a browser says a page of another origin sent the request: the site relation it
/// reports, or an `Origin` that is not this listener's as the request names it in `Host`.
fn from_another_origin(headers: &header::HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if site.is_some_and(|s| {
        s.eq_ignore_ascii_case(b"cross-site") || s.eq_ignore_ascii_case(b"same-site")
    }) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).map(|v| v.as_bytes());
    let authority = origin
        .as_bytes()
        .strip_prefix(b"http://")
        .or_else(|| origin.as_bytes().strip_prefix(b"https://"));
    match (authority, host) {
        (Some(authority), Some(host)) => !authority.eq_ignore_ascii_case(host),
        // `Origin: null` (a sandboxed frame, a file), another scheme, no Host.
        _ => true,
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
        .map_or(Ok(()), |guard| {
            guard.check(req.method(), req.path(), req.headers())
        });
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

    fn get(guard: &AdminGuard, path: &str, h: &HeaderMap) -> Result<(), Refusal> {
        guard.check(&Method::GET, path, h)
    }

    #[test]
    fn without_a_key_browser_requests_are_refused() {
        let guard = AdminGuard::new(None);
        let ok = get(&guard, "/users", &headers(&[("host", "127.0.0.1:8001")]));
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
            (
                "rebinding, same-origin to the browser",
                headers(&[
                    ("host", "evil.example:8001"),
                    ("origin", "http://evil.example:8001"),
                    ("sec-fetch-site", "same-origin"),
                ]),
            ),
        ] {
            assert_eq!(
                get(&guard, "/users", &h),
                Err(Refusal::BrowserRequest),
                "{name}"
            );
        }
    }

    #[test]
    fn the_console_s_own_requests_pass_and_other_origins_never() {
        let console = headers(&[
            ("host", "127.0.0.1:8001"),
            ("origin", "http://127.0.0.1:8001"),
            ("sec-fetch-site", "same-origin"),
            ("authorization", "Bearer 0123456789abcdef0123456789abcdef"),
        ]);
        let keyed = AdminGuard::new(Some(Secret::new(
            "0123456789abcdef0123456789abcdef".to_owned(),
        )));
        for guard in [AdminGuard::new(None), keyed.clone()] {
            assert_eq!(guard.check(&Method::POST, "/jwks/rotate", &console), Ok(()));
            for (name, pairs) in [
                (
                    "another origin",
                    [
                        ("origin", "http://127.0.0.1:9000"),
                        ("sec-fetch-site", "same-site"),
                    ],
                ),
                (
                    "another port, no fetch metadata",
                    [("origin", "http://127.0.0.1:9000"), ("x-none", "")],
                ),
                (
                    "same-site",
                    [
                        ("origin", "http://127.0.0.1:8001"),
                        ("sec-fetch-site", "same-site"),
                    ],
                ),
                ("opaque origin", [("origin", "null"), ("x-none", "")]),
                (
                    "cross-site, no origin",
                    [("sec-fetch-site", "cross-site"), ("x-none", "")],
                ),
            ] {
                let mut h = headers(&[
                    ("host", "127.0.0.1:8001"),
                    ("authorization", "Bearer 0123456789abcdef0123456789abcdef"),
                ]);
                for (k, v) in pairs {
                    h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
                }
                assert_eq!(
                    guard.check(&Method::POST, "/jwks/rotate", &h),
                    Err(Refusal::BrowserRequest),
                    "{name}"
                );
            }
        }
        // The console's files need no key; a link from another site may open them.
        let navigation = headers(&[("host", "localhost:8001"), ("sec-fetch-site", "cross-site")]);
        assert_eq!(get(&keyed, "/console/", &navigation), Ok(()));
        assert_eq!(
            keyed.check(&Method::POST, "/console/", &navigation),
            Err(Refusal::BrowserRequest)
        );
        assert_eq!(
            get(&keyed, "/users", &headers(&[("host", "localhost:8001")])),
            Err(Refusal::BadApiKey)
        );
    }
}
