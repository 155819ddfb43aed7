use crate::pool::{Database, DbConnection};
use crate::prepared::{Prepared, Value};
use crate::rows::{DeliveryRow, OutboxRow};
use crate::schema::{webhook_deliveries, webhook_outbox};
use crate::types::{db_time, DbTimestamp, Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Integer, Text};
use domain::audit::AuditLogConfig;
use domain::ids::EventId;
use domain::model::{Delivery, OutboxEvent, RequestContext};
use domain::ports::{ClaimLimits, DeliveryStatus, HookBacklog, Outbox, Page, StoreError};
use std::collections::HashMap;

/// The destinations (hooks or streams) with pending deliveries, found by skipping through the
/// `(hook, next_attempt_at)` index one destination at a time, as a recursive CTE named
/// `destinations (hook)` (its last row is NULL). The same text on both backends.
macro_rules! destinations {
    () => {
        "destinations (hook) AS ( \
             SELECT (SELECT hook FROM webhook_deliveries WHERE delivered_at IS NULL AND NOT dead \
                     ORDER BY hook LIMIT 1) \
           UNION ALL \
             SELECT (SELECT d.hook FROM webhook_deliveries d \
                     WHERE d.delivered_at IS NULL AND NOT d.dead AND d.hook > destinations.hook \
                     ORDER BY d.hook LIMIT 1) \
             FROM destinations WHERE destinations.hook IS NOT NULL)"
    };
}

/// Postgres: per destination (hook or stream) with pending deliveries, found by skipping
/// through the `(hook, next_attempt_at)` index, its oldest due deliveries up to its room ($4,
/// a JSON object of destination → room; $5 for any other), locked with `FOR UPDATE SKIP
/// LOCKED` (instances claiming at the same moment take different deliveries instead of
/// queueing behind each other's locks; a row another instance leased meanwhile is no longer
/// due when re-read under the lock); of those the oldest $3 are leased until $1. A full
/// destination costs one index probe, whatever its backlog. Each delivery comes back with its
/// event, and the statement is prepared once per connection ([`Claiming`]).
const CLAIM_POSTGRES: &str = concat!(
    "WITH RECURSIVE ",
    destinations!(),
    ", \
     room AS (SELECT key AS hook, value::int AS room FROM jsonb_each_text($4::jsonb)), \
     taken AS (SELECT due.tid FROM destinations \
               LEFT JOIN room ON room.hook = destinations.hook \
               CROSS JOIN LATERAL ( \
                 SELECT d.ctid AS tid, d.next_attempt_at FROM webhook_deliveries d \
                 WHERE d.hook = destinations.hook AND d.delivered_at IS NULL AND NOT d.dead \
                   AND d.next_attempt_at <= $2 \
                 ORDER BY d.next_attempt_at LIMIT COALESCE(room.room, $5) \
                 FOR UPDATE SKIP LOCKED) due \
               ORDER BY due.next_attempt_at LIMIT $3), \
     claimed AS (UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1 \
                 WHERE ctid = ANY (ARRAY(SELECT tid FROM taken)) \
                 RETURNING *) \
     SELECT claimed.*, o.id, o.event, o.payload, o.created_at FROM claimed \
     CROSS JOIN LATERAL (SELECT * FROM webhook_outbox o WHERE o.id = claimed.event_id) o"
);

/// [`CLAIM_POSTGRES`]'s key for [`Prepared`].
struct Claiming;

/// Postgres: every delivery of a group recorded in one statement (one commit, one plan per
/// connection: [`Recording`]).
const DELIVERED_POSTGRES: &str = "UPDATE webhook_deliveries d \
     SET delivered_at = done.at, last_error = NULL \
     FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS done (event_id, hook, at) \
     WHERE d.event_id = done.event_id AND d.hook = done.hook";

/// [`DELIVERED_POSTGRES`]'s key for [`Prepared`].
struct Recording;

