//! SCIM 2.0 provisioning on the public listener (RFC 7643, RFC 7644; docs/scim.md), mounted
//! with `scim.enabled` at `/scim/v2`. Every request presents a SCIM client's token; every
//! answer is `application/scim+json`, and every error the SCIM error form with a `scimType`
//! where RFC 7644 §3.12 defines one, never our `{code, message}`.

pub mod discovery;
pub mod documents;
pub mod users;

use crate::http::receiver_auth::bearer;
use crate::routes::resource;
use crate::services::Services;
use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use domain::scim::store::ScimClient;
use domain::scim::{ScimError, ScimType, ERROR_SCHEMA};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde_json::{json, Value};

use discovery::{resource_types, schemas, service_provider_config};
use users::{create_user, delete_user, get_user, list_users, patch_user, replace_user};

/// SCIM's media type.
pub const SCIM_JSON: &str = "application/scim+json";
/// The largest request body read (413 beyond).
pub const MAX_BODY: usize = 1024 * 1024;

/// A SCIM answer.
pub fn scim(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(body.to_string())
}

/// A SCIM error, or our failure behind one (a 500 whose cause is logged, never shown).
#[derive(Debug)]
pub struct ScimHttpError {
    error: ScimError,
    /// Logged with the request id (the client sees a plain 500).
    internal: Option<crate::services::ServiceError>,
}

impl From<ScimError> for ScimHttpError {
    fn from(error: ScimError) -> Self {
        Self {
            error,
            internal: None,
        }
    }
}

impl From<crate::services::ServiceError> for ScimHttpError {
    fn from(e: crate::services::ServiceError) -> Self {
        let status = match &e {
            crate::services::ServiceError::Storage(persistence::OffloadError::Store {
                source: domain::ports::StoreError::Unavailable(_),
                ..
            }) => 503,
            _ => 500,
        };
        Self {
            error: ScimError::status(status, "the service could not complete the request"),
            internal: Some(e),
        }
    }
}

impl std::fmt::Display for ScimHttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for ScimHttpError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(internal) = &self.internal {
            log::error!("SCIM request failed: {}", crate::report::Report(internal));
        }
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.error.status.to_string(),
            "detail": self.error.detail,
        });
        if let (Some(kind), Some(map)) = (self.error.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), json!(kind.as_str()));
        }
        let mut response = scim(self.status_code(), &body);
        if self.error.status == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        response
    }
}

/// A SCIM client that presented its token.
pub struct ScimCaller(pub ScimClient);

impl FromRequest for ScimCaller {
    type Error = ScimHttpError;
    type Future = LocalBoxFuture<'static, Result<Self, ScimHttpError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let services = req.app_data::<web::Data<Services>>().cloned();
        Box::pin(async move {
            let unauthorized = || ScimError::status(401, "a SCIM client token is required");
            let (Some(token), Some(services)) = (token, services) else {
                return Err(unauthorized().into());
            };
            match services.scim_client(token).await? {
                Some(client) => Ok(Self(client)),
                None => Err(unauthorized().into()),
            }
        })
    }
}

/// A request body as JSON: at most [`MAX_BODY`] bytes (413), JSON (400 `invalidSyntax`).
pub struct ScimBody(pub Value);

impl FromRequest for ScimBody {
    type Error = ScimHttpError;
    type Future = LocalBoxFuture<'static, Result<Self, ScimHttpError>>;

    fn from_request(_: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let mut payload = payload.take();
        Box::pin(async move {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    ScimError::bad(ScimType::InvalidSyntax, "the body could not be read")
                })?;
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(ScimError::status(413, "the body is larger than 1 MiB").into());
                }
                body.extend_from_slice(&chunk);
            }
            serde_json::from_slice(&body).map(Self).map_err(|e| {
                ScimError::bad(ScimType::InvalidSyntax, format!("not JSON: {e}")).into()
            })
        })
    }
}

/// A path's user id: not a UUID is a user we do not have.
fn user_id(raw: &str) -> Result<domain::ids::UserId, ScimHttpError> {
    uuid::Uuid::parse_str(raw)
        .map(domain::ids::UserId)
        .map_err(|_| ScimError::status(404, "no such user").into())
}

/// What is not ours under `/scim/v2` (`/Groups` among it): 404 in SCIM's form.
async fn not_ours() -> Result<HttpResponse, ScimHttpError> {
    Err(ScimError::status(
        404,
        "not a resource of this service provider (only Users are)",
    )
    .into())
}

/// A method a SCIM resource does not take: 405 in SCIM's form.
fn scim_resource(path: &'static str, allow: &'static str) -> actix_web::Resource {
    resource(path, allow).default_service(web::to(move || async move {
        let mut response = ScimHttpError::from(ScimError::status(
            405,
            format!("this resource takes {allow}"),
        ))
        .error_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        Ok::<_, actix_web::Error>(response)
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        scim_resource("/scim/v2/ServiceProviderConfig", "GET")
            .route(web::get().to(service_provider_config)),
    )
    .service(scim_resource("/scim/v2/ResourceTypes", "GET").route(web::get().to(resource_types)))
    .service(
        scim_resource("/scim/v2/ResourceTypes/{name}", "GET")
            .route(web::get().to(discovery::resource_type)),
    )
    .service(scim_resource("/scim/v2/Schemas", "GET").route(web::get().to(schemas)))
    .service(scim_resource("/scim/v2/Schemas/{id}", "GET").route(web::get().to(discovery::schema)))
    .service(
        scim_resource("/scim/v2/Users", "GET, POST")
            .route(web::get().to(list_users))
            .route(web::post().to(create_user)),
    )
    .service(
        scim_resource("/scim/v2/Users/.search", "POST").route(web::post().to(users::search_users)),
    )
    .service(
        scim_resource("/scim/v2/.search", "POST").route(web::post().to(users::search_everything)),
    )
    .service(
        scim_resource("/scim/v2/Users/{id}", "GET, PUT, PATCH, DELETE")
            .route(web::get().to(get_user))
            .route(web::put().to(replace_user))
            .route(web::patch().to(patch_user))
            .route(web::delete().to(delete_user)),
    )
    .service(web::scope("/scim/v2").default_service(web::to(not_ours)));
}
