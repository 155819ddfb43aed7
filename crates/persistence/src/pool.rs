//! Connections and the pool: one connection type for both backends, picked by URL scheme.

use crate::config::{DatabaseConfig, DatabaseUrl};
use crate::error::{breaks_connection, store_error};
use diesel::connection::SimpleConnection;
use diesel::result::Error as DieselError;
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};
use domain::ports::StoreError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A connection to either backend. Queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// A pooled connection that remembers whether it broke, so the pool drops it instead of
/// handing it out again (a database restart then heals without a health query per checkout).
pub struct PooledConn {
    pub(crate) conn: DbConnection,
    broken: bool,
}

/// Why a pooled connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Connect(#[from] ConnectionError),
    #[error("setting up the connection: {0}")]
    Setup(#[from] DieselError),
    #[error("creating the database directory: {0}")]
    Directory(#[from] std::io::Error),
}

/// Opens connections for r2d2, choosing the backend from the URL, never by trial.
#[derive(Debug)]
pub(crate) struct Manager {
    url: DatabaseUrl,
}

/// SQLite: enforce foreign keys (cascades), WAL for concurrent readers, and wait on a busy
/// database instead of failing at once.
const SQLITE_SETUP: &str = "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;";

impl r2d2::ManageConnection for Manager {
    type Connection = PooledConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<PooledConn, ConnectError> {
        let conn = match &self.url {
            DatabaseUrl::Postgres(url) => DbConnection::Pg(PgConnection::establish(url)?),
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(SQLITE_SETUP)?;
                DbConnection::Sqlite(conn)
            }
            DatabaseUrl::SqliteMemory => {
                let mut conn = SqliteConnection::establish(":memory:")?;
                conn.batch_execute("PRAGMA foreign_keys = ON;")?;
                DbConnection::Sqlite(conn)
            }
        };
        Ok(PooledConn {
            conn,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), ConnectError> {
        conn.conn.batch_execute("SELECT 1")?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.broken || std::thread::panicking() || conn.conn.is_broken()
    }
}

/// Counters for `/metrics` and readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolState {
    pub connections: u32,
    pub idle_connections: u32,
    pub max_size: u32,
}

/// The database: a connection pool plus the backend it talks to. Implements every port.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    url: DatabaseUrl,
    /// SQLite only: the writers of this process take turns here (see [`Database::write`]).
    sqlite_writer: Option<Arc<Mutex<()>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("url", &self.url).finish()
    }
}

impl Database {
    /// Builds the pool. Does not wait for the database: connections are opened on demand, so a
    /// server can start (and report not-ready) while its database is still coming up.
    pub fn connect(config: &DatabaseConfig) -> Self {
        let max_size = match config.url {
            // Every in-memory connection would be a different database.
            DatabaseUrl::SqliteMemory => 1,
            _ => config.pool_size.get(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(0))
            .idle_timeout(Some(config.idle_timeout.std()))
            .connection_timeout(config.connect_timeout.std().max(Duration::from_millis(1)))
            .test_on_check_out(false)
            .error_handler(Box::new(LogErrors))
            .build_unchecked(Manager {
                url: config.url.clone(),
            });
        Self {
            pool,
            sqlite_writer: (!config.url.is_postgres()).then(|| Arc::new(Mutex::new(()))),
            url: config.url.clone(),
        }
    }

    /// The URL this database was opened with.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Current pool occupancy.
    pub fn pool_state(&self) -> PoolState {
        let s = self.pool.state();
        PoolState {
            connections: s.connections,
            idle_connections: s.idle_connections,
            max_size: self.pool.max_size(),
        }
    }

    /// Runs `f` on a pooled connection, sorting errors into [`StoreError`] and retiring the
    /// connection if the error shows it is dead.
    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DieselError>,
    ) -> Result<T, StoreError> {
        let mut pooled = self
            .pool
            .get()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let result = f(&mut pooled.conn);
        if let Err(e) = &result {
            if breaks_connection(e) {
                pooled.broken = true;
            }
        }
        result.map_err(store_error)
    }

    /// Like [`Database::run`], inside one transaction, as a writer (see [`Database::write`]).
    pub(crate) fn transaction<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DieselError>,
    ) -> Result<T, StoreError> {
        self.write(|conn| conn.transaction(f))
    }

    /// Like [`Database::run`], for work that writes. SQLite admits one writer at a time, and a
    /// connection that finds the file locked sleeps in its busy handler, in steps of
    /// milliseconds, instead of being woken when the writer is done: so this process's writers
    /// take turns on a mutex first (the turn is taken before the connection, so waiting
    /// writers hold no connection readers need). Other processes on the same file still meet
    /// the busy handler. Postgres writers run at once.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DieselError>,
    ) -> Result<T, StoreError> {
        let _turn = self
            .sqlite_writer
            .as_ref()
            .map(|writer| writer.lock().unwrap_or_else(PoisonError::into_inner));
        self.run(f)
    }

    /// Runs `f` with the raw connection (for migrations).
    pub(crate) fn with_connection<T, E>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        let mut pooled = self
            .pool
            .get()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(f(&mut pooled.conn))
    }
}

#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<ConnectError> for LogErrors {
    fn handle_error(&self, error: ConnectError) {
        log::warn!("database connection failed: {error}");
    }
}
