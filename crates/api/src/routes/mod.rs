//! The handlers: the public API, the admin API and the health checks (README "API").

pub mod admin;
pub mod export;
pub mod health;
pub mod public;
pub mod views;

use crate::http::error::ApiError;
use crate::http::metrics::RouteLabel;
use actix_web::{web, HttpResponse, Resource};

/// A resource whose other methods answer 405 with `Allow` in our error shape.
pub fn resource(path: &'static str, allow: &'static str) -> Resource {
    web::resource(path)
        .app_data(RouteLabel(path))
        .default_service(web::to(move || async move {
            Err::<HttpResponse, _>(ApiError::method_not_allowed(allow))
        }))
}
