//! Tests' databases: a fresh one of each backend, migrated, dropped at the end. Needs the
//! Postgres at 127.0.0.1:5432 that the test suite needs; fails if it is unreachable.

use crate::{Database, DatabaseConfig, DatabaseUrl};
use diesel::connection::SimpleConnection;
use diesel::Connection;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

/// A fresh database of each backend, migrated, dropped at the end.
pub(crate) struct Databases {
    pub(crate) sqlite: Database,
    pub(crate) postgres: Database,
    pub(crate) pg_url: String,
    pg_name: String,
    _dir: tempfile::TempDir,
}

impl Databases {
    pub(crate) fn new() -> Self {
        let name = format!("t_store_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(PG_ADMIN)
            .unwrap_or_else(|e| panic!("Postgres is required at {PG_ADMIN}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        // Without TLS: see the api tests' helpers (NO_TLS) for the exit-time abort it avoids.
        let pg_url = format!("postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable");
        let dir = tempfile::tempdir().unwrap();
        let connect = |url: String| {
            let config = DatabaseConfig {
                url: url.parse::<DatabaseUrl>().unwrap(),
                ..DatabaseConfig::default()
            };
            let db = Database::connect(&config);
            db.migrate_up().unwrap();
            db
        };
        Self {
            sqlite: connect(format!(
                "sqlite://{}",
                dir.path().join("d.sqlite3").display()
            )),
            postgres: connect(pg_url.clone()),
            pg_url,
            pg_name: name,
            _dir: dir,
        }
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        if let Ok(mut admin) = diesel::PgConnection::establish(PG_ADMIN) {
            if let Err(e) = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.pg_name
            )) {
                eprintln!("leaving the test database {} behind: {e}", self.pg_name);
            }
        }
    }
}
