//! The Shared Signals transmitter on the public listener (OpenID SSF 1.0; docs/events.md, "Shared
//! Signals"), mounted with `ssf.enabled`: the metadata, and, for receivers presenting their
//! token, their streams' configuration, status, subjects, verification and poll delivery
//! (RFC 8936). A receiver reaches only its own streams: another's is a 404, like one that does
//! not exist.

mod requests;

use crate::config::Transmitter;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::receiver_auth::AuthenticatedReceiver;
use crate::http::request_id::request_context;
use crate::routes::resource;
use crate::services::streams::{Polled, Refused, LONG_POLL_RECHECK};
use crate::services::Services;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::ssf::{self, Delivery, Receiver, Stream, StreamConfig, Verification};
use requests::{
    body, CreateStream, OneStream, PollBody, ReplaceStream, StatusRequest, StreamQuery,
    SubjectChange, UpdateStream, VerifyRequest,
};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// What every receiver operation may answer besides its own.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum ReceiverRefusals {
    #[response(
        status = 400,
        description = "Not a JSON object, or a property missing, malformed or unknown"
    )]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "No receiver token, or not one of ours", headers(("WWW-Authenticate" = String, description = "Bearer")))]
    Unauthorized(ErrorBody),
    #[response(status = 404, description = "No such stream of this receiver")]
    NotFound(ErrorBody),
    #[response(status = 500, description = "Internal server error")]
    Internal(ErrorBody),
}

