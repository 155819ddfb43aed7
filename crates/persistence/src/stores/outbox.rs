use crate::pool::{Database, DbConnection};
use crate::rows::OutboxRow;
use crate::schema::webhook_outbox;
use crate::types::{DbTimestamp, Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Integer;
use domain::ids::EventId;
use domain::model::OutboxEvent;
use domain::ports::{DeliveryStatus, Outbox, OutboxCounts, StoreError};

/// Postgres: `FOR UPDATE SKIP LOCKED`, so instances claiming at the same moment take
/// different rows instead of queueing behind each other's locks.
const CLAIM_POSTGRES: &str =
    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $1 \
     WHERE id IN (SELECT id FROM webhook_outbox \
                  WHERE delivered_at IS NULL AND NOT dead AND next_attempt_at <= $2 \
                  ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING *";

/// SQLite: one writer at a time, so the single UPDATE … RETURNING is already exclusive.
const CLAIM_SQLITE: &str =
    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ? \
     WHERE id IN (SELECT id FROM webhook_outbox \
                  WHERE delivered_at IS NULL AND NOT dead AND next_attempt_at <= ? \
                  ORDER BY next_attempt_at LIMIT ?) \
     RETURNING *";

impl Outbox for Database {
    fn list_events(&self, status: Option<DeliveryStatus>) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows = self.run(|conn| {
            let mut query = webhook_outbox::table.into_boxed();
            query = match status {
                None => query,
                Some(DeliveryStatus::Pending) => query
                    .filter(webhook_outbox::delivered_at.is_null())
                    .filter(webhook_outbox::dead.eq(false)),
                Some(DeliveryStatus::Delivered) => {
                    query.filter(webhook_outbox::delivered_at.is_not_null())
                }
                Some(DeliveryStatus::Dead) => query.filter(webhook_outbox::dead.eq(true)),
            };
            query
                .select(OutboxRow::as_select())
                .order((webhook_outbox::created_at.asc(), webhook_outbox::id.asc()))
                .load(conn)
        })?;
        Ok(rows.into_iter().map(OutboxEvent::from).collect())
    }

    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let rows: Vec<OutboxRow> = self.run(|conn| match conn {
            DbConnection::Pg(pg) => diesel::sql_query(CLAIM_POSTGRES)
                .bind::<DbTimestamp, _>(Timestamp(lease_until))
                .bind::<DbTimestamp, _>(Timestamp(now))
                .bind::<Integer, _>(limit)
                .load(pg),
            DbConnection::Sqlite(sqlite) => diesel::sql_query(CLAIM_SQLITE)
                .bind::<DbTimestamp, _>(Timestamp(lease_until))
                .bind::<DbTimestamp, _>(Timestamp(now))
                .bind::<Integer, _>(limit)
                .load(sqlite),
        })?;
        Ok(rows.into_iter().map(OutboxEvent::from).collect())
    }

    fn mark_delivered(&self, ids: &[EventId], at: DateTime<Utc>) -> Result<(), StoreError> {
        let ids: Vec<Id> = ids.iter().map(|id| Id(id.0)).collect();
        self.run(|conn| {
            diesel::update(webhook_outbox::table.filter(webhook_outbox::id.eq_any(&ids)))
                .set((
                    webhook_outbox::delivered_at.eq(Some(Timestamp(at))),
                    webhook_outbox::last_error.eq(None::<String>),
                ))
                .execute(conn)
        })?;
        Ok(())
    }

    fn mark_failed(
        &self,
        id: EventId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(1000).collect();
        self.run(|conn| {
            let row = webhook_outbox::table.find(Id(id.0));
            match retry_at {
                Some(at) => diesel::update(row)
                    .set((
                        webhook_outbox::last_error.eq(Some(error)),
                        webhook_outbox::next_attempt_at.eq(Timestamp(at)),
                    ))
                    .execute(conn),
                None => diesel::update(row)
                    .set((
                        webhook_outbox::last_error.eq(Some(error)),
                        webhook_outbox::dead.eq(true),
                    ))
                    .execute(conn),
            }
        })?;
        Ok(())
    }

    fn prune_outbox(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        self.run(|conn| {
            diesel::delete(
                webhook_outbox::table
                    .filter(webhook_outbox::created_at.lt(Timestamp(before)))
                    .filter(
                        webhook_outbox::delivered_at
                            .is_not_null()
                            .or(webhook_outbox::dead.eq(true)),
                    ),
            )
            .execute(conn)
        })
    }

    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.run(|conn| {
            let pending: i64 = webhook_outbox::table
                .filter(webhook_outbox::delivered_at.is_null())
                .filter(webhook_outbox::dead.eq(false))
                .count()
                .get_result(conn)?;
            let dead: i64 = webhook_outbox::table
                .filter(webhook_outbox::dead.eq(true))
                .count()
                .get_result(conn)?;
            Ok(OutboxCounts {
                pending: u64::try_from(pending).unwrap_or(0),
                dead: u64::try_from(dead).unwrap_or(0),
            })
        })
    }
}
