//! `X-Request-Id`: taken from the request when it is sane, generated otherwise, echoed on every
//! response (errors included) and carried into the audit log through [`request_context`].
//! This is also where the cause of an internal error is logged, once, with the id.

use super::error::ApiError;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest};
use domain::model::RequestContext;
use std::cell::Cell;

/// The id of the request being handled.
#[derive(Clone, Debug)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id (only ever an acceptable one: visible ASCII, so `to_str` cannot fail; were it
    /// ever to, the id would read as empty rather than fail the request).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client-supplied id is kept only if it is short and plain, so it cannot forge log lines.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

thread_local! {
    /// This thread's id prefix (random, drawn once) and its counter.
    static NEXT_ID: Cell<(u64, u64)> = Cell::new((uuid::Uuid::new_v4().as_u64_pair().0, 0));
}

/// A fresh id in UUID form: unique, not secret (it is echoed and logged). A random prefix per
/// thread and a counter, so no random draw (and no system call) per request.
fn generated_id() -> HeaderValue {
    NEXT_ID.with(|next| {
        let (prefix, counter) = next.get();
        next.set((prefix, counter.wrapping_add(1)));
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&prefix.to_be_bytes());
        bytes[8..].copy_from_slice(&counter.to_be_bytes());
        // Formatted on the stack: the header value is the id's only allocation.
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .encode_lower(&mut text);
        HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
    })
}

/// Takes the client's id when it is acceptable, makes one otherwise, and files it with the
/// request for the handlers (the audit log).
pub fn assign(req: &ServiceRequest) -> HeaderValue {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| v.to_str().is_ok_and(acceptable))
        .cloned()
        .unwrap_or_else(generated_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    id
}

/// Echoes the id on the answer, and logs the cause of an internal error under it (once: here).
pub fn echo<B>(res: &mut ServiceResponse<B>, id: HeaderValue) {
    if let Some(api_error) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        // Ids are visible ASCII (assigned or accepted as such), so this never reads as empty.
        api_error.log_cause(id.to_str().unwrap_or_default());
    }
    res.headers_mut().insert(X_REQUEST_ID.clone(), id);
}

/// Where the request came from, for the audit log. The peer address is used as is: trusting
/// `X-Forwarded-For` would let any client write the log's IP.
pub fn request_context(req: &HttpRequest) -> RequestContext {
    RequestContext {
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        source_ip: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::{acceptable, generated_id};
    use std::collections::HashSet;

    #[test]
    fn generated_ids_are_distinct_uuids_across_threads() {
        let mut seen = HashSet::new();
        let text = || generated_id().to_str().map(str::to_owned).unwrap();
        let other = std::thread::spawn(move || (0..1000).map(|_| text()).collect::<Vec<_>>());
        let mine: Vec<String> = (0..1000).map(|_| text()).collect();
        let theirs = other.join().unwrap();
        assert_eq!(theirs.len(), 1000);
        for id in mine.into_iter().chain(theirs) {
            let parsed = uuid::Uuid::parse_str(&id).map(|u| u.get_version_num());
            assert_eq!(parsed.ok(), Some(4), "{id} is not a v4-form UUID");
            assert!(acceptable(&id));
            assert!(seen.insert(id), "an id repeated");
        }
    }
}
