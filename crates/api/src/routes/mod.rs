//! HTTP handlers: the public API (SPEC §7), the admin API (SPEC §8) and health checks.

pub mod admin;
pub mod health;
pub mod public;

use crate::error::ApiError;
use actix_web::{web, HttpResponse, Resource};

/// A resource whose other methods answer 405 with `Allow` in our error shape.
pub fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::method_not_allowed(allow))
    }))
}
