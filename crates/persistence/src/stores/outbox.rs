use crate::pool::{Database, DbConnection};
use crate::rows::{DeliveryRow, OutboxRow};
use crate::schema::{webhook_deliveries, webhook_outbox};
use crate::types::{db_time, DbTimestamp, Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Integer, Text};
use domain::audit::AuditLogConfig;
use domain::ids::EventId;
use domain::model::{Delivery, OutboxEvent, RequestContext};
use domain::ports::{ClaimLimits, DeliveryStatus, HookBacklog, Outbox, Page, StoreError};
use std::collections::HashMap;

/// Postgres: `FOR UPDATE SKIP LOCKED`, so instances claiming at the same moment take
/// different deliveries instead of queueing behind each other's locks. Destinations without
/// room ($4, a JSON object of hook → room) are passed over; the others take at most their room
/// (or $5), oldest first.
const CLAIM_POSTGRES: &str =
    "WITH room AS (SELECT key AS hook, value::int AS room FROM jsonb_each_text($4::jsonb)), \
     due AS (SELECT event_id, hook, next_attempt_at FROM webhook_deliveries \
             WHERE delivered_at IS NULL AND NOT dead AND next_attempt_at <= $2 \
               AND hook NOT IN (SELECT hook FROM room WHERE room <= 0) \
             ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED), \
     ranked AS (SELECT due.event_id, due.hook, \
                       row_number() OVER (PARTITION BY due.hook ORDER BY due.next_attempt_at) AS n, \
                       COALESCE(room.room, $5) AS room \
                FROM due LEFT JOIN room ON room.hook = due.hook) \
     UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1 \
     WHERE (event_id, hook) IN (SELECT event_id, hook FROM ranked WHERE n <= room) \
     RETURNING *";

/// SQLite: one writer at a time, so the single statement is already exclusive.
const CLAIM_SQLITE: &str =
    "WITH room AS (SELECT key AS hook, value AS room FROM json_each(?4)), \
     due AS (SELECT event_id, hook, next_attempt_at FROM webhook_deliveries \
             WHERE delivered_at IS NULL AND NOT dead AND next_attempt_at <= ?2 \
               AND hook NOT IN (SELECT hook FROM room WHERE room <= 0) \
             ORDER BY next_attempt_at LIMIT ?3), \
     ranked AS (SELECT due.event_id, due.hook, \
                       row_number() OVER (PARTITION BY due.hook ORDER BY due.next_attempt_at) AS n, \
                       COALESCE(room.room, ?5) AS room \
                FROM due LEFT JOIN room ON room.hook = due.hook) \
     UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?1 \
     WHERE (event_id, hook) IN (SELECT event_id, hook FROM ranked WHERE n <= room) \
     RETURNING *";

/// Pending and dead deliveries per hook (delivered ones are not read).
const BACKLOG: &str = "SELECT hook, \
       SUM(CASE WHEN dead THEN 0 ELSE 1 END) AS pending, \
       SUM(CASE WHEN dead THEN 1 ELSE 0 END) AS dead \
     FROM webhook_deliveries WHERE delivered_at IS NULL GROUP BY hook ORDER BY hook";

diesel::define_sql_function! {
    /// `REPLACE(text, from, to)`, the same on Postgres and SQLite.
    fn replace(
        text: diesel::sql_types::Nullable<Text>,
        from: Text,
        to: Text,
    ) -> diesel::sql_types::Nullable<Text>;
}

#[derive(QueryableByName)]
struct BacklogRow {
    #[diesel(sql_type = Text)]
    hook: String,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    dead: i64,
}

/// The events of these deliveries, attached to them.
fn with_events(
    conn: &mut DbConnection,
    rows: Vec<DeliveryRow>,
) -> Result<Vec<Delivery>, DieselError> {
    let ids: Vec<Id> = rows.iter().map(|r| r.event_id).collect();
    let events: HashMap<uuid::Uuid, OutboxEvent> = webhook_outbox::table
        .filter(webhook_outbox::id.eq_any(&ids))
        .select(OutboxRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| (r.id.0, OutboxEvent::from(r)))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let event = events.get(&r.event_id.0)?.clone();
            Some(r.with_event(event))
        })
        .collect())
}

