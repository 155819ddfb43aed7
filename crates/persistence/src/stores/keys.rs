use crate::pool::Database;
use crate::rows::KeyRow;
use crate::schema::jwks;
use crate::types::{Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::model::StoredKey;
use domain::ports::{KeyStore, StoreError};

impl KeyStore for Database {
    fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = self.run(|conn| {
            jwks::table
                .select(KeyRow::as_select())
                .order((jwks::created_at.asc(), jwks::kid.asc()))
                .load(conn)
        })?;
        Ok(rows.into_iter().map(StoredKey::from).collect())
    }

    fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let row = KeyRow {
            id: Id(uuid::Uuid::new_v4()),
            kid: key.kid.clone(),
            alg: key.alg.clone(),
            encrypted_key: key.encrypted_key.clone(),
            created_at: Timestamp(key.created_at),
            activates_at: Timestamp(key.activates_at),
            retired_at: key.retired_at.map(Timestamp),
            succeeds: key.succeeds.clone(),
        };
        self.write(|conn| diesel::insert_into(jwks::table).values(&row).execute(conn))?;
        Ok(())
    }

    fn set_retirements(
        &self,
        keys: &[(String, Option<DateTime<Utc>>)],
    ) -> Result<usize, StoreError> {
        self.transaction(|conn| {
            let mut changed = 0;
            for (kid, retired_at) in keys {
                changed += diesel::update(jwks::table.filter(jwks::kid.eq(kid)))
                    .set(jwks::retired_at.eq(retired_at.map(Timestamp)))
                    .execute(conn)?;
            }
            Ok(changed)
        })
    }

    fn replace_encrypted_keys(&self, keys: &[(String, String)]) -> Result<usize, StoreError> {
        self.transaction(|conn| {
            let mut replaced = 0;
            for (kid, encrypted_key) in keys {
                replaced += diesel::update(jwks::table.filter(jwks::kid.eq(kid)))
                    .set(jwks::encrypted_key.eq(encrypted_key))
                    .execute(conn)?;
            }
            Ok(replaced)
        })
    }

    fn delete_keys(&self, kids: &[String]) -> Result<usize, StoreError> {
        self.write(|conn| diesel::delete(jwks::table.filter(jwks::kid.eq_any(kids))).execute(conn))
    }
}
