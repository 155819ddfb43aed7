//! `Cache-Control: no-store` on every answer to a request that carried credentials (the
//! `Authorization` header or the session cookie), so no shared or browser cache keeps an
//! authenticated response, and on every admin answer (one of them is a session token). A
//! handler that set its own policy (the public JWKS) keeps it.

use actix_web::http::header::{self, HeaderMap, HeaderValue};

/// Whether a request's answer must not be stored, decided from the request's headers.
#[derive(Clone, Copy, Debug)]
pub struct NoStore(bool);

impl NoStore {
    /// The public listener: answers to credentialed requests.
    pub fn for_request(headers: &HeaderMap) -> Self {
        Self(headers.contains_key(header::AUTHORIZATION) || headers.contains_key(header::COOKIE))
    }

    /// The admin listener: every answer, refusals included.
    pub fn always() -> Self {
        Self(true)
    }

    /// Marks the answer, unless it is not credentialed or its handler chose a policy.
    pub fn apply(self, headers: &mut HeaderMap) {
        if self.0 && !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}
