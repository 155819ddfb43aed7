//! Signing keys: rotate, list, prune, and re-encrypt them (with the SSF push authorization
//! headers sealed under the same secrets) under the first secret of `secrets.keys`.

use super::{ServiceError, Services};
use crate::delivery::sealing;
use chrono::{DateTime, Utc};
use domain::config::Duration;
use domain::ports::SsfStore;
use jwks::KeyInfo;

/// What a re-encryption rewrote.
pub struct Reencrypted {
    pub keys: usize,
    pub push_authorizations: usize,
}

impl Services {
    /// Adds a key of `secrets.algorithm`: signing at once (an emergency rotation), or staged,
    /// published now and signing after `publish_ahead` plus one refresh interval. The new kid
    /// and when it signs.
    pub async fn rotate_key(&self, staged: bool) -> Result<(String, DateTime<Utc>), ServiceError> {
        let keys = self.keys.clone();
        self.offload
            .call("rotating key", move || {
                let now = Utc::now();
                if staged {
                    keys.rotate_staged(now)
                } else {
                    keys.rotate(None, true, now).map(|kid| (kid, now))
                }
            })
            .await?
            .map_err(|e| ServiceError::internal("rotating key", e))
    }

    /// Adds a key that signs from now + `stage` (refused below the JWKS max-age unless forced).
    pub async fn rotate_key_staged_by(
        &self,
        stage: Option<Duration>,
        force: bool,
    ) -> Result<String, ServiceError> {
        let keys = self.keys.clone();
        self.offload
            .call("rotating key", move || {
                keys.rotate(stage, force, Utc::now())
            })
            .await?
            .map_err(|e| ServiceError::internal("rotating key", e))
    }

    /// Every stored key, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, ServiceError> {
        let keys = self.keys.clone();
        self.offload
            .call("listing keys", move || keys.list(Utc::now()))
            .await?
            .map_err(|e| ServiceError::internal("listing keys", e))
    }

    /// Removes keys created longer ago than `older_than` (with `force`, also those that may
    /// have signed still-live tokens): their kids.
    pub async fn prune_keys(
        &self,
        older_than: Duration,
        force: bool,
    ) -> Result<Vec<String>, ServiceError> {
        let keys = self.keys.clone();
        self.offload
            .call("pruning keys", move || {
                keys.prune(older_than, force, Utc::now())
            })
            .await?
            .map_err(|e| ServiceError::internal("pruning keys", e))
    }

    /// Re-encrypts the signing keys and re-seals the push authorization headers under the
    /// first secret, each all or nothing. Every header is opened before anything is written,
    /// so a header no secret opens changes nothing at all.
    pub async fn reencrypt(&self) -> Result<Reencrypted, ServiceError> {
        let (keys, db) = (self.keys.clone(), self.db.clone());
        self.offload
            .call("re-encrypting", move || {
                let headers = sealing::resealed(&keys, &db)
                    .map_err(|e| ServiceError::internal("opening push authorizations", e))?;
                let n = keys
                    .reencrypt_all()
                    .map_err(|e| ServiceError::internal("re-encrypting keys", e))?;
                let resealed = db
                    .replace_push_authorizations(&headers)
                    .map_err(|e| ServiceError::internal("re-sealing push authorizations", e))?;
                Ok(Reencrypted {
                    keys: n,
                    push_authorizations: resealed,
                })
            })
            .await?
    }
}

impl Services {
    /// Makes sure a key signs now (the first start, or `api jwt create` before it).
    pub async fn ensure_signing_key(&self) -> Result<(), jwks::KeyError> {
        let keys = self.keys.clone();
        self.offload
            .call("loading signing keys", move || {
                keys.ensure_signing_key(Utc::now())
            })
            .await
            .map_err(|e| {
                jwks::KeyError::Store(domain::ports::StoreError::Unavailable(Box::new(e)))
            })?
    }
}
