//! The Shared Signals transmitter's vocabulary (OpenID SSF 1.0; docs/events.md, "Shared Signals"):
//! receivers, their streams, what a stream asks for, and the subjects it is limited to. Free of
//! HTTP and SQL: the API reads requests into these, persistence stores them.

use crate::events::EventKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Push delivery, RFC 8935.
pub const PUSH: &str = "urn:ietf:rfc:8935";
/// Poll delivery, RFC 8936.
pub const POLL: &str = "urn:ietf:rfc:8936";

/// The SSF verification event's SET type.
pub const VERIFICATION: &str = EventKind::SsfVerification.set_type();

/// A receiver has as many streams as it may (`ssf.max_streams_per_receiver`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the receiver has {0} streams, as many as it may")]
pub struct StreamQuotaReached(pub u32);

/// What became of a verification request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The verification event is written (or, for a disabled stream, dropped as its events are).
    Requested,
    /// Not one of the receiver's streams.
    NotFound,
    /// The last one was too recent: ask again after this long.
    TooSoon(chrono::Duration),
}

/// The event types a stream can carry: our events' RISC and CAEP types (a verification goes to
/// its own stream whatever it asked for).
pub const EVENTS_SUPPORTED: [&str; 4] = [
    EventKind::UserDelete.set_type(),
    EventKind::UserDeleteScheduled.set_type(),
    EventKind::UserDeleteCancelled.set_type(),
    EventKind::SessionDelete.set_type(),
];

/// A receiver: another service, known by a bearer token stored only as its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Receiver {
    pub id: uuid::Uuid,
    pub name: String,
    /// The `aud` of every SET its streams carry.
    pub audience: String,
    pub created_at: DateTime<Utc>,
}

/// How a stream's events leave: pushed to the receiver, or polled by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Push {
        endpoint_url: String,
        /// Sent as `Authorization` with every push; never shown back.
        authorization_header: Option<PushAuthorization>,
    },
    Poll,
}

/// A stream's push authorization sealed anew (`secrets reencrypt`): written only if the
/// stream still holds what was read, so a receiver's change meanwhile is never undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resealed {
    pub stream: uuid::Uuid,
    pub was: PushAuthorization,
    pub sealed: String,
}

/// What a sealed [`PushAuthorization`] is bound to (its associated data): a sealed header
/// cannot pass for any other sealed secret.
pub const PUSH_AUTHORIZATION_PURPOSE: &str = "ssf stream delivery.authorization_header";

/// A push stream's `Authorization` header. A receiver's credential for its own endpoint: a
/// copy of the database must not hand it out, so it is stored sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushAuthorization {
    /// As the receiver gave it, on its way to being sealed (a request), or stored by an
    /// earlier version that did not seal it (`api secrets reencrypt` seals those).
    Plain(String),
    /// Sealed with AES-256-GCM under the first of `secrets.keys` (the signing keys' scheme);
    /// opened only to push.
    Sealed(String),
}

impl Delivery {
    /// The method's URN.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Push { .. } => PUSH,
            Self::Poll => POLL,
        }
    }
}

/// What a receiver asks of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    pub delivery: Delivery,
    /// Event type URIs; the stream delivers those of them we support.
    pub events_requested: Vec<String>,
    pub description: Option<String>,
}

impl StreamConfig {
    /// The requested types this transmitter supports (`events_delivered`).
    pub fn events_delivered(&self) -> Vec<String> {
        self.events_requested
            .iter()
            .filter(|e| EVENTS_SUPPORTED.contains(&e.as_str()))
            .cloned()
            .collect()
    }

    /// Whether the stream carries `event_type` (verification always).
    pub fn carries(&self, event_type: &str) -> bool {
        event_type == VERIFICATION || self.events_delivered().iter().any(|e| e == event_type)
    }
}

/// A stream's status (SSF 1.0 §8.1.2): paused streams keep their events, disabled ones keep none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamStatus {
    Enabled,
    Paused,
    Disabled,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Enabled, Self::Paused, Self::Disabled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A stream, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    pub id: uuid::Uuid,
    pub receiver_id: uuid::Uuid,
    pub config: StreamConfig,
    pub status: StreamStatus,
    pub status_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Stream {
    /// The delivery key of this stream's deliveries, beside the hooks'.
    pub fn delivery_key(&self) -> String {
        delivery_key(self.id)
    }
}

/// The delivery key of stream `id`: `ssf:<id>`.
pub fn delivery_key(id: uuid::Uuid) -> String {
    format!("{STREAM_PREFIX}{id}")
}

/// Deliveries whose key starts with this belong to a stream.
pub const STREAM_PREFIX: &str = "ssf:";
/// The delivery written with an event when SSF is on: fanned out to the streams that want it.
pub const ALL_STREAMS: &str = "ssf:*";

/// The stream of a delivery key, if it is a stream's.
pub fn stream_of(key: &str) -> Option<uuid::Uuid> {
    key.strip_prefix(STREAM_PREFIX)?.parse().ok()
}

/// A subject a stream is limited to (SSF subject identifiers, RFC 9493): an opaque user id or
/// an e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Opaque(String),
    Email(String),
}

impl Subject {
    /// Reads `{"format":"opaque","id":…}` or `{"format":"email","email":…}`.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let text = |field: &str| {
            value
                .get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.chars().count() <= 320)
                .map(str::to_owned)
                .ok_or_else(|| format!("subject: {field} must be a non-empty string"))
        };
        match value.get("format").and_then(Value::as_str) {
            Some("opaque") => Ok(Self::Opaque(text("id")?)),
            Some("email") => Ok(Self::Email(text("email")?.to_lowercase())),
            Some(other) => Err(format!(
                "subject: format {other:?} is not supported (opaque, email)"
            )),
            None => Err("subject: an object with a format (opaque or email)".to_owned()),
        }
    }

    /// How it is stored: `opaque:<id>` or `email:<address>`.
    pub fn key(&self) -> String {
        match self {
            Self::Opaque(id) => format!("opaque:{id}"),
            Self::Email(email) => format!("email:{email}"),
        }
    }
}

