//! The inactivity policy's deletions (docs/retention.md): claim the users it warned whose time
//! has come and delete them (or schedule, with a grace period) in one transaction, each with
//! the same encoding as every other deletion on the backend and `by: retention`.

use super::{statement, transaction, Attempt};
use crate::pool::DbConnection;
use crate::schema::users;
use crate::stores::retention::{delete_due, inactive_since};
use crate::types::{db_time, Id, Timestamp};
use diesel::prelude::*;
use domain::ids::UserId;
use domain::model::RequestContext;
use domain::ports::{DeletedBy, Deletion, DeletionOutcome, InactiveDeletions};
use std::sync::Arc;

use super::purge::PurgeError;

/// Inside the caller's transaction: up to `batch.limit` due users, claimed (locked on Postgres,
/// skipping another instance's) and deleted or scheduled. Their outcomes, in claim order.
pub(crate) fn delete_inactive(
    conn: &mut DbConnection,
    batch: &InactiveDeletions,
) -> Result<Vec<DeletionOutcome>, PurgeError> {
    let at = db_time(batch.cutoffs.at);
    let cutoffs = &batch.cutoffs;
    let query = users::table
        .filter(delete_due!(cutoffs))
        .order((users::inactivity_warned_at.asc(), users::id.asc()))
        .select(users::id)
        .limit(i64::from(batch.limit));
    let claimed: Vec<Id> = match conn {
        DbConnection::Pg(pg) => query.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(sqlite) => query.load(sqlite)?,
    };
    let purge_after = batch.purge_after.map(db_time);
    let attempts: Vec<Attempt> = claimed
        .into_iter()
        .map(|id| Attempt {
            deletion: Arc::new(Deletion {
                user_id: UserId(id.0),
                by: DeletedBy::Retention,
                purge_after,
                context: RequestContext::default(),
                audit: batch.audit.clone(),
                at,
                recipients: batch.recipients.clone(),
            }),
            session: None,
            created_after: None,
            purge_after,
            at,
        })
        .collect();
    // Postgres: the whole batch in one statement (its users are locked already); SQLite: the
    // one transaction each, inside ours.
    let outcomes = match conn {
        DbConnection::Pg(pg) => statement::run_group(pg, &attempts)?
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?,
        DbConnection::Sqlite(_) => attempts
            .iter()
            .map(|attempt| transaction::delete(conn, attempt))
            .collect::<Result<Vec<_>, _>>()?,
    };
    for outcome in &outcomes {
        if !matches!(
            outcome,
            DeletionOutcome::Deleted(_) | DeletionOutcome::Scheduled(_)
        ) {
            // Claimed due and unheld under its lock: nothing else can come back.
            return Err(PurgeError::Unexpected(format!("{outcome:?}")));
        }
    }
    Ok(outcomes)
}
