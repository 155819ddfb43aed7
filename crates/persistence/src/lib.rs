//! Storage on Postgres (production) or SQLite (embedded default), behind one Diesel schema.
//!
//! [`Database`] implements every port of `domain::ports`. The backend is picked from the URL
//! scheme ([`DatabaseUrl`]); both share [`schema`], with the few types that differ between
//! backends (UUID, timestamps with time zone, JSON) defined in [`types`].

mod config;
pub mod deletion;
mod error;
mod migrations;
mod offload;
mod pool;
mod prepared;
mod rows;
pub mod schema;
mod stores;
#[cfg(test)]
mod test_databases;
pub mod types;
mod worker_pg;

pub use config::{DatabaseConfig, DatabaseUrl, DatabaseUrlError};
pub use deletion::{DeletionPlan, Deletions};
pub use migrations::{MigrationError, MigrationStatus};
pub use offload::{Offload, OffloadError};
pub use pool::{Database, DbConnection, PoolState};
pub use worker_pg::DeletionStatements;
pub(crate) use worker_pg::{NotForWorkers, WorkerPg};
