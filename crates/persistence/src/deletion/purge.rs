//! The purge: claim the next due, unheld user and delete them, in one transaction, with the
//! same encoding as every other deletion on the backend (the statement on Postgres, the Rust
//! transaction on SQLite) and `by: purge` (no session asks).

use super::{statement, transaction, Attempt};
use crate::pool::DbConnection;
use crate::types::{db_time, Id, Timestamp};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::events::Recipients;
use domain::ids::UserId;
use domain::model::RequestContext;
use domain::ports::{DeletedBy, DeletedUser, Deletion, DeletionOutcome, DeletionRecipients, Purge};
use std::sync::Arc;

/// Postgres: the next due, unheld user, locked; one taken by another instance is skipped.
const DUE_POSTGRES: &str = "SELECT id FROM users \
     WHERE purge_after IS NOT NULL AND purge_after <= $1 AND NOT hold \
     ORDER BY purge_after LIMIT 1 FOR UPDATE SKIP LOCKED";
/// SQLite: one writer at a time; the UPDATE takes the write lock and names the user.
const DUE_SQLITE: &str = "UPDATE users SET updated_at = updated_at WHERE id = \
     (SELECT id FROM users WHERE purge_after IS NOT NULL AND purge_after <= ? AND NOT hold \
      ORDER BY purge_after LIMIT 1) RETURNING id";

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = crate::types::DbUuid)]
    id: Id,
}

/// Inside the caller's transaction: the next due user, purged, if any.
pub(crate) fn purge_next(
    conn: &mut DbConnection,
    purge: &Purge,
) -> Result<Option<DeletedUser>, PurgeError> {
    let at = db_time(purge.at);
    let due: Option<IdRow> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(DUE_POSTGRES)
            .bind::<crate::types::DbTimestamp, _>(Timestamp(at))
            .get_result(pg)
            .optional()?,
        DbConnection::Sqlite(sqlite) => diesel::sql_query(DUE_SQLITE)
            .bind::<crate::types::DbTimestamp, _>(Timestamp(at))
            .get_result(sqlite)
            .optional()?,
    };
    let Some(IdRow { id }) = due else {
        return Ok(None);
    };
    let attempt = Attempt {
        deletion: Arc::new(Deletion {
            user_id: UserId(id.0),
            by: DeletedBy::Purge,
            purge_after: None,
            context: RequestContext::default(),
            audit: purge.audit.clone(),
            at,
            recipients: DeletionRecipients {
                deleted: purge.recipients.clone(),
                scheduled: Recipients::default(),
            },
        }),
        session: None,
        created_after: None,
        purge_after: None,
        at,
    };
    let outcome = match conn {
        DbConnection::Pg(pg) => statement::run_one(pg, &attempt)??,
        DbConnection::Sqlite(_) => transaction::delete(conn, &attempt)?,
    };
    match outcome {
        DeletionOutcome::Deleted(deleted) => Ok(Some(deleted)),
        // Claimed due and unheld under its lock: nothing else can come back.
        other => Err(PurgeError::Unexpected(format!("{other:?}"))),
    }
}

/// Why a purge did not complete.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PurgeError {
    #[error(transparent)]
    Database(#[from] DieselError),
    #[error(transparent)]
    Row(#[from] statement::RowError),
    #[error("a claimed user was not deleted: {0}")]
    Unexpected(String),
}

impl From<PurgeError> for DieselError {
    /// Rolls the purge's transaction back, keeping the cause.
    fn from(e: PurgeError) -> Self {
        match e {
            PurgeError::Database(e) => e,
            other => DieselError::QueryBuilderError(Box::new(other)),
        }
    }
}