/// `GET /.well-known/ssf-configuration` (SSF 1.0 §7.1).
#[derive(Serialize, ToSchema)]
pub struct TransmitterMetadata {
    #[schema(example = "1_0")]
    spec_version: &'static str,
    issuer: String,
    jwks_uri: String,
    delivery_methods_supported: [&'static str; 2],
    configuration_endpoint: String,
    status_endpoint: String,
    add_subject_endpoint: String,
    remove_subject_endpoint: String,
    verification_endpoint: String,
    /// `ALL` or `NONE`.
    default_subjects: &'static str,
    #[schema(value_type = Vec<Object>)]
    authorization_schemes: Value,
}

/// A stream's configuration, as a receiver sees it (SSF 1.0 §8.1.1).
#[derive(Serialize, ToSchema)]
pub struct StreamView {
    stream_id: String,
    iss: String,
    aud: String,
    /// `method`, and `endpoint_url` (the receiver's push URL, or the URL to poll). A push
    /// stream's `authorization_header` is never shown back.
    #[schema(value_type = Object)]
    delivery: Value,
    events_supported: Vec<&'static str>,
    events_requested: Vec<String>,
    events_delivered: Vec<String>,
    /// Seconds a verification request must wait after the last (429 sooner).
    min_verification_interval: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// A stream's status (SSF 1.0 §8.1.2).
#[derive(Serialize, ToSchema)]
pub struct StatusView {
    stream_id: String,
    /// `enabled`, `paused` or `disabled`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// An RFC 8936 poll answer.
#[derive(Serialize, ToSchema)]
pub struct PollView {
    /// jti → SET.
    #[schema(value_type = Object)]
    sets: Map<String, Value>,
    #[serde(rename = "moreAvailable")]
    more_available: bool,
}

/// `GET /ssf/stream`: one stream (with `stream_id`), or the list.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // described; the handler answers either form
pub enum StreamOrStreams {
    One(StreamView),
    All(Vec<StreamView>),
}

fn view(
    state: &Services,
    transmitter: &Transmitter,
    receiver: &Receiver,
    stream: &Stream,
) -> StreamView {
    let delivery = match &stream.config.delivery {
        Delivery::Push { endpoint_url, .. } => {
            json!({ "method": ssf::PUSH, "endpoint_url": endpoint_url })
        }
        Delivery::Poll => json!({
            "method": ssf::POLL,
            "endpoint_url": transmitter.base_url.join(&format!("/ssf/poll/{}", stream.id)),
        }),
    };
    StreamView {
        stream_id: stream.id.to_string(),
        iss: transmitter.issuer.to_string(),
        aud: receiver.audience.clone(),
        delivery,
        events_supported: ssf::EVENTS_SUPPORTED.to_vec(),
        events_requested: stream.config.events_requested.clone(),
        events_delivered: stream.config.events_delivered(),
        min_verification_interval: state.config.ssf.min_verification_interval.std().as_secs(),
        description: stream.config.description.clone(),
    }
}

fn status_view(stream: &Stream) -> StatusView {
    StatusView {
        stream_id: stream.id.to_string(),
        status: stream.status.as_str(),
        reason: stream.status_reason.clone(),
    }
}

/// A refused configuration is the receiver's mistake: a quota reached conflicts.
fn refused(refused: Refused) -> ApiError {
    match refused {
        Refused::Quota(quota) => ApiError::refused(
            StatusCode::CONFLICT,
            format!("{quota} (ssf.max_streams_per_receiver)"),
        ),
        Refused::Unreachable => requests::bad_request(
            "delivery.endpoint_url: address not allowed (not public and not in ssf.push.allow_networks, or this instance's own listener)",
        ),
        Refused::SessionAudience => requests::bad_request("audience: one of session.audience"),
    }
}

fn not_found() -> ApiError {
    ApiError::status(actix_web::http::StatusCode::NOT_FOUND)
}

#[utoipa::path(
    get,
    path = "/.well-known/ssf-configuration",
    operation_id = "getSsfConfiguration",
    tag = "Shared Signals",
    summary = "The transmitter's metadata",
    responses((status = 200, description = "Every endpoint an absolute URL", body = TransmitterMetadata))
)]
pub async fn metadata(transmitter: web::Data<Transmitter>) -> HttpResponse {
    let url = |path: &str| transmitter.base_url.join(path);
    HttpResponse::Ok().json(TransmitterMetadata {
        spec_version: "1_0",
        issuer: transmitter.issuer.to_string(),
        jwks_uri: url("/.well-known/jwks.json"),
        delivery_methods_supported: [ssf::PUSH, ssf::POLL],
        configuration_endpoint: url("/ssf/stream"),
        status_endpoint: url("/ssf/status"),
        add_subject_endpoint: url("/ssf/subjects/add"),
        remove_subject_endpoint: url("/ssf/subjects/remove"),
        verification_endpoint: url("/ssf/verify"),
        default_subjects: match transmitter.default_subjects {
            ssf::DefaultSubjects::All => "ALL",
            ssf::DefaultSubjects::None => "NONE",
        },
        authorization_schemes: json!([{ "spec_urn": "urn:ietf:rfc:6750" }]),
    })
}

#[utoipa::path(
    post,
    path = "/ssf/stream",
    operation_id = "createStream",
    tag = "Shared Signals",
    summary = "Create a stream",
    request_body = requests::CreateStream,
    responses(
        (status = 201, description = "The stream, enabled", body = StreamView),
        (status = 409, description = "This receiver already pushes to this endpoint, or has as many streams as it may", body = ErrorBody),
        ReceiverRefusals,
    ),
    security(("ReceiverAuth" = []))
)]
pub async fn create_stream(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    transmitter: web::Data<Transmitter>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let config = body::<CreateStream>(&bytes)?.config()?;
    let stream = services
        .create_stream(receiver.0.clone(), config, request_context(&req))
        .await?
        .map_err(refused)?;
    Ok(HttpResponse::Created().json(view(&services, &transmitter, &receiver.0, &stream)))
}

#[utoipa::path(
    get,
    path = "/ssf/stream",
    operation_id = "getStreams",
    tag = "Shared Signals",
    summary = "One stream, or all of the receiver's",
    params(requests::StreamQuery),
    responses(
        (status = 200, description = "The stream (with `stream_id`), or the list", body = StreamOrStreams),
        ReceiverRefusals,
    ),
    security(("ReceiverAuth" = []))
)]
pub async fn get_streams(
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    transmitter: web::Data<Transmitter>,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    match query.stream_id {
        Some(id) => {
            let stream = services
                .stream(receiver.0.clone(), id)
                .await?
                .ok_or_else(not_found)?;
            Ok(HttpResponse::Ok().json(view(&services, &transmitter, &receiver.0, &stream)))
        }
        None => {
            let streams = services.streams(receiver.0.clone()).await?;
            let views: Vec<StreamView> = streams
                .iter()
                .map(|s| view(&services, &transmitter, &receiver.0, s))
                .collect();
            Ok(HttpResponse::Ok().json(views))
        }
    }
}

