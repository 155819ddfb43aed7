//! Postgres connections owned by one HTTP worker thread and used without leaving it.
//!
//! The pool ([`crate::Database`]) serves blocking threads: each statement costs two thread
//! wake-ups (the worker hands it over, the blocking thread hands the answer back) and a thread
//! that sleeps on its socket. For the hottest write, `DELETE /user`, the worker instead sends
//! the one statement itself on an asynchronous connection and serves other requests until the
//! answer arrives, as pgbench does. Each worker owns a few connections (lanes), opened when
//! the load needs them: a request takes an idle lane, else opens a new one while the worker
//! has fewer than its share, else queues (pipelines) on the least busy. A lane unused for the
//! idle timeout is closed, as the pool closes its idle connections. Deletions that arrive
//! while every lane has a statement out go together in the next one (`batch`).
//!
//! The URL is read by `tokio-postgres`, not libpq. Where the two could connect differently
//! (libpq-only options, `verify-ca`/`verify-full`, libpq's environment variables or password
//! file) [`WorkerPg::new`] refuses, and the deletion keeps to the pool.

mod batch;
mod tls;

pub use batch::DeletionStatements;

use crate::deletion::{statement, Attempt, LaneError};
use domain::ports::{DeletionOutcome, StoreError};
use futures_util::future::{select, Either};
use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::rc::{Rc, Weak};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

/// One worker's connections. Not `Send`: it lives and dies on its worker thread.
pub struct WorkerPg {
    lanes: Rc<Lanes>,
    queue: Rc<batch::Queue>,
}

/// The connections, and how to open them.
struct Lanes {
    config: Config,
    tls: Option<MakeRustlsConnect>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    slots: Vec<Slot>,
}

/// A place for one connection; `opening` lets one request at a time open it.
#[derive(Default)]
struct Slot {
    lane: Rc<LaneCell>,
    opening: tokio::sync::Mutex<()>,
}

/// The slot's connection, if open. Shared with the task that drives the connection, which
/// empties it when the connection has been idle too long.
type LaneCell = RefCell<Option<Rc<Lane>>>;

/// A connection with the deletion statements prepared on it.
struct Lane {
    client: Client,
    /// [`statement::DELETE_ONE`]
    delete_one: Statement,
    /// [`statement::DELETE_GROUP`]
    delete_group: Statement,
    /// [`statement::SCHEDULE_ONE`]
    schedule_one: Statement,
    /// [`statement::SCHEDULE_GROUP`]
    schedule_group: Statement,
    usage: Rc<Usage>,
}

/// How busy a lane is: requests on it now, and since when it has had none.
struct Usage {
    in_flight: Cell<usize>,
    idle_since: Cell<Instant>,
}

impl Usage {
    fn new() -> Rc<Self> {
        Rc::new(Self {
            in_flight: Cell::new(0),
            idle_since: Cell::new(Instant::now()),
        })
    }

    /// When the lane will have been idle for `timeout`, if nothing happens meanwhile (a busy
    /// lane is looked at again a full timeout from now).
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        let since = match self.in_flight.get() {
            0 => self.idle_since.get(),
            _ => Instant::now(),
        };
        since + timeout
    }

    fn idle_for(&self, timeout: Duration) -> bool {
        self.in_flight.get() == 0 && self.idle_since.get().elapsed() >= timeout
    }
}

