//! The admin API: for operators and tests, on its own listener (docs/api.md).

use super::resource;
use super::views::{AuditLogView, DeliveryView, ExportView, SessionView, UserView};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_object::JsonObject;
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
    AccountStore, AuditLogFilter, AuditLogStore, ChangeOutcome, DeletedBy, Deleter, Deletion,
    DeletionChange, DeletionChangeKind, DeletionOutcome, DeliveryStatus, Outbox, SessionEnding,
    SessionStore,
};
use persistence::Deletions;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[serde(default)]
    emails: Vec<CreateEmail>,
}

/// One address of a new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEmail {
    /// An e-mail address (the exact rule is the pattern below).
    #[schema(example = "jane@example.com")]
    address: String,
    #[serde(default)]
    is_primary: bool,
    #[serde(default)]
    is_verified: bool,
}

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
fn paging(page: Option<u32>, per_page: Option<u32>) -> Result<(u32, u32), ApiError> {
    let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(20));
    if (1..=MAX_PAGE).contains(&page) && (1..=MAX_PER_PAGE).contains(&per_page) {
        Ok((page, per_page))
    } else {
        Err(ApiError::status(StatusCode::BAD_REQUEST))
    }
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

#[utoipa::path(
    post,
    path = "/users",
    operation_id = "createUser",
    tag = "Users",
    summary = "Create a user",
    request_body = CreateUser,
    responses(
        (status = 201, description = "The user", body = UserView),
        (status = 400, description = "Not valid JSON, an unknown field, an address that is not one, or two primaries", body = ErrorBody),
        (status = 409, description = "An address is taken", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn create_user(
    state: web::Data<AppState>,
    body: JsonObject<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let emails: Vec<NewEmail> = body
        .0
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
    let user = state
        .offload
        .run("creating user", move || db.create_user(&emails, Utc::now()))
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListUsers {
    /// 1-based.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// 20 unless given.
    #[param(minimum = 1, maximum = 1000)]
    per_page: Option<u32>,
    email: Option<String>,
    #[param(value_type = Option<UserStatusParam>)]
    status: Option<UserStatus>,
}

#[utoipa::path(
    get,
    path = "/users",
    operation_id = "listUsers",
    tag = "Users",
    summary = "List users",
    params(ListUsers),
    responses(
        (status = 200, description = "One page of users", body = Vec<UserView>, headers(("X-Total-Count" = u64, description = "Users matching, all pages"))),
        (status = 400, description = "A malformed query", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn list_users(
    state: web::Data<AppState>,
    query: web::Query<ListUsers>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (page, per_page) = paging(q.page, q.per_page)?;
    let db = state.db.clone();
    let (users, total) = state
        .offload
        .run("listing users", move || {
            db.list_users(page, per_page, q.email.as_deref(), q.status)
        })
        .await?;
    let body: Vec<UserView> = users.iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(body))
}

#[utoipa::path(
    get,
    path = "/users/{id}",
    operation_id = "getUserById",
    tag = "Users",
    summary = "Get a user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn get_user(
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let db = state.db.clone();
    let user = state
        .offload
        .run("loading user", move || db.find_user(id))
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[utoipa::path(
    delete,
    path = "/users/{id}",
    operation_id = "deleteUserById",
    tag = "Users",
    summary = "Delete a user at once",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The user is under legal hold", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    deletions: web::Data<Deletions>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let deletion = Deletion {
        user_id: id,
        by: DeletedBy::Admin,
        purge_after: None,
        context: request_context(&req),
        audit: state.config.audit_log.clone(),
        recipients: state.events.recipients(EventKind::UserDelete),
        at: Utc::now(),
    };
    match deletions
        .delete(deletion)
        .await
        .map_err(|e| ApiError::store("deleting user", e))?
    {
        DeletionOutcome::Deleted(_) => {
            state.metrics.user_deleted(true);
            state.events.committed(EventKind::UserDelete);
            Ok(HttpResponse::NoContent().finish())
        }
        // The session outcomes only answer a user's own deletion (an operator names no session),
        // and only a user's own deletion is ever scheduled.
        DeletionOutcome::Gone
        | DeletionOutcome::NoSession
        | DeletionOutcome::ReauthenticationRequired
        | DeletionOutcome::Scheduled(_) => Err(ApiError::status(StatusCode::NOT_FOUND)),
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
    match state
        .offload
        .run("changing a deletion", move || db.change_deletion(&change))
        .await?
    {
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
#[utoipa::path(
    post,
    path = "/users/{id}/restore",
    operation_id = "restoreUser",
    tag = "Users",
    summary = "Cancel a scheduled deletion",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, back as before", body = UserView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "No deletion is scheduled", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn restore_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    change_deletion(&req, &state, id.into_inner(), DeletionChangeKind::Restore).await
}

/// A legal hold to set or release.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct HoldRequest {
    hold: bool,
    reason: Option<String>,
}

/// `PUT /users/{id}/hold`: sets or releases the legal hold.
#[utoipa::path(
    put,
    path = "/users/{id}/hold",
    operation_id = "holdUser",
    tag = "Users",
    summary = "Set or release a legal hold",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    request_body = HoldRequest,
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 400, description = "The id is not a UUID, or the body is not valid", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn hold_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<UserId>,
    body: JsonObject<HoldRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
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
#[utoipa::path(
    get,
    path = "/users/{id}/export",
    operation_id = "exportUserById",
    tag = "Users",
    summary = "Everything held about a user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The export", body = ExportView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn export_user(
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    super::export::export(&state, id.into_inner(), super::export::Reader::Operator)
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))
}

/// A session to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    #[schema(format = Uuid)]
    user_id: String,
    user_agent: Option<String>,
    ip_address: Option<String>,
}

#[utoipa::path(
    post,
    path = "/sessions",
    operation_id = "createSession",
    tag = "Sessions",
    summary = "Issue a session and its token",
    request_body = CreateSession,
    responses(
        (status = 200, description = "The session token", body = IssuedSessionView),
        (status = 400, description = "Not valid JSON, an unknown field, or a user id that is not a UUID", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The user's deletion is scheduled", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn create_session(
    state: web::Data<AppState>,
    body: JsonObject<CreateSession>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
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
    Ok(HttpResponse::Ok().json(IssuedSessionView {
        session_token: issued.session_token,
        session_id: issued.session_id,
        expires_at: issued.expires_at,
    }))
}

#[utoipa::path(
    get,
    path = "/users/{id}/sessions",
    operation_id = "listSessions",
    tag = "Sessions",
    summary = "A user's sessions",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The sessions, newest first", body = Vec<SessionView>),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn list_sessions(
    state: web::Data<AppState>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let db = state.db.clone();
    let sessions = state
        .offload
        .run("listing sessions", move || {
            if db.find_user(id)?.is_none() {
                return Ok(None);
            }
            db.list_sessions(id).map(Some)
        })
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))?;
    let body: Vec<SessionView> = sessions.iter().map(SessionView::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    delete,
    path = "/users/{id}/sessions/{session_id}",
    operation_id = "deleteSession",
    tag = "Sessions",
    summary = "End a session",
    params(("id" = uuid::Uuid, Path, description = "The user's id"), ("session_id" = uuid::Uuid, Path, description = "The session's id")),
    responses(
        (status = 204, description = "Ended (announced as session.delete)"),
        (status = 400, description = "An id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such session of this user", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
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
    if state
        .offload
        .run("ending session", move || db.end_session(&ending))
        .await?
    {
        state.events.committed(EventKind::SessionDelete);
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::status(StatusCode::NOT_FOUND))
    }
}

#[utoipa::path(
    delete,
    path = "/users/{id}/sessions",
    operation_id = "deleteSessions",
    tag = "Sessions",
    summary = "End every session of a user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Every session ended, each announced as session.delete (reason admin); audited as user_sessions_revoked"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn delete_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path.into_inner();
    let recipients = state.events.recipients(EventKind::SessionDelete);
    let (db, context, audit) = (
        state.db.clone(),
        request_context(&req),
        state.config.audit_log.clone(),
    );
    let ended = state
        .offload
        .run("ending every session", move || {
            db.end_all_sessions(user_id, &recipients, &context, &audit, Utc::now())
        })
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))?;
    if ended > 0 {
        state.events.committed(EventKind::SessionDelete);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Which deliveries to send again.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryDeliveries {
    /// Only dead deliveries are retried.
    pub status: RetryStatus,
    /// One hook: its name, or its URL (as configured, or scheme://host[:port] as listed).
    pub hook: Option<String>,
    /// One event.
    pub event_id: Option<uuid::Uuid>,
}

/// `dead`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryStatus {
    Dead,
}

