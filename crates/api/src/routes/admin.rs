//! The admin API: for operators and tests, on its own listener (README "API").

use super::resource;
use super::views::{DeliveryView, UserView};
use crate::http::error::{blocking, ApiError};
use crate::http::request_id::request_context;
use crate::metrics::Gauges;
use crate::sessions::{issue_session, IssueError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::email::{validate_new_emails, EmailsRefused};
use domain::events::{EventKind, SessionEndReason};
use domain::ids::{SessionId, UserId};
use domain::model::{LegalHold, NewEmail, UserStatus};
use domain::ports::{
    AccountStore, AuditLogFilter, AuditLogStore, ChangeOutcome, DeletedBy, Deletion,
    DeletionChange, DeletionChangeKind, DeletionOutcome, DeliveryStatus, Outbox, SessionEnding,
    SessionStore,
};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[serde(default)]
    emails: Vec<CreateEmail>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateEmail {
    address: String,
    #[serde(default)]
    is_primary: bool,
    #[serde(default)]
    is_verified: bool,
}

/// A refused address list is the client's mistake: a duplicate conflicts, the rest is malformed.
fn refused(e: EmailsRefused) -> ApiError {
    match e {
        EmailsRefused::Duplicate => ApiError::status(StatusCode::CONFLICT),
        EmailsRefused::NotAnAddress | EmailsRefused::SeveralPrimaries => {
            ApiError::status(StatusCode::BAD_REQUEST)
        }
    }
}

async fn create_user(
    state: web::Data<AppState>,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let emails: Vec<NewEmail> = body
        .into_inner()
        .emails
        .into_iter()
        .map(|e| NewEmail {
            address: e.address,
            is_primary: e.is_primary,
            is_verified: e.is_verified,
        })
        .collect();
    validate_new_emails(&emails).map_err(refused)?;
    let db = state.db.clone();
    let user = blocking("creating user", move || db.create_user(&emails, Utc::now())).await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListUsers {
    page: Option<u32>,
    per_page: Option<u32>,
    email: Option<String>,
    status: Option<UserStatus>,
}

async fn list_users(
    state: web::Data<AppState>,
    query: web::Query<ListUsers>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let db = state.db.clone();
    let (users, total) = blocking("listing users", move || {
        db.list_users(
            q.page.unwrap_or(1),
            q.per_page.unwrap_or(20),
            q.email.as_deref(),
            q.status,
        )
    })
    .await?;
    let body: Vec<UserView> = users.iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(body))
}

async fn get_user(
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let db = state.db.clone();
    let user = blocking("loading user", move || db.find_user(id))
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let deletion = Deletion {
        user_id: id,
        by: DeletedBy::Admin,
        context: request_context(&req),
        audit: state.config.audit_log.clone(),
        recipients: state.events.recipients(EventKind::UserDelete),
        at: Utc::now(),
    };
    let db = state.db.clone();
    match blocking("deleting user", move || db.delete_user(&deletion)).await? {
        DeletionOutcome::Deleted(_) => {
            state.metrics.user_deleted(true);
            state.events.committed(EventKind::UserDelete);
            Ok(HttpResponse::NoContent().finish())
        }
        DeletionOutcome::Gone => Err(ApiError::status(StatusCode::NOT_FOUND)),
        DeletionOutcome::Held => Err(ApiError::status(StatusCode::CONFLICT)),
    }
}

/// Runs an operator's change to a user's deletion state and answers with the user.
async fn change_deletion(
    req: &HttpRequest,
    state: &AppState,
    user_id: UserId,
    change: DeletionChangeKind,
) -> Result<HttpResponse, ApiError> {
    let restoring = change == DeletionChangeKind::Restore;
    let change = DeletionChange {
        user_id,
        change,
        context: request_context(req),
        audit: state.config.audit_log.clone(),
        recipients: state.events.recipients(EventKind::UserDeleteCancelled),
        at: Utc::now(),
    };
    let db = state.db.clone();
    match blocking("changing a deletion", move || db.change_deletion(&change)).await? {
        ChangeOutcome::Changed(user) => {
            if restoring {
                state.events.committed(EventKind::UserDeleteCancelled);
            }
            Ok(HttpResponse::Ok().json(UserView::from(&user)))
        }
        ChangeOutcome::NotFound => Err(ApiError::status(StatusCode::NOT_FOUND)),
        ChangeOutcome::NotScheduled => Err(ApiError::status(StatusCode::CONFLICT)),
    }
}

/// `POST /users/{id}/restore`: cancels a scheduled deletion (409 if none is scheduled).
async fn restore_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    change_deletion(&req, &state, id.into_inner(), DeletionChangeKind::Restore).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldRequest {
    hold: bool,
    reason: Option<String>,
}

/// `PUT /users/{id}/hold`: sets or releases the legal hold.
async fn hold_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<UserId>,
    body: web::Json<HoldRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 1000)
    {
        return Err(ApiError::status(StatusCode::BAD_REQUEST));
    }
    let hold = body.hold.then_some(LegalHold {
        reason: body.reason,
    });
    change_deletion(
        &req,
        &state,
        id.into_inner(),
        DeletionChangeKind::Hold(hold),
    )
    .await
}

/// `GET /users/{id}/export`: what `GET /user/export` gives the user.
async fn export_user(
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    super::export::export(&state.db, id.into_inner())
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    user_id: String,
    user_agent: Option<String>,
    ip_address: Option<String>,
}

