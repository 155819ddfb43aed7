//! The one error shape of the API (`{"code": <status>, "message": <reason phrase>}`) and the
//! mapping of lower-level errors to it. Causes are logged here, never sent to the client.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use domain::ports::StoreError;
use serde::Serialize;
use std::fmt;

/// An error response. Build it with the constructors; each logs what the client must not see.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    www_authenticate: Option<String>,
    allow: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorBody {
    code: u16,
    message: &'static str,
}

impl ApiError {
    /// An error with just a status.
    pub fn status(status: StatusCode) -> Self {
        Self {
            status,
            www_authenticate: None,
            allow: None,
        }
    }

    /// 401 with `WWW-Authenticate: Bearer`, the same for every authentication failure.
    pub fn unauthorized() -> Self {
        Self {
            www_authenticate: Some("Bearer".to_owned()),
            ..Self::status(StatusCode::UNAUTHORIZED)
        }
    }

    /// 401 with an RFC 6750/9470 challenge.
    pub fn challenge(challenge: String) -> Self {
        Self {
            www_authenticate: Some(challenge),
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

    /// 500, logging the cause.
    pub fn internal(context: &str, cause: impl fmt::Display) -> Self {
        log::error!("{context}: {cause}");
        Self::status(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Maps a storage error: conflicts and missing rows are the client's, the rest is ours.
    pub fn store(context: &str, e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::status(StatusCode::CONFLICT),
            StoreError::NotFound => Self::status(StatusCode::NOT_FOUND),
            other => Self::internal(context, other),
        }
    }

    /// A blocking task that could not complete (the pool was shut down or the task panicked).
    pub fn blocking(e: actix_web::error::BlockingError) -> Self {
        Self::internal("blocking task failed", e)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)
    }
}

/// The JSON error response for a status, as every error of this API looks.
pub fn error_response(status: StatusCode) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        code: status.as_u16(),
        message: status.canonical_reason().unwrap_or("Error"),
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = error_response(self.status);
        let headers = response.headers_mut();
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

/// Runs blocking storage work off the async threads, mapping both failure layers.
pub async fn blocking<T, F>(context: &'static str, f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    actix_web::web::block(f)
        .await
        .map_err(ApiError::blocking)?
        .map_err(|e| ApiError::store(context, e))
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
