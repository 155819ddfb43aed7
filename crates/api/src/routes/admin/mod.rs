//! The admin API: for operators and tests, on its own listener (docs/api.md). One file per
//! resource; every handler parses, calls a use case (`crate::services`) and maps the outcome.

pub mod audit;
pub mod deliveries;
pub mod keys;
pub mod operations;
pub mod receivers;
pub mod retention;
pub mod scim_clients;
pub mod sessions;
pub mod users;

use super::resource;
use crate::http::error::{ApiError, ErrorBody};
use actix_web::http::StatusCode;
use actix_web::web;

/// The answers every guarded admin operation may give besides its own (the guard's and ours).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum AdminRefusals {
    #[response(status = 401, description = "A missing or wrong api key", headers(("WWW-Authenticate" = String, description = "Bearer")))]
    Unauthorized(ErrorBody),
    #[response(
        status = 403,
        description = "A request a page of another origin sent, api key or not; without an api key also a Host that is not local"
    )]
    Forbidden(ErrorBody),
    #[response(status = 500, description = "Internal server error")]
    Internal(ErrorBody),
}

/// The most items a page holds.
const MAX_PER_PAGE: u32 = 1000;
/// The highest page number accepted.
const MAX_PAGE: u32 = 1_000_000;

/// A listing's page and page size (defaults 1 and 20); out of bounds is the client's mistake.
pub(crate) fn paging(page: Option<u32>, per_page: Option<u32>) -> Result<(u32, u32), ApiError> {
    let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(20));
    if (1..=MAX_PAGE).contains(&page) && (1..=MAX_PER_PAGE).contains(&per_page) {
        Ok((page, per_page))
    } else {
        Err(ApiError::status(StatusCode::BAD_REQUEST))
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/users", "GET, POST")
            .route(web::get().to(users::list_users))
            .route(web::post().to(users::create_user)),
    )
    .service(
        resource("/users/{id}", "GET, DELETE")
            .route(web::get().to(users::get_user))
            .route(web::delete().to(users::delete_user)),
    )
    .service(
        resource("/users/{id}/sessions", "GET, DELETE")
            .route(web::get().to(sessions::list_sessions))
            .route(web::delete().to(sessions::delete_sessions)),
    )
    .service(resource("/users/{id}/restore", "POST").route(web::post().to(users::restore_user)))
    .service(resource("/users/{id}/hold", "PUT").route(web::put().to(users::hold_user)))
    .service(resource("/users/{id}/export", "GET").route(web::get().to(users::export_user)))
    .service(
        resource("/users/{id}/sessions/{session_id}", "DELETE")
            .route(web::delete().to(sessions::delete_session)),
    )
    .service(resource("/sessions", "POST").route(web::post().to(sessions::create_session)))
    .service(resource("/audit_logs", "GET").route(web::get().to(audit::list_audit_logs)))
    .service(
        resource("/webhooks/deliveries", "GET").route(web::get().to(deliveries::list_deliveries)),
    )
    .service(
        resource("/webhooks/deliveries/retry", "POST")
            .route(web::post().to(deliveries::retry_deliveries)),
    )
    .service(resource("/jwks/rotate", "POST").route(web::post().to(keys::rotate_key)))
    .service(resource("/jwks", "GET").route(web::get().to(keys::list_keys)))
    .service(resource("/retention/preview", "GET").route(web::get().to(retention::preview)))
    .service(resource("/metrics", "GET").route(web::get().to(operations::metrics)));
    receivers::configure(cfg);
    scim_clients::configure(cfg);
}
