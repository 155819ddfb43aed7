//! Sessions: issue one with its token, list a user's, end one, end them all.

use super::AdminRefusals;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_object::JsonObject;
use crate::http::request_id::request_context;
use crate::routes::views::SessionView;
use crate::services::Services;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::events::SessionEndReason;
use domain::ids::{SessionId, UserId};
use serde::Deserialize;
use utoipa::ToSchema;

/// A session to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSession {
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
        (status = 409, description = "The user's deletion is scheduled, or the user is deactivated (SCIM)", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub(crate) async fn create_session(
    services: web::Data<Services>,
    body: JsonObject<CreateSession>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let user_id: UserId = body
        .user_id
        .parse()
        .map_err(|_| ApiError::status(StatusCode::BAD_REQUEST))?;
    let issued = services
        .issue_session(user_id, body.user_agent, body.ip_address)
        .await?
        .map_err(|_| ApiError::status(StatusCode::NOT_FOUND))?;
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
pub(crate) async fn list_sessions(
    services: web::Data<Services>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let sessions = services
        .list_sessions(id.into_inner())
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
pub(crate) async fn delete_session(
    services: web::Data<Services>,
    path: web::Path<(UserId, SessionId)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, session_id) = path.into_inner();
    if services
        .end_session(user_id, session_id, SessionEndReason::Admin)
        .await?
    {
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
pub(crate) async fn delete_sessions(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    services
        .end_every_session(path.into_inner(), request_context(&req))
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))?;
    Ok(HttpResponse::NoContent().finish())
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
