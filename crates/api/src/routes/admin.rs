//! The admin API (SPEC §8): for operators and tests, on its own listener.

use super::public::{request_context, user_json};
use crate::error::{blocking, ApiError};
use crate::issue::{issue_session, IssueError};
use crate::metrics::Gauges;
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::ids::{SessionId, UserId};
use domain::model::NewEmail;
use domain::ports::{
    AccountStore, AuditLogFilter, DeletedBy, Deletion, DeliveryStatus, EventLog, Outbox,
    SessionStore, USER_DELETE_EVENT,
};
use serde::Deserialize;
use serde_json::json;

/// Constant-time comparison, so the API key cannot be guessed byte by byte from timings.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// When `server.admin.api_key` is set, every admin request needs `Authorization: Bearer <key>`
/// (health checks excepted, so orchestrators can probe).
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let expected = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.config.server.admin.api_key.clone());
    if let Some(expected) = expected {
        if !req.path().starts_with("/health/") {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, key)| key.trim().to_owned())
                .unwrap_or_default();
            if !same_secret(presented.as_bytes(), expected.expose().as_bytes()) {
                return Err(ApiError::unauthorized().into());
            }
        }
    }
    next.call(req).await
}

fn parse_id<T: std::str::FromStr>(s: &str) -> Result<T, ApiError> {
    s.parse()
        .map_err(|_| ApiError::status(StatusCode::BAD_REQUEST))
}

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

/// A deliberately plain check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Validates the e-mail list of a new user.
pub fn validate_emails(emails: &[NewEmail]) -> Result<(), ApiError> {
    let bad = || ApiError::status(StatusCode::BAD_REQUEST);
    if emails.iter().any(|e| !is_email(&e.address)) {
        return Err(bad());
    }
    if emails.iter().filter(|e| e.is_primary).count() > 1 {
        return Err(bad());
    }
    let mut seen: Vec<String> = emails.iter().map(|e| e.address.to_lowercase()).collect();
    seen.sort();
    seen.dedup();
    if seen.len() != emails.len() {
        return Err(ApiError::status(StatusCode::CONFLICT));
    }
    Ok(())
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
    validate_emails(&emails)?;
    let db = state.db.clone();
    let user = blocking("creating user", move || db.create_user(&emails, Utc::now())).await?;
    Ok(HttpResponse::Created().json(user_json(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListUsers {
    page: Option<u32>,
    per_page: Option<u32>,
    email: Option<String>,
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
        )
    })
    .await?;
    let body: Vec<_> = users.iter().map(user_json).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(body))
}

async fn get_user(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = parse_id(&path)?;
    let db = state.db.clone();
    let user = blocking("loading user", move || db.find_user(id))
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = parse_id(&path)?;
    let deletion = Deletion {
        user_id: id,
        by: DeletedBy::Admin,
        context: request_context(&req),
        audit: state.config.audit_log.clone(),
        no_subscribers: !state.config.webhooks.has_subscribers(USER_DELETE_EVENT),
        at: Utc::now(),
    };
    let db = state.db.clone();
    match blocking("deleting user", move || db.delete_user(&deletion)).await? {
        Some(_) => {
            state.metrics.user_deleted(true);
            if state.config.webhooks.has_subscribers(USER_DELETE_EVENT) {
                state.outbox_written.notify_one();
            }
            Ok(HttpResponse::NoContent().finish())
        }
        None => Err(ApiError::status(StatusCode::NOT_FOUND)),
    }
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
    let user_id: UserId = parse_id(&body.user_id)?;
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
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = parse_id(&path)?;
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
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user, session) = path.into_inner();
    let user: UserId = parse_id(&user)?;
    let session: SessionId = parse_id(&session)?;
    let db = state.db.clone();
    if blocking("deleting session", move || db.delete_session(user, session)).await? {
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
    actor_user_id: Option<String>,
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
        actor_user_id: q.actor_user_id.as_deref().map(parse_id).transpose()?,
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
}

async fn list_deliveries(
    state: web::Data<AppState>,
    query: web::Query<ListDeliveries>,
) -> Result<HttpResponse, ApiError> {
    let status = match query.status.as_deref() {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("delivered") => Some(DeliveryStatus::Delivered),
        Some("dead") => Some(DeliveryStatus::Dead),
        Some(_) => return Err(ApiError::status(StatusCode::BAD_REQUEST)),
    };
    let db = state.db.clone();
    let events = blocking("listing deliveries", move || db.list_outbox(status)).await?;
    Ok(HttpResponse::Ok().json(events))
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
    let counts = web::block(move || db.outbox_counts())
        .await
        .ok()
        .and_then(Result::ok);
    let pool = state.db.pool_state();
    let gauges = Gauges {
        pool_connections: pool.connections,
        pool_idle: pool.idle_connections,
        pool_max: pool.max_size,
        outbox_pending: counts.map(|c| c.pending),
        outbox_dead: counts.map(|c| c.dead),
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&gauges))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::resource;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        for good in ["a@b.c", "jane.doe+x@example.co.uk"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "", "a", "a@", "@b.c", "a@b", "a b@c.d", "a@b@c.d", "a@.c", "a@c.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn constant_time_compare() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
