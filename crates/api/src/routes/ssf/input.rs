//! Reading receivers' requests (SSF 1.0 §8.1): every field checked, anything malformed a 400.
//! Transmitter-supplied properties a receiver sends back (`iss`, `aud`, `events_supported`, …,
//! as in a replace) are accepted and ignored; anything else unknown is refused.

use crate::http::error::ApiError;
use actix_web::http::StatusCode;
use domain::ssf::{self, Delivery, StreamConfig, StreamStatus, Subject};
use serde_json::{Map, Value};

/// Longest URL, header, description, state, event type or reason accepted.
const MAX_URL: usize = 2048;
const MAX_HEADER: usize = 4096;
const MAX_TEXT: usize = 1024;
const MAX_EVENTS: usize = 64;

/// The properties a stream configuration may carry.
const READ_ONLY: [&str; 6] = [
    "iss",
    "aud",
    "events_supported",
    "events_delivered",
    "min_verification_interval",
    "inactivity_timeout",
];

pub fn bad_request(why: impl std::fmt::Display) -> ApiError {
    log::debug!("ssf: bad request: {why}");
    ApiError::status(StatusCode::BAD_REQUEST)
}

/// A JSON object body.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request("not a JSON object")),
        Err(e) => Err(bad_request(e)),
    }
}

fn text<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<&'a str>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => Ok(Some(s)),
        Some(_) => Err(bad_request(format!(
            "{field}: a string of at most {max} bytes"
        ))),
    }
}

/// The `stream_id` of a body or query, as a UUID (a malformed one is a 400).
pub fn stream_id(map: &Map<String, Value>) -> Result<uuid::Uuid, ApiError> {
    text(map, "stream_id", 64)?
        .ok_or_else(|| bad_request("stream_id is required"))?
        .parse()
        .map_err(bad_request)
}

/// A stream id from a query string value.
pub fn parse_stream_id(value: &str) -> Result<uuid::Uuid, ApiError> {
    value.parse().map_err(bad_request)
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

fn delivery(value: &Value) -> Result<Delivery, ApiError> {
    let Value::Object(map) = value else {
        return Err(bad_request("delivery: an object"));
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !["method", "endpoint_url", "authorization_header"].contains(&k.as_str()))
    {
        return Err(bad_request(format!("delivery: unknown property {unknown}")));
    }
    match text(map, "method", 64)? {
        Some(ssf::PUSH) => {
            let endpoint_url = text(map, "endpoint_url", MAX_URL)?
                .filter(|u| is_http_url(u))
                .ok_or_else(|| bad_request("delivery.endpoint_url: an absolute http(s) URL"))?;
            let authorization_header = text(map, "authorization_header", MAX_HEADER)?;
            if authorization_header.is_some_and(|h| h.chars().any(char::is_control)) {
                return Err(bad_request(
                    "delivery.authorization_header: no control characters",
                ));
            }
            Ok(Delivery::Push {
                endpoint_url: endpoint_url.to_owned(),
                authorization_header: authorization_header.map(str::to_owned),
            })
        }
        // The poll URL is the transmitter's to give; one sent back is ignored.
        Some(ssf::POLL) => Ok(Delivery::Poll),
        _ => Err(bad_request(format!(
            "delivery.method: {} or {}",
            ssf::PUSH,
            ssf::POLL
        ))),
    }
}

fn events(value: &Value) -> Result<Vec<String>, ApiError> {
    let list = value
        .as_array()
        .filter(|l| l.len() <= MAX_EVENTS)
        .ok_or_else(|| {
            bad_request(format!(
                "events_requested: an array of at most {MAX_EVENTS}"
            ))
        })?;
    list.iter()
        .map(|e| {
            e.as_str()
                .filter(|s| !s.is_empty() && s.len() <= MAX_TEXT)
                .map(str::to_owned)
                .ok_or_else(|| bad_request("events_requested: strings"))
        })
        .collect()
}

/// How a configuration request relates to the stream.
pub enum Write<'a> {
    /// `POST`: a new stream; no `stream_id`, a `delivery` required.
    Create,
    /// `PATCH`: the properties given replace the stream's.
    Update(&'a StreamConfig),
    /// `PUT`: the whole configuration; `delivery` required.
    Replace,
}

/// A stream configuration from a create, update or replace body.
pub fn stream_config(map: &Map<String, Value>, write: Write<'_>) -> Result<StreamConfig, ApiError> {
    let allowed = ["stream_id", "delivery", "events_requested", "description"];
    if let Some(unknown) = map
        .keys()
        .find(|k| !allowed.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str()))
    {
        return Err(bad_request(format!("unknown property {unknown}")));
    }
    if matches!(write, Write::Create) && map.contains_key("stream_id") {
        return Err(bad_request("stream_id is the transmitter's to give"));
    }
    let delivery = map.get("delivery").map(delivery).transpose()?;
    let events_requested = map.get("events_requested").map(events).transpose()?;
    let description = text(map, "description", MAX_TEXT)?.map(str::to_owned);
    Ok(match write {
        Write::Create | Write::Replace => StreamConfig {
            delivery: delivery.ok_or_else(|| bad_request("delivery is required"))?,
            // None asked for: every event this transmitter supports.
            events_requested: events_requested.unwrap_or_else(|| {
                ssf::EVENTS_SUPPORTED
                    .iter()
                    .map(|e| (*e).to_owned())
                    .collect()
            }),
            description,
        },
        Write::Update(current) => StreamConfig {
            delivery: delivery.unwrap_or_else(|| current.delivery.clone()),
            events_requested: events_requested.unwrap_or_else(|| current.events_requested.clone()),
            description: description.or_else(|| current.description.clone()),
        },
    })
}

