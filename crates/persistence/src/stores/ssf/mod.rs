//! The Shared Signals transmitter's store: receivers, streams, subjects, and each stream's
//! deliveries, kept in `webhook_deliveries` under `ssf:<stream id>` beside the hooks', so they
//! share the outbox's guarantees (written with the change, one state per event and stream,
//! claimed by one instance at a time).

use crate::error::store_error;
use crate::pool::{Database, DbConnection};
use crate::schema::{ssf_receivers, ssf_stream_subjects, ssf_streams, webhook_deliveries};
use crate::types::{db_time, Id, Json, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::ids::EventId;
use domain::model::OutboxEvent;
use domain::ports::{SsfChange, SsfStore, StoreError};
use domain::ssf::{
    self, DefaultSubjects, Delivery, PendingAfter, PushAuthorization, Receiver, Resealed, Stream,
    StreamConfig, StreamQuotaReached, StreamStatus, Subject, Verification,
};
use rows::{config_json, config_of, due_at, push_endpoint, ReceiverRow, StreamRow};
use serde_json::{json, Value};

mod deliveries;
mod rows;

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
        .map(Stream::try_from)
        .transpose()?)
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
        Ok(match created {
            Ok(()) => Ok(Stream::try_from(row).map_err(|e| store_error(e.into()))?),
            Err(quota) => Err(quota),
        })
    }

    fn streams_of(&self, receiver: &Receiver) -> Result<Vec<Stream>, StoreError> {
        let rows: Vec<StreamRow> = self.run(|conn| {
            ssf_streams::table
                .filter(ssf_streams::receiver_id.eq(Id(receiver.id)))
                .select(StreamRow::as_select())
                .order((ssf_streams::created_at.asc(), ssf_streams::id.asc()))
                .load(conn)
        })?;
        rows::streams(rows).map_err(store_error)
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
                diesel::update(pending_of(&stream.delivery_key()))
                    .set(webhook_deliveries::next_attempt_at.eq(due_at(stream.due(), change.at)))
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
            match ssf::pending_after(&stream) {
                PendingAfter::Dropped => {
                    diesel::delete(pending).execute(conn)?;
                }
                PendingAfter::Parked => {
                    diesel::update(pending)
                        .set(webhook_deliveries::next_attempt_at.eq(rows::parked()))
                        .execute(conn)?;
                }
                PendingAfter::DueNow => {
                    diesel::update(pending)
                        .set(webhook_deliveries::next_attempt_at.eq(Timestamp(db_time(change.at))))
                        .execute(conn)?;
                }
                PendingAfter::Kept => {}
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
        deliveries::request_verification(self, receiver, id, state, at, min_interval)
    }

    fn fan_out_to_streams(
        &self,
        event: EventId,
        default_subjects: DefaultSubjects,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        deliveries::fan_out_to_streams(self, event, default_subjects, now)
    }

    fn stream_for_delivery(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<(Stream, Receiver)>, StoreError> {
        deliveries::stream_for_delivery(self, id)
    }

    fn push_authorizations(&self) -> Result<Vec<(uuid::Uuid, PushAuthorization)>, StoreError> {
        let rows: Vec<StreamRow> = self.run(|conn| {
            ssf_streams::table
                .filter(ssf_streams::push_endpoint.is_not_null())
                .select(StreamRow::as_select())
                .order(ssf_streams::id.asc())
                .load(conn)
        })?;
        Ok(rows::streams(rows)
            .map_err(store_error)?
            .into_iter()
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
                let mut config = config_of(&row.config.0).map_err(|why| {
                    DieselError::DeserializationError(
                        format!("stored SSF stream {}: {why}", one.stream).into(),
                    )
                })?;
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
        deliveries::park_delivery(self, event, key)
    }

    fn unpark_enabled(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        deliveries::unpark_enabled(self, now)
    }

    fn poll(
        &self,
        stream: &Stream,
        acks: &[EventId],
        errors: &[(EventId, String)],
        max: u32,
        now: DateTime<Utc>,
    ) -> Result<(Vec<OutboxEvent>, bool), StoreError> {
        deliveries::poll(self, stream, acks, errors, max, now)
    }
}