async fn write_stream(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    transmitter: web::Data<Transmitter>,
    id: uuid::Uuid,
    config: impl FnOnce(&StreamConfig) -> Result<StreamConfig, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let current = services
        .stream(receiver.0.clone(), id)
        .await?
        .ok_or_else(not_found)?;
    let config = config(&current.config)?;
    let stream = services
        .update_stream(receiver.0.clone(), id, config, request_context(&req))
        .await?
        .map_err(refused)?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(view(&services, &transmitter, &receiver.0, &stream)))
}

#[utoipa::path(
    patch,
    path = "/ssf/stream",
    operation_id = "updateStream",
    tag = "Shared Signals",
    summary = "Change some of a stream's configuration",
    request_body = requests::UpdateStream,
    responses(
        (status = 200, description = "The stream", body = StreamView),
        (status = 409, description = "This receiver already pushes to this endpoint", body = ErrorBody),
        ReceiverRefusals,
    ),
    security(("ReceiverAuth" = []))
)]
pub async fn update_stream(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    transmitter: web::Data<Transmitter>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let update = body::<UpdateStream>(&bytes)?;
    let id = update.stream_id;
    write_stream(req, receiver, services, transmitter, id, |current| {
        update.config(current)
    })
    .await
}

#[utoipa::path(
    put,
    path = "/ssf/stream",
    operation_id = "replaceStream",
    tag = "Shared Signals",
    summary = "Replace a stream's configuration",
    request_body = requests::ReplaceStream,
    responses(
        (status = 200, description = "The stream", body = StreamView),
        (status = 409, description = "This receiver already pushes to this endpoint", body = ErrorBody),
        ReceiverRefusals,
    ),
    security(("ReceiverAuth" = []))
)]
pub async fn replace_stream(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    transmitter: web::Data<Transmitter>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let replace = body::<ReplaceStream>(&bytes)?;
    let id = replace.stream_id;
    write_stream(req, receiver, services, transmitter, id, |_| {
        replace.config()
    })
    .await
}

#[utoipa::path(
    delete,
    path = "/ssf/stream",
    operation_id = "deleteStream",
    tag = "Shared Signals",
    summary = "Delete a stream (its undelivered events with it)",
    params(requests::OneStream),
    responses((status = 204, description = "Deleted"), ReceiverRefusals),
    security(("ReceiverAuth" = []))
)]
pub async fn delete_stream(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    query: web::Query<OneStream>,
) -> Result<HttpResponse, ApiError> {
    if services
        .delete_stream(receiver.0, query.stream_id, request_context(&req))
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found())
    }
}

#[utoipa::path(
    get,
    path = "/ssf/status",
    operation_id = "getStreamStatus",
    tag = "Shared Signals",
    summary = "A stream's status",
    params(requests::OneStream),
    responses((status = 200, description = "The status", body = StatusView), ReceiverRefusals),
    security(("ReceiverAuth" = []))
)]
pub async fn get_status(
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    query: web::Query<OneStream>,
) -> Result<HttpResponse, ApiError> {
    let stream = services
        .stream(receiver.0, query.stream_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(status_view(&stream)))
}

#[utoipa::path(
    post,
    path = "/ssf/status",
    operation_id = "setStreamStatus",
    tag = "Shared Signals",
    summary = "Enable, pause (events kept) or disable (events dropped) a stream",
    request_body = requests::StatusRequest,
    responses((status = 200, description = "The new status", body = StatusView), ReceiverRefusals),
    security(("ReceiverAuth" = []))
)]
pub async fn set_status(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, status, reason) = body::<StatusRequest>(&bytes)?.read()?;
    let stream = services
        .set_stream_status(receiver.0, id, status, reason, request_context(&req))
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(status_view(&stream)))
}

async fn change_subject(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    bytes: web::Bytes,
    add: bool,
) -> Result<(), ApiError> {
    let (id, subject) = body::<SubjectChange>(&bytes)?.subject()?;
    services
        .change_subject(receiver.0, id, subject, add, request_context(&req))
        .await?
        .ok_or_else(not_found)
}

