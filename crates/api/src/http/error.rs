//! The one error shape of the API (`{"code": <status>, "message": <reason phrase>}`) and the
//! mapping of lower-level errors to it. The cause of an internal error travels inside the
//! [`ApiError`] and is logged once, with the request id, by [`super::request_id`] when the
//! error has become a response; the client never sees it.

use crate::report::Report;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use domain::ports::{Cause, StoreError};
use persistence::OffloadError;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// An error response, with what went wrong on our side when it is our fault.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    www_authenticate: Option<Cow<'static, str>>,
    allow: Option<&'static str>,
    /// Seconds to wait before asking again (429).
    retry_after: Option<u64>,
    /// What in the request is wrong, for the client (never an internal detail).
    detail: Option<Cow<'static, str>>,
    internal: Option<Internal>,
}

/// The cause of a 500: what we were doing, and the error chain that stopped it.
#[derive(Debug)]
struct Internal {
    context: &'static str,
    cause: Cause,
}

/// The one error shape of the API (the seed's `Error`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error, example = json!({"code": 401, "message": "Unauthorized"}))]
pub struct ErrorBody {
    /// The HTTP status code.
    pub code: u16,
    /// The status's reason phrase; never a detail of what failed.
    pub message: &'static str,
    /// What in the request is wrong, when a field or rule can be named
    /// (`audience: one of session.audience`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ApiError {
    /// An error with just a status.
    pub fn status(status: StatusCode) -> Self {
        Self {
            status,
            www_authenticate: None,
            allow: None,
            retry_after: None,
            detail: None,
            internal: None,
        }
    }

    /// A refusal of the client's request that names what is wrong with it.
    pub fn refused(status: StatusCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..Self::status(status)
        }
    }

    /// 400 naming what is wrong.
    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::refused(StatusCode::BAD_REQUEST, detail)
    }

    /// 429 with `Retry-After` (whole seconds, at least one).
    pub fn too_many_requests(retry_after: std::time::Duration, detail: &'static str) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::refused(StatusCode::TOO_MANY_REQUESTS, detail)
        }
    }

    /// 401 with `WWW-Authenticate: Bearer`, the same for every authentication failure.
    pub fn unauthorized() -> Self {
        Self {
            www_authenticate: Some(Cow::Borrowed("Bearer")),
            ..Self::status(StatusCode::UNAUTHORIZED)
        }
    }

    /// 401 with an RFC 6750/9470 challenge.
    pub fn challenge(challenge: String) -> Self {
        Self {
            www_authenticate: Some(Cow::Owned(challenge)),
            ..Self::status(StatusCode::UNAUTHORIZED)
        }
    }

    /// 405 with the methods the resource has.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::status(StatusCode::METHOD_NOT_ALLOWED)
        }
    }

    /// 500; the cause is logged with the request id when the response is sent.
    pub fn internal(context: &'static str, cause: impl Into<Cause>) -> Self {
        Self {
            internal: Some(Internal {
                context,
                cause: cause.into(),
            }),
            ..Self::status(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }

    /// Maps a storage error: conflicts and missing rows are the client's, the rest is ours.
    pub fn store(context: &'static str, e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::status(StatusCode::CONFLICT),
            StoreError::NotFound => Self::status(StatusCode::NOT_FOUND),
            other => Self::internal(context, other),
        }
    }

    /// A blocking task that could not complete (the pool was shut down or the task panicked).
    /// Logs the cause of an internal error, once, for the request it answered.
    pub fn log_cause(&self, request_id: &str) {
        if let Some(Internal { context, cause }) = &self.internal {
            log::error!(
                "request {request_id}: {context}: {}",
                Report(cause.as_ref())
            );
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)
    }
}

/// The JSON error response for a status, as every error of this API looks.
pub fn error_response(status: StatusCode) -> HttpResponse {
    error_with_detail(status, None)
}

fn error_with_detail(status: StatusCode, detail: Option<&str>) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        code: status.as_u16(),
        message: status.canonical_reason().unwrap_or("Error"),
        detail: detail.map(str::to_owned),
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = error_with_detail(self.status, self.detail.as_deref());
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = &self.www_authenticate {
            if let Ok(v) = HeaderValue::from_str(challenge) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// Default service: any unknown path is a JSON 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::status(StatusCode::NOT_FOUND))
}

/// JSON body, path and query extractors answer 400 in our shape.
pub fn bad_request<E: fmt::Display>(e: E, _req: &actix_web::HttpRequest) -> actix_web::Error {
    log::debug!("bad request: {e}");
    ApiError::status(StatusCode::BAD_REQUEST).into()
}

/// Offloaded storage work that failed: the store's verdict, or an internal error.
impl From<OffloadError> for ApiError {
    fn from(e: OffloadError) -> Self {
        match e {
            OffloadError::Store { context, source } => Self::store(context, source),
            OffloadError::Failed { context, source } => Self::internal(context, source),
        }
    }
}

/// A use case that failed: storage as storage, anything else as an internal error.
impl From<crate::services::ServiceError> for ApiError {
    fn from(e: crate::services::ServiceError) -> Self {
        match e {
            crate::services::ServiceError::Storage(e) => e.into(),
            crate::services::ServiceError::Internal { context, source } => {
                Self::internal(context, source)
            }
        }
    }
}
