//! The Shared Signals transmitter's store: receivers, streams, subjects, and each stream's
//! deliveries, kept in `webhook_deliveries` under `ssf:<stream id>` beside the hooks', so they
//! share the outbox's guarantees (written with the change, one state per event and stream,
//! claimed by one instance at a time).

use crate::pool::{Database, DbConnection};
use crate::rows::{DeliveryRow, OutboxRow};
use crate::schema::{
    ssf_receivers, ssf_stream_subjects, ssf_streams, webhook_deliveries, webhook_outbox,
};
use crate::types::{db_time, Id, Json, Timestamp};
use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::ids::EventId;
use domain::model::OutboxEvent;
use domain::ports::{SsfChange, SsfStore, StoreError};
use domain::ssf::{
    self, DefaultSubjects, Delivery, PushAuthorization, Receiver, Resealed, Stream, StreamConfig,
    StreamQuotaReached, StreamStatus, Subject, Verification,
};
use serde_json::{json, Value};

/// When a parked delivery is due: never, until its stream is enabled again.
fn parked() -> Timestamp {
    Timestamp(
        Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = ssf_receivers)]
struct ReceiverRow {
    id: Id,
    name: String,
    audience: String,
    token_hash: String,
    created_at: Timestamp,
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
struct StreamRow {
    id: Id,
    receiver_id: Id,
    config: Json,
    push_endpoint: Option<String>,
    status: String,
    status_reason: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// A stream's configuration as stored (the receiver's `authorization_header` included, sealed
/// as the api layer gives it: the pushes need it).
fn config_json(config: &StreamConfig) -> Value {
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

fn config_of(value: &Value) -> StreamConfig {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let delivery = &value["delivery"];
    StreamConfig {
        delivery: match delivery["method"].as_str() {
            Some(ssf::PUSH) => Delivery::Push {
                endpoint_url: text(&delivery["endpoint_url"]).unwrap_or_default(),
                authorization_header: text(&delivery["authorization_header_sealed"])
                    .map(PushAuthorization::Sealed)
                    .or_else(|| {
                        text(&delivery["authorization_header"]).map(PushAuthorization::Plain)
                    }),
            },
            _ => Delivery::Poll,
        },
        events_requested: value["events_requested"]
            .as_array()
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default(),
        description: text(&value["description"]),
    }
}

fn push_endpoint(config: &StreamConfig) -> Option<String> {
    match &config.delivery {
        Delivery::Push { endpoint_url, .. } => Some(endpoint_url.clone()),
        Delivery::Poll => None,
    }
}

impl From<StreamRow> for Stream {
    fn from(r: StreamRow) -> Self {
        Stream {
            id: r.id.0,
            receiver_id: r.receiver_id.0,
            config: config_of(&r.config.0),
            status: StreamStatus::parse(&r.status).unwrap_or(StreamStatus::Disabled),
            status_reason: r.status_reason,
            created_at: r.created_at.0,
        }
    }
}

/// A receiver's or an operator's change, in the audit log (no user is its actor).
fn audit(
    conn: &mut DbConnection,
    change: &SsfChange<'_>,
    kind: &str,
    details: Value,
) -> Result<(), DieselError> {
    super::accounts::audit_operation(
        conn,
        change.audit,
        change.context,
        kind,
        details,
        Timestamp(db_time(change.at)),
    )
}

fn load_stream(
    conn: &mut DbConnection,
    receiver: uuid::Uuid,
    id: uuid::Uuid,
) -> Result<Option<Stream>, DieselError> {
    Ok(ssf_streams::table
        .filter(ssf_streams::id.eq(Id(id)))
        .filter(ssf_streams::receiver_id.eq(Id(receiver)))
        .select(StreamRow::as_select())
        .first(conn)
        .optional()?
        .map(Stream::from))
}

/// The deliveries of one key (a stream) not yet delivered nor dead.
type Pending = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<
            webhook_deliveries::table,
            diesel::dsl::Eq<webhook_deliveries::hook, String>,
        >,
        diesel::dsl::IsNull<webhook_deliveries::delivered_at>,
    >,
    diesel::dsl::Eq<webhook_deliveries::dead, bool>,
>;

/// The stream's deliveries not yet delivered nor dead.
fn pending_of(key: &str) -> Pending {
    webhook_deliveries::table
        .filter(webhook_deliveries::hook.eq(key.to_owned()))
        .filter(webhook_deliveries::delivered_at.is_null())
        .filter(webhook_deliveries::dead.eq(false))
}

/// Whether the dispatcher may send this stream's deliveries now.
fn sends_now(stream: &Stream) -> bool {
    stream.status == StreamStatus::Enabled
        && matches!(stream.config.delivery, Delivery::Push { .. })
}

/// The users and addresses an event is about, as subjects.
fn subjects_of(event: &OutboxEvent) -> Vec<String> {
    let payload = &event.payload;
    // A session event names its user as `user_id`; a user event is the user (`id`).
    let user = if event.event == "session.delete" {
        payload["user_id"].as_str()
    } else {
        payload["id"].as_str()
    }
    .unwrap_or_default();
    let emails = payload["emails"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["address"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    std::iter::once(Subject::Opaque(user.to_owned()))
        .chain(emails.iter().map(|e| Subject::Email(e.to_lowercase())))
        .map(|s| s.key())
        .collect()
}

impl SsfStore for Database {
    fn create_receiver(
        &self,
        name: &str,
        audience: &str,
        token_hash: &str,
        change: &SsfChange<'_>,
    ) -> Result<Receiver, StoreError> {
        let row = ReceiverRow {
            id: Id(uuid::Uuid::new_v4()),
            name: name.to_owned(),
            audience: audience.to_owned(),
            token_hash: token_hash.to_owned(),
            created_at: Timestamp(db_time(change.at)),
        };
        self.transaction(|conn| {
            diesel::insert_into(ssf_receivers::table)
                .values(&row)
                .execute(conn)?;
            audit(
                conn,
                change,
                "ssf_receiver_created",
                json!({ "receiver_id": row.id.0, "name": name, "audience": audience }),
            )
        })?;
        Ok(Receiver::from(&row))
    }

    fn list_receivers(&self) -> Result<Vec<Receiver>, StoreError> {
        let rows: Vec<ReceiverRow> = self.run(|conn| {
            ssf_receivers::table
                .select(ReceiverRow::as_select())
                .order((ssf_receivers::created_at.asc(), ssf_receivers::id.asc()))
                .load(conn)
        })?;
        Ok(rows.iter().map(Receiver::from).collect())
    }

    fn delete_receiver(&self, id: uuid::Uuid, change: &SsfChange<'_>) -> Result<bool, StoreError> {
        self.transaction(|conn| {
            let streams: Vec<Id> = ssf_streams::table
                .filter(ssf_streams::receiver_id.eq(Id(id)))
                .select(ssf_streams::id)
                .load(conn)?;
            let keys: Vec<String> = streams.iter().map(|s| ssf::delivery_key(s.0)).collect();
            diesel::delete(
                webhook_deliveries::table
                    .filter(webhook_deliveries::hook.eq_any(&keys))
                    .filter(webhook_deliveries::delivered_at.is_null()),
            )
            .execute(conn)?;
            let removed = diesel::delete(ssf_receivers::table.filter(ssf_receivers::id.eq(Id(id))))
                .execute(conn)?;
            if removed > 0 {
                audit(
                    conn,
                    change,
                    "ssf_receiver_deleted",
                    json!({ "receiver_id": id, "streams": streams.len() }),
                )?;
            }
            Ok(removed > 0)
        })
    }

    fn receiver_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Receiver, String)>, StoreError> {
        let row: Option<ReceiverRow> = self.run(|conn| {
            ssf_receivers::table
                .filter(ssf_receivers::token_hash.eq(token_hash))
                .select(ReceiverRow::as_select())
                .first(conn)
                .optional()
        })?;
        Ok(row.map(|r| (Receiver::from(&r), r.token_hash)))
    }

    fn create_stream(
        &self,
        receiver: &Receiver,
        config: &StreamConfig,
        max_streams: u32,
        change: &SsfChange<'_>,
    ) -> Result<Result<Stream, StreamQuotaReached>, StoreError> {
        let at = Timestamp(db_time(change.at));
        let row = StreamRow {
            id: Id(uuid::Uuid::new_v4()),
            receiver_id: Id(receiver.id),
            config: Json(config_json(config)),
            push_endpoint: push_endpoint(config),
            status: StreamStatus::Enabled.as_str().to_owned(),
            status_reason: None,
            created_at: at,
            updated_at: at,
        };
        let id = row.id.0;
        let created = self.transaction(|conn| {
            // The receiver's row, locked: two creations at once count one after the other.
            let locked = match conn {
                DbConnection::Pg(pg) => ssf_receivers::table
                    .find(Id(receiver.id))
                    .select(ssf_receivers::id)
                    .for_update()
                    .first::<Id>(pg)
                    .optional()?,
                DbConnection::Sqlite(sqlite) => ssf_receivers::table
                    .find(Id(receiver.id))
                    .select(ssf_receivers::id)
                    .first::<Id>(sqlite)
                    .optional()?,
            };
            if locked.is_none() {
                return Err(DieselError::NotFound);
            }
            let streams: i64 = ssf_streams::table
                .filter(ssf_streams::receiver_id.eq(Id(receiver.id)))
                .count()
                .get_result(conn)?;
            if streams >= i64::from(max_streams) {
                return Ok(Err(StreamQuotaReached(max_streams)));
            }
            diesel::insert_into(ssf_streams::table)
                .values(&row)
                .execute(conn)?;
            audit(
                conn,
                change,
                "ssf_stream_created",
                json!({ "receiver_id": receiver.id, "stream_id": id,
                        "delivery_method": config.delivery.method() }),
            )?;
            Ok(Ok(()))
        })?;
        Ok(created.map(|()| Stream::from(row)))
    }

    fn streams_of(&self, receiver: &Receiver) -> Result<Vec<Stream>, StoreError> {
        let rows: Vec<StreamRow> = self.run(|conn| {
            ssf_streams::table
                .filter(ssf_streams::receiver_id.eq(Id(receiver.id)))
                .select(StreamRow::as_select())
                .order((ssf_streams::created_at.asc(), ssf_streams::id.asc()))
                .load(conn)
        })?;
        Ok(rows.into_iter().map(Stream::from).collect())
    }

    fn stream_of(&self, receiver: &Receiver, id: uuid::Uuid) -> Result<Option<Stream>, StoreError> {
        self.run(|conn| load_stream(conn, receiver.id, id))
    }

    fn update_stream(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        config: &StreamConfig,
        change: &SsfChange<'_>,
    ) -> Result<Option<Stream>, StoreError> {
        self.transaction(|conn| {
            let updated = diesel::update(
                ssf_streams::table
                    .filter(ssf_streams::id.eq(Id(id)))
                    .filter(ssf_streams::receiver_id.eq(Id(receiver.id))),
            )
            .set((
                ssf_streams::config.eq(Json(config_json(config))),
                ssf_streams::push_endpoint.eq(push_endpoint(config)),
                ssf_streams::updated_at.eq(Timestamp(db_time(change.at))),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Ok(None);
            }
            let stream = load_stream(conn, receiver.id, id)?;
            if let Some(stream) = &stream {
                // A stream that became a polled one keeps its events for the polls; one that
                // became pushed sends them.
                let due = if sends_now(stream) {
                    Timestamp(db_time(change.at))
                } else {
                    parked()
                };
                diesel::update(pending_of(&stream.delivery_key()))
                    .set(webhook_deliveries::next_attempt_at.eq(due))
                    .execute(conn)?;
            }
            audit(
                conn,
                change,
                "ssf_stream_updated",
                json!({ "receiver_id": receiver.id, "stream_id": id }),
            )?;
            Ok(stream)
        })
    }

    fn delete_stream(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        change: &SsfChange<'_>,
    ) -> Result<bool, StoreError> {
        self.transaction(|conn| {
            let removed = diesel::delete(
                ssf_streams::table
                    .filter(ssf_streams::id.eq(Id(id)))
                    .filter(ssf_streams::receiver_id.eq(Id(receiver.id))),
            )
            .execute(conn)?;
            if removed == 0 {
                return Ok(false);
            }
            diesel::delete(
                webhook_deliveries::table
                    .filter(webhook_deliveries::hook.eq(ssf::delivery_key(id)))
                    .filter(webhook_deliveries::delivered_at.is_null()),
            )
            .execute(conn)?;
            audit(
                conn,
                change,
                "ssf_stream_deleted",
                json!({ "receiver_id": receiver.id, "stream_id": id }),
            )?;
            Ok(true)
        })
    }

    fn set_stream_status(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        status: StreamStatus,
        reason: Option<&str>,
        change: &SsfChange<'_>,
    ) -> Result<Option<Stream>, StoreError> {
        self.transaction(|conn| {
            let updated = diesel::update(
                ssf_streams::table
                    .filter(ssf_streams::id.eq(Id(id)))
                    .filter(ssf_streams::receiver_id.eq(Id(receiver.id))),
            )
            .set((
                ssf_streams::status.eq(status.as_str()),
                ssf_streams::status_reason.eq(reason),
                ssf_streams::updated_at.eq(Timestamp(db_time(change.at))),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Ok(None);
            }
            let Some(stream) = load_stream(conn, receiver.id, id)? else {
                return Ok(None);
            };
            let pending = pending_of(&stream.delivery_key());
            match status {
                // Disabled: the stream keeps nothing.
                StreamStatus::Disabled => {
                    diesel::delete(pending).execute(conn)?;
                }
                StreamStatus::Paused => {
                    diesel::update(pending)
                        .set(webhook_deliveries::next_attempt_at.eq(parked()))
                        .execute(conn)?;
                }
                StreamStatus::Enabled if sends_now(&stream) => {
                    diesel::update(pending)
                        .set(webhook_deliveries::next_attempt_at.eq(Timestamp(db_time(change.at))))
                        .execute(conn)?;
                }
                StreamStatus::Enabled => {}
            }
            audit(
                conn,
                change,
                "ssf_stream_status_changed",
                json!({ "receiver_id": receiver.id, "stream_id": id,
                        "status": status.as_str(), "reason": reason }),
            )?;
            Ok(Some(stream))
        })
    }

    fn change_subject(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        subject: &Subject,
        add: bool,
        change: &SsfChange<'_>,
    ) -> Result<Option<()>, StoreError> {
        self.transaction(|conn| {
            if load_stream(conn, receiver.id, id)?.is_none() {
                return Ok(None);
            }
            let key = subject.key();
            let existing = ssf_stream_subjects::table
                .filter(ssf_stream_subjects::stream_id.eq(Id(id)))
                .filter(ssf_stream_subjects::subject.eq(&key))
                .count()
                .get_result::<i64>(conn)?;
            match (add, existing > 0) {
                (true, false) => {
                    diesel::insert_into(ssf_stream_subjects::table)
                        .values((
                            ssf_stream_subjects::stream_id.eq(Id(id)),
                            ssf_stream_subjects::subject.eq(&key),
                        ))
                        .execute(conn)?;
                }
                (false, true) => {
                    diesel::delete(
                        ssf_stream_subjects::table
                            .filter(ssf_stream_subjects::stream_id.eq(Id(id)))
                            .filter(ssf_stream_subjects::subject.eq(&key)),
                    )
                    .execute(conn)?;
                }
                _ => {}
            }
            audit(
                conn,
                change,
                if add {
                    "ssf_subject_added"
                } else {
                    "ssf_subject_removed"
                },
                json!({ "receiver_id": receiver.id, "stream_id": id }),
            )?;
            Ok(Some(()))
        })
    }

    fn request_verification(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        state: Option<&str>,
        at: DateTime<Utc>,
        min_interval: chrono::Duration,
    ) -> Result<Verification, StoreError> {
        let at = Timestamp(db_time(at));
        self.transaction(|conn| {
            let Some(stream) = load_stream(conn, receiver.id, id)? else {
                return Ok(Verification::NotFound);
            };
            // Taken only if the last one is old enough: of two requests at once, one wins.
            let taken =
                diesel::update(
                    ssf_streams::table
                        .filter(ssf_streams::id.eq(Id(id)))
                        .filter(ssf_streams::last_verification_at.is_null().or(
                            ssf_streams::last_verification_at.le(Timestamp(at.0 - min_interval)),
                        )),
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
                    event: ssf::VERIFICATION_EVENT.to_owned(),
                    payload: Json(json!({ "stream_id": id, "state": state })),
                    created_at: at,
                })
                .execute(conn)?;
            diesel::insert_into(webhook_deliveries::table)
                .values(&DeliveryRow {
                    event_id: event,
                    hook: stream.delivery_key(),
                    attempts: 0,
                    next_attempt_at: if sends_now(&stream) { at } else { parked() },
                    delivered_at: None,
                    last_error: None,
                    dead: false,
                })
                .execute(conn)?;
            Ok(Verification::Requested)
        })
    }

    fn fan_out_to_streams(
        &self,
        event: EventId,
        default_subjects: DefaultSubjects,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let now = Timestamp(db_time(now));
        self.transaction(|conn| {
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
            let Some(event_type) = ssf::event_type(&event.event) else {
                return Ok(0);
            };
            let streams: Vec<Stream> = ssf_streams::table
                .filter(ssf_streams::status.ne(StreamStatus::Disabled.as_str()))
                .select(StreamRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Stream::from)
                .filter(|s| s.config.carries(&event_type))
                .collect();
            let subjects = subjects_of(&event);
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
                        next_attempt_at: if sends_now(&stream) { now } else { parked() },
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

    fn stream_for_delivery(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<(Stream, Receiver)>, StoreError> {
        let found: Option<(StreamRow, ReceiverRow)> = self.run(|conn| {
            ssf_streams::table
                .inner_join(ssf_receivers::table)
                .filter(ssf_streams::id.eq(Id(id)))
                .select((StreamRow::as_select(), ReceiverRow::as_select()))
                .first(conn)
                .optional()
        })?;
        Ok(found.map(|(s, r)| (Stream::from(s), Receiver::from(&r))))
    }

    fn push_authorizations(&self) -> Result<Vec<(uuid::Uuid, PushAuthorization)>, StoreError> {
        let rows: Vec<StreamRow> = self.run(|conn| {
            ssf_streams::table
                .filter(ssf_streams::push_endpoint.is_not_null())
                .select(StreamRow::as_select())
                .order(ssf_streams::id.asc())
                .load(conn)
        })?;
        Ok(rows
            .into_iter()
            .map(Stream::from)
            .filter_map(|stream| match stream.config.delivery {
                Delivery::Push {
                    authorization_header: Some(header),
                    ..
                } => Some((stream.id, header)),
                _ => None,
            })
            .collect())
    }

    fn replace_push_authorizations(&self, resealed: &[Resealed]) -> Result<usize, StoreError> {
        self.transaction(|conn| {
            let mut written = 0;
            for one in resealed {
                let by_id = ssf_streams::table.filter(ssf_streams::id.eq(Id(one.stream)));
                let Some(row) = by_id
                    .select(StreamRow::as_select())
                    .first(conn)
                    .optional()?
                else {
                    continue; // deleted meanwhile
                };
                let mut config = config_of(&row.config.0);
                if let Delivery::Push {
                    authorization_header: Some(header),
                    ..
                } = &mut config.delivery
                {
                    if *header == one.was {
                        *header = PushAuthorization::Sealed(one.sealed.clone());
                        // Every change of a stream moves `updated_at`: if it moved since the
                        // read, a receiver's change came between, and it stands.
                        written += diesel::update(
                            by_id.filter(ssf_streams::updated_at.eq(row.updated_at)),
                        )
                        .set(ssf_streams::config.eq(Json(config_json(&config))))
                        .execute(conn)?;
                    }
                }
            }
            Ok(written)
        })
    }

    fn park_delivery(&self, event: EventId, key: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::event_id.eq(Id(event.0)))
                    .filter(webhook_deliveries::hook.eq(key)),
            )
            .set((
                webhook_deliveries::next_attempt_at.eq(parked()),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts - 1),
            ))
            .execute(conn)
        })?;
        Ok(())
    }

    fn unpark_enabled(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.write(|conn| {
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
                    .filter(webhook_deliveries::next_attempt_at.eq(parked()))
                    .filter(webhook_deliveries::delivered_at.is_null())
                    .filter(webhook_deliveries::dead.eq(false)),
            )
            .set(webhook_deliveries::next_attempt_at.eq(Timestamp(db_time(now))))
            .execute(conn)
        })
    }

    fn poll(
        &self,
        stream: &Stream,
        acks: &[EventId],
        errors: &[(EventId, String)],
        max: u32,
        now: DateTime<Utc>,
    ) -> Result<(Vec<OutboxEvent>, bool), StoreError> {
        let key = stream.delivery_key();
        let now = Timestamp(db_time(now));
        let limit = i64::from(max);
        self.transaction(|conn| {
            if !acks.is_empty() {
                let ids: Vec<Id> = acks.iter().map(|e| Id(e.0)).collect();
                diesel::update(pending_of(&key).filter(webhook_deliveries::event_id.eq_any(&ids)))
                    .set(webhook_deliveries::delivered_at.eq(Some(now)))
                    .execute(conn)?;
            }
            for (event, error) in errors {
                diesel::update(
                    pending_of(&key).filter(webhook_deliveries::event_id.eq(Id(event.0))),
                )
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
}
