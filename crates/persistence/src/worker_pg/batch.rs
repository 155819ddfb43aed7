//! Deletions that arrive while all of a worker's statements are out wait here, and the next
//! statement takes them together (the group form of the one deletion statement): Postgres then parses, plans, locks
//! and commits once for many deletions, which is most of what a deletion costs it. Under light
//! load a deletion finds a statement free and goes alone, with the one-deletion statement, so
//! batching adds no wait; under load the batches grow by themselves (group commit).
//!
//! The statements are sent by tasks of the worker, never by a request's own future: a client
//! that goes away must not cancel the deletions of others that share its statement.

use super::{store_error, InFlight, Lane, Lanes};
use crate::deletion::statement::{self, Action, Params, Row};
use crate::deletion::{Attempt, LaneError};
use domain::ports::{DeletionOutcome, StoreError};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio_postgres::error::SqlState;

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

/// What a lane answers for one attempt.
type Answer = Result<DeletionOutcome, LaneError>;

/// An attempt and where its answer goes.
struct Waiting {
    attempt: Attempt,
    reply: oneshot::Sender<Answer>,
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

/// Queues `attempt` and waits for its outcome; starts a sender if one may start.
pub(super) async fn delete(lanes: &Rc<Lanes>, queue: &Rc<Queue>, attempt: Attempt) -> Answer {
    let (reply, answer) = oneshot::channel();
    queue
        .waiting
        .borrow_mut()
        .push_back(Waiting { attempt, reply });
    if queue.senders.get() < queue.most_senders {
        queue.senders.set(queue.senders.get() + 1);
        tokio::task::spawn_local(send_while_waiting(lanes.clone(), queue.clone()));
    }
    answer.await.unwrap_or_else(|_| {
        Err(LaneError::Store(StoreError::Unavailable(Box::new(
            SenderStopped,
        ))))
    })
}

/// Sends statements until no deletion waits.
async fn send_while_waiting(lanes: Rc<Lanes>, queue: Rc<Queue>) {
    loop {
        let taken = take_alike(&mut queue.waiting.borrow_mut());
        if taken.is_empty() {
            break;
        }
        let attempts: Vec<Attempt> = taken.iter().map(|w| w.attempt.clone()).collect();
        let answers = run(&lanes, &queue.counts, &attempts).await;
        for (waiting, answer) in taken.into_iter().zip(answers) {
            // The request may have gone away meanwhile; its deletion stands.
            let _ = waiting.reply.send(answer);
        }
    }
    queue.senders.set(queue.senders.get().saturating_sub(1));
}

/// The first waiting attempts that can share one statement (the first's statement-wide
/// values), in arrival order.
fn take_alike(waiting: &mut VecDeque<Waiting>) -> Vec<Waiting> {
    let mut taken: Vec<Waiting> = Vec::new();
    while let Some(next) = waiting.front() {
        let fits = taken.first().is_none_or(|first| {
            taken.len() < MOST_PER_STATEMENT && first.attempt.shares_statement(&next.attempt)
        });
        if !fits {
            break;
        }
        taken.extend(waiting.pop_front());
    }
    taken
}

/// The statement for `attempts` together, as a sender builds it from the queue (for the
/// differential test, which must know that a group was sent).
#[cfg(test)]
pub(super) async fn run_together(
    lanes: &Lanes,
    queue: &Queue,
    attempts: &[Attempt],
) -> Vec<Answer> {
    run(lanes, &queue.counts, attempts).await
}

/// The answers for `attempts`, in order (exactly one each); a user's own deletion met by a
/// legal hold is then scheduled, in one more statement for all such.
async fn run(lanes: &Lanes, counts: &DeletionStatements, attempts: &[Attempt]) -> Vec<Answer> {
    let mut answers = decide(lanes, counts, attempts).await;
    let (places, again): (Vec<usize>, Vec<Attempt>) = attempts
        .iter()
        .zip(&answers)
        .enumerate()
        .filter_map(|(i, (attempt, answer))| {
            let outcome = answer.as_ref().ok()?;
            Some((i, attempt.scheduled_under_hold(outcome)?))
        })
        .unzip();
    if !again.is_empty() {
        for (i, answer) in places.into_iter().zip(decide(lanes, counts, &again).await) {
            answers[i] = answer;
        }
    }
    answers
}

/// The answers for `attempts`, in order (exactly one each). Alone, an attempt takes the
/// one-deletion statement; together they take the group statement, and if Postgres refuses it
/// (which changes nothing: a broken rule, a lock waited on too long), each is run alone, so one
/// deletion's trouble is never another's.
async fn decide(lanes: &Lanes, counts: &DeletionStatements, attempts: &[Attempt]) -> Vec<Answer> {
    if attempts.len() == 1 {
        return vec![run_one(lanes, counts, &attempts[0]).await];
    }
    match send(lanes, counts, attempts).await {
        Ok(answers) => answers,
        Err(Unsent::Unavailable(e)) => {
            // The connection broke: whether the statement committed is unknown, so no
            // deletion is tried again; each request answers the failure.
            let shared = Arc::new(e);
            attempts
                .iter()
                .map(|_| {
                    Err(LaneError::Store(StoreError::Unavailable(Box::new(Shared(
                        shared.clone(),
                    )))))
                })
                .collect()
        }
        Err(Unsent::Refused(e)) => {
            log::info!(
                "{} deletions in one statement refused, running each alone: {e}",
                attempts.len()
            );
            let mut answers = Vec::with_capacity(attempts.len());
            for attempt in attempts {
                answers.push(run_one(lanes, counts, attempt).await);
            }
            answers
        }
    }
}

async fn run_one(lanes: &Lanes, counts: &DeletionStatements, attempt: &Attempt) -> Answer {
    match send(lanes, counts, std::slice::from_ref(attempt)).await {
        Ok(mut answers) => answers
            .pop()
            .unwrap_or(Err(LaneError::Store(StoreError::Database(Box::new(
                statement::RowError::Missing(1),
            ))))),
        Err(Unsent::Unavailable(e)) => Err(LaneError::Store(e)),
        Err(Unsent::Refused(Refusal::LockTimeout)) => Err(LaneError::LockTimeout),
        Err(Unsent::Refused(Refusal::Other(e))) => Err(LaneError::Store(e)),
    }
}

/// Why a statement gave no answers.
enum Unsent {
    /// No answer (the connection, or no lane): nothing is known of the statement's fate.
    Unavailable(StoreError),
    /// Postgres answered with an error: the statement changed nothing.
    Refused(Refusal),
}

#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("a row stayed locked longer than the lane waits")]
    LockTimeout,
    #[error(transparent)]
    Other(StoreError),
}

