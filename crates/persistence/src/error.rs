//! Diesel and r2d2 errors, sorted into the domain's [`StoreError`].

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use domain::ports::StoreError;

pub(crate) fn store_error(e: DieselError) -> StoreError {
    match &e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            StoreError::Conflict(Box::new(e))
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            StoreError::NotFound
        }
        _ if breaks_connection(&e) => StoreError::Unavailable(Box::new(e)),
        _ => StoreError::Database(Box::new(e)),
    }
}

/// Whether the error means the connection itself is dead and must not return to the pool.
pub(crate) fn breaks_connection(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        DieselError::DatabaseError(_, info) => {
            // libpq reports a server that went away as an "unknown" error with these words.
            let m = info.message();
            m.contains("server closed the connection")
                || m.contains("terminating connection")
                || m.contains("no connection to the server")
                || m.contains("connection to server")
        }
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}
