//! The public API: `DELETE /user` (the seed), `/me`, `/users/{id}`, `/logout`,
//! `/.well-known/*`.

use super::export::Reader;
use super::resource;
use super::views::{PublicExportView, PublicUserView};
use crate::http::auth::{Authenticated, VerifiedTokens};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::request_id::request_context;
use crate::sessions::cookie;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::events::{EventKind, SessionEndReason};
use domain::ids::UserId;
use domain::ports::{
    AccountStore, DeletedBy, Deleter, Deletion, DeletionOutcome, SessionEnding, SessionStore,
};
use persistence::Deletions;

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
        (status = 409, description = "The account is under legal hold", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
    ),
    security(("CookieAuth" = []), ("BearerTokenAuth" = []))
)]
/// `DELETE /user`: deletes the authenticated user, or, with `account.deletion.grace_period`,
/// schedules the deletion (every session removed at once). The deletion itself checks that
/// one of the request's sessions is live (and fresh enough) while it holds the user's lock;
/// where and how it runs is `persistence`'s business ([`Deletions`]).
pub async fn delete_user(
    claims: VerifiedTokens,
    req: HttpRequest,
    state: web::Data<AppState>,
    deletions: web::Data<Deletions>,
) -> Result<HttpResponse, ApiError> {
    let account = &state.config.account;
    if !account.allow_deletion {
        return Err(ApiError::status(StatusCode::NOT_FOUND));
    }
    let now = Utc::now();
    let grace = account.deletion.grace_period;
    let event = match grace {
        Some(_) => EventKind::UserDeleteScheduled,
        None => EventKind::UserDelete,
    };
    let deletion = Deletion {
        // Every verified token names the same user (the extractor sees to it).
        user_id: claims.user_id,
        by: DeletedBy::User {
            sessions: claims.tokens.iter().map(|t| t.session_id).collect(),
            created_after: account.oldest_session_allowed(now),
        },
        purge_after: grace.map(|g| now + g.chrono()),
        context: request_context(&req),
        audit: state.config.audit_log.clone(),
        recipients: state.events.recipients(event),
        at: now,
    };
    let outcome = deletions
        .delete(deletion)
        .await
        .map_err(|e| ApiError::store("deleting user", e))?;
    match outcome {
        DeletionOutcome::Deleted(deleted) => {
            log::info!("user {} deleted", deleted.id);
            state.metrics.user_deleted(false);
            state.events.committed(EventKind::UserDelete);
            Ok(HttpResponse::NoContent()
                .cookie(cookie::removal(&state.config.session.cookie))
                .finish())
        }
        DeletionOutcome::Scheduled(scheduled) => {
            log::info!(
                "user {} scheduled for deletion after {}",
                scheduled.id,
                scheduled.purge_after
            );
            state.metrics.deletion_scheduled();
            state.events.committed(EventKind::UserDeleteScheduled);
            Ok(HttpResponse::NoContent()
                .cookie(cookie::removal(&state.config.session.cookie))
                .finish())
        }
        DeletionOutcome::Held => Err(ApiError::status(StatusCode::CONFLICT)),
        DeletionOutcome::NoSession => {
            state.metrics.token_rejected("session");
            Err(ApiError::unauthorized())
        }
        // A concurrent deletion (or logout) won: the token no longer stands for anyone.
        DeletionOutcome::Gone => Err(ApiError::unauthorized()),
        DeletionOutcome::ReauthenticationRequired => Err(ApiError::challenge(format!(
            "Bearer error=\"insufficient_user_authentication\", \
             error_description=\"A more recent authentication is required\", \
             max_age=\"{}\"",
            account
                .deletion
                .max_session_age
                .map_or(0, |age| age.as_secs())
        ))),
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if id != auth.user_id {
        return Err(ApiError::status(StatusCode::FORBIDDEN));
    }
    let db = state.db.clone();
    let user = state
        .offload
        .run("loading user", move || db.find_user(id))
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ending = SessionEnding {
        user_id: auth.user_id,
        session_id: auth.session.id,
        reason: SessionEndReason::Logout,
        recipients: state.events.recipients(EventKind::SessionDelete),
        at: Utc::now(),
    };
    let db = state.db.clone();
    if state
        .offload
        .run("ending session", move || db.end_session(&ending))
        .await?
    {
        state.events.committed(EventKind::SessionDelete);
    }
    Ok(HttpResponse::NoContent()
        .cookie(cookie::removal(&state.config.session.cookie))
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::export::export(&state, auth.user_id, Reader::Subject)
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
