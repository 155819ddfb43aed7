//! The receivers' requests (SSF 1.0 §8.1, RFC 8936): the types the OpenAPI document's schemas
//! are generated from are the types the handlers read bodies into, so the document and the
//! reading are one contract. What a schema says and serde cannot check (lengths, patterns,
//! item counts) each type's reading checks, naming the property; anything else malformed or
//! unknown is a 400 with serde's own words.

use crate::http::error::ApiError;
use crate::services::streams::PollRequest;
use domain::ids::EventId;
use domain::ssf::{self, Delivery, PushAuthorization, StreamConfig, StreamStatus, Subject};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Longest URL, header, description, state, event type, reason or subject accepted.
const MAX_URL: usize = 2048;
const MAX_HEADER: usize = 4096;
const MAX_TEXT: usize = 1024;
const MAX_EVENTS: usize = 64;
const MAX_SUBJECT: usize = 320;
/// SETs returned per poll when the receiver names no `maxEvents`, and at most.
const DEFAULT_MAX_EVENTS: u32 = 100;
const MAX_MAX_EVENTS: u32 = 1000;

pub fn bad_request(why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(why.to_string())
}

/// A body of type `T`: a JSON object its schema allows.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(bad_request)
}

/// `value` unless it is longer than `max` characters (as the OpenAPI document counts them).
fn at_most(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.chars().count() > max => Err(bad_request(format!(
            "{field}: a string of at most {max} characters"
        ))),
        other => Ok(other),
    }
}

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
    #[allow(dead_code)] // read by serde: it picks the variant
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
    #[allow(dead_code)] // read by serde: it picks the variant
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

/// A stream's `aud` as SSF 1.0 §8.1.1 writes it: one audience or several.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // accepted, ignored
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

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
    /// Transmitter-supplied (SSF 1.0 §8.1.1): accepted when a receiver sends a configuration
    /// back, if of the type the transmitter gives, and ignored.
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub iss: Option<String>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub aud: Option<Audience>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub events_supported: Option<Vec<String>>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub events_delivered: Option<Vec<String>>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub min_verification_interval: Option<u64>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub inactivity_timeout: Option<u64>,
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
    /// Transmitter-supplied (SSF 1.0 §8.1.1): accepted when a receiver sends a configuration
    /// back, if of the type the transmitter gives, and ignored.
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub iss: Option<String>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub aud: Option<Audience>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub events_supported: Option<Vec<String>>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub events_delivered: Option<Vec<String>>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub min_verification_interval: Option<u64>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub inactivity_timeout: Option<u64>,
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
    /// Transmitter-supplied (SSF 1.0 §8.1.1): accepted when a receiver sends a configuration
    /// back, if of the type the transmitter gives, and ignored.
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub iss: Option<String>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub aud: Option<Audience>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub events_supported: Option<Vec<String>>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub events_delivered: Option<Vec<String>>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub min_verification_interval: Option<u64>,
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, ignored
    pub inactivity_timeout: Option<u64>,
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
    #[allow(dead_code)] // read by serde: it picks the variant
    pub format: OpaqueFormat,
    #[schema(min_length = 1, max_length = 320)]
    pub id: String,
}

/// An e-mail subject.
#[derive(Deserialize, ToSchema)]
pub struct EmailSubject {
    #[allow(dead_code)] // read by serde: it picks the variant
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
    #[allow(dead_code)] // accepted (RFC 9493 lets a receiver say it), not acted on
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
    #[allow(dead_code)] // accepted, not kept: the error code is
    pub description: Option<String>,
}

/// An RFC 8936 poll. `ack` and `setErrs` name SETs by their `jti`; ones that are not this
/// stream's are ignored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PollRequest)]
pub struct PollBody {
    /// At most this many SETs (at most 1000 are returned); 0 only acknowledges.
    #[serde(rename = "maxEvents")]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 1000000)]
    pub max_events: Option<serde_json::Number>,
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
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OneStream {
    pub stream_id: uuid::Uuid,
}

/// `?stream_id=`: one stream, or without it all of the receiver's.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    pub stream_id: Option<uuid::Uuid>,
}

/// An absolute http(s) URL, exactly as the pattern of `PushDelivery.endpoint_url` says: a host
/// name (or IPv4 address), an optional port, an optional path of URL characters; no user-info,
/// no IPv6 literal.
fn is_http_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let host_char = |c: char| c.is_ascii_alphanumeric() || "._~%!$&'()*+,;=-".contains(c);
    let path_ok = path.chars().all(|c| host_char(c) || ":@/?#".contains(c));
    let (host, port) = authority
        .find(':')
        .map_or((authority, ""), |i| authority.split_at(i));
    let host_ok = !host.is_empty() && host.chars().all(host_char);
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|digits| {
            (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        });
    host_ok && port_ok && path_ok
}

impl DeliveryRequest {
    fn read(self) -> Result<Delivery, ApiError> {
        match self {
            Self::Push(push) => {
                let endpoint_url = Some(push.endpoint_url)
                    .filter(|u| u.chars().count() <= MAX_URL && is_http_url(u))
                    .ok_or_else(|| bad_request("delivery.endpoint_url: an absolute http(s) URL"))?;
                let header = at_most(
                    "delivery.authorization_header",
                    push.authorization_header,
                    MAX_HEADER,
                )?;
                if header
                    .as_deref()
                    .is_some_and(|h| h.chars().any(|c| c < ' ' || c == '\x7f'))
                {
                    return Err(bad_request(
                        "delivery.authorization_header: no control characters",
                    ));
                }
                Ok(Delivery::Push {
                    endpoint_url,
                    authorization_header: header.map(PushAuthorization::Plain),
                })
            }
            // The poll URL is the transmitter's to give; one sent back is ignored.
            Self::Poll(poll) => {
                at_most("delivery.endpoint_url", poll.endpoint_url, MAX_URL)?;
                Ok(Delivery::Poll)
            }
        }
    }
}