/// Sends one statement for `attempts` on a lane; once Postgres has answered (the statement has
/// committed), each row goes to the attempt its number names, and an attempt left without a
/// row answers an error: nothing that committed is ever run again.
async fn send(
    lanes: &Lanes,
    counts: &DeletionStatements,
    attempts: &[Attempt],
) -> Result<Vec<Answer>, Unsent> {
    let params = Params::of(attempts);
    let lane = lanes.lane().await.map_err(Unsent::Unavailable)?;
    let values = params.values();
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
        .iter()
        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let answer = {
        let _on_it = InFlight::enter(&lane.usage);
        lane.client.query(prepared(&lane, &params), &refs).await
    };
    let rows = answer.map_err(|e| {
        if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
            return Unsent::Refused(Refusal::LockTimeout);
        }
        match store_error(e, &lane.client) {
            e @ StoreError::Unavailable(_) => Unsent::Unavailable(e),
            e => Unsent::Refused(Refusal::Other(e)),
        }
    })?;
    counts.answered(attempts.len());
    let rows: Vec<Row> = rows
        .iter()
        .filter_map(|row| match Row::from_pg(row) {
            Ok(row) => Some(row),
            Err(e) => {
                log::error!("a deletion statement's row is not as expected: {e}");
                None
            }
        })
        .collect();
    Ok(statement::outcomes(attempts, rows)
        .into_iter()
        .map(|outcome| outcome.map_err(|e| LaneError::Store(StoreError::Database(Box::new(e)))))
        .collect())
}

/// The lane's prepared statement for these values.
fn prepared<'a>(lane: &'a Lane, params: &Params) -> &'a tokio_postgres::Statement {
    match (params.len() == 1, params.action()) {
        (true, Action::Delete) => &lane.delete_one,
        (false, Action::Delete) => &lane.delete_group,
        (true, Action::Schedule) => &lane.schedule_one,
        (false, Action::Schedule) => &lane.schedule_group,
    }
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