/// SQLite: the destinations with pending deliveries, found by skipping through the
/// `(hook, next_attempt_at)` index (SQLite has no `LATERAL`: each destination's share is read
/// by [`DUE_SQLITE`], then the chosen are leased by [`LEASE_SQLITE`]).
const DESTINATIONS_SQLITE: &str = concat!(
    "WITH RECURSIVE ",
    destinations!(),
    " SELECT hook FROM destinations WHERE hook IS NOT NULL"
);

/// SQLite: one destination's oldest due deliveries, up to its room.
const DUE_SQLITE: &str = "SELECT rowid AS position, next_attempt_at FROM webhook_deliveries \
     WHERE hook = ?1 AND delivered_at IS NULL AND NOT dead AND next_attempt_at <= ?2 \
     ORDER BY next_attempt_at LIMIT ?3";

/// SQLite: the chosen deliveries (a JSON list of rowids) leased, those still due only: another
/// process on the same file that leased one meanwhile keeps it.
const LEASE_SQLITE: &str =
    "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?1 \
     WHERE rowid IN (SELECT value FROM json_each(?2)) \
       AND delivered_at IS NULL AND NOT dead AND next_attempt_at <= ?3 \
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

/// A claimed delivery with its event ([`CLAIM_POSTGRES`]).
#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(embed)]
    delivery: DeliveryRow,
    #[diesel(embed)]
    event: OutboxRow,
}

#[derive(QueryableByName)]
struct DestinationRow {
    #[diesel(sql_type = Text)]
    hook: String,
}