/// Why a database URL is left to the pool.
#[derive(Debug, thiserror::Error)]
pub enum NotForWorkers {
    #[error("the asynchronous driver does not read this URL as libpq does")]
    Url(#[source] tokio_postgres::Error),
    #[error("libpq would also read {0}, which the asynchronous driver does not")]
    OutsideTheUrl(&'static str),
    #[error("the URL names no host or no user (libpq would fill in its defaults)")]
    Incomplete,
    #[error("setting up TLS")]
    Tls(#[source] rustls::Error),
}

/// How long a lane's statement waits for a row lock before it gives up (`lock_timeout`).
/// Deletions take milliseconds; a wait this long means another transaction holds the user.
pub(crate) const LOCK_WAIT: Duration = Duration::from_millis(100);

/// The `application_name` of the worker connections, unless the URL names one.
pub const APPLICATION_NAME: &str = "hanko-api deletions";

/// libpq's environment variables (every one that changes how or where it connects).
const LIBPQ_ENVIRONMENT: [&str; 27] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGAPPNAME",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLROOTCERT",
    "PGSSLCRL",
    "PGSSLNEGOTIATION",
    "PGSSLMINPROTOCOLVERSION",
    "PGSSLMAXPROTOCOLVERSION",
    "PGGSSENCMODE",
    "PGKRBSRVNAME",
    "PGCONNECT_TIMEOUT",
    "PGCLIENTENCODING",
    "PGTARGETSESSIONATTRS",
    "PGLOADBALANCEHOSTS",
    "PGCHANNELBINDING",
];

impl WorkerPg {
    /// Up to `lanes` connections to `url` (at least one), opened when first needed and closed
    /// after `idle_timeout` unused. The statements sent are counted into `counts`.
    pub fn new(
        url: &str,
        lanes: usize,
        connect_timeout: Duration,
        idle_timeout: Duration,
        counts: Arc<DeletionStatements>,
    ) -> Result<Self, NotForWorkers> {
        let mut config = Config::from_str(url).map_err(NotForWorkers::Url)?;
        if let Some(name) = LIBPQ_ENVIRONMENT
            .iter()
            .find(|name| std::env::var_os(name).is_some())
        {
            return Err(NotForWorkers::OutsideTheUrl(name));
        }
        if config.get_password().is_none() && password_file_exists() {
            return Err(NotForWorkers::OutsideTheUrl("a password file (~/.pgpass)"));
        }
        if config.get_hosts().is_empty() || config.get_user().is_none() {
            return Err(NotForWorkers::Incomplete);
        }
        config.connect_timeout(connect_timeout);
        // A deletion whose user is locked elsewhere gives up here quickly, so it never holds up
        // the other deletions of its statement or its lane; it is run again on the pool.
        let options = match config.get_options() {
            Some(options) => format!("{options} -c lock_timeout={}", LOCK_WAIT.as_millis()),
            None => format!("-c lock_timeout={}", LOCK_WAIT.as_millis()),
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            // So an operator can tell these connections from the pool's in pg_stat_activity.
            config.application_name(APPLICATION_NAME);
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => None,
            _ => Some(tls::encrypt_only().map_err(NotForWorkers::Tls)?),
        };
        let lanes = Lanes {
            config,
            tls,
            connect_timeout,
            idle_timeout,
            slots: (0..lanes.max(1)).map(|_| Slot::default()).collect(),
        };
        Ok(Self {
            queue: batch::Queue::new(lanes.slots.len(), counts),
            lanes: Rc::new(lanes),
        })
    }

    /// One attempt, with the same rules as on the pool (the same statement, or, with others
    /// waiting, the same rules for many), so the same answers under the same races.
    pub(crate) async fn delete(&self, attempt: Attempt) -> Result<DeletionOutcome, LaneError> {
        batch::delete(&self.lanes, &self.queue, attempt).await
    }

    /// These attempts in one statement (the group form when there are several).
    #[cfg(test)]
    pub(crate) async fn delete_together(
        &self,
        attempts: &[Attempt],
    ) -> Vec<Result<DeletionOutcome, LaneError>> {
        batch::run_together(&self.lanes, &self.queue, attempts).await
    }
}

impl Lanes {
    /// An idle lane; else a new one while there is room; else the least busy.
    async fn lane(&self) -> Result<Rc<Lane>, StoreError> {
        let mut least_busy: Option<Rc<Lane>> = None;
        let mut free_slot = None;
        for slot in &self.slots {
            let open = slot
                .lane
                .borrow()
                .as_ref()
                .filter(|lane| !lane.client.is_closed())
                .cloned();
            match open {
                Some(lane) if lane.usage.in_flight.get() == 0 => return Ok(lane),
                Some(lane) => {
                    if least_busy
                        .as_ref()
                        .is_none_or(|l| lane.usage.in_flight.get() < l.usage.in_flight.get())
                    {
                        least_busy = Some(lane);
                    }
                }
                None => {
                    if free_slot.is_none() {
                        free_slot = Some(slot);
                    }
                }
            }
        }
        match (free_slot, least_busy) {
            (Some(slot), _) => self.open(slot).await,
            (None, Some(lane)) => Ok(lane),
            // Every slot is either open or free, and there is at least one slot.
            (None, None) => Err(StoreError::Unavailable(Box::new(NoLane))),
        }
    }

    /// The slot's lane, opened by this request unless another opened it meanwhile.
    async fn open(&self, slot: &Slot) -> Result<Rc<Lane>, StoreError> {
        let _opening = slot.opening.lock().await;
        if let Some(lane) = slot
            .lane
            .borrow()
            .as_ref()
            .filter(|lane| !lane.client.is_closed())
        {
            return Ok(lane.clone());
        }
        let lane = tokio::time::timeout(self.connect_timeout, self.connect(&slot.lane))
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))??;
        let lane = Rc::new(lane);
        *slot.lane.borrow_mut() = Some(lane.clone());
        Ok(lane)
    }

