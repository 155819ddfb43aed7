//! Every deletion, in one place: a user's own (at once or scheduled, by a grace period or by a
//! legal hold), an operator's, the purge's. [`Deletions`] is the one entry point (it implements `domain::ports::Deleter`); it
//! picks the driver itself: on Postgres the worker's own connections when it has them
//! ([`crate::WorkerPg`], which groups deletions that arrive together), else the pool; on SQLite
//! one Rust transaction. Each backend writes the rules once: Postgres in one statement
//! ([`statement`], the same text for one deletion, a group, an operator and the purge), SQLite
//! in one transaction ([`transaction`]). A differential test (`differential`) runs one table of
//! scenarios through every path and compares the rows they write.

#[cfg(test)]
mod differential;
pub(crate) mod purge;
mod retention;
mod schedule;
pub(crate) mod statement;
pub(crate) mod transaction;

use crate::offload::{Offload, OffloadError};
use crate::pool::{Database, DbConnection};
use crate::types::db_time;
use crate::{DatabaseConfig, DatabaseUrl, DeletionStatements, WorkerPg};
use chrono::{DateTime, Utc};
use diesel::result::Error as DieselError;
use domain::ids::SessionId;
use domain::ports::{
    DeletedBy, DeletedUser, Deleter, Deletion, DeletionOutcome, InactiveDeletions, Purge,
    StoreError,
};
use statement::Action;
use std::sync::Arc;

/// One try at a deletion, as an encoding runs it: the deletion, the one session that asks (one
/// of a user's candidates; none for an operator or the purge), its step-up bound, when it is
/// to be purged if it is scheduled, and its time; times at the database's precision.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    pub(crate) deletion: Arc<Deletion>,
    pub(crate) session: Option<SessionId>,
    pub(crate) created_after: Option<DateTime<Utc>>,
    pub(crate) purge_after: Option<DateTime<Utc>>,
    pub(crate) at: DateTime<Utc>,
}

impl Attempt {
    /// The attempts of `deletion`, in the order they are tried: one per candidate session of a
    /// user's own deletion (the first whose session is live speaks), one for the others.
    pub(crate) fn of(deletion: Deletion) -> Vec<Self> {
        let deletion = Arc::new(deletion);
        let at = db_time(deletion.at);
        let purge_after = deletion.purge_after.map(db_time);
        match &deletion.by {
            DeletedBy::User {
                sessions,
                created_after,
            } => sessions
                .iter()
                .map(|session| Self {
                    deletion: deletion.clone(),
                    session: Some(*session),
                    created_after: *created_after,
                    purge_after,
                    at,
                })
                .collect(),
            DeletedBy::Admin | DeletedBy::Purge | DeletedBy::Retention | DeletedBy::Scim { .. } => {
                vec![Self {
                    deletion: deletion.clone(),
                    session: None,
                    created_after: None,
                    purge_after,
                    at,
                }]
            }
        }
    }

    /// What its statement does: schedule it when it carries a purge time, else delete.
    pub(crate) fn action(&self) -> Action {
        match self.purge_after {
            Some(_) => Action::Schedule,
            None => Action::Delete,
        }
    }

    /// A legal hold never refuses, nor reveals itself to, a user's own request or a provider's
    /// (docs/api.md, "Grace period and legal hold"): when `outcome` says a hold met such a
    /// deletion, the attempt that schedules it now instead (the purge waits for the release).
    /// Postgres only: SQLite's transaction decides both at once.
    pub(crate) fn scheduled_under_hold(&self, outcome: &DeletionOutcome) -> Option<Self> {
        let schedules = self.deletion.by.scheduled_under_hold() && self.purge_after.is_none();
        (schedules && matches!(outcome, DeletionOutcome::Held)).then(|| Self {
            purge_after: Some(self.at),
            ..self.clone()
        })
    }

    /// Whether two attempts can go in one statement: the same action and statement-wide
    /// values (audit settings, hooks).
    pub(crate) fn shares_statement(&self, other: &Self) -> bool {
        let (a, b) = (&self.deletion, &other.deletion);
        self.action() == other.action()
            && a.audit.enabled == b.audit.enabled
            && a.audit.mask_email == b.audit.mask_email
            && a.recipients == b.recipients
    }
}

/// The first outcome that is not [`DeletionOutcome::NoSession`]: the attempt whose session is
/// live speaks for the request.
fn first_spoken(
    outcomes: impl IntoIterator<Item = Result<DeletionOutcome, StoreError>>,
) -> Result<DeletionOutcome, StoreError> {
    for outcome in outcomes {
        match outcome? {
            DeletionOutcome::NoSession => continue,
            decided => return Ok(decided),
        }
    }
    Ok(DeletionOutcome::NoSession)
}

/// Why a lane could not give an attempt its outcome.
#[derive(Debug)]
pub(crate) enum LaneError {
    /// The user's row stayed locked longer than a lane waits (another transaction holds it: a
    /// hold, a restoration, a purge, an operator's long transaction). Nothing changed; the
    /// attempt is run again on the pool, where it may wait.
    LockTimeout,
    Store(StoreError),
}

/// The one entry point of every deletion. One per HTTP worker (its lanes are the worker's own);
/// without lanes (SQLite, an operator's listener, the purge) everything runs on the pool.
pub struct Deletions {
    db: Database,
    offload: Offload,
    lanes: Option<WorkerPg>,
}

impl Deletions {
    /// Deletions on the pool (Postgres) or in SQLite transactions, through `offload`.
    pub fn pooled(db: Database, offload: Offload) -> Self {
        Self {
            db,
            offload,
            lanes: None,
        }
    }

