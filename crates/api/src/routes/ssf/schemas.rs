//! The receivers' request and response bodies as the OpenAPI document describes them, exactly
//! enough that every body the schemas allow is one the handlers accept (the handlers read the
//! bodies themselves, in `input`, with the same rules).

#![allow(dead_code)] // described, never constructed: `input` reads the bodies

use serde::{Deserialize, Serialize};

use utoipa::{IntoParams, ToSchema};

/// `urn:ietf:rfc:8935`.
#[derive(Deserialize, ToSchema)]
pub enum PushMethod {
    #[serde(rename = "urn:ietf:rfc:8935")]
    Push,
}

/// `urn:ietf:rfc:8936`.
#[derive(Deserialize, ToSchema)]
pub enum PollMethod {
    #[serde(rename = "urn:ietf:rfc:8936")]
    Poll,
}

/// Push delivery (RFC 8935): SETs POSTed to the receiver's endpoint.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushDelivery {
    pub method: PushMethod,
    /// An absolute http(s) URL: a host name (or IPv4 address), an optional port, a path of URL
    /// characters (percent-encode the rest); no user-info, no IPv6 literal.
    #[schema(
        pattern = r"^https?://[A-Za-z0-9._~%!$&'()*+,;=-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/?#-]*)?$",
        max_length = 2048
    )]
    pub endpoint_url: String,
    /// Sent as `Authorization` with every push; never shown back.
    #[schema(pattern = r"^[^\x00-\x1f\x7f]*$", max_length = 4096)]
    pub authorization_header: Option<String>,
}

/// Poll delivery (RFC 8936): the receiver polls the URL the transmitter gives.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollDelivery {
    pub method: PollMethod,
    /// The transmitter's poll URL, when a receiver sends a configuration back (ignored).
    #[schema(max_length = 2048)]
    pub endpoint_url: Option<String>,
}

/// How a stream's events leave.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DeliveryRequest {
    Push(PushDelivery),
    Poll(PollDelivery),
}

/// An event type URI: a string of 1 to 1024 characters.
#[derive(Deserialize)]
pub struct EventType(pub String);

impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(1024))
            .into()
    }
}

impl ToSchema for EventType {}

/// `POST /ssf/stream`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStream {
    pub delivery: DeliveryRequest,
    /// Absent: every event this transmitter supports.
    #[schema(max_items = 64)]
    pub events_requested: Option<Vec<EventType>>,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
}

/// `PATCH /ssf/stream`: the properties given replace the stream's.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStream {
    pub stream_id: uuid::Uuid,
    pub delivery: Option<DeliveryRequest>,
    #[schema(max_items = 64)]
    pub events_requested: Option<Vec<EventType>>,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
}

/// `PUT /ssf/stream`: the whole configuration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceStream {
    pub stream_id: uuid::Uuid,
    pub delivery: DeliveryRequest,
    #[schema(max_items = 64)]
    pub events_requested: Option<Vec<EventType>>,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
}

/// A stream status.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Enabled,
    Paused,
    Disabled,
}

/// `POST /ssf/status`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub stream_id: uuid::Uuid,
    pub status: Status,
    #[schema(max_length = 1024)]
    pub reason: Option<String>,
}

/// `opaque`.
#[derive(Deserialize, ToSchema)]
pub enum OpaqueFormat {
    #[serde(rename = "opaque")]
    Opaque,
}

/// `email`.
#[derive(Deserialize, ToSchema)]
pub enum EmailFormat {
    #[serde(rename = "email")]
    Email,
}

/// An opaque subject: the user id.
#[derive(Deserialize, ToSchema)]
pub struct OpaqueSubject {
    pub format: OpaqueFormat,
    #[schema(min_length = 1, max_length = 320)]
    pub id: String,
}

/// An e-mail subject.
#[derive(Deserialize, ToSchema)]
pub struct EmailSubject {
    pub format: EmailFormat,
    #[schema(min_length = 1, max_length = 320)]
    pub email: String,
}

/// A subject (RFC 9493): opaque or e-mail.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SubjectRequest {
    Opaque(OpaqueSubject),
    Email(EmailSubject),
}

/// `POST /ssf/subjects/add|remove`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectChange {
    pub stream_id: uuid::Uuid,
    pub subject: SubjectRequest,
    pub verified: Option<bool>,
}

/// `POST /ssf/verify`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub stream_id: uuid::Uuid,
    /// Echoed in the verification event.
    #[schema(max_length = 1024)]
    pub state: Option<String>,
}

/// A receiver's error for one SET (RFC 8936 §2.4).
#[derive(Deserialize, ToSchema)]
pub struct SetError {
    #[schema(pattern = "^[A-Za-z0-9_]{1,64}$")]
    pub err: String,
    pub description: Option<String>,
}

/// An RFC 8936 poll. `ack` and `setErrs` name SETs by their `jti`; ones that are not this
/// stream's are ignored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollRequest {
    /// At most this many SETs (at most 1000 are returned); 0 only acknowledges.
    #[serde(rename = "maxEvents")]
    #[schema(minimum = 0, maximum = 1000000)]
    pub max_events: Option<u64>,
    /// False (the default): wait up to 30 s for a SET when none is pending.
    #[serde(rename = "returnImmediately")]
    pub return_immediately: Option<bool>,
    #[schema(max_items = 1000)]
    pub ack: Option<Vec<String>>,
    #[serde(rename = "setErrs")]
    pub set_errs: Option<std::collections::HashMap<String, SetError>>,
}

/// `?stream_id=` of an operation on one stream.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OneStream {
    pub stream_id: uuid::Uuid,
}

/// `?stream_id=`: one stream, or without it all of the receiver's.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    pub stream_id: Option<uuid::Uuid>,
}
