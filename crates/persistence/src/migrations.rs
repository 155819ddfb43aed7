//! Embedded migrations, one set per backend.

use crate::pool::{Database, DbConnection};
use diesel::migration::{Migration, MigrationSource};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use domain::ports::StoreError;

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Why a migration command failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("migration failed")]
    Migration(#[source] BoxError),
}

/// One migration and whether it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: String,
    pub applied: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the same harness operation on whichever backend the connection is, with that
/// backend's migrations.
macro_rules! on_backend {
    ($conn:expr, |$c:ident, $m:ident| $body:expr) => {
        match $conn {
            DbConnection::Pg($c) => {
                let $m = POSTGRES;
                $body
            }
            DbConnection::Sqlite($c) => {
                let $m = SQLITE;
                $body
            }
        }
    };
}

impl Database {
    /// Applies every pending migration; returns the versions applied.
    pub fn migrate_up(&self) -> Result<Vec<String>, MigrationError> {
        self.with_connection(|conn| -> Result<Vec<String>, BoxError> {
            on_backend!(conn, |c, m| c.run_pending_migrations(m).map(versions))
        })?
        .map_err(MigrationError::Migration)
    }

    /// Reverts the last applied migration; returns its version.
    pub fn migrate_down(&self) -> Result<String, MigrationError> {
        self.with_connection(|conn| -> Result<String, BoxError> {
            on_backend!(conn, |c, m| c
                .revert_last_migration(m)
                .map(|v| v.to_string()))
        })?
        .map_err(MigrationError::Migration)
    }

    /// Every known migration, oldest first, with whether it is applied.
    pub fn migration_status(&self) -> Result<Vec<MigrationStatus>, MigrationError> {
        self.with_connection(|conn| -> Result<Vec<MigrationStatus>, BoxError> {
            on_backend!(conn, |c, m| status_of(c, &m))
        })?
        .map_err(MigrationError::Migration)
    }
}

fn versions(list: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    list.into_iter().map(|v| v.to_string()).collect()
}

fn status_of<C, DB>(
    conn: &mut C,
    source: &EmbeddedMigrations,
) -> Result<Vec<MigrationStatus>, BoxError>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    let applied: Vec<String> = conn
        .applied_migrations()?
        .into_iter()
        .map(|v| v.to_string())
        .collect();
    let all = MigrationSource::<DB>::migrations(source)?;
    Ok(all
        .iter()
        .map(|m| {
            let version = m.name().version().to_string();
            MigrationStatus {
                applied: applied.contains(&version),
                version,
            }
        })
        .collect())
}