    async fn connect(&self, slot: &Rc<LaneCell>) -> Result<Lane, StoreError> {
        let unavailable = |e: tokio_postgres::Error| StoreError::Unavailable(Box::new(e));
        let usage = Usage::new();
        let (held_by, idle_timeout) = (Rc::downgrade(slot), self.idle_timeout);
        // The connection task runs on this worker, as every request that uses it.
        let client = match &self.tls {
            None => {
                let (client, connection) = self.config.connect(NoTls).await.map_err(unavailable)?;
                tokio::task::spawn_local(drive(connection, usage.clone(), held_by, idle_timeout));
                client
            }
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(tls.clone())
                    .await
                    .map_err(unavailable)?;
                tokio::task::spawn_local(drive(connection, usage.clone(), held_by, idle_timeout));
                client
            }
        };
        let prepare = |sql, types| {
            let client = &client;
            async move {
                client
                    .prepare_typed(sql, types)
                    .await
                    .map_err(|e| store_error(e, client))
            }
        };
        let delete_one = prepare(statement::DELETE_ONE, &statement::ONE_TYPES).await?;
        let delete_group = prepare(statement::DELETE_GROUP, &statement::GROUP_TYPES).await?;
        let schedule_one = prepare(statement::SCHEDULE_ONE, &statement::ONE_TYPES).await?;
        let schedule_group = prepare(statement::SCHEDULE_GROUP, &statement::GROUP_TYPES).await?;
        Ok(Lane {
            client,
            delete_one,
            delete_group,
            schedule_one,
            schedule_group,
            usage,
        })
    }
}

/// Runs a connection until it ends; its requests fail with the reason. Once the lane has been
/// idle for `idle_timeout`, takes it out of its slot: its client is dropped, the connection
/// says goodbye to the server and ends, and the slot opens a new one when the load needs it.
async fn drive<F>(connection: F, usage: Rc<Usage>, slot: Weak<LaneCell>, idle_timeout: Duration)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>>,
{
    let mut connection = pin!(connection);
    let ended = loop {
        let idle = pin!(tokio::time::sleep_until(
            usage.idle_deadline(idle_timeout).into()
        ));
        match select(connection.as_mut(), idle).await {
            Either::Left((ended, _)) => break ended,
            Either::Right(((), _)) if usage.idle_for(idle_timeout) => {
                close_if_still_there(&slot, &usage);
                break connection.await;
            }
            Either::Right(_) => {}
        }
    };
    if let Err(e) = ended {
        log::warn!("database connection of a worker ended: {e}");
    }
}

