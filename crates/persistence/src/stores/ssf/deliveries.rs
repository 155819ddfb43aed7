//! Each stream's deliveries: the verification a receiver asks for, the fan-out of an event to
//! the streams that want it, parking and unparking, and poll delivery (RFC 8936). When a
//! delivery is due is `domain::ssf`'s decision ([`Stream::due`]); this stores it.

use super::rows::{self, due_at, ReceiverRow, StreamRow};
use super::{load_stream, pending_of};
use crate::error::store_error;
use crate::pool::Database;
use crate::rows::{DeliveryRow, OutboxRow};
use crate::schema::{
    ssf_receivers, ssf_stream_subjects, ssf_streams, webhook_deliveries, webhook_outbox,
};
use crate::types::{db_time, Id, Json, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::events::EventKind;
use domain::ids::EventId;
use domain::model::OutboxEvent;
use domain::ports::StoreError;
use domain::ssf::{self, DefaultSubjects, Receiver, Stream, StreamStatus, Verification};
use serde_json::json;

pub(super) fn request_verification(
    db: &Database,
    receiver: &Receiver,
    id: uuid::Uuid,
    state: Option<&str>,
    at: DateTime<Utc>,
    min_interval: chrono::Duration,
) -> Result<Verification, StoreError> {
    let at = Timestamp(db_time(at));
    db.transaction(|conn| {
        let Some(stream) = load_stream(conn, receiver.id, id)? else {
            return Ok(Verification::NotFound);
        };
        // Taken only if the last one is old enough: of two requests at once, one wins.
        let taken = diesel::update(
            ssf_streams::table
                .filter(ssf_streams::id.eq(Id(id)))
                .filter(
                    ssf_streams::last_verification_at
                        .is_null()
                        .or(ssf_streams::last_verification_at.le(Timestamp(at.0 - min_interval))),
                ),
        )
        .set(ssf_streams::last_verification_at.eq(Some(at)))
        .execute(conn)?;
        if taken == 0 {
            let last: Option<Timestamp> = ssf_streams::table
                .find(Id(id))
                .select(ssf_streams::last_verification_at)
                .first(conn)?;
            let wait = last.map_or(min_interval, |last| last.0 + min_interval - at.0);
            return Ok(Verification::TooSoon(wait));
        }
        if stream.status == StreamStatus::Disabled {
            // A disabled stream carries nothing, verification included.
            return Ok(Verification::Requested);
        }
        let event = Id(uuid::Uuid::new_v4());
        diesel::insert_into(webhook_outbox::table)
            .values(&OutboxRow {
                id: event,
                event: EventKind::SsfVerification.name().to_owned(),
                payload: Json(json!({ "stream_id": id, "state": state })),
                created_at: at,
            })
            .execute(conn)?;
        diesel::insert_into(webhook_deliveries::table)
            .values(&DeliveryRow {
                event_id: event,
                hook: stream.delivery_key(),
                attempts: 0,
                next_attempt_at: due_at(stream.due(), at.0),
                delivered_at: None,
                last_error: None,
                dead: false,
            })
            .execute(conn)?;
        Ok(Verification::Requested)
    })
}

pub(super) fn fan_out_to_streams(
    db: &Database,
    event: EventId,
    default_subjects: DefaultSubjects,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let now = Timestamp(db_time(now));
    db.transaction(|conn| {
        let marker = diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::event_id.eq(Id(event.0)))
                .filter(webhook_deliveries::hook.eq(ssf::ALL_STREAMS)),
        )
        .execute(conn)?;
        if marker == 0 {
            return Ok(0); // fanned out already
        }
        let Some(row) = webhook_outbox::table
            .find(Id(event.0))
            .select(OutboxRow::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(0);
        };
        let event = OutboxEvent::from(row);
        // A row from a newer version's catalogue goes to no stream here.
        let Some(kind) = EventKind::from_name(&event.event) else {
            return Ok(0);
        };
        let streams: Vec<Stream> = rows::streams(
            ssf_streams::table
                .filter(ssf_streams::status.ne(StreamStatus::Disabled.as_str()))
                .select(StreamRow::as_select())
                .load(conn)?,
        )?
        .into_iter()
        .filter(|s| kind.set_event_type().is_some_and(|t| s.config.carries(t)))
        .collect();
        let subjects = ssf::subjects_of(kind, &event.payload);
        let mut written = 0;
        for stream in streams {
            if default_subjects == DefaultSubjects::None {
                let known = ssf_stream_subjects::table
                    .filter(ssf_stream_subjects::stream_id.eq(Id(stream.id)))
                    .filter(ssf_stream_subjects::subject.eq_any(&subjects))
                    .count()
                    .get_result::<i64>(conn)?;
                if known == 0 {
                    continue;
                }
            }
            diesel::insert_into(webhook_deliveries::table)
                .values(&DeliveryRow {
                    event_id: Id(event.id.0),
                    hook: stream.delivery_key(),
                    attempts: 0,
                    next_attempt_at: due_at(stream.due(), now.0),
                    delivered_at: None,
                    last_error: None,
                    dead: false,
                })
                .execute(conn)?;
            written += 1;
        }
        Ok(written)
    })
}