fn events(requested: Option<Vec<EventType>>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = requested else {
        return Ok(None);
    };
    if list.len() > MAX_EVENTS {
        return Err(bad_request(format!(
            "events_requested: an array of at most {MAX_EVENTS}"
        )));
    }
    list.into_iter()
        .map(|EventType(e)| {
            Some(e)
                .filter(|e| !e.is_empty() && e.chars().count() <= MAX_TEXT)
                .ok_or_else(|| bad_request("events_requested: strings of 1 to 1024 characters"))
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

/// None asked for: every event this transmitter supports.
fn every_event() -> Vec<String> {
    ssf::EVENTS_SUPPORTED
        .iter()
        .map(|e| (*e).to_owned())
        .collect()
}

/// A whole configuration (a create or a replace).
fn whole_config(
    delivery: DeliveryRequest,
    events_requested: Option<Vec<EventType>>,
    description: Option<String>,
) -> Result<StreamConfig, ApiError> {
    Ok(StreamConfig {
        delivery: delivery.read()?,
        events_requested: events(events_requested)?.unwrap_or_else(every_event),
        description: at_most("description", description, MAX_TEXT)?,
    })
}

impl CreateStream {
    pub fn config(self) -> Result<StreamConfig, ApiError> {
        whole_config(self.delivery, self.events_requested, self.description)
    }
}

impl ReplaceStream {
    pub fn config(self) -> Result<StreamConfig, ApiError> {
        whole_config(self.delivery, self.events_requested, self.description)
    }
}

impl UpdateStream {
    /// The properties given replace `current`'s.
    pub fn config(self, current: &StreamConfig) -> Result<StreamConfig, ApiError> {
        Ok(StreamConfig {
            delivery: match self.delivery {
                Some(delivery) => delivery.read()?,
                None => current.delivery.clone(),
            },
            events_requested: events(self.events_requested)?
                .unwrap_or_else(|| current.events_requested.clone()),
            description: at_most("description", self.description, MAX_TEXT)?
                .or_else(|| current.description.clone()),
        })
    }
}

impl StatusRequest {
    /// The status asked for, and why.
    pub fn read(self) -> Result<(uuid::Uuid, StreamStatus, Option<String>), ApiError> {
        let status = match self.status {
            Status::Enabled => StreamStatus::Enabled,
            Status::Paused => StreamStatus::Paused,
            Status::Disabled => StreamStatus::Disabled,
        };
        Ok((
            self.stream_id,
            status,
            at_most("reason", self.reason, MAX_TEXT)?,
        ))
    }
}

impl SubjectChange {
    pub fn subject(self) -> Result<(uuid::Uuid, Subject), ApiError> {
        let (field, value) = match &self.subject {
            SubjectRequest::Opaque(s) => ("subject.id", &s.id),
            SubjectRequest::Email(s) => ("subject.email", &s.email),
        };
        if value.is_empty() || value.chars().count() > MAX_SUBJECT {
            return Err(bad_request(format!(
                "{field}: 1 to {MAX_SUBJECT} characters"
            )));
        }
        let subject = match self.subject {
            SubjectRequest::Opaque(s) => Subject::Opaque(s.id),
            SubjectRequest::Email(s) => Subject::Email(s.email.to_lowercase()),
        };
        Ok((self.stream_id, subject))
    }
}

impl VerifyRequest {
    pub fn state(self) -> Result<(uuid::Uuid, Option<String>), ApiError> {
        Ok((self.stream_id, at_most("state", self.state, MAX_TEXT)?))
    }
}

/// A jti we gave (an event id); any other names no SET of ours and is ignored.
fn jti(value: &str) -> Option<EventId> {
    value.parse::<uuid::Uuid>().ok().map(EventId)
}

impl PollBody {
    pub fn read(self) -> Result<PollRequest, ApiError> {
        let max_events = match self.max_events {
            None => DEFAULT_MAX_EVENTS,
            // JSON has one number type: 5.0 is the integer 5.
            Some(n) => {
                let n = n
                    .as_u64()
                    .or_else(|| {
                        n.as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                            .map(|f| f.min(u64::MAX as f64) as u64)
                    })
                    .ok_or_else(|| bad_request("maxEvents: a non-negative integer"))?;
                u32::try_from(n.min(u64::from(MAX_MAX_EVENTS))).unwrap_or(MAX_MAX_EVENTS)
            }
        };
        let acks = self.ack.unwrap_or_default();
        if acks.len() > MAX_MAX_EVENTS as usize {
            return Err(bad_request("ack: at most 1000 jti"));
        }
        let mut errors = Vec::new();
        for (id, error) in self.set_errs.unwrap_or_default() {
            let code = error.err;
            if !((1..=64).contains(&code.len())
                && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            {
                return Err(bad_request("setErrs: {jti: {err, description}}"));
            }
            if let Some(event) = jti(&id) {
                errors.push((event, format!("receiver: {code}")));
            }
        }
        Ok(PollRequest {
            max_events,
            return_immediately: self.return_immediately.unwrap_or(false),
            acks: acks.iter().filter_map(|a| jti(a)).collect(),
            errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_http_url;

    #[test]
    fn push_endpoints() {
        for good in [
            "https://rp.example/events",
            "http://127.0.0.1:8080",
            "http://localhost:9/x?y=1#z",
            "https://a.b/c%20d",
        ] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in [
            "ftp://x",
            "http://",
            "http://[",
            "http://[::1]/",
            "http://a b",
            "https://user@rp.example",
            "http://a:123456",
            "http://a:x",
            "https://é.example",
            "https:///path",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
