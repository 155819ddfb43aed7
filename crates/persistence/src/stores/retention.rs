//! The inactivity policy's rows (docs/retention.md): who is due for a warning or a deletion,
//! written once for the passes' claims and the preview alike; the warnings; the fleet's pace.

use super::accounts::{audit_row, load_emails};
use super::events::rows;
use crate::pool::{Database, DbConnection};
use crate::schema::{audit_logs, retention_pace, users, webhook_deliveries, webhook_outbox};
use crate::types::{db_time, Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::audit::USER_INACTIVITY_WARNED;
use domain::events::EventKind;
use domain::ids::UserId;
use domain::model::{Email, RequestContext};
use domain::ports::{InactivityWarnings, RetentionStore, StoreError};
use domain::retention::{
    Cutoffs, InactivityWarning, PreviewedUser, RetentionAction, RetentionPreview,
};
use std::collections::HashMap;

/// Users the policy may act on at all, inactive since `$since`: no deletion scheduled, no
/// legal hold.
macro_rules! inactive_since {
    ($since:expr) => {
        users::deletion_scheduled_at
            .is_null()
            .and(users::hold.eq(false))
            .and(users::last_active_at.le(Timestamp($since)))
    };
}

/// Due for a warning, as a pass claims them (after withdrawing overtaken warnings): not warned.
macro_rules! warn_due {
    ($c:expr) => {
        users::inactivity_warned_at
            .is_null()
            .and(inactive_since!($c.warn_if_inactive_since))
    };
}

/// Due for a warning, as a pass at `$c` sees them before it starts: not warned, or warned
/// before the user was active again (the pass withdraws that warning first).
macro_rules! warn_due_before_withdrawal {
    ($c:expr) => {
        users::inactivity_warned_at
            .is_null()
            .or(users::inactivity_warned_at
                .nullable()
                .lt(users::last_active_at.nullable()))
            .and(inactive_since!($c.warn_if_inactive_since))
    };
}

/// Due for the deletion: warned long enough ago, not active since the warning, inactive for
/// the whole `inactive_after`.
macro_rules! delete_due {
    ($c:expr) => {
        users::inactivity_warned_at
            .le(Timestamp($c.delete_if_warned_by))
            .and(
                users::inactivity_warned_at
                    .nullable()
                    .ge(users::last_active_at.nullable()),
            )
            .and(inactive_since!($c.delete_if_inactive_since))
    };
}
pub(crate) use {delete_due, inactive_since};

/// Inserts `rows` into `table`: one statement on Postgres; one per row on SQLite, whose
/// statements are calls within the process (and which Diesel's multi-backend connection
/// cannot send a multi-row insert).
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            DbConnection::Pg(pg) => {
                if !$rows.is_empty() {
                    diesel::insert_into($table).values(&$rows).execute(pg)?;
                }
            }
            DbConnection::Sqlite(sqlite) => {
                for row in &$rows {
                    diesel::insert_into($table).values(row).execute(sqlite)?;
                }
            }
        }
    };
}

/// Claims up to `limit` users due for a warning, oldest activity first: locked on Postgres
/// (another instance's are skipped), under the process's one writer on SQLite.
fn claim_warnings(
    conn: &mut DbConnection,
    cutoffs: &Cutoffs,
    limit: u32,
) -> Result<Vec<(Id, Timestamp)>, DieselError> {
    let query = users::table
        .filter(warn_due!(cutoffs))
        .order((users::last_active_at.asc(), users::id.asc()))
        .select((users::id, users::last_active_at))
        .limit(i64::from(limit));
    match conn {
        DbConnection::Pg(pg) => query.for_update().skip_locked().load(pg),
        DbConnection::Sqlite(sqlite) => query.load(sqlite),
    }
}