pub(super) fn stream_for_delivery(
    db: &Database,
    id: uuid::Uuid,
) -> Result<Option<(Stream, Receiver)>, StoreError> {
    let found: Option<(StreamRow, ReceiverRow)> = db.run(|conn| {
        ssf_streams::table
            .inner_join(ssf_receivers::table)
            .filter(ssf_streams::id.eq(Id(id)))
            .select((StreamRow::as_select(), ReceiverRow::as_select()))
            .first(conn)
            .optional()
    })?;
    Ok(match found {
        Some((s, r)) => Some((
            Stream::try_from(s).map_err(|e| store_error(e.into()))?,
            Receiver::from(&r),
        )),
        None => None,
    })
}

pub(super) fn park_delivery(db: &Database, event: EventId, key: &str) -> Result<(), StoreError> {
    db.write(|conn| {
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::event_id.eq(Id(event.0)))
                .filter(webhook_deliveries::hook.eq(key)),
        )
        .set((
            webhook_deliveries::next_attempt_at.eq(rows::parked()),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts - 1),
        ))
        .execute(conn)
    })?;
    Ok(())
}

pub(super) fn unpark_enabled(db: &Database, now: DateTime<Utc>) -> Result<usize, StoreError> {
    db.write(|conn| {
        let keys: Vec<String> = ssf_streams::table
            .filter(ssf_streams::status.eq(StreamStatus::Enabled.as_str()))
            .filter(ssf_streams::push_endpoint.is_not_null())
            .select(ssf_streams::id)
            .load::<Id>(conn)?
            .into_iter()
            .map(|id| ssf::delivery_key(id.0))
            .collect();
        if keys.is_empty() {
            return Ok(0);
        }
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::hook.eq_any(&keys))
                .filter(webhook_deliveries::next_attempt_at.eq(rows::parked()))
                .filter(webhook_deliveries::delivered_at.is_null())
                .filter(webhook_deliveries::dead.eq(false)),
        )
        .set(webhook_deliveries::next_attempt_at.eq(Timestamp(db_time(now))))
        .execute(conn)
    })
}

pub(super) fn poll(
    db: &Database,
    stream: &Stream,
    acks: &[EventId],
    errors: &[(EventId, String)],
    max: u32,
    now: DateTime<Utc>,
) -> Result<(Vec<OutboxEvent>, bool), StoreError> {
    let key = stream.delivery_key();
    let now = Timestamp(db_time(now));
    let limit = i64::from(max);
    db.transaction(|conn| {
        if !acks.is_empty() {
            let ids: Vec<Id> = acks.iter().map(|e| Id(e.0)).collect();
            diesel::update(pending_of(&key).filter(webhook_deliveries::event_id.eq_any(&ids)))
                .set(webhook_deliveries::delivered_at.eq(Some(now)))
                .execute(conn)?;
        }
        for (event, error) in errors {
            diesel::update(pending_of(&key).filter(webhook_deliveries::event_id.eq(Id(event.0))))
                .set((
                    webhook_deliveries::dead.eq(true),
                    webhook_deliveries::last_error.eq(error),
                ))
                .execute(conn)?;
        }
        if stream.status != StreamStatus::Enabled || limit == 0 {
            // Paused: kept for later. Nothing asked: acknowledgements only.
            let more = pending_of(&key).count().get_result::<i64>(conn)? > 0
                && stream.status == StreamStatus::Enabled;
            return Ok((Vec::new(), more));
        }
        let rows: Vec<OutboxRow> = pending_of(&key)
            .inner_join(webhook_outbox::table)
            .select(OutboxRow::as_select())
            .order((webhook_outbox::created_at.asc(), webhook_outbox::id.asc()))
            .limit(limit + 1)
            .load(conn)?;
        let more = rows.len() as i64 > limit;
        Ok((
            rows.into_iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(OutboxEvent::from)
                .collect(),
            more,
        ))
    })
}
