//! `X-Request-Id`: taken from the request when it is sane, generated otherwise, echoed on every
//! response (errors included) and carried into the audit log through [`request_context`].
//! This is also where the cause of an internal error is logged, once, with the id.

use super::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest};
use domain::model::RequestContext;

/// The id of the request being handled.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client-supplied id is kept only if it is short and plain, so it cannot forge log lines.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// A fresh UUID v4 from aws-lc's generator, which runs in user space: the OS source would
/// cost a system call on every request.
fn generated_id() -> String {
    let mut bytes = [0u8; 16];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
        Err(_) => uuid::Uuid::new_v4().to_string(),
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(generated_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    // Our middleware answer refusals as responses (never `Err`), so every answer passes here.
    let mut res = next.call(req).await?;
    if let Some(api_error) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        api_error.log_cause(&id);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    Ok(res)
}

/// Where the request came from, for the audit log. The peer address is used as is: trusting
/// `X-Forwarded-For` would let any client write the log's IP.
pub fn request_context(req: &HttpRequest) -> RequestContext {
    RequestContext {
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        source_ip: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}
