//! The public API: `DELETE /user` (the seed), `/me`, `/users/{id}`, `/logout`,
//! `/.well-known/*`.

use super::export::Reader;
use super::resource;
use super::views::{PublicExportView, PublicUserView};
use crate::http::auth::{live_session, Authenticated, VerifiedTokens};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::request_id::request_context;
use crate::sessions::cookie;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::account::{AccountConfig, DeletionRefused};
use domain::events::{EventKind, SessionEndReason};
use domain::ids::UserId;
use domain::model::RequestContext;
use domain::ports::{
    AccountStore, DeletedBy, DeletedUser, Deletion, DeletionOutcome, ScheduledUser, Scheduling,
    SessionEnding, SessionStore, StoreError,
};
use persistence::WorkerPg;

/// What the database step of `DELETE /user` found.
enum DeleteOutcome {
    /// No verified token stands for a live session (deleted, expired, logged out): 401.
    NoSession,
    /// The policy refused (disabled, or the session is too old for a deletion).
    Refused(DeletionRefused),
    /// Deleted now.
    Deleted(DeletedUser),
    /// Scheduled: purged after the grace period unless an operator restores the account.
    Scheduled(ScheduledUser),
    /// A concurrent deletion (or logout) won: the token no longer stands for anyone.
    Gone,
    /// Under legal hold, and there is no grace period to schedule into.
    Held,
}

/// The answers every authenticated public operation may give besides its own.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum SessionRefusals {
    #[response(status = 401, description = "Unauthorized", headers(("WWW-Authenticate" = String, description = "Bearer")))]
    Unauthorized(ErrorBody),
    #[response(status = 500, description = "Internal server error")]
    Internal(ErrorBody),
}

/// The refusal of a session older than `account.deletion.max_session_age` allows.
fn reauthentication(account: &AccountConfig) -> DeletionRefused {
    DeletionRefused::ReauthenticationRequired {
        max_age: account.deletion.max_session_age.unwrap_or_default(),
    }
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
/// schedules the deletion (every session removed at once). An immediate deletion is one
/// statement that also checks the session; on Postgres the worker sends it on its own
/// connection ([`WorkerPg`]), elsewhere it runs in one blocking step (one thread hop). The
/// statement or transaction checks again that the session is live while it holds the lock.
pub async fn delete_user(
    claims: VerifiedTokens,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = request_context(&req);
    let account = &state.config.account;
    let worker_pg = req.app_data::<web::Data<WorkerPg>>();
    let outcome = match worker_pg {
        Some(pg) if account.allow_deletion && account.deletion.grace_period.is_none() => {
            delete_on_the_worker(pg, &state, &claims, &context)
                .await
                .map_err(|e| ApiError::store("deleting user", e))?
        }
        _ => {
            let st = state.clone();
            state
                .offload
                .run("deleting user", move || {
                    delete_in_one_step(&st, &claims, context)
                })
                .await?
        }
    };
    match outcome {
        DeleteOutcome::Deleted(deleted) => {
            log::info!("user {} deleted", deleted.id);
            state.metrics.user_deleted(false);
            state.events.committed(EventKind::UserDelete);
            Ok(HttpResponse::NoContent()
                .cookie(cookie::removal(&state.config.session.cookie))
                .finish())
        }
        DeleteOutcome::Scheduled(scheduled) => {
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
        DeleteOutcome::Held => Err(ApiError::status(StatusCode::CONFLICT)),
        DeleteOutcome::NoSession => {
            state.metrics.token_rejected("session");
            Err(ApiError::unauthorized())
        }
        DeleteOutcome::Gone => Err(ApiError::unauthorized()),
        DeleteOutcome::Refused(DeletionRefused::Disabled) => {
            Err(ApiError::status(StatusCode::NOT_FOUND))
        }
        DeleteOutcome::Refused(DeletionRefused::ReauthenticationRequired { max_age }) => {
            Err(ApiError::challenge(format!(
                "Bearer error=\"insufficient_user_authentication\", \
                 error_description=\"A more recent authentication is required\", \
                 max_age=\"{}\"",
                max_age.as_secs()
            )))
        }
    }
}

/// One deletion per verified token, in the order the tokens are to be tried.
fn immediate_deletions<'a>(
    state: &'a AppState,
    claims: &'a VerifiedTokens,
    context: &'a RequestContext,
    now: chrono::DateTime<Utc>,
) -> impl Iterator<Item = Deletion> + 'a {
    let account = &state.config.account;
    claims.tokens.iter().map(move |token| Deletion {
        user_id: token.user_id,
        by: DeletedBy::User {
            session: token.session_id,
            created_after: account.oldest_session_allowed(now),
        },
        context: context.clone(),
        audit: state.config.audit_log.clone(),
        recipients: state.events.recipients(EventKind::UserDelete),
        at: now,
    })
}

