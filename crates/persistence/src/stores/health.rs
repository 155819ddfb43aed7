use crate::pool::Database;
use diesel::connection::SimpleConnection;
use domain::ports::{Health, StoreError};

impl Health for Database {
    fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| conn.batch_execute("SELECT 1"))
    }
}