#[utoipa::path(
    post,
    path = "/ssf/subjects/add",
    operation_id = "addSubject",
    tag = "Shared Signals",
    summary = "Add a subject to a stream",
    request_body = requests::SubjectChange,
    responses((status = 200, description = "Added"), ReceiverRefusals),
    security(("ReceiverAuth" = []))
)]
pub async fn add_subject(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_subject(req, receiver, services, bytes, true).await?;
    Ok(HttpResponse::Ok().finish())
}

#[utoipa::path(
    post,
    path = "/ssf/subjects/remove",
    operation_id = "removeSubject",
    tag = "Shared Signals",
    summary = "Remove a subject from a stream",
    request_body = requests::SubjectChange,
    responses((status = 204, description = "Removed"), ReceiverRefusals),
    security(("ReceiverAuth" = []))
)]
pub async fn remove_subject(
    req: HttpRequest,
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_subject(req, receiver, services, bytes, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/ssf/verify",
    operation_id = "verifyStream",
    tag = "Shared Signals",
    summary = "Send a verification event through a stream",
    request_body = requests::VerifyRequest,
    responses(
        (status = 204, description = "The verification event is on its way"),
        (status = 429, description = "Sooner than `min_verification_interval` after the last", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds until a verification may be asked for"))),
        ReceiverRefusals,
    ),
    security(("ReceiverAuth" = []))
)]
pub async fn verify(
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, state) = body::<VerifyRequest>(&bytes)?.state()?;
    match services.request_verification(receiver.0, id, state).await? {
        Verification::Requested => Ok(HttpResponse::NoContent().finish()),
        Verification::NotFound => Err(not_found()),
        Verification::TooSoon(wait) => Err(ApiError::too_many_requests(
            wait.to_std().unwrap_or_default(),
            "sooner than min_verification_interval after the last verification",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/ssf/poll/{stream_id}",
    operation_id = "pollStream",
    tag = "Shared Signals",
    summary = "Poll delivery (RFC 8936): acknowledge, and fetch SETs not yet acknowledged",
    params(("stream_id" = uuid::Uuid, Path, description = "The stream")),
    request_body = requests::PollBody,
    responses(
        (status = 200, description = "SETs by jti", body = PollView),
        (status = 429, description = "As many long polls wait on this stream as may", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds before polling again"))),
        ReceiverRefusals,
    ),
    security(("ReceiverAuth" = []))
)]
pub async fn poll(
    receiver: AuthenticatedReceiver,
    services: web::Data<Services>,
    transmitter: web::Data<Transmitter>,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = path.parse::<uuid::Uuid>().map_err(requests::bad_request)?;
    let request = body::<PollBody>(&bytes)?.read()?;
    match services.poll(&transmitter, receiver.0, id, request).await? {
        Polled::Sets {
            sets,
            more_available,
        } => Ok(HttpResponse::Ok().json(PollView {
            sets: sets
                .into_iter()
                .map(|(jti, set)| (jti.to_string(), Value::String(set)))
                .collect(),
            more_available,
        })),
        Polled::NotFound => Err(not_found()),
        Polled::TooManyWaiting => Err(ApiError::too_many_requests(
            LONG_POLL_RECHECK,
            "as many polls wait on this stream as may (ssf.poll.max_waiting_per_stream)",
        )),
    }
}

/// Mounts the transmitter's endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/.well-known/ssf-configuration", "GET").route(web::get().to(metadata)))
        .service(
            resource("/ssf/stream", "GET, POST, PATCH, PUT, DELETE")
                .route(web::get().to(get_streams))
                .route(web::post().to(create_stream))
                .route(web::patch().to(update_stream))
                .route(web::put().to(replace_stream))
                .route(web::delete().to(delete_stream)),
        )
        .service(
            resource("/ssf/status", "GET, POST")
                .route(web::get().to(get_status))
                .route(web::post().to(set_status)),
        )
        .service(resource("/ssf/subjects/add", "POST").route(web::post().to(add_subject)))
        .service(resource("/ssf/subjects/remove", "POST").route(web::post().to(remove_subject)))
        .service(resource("/ssf/verify", "POST").route(web::post().to(verify)))
        .service(resource("/ssf/poll/{stream_id}", "POST").route(web::post().to(poll)));
}
