//! CORS for the public API (docs/api.md): exact origin matching, credentials only with an echoed
//! origin, preflights answered without authentication, error responses included.

use crate::config::CorsConfig;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;

/// The CORS policy, built once from config.
#[derive(Clone, Debug)]
pub struct CorsPolicy {
    origins: Vec<String>,
    any_origin: bool,
}

/// The methods the public API has (`DELETE /user`, `POST /logout`, the GETs).
const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const EXPOSE_HEADERS: &str = "X-Auth-Token, X-Session-Lifetime, X-Request-Id";
const MAX_AGE: &str = "7200";

enum Allowed {
    /// Echo this origin, with credentials.
    Origin(HeaderValue),
    /// `*`, never with credentials.
    Any,
}

impl CorsPolicy {
    pub fn new(config: &CorsConfig) -> Self {
        Self {
            origins: config
                .allow_origins
                .iter()
                .filter(|o| o.as_str() != "*")
                .cloned()
                .collect(),
            any_origin: config.unsafe_wildcard_origin_allowed
                && config.allow_origins.iter().any(|o| o == "*"),
        }
    }

    fn check(&self, origin: &HeaderValue) -> Option<Allowed> {
        let origin_str = origin.to_str().ok()?;
        // Byte-for-byte: `https://app.example.evil.com`, another port or scheme, and `null`
        // are different origins.
        if self.origins.iter().any(|o| o == origin_str) {
            Some(Allowed::Origin(origin.clone()))
        } else if self.any_origin {
            Some(Allowed::Any)
        } else {
            None
        }
    }
}

fn add_vary(headers: &mut HeaderMap, value: &'static str) {
    headers.append(header::VARY, HeaderValue::from_static(value));
}

fn set_allow_origin(headers: &mut HeaderMap, allowed: Allowed) {
    match allowed {
        Allowed::Origin(origin) => {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        Allowed::Any => {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
    }
}

/// Request headers a preflight may reflect: header-name tokens separated by commas.
fn sane_header_list(v: &HeaderValue) -> Option<HeaderValue> {
    let s = v.to_str().ok()?;
    let ok = s.len() <= 1024
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(&b));
    ok.then(|| v.clone())
}

/// What CORS makes of a request: a preflight is answered here; any other request is passed on,
/// with the headers its answer gets.
pub enum CorsStep {
    Preflight(HttpResponse),
    PassOn(CorsHeaders),
}

/// The CORS headers an answer gets: always `Vary: Origin` (the answer would differ with another
/// Origin, so shared caches must key on it), the allowance when the origin is allowed.
pub struct CorsHeaders(Option<Allowed>);

impl CorsPolicy {
    pub fn step(&self, req: &ServiceRequest) -> CorsStep {
        let Some(origin) = req.headers().get(header::ORIGIN) else {
            return CorsStep::PassOn(CorsHeaders(None));
        };
        let allowed = self.check(origin);
        let is_preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if !is_preflight {
            return CorsStep::PassOn(CorsHeaders(allowed));
        }
        let mut res = HttpResponse::build(StatusCode::NO_CONTENT).finish();
        let headers = res.headers_mut();
        add_vary(headers, "Origin");
        add_vary(headers, "Access-Control-Request-Method");
        add_vary(headers, "Access-Control-Request-Headers");
        if let Some(allowed) = allowed {
            set_allow_origin(headers, allowed);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            if let Some(requested) = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(sane_header_list)
            {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
            }
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE),
            );
        }
        CorsStep::Preflight(res)
    }
}

impl CorsHeaders {
    pub fn add_to(self, headers: &mut HeaderMap) {
        add_vary(headers, "Origin");
        // A handler that set its own policy (the public JWKS: `*`) keeps it.
        if let Some(allowed) = self.0 {
            if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
                set_allow_origin(headers, allowed);
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSE_HEADERS),
                );
            }
        }
    }
}
