//! Deletions that arrive while all of a worker's statements are out wait here, and the next
//! statement takes them together (`sql/delete_users.sql`): Postgres then parses, plans, locks
//! and commits once for many deletions, which is most of what a deletion costs it. Under light
//! load a deletion finds a statement free and goes alone, with the one-deletion statement, so
//! batching adds no wait; under load the batches grow by themselves (group commit).
//!
//! The statements are sent by tasks of the worker, never by a request's own future: a client
//! that goes away must not cancel the deletions of others that share its statement.

use super::{store_error, InFlight, Lanes};
use crate::stores::deletion::{DeleteRow, DeleteStatement};
use crate::types::db_time;
use chrono::{DateTime, Utc};
use domain::ports::{Deletion, DeletionOutcome, StoreError};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// The most deletions one statement carries (its parameters grow with each).
const MOST_PER_STATEMENT: usize = 64;

/// The deletions waiting for a statement, and the tasks sending them.
pub(super) struct Queue {
    waiting: RefCell<VecDeque<Waiting>>,
    senders: Cell<usize>,
    most_senders: usize,
    counts: Arc<DeletionStatements>,
}

/// How many deletion statements the workers sent, and how many deletions they carried (for
/// the metrics: their ratio is the mean batch). Shared by every worker.
#[derive(Debug, Default)]
pub struct DeletionStatements {
    statements: AtomicU64,
    deletions: AtomicU64,
}