/// Empties the slot if it still holds the lane of `usage` (dropping the lane's client).
fn close_if_still_there(slot: &Weak<LaneCell>, usage: &Rc<Usage>) {
    let Some(slot) = slot.upgrade() else {
        return;
    };
    let lane = {
        let mut held = slot.borrow_mut();
        match held.as_ref() {
            Some(lane) if Rc::ptr_eq(&lane.usage, usage) => held.take(),
            _ => None,
        }
    };
    drop(lane);
}

/// Counts a request on a lane while it lasts (also when the request is dropped).
struct InFlight<'a>(&'a Usage);

impl<'a> InFlight<'a> {
    fn enter(usage: &'a Usage) -> Self {
        usage.in_flight.set(usage.in_flight.get() + 1);
        Self(usage)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let left = self.0.in_flight.get().saturating_sub(1);
        self.0.in_flight.set(left);
        if left == 0 {
            self.0.idle_since.set(Instant::now());
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no connection slot")]
struct NoLane;

/// Sorted as the pool's errors are: a dead connection (or one the server is shutting down)
/// is `Unavailable`, a broken rule is `Conflict`, the rest is `Database`.
fn store_error(e: tokio_postgres::Error, client: &Client) -> StoreError {
    use tokio_postgres::error::SqlState;
    let code = e.code().map(SqlState::code);
    if client.is_closed() || code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) {
        return StoreError::Unavailable(Box::new(e));
    }
    match e.code() {
        Some(&SqlState::UNIQUE_VIOLATION) => StoreError::Conflict(Box::new(e)),
        Some(&SqlState::FOREIGN_KEY_VIOLATION) => StoreError::NotFound,
        _ => StoreError::Database(Box::new(e)),
    }
}

/// Whether libpq would find a password file (`~/.pgpass`; `PGPASSFILE` is checked as an
/// environment variable).
fn password_file_exists() -> bool {
    std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .is_some_and(|home| home.join(".pgpass").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(url: &str) -> Result<WorkerPg, NotForWorkers> {
        WorkerPg::new(
            url,
            2,
            Duration::from_secs(1),
            Duration::from_secs(600),
            Arc::default(),
        )
    }

    #[test]
    fn urls_libpq_reads_differently_stay_on_the_pool() {
        // libpq verifies the server in these modes; this driver cannot say the same.
        for mode in ["verify-ca", "verify-full", "allow"] {
            let url = format!("postgres://u:pw@db.example/app?sslmode={mode}");
            assert!(matches!(decide(&url), Err(NotForWorkers::Url(_))), "{mode}");
        }
        // libpq-only options (a root certificate, a service file entry).
        for option in ["sslrootcert=/etc/ca.pem", "service=prod"] {
            let url = format!("postgres://u:pw@db.example/app?{option}");
            assert!(
                matches!(decide(&url), Err(NotForWorkers::Url(_))),
                "{option}"
            );
        }
    }

    #[test]
    fn a_url_that_says_everything_gets_worker_connections() {
        if LIBPQ_ENVIRONMENT
            .iter()
            .any(|name| std::env::var_os(name).is_some())
        {
            // libpq would read that variable too: the pool keeps the deletion (tested above
            // for URLs; the process test covers the environment).
            assert!(decide("postgres://u:pw@db.example/app").is_err());
            return;
        }
        for url in [
            "postgres://u:pw@db.example:5432/app",
            "postgresql://u:pw@db.example/app?sslmode=require",
            "postgres://u:pw@db.example/app?sslmode=disable&application_name=mine",
        ] {
            let pg = decide(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(pg.lanes.slots.len(), 2);
            assert_eq!(
                pg.lanes.tls.is_some(),
                !url.contains("sslmode=disable"),
                "TLS unless disabled: {url}"
            );
        }
        let named = decide("postgres://u:pw@db.example/app?application_name=mine")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(named.lanes.config.get_application_name(), Some("mine"));
    }
}
