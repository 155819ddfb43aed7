//! The SSF receivers, on the admin listener: an operator creates one (its token is shown once,
//! stored only as its hash), lists them, or removes one with its streams.

use super::AdminRefusals;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_object::JsonObject;
use crate::http::request_id::request_context;
use crate::services::streams::Refused;
use crate::services::Services;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::ssf::Receiver;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new receiver.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReceiver {
    /// Who it is, for operators.
    #[schema(example = "risk-engine", min_length = 1, max_length = 200)]
    pub name: String,
    /// The `aud` of every SET its streams carry (its client id or URL).
    #[schema(example = "https://rp.example", min_length = 1, max_length = 2048)]
    pub audience: String,
}

/// A receiver, as listed.
#[derive(Serialize, ToSchema)]
#[schema(as = SsfReceiver)]
pub struct ReceiverView {
    pub id: uuid::Uuid,
    pub name: String,
    pub audience: String,
    pub created_at: chrono::DateTime<Utc>,
}

/// A receiver just created, with its token (shown this once).
#[derive(Serialize, ToSchema)]
pub struct CreatedReceiver {
    pub id: uuid::Uuid,
    pub name: String,
    pub audience: String,
    pub created_at: chrono::DateTime<Utc>,
    /// `Authorization: Bearer <token>` on the transmitter's endpoints. Not shown again.
    pub token: String,
}

impl From<Receiver> for ReceiverView {
    fn from(r: Receiver) -> Self {
        Self {
            id: r.id,
            name: r.name,
            audience: r.audience,
            created_at: r.created_at,
        }
    }
}

/// Between 1 and `max` characters, as the OpenAPI document says.
fn text_ok(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.chars().count())
}

#[utoipa::path(
    post,
    path = "/ssf/receivers",
    operation_id = "createSsfReceiver",
    tag = "Shared Signals",
    summary = "Create an SSF receiver and its token",
    request_body = CreateReceiver,
    responses(
        (status = 201, description = "The receiver, with its token (shown once)", body = CreatedReceiver),
        (status = 400, description = "Not valid JSON, an unknown field, a name or audience empty or too long, or an audience that is one of `session.audience`", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub async fn create(
    req: HttpRequest,
    services: web::Data<Services>,
    body: JsonObject<CreateReceiver>,
) -> Result<HttpResponse, ApiError> {
    let CreateReceiver { name, audience } = body.0;
    if !text_ok(&name, 200) {
        return Err(ApiError::bad_request("name: 1 to 200 characters"));
    }
    if !text_ok(&audience, 2048) {
        return Err(ApiError::bad_request("audience: 1 to 2048 characters"));
    }
    let created = services
        .create_receiver(name, audience, request_context(&req))
        .await?
        .map_err(|_: Refused| {
            ApiError::bad_request(
                "audience: one of session.audience; a receiver's audience must be its own",
            )
        })?;
    let receiver = created.receiver;
    Ok(HttpResponse::Created().json(CreatedReceiver {
        id: receiver.id,
        name: receiver.name,
        audience: receiver.audience,
        created_at: receiver.created_at,
        token: created.token,
    }))
}

#[utoipa::path(
    get,
    path = "/ssf/receivers",
    operation_id = "listSsfReceivers",
    tag = "Shared Signals",
    summary = "The SSF receivers (never their tokens)",
    responses(
        (status = 200, description = "Every receiver, oldest first", body = Vec<ReceiverView>),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub async fn list(services: web::Data<Services>) -> Result<HttpResponse, ApiError> {
    let receivers = services.list_receivers().await?;
    let body: Vec<ReceiverView> = receivers.into_iter().map(ReceiverView::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    delete,
    path = "/ssf/receivers/{id}",
    operation_id = "deleteSsfReceiver",
    tag = "Shared Signals",
    summary = "Remove a receiver; its streams end and their undelivered events are dropped",
    params(("id" = uuid::Uuid, Path, description = "The receiver")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 404, description = "No such receiver", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub async fn delete(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    if services
        .delete_receiver(path.into_inner(), request_context(&req))
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::status(StatusCode::NOT_FOUND))
    }
}

/// Mounts the receivers' administration (admin listener).
pub fn configure(cfg: &mut web::ServiceConfig) {
    use crate::routes::resource;
    cfg.service(
        resource("/ssf/receivers", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(resource("/ssf/receivers/{id}", "DELETE").route(web::delete().to(delete)));
}