    /// Deletions on this worker's own Postgres connections, the pool for what waits on a lock.
    fn with_lanes(db: Database, offload: Offload, lanes: WorkerPg) -> Self {
        Self {
            db,
            offload,
            lanes: Some(lanes),
        }
    }

    /// The attempts on a blocking thread, on the pool (or SQLite), one transaction each.
    async fn on_the_pool(&self, attempts: Vec<Attempt>) -> Result<DeletionOutcome, StoreError> {
        let db = self.db.clone();
        self.offload
            .run("deleting a user", move || {
                first_spoken(attempts.iter().map(|attempt| db.delete_attempt(attempt)))
            })
            .await
            .map_err(store_error)
    }
}

impl Deleter for Deletions {
    async fn delete(&self, deletion: Deletion) -> Result<DeletionOutcome, StoreError> {
        let attempts = Attempt::of(deletion);
        let Some(lanes) = &self.lanes else {
            return self.on_the_pool(attempts).await;
        };
        for (i, attempt) in attempts.iter().enumerate() {
            match lanes.delete(attempt.clone()).await {
                Ok(DeletionOutcome::NoSession) => continue,
                Ok(decided) => return Ok(decided),
                Err(LaneError::LockTimeout) => {
                    log::info!(
                        "user {}: row locked elsewhere, deleting on the pool",
                        attempt.deletion.user_id
                    );
                    return self.on_the_pool(attempts[i..].to_vec()).await;
                }
                Err(LaneError::Store(e)) => return Err(e),
            }
        }
        Ok(DeletionOutcome::NoSession)
    }

    async fn purge_next(&self, purge: Purge) -> Result<Option<DeletedUser>, StoreError> {
        let db = self.db.clone();
        self.offload
            .run("purging", move || {
                db.transaction(|conn| purge::purge_next(conn, &purge).map_err(DieselError::from))
            })
            .await
            .map_err(store_error)
    }

    async fn delete_inactive(
        &self,
        batch: InactiveDeletions,
    ) -> Result<Vec<DeletionOutcome>, StoreError> {
        let db = self.db.clone();
        self.offload
            .run("deleting inactive users", move || {
                db.transaction(|conn| {
                    retention::delete_inactive(conn, &batch).map_err(DieselError::from)
                })
            })
            .await
            .map_err(store_error)
    }
}

/// How each HTTP worker gets its [`Deletions`]: lanes of its own (a share of the pool's size)
/// on Postgres when the asynchronous driver reads the URL as libpq would, else the pool.
#[derive(Clone)]
pub struct DeletionPlan(Option<LaneSettings>);

#[derive(Clone)]
struct LaneSettings {
    url: String,
    lanes: usize,
    connect_timeout: std::time::Duration,
    idle_timeout: std::time::Duration,
    counts: Arc<DeletionStatements>,
}

impl DeletionPlan {
    /// The plan for `workers` HTTP workers on `database`; the lanes' statements are counted
    /// into `counts`. Says once in the log when deletions keep to the pool, and why.
    pub fn new(database: &DatabaseConfig, workers: usize, counts: Arc<DeletionStatements>) -> Self {
        let DatabaseUrl::Postgres(url) = &database.url else {
            return Self(None);
        };
        let pool = usize::try_from(database.pool_size.get()).unwrap_or(usize::MAX);
        let settings = LaneSettings {
            url: url.clone(),
            lanes: pool.div_ceil(workers.max(1)),
            connect_timeout: database.connect_timeout.std(),
            idle_timeout: database.idle_timeout.std(),
            counts,
        };
        match settings.open() {
            Ok(_) => Self(Some(settings)),
            Err(e) => {
                let mut why = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(inner) = cause {
                    why = format!("{why}: {inner}");
                    cause = inner.source();
                }
                log::warn!("deletions go through the connection pool (thread hops): {why}");
                Self(None)
            }
        }
    }

    /// This worker's deletions (its lanes open on first use).
    pub fn for_this_worker(&self, db: Database, offload: Offload) -> Deletions {
        match self.0.as_ref().map(LaneSettings::open) {
            Some(Ok(lanes)) => Deletions::with_lanes(db, offload, lanes),
            Some(Err(_)) | None => Deletions::pooled(db, offload),
        }
    }
}

impl LaneSettings {
    fn open(&self) -> Result<WorkerPg, crate::NotForWorkers> {
        WorkerPg::new(
            &self.url,
            self.lanes,
            self.connect_timeout,
            self.idle_timeout,
            self.counts.clone(),
        )
    }
}

/// The store's own verdict, or a blocking task that never completed (unavailable).
fn store_error(e: OffloadError) -> StoreError {
    match e {
        OffloadError::Store { source, .. } => source,
        OffloadError::Failed { source, .. } => StoreError::Unavailable(source),
    }
}

impl Database {
    /// One attempt on a pooled connection: the statement on Postgres (autocommit), the
    /// transaction on SQLite.
    fn delete_attempt(&self, attempt: &Attempt) -> Result<DeletionOutcome, StoreError> {
        if self.url().is_postgres() {
            let outcome = self.run(|conn| match conn {
                DbConnection::Pg(pg) => statement::run_one(pg, attempt),
                // The URL is Postgres: every connection of the pool is.
                DbConnection::Sqlite(_) => Err(DieselError::BrokenTransactionManager),
            })?;
            return outcome.map_err(|e| StoreError::Database(Box::new(e)));
        }
        self.transaction(|conn| transaction::delete(conn, attempt))
    }
}