/// `ssf.default_subjects`: whether a stream hears about every user or only about subjects added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DefaultSubjects {
    #[default]
    All,
    None,
}

/// When a stream's delivery is due: now, or parked until the stream sends again (paused, or
/// polled: a poll takes what is pending whenever it comes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Now,
    Parked,
}

impl Stream {
    /// When a delivery written for this stream now is due.
    pub fn due(&self) -> Due {
        if self.status == StreamStatus::Enabled
            && matches!(self.config.delivery, Delivery::Push { .. })
        {
            Due::Now
        } else {
            Due::Parked
        }
    }
}

/// What a status change does to the stream's pending deliveries (SSF 1.0 §8.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingAfter {
    /// Disabled: the stream keeps nothing.
    Dropped,
    /// Paused: kept, sent after a resume.
    Parked,
    /// Enabled push: due now.
    DueNow,
    /// Enabled poll: left for the next poll.
    Kept,
}

/// What becomes of a stream's pending deliveries when it takes `status` (the stream as it is
/// after the change).
pub fn pending_after(stream: &Stream) -> PendingAfter {
    match stream.status {
        StreamStatus::Disabled => PendingAfter::Dropped,
        StreamStatus::Paused => PendingAfter::Parked,
        StreamStatus::Enabled => match stream.due() {
            Due::Now => PendingAfter::DueNow,
            Due::Parked => PendingAfter::Kept,
        },
    }
}

/// The subjects an event concerns, by their stored keys: its user (opaque id) and the user's
/// addresses (lower case). A stream's own event (verification) concerns no subject.
pub fn subjects_of(kind: EventKind, payload: &Value) -> Vec<String> {
    let Some(field) = kind.user_field() else {
        return Vec::new();
    };
    let user = payload[field].as_str().unwrap_or_default();
    let emails = payload["emails"].as_array().into_iter().flatten();
    std::iter::once(Subject::Opaque(user.to_owned()))
        .chain(emails.filter_map(|e| {
            e["address"]
                .as_str()
                .map(|a| Subject::Email(a.to_lowercase()))
        }))
        .map(|s| s.key())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subjects_read_and_key() {
        assert_eq!(
            Subject::from_json(&json!({"format": "email", "email": "A@B.c"})).map(|s| s.key()),
            Ok("email:a@b.c".to_owned())
        );
        assert!(
            Subject::from_json(&json!({"format": "phone_number", "phone_number": "1"})).is_err()
        );
        assert!(Subject::from_json(&json!({"format": "opaque"})).is_err());
        assert!(Subject::from_json(&json!("opaque")).is_err());
    }

    #[test]
    fn delivery_keys_round_trip() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(stream_of(&delivery_key(id)), Some(id));
        assert_eq!(stream_of(ALL_STREAMS), None);
        assert_eq!(stream_of("hook"), None);
    }

    fn stream(status: StreamStatus, delivery: Delivery) -> Stream {
        Stream {
            id: uuid::Uuid::new_v4(),
            receiver_id: uuid::Uuid::new_v4(),
            config: StreamConfig {
                delivery,
                events_requested: Vec::new(),
                description: None,
            },
            status,
            status_reason: None,
            created_at: Utc::now(),
        }
    }

    fn push() -> Delivery {
        Delivery::Push {
            endpoint_url: "https://rp.example/ssf".into(),
            authorization_header: None,
        }
    }

    #[test]
    fn only_an_enabled_push_stream_sends_now() {
        assert_eq!(stream(StreamStatus::Enabled, push()).due(), Due::Now);
        assert_eq!(
            stream(StreamStatus::Enabled, Delivery::Poll).due(),
            Due::Parked
        );
        assert_eq!(stream(StreamStatus::Paused, push()).due(), Due::Parked);
        assert_eq!(stream(StreamStatus::Disabled, push()).due(), Due::Parked);
    }

    #[test]
    fn a_status_decides_what_pending_deliveries_become() {
        let cases = [
            (StreamStatus::Disabled, push(), PendingAfter::Dropped),
            (
                StreamStatus::Disabled,
                Delivery::Poll,
                PendingAfter::Dropped,
            ),
            (StreamStatus::Paused, push(), PendingAfter::Parked),
            (StreamStatus::Paused, Delivery::Poll, PendingAfter::Parked),
            (StreamStatus::Enabled, push(), PendingAfter::DueNow),
            (StreamStatus::Enabled, Delivery::Poll, PendingAfter::Kept),
        ];
        for (status, delivery, expected) in cases {
            assert_eq!(
                pending_after(&stream(status, delivery)),
                expected,
                "{status:?}"
            );
        }
    }

    #[test]
    fn an_event_concerns_its_user_and_their_addresses() {
        let user = json!({"id": "u1", "emails": [{"address": "Jane@Example.com"}]});
        assert_eq!(
            subjects_of(EventKind::UserDelete, &user),
            ["opaque:u1", "email:jane@example.com"]
        );
        let session = json!({"id": "s1", "user_id": "u2", "reason": "logout"});
        assert_eq!(
            subjects_of(EventKind::SessionDelete, &session),
            ["opaque:u2"]
        );
        let verification = json!({"stream_id": "x", "state": "s"});
        assert!(subjects_of(EventKind::SsfVerification, &verification).is_empty());
    }
}
