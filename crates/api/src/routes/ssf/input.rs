//! Reading receivers' requests (SSF 1.0 §8.1): every field checked, anything malformed a 400.
//! Transmitter-supplied properties a receiver sends back (`iss`, `aud`, `events_supported`, …,
//! as in a replace) are accepted and ignored; anything else unknown is refused.

use crate::http::error::ApiError;
use domain::ssf::{self, Delivery, PushAuthorization, StreamConfig, StreamStatus, Subject};
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
    ApiError::bad_request(why.to_string())
}

/// A JSON object body.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request("not a JSON object")),
        Err(e) => Err(bad_request(e)),
    }
}

/// A property that is absent or null.
fn absent(map: &Map<String, Value>, field: &str) -> bool {
    map.get(field).is_none_or(Value::is_null)
}

/// An optional string of at most `max` characters (as the OpenAPI document counts them).
fn text<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<&'a str>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s)),
        Some(_) => Err(bad_request(format!(
            "{field}: a string of at most {max} characters"
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

/// An absolute http(s) URL, exactly as the pattern of `PushDelivery.endpoint_url` in the OpenAPI
/// document (`schemas.rs`) says: a host name (or IPv4 address), an optional port, an optional
/// path of URL characters; no user-info, no IPv6 literal.
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
            if authorization_header.is_some_and(|h| h.chars().any(|c| c < ' ' || c == '\x7f')) {
                return Err(bad_request(
                    "delivery.authorization_header: no control characters",
                ));
            }
            Ok(Delivery::Push {
                endpoint_url: endpoint_url.to_owned(),
                authorization_header: authorization_header
                    .map(|h| PushAuthorization::Plain(h.to_owned())),
            })
        }
        // The poll URL is the transmitter's to give; one sent back is ignored.
        Some(ssf::POLL) => {
            if map.contains_key("authorization_header") {
                return Err(bad_request("delivery: authorization_header is for push"));
            }
            text(map, "endpoint_url", MAX_URL)?;
            Ok(Delivery::Poll)
        }
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
                .filter(|s| !s.is_empty() && s.chars().count() <= MAX_TEXT)
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
    if matches!(write, Write::Create) && !absent(map, "stream_id") {
        return Err(bad_request("stream_id is the transmitter's to give"));
    }
    let delivery = map
        .get("delivery")
        .filter(|_| !absent(map, "delivery"))
        .map(delivery)
        .transpose()?;
    let events_requested = map
        .get("events_requested")
        .filter(|_| !absent(map, "events_requested"))
        .map(events)
        .transpose()?;
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
    if let Some(v) = map.get("verified").filter(|v| !v.is_null()) {
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

pub use crate::services::streams::PollRequest;

/// SETs returned per poll when the receiver names no `maxEvents`, and at most.
const DEFAULT_MAX_EVENTS: u32 = 100;
const MAX_MAX_EVENTS: u32 = 1000;

/// A jti we gave (an event id); any other names no SET of ours and is ignored.
fn jti(value: &str) -> Option<domain::ids::EventId> {
    value.parse::<uuid::Uuid>().ok().map(domain::ids::EventId)
}

pub fn poll(map: &Map<String, Value>) -> Result<PollRequest, ApiError> {
    if let Some(unknown) = map
        .keys()
        .find(|k| !["maxEvents", "returnImmediately", "ack", "setErrs"].contains(&k.as_str()))
    {
        return Err(bad_request(format!("unknown property {unknown}")));
    }
    let max_events = match map.get("maxEvents") {
        None | Some(Value::Null) => DEFAULT_MAX_EVENTS,
        Some(v) => {
            // JSON has one number type: 5.0 is the integer 5.
            let n = v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                        .map(|f| f.min(u64::MAX as f64) as u64)
                })
                .ok_or_else(|| bad_request("maxEvents: a non-negative integer"))?;
            u32::try_from(n.min(u64::from(MAX_MAX_EVENTS))).unwrap_or(MAX_MAX_EVENTS)
        }
    };
    let return_immediately = match map.get("returnImmediately") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad_request("returnImmediately: a boolean")),
    };
    let acks = match map.get("ack") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) if list.len() <= MAX_MAX_EVENTS as usize => {
            let mut acks = Vec::with_capacity(list.len());
            for v in list {
                acks.extend(jti(v
                    .as_str()
                    .ok_or_else(|| bad_request("ack: strings"))?));
            }
            acks
        }
        Some(_) => return Err(bad_request("ack: an array of jti")),
    };
    let errors = match map.get("setErrs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(errs)) => {
            let mut errors = Vec::new();
            for (id, err) in errs {
                let code = err
                    .get("err")
                    .and_then(Value::as_str)
                    .filter(|c| {
                        (1..=64).contains(&c.len())
                            && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    })
                    .ok_or_else(|| bad_request("setErrs: {jti: {err, description}}"))?;
                if let Some(description) = err.get("description") {
                    if !(description.is_string() || description.is_null()) {
                        return Err(bad_request("setErrs: description a string"));
                    }
                }
                if let Some(event) = jti(id) {
                    errors.push((event, format!("receiver: {code}")));
                }
            }
            errors
        }
        Some(_) => return Err(bad_request("setErrs: an object")),
    };
    Ok(PollRequest {
        max_events,
        return_immediately,
        acks,
        errors,
    })
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