/// How many deliveries are pending again.
#[derive(serde::Serialize, ToSchema)]
pub struct Retried {
    pub retried: usize,
}

#[utoipa::path(
    post,
    path = "/webhooks/deliveries/retry",
    operation_id = "retryDeliveries",
    tag = "Webhooks",
    summary = "Send dead deliveries again",
    request_body = RetryDeliveries,
    responses(
        (status = 200, description = "The matching dead deliveries are pending again (attempts 0, due now); audited as webhook_deliveries_retried", body = Retried),
        (status = 400, description = "Not valid JSON, an unknown field, or a status other than dead", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn retry_deliveries(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonObject<RetryDeliveries>,
) -> Result<HttpResponse, ApiError> {
    let RetryDeliveries { hook, event_id, .. } = body.0;
    // A hook named by its configured URL is known by its key.
    let hook = hook.map(|given| {
        state
            .config
            .webhooks
            .hooks
            .iter()
            .find(|h| h.url.expose() == given)
            .map_or(given, |h| h.key())
    });
    let (db, context, audit) = (
        state.db.clone(),
        request_context(&req),
        state.config.audit_log.clone(),
    );
    let retried = state
        .offload
        .run("retrying deliveries", move || {
            db.retry_dead(
                hook.as_deref(),
                event_id.map(domain::ids::EventId),
                &context,
                &audit,
                Utc::now(),
            )
        })
        .await?;
    if retried > 0 {
        state.events.wake();
    }
    Ok(HttpResponse::Ok().json(Retried { retried }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListAuditLogs {
    /// e.g. `user_deleted`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    actor_user_id: Option<UserId>,
    /// 1-based.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// 20 unless given.
    #[param(minimum = 1, maximum = 1000)]
    per_page: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/audit_logs",
    operation_id = "listAuditLogs",
    tag = "Audit",
    summary = "Audit log entries",
    params(ListAuditLogs),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditLogView>),
        (status = 400, description = "A malformed query", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn list_audit_logs(
    state: web::Data<AppState>,
    query: web::Query<ListAuditLogs>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (page, per_page) = paging(q.page, q.per_page)?;
    let filter = AuditLogFilter {
        kind: q.kind,
        actor_user_id: q.actor_user_id,
        page,
        per_page,
    };
    let db = state.db.clone();
    let logs = state
        .offload
        .run("listing audit logs", move || db.list_audit_logs(&filter))
        .await?;
    let body: Vec<AuditLogView> = logs.iter().map(AuditLogView::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListDeliveries {
    #[param(value_type = Option<DeliveryStatusParam>)]
    status: Option<String>,
    /// 1-based.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// 20 unless given.
    #[param(minimum = 1, maximum = 1000)]
    per_page: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/webhooks/deliveries",
    operation_id = "listDeliveries",
    tag = "Webhooks",
    summary = "Webhook deliveries, one per event and hook",
    params(ListDeliveries),
    responses(
        (status = 200, description = "One page of deliveries", body = Vec<DeliveryView>, headers(("X-Total-Count" = u64, description = "Deliveries matching, all pages"))),
        (status = 400, description = "A malformed query", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
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
    let (page, per_page) = paging(q.page, q.per_page)?;
    let db = state.db.clone();
    let listed = state
        .offload
        .run("listing deliveries", move || {
            db.list_deliveries(status, page, per_page)
        })
        .await?;
    let body: Vec<DeliveryView> = listed.items.iter().map(DeliveryView::from).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", listed.total.to_string()))
        .json(body))
}

/// A user's state, to filter by.
#[derive(ToSchema)]
#[schema(as = UserStatus)]
#[allow(dead_code)]
pub(crate) enum UserStatusParam {
    #[schema(rename = "active")]
    Active,
    #[schema(rename = "pending_deletion")]
    PendingDeletion,
    #[schema(rename = "held")]
    Held,
}

/// A delivery's state, to filter by.
#[derive(ToSchema)]
#[schema(as = DeliveryStatus)]
#[allow(dead_code)]
pub(crate) enum DeliveryStatusParam {
    #[schema(rename = "pending")]
    Pending,
    #[schema(rename = "delivered")]
    Delivered,
    #[schema(rename = "dead")]
    Dead,
}

/// The id of a new key, and when it starts signing.
#[derive(serde::Serialize, ToSchema)]
pub struct Rotated {
    pub kid: String,
    /// Now, or with `staged=true` after `publish_ahead` plus one refresh interval.
    pub not_before: chrono::DateTime<Utc>,
}

/// How a key is rotated by hand.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RotateKey {
    /// `true`: publish the new key now and let it sign after `secrets.rotation.publish_ahead`
    /// plus one `secrets.refresh_interval`, so no client's cached JWKS misses it (docs/keys.md "Keys
    /// and rotation"). Otherwise it signs at once: an emergency rotation, which sends clients
    /// with a cached JWKS to fetch it again.
    staged: Option<bool>,
}

/// A stored signing key (its public part is in the JWKS).
#[derive(serde::Serialize, ToSchema)]
#[schema(as = Key)]
pub struct KeyView {
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    pub created_at: chrono::DateTime<Utc>,
    /// When it starts signing (published from `created_at`).
    pub not_before: chrono::DateTime<Utc>,
    /// When the next key takes over (null while no next key exists).
    pub retired_at: Option<chrono::DateTime<Utc>>,
    /// Whether the JWKS lists it (until its tokens have expired plus one JWKS max-age).
    pub published: bool,
    /// Whether this key signs new tokens now.
    pub signing: bool,
}

/// A new session and its token.
#[derive(serde::Serialize, ToSchema)]
#[schema(as = IssuedSession)]
pub struct IssuedSessionView {
    pub session_token: String,
    #[schema(value_type = uuid::Uuid)]
    pub session_id: SessionId,
    pub expires_at: chrono::DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/jwks/rotate",
    operation_id = "rotateKey",
    tag = "Keys",
    summary = "Add a signing key: at once, or published first",
    params(RotateKey),
    responses(
        (status = 201, description = "The new key's id and when it signs", body = Rotated),
        (status = 400, description = "A malformed query", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn rotate_key(
    state: web::Data<AppState>,
    query: web::Query<RotateKey>,
) -> Result<HttpResponse, ApiError> {
    let keys = state.keys.clone();
    let staged = query.staged.unwrap_or(false);
    let (kid, not_before) = web::block(move || {
        let now = Utc::now();
        if staged {
            keys.rotate_staged(now)
        } else {
            keys.rotate(None, true, now).map(|kid| (kid, now))
        }
    })
    .await
    .map_err(ApiError::blocking)?
    .map_err(|e| ApiError::internal("rotating key", e))?;
    Ok(HttpResponse::Created().json(Rotated { kid, not_before }))
}

#[utoipa::path(
    get,
    path = "/jwks",
    operation_id = "listKeys",
    tag = "Keys",
    summary = "The stored keys",
    responses(
        (status = 200, description = "Every key, oldest first", body = Vec<KeyView>),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
async fn list_keys(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.keys.clone();
    let list = web::block(move || keys.list(Utc::now()))
        .await
        .map_err(ApiError::blocking)?
        .map_err(|e| ApiError::internal("listing keys", e))?;
    let body: Vec<KeyView> = list
        .into_iter()
        .map(|k| KeyView {
            kid: k.kid,
            alg: k.alg.name().to_owned(),
            created_at: k.created_at,
            not_before: k.not_before,
            retired_at: k.retired_at,
            published: k.published,
            signing: k.signing,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "Operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "The Prometheus text exposition", content_type = "text/plain", body = String),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
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
    .service(
        resource("/users/{id}/sessions", "GET, DELETE")
            .route(web::get().to(list_sessions))
            .route(web::delete().to(delete_sessions)),
    )
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
    .service(resource("/webhooks/deliveries/retry", "POST").route(web::post().to(retry_deliveries)))
    .service(resource("/jwks/rotate", "POST").route(web::post().to(rotate_key)))
    .service(resource("/jwks", "GET").route(web::get().to(list_keys)))
    .service(resource("/metrics", "GET").route(web::get().to(metrics)));
}