fn delivery(event: EventId, hook: &str) -> (Id, String) {
    (Id(event.0), hook.to_owned())
}

impl Outbox for Database {
    fn list_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Delivery>, StoreError> {
        let per_page = i64::from(per_page.clamp(1, 1000));
        let offset = i64::from(page.max(1) - 1) * per_page;
        let filtered = || {
            let query = webhook_deliveries::table
                .inner_join(webhook_outbox::table)
                .into_boxed();
            match status {
                None => query,
                Some(DeliveryStatus::Pending) => query
                    .filter(webhook_deliveries::delivered_at.is_null())
                    .filter(webhook_deliveries::dead.eq(false)),
                Some(DeliveryStatus::Delivered) => {
                    query.filter(webhook_deliveries::delivered_at.is_not_null())
                }
                Some(DeliveryStatus::Dead) => query.filter(webhook_deliveries::dead.eq(true)),
            }
        };
        let (rows, total) = self.run(|conn| {
            let total: i64 = filtered().count().get_result(conn)?;
            let rows: Vec<(DeliveryRow, OutboxRow)> = filtered()
                .select((DeliveryRow::as_select(), OutboxRow::as_select()))
                .order((
                    webhook_outbox::created_at.asc(),
                    webhook_outbox::id.asc(),
                    webhook_deliveries::hook.asc(),
                ))
                .limit(per_page)
                .offset(offset)
                .load(conn)?;
            Ok((rows, total))
        })?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(|(d, e)| d.with_event(OutboxEvent::from(e)))
                .collect(),
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limits: &ClaimLimits,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let total = i32::try_from(limits.total).unwrap_or(i32::MAX);
        let per_destination = i32::try_from(limits.per_destination).unwrap_or(i32::MAX);
        let room = serde_json::Value::Object(
            limits
                .room
                .iter()
                .map(|(hook, room)| (hook.clone(), serde_json::Value::from(*room)))
                .collect(),
        )
        .to_string();
        self.write(|conn| {
            let claimed: Vec<DeliveryRow> = match conn {
                DbConnection::Pg(pg) => diesel::sql_query(CLAIM_POSTGRES)
                    .bind::<DbTimestamp, _>(Timestamp(lease_until))
                    .bind::<DbTimestamp, _>(Timestamp(now))
                    .bind::<Integer, _>(total)
                    .bind::<Text, _>(&room)
                    .bind::<Integer, _>(per_destination)
                    .load(pg)?,
                DbConnection::Sqlite(sqlite) => diesel::sql_query(CLAIM_SQLITE)
                    .bind::<DbTimestamp, _>(Timestamp(lease_until))
                    .bind::<DbTimestamp, _>(Timestamp(now))
                    .bind::<Integer, _>(total)
                    .bind::<Text, _>(&room)
                    .bind::<Integer, _>(per_destination)
                    .load(sqlite)?,
            };
            with_events(conn, claimed)
        })
    }

