//! The SCIM clients, on the admin listener: an operator creates one for an identity provider
//! (its token is shown once, stored only as its hash), lists them, or revokes one.

use super::AdminRefusals;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_object::JsonObject;
use crate::http::request_id::request_context;
use crate::services::Services;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::scim::store::ScimClient;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new SCIM client.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimClient {
    /// Which provider it is, for operators and the audit log.
    #[schema(example = "entra-id", min_length = 1, max_length = 200)]
    pub name: String,
}

/// A SCIM client, as listed.
#[derive(Serialize, ToSchema)]
#[schema(as = ScimClient)]
pub struct ScimClientView {
    pub id: uuid::Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<Utc>,
}

/// A SCIM client just created, with its token (shown this once).
#[derive(Serialize, ToSchema)]
pub struct CreatedScimClient {
    pub id: uuid::Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<Utc>,
    /// `Authorization: Bearer <token>` on `/scim/v2`. Not shown again.
    pub token: String,
}

impl From<ScimClient> for ScimClientView {
    fn from(c: ScimClient) -> Self {
        Self {
            id: c.id,
            name: c.name,
            created_at: c.created_at,
        }
    }
}

#[utoipa::path(
    post,
    path = "/scim/clients",
    operation_id = "createScimClient",
    tag = "SCIM",
    summary = "Create a SCIM client and its token",
    request_body = CreateScimClient,
    responses(
        (status = 201, description = "The client, with its token (shown once)", body = CreatedScimClient),
        (status = 400, description = "Not valid JSON, an unknown field, a name empty or too long", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub async fn create(
    req: HttpRequest,
    services: web::Data<Services>,
    body: JsonObject<CreateScimClient>,
) -> Result<HttpResponse, ApiError> {
    let name = body.0.name;
    if !(1..=200).contains(&name.chars().count()) {
        return Err(ApiError::bad_request("name: 1 to 200 characters"));
    }
    let created = services
        .create_scim_client(name, request_context(&req))
        .await?;
    Ok(HttpResponse::Created().json(CreatedScimClient {
        id: created.client.id,
        name: created.client.name,
        created_at: created.client.created_at,
        token: created.token,
    }))
}

#[utoipa::path(
    get,
    path = "/scim/clients",
    operation_id = "listScimClients",
    tag = "SCIM",
    summary = "The SCIM clients (never their tokens)",
    responses(
        (status = 200, description = "Every client, oldest first", body = Vec<ScimClientView>),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub async fn list(services: web::Data<Services>) -> Result<HttpResponse, ApiError> {
    let clients = services.list_scim_clients().await?;
    let body: Vec<ScimClientView> = clients.into_iter().map(ScimClientView::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    delete,
    path = "/scim/clients/{id}",
    operation_id = "revokeScimClient",
    tag = "SCIM",
    summary = "Revoke a SCIM client: its token stops working at once",
    params(("id" = uuid::Uuid, Path, description = "The client")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 404, description = "No such client", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub async fn revoke(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    if services
        .revoke_scim_client(path.into_inner(), request_context(&req))
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::status(StatusCode::NOT_FOUND))
    }
}

/// Mounts the SCIM clients' administration (admin listener).
pub fn configure(cfg: &mut web::ServiceConfig) {
    use crate::routes::resource;
    cfg.service(
        resource("/scim/clients", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(resource("/scim/clients/{id}", "DELETE").route(web::delete().to(revoke)));
}