impl DeletionStatements {
    fn answered(&self, deletions: usize) {
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.deletions.fetch_add(
            u64::try_from(deletions).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Statements Postgres answered so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Deletions those statements carried.
    pub fn deletions(&self) -> u64 {
        self.deletions.load(Ordering::Relaxed)
    }
}

/// A deletion and where its answer goes.
struct Waiting {
    deletion: Deletion,
    reply: oneshot::Sender<Result<DeletionOutcome, StoreError>>,
}

impl Queue {
    /// At most `most_senders` statements out at once (one per lane).
    pub(super) fn new(most_senders: usize, counts: Arc<DeletionStatements>) -> Rc<Self> {
        Rc::new(Self {
            waiting: RefCell::default(),
            senders: Cell::new(0),
            most_senders: most_senders.max(1),
            counts,
        })
    }
}

/// Queues `deletion` and waits for its outcome; starts a sender if one may start.
pub(super) async fn delete(
    lanes: &Rc<Lanes>,
    queue: &Rc<Queue>,
    deletion: &Deletion,
) -> Result<DeletionOutcome, StoreError> {
    let (reply, answer) = oneshot::channel();
    queue.waiting.borrow_mut().push_back(Waiting {
        deletion: deletion.clone(),
        reply,
    });
    if queue.senders.get() < queue.most_senders {
        queue.senders.set(queue.senders.get() + 1);
        tokio::task::spawn_local(send_while_waiting(lanes.clone(), queue.clone()));
    }
    answer
        .await
        .unwrap_or_else(|_| Err(StoreError::Unavailable(Box::new(SenderStopped))))
}

/// Sends statements until no deletion waits.
async fn send_while_waiting(lanes: Rc<Lanes>, queue: Rc<Queue>) {
    loop {
        let taken = take_alike(&mut queue.waiting.borrow_mut());
        if taken.is_empty() {
            break;
        }
        let deletions: Vec<&Deletion> = taken.iter().map(|w| &w.deletion).collect();
        let outcomes = run(&lanes, &queue.counts, &deletions).await;
        for (waiting, outcome) in taken.into_iter().zip(outcomes) {
            // The request may have gone away meanwhile; its deletion stands.
            let _ = waiting.reply.send(outcome);
        }
    }
    queue.senders.set(queue.senders.get().saturating_sub(1));
}

/// The first waiting deletions that can share one statement: those whose statement-wide values
/// (audit settings, hooks) are the first's, in arrival order.
fn take_alike(waiting: &mut VecDeque<Waiting>) -> Vec<Waiting> {
    let mut taken: Vec<Waiting> = Vec::new();
    while let Some(next) = waiting.front() {
        let fits = taken.first().is_none_or(|first| {
            taken.len() < MOST_PER_STATEMENT && shares_statement(&first.deletion, &next.deletion)
        });
        if !fits {
            break;
        }
        taken.extend(waiting.pop_front());
    }
    taken
}

fn shares_statement(a: &Deletion, b: &Deletion) -> bool {
    a.audit.enabled == b.audit.enabled
        && a.audit.mask_email == b.audit.mask_email
        && a.recipients.0 == b.recipients.0
}

/// The outcomes of `deletions`, in order. Alone, a deletion takes the one-deletion statement;
/// together they take one statement, and if Postgres refuses it (which changes nothing), each
/// is run alone, so one deletion's failure is never another's.
async fn run(
    lanes: &Lanes,
    counts: &DeletionStatements,
    deletions: &[&Deletion],
) -> Vec<Result<DeletionOutcome, StoreError>> {
    if let [one] = deletions {
        return vec![run_one(lanes, counts, one).await];
    }
    match run_together(lanes, counts, deletions).await {
        Ok(outcomes) => outcomes,
        Err(Together::Unavailable(e)) => {
            // The connection broke: whether the statement committed is unknown, so no
            // deletion is tried again; each request answers the failure.
            let shared = Arc::new(e);
            deletions
                .iter()
                .map(|_| Err(StoreError::Unavailable(Box::new(Shared(shared.clone())))))
                .collect()
        }
        Err(Together::Refused(e)) => {
            log::warn!(
                "{} deletions in one statement refused, running each alone: {e}",
                deletions.len()
            );
            let mut outcomes = Vec::with_capacity(deletions.len());
            for deletion in deletions {
                outcomes.push(run_one(lanes, counts, deletion).await);
            }
            outcomes
        }
    }
}

async fn run_one(
    lanes: &Lanes,
    counts: &DeletionStatements,
    deletion: &Deletion,
) -> Result<DeletionOutcome, StoreError> {
    let deleted_at = db_time(deletion.at);
    let values = DeleteStatement::new(deletion, deleted_at)
        .map_err(|e| StoreError::Database(Box::new(e)))?;
    let params: [&(dyn ToSql + Sync); 14] = [
        &values.user,
        &values.session,
        &values.now,
        &values.audit_id,
        &values.audit_enabled,
        &values.mask_email,
        &values.request_id,
        &values.source_ip,
        &values.user_agent,
        &values.details,
        &values.event_id,
        &values.deleted_at,
        &values.hooks,
        &values.created_after,
    ];
    let lane = lanes.lane().await?;
    let answer = {
        let _on_it = InFlight::enter(&lane.usage);
        lane.client.query_one(&lane.delete_one, &params).await
    };
    let row = answer
        .and_then(|row| delete_row(&row))
        .map_err(|e| store_error(e, &lane.client))?;
    counts.answered(1);
    row.outcome(deletion, deleted_at)
        .map_err(|e| StoreError::Database(Box::new(e)))
}

/// Why a statement of many deletions gave no outcomes.
enum Together {
    /// No answer (the connection, or no lane): nothing is known of the statement's fate.
    Unavailable(StoreError),
    /// Postgres answered with an error: the statement changed nothing.
    Refused(StoreError),
}

async fn run_together(
    lanes: &Lanes,
    counts: &DeletionStatements,
    deletions: &[&Deletion],
) -> Result<Vec<Result<DeletionOutcome, StoreError>>, Together> {
    let deleted_at: Vec<DateTime<Utc>> = deletions.iter().map(|d| db_time(d.at)).collect();
    let values = deletions
        .iter()
        .zip(&deleted_at)
        .map(|(deletion, at)| DeleteStatement::new(deletion, *at))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Together::Refused(StoreError::Database(Box::new(e))))?;
    let columns = Columns::of(&values);
    let first = &values[0];
    let params: [&(dyn ToSql + Sync); 14] = [
        &columns.users,
        &columns.sessions,
        &columns.now,
        &columns.audit_ids,
        &first.audit_enabled,
        &first.mask_email,
        &columns.request_ids,
        &columns.source_ips,
        &columns.user_agents,
        &columns.details,
        &columns.event_ids,
        &columns.deleted_at,
        &first.hooks,
        &columns.created_after,
    ];
    let lane = lanes.lane().await.map_err(Together::Unavailable)?;
    let answer = {
        let _on_it = InFlight::enter(&lane.usage);
        lane.client.query(&lane.delete_many, &params).await
    };
    let rows = answer.map_err(|e| match store_error(e, &lane.client) {
        e @ StoreError::Unavailable(_) => Together::Unavailable(e),
        e => Together::Refused(e),
    })?;
    counts.answered(deletions.len());
    if rows.len() != deletions.len() {
        return Err(Together::Refused(StoreError::Database(Box::new(
            WrongRowCount {
                sent: deletions.len(),
                got: rows.len(),
            },
        ))));
    }
    Ok(rows
        .iter()
        .zip(deletions.iter().zip(&deleted_at))
        .map(|(row, (deletion, at))| {
            let row = delete_row(row).map_err(|e| StoreError::Database(Box::new(e)))?;
            row.outcome(deletion, *at)
                .map_err(|e| StoreError::Database(Box::new(e)))
        })
        .collect())
}

/// The per-deletion parameters of `sql/delete_users.sql`, one array each.
struct Columns<'a> {
    users: Vec<uuid::Uuid>,
    sessions: Vec<Option<uuid::Uuid>>,
    now: Vec<DateTime<Utc>>,
    audit_ids: Vec<uuid::Uuid>,
    request_ids: Vec<&'a str>,
    source_ips: Vec<Option<&'a str>>,
    user_agents: Vec<Option<&'a str>>,
    details: Vec<&'a serde_json::Value>,
    event_ids: Vec<uuid::Uuid>,
    deleted_at: Vec<&'a str>,
    created_after: Vec<Option<DateTime<Utc>>>,
}