    fn fan_out(
        &self,
        event: EventId,
        hooks: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.transaction(|conn| {
            diesel::delete(
                webhook_deliveries::table.find(delivery(event, Delivery::ALL_SUBSCRIBED)),
            )
            .execute(conn)?;
            for hook in hooks {
                diesel::insert_into(webhook_deliveries::table)
                    .values(&DeliveryRow {
                        event_id: Id(event.0),
                        hook: hook.clone(),
                        attempts: 0,
                        next_attempt_at: Timestamp(now),
                        delivered_at: None,
                        last_error: None,
                        dead: false,
                    })
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    fn mark_delivered(&self, done: &[(EventId, String, DateTime<Utc>)]) -> Result<(), StoreError> {
        // One transaction: one commit (one flush to disk) for the whole group.
        self.transaction(|conn| {
            for (event, hook, at) in done {
                diesel::update(webhook_deliveries::table.find(delivery(*event, hook)))
                    .set((
                        webhook_deliveries::delivered_at.eq(Some(Timestamp(*at))),
                        webhook_deliveries::last_error.eq(None::<String>),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn mark_failed(
        &self,
        event: EventId,
        hook: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(1000).collect();
        self.write(|conn| {
            let row = webhook_deliveries::table.find(delivery(event, hook));
            match retry_at {
                Some(at) => diesel::update(row)
                    .set((
                        webhook_deliveries::last_error.eq(Some(error)),
                        webhook_deliveries::next_attempt_at.eq(Timestamp(at)),
                    ))
                    .execute(conn),
                None => diesel::update(row)
                    .set((
                        webhook_deliveries::last_error.eq(Some(error)),
                        webhook_deliveries::dead.eq(true),
                    ))
                    .execute(conn),
            }
        })?;
        Ok(())
    }

    fn prune_outbox(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        self.write(|conn| {
            let unfinished = webhook_deliveries::table
                .filter(webhook_deliveries::event_id.eq(webhook_outbox::id))
                .filter(webhook_deliveries::delivered_at.is_null())
                .filter(webhook_deliveries::dead.eq(false));
            // Deliveries go with their event (ON DELETE CASCADE).
            diesel::delete(
                webhook_outbox::table
                    .filter(webhook_outbox::created_at.lt(Timestamp(before)))
                    .filter(not(exists(unfinished))),
            )
            .execute(conn)
        })
    }

    fn backlog(&self) -> Result<Vec<HookBacklog>, StoreError> {
        let rows: Vec<BacklogRow> = self.run(|conn| diesel::sql_query(BACKLOG).load(conn))?;
        Ok(rows
            .into_iter()
            .map(|r| HookBacklog {
                hook: r.hook,
                pending: u64::try_from(r.pending).unwrap_or(0),
                dead: u64::try_from(r.dead).unwrap_or(0),
            })
            .collect())
    }

    fn rename_hook(&self, from: &str, to: &str) -> Result<usize, StoreError> {
        self.transaction(|conn| {
            diesel::update(webhook_deliveries::table.filter(webhook_deliveries::hook.eq(from)))
                .set((
                    webhook_deliveries::hook.eq(to),
                    webhook_deliveries::last_error.eq(replace(
                        webhook_deliveries::last_error,
                        from,
                        to,
                    )),
                ))
                .execute(conn)
        })
    }

    fn retry_dead(
        &self,
        hook: Option<&str>,
        event: Option<EventId>,
        context: &RequestContext,
        audit: &AuditLogConfig,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let now = Timestamp(db_time(now));
        self.transaction(|conn| {
            let mut dead = webhook_deliveries::table
                .filter(webhook_deliveries::dead.eq(true))
                .into_boxed();
            if let Some(hook) = hook {
                dead = dead.filter(webhook_deliveries::hook.eq(hook.to_owned()));
            }
            if let Some(event) = event {
                dead = dead.filter(webhook_deliveries::event_id.eq(Id(event.0)));
            }
            let keys: Vec<(Id, String)> = dead
                .select((webhook_deliveries::event_id, webhook_deliveries::hook))
                .load(conn)?;
            for (event_id, hook) in &keys {
                diesel::update(webhook_deliveries::table.find((*event_id, hook.clone())))
                    .set((
                        webhook_deliveries::dead.eq(false),
                        webhook_deliveries::attempts.eq(0),
                        webhook_deliveries::next_attempt_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            super::accounts::audit_operation(
                conn,
                audit,
                context,
                "webhook_deliveries_retried",
                serde_json::json!({
                    "hook": hook, "event_id": event.map(|e| e.0), "retried": keys.len()
                }),
                now,
            )?;
            Ok(keys.len())
        })
    }
}