/// `POST /ssf/status`: the status asked for, and why.
pub fn status(map: &Map<String, Value>) -> Result<(StreamStatus, Option<String>), ApiError> {
    let status = text(map, "status", 16)?
        .and_then(StreamStatus::parse)
        .ok_or_else(|| bad_request("status: enabled, paused or disabled"))?;
    let reason = text(map, "reason", MAX_TEXT)?.map(str::to_owned);
    Ok((status, reason))
}

/// `subject` of an add or remove body.
pub fn subject(map: &Map<String, Value>) -> Result<Subject, ApiError> {
    let value = map
        .get("subject")
        .ok_or_else(|| bad_request("subject is required"))?;
    if let Some(v) = map.get("verified") {
        if !v.is_boolean() {
            return Err(bad_request("verified: a boolean"));
        }
    }
    Subject::from_json(value).map_err(bad_request)
}

/// `state` of a verification request.
pub fn state(map: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    Ok(text(map, "state", MAX_TEXT)?.map(str::to_owned))
}

/// An RFC 8936 poll request.
pub struct PollRequest {
    pub max_events: u32,
    pub return_immediately: bool,
    pub acks: Vec<domain::ids::EventId>,
    pub errors: Vec<(domain::ids::EventId, String)>,
}

/// SETs returned per poll when the receiver names no `maxEvents`, and at most.
const DEFAULT_MAX_EVENTS: u32 = 100;
const MAX_MAX_EVENTS: u32 = 1000;

fn jti(value: &str) -> Result<domain::ids::EventId, ApiError> {
    value
        .parse::<uuid::Uuid>()
        .map(domain::ids::EventId)
        .map_err(|_| bad_request("ack and setErrs name SETs by their jti"))
}

pub fn poll(map: &Map<String, Value>) -> Result<PollRequest, ApiError> {
    if let Some(unknown) = map
        .keys()
        .find(|k| !["maxEvents", "returnImmediately", "ack", "setErrs"].contains(&k.as_str()))
    {
        return Err(bad_request(format!("unknown property {unknown}")));
    }
    let max_events = match map.get("maxEvents") {
        None => DEFAULT_MAX_EVENTS,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad_request("maxEvents: a non-negative integer"))?
            .min(MAX_MAX_EVENTS),
    };
    let return_immediately = match map.get("returnImmediately") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad_request("returnImmediately: a boolean")),
    };
    let acks = match map.get("ack") {
        None => Vec::new(),
        Some(Value::Array(list)) if list.len() <= MAX_MAX_EVENTS as usize => list
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| bad_request("ack: strings"))
                    .and_then(jti)
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad_request("ack: an array of jti")),
    };
    let errors = match map.get("setErrs") {
        None => Vec::new(),
        Some(Value::Object(errs)) if errs.len() <= MAX_MAX_EVENTS as usize => errs
            .iter()
            .map(|(id, err)| {
                let code = err
                    .get("err")
                    .and_then(Value::as_str)
                    .filter(|c| {
                        c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    })
                    .ok_or_else(|| bad_request("setErrs: {jti: {err, description}}"))?;
                Ok((jti(id)?, format!("receiver: {code}")))
            })
            .collect::<Result<_, ApiError>>()?,
        Some(_) => return Err(bad_request("setErrs: an object")),
    };
    Ok(PollRequest {
        max_events,
        return_immediately,
        acks,
        errors,
    })
}
