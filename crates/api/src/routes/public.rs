//! The public API: `DELETE /user` (the seed), `/me`, `/users/{id}`, `/logout`,
//! `/.well-known/*`.

use crate::auth::{live_session, Authenticated, VerifiedRequest};
use crate::error::{blocking, ApiError};
use crate::request_id::RequestId;
use crate::session_cookie;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::account::DeletionRefused;
use domain::ids::UserId;
use domain::model::{RequestContext, User};
use domain::ports::{
    AccountStore, DeletedBy, DeletedUser, Deletion, SessionStore, USER_DELETE_EVENT,
};
use serde::Serialize;
use serde_json::json;

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
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}

/// What the single blocking step of `DELETE /user` found.
enum DeleteOutcome {
    /// No live session of the token's user (deleted, expired, logged out): SPEC §6's 401.
    NoSession,
    /// The policy refused (disabled, or the session is too old for a deletion).
    Refused(DeletionRefused),
    /// Deleted now.
    Deleted(DeletedUser),
    /// A concurrent deletion (or logout) won: the token no longer stands for anyone.
    Gone,
}

/// `DELETE /user`: deletes the authenticated user (SPEC §7.1). The session check of §6 and
/// the deletion run in one blocking step (one thread hop, not two); the transaction checks
/// again that the session is live while it holds the user's lock.
pub async fn delete_user(
    auth: VerifiedRequest,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = auth.token;
    let context = request_context(&req);
    let st = state.clone();
    let outcome = blocking("deleting user", move || {
        let now = Utc::now();
        let session = st.db.find_session(token.session_id)?;
        let Some(session) = live_session(session, &token, now) else {
            return Ok(DeleteOutcome::NoSession);
        };
        if let Err(refused) = st
            .config
            .account
            .may_delete_own_account(session.created_at, now)
        {
            return Ok(DeleteOutcome::Refused(refused));
        }
        let deletion = Deletion {
            user_id: token.user_id,
            by: DeletedBy::User {
                session: session.id,
            },
            context,
            audit: st.config.audit_log.clone(),
            no_subscribers: !st.config.webhooks.has_subscribers(USER_DELETE_EVENT),
            at: now,
        };
        Ok(match st.db.delete_user(&deletion)? {
            Some(deleted) => DeleteOutcome::Deleted(deleted),
            None => DeleteOutcome::Gone,
        })
    })
    .await?;
    match outcome {
        DeleteOutcome::Deleted(deleted) => {
            log::info!("user {} deleted", deleted.id);
            state.metrics.user_deleted(false);
            if state.config.webhooks.has_subscribers(USER_DELETE_EVENT) {
                state.outbox_written.notify_one();
            }
            Ok(HttpResponse::NoContent()
                .cookie(session_cookie::removal(&state.config.session.cookie))
                .finish())
        }
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

/// `GET /me`.
pub async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "id": auth.user_id }))
}

#[derive(Serialize)]
struct EmailView<'a> {
    id: String,
    address: &'a str,
    is_verified: bool,
    is_primary: bool,
}

#[derive(Serialize)]
struct UserView<'a> {
    id: UserId,
    email: Option<&'a str>,
    emails: Vec<EmailView<'a>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The user as the API shows it (public and admin alike).
pub fn user_json(user: &User) -> serde_json::Value {
    let view = UserView {
        id: user.id,
        email: user.primary_email().map(|e| e.address.as_str()),
        emails: user
            .emails
            .iter()
            .map(|e| EmailView {
                id: e.id.to_string(),
                address: &e.address,
                is_verified: e.is_verified,
                is_primary: e.is_primary,
            })
            .collect(),
        created_at: user.created_at,
        updated_at: user.updated_at,
    };
    serde_json::to_value(view).unwrap_or_default()
}

/// `GET /users/{id}`: only one's own.
pub async fn get_user(
    auth: Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = path
        .parse()
        .map_err(|_| ApiError::status(StatusCode::BAD_REQUEST))?;
    if id != auth.user_id {
        return Err(ApiError::status(StatusCode::FORBIDDEN));
    }
    let db = state.db.clone();
    let user = blocking("loading user", move || db.find_user(id))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

/// `POST /logout`: ends the current session.
pub async fn logout(
    auth: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    blocking("deleting session", move || {
        db.delete_session(auth.user_id, auth.session.id)
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .cookie(session_cookie::removal(&state.config.session.cookie))
        .finish())
}

/// `GET /.well-known/config`: what frontends need to know.
pub async fn well_known_config(state: web::Data<AppState>) -> HttpResponse {
    let c = &state.config;
    HttpResponse::Ok().json(json!({
        "account": {
            "allow_deletion": c.account.allow_deletion,
            "allow_signup": c.account.allow_signup,
        },
        "session": { "lifespan": c.session.lifespan },
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig, allow_deletion: bool) {
    use super::resource;
    if allow_deletion {
        cfg.service(resource("/user", "DELETE").route(web::delete().to(delete_user)));
    }
    cfg.service(resource("/me", "GET").route(web::get().to(me)))
        .service(resource("/users/{id}", "GET").route(web::get().to(get_user)))
        .service(resource("/logout", "POST").route(web::post().to(logout)))
        .service(
            resource("/.well-known/jwks.json", "GET")
                .route(web::get().to(jwks::handler::jwks_json)),
        )
        .service(resource("/.well-known/config", "GET").route(web::get().to(well_known_config)));
}