/// What a deletion's outcome answers; `None`: this token's session is not live, try the next.
fn decide(found: DeletionOutcome, account: &AccountConfig) -> Option<DeleteOutcome> {
    match found {
        DeletionOutcome::NoSession => None,
        DeletionOutcome::Deleted(deleted) => Some(DeleteOutcome::Deleted(deleted)),
        DeletionOutcome::Gone => Some(DeleteOutcome::Gone),
        DeletionOutcome::Held => Some(DeleteOutcome::Held),
        DeletionOutcome::ReauthenticationRequired => {
            Some(DeleteOutcome::Refused(reauthentication(account)))
        }
    }
}

/// `DELETE /user` at once on Postgres, from the worker thread itself: one statement per
/// candidate token until one decides.
async fn delete_on_the_worker(
    pg: &WorkerPg,
    state: &AppState,
    claims: &VerifiedTokens,
    context: &RequestContext,
) -> Result<DeleteOutcome, StoreError> {
    let account = &state.config.account;
    for deletion in immediate_deletions(state, claims, context, Utc::now()) {
        if let Some(decided) = decide(pg.delete_user(&deletion).await?, account) {
            return Ok(decided);
        }
    }
    Ok(DeleteOutcome::NoSession)
}

/// `DELETE /user` in one blocking step: the policy, the session check and the change.
fn delete_in_one_step(
    st: &AppState,
    claims: &VerifiedTokens,
    context: RequestContext,
) -> Result<DeleteOutcome, StoreError> {
    let now = Utc::now();
    let account = &st.config.account;
    if !account.allow_deletion {
        return Ok(DeleteOutcome::Refused(DeletionRefused::Disabled));
    }
    if account.deletion.grace_period.is_none() {
        for deletion in immediate_deletions(st, claims, &context, now) {
            if let Some(decided) = decide(st.db.delete_user(&deletion)?, account) {
                return Ok(decided);
            }
        }
        return Ok(DeleteOutcome::NoSession);
    }
    let mut live = None;
    for token in &claims.tokens {
        let found = st.db.find_session(token.session_id)?;
        if let Some(session) = live_session(found, token, now) {
            live = Some((token.user_id, session));
            break;
        }
    }
    let Some((user_id, session)) = live else {
        return Ok(DeleteOutcome::NoSession);
    };
    if let Err(refused) = account.may_delete_own_account(session.created_at, now) {
        return Ok(DeleteOutcome::Refused(refused));
    }
    let grace = account.deletion.grace_period.unwrap_or_default();
    let scheduling = Scheduling {
        user_id,
        session: session.id,
        purge_after: now + grace.chrono(),
        context,
        audit: st.config.audit_log.clone(),
        recipients: st.events.recipients(EventKind::UserDeleteScheduled),
        at: now,
    };
    Ok(match st.db.schedule_deletion(&scheduling)? {
        Some(scheduled) => DeleteOutcome::Scheduled(scheduled),
        None => DeleteOutcome::Gone,
    })
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
    #[schema(example = "RSA")]
    pub kty: String,
    pub kid: String,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: String,
    #[schema(example = "RS256")]
    pub alg: String,
    pub n: String,
    pub e: String,
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
