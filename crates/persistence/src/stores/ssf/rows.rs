//! The stored forms of receivers and streams, and of when a stream's delivery is due. A stored
//! stream that does not read back (a configuration or status this version does not know) is an
//! error that names the stream, never a default.

use crate::schema::{ssf_receivers, ssf_streams};
use crate::types::{db_time, Id, Json, Timestamp};
use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::ssf::{
    self, Delivery, Due, PushAuthorization, Receiver, Stream, StreamConfig, StreamStatus,
};
use serde_json::{json, Value};

/// When a delivery decided `due` at `now` is stored as due: now, or (parked) never until its
/// stream sends again, which sets it due then.
pub(super) fn due_at(due: Due, now: DateTime<Utc>) -> Timestamp {
    match due {
        Due::Now => Timestamp(db_time(now)),
        Due::Parked => parked(),
    }
}

/// The due time that stands for "parked": the last day a timestamp holds on both backends.
pub(super) fn parked() -> Timestamp {
    Timestamp(
        Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// A stored stream this version cannot read.
#[derive(Debug, thiserror::Error)]
#[error("stored SSF stream {stream}: {why}")]
pub(super) struct UnreadableStream {
    stream: uuid::Uuid,
    why: String,
}

impl From<UnreadableStream> for DieselError {
    /// Fails the query that read it, keeping the cause.
    fn from(e: UnreadableStream) -> Self {
        DieselError::DeserializationError(Box::new(e))
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = ssf_receivers)]
pub(super) struct ReceiverRow {
    pub(super) id: Id,
    pub(super) name: String,
    pub(super) audience: String,
    pub(super) token_hash: String,
    pub(super) created_at: Timestamp,
}

impl From<&ReceiverRow> for Receiver {
    fn from(r: &ReceiverRow) -> Self {
        Receiver {
            id: r.id.0,
            name: r.name.clone(),
            audience: r.audience.clone(),
            created_at: r.created_at.0,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = ssf_streams)]
#[diesel(treat_none_as_default_value = false)]
pub(super) struct StreamRow {
    pub(super) id: Id,
    pub(super) receiver_id: Id,
    pub(super) config: Json,
    pub(super) push_endpoint: Option<String>,
    pub(super) status: String,
    pub(super) status_reason: Option<String>,
    pub(super) created_at: Timestamp,
    pub(super) updated_at: Timestamp,
}

/// A stream's configuration as stored (the receiver's `authorization_header` included, sealed
/// as the api layer gives it: the pushes need it).
pub(super) fn config_json(config: &StreamConfig) -> Value {
    let delivery = match &config.delivery {
        Delivery::Push {
            endpoint_url,
            authorization_header,
        } => {
            let mut delivery = json!({"method": ssf::PUSH, "endpoint_url": endpoint_url});
            match authorization_header {
                Some(PushAuthorization::Sealed(sealed)) => {
                    delivery["authorization_header_sealed"] = json!(sealed);
                }
                Some(PushAuthorization::Plain(plain)) => {
                    delivery["authorization_header"] = json!(plain);
                }
                None => {}
            }
            delivery
        }
        Delivery::Poll => json!({ "method": ssf::POLL }),
    };
    json!({
        "delivery": delivery,
        "events_requested": config.events_requested,
        "description": config.description,
    })
}

pub(super) fn config_of(value: &Value) -> Result<StreamConfig, String> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let delivery = &value["delivery"];
    let delivery = match delivery["method"].as_str() {
        Some(ssf::PUSH) => Delivery::Push {
            endpoint_url: text(&delivery["endpoint_url"])
                .ok_or("a push delivery without an endpoint_url")?,
            authorization_header: text(&delivery["authorization_header_sealed"])
                .map(PushAuthorization::Sealed)
                .or_else(|| text(&delivery["authorization_header"]).map(PushAuthorization::Plain)),
        },
        Some(ssf::POLL) => Delivery::Poll,
        other => return Err(format!("an unknown delivery method {other:?}")),
    };
    let events_requested = match &value["events_requested"] {
        Value::Null => Vec::new(),
        Value::Array(types) => types
            .iter()
            .map(|t| text(t).ok_or("events_requested: not text"))
            .collect::<Result<_, _>>()?,
        _ => return Err("events_requested: not a list".to_owned()),
    };
    Ok(StreamConfig {
        delivery,
        events_requested,
        description: text(&value["description"]),
    })
}

pub(super) fn push_endpoint(config: &StreamConfig) -> Option<String> {
    match &config.delivery {
        Delivery::Push { endpoint_url, .. } => Some(endpoint_url.clone()),
        Delivery::Poll => None,
    }
}

impl TryFrom<StreamRow> for Stream {
    type Error = UnreadableStream;

    fn try_from(r: StreamRow) -> Result<Self, UnreadableStream> {
        let unreadable = |why: String| UnreadableStream {
            stream: r.id.0,
            why,
        };
        let config = config_of(&r.config.0).map_err(unreadable)?;
        let status = StreamStatus::parse(&r.status)
            .ok_or_else(|| unreadable(format!("an unknown status {:?}", r.status)))?;
        Ok(Stream {
            id: r.id.0,
            receiver_id: r.receiver_id.0,
            config,
            status,
            status_reason: r.status_reason,
            created_at: r.created_at.0,
        })
    }
}

/// Reads stored streams; the first that does not read fails them all.
pub(super) fn streams(rows: Vec<StreamRow>) -> Result<Vec<Stream>, DieselError> {
    Ok(rows
        .into_iter()
        .map(Stream::try_from)
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(config: Value, status: &str) -> StreamRow {
        StreamRow {
            id: Id(uuid::Uuid::new_v4()),
            receiver_id: Id(uuid::Uuid::new_v4()),
            config: Json(config),
            push_endpoint: None,
            status: status.to_owned(),
            status_reason: None,
            created_at: Timestamp(Utc::now()),
            updated_at: Timestamp(Utc::now()),
        }
    }

    /// What this version cannot read is an error naming the stream, never a poll stream, an
    /// empty endpoint or a disabled status made up in its place.
    #[test]
    fn an_unreadable_stream_is_an_error_that_names_it() {
        let cases = [
            (
                json!({"delivery": {"method": "urn:example:carrier-pigeon"}}),
                "enabled",
            ),
            (json!({"delivery": {"method": ssf::PUSH}}), "enabled"),
            (
                json!({"delivery": {"method": ssf::POLL}, "events_requested": "all"}),
                "enabled",
            ),
            (json!({"delivery": {"method": ssf::POLL}}), "sleeping"),
        ];
        for (config, status) in cases {
            let row = row(config.clone(), status);
            let id = row.id.0;
            let error = Stream::try_from(row).expect_err("unreadable");
            assert!(
                error.to_string().contains(&id.to_string()),
                "{error}: {config}"
            );
        }
        let readable = row(json!({"delivery": {"method": ssf::POLL}}), "paused");
        let stream = Stream::try_from(readable).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stream.status, StreamStatus::Paused);
        assert_eq!(stream.config.delivery, Delivery::Poll);
    }
}