impl RetentionStore for Database {
    fn withdraw_inactivity_warnings(&self) -> Result<u64, StoreError> {
        let n = self.write(|conn| {
            diesel::update(
                users::table.filter(
                    users::inactivity_warned_at
                        .nullable()
                        .lt(users::last_active_at.nullable()),
                ),
            )
            .set(users::inactivity_warned_at.eq(None::<Timestamp>))
            .execute(conn)
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn reserve_retention_share(
        &self,
        share: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let now = Timestamp(db_time(now));
        self.transaction(|conn| {
            let pace = retention_pace::table
                .find(1)
                .select(retention_pace::not_before);
            let not_before: Timestamp = match conn {
                DbConnection::Pg(pg) => {
                    // A reservation lost in a crash costs nothing (the next one starts from
                    // now): its commit need not wait for the disk, as requests' commits would
                    // behind it.
                    pg.batch_execute("SET LOCAL synchronous_commit TO OFF")?;
                    pace.for_update().first(pg)?
                }
                DbConnection::Sqlite(sqlite) => pace.first(sqlite)?,
            };
            let start = not_before.max(now);
            diesel::update(retention_pace::table.find(1))
                .set(retention_pace::not_before.eq(Timestamp(db_time(start.0 + share))))
                .execute(conn)?;
            Ok(start.0)
        })
    }

    fn warn_inactive_users(&self, warnings: &InactivityWarnings) -> Result<usize, StoreError> {
        let at = Timestamp(db_time(warnings.cutoffs.at));
        let context = RequestContext::default();
        self.transaction(|conn| {
            let claimed = claim_warnings(conn, &warnings.cutoffs, warnings.limit)?;
            if claimed.is_empty() {
                return Ok(0);
            }
            // A handful of statements for the whole batch, whatever its size.
            let ids: Vec<Id> = claimed.iter().map(|(id, _)| *id).collect();
            let mut emails: HashMap<uuid::Uuid, Vec<Email>> = HashMap::new();
            for row in load_emails(conn, &ids)? {
                emails.entry(row.user_id.0).or_default().push(row.into());
            }
            diesel::update(users::table.filter(users::id.eq_any(&ids)))
                .set(users::inactivity_warned_at.eq(at))
                .execute(conn)?;
            let (mut entries, mut events, mut deliveries) = (Vec::new(), Vec::new(), Vec::new());
            for (id, last_active_at) in &claimed {
                let emails = emails.remove(&id.0).unwrap_or_default();
                let delete_after = warnings.policy.delete_after(last_active_at.0, at.0);
                if warnings.audit.enabled {
                    entries.push(audit_row(
                        &warnings.audit,
                        USER_INACTIVITY_WARNED,
                        *id,
                        &emails,
                        &context,
                        serde_json::json!({
                            "by": "retention",
                            "delete_after": domain::time::rfc3339_micros(&delete_after),
                        }),
                        at,
                    ));
                }
                let payload = InactivityWarning {
                    id: UserId(id.0),
                    emails,
                    delete_after,
                };
                let (event, to) = rows(
                    EventKind::UserInactivityWarning,
                    &payload,
                    &warnings.recipients,
                    at,
                )?;
                events.push(event);
                deliveries.extend(to);
            }
            insert_all!(conn, audit_logs::table, entries);
            insert_all!(conn, webhook_outbox::table, events);
            insert_all!(conn, webhook_deliveries::table, deliveries);
            Ok(claimed.len())
        })
    }

    fn retention_preview(
        &self,
        cutoffs: &Cutoffs,
        limit: usize,
    ) -> Result<RetentionPreview, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|conn| {
            let delete: i64 = users::table
                .filter(delete_due!(cutoffs))
                .count()
                .get_result(conn)?;
            let warn: i64 = users::table
                .filter(warn_due_before_withdrawal!(cutoffs))
                .count()
                .get_result(conn)?;
            type Row = (Id, Timestamp, Option<Timestamp>);
            let columns = (
                users::id,
                users::last_active_at,
                users::inactivity_warned_at,
            );
            let deleted: Vec<Row> = users::table
                .filter(delete_due!(cutoffs))
                .order((users::inactivity_warned_at.asc(), users::id.asc()))
                .select(columns)
                .limit(limit)
                .load(conn)?;
            let warned: Vec<Row> = users::table
                .filter(warn_due_before_withdrawal!(cutoffs))
                .order((users::last_active_at.asc(), users::id.asc()))
                .select(columns)
                .limit(limit - i64::try_from(deleted.len()).unwrap_or(0))
                .load(conn)?;
            let ids: Vec<Id> = deleted.iter().chain(&warned).map(|r| r.0).collect();
            let primary: HashMap<uuid::Uuid, String> = load_emails(conn, &ids)?
                .into_iter()
                .filter(|e| e.is_primary)
                .map(|e| (e.user_id.0, e.address))
                .collect();
            let primary = &primary;
            let listed = |rows: Vec<Row>, action| {
                rows.into_iter()
                    .map(move |(id, last, warned)| PreviewedUser {
                        id: UserId(id.0),
                        email: primary.get(&id.0).cloned(),
                        action,
                        last_active_at: last.0,
                        inactivity_warned_at: warned.map(|t| t.0),
                    })
            };
            let mut users: Vec<PreviewedUser> = listed(deleted, RetentionAction::Delete).collect();
            users.extend(listed(warned, RetentionAction::Warn));
            Ok(RetentionPreview {
                at: cutoffs.at,
                warn: u64::try_from(warn).unwrap_or(0),
                delete: u64::try_from(delete).unwrap_or(0),
                users,
            })
        })
    }
}
