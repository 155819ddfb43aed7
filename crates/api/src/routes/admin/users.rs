//! Users: create, list, read, delete; restore a scheduled deletion, set or release a legal
//! hold; export.

use super::{paging, AdminRefusals};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_object::JsonObject;
use crate::http::request_id::request_context;
use crate::routes::export::{export, Reader};
use crate::routes::views::{ExportView, UserView};
use crate::services::accounts::OperatorDeletionOutcome;
use crate::services::Services;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::email::EmailsRefused;
use domain::ids::UserId;
use domain::model::{LegalHold, NewEmail, UserStatus};
use domain::ports::{ChangeOutcome, DeletionChangeKind};
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
pub(crate) async fn create_user(
    services: web::Data<Services>,
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
    let user = services.create_user(emails).await?.map_err(refused)?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListUsers {
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
pub(crate) async fn list_users(
    services: web::Data<Services>,
    query: web::Query<ListUsers>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (page, per_page) = paging(q.page, q.per_page)?;
    let (users, total) = services
        .list_users(page, per_page, q.email, q.status)
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
pub(crate) async fn get_user(
    services: web::Data<Services>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let user = services
        .find_user(id.into_inner())
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
pub(crate) async fn delete_user(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    match services
        .delete_by_operator(id.into_inner(), request_context(&req))
        .await?
    {
        OperatorDeletionOutcome::Deleted => Ok(HttpResponse::NoContent().finish()),
        OperatorDeletionOutcome::NotFound => Err(ApiError::status(StatusCode::NOT_FOUND)),
        OperatorDeletionOutcome::Held => Err(ApiError::status(StatusCode::CONFLICT)),
    }
}

/// Runs an operator's change to a user's deletion state and answers with the user.
async fn change_deletion(
    req: &HttpRequest,
    services: &Services,
    user_id: UserId,
    change: DeletionChangeKind,
) -> Result<HttpResponse, ApiError> {
    match services
        .change_deletion(user_id, change, request_context(req))
        .await?
    {
        ChangeOutcome::Changed(user) => Ok(HttpResponse::Ok().json(UserView::from(&user))),
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
pub(crate) async fn restore_user(
    req: HttpRequest,
    services: web::Data<Services>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    change_deletion(
        &req,
        &services,
        id.into_inner(),
        DeletionChangeKind::Restore,
    )
    .await
}

/// A legal hold to set or release.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldRequest {
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
pub(crate) async fn hold_user(
    req: HttpRequest,
    services: web::Data<Services>,
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
        &services,
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
pub(crate) async fn export_user(
    services: web::Data<Services>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    export(&services, id.into_inner(), Reader::Operator)
        .await?
        .ok_or(ApiError::status(StatusCode::NOT_FOUND))
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
