//! The public API: `DELETE /user` (the seed), `/me`, `/users/{id}`, `/logout`,
//! `/.well-known/*`.

use super::export::Reader;
use super::resource;
use super::views::{PublicExportView, PublicUserView};
use crate::http::auth::{Authenticated, VerifiedTokens};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::request_id::request_context;
use crate::services::accounts::{OwnDeletion, OwnDeletionOutcome};
use crate::services::Services;
use crate::sessions::cookie;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::events::SessionEndReason;
use domain::ids::UserId;

/// The answers every authenticated public operation may give besides its own.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum SessionRefusals {
    #[response(status = 401, description = "Unauthorized", headers(("WWW-Authenticate" = String, description = "Bearer")))]
    Unauthorized(ErrorBody),
    #[response(status = 500, description = "Internal server error")]
    Internal(ErrorBody),
}

#[utoipa::path(
    delete,
    path = "/user",
    operation_id = "deleteUser",
    tag = "User Management",
    summary = "Deletes the current user",
    description = "Used to delete the current user. Note that `config.account.allow_deletion` must be set to true. With `account.deletion.grace_period` the deletion is scheduled instead (the answer is the same).",
    responses(
        (status = 204, description = "The user has been deleted (or, with a grace period, the deletion scheduled); the session cookie is cleared",
            headers(("Set-Cookie" = String, description = "Removes the session cookie (Max-Age=0)"))),
        (status = 401, description = "Unauthorized, or a more recent sign-in is needed (RFC 9470 challenge)", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`, or the RFC 9470 `insufficient_user_authentication` challenge with `max_age`"))),
        (status = 500, description = "Internal server error", body = ErrorBody),
    ),
    security(("CookieAuth" = []), ("BearerTokenAuth" = []))
)]
/// `DELETE /user`: deletes the authenticated user, or, with `account.deletion.grace_period`,
/// schedules the deletion (every session removed at once).
pub async fn delete_user(
    claims: VerifiedTokens,
    req: HttpRequest,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let request = OwnDeletion {
        // Every verified token names the same user (the extractor sees to it).
        user_id: claims.user_id,
        sessions: claims.tokens.iter().map(|t| t.session_id).collect(),
        context: request_context(&req),
    };
    match services.delete_own_account(request).await? {
        OwnDeletionOutcome::Accepted => Ok(HttpResponse::NoContent()
            .cookie(cookie::removal(&services.config.session.cookie))
            .finish()),
        OwnDeletionOutcome::NoSession => Err(ApiError::unauthorized()),
        OwnDeletionOutcome::ReauthenticationRequired { max_age } => {
            Err(ApiError::challenge(format!(
                "Bearer error=\"insufficient_user_authentication\", \
                 error_description=\"A more recent authentication is required\", \
                 max_age=\"{max_age}\""
            )))
        }
    }
}

/// The authenticated user's id.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
}

/// `GET /me`.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "getMe",
    tag = "User Management",
    summary = "The current user's id",
    responses(
        (status = 200, description = "The current user's id", body = Me),
        SessionRefusals,
    ),
    security(("CookieAuth" = []), ("BearerTokenAuth" = []))
)]
pub async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(Me { id: auth.user_id })
}

/// `GET /users/{id}`: only one's own.
#[utoipa::path(
    get,
    path = "/users/{id}",
    operation_id = "getUser",
    tag = "User Management",
    summary = "The current user, by id",
    params(("id" = uuid::Uuid, Path, description = "The current user's id")),
    responses(
        (status = 200, description = "The user", body = PublicUserView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "Another user's id", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
    ),
    security(("CookieAuth" = []), ("BearerTokenAuth" = []))
)]
pub async fn get_user(
    auth: Authenticated,
    id: web::Path<UserId>,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if id != auth.user_id {
        return Err(ApiError::status(StatusCode::FORBIDDEN));
    }
    let user = services
        .find_user(id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(HttpResponse::Ok().json(PublicUserView::from(&user)))
}

/// `POST /logout`: ends the current session.
#[utoipa::path(
    post,
    path = "/logout",
    operation_id = "logout",
    tag = "Authentication",
    summary = "Ends the current session",
    responses(
        (status = 204, description = "The session has ended; the session cookie is cleared",
            headers(("Set-Cookie" = String, description = "Removes the session cookie (Max-Age=0)"))),
        SessionRefusals,
    ),
    security(("CookieAuth" = []), ("BearerTokenAuth" = []))
)]
pub async fn logout(
    auth: Authenticated,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    // Already ended (a concurrent logout): the answer is the same.
    services
        .end_session(auth.user_id, auth.session.id, SessionEndReason::Logout)
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(cookie::removal(&services.config.session.cookie))
        .finish())
}

/// `GET /user/export`: everything the service holds about the authenticated user.
#[utoipa::path(
    get,
    path = "/user/export",
    operation_id = "exportUser",
    tag = "User Management",
    summary = "Everything held about the current user (GDPR Art. 15/20)",
    responses(
        (status = 200, description = "The export, as an attachment", body = PublicExportView,
            headers(
                ("Content-Disposition" = String, description = "attachment; filename=\"user-<id>.json\""),
                ("Cache-Control" = String, description = "no-store"),
            )),
        SessionRefusals,
    ),
    security(("CookieAuth" = []), ("BearerTokenAuth" = []))
)]
pub async fn export(
    auth: Authenticated,
    services: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    super::export::export(&services, auth.user_id, Reader::Subject)
        .await?
        // The session was live a moment ago: the user went meanwhile.
        .ok_or_else(ApiError::unauthorized)
}

/// What frontends need to know.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PublicConfig {
    pub account: AccountSettings,
    pub session: SessionSettings,
}

/// The account settings frontends show or hide features by.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AccountSettings {
    /// Whether `DELETE /user` exists.
    pub allow_deletion: bool,
    pub allow_signup: bool,
    /// `null`: deletion is immediate; else how long a deleted account is kept (e.g. `30d`).
    #[schema(value_type = Option<String>, example = "30d")]
    pub deletion_grace_period: Option<domain::config::Duration>,
}

/// The session settings.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionSettings {
    #[schema(value_type = String, example = "12h")]
    pub lifespan: domain::config::Duration,
}

/// `GET /.well-known/config`: what frontends need to know.
#[utoipa::path(
    get,
    path = "/.well-known/config",
    operation_id = "getConfig",
    tag = "Configuration",
    summary = "The settings frontends need",
    responses((status = 200, description = "The public configuration", body = PublicConfig))
)]
pub async fn well_known_config(state: web::Data<AppState>) -> HttpResponse {
    let c = &state.config;
    HttpResponse::Ok().json(PublicConfig {
        account: AccountSettings {
            allow_deletion: c.account.allow_deletion,
            allow_signup: c.account.allow_signup,
            deletion_grace_period: c.account.deletion.grace_period,
        },
        session: SessionSettings {
            lifespan: c.session.lifespan,
        },
    })
}

/// One public signing key.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Jwk {
    /// `RSA` (RS256), `EC` (ES256) or `OKP` (EdDSA).
    #[schema(example = "RSA")]
    pub kty: String,
    /// The RFC 7638 thumbprint of the key (keys from earlier versions keep their kids).
    pub kid: String,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: String,
    /// `RS256`, `ES256` or `EdDSA`: the only algorithm tokens signed by this key use.
    #[schema(example = "RS256")]
    pub alg: String,
    /// `P-256` (EC) or `Ed25519` (OKP).
    pub crv: Option<String>,
    /// RSA modulus.
    pub n: Option<String>,
    /// RSA exponent.
    pub e: Option<String>,
    /// EC or OKP public x coordinate (the whole public key for Ed25519).
    pub x: Option<String>,
    /// EC public y coordinate.
    pub y: Option<String>,
}

/// The public keys that verify session tokens (and webhook tokens and SETs).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// `GET /.well-known/jwks.json`, served by the `jwks` crate.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    operation_id = "getJwks",
    tag = "Well-Known",
    summary = "The JSON Web Key Set",
    params(("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
    responses(
        (status = 200, description = "The key set", body = Jwks,
            headers(
                ("ETag" = String, description = "A strong ETag of the body"),
                ("Cache-Control" = String, description = "public, max-age=600, stale-while-revalidate=60, stale-if-error=86400"),
            )),
        (status = 304, description = "The key set has not changed"),
    )
)]
pub async fn jwks_json(req: HttpRequest, keys: web::Data<jwks::KeyManager>) -> HttpResponse {
    jwks::handler::jwks_json(req, keys).await
}

pub fn configure(cfg: &mut web::ServiceConfig, allow_deletion: bool) {
    // Routes are tried in this order: the document every verifier fetches comes first, and
    // the static paths before the one with a pattern to match.
    cfg.service(resource("/.well-known/jwks.json", "GET").route(web::get().to(jwks_json)))
        .service(resource("/.well-known/config", "GET").route(web::get().to(well_known_config)));
    if allow_deletion {
        cfg.service(resource("/user", "DELETE").route(web::delete().to(delete_user)));
    }
    cfg.service(resource("/me", "GET").route(web::get().to(me)))
        .service(resource("/logout", "POST").route(web::post().to(logout)))
        .service(resource("/user/export", "GET").route(web::get().to(export)))
        .service(resource("/users/{id}", "GET").route(web::get().to(get_user)));
}