async fn create_session(
    state: web::Data<AppState>,
    body: web::Json<CreateSession>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user_id: UserId = body
        .user_id
        .parse()
        .map_err(|_| ApiError::status(StatusCode::BAD_REQUEST))?;
    let st = state.clone();
    let issued = web::block(move || {
        issue_session(&st.db, &st.keys, user_id, body.user_agent, body.ip_address)
    })
    .await
    .map_err(ApiError::blocking)?
    .map_err(|e| match e {
        IssueError::UnknownUser => ApiError::status(StatusCode::NOT_FOUND),
        IssueError::Store(e) => ApiError::store("issuing session", e),
        IssueError::Key(e) => ApiError::internal("issuing session", e),
    })?;
    Ok(HttpResponse::Ok().json(issued))
}

async fn list_sessions(
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let db = state.db.clone();
    let sessions = blocking("listing sessions", move || {
        if db.find_user(id)?.is_none() {
            return Ok(None);
        }
        db.list_sessions(id).map(Some)
    })
    .await?
    .ok_or(ApiError::status(StatusCode::NOT_FOUND))?;
    Ok(HttpResponse::Ok().json(sessions))
}

async fn delete_session(
    state: web::Data<AppState>,
    path: web::Path<(UserId, SessionId)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, session_id) = path.into_inner();
    let ending = SessionEnding {
        user_id,
        session_id,
        reason: SessionEndReason::Admin,
        recipients: state.events.recipients(EventKind::SessionDelete),
        at: Utc::now(),
    };
    let db = state.db.clone();
    if blocking("ending session", move || db.end_session(&ending)).await? {
        state.events.committed(EventKind::SessionDelete);
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::status(StatusCode::NOT_FOUND))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListAuditLogs {
    #[serde(rename = "type")]
    kind: Option<String>,
    actor_user_id: Option<UserId>,
    page: Option<u32>,
    per_page: Option<u32>,
}

async fn list_audit_logs(
    state: web::Data<AppState>,
    query: web::Query<ListAuditLogs>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let filter = AuditLogFilter {
        kind: q.kind,
        actor_user_id: q.actor_user_id,
        page: q.page.unwrap_or(1),
        per_page: q.per_page.unwrap_or(20),
    };
    let db = state.db.clone();
    let logs = blocking("listing audit logs", move || db.list_audit_logs(&filter)).await?;
    Ok(HttpResponse::Ok().json(logs))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListDeliveries {
    status: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

async fn list_deliveries(
    state: web::Data<AppState>,
    query: web::Query<ListDeliveries>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("delivered") => Some(DeliveryStatus::Delivered),
        Some("dead") => Some(DeliveryStatus::Dead),
        Some(_) => return Err(ApiError::status(StatusCode::BAD_REQUEST)),
    };
    let (page, per_page) = (q.page.unwrap_or(1), q.per_page.unwrap_or(20));
    let db = state.db.clone();
    let listed = blocking("listing deliveries", move || {
        db.list_deliveries(status, page, per_page)
    })
    .await?;
    let body: Vec<DeliveryView> = listed.items.iter().map(DeliveryView::from).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", listed.total.to_string()))
        .json(body))
}

async fn rotate_key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.keys.clone();
    let kid = web::block(move || keys.rotate(None, Utc::now()))
        .await
        .map_err(ApiError::blocking)?
        .map_err(|e| ApiError::internal("rotating key", e))?;
    Ok(HttpResponse::Created().json(json!({ "kid": kid })))
}

async fn list_keys(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.keys.clone();
    let list = web::block(move || keys.list(Utc::now()))
        .await
        .map_err(ApiError::blocking)?
        .map_err(|e| ApiError::internal("listing keys", e))?;
    Ok(HttpResponse::Ok().json(list))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let backlog = web::block(move || db.backlog())
        .await
        .ok()
        .and_then(Result::ok);
    let db = state.db.clone();
    let purge_backlog = web::block(move || db.purge_backlog(Utc::now()))
        .await
        .ok()
        .and_then(Result::ok);
    let pool = state.db.pool_state();
    let gauges = Gauges {
        pool_connections: pool.connections,
        pool_idle: pool.idle_connections,
        pool_max: pool.max_size,
        backlog,
        purge_backlog,
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&gauges))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/users", "GET, POST")
            .route(web::get().to(list_users))
            .route(web::post().to(create_user)),
    )
    .service(
        resource("/users/{id}", "GET, DELETE")
            .route(web::get().to(get_user))
            .route(web::delete().to(delete_user)),
    )
    .service(resource("/users/{id}/sessions", "GET").route(web::get().to(list_sessions)))
    .service(resource("/users/{id}/restore", "POST").route(web::post().to(restore_user)))
    .service(resource("/users/{id}/hold", "PUT").route(web::put().to(hold_user)))
    .service(resource("/users/{id}/export", "GET").route(web::get().to(export_user)))
    .service(
        resource("/users/{id}/sessions/{session_id}", "DELETE")
            .route(web::delete().to(delete_session)),
    )
    .service(resource("/sessions", "POST").route(web::post().to(create_session)))
    .service(resource("/audit_logs", "GET").route(web::get().to(list_audit_logs)))
    .service(resource("/webhooks/deliveries", "GET").route(web::get().to(list_deliveries)))
    .service(resource("/jwks/rotate", "POST").route(web::post().to(rotate_key)))
    .service(resource("/jwks", "GET").route(web::get().to(list_keys)))
    .service(resource("/metrics", "GET").route(web::get().to(metrics)));
}