/// A due delivery on SQLite ([`DUE_SQLITE`]).
#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = DbTimestamp)]
    next_attempt_at: Timestamp,
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
        self.write(|conn| match conn {
            DbConnection::Pg(pg) => {
                let room = serde_json::Value::Object(
                    limits
                        .room
                        .iter()
                        .map(|(hook, room)| (hook.clone(), serde_json::Value::from(*room)))
                        .collect(),
                )
                .to_string();
                let (lease_until, now) = (db_time(lease_until), db_time(now));
                let values = [
                    Value::Time(&lease_until),
                    Value::Time(&now),
                    Value::Int(&total),
                    Value::Text(&room),
                    Value::Int(&per_destination),
                ];
                // Planned for the rows as they are at each claim. After five runs Postgres
                // may keep one plan for the statement, costed on the tables as they were then:
                // made on an empty outbox, it read the whole outbox at every later claim, and
                // under a 30-minute soak on a Postgres that never analysed the tables the
                // claims went from 2 to 70 ms (bench/README.md, Soak). Parsed once still.
                pg.batch_execute("SET plan_cache_mode = force_custom_plan")?;
                let claimed = Prepared::<Claiming>::new(CLAIM_POSTGRES, &values).load(pg);
                pg.batch_execute("RESET plan_cache_mode")?;
                let claimed: Vec<ClaimedRow> = claimed?;
                Ok(claimed
                    .into_iter()
                    .map(|r| r.delivery.with_event(OutboxEvent::from(r.event)))
                    .collect())
            }
            DbConnection::Sqlite(sqlite) => {
                let destinations: Vec<DestinationRow> =
                    diesel::sql_query(DESTINATIONS_SQLITE).load(sqlite)?;
                let mut due: Vec<DueRow> = Vec::new();
                for destination in destinations {
                    let room = limits
                        .room
                        .iter()
                        .find(|(hook, _)| *hook == destination.hook)
                        .map_or(limits.per_destination, |(_, room)| *room);
                    if room == 0 {
                        continue;
                    }
                    due.extend(
                        diesel::sql_query(DUE_SQLITE)
                            .bind::<Text, _>(&destination.hook)
                            .bind::<DbTimestamp, _>(Timestamp(now))
                            .bind::<Integer, _>(i32::try_from(room).unwrap_or(i32::MAX))
                            .load::<DueRow>(sqlite)?,
                    );
                }
                due.sort_by_key(|d| d.next_attempt_at);
                due.truncate(usize::try_from(total).unwrap_or(0));
                if due.is_empty() {
                    return Ok(Vec::new());
                }
                let rows: Vec<String> = due.iter().map(|d| d.position.to_string()).collect();
                let claimed: Vec<DeliveryRow> = diesel::sql_query(LEASE_SQLITE)
                    .bind::<DbTimestamp, _>(Timestamp(lease_until))
                    .bind::<Text, _>(format!("[{}]", rows.join(",")))
                    .bind::<DbTimestamp, _>(Timestamp(now))
                    .load(sqlite)?;
                with_events(conn, claimed)
            }
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
        self.write(|conn| match conn {
            DbConnection::Pg(pg) => {
                let events: Vec<uuid::Uuid> = done.iter().map(|(event, _, _)| event.0).collect();
                let hooks: Vec<String> = done.iter().map(|(_, hook, _)| hook.clone()).collect();
                let at: Vec<DateTime<Utc>> = done.iter().map(|(_, _, at)| db_time(*at)).collect();
                let values = [
                    Value::Uuids(&events),
                    Value::Texts(&hooks),
                    Value::Times(&at),
                ];
                Prepared::<Recording>::new(DELIVERED_POSTGRES, &values).execute(pg)
            }
            // One transaction: one commit (one flush to disk) for the whole group.
            DbConnection::Sqlite(_) => conn.transaction(|conn| {
                for (event, hook, at) in done {
                    diesel::update(webhook_deliveries::table.find(delivery(*event, hook)))
                        .set((
                            webhook_deliveries::delivered_at.eq(Some(Timestamp(*at))),
                            webhook_deliveries::last_error.eq(None::<String>),
                        ))
                        .execute(conn)?;
                }
                Ok(done.len())
            }),
        })?;
        Ok(())
    }

    fn release(&self, claimed: &[(EventId, String)], now: DateTime<Utc>) -> Result<(), StoreError> {
        self.transaction(|conn| {
            for (event, hook) in claimed {
                diesel::update(
                    webhook_deliveries::table
                        .find(delivery(*event, hook))
                        .filter(webhook_deliveries::delivered_at.is_null())
                        .filter(webhook_deliveries::dead.eq(false)),
                )
                .set((
                    webhook_deliveries::attempts.eq(webhook_deliveries::attempts - 1),
                    webhook_deliveries::next_attempt_at.eq(Timestamp(now)),
                ))
                .execute(conn)?;
            }
            Ok(())
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_databases::Databases;
    use domain::events::{EventKind, Recipients};

    /// `n` events for `hook`, due one millisecond apart from `start`: their payloads `{"n": i}`.
    fn events(db: &Database, hook: &str, n: i64, start: DateTime<Utc>) {
        db.transaction(|conn| {
            for i in 0..n {
                let at = Timestamp(db_time(start + chrono::Duration::milliseconds(i)));
                super::super::events::append(
                    conn,
                    EventKind::UserDelete,
                    &serde_json::json!({ "hook": hook, "n": i }),
                    &Recipients(vec![hook.to_owned()]),
                    at,
                )?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("writing {hook}'s events: {e}"));
    }

    /// (hook, n) of each delivery, in the claim's order within each hook.
    fn claimed(deliveries: &[Delivery]) -> Vec<(String, i64)> {
        let mut taken: Vec<(String, i64)> = deliveries
            .iter()
            .map(|d| {
                assert_eq!(
                    d.event.payload["hook"],
                    d.hook.as_str(),
                    "another event's payload"
                );
                (d.hook.clone(), d.event.payload["n"].as_i64().unwrap_or(-1))
            })
            .collect();
        taken.sort();
        taken
    }

    fn limits(total: u32, per_destination: u32, room: &[(&str, u32)]) -> ClaimLimits {
        ClaimLimits {
            total,
            per_destination,
            room: room.iter().map(|(h, r)| ((*h).to_owned(), *r)).collect(),
        }
    }

    /// Each destination gives its oldest due deliveries up to its room, a full one none however
    /// long its backlog; the total is the oldest of those; what is claimed is leased (hidden
    /// until the lease ends, its attempt counted) and comes with its own event; recorded
    /// deliveries are never claimed again. The same on both backends.
    #[test]
    fn claims_take_each_destinations_room_oldest_first_and_lease_them() {
        let dbs = Databases::new();
        for (backend, db) in [("sqlite", &dbs.sqlite), ("postgres", &dbs.postgres)] {
            let start = db_time(Utc::now()) - chrono::Duration::seconds(60);
            events(db, "busy", 50, start);
            events(db, "quiet", 3, start + chrono::Duration::seconds(1));
            let now = Utc::now();
            let lease = now + chrono::Duration::seconds(40);
            let claim = |at: DateTime<Utc>, limits: ClaimLimits| {
                db.claim_due(at, &limits, lease)
                    .unwrap_or_else(|e| panic!("{backend}: {e}"))
            };
            let busy = |n: std::ops::Range<i64>| -> Vec<(String, i64)> {
                n.map(|n| ("busy".to_owned(), n)).collect()
            };

            // "busy" is full: only "quiet" is taken, all of it.
            let first = claim(now, limits(128, 32, &[("busy", 0)]));
            assert_eq!(
                claimed(&first),
                vec![
                    ("quiet".into(), 0),
                    ("quiet".into(), 1),
                    ("quiet".into(), 2)
                ],
                "{backend}"
            );
            for d in &first {
                assert_eq!(
                    (d.attempts, d.next_attempt_at),
                    (1, db_time(lease)),
                    "{backend}"
                );
            }
            // "busy" has room for 5, the rest 2 each, 4 in all: the 4 oldest of "busy".
            let second = claim(now, limits(4, 2, &[("busy", 5)]));
            assert_eq!(claimed(&second), busy(0..4), "{backend}");
            // A destination with nothing in hand takes `per_destination`; the leased are hidden.
            let third = claim(now, limits(128, 3, &[]));
            assert_eq!(claimed(&third), busy(4..7), "{backend}");

            // Recorded: never claimed again, even after the lease.
            let done: Vec<_> = first
                .iter()
                .chain(&second)
                .chain(&third)
                .map(|d| (d.event.id, d.hook.clone(), now))
                .collect();
            db.mark_delivered(&done)
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
            let after_lease = lease + chrono::Duration::seconds(1);
            assert_eq!(
                claimed(&claim(after_lease, limits(128, 100, &[]))),
                busy(7..50),
                "{backend}"
            );
            let delivered = db
                .list_deliveries(Some(DeliveryStatus::Delivered), 1, 1000)
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
            assert_eq!(delivered.total, 10, "{backend}");
            assert!(
                delivered
                    .items
                    .iter()
                    .all(|d| d.delivered_at == Some(db_time(now))),
                "{backend}: {:?}",
                delivered
                    .items
                    .iter()
                    .map(|d| d.delivered_at)
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Every claim is planned for the rows of its moment, never with a plan kept from an
    /// earlier one: one made on an empty outbox read the whole outbox at each later claim.
    #[test]
    fn every_claim_is_planned_for_the_rows_of_its_moment() {
        let dbs = Databases::new();
        // One connection, so every statement below is prepared on it.
        let config = crate::DatabaseConfig {
            url: dbs
                .pg_url
                .parse::<crate::DatabaseUrl>()
                .unwrap_or_else(|e| panic!("{e}")),
            pool_size: std::num::NonZeroU32::MIN,
            ..crate::DatabaseConfig::default()
        };
        let db = Database::connect(&config);
        let now = Utc::now();
        let lease = now + chrono::Duration::seconds(40);
        for _ in 0..12 {
            db.claim_due(now, &limits(128, 32, &[]), lease)
                .unwrap_or_else(|e| panic!("claiming from an empty outbox: {e}"));
        }
        events(
            &db,
            "hook",
            50,
            db_time(now) - chrono::Duration::seconds(60),
        );
        let taken = db
            .claim_due(now, &limits(128, 32, &[]), lease)
            .unwrap_or_else(|e| panic!("claiming: {e}"));
        assert_eq!(taken.len(), 32);

        #[derive(QueryableByName, Debug)]
        struct Plans {
            #[diesel(sql_type = Text)]
            statement: String,
            #[diesel(sql_type = BigInt)]
            generic_plans: i64,
            #[diesel(sql_type = BigInt)]
            custom_plans: i64,
        }
        let plans: Vec<Plans> = db
            .with_connection(|conn| match conn {
                DbConnection::Pg(pg) => diesel::sql_query(
                    "SELECT left(statement, 60) AS statement, generic_plans, custom_plans \
                     FROM pg_prepared_statements",
                )
                .load(pg),
                DbConnection::Sqlite(_) => Ok(Vec::new()),
            })
            .unwrap_or_else(|e| panic!("no connection: {e}"))
            .unwrap_or_else(|e| panic!("reading the plans: {e}"));
        let claims: Vec<&Plans> = plans
            .iter()
            .filter(|p| p.statement.contains("destinations (hook)"))
            .collect();
        assert_eq!(
            claims.len(),
            1,
            "the claim is one prepared statement: {plans:?}"
        );
        assert_eq!(
            claims[0].generic_plans, 0,
            "a plan kept from earlier claims: {plans:?}"
        );
        assert_eq!(claims[0].custom_plans, 13, "{plans:?}");
        // The setting is the claim's alone: the events' inserts keep a plan after five runs.
        assert!(
            plans.iter().any(|p| p.generic_plans > 0),
            "the claim's setting outlived it: {plans:?}"
        );
    }

    /// Released deliveries are due at once with their claim's attempt uncounted; one recorded
    /// meanwhile stays recorded. The same on both backends.
    #[test]
    fn released_deliveries_are_due_again_as_before_their_claim() {
        let dbs = Databases::new();
        for (backend, db) in [("sqlite", &dbs.sqlite), ("postgres", &dbs.postgres)] {
            let start = db_time(Utc::now()) - chrono::Duration::seconds(60);
            events(db, "hook", 3, start);
            let now = Utc::now();
            let lease = now + chrono::Duration::seconds(40);
            let taken = db
                .claim_due(now, &limits(128, 32, &[]), lease)
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
            assert_eq!(taken.len(), 3, "{backend}");
            db.mark_delivered(&[(taken[0].event.id, taken[0].hook.clone(), now)])
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
            let back: Vec<_> = taken.iter().map(|d| (d.event.id, d.hook.clone())).collect();
            let released_at = now + chrono::Duration::seconds(1);
            db.release(&back, released_at)
                .unwrap_or_else(|e| panic!("{backend}: {e}"));

            // Before the lease ends, the two released are claimed again, as first attempts.
            let again = db
                .claim_due(released_at, &limits(128, 32, &[]), lease)
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
            let mut again: Vec<_> = again.iter().map(|d| (d.event.id, d.attempts)).collect();
            again.sort();
            let mut expected: Vec<_> = taken[1..].iter().map(|d| (d.event.id, 1)).collect();
            expected.sort();
            assert_eq!(again, expected, "{backend}");
            let delivered = db
                .list_deliveries(Some(DeliveryStatus::Delivered), 1, 10)
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
            let ids: Vec<_> = delivered.items.iter().map(|d| d.event.id).collect();
            assert_eq!(ids, vec![taken[0].event.id], "{backend}");
        }
    }
}
