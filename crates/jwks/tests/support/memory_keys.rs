//! Keys in memory, for the verifier's property tests and the verification benchmark: the key
//! manager reads keys only through this port, and those are about the verifier, not storage.

use chrono::{DateTime, Utc};
use domain::model::StoredKey;
use domain::ports::{KeyStore, StoreError};
use std::sync::{Mutex, PoisonError};

#[derive(Default)]
pub struct MemoryKeys(Mutex<Vec<StoredKey>>);

impl KeyStore for MemoryKeys {
    fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
    fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key.clone());
        Ok(())
    }
    fn replace_encrypted_keys(&self, _: &[(String, String)]) -> Result<usize, StoreError> {
        Ok(0)
    }
    fn delete_keys(&self, _: &[String]) -> Result<usize, StoreError> {
        Ok(0)
    }
    fn set_retirements(&self, _: &[(String, Option<DateTime<Utc>>)]) -> Result<usize, StoreError> {
        Ok(0)
    }
}