impl<'a> Columns<'a> {
    fn of(values: &'a [DeleteStatement<'a>]) -> Self {
        Self {
            users: values.iter().map(|v| v.user).collect(),
            sessions: values.iter().map(|v| v.session).collect(),
            now: values.iter().map(|v| v.now).collect(),
            audit_ids: values.iter().map(|v| v.audit_id).collect(),
            request_ids: values.iter().map(|v| v.request_id).collect(),
            source_ips: values.iter().map(|v| v.source_ip).collect(),
            user_agents: values.iter().map(|v| v.user_agent).collect(),
            details: values.iter().map(|v| &v.details).collect(),
            event_ids: values.iter().map(|v| v.event_id).collect(),
            deleted_at: values.iter().map(|v| v.deleted_at.as_str()).collect(),
            created_after: values.iter().map(|v| v.created_after).collect(),
        }
    }
}

fn delete_row(row: &Row) -> Result<DeleteRow, tokio_postgres::Error> {
    Ok(DeleteRow {
        found: row.try_get("found")?,
        held: row.try_get("held")?,
        emails: row.try_get("emails")?,
        session_live: row.try_get("session_live")?,
        session_fresh: row.try_get("session_fresh")?,
    })
}

/// One connection failure, answered to every deletion of the statement it broke.
#[derive(Debug)]
struct Shared(Arc<StoreError>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the worker's statement sender stopped")]
struct SenderStopped;

#[derive(Debug, thiserror::Error)]
#[error("{sent} deletions sent in one statement, {got} rows back")]
struct WrongRowCount {
    sent: usize,
    got: usize,
}
