//! A key's life (docs/keys.md, "Keys and rotation"): created and published → signs from its
//! `not_before` → retired when the next key starts signing → still published until every token
//! it signed has expired plus one JWKS max-age → pruned. By hand (`jwk rotate|prune`) or on
//! schedule (`secrets.rotation.interval`).

use super::{KeyError, KeyManager, LoadedKey, PruneError};
use crate::algorithm::KeyAlgorithm;
use crate::crypto;
use chrono::{DateTime, Utc};
use domain::config::Duration;
use domain::model::StoredKey;
use domain::ports::StoreError;
use serde::Serialize;
use std::sync::Arc;

/// A stored key, as `jwk list` and the admin API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: KeyAlgorithm,
    pub created_at: DateTime<Utc>,
    /// Signs from here.
    pub not_before: DateTime<Utc>,
    /// Stops signing here (the next key's `not_before`), if a next key exists.
    pub retired_at: Option<DateTime<Utc>>,
    /// In the JWKS: not yet past its publication window.
    pub published: bool,
    /// Signs new tokens now.
    pub signing: bool,
}

/// What one scheduled rotation step did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScheduleStep {
    /// The key this instance created, and when it starts signing.
    pub created: Option<(String, DateTime<Utc>)>,
    /// Another instance stored the successor first; ours was discarded.
    pub lost_race: bool,
    /// Keys removed because their publication window had passed.
    pub pruned: Vec<String>,
}

/// A generated key, opened once to learn its thumbprint, and encrypted for storage.
struct NewKey {
    kid: String,
    alg: KeyAlgorithm,
    encrypted_key: String,
}

impl KeyManager {
    /// How long a key stays published after it retires: the tokens it signed live up to
    /// `session.lifespan` (+ leeway), and a client may hold a JWKS copy one max-age longer.
    fn publication_tail(&self) -> chrono::Duration {
        self.policy.lifespan.chrono() + self.policy.leeway.chrono() + self.jwks_max_age.chrono()
    }

    fn is_published(&self, retired_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        retired_at.is_none_or(|r| now < r + self.publication_tail())
    }

    /// Generates a key of `secrets.algorithm`; its kid is its RFC 7638 thumbprint. Blocking.
    fn generate(&self) -> Result<NewKey, KeyError> {
        let alg = self.algorithm;
        let private = alg.generate(self.rsa_bits.bits())?;
        let kid = alg.open(private.pkcs8())?.jwk.thumbprint();
        let encrypted_key = crypto::encrypt(&self.secrets[0], &kid, private.pkcs8())?;
        Ok(NewKey {
            kid,
            alg,
            encrypted_key,
        })
    }

    fn store_key(
        &self,
        key: NewKey,
        created_at: DateTime<Utc>,
        not_before: DateTime<Utc>,
        succeeds: Option<String>,
    ) -> Result<(), StoreError> {
        self.store.insert_key(&StoredKey {
            kid: key.kid,
            alg: key.alg.name().to_owned(),
            encrypted_key: key.encrypted_key,
            created_at,
            activates_at: not_before,
            retired_at: None,
            succeeds,
        })
    }

    /// Generates and stores a new key, signing from `now + stage` (published at once).
    /// A stage shorter than the JWKS max-age is refused unless `force`: clients holding a
    /// cached copy would meet the key before they have seen it. Returns its kid. Blocking.
    pub fn rotate(
        &self,
        stage: Option<Duration>,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        if let Some(stage) = stage {
            if !force && stage.std() < self.jwks_max_age.std() {
                return Err(KeyError::StageTooShort {
                    stage,
                    max_age: self.jwks_max_age,
                });
            }
        }
        let key = self.generate()?;
        let kid = key.kid.clone();
        let not_before = now + stage.map(Duration::chrono).unwrap_or_default();
        self.store_key(key, now, not_before, None)?;
        self.reload()?;
        self.record_retirements()?;
        Ok(kid)
    }

    /// A rotation that breaks no cache: the new key is published now and signs once
    /// `publish_ahead` plus one refresh interval have passed, the lead scheduled rotation
    /// keeps (every instance has loaded it, every JWKS served for `publish_ahead` lists it).
    /// Returns its kid and when it signs. Blocking.
    pub fn rotate_staged(&self, now: DateTime<Utc>) -> Result<(String, DateTime<Utc>), KeyError> {
        let lead = Duration(self.publish_ahead.std() + self.refresh_interval.std());
        let kid = self.rotate(Some(lead), false, now)?;
        Ok((kid, now + lead.chrono()))
    }

    /// One step of scheduled rotation (`secrets.rotation.interval`), run by every instance:
    ///
    /// - when the newest key is due to be followed within `publish_ahead` plus one refresh
    ///   interval, creates its successor, signing from the due time (or later, never less than
    ///   that lead after it is stored). The successor names the key it follows, and the
    ///   database stores one successor per key: whichever instance is first, the others'
    ///   inserts are refused and their keys dropped. The extra refresh interval is the time
    ///   every other instance may take to load the key: from then on every JWKS served holds
    ///   it for at least `publish_ahead` before it signs;
    /// - prunes retired keys whose publication window has passed;
    /// - records when each key retires.
    ///
    /// Blocking (key generation).
    pub fn rotate_on_schedule(&self, interval: Duration) -> Result<ScheduleStep, KeyError> {
        self.reload()?;
        let mut step = ScheduleStep::default();
        let Some(newest) = self.snapshot().keys.last().cloned() else {
            return Ok(step); // the first key is made by `ensure_signing_key`
        };
        let lead = self.publish_ahead.chrono() + self.refresh_interval.chrono();
        let due = newest.activates_at + interval.chrono();
        if Utc::now() >= due - lead {
            log::info!(
                "rotation: creating the key that follows {} (due {})",
                newest.kid,
                due.to_rfc3339()
            );
            let key = self.generate()?;
            let kid = key.kid.clone();
            let created_at = Utc::now();
            let not_before = due.max(created_at + lead);
            match self.store_key(key, created_at, not_before, Some(newest.kid.clone())) {
                Ok(()) => {
                    log::info!(
                        "rotation: key {kid} published, signs from {}",
                        not_before.to_rfc3339()
                    );
                    step.created = Some((kid, not_before));
                }
                Err(StoreError::Conflict(_)) => {
                    log::info!(
                        "rotation: another instance created the key that follows {}",
                        newest.kid
                    );
                    step.lost_race = true;
                }
                Err(e) => return Err(e.into()),
            }
            self.reload()?;
        }
        step.pruned = self.prune_unpublished(Utc::now())?;
        self.record_retirements()?;
        Ok(step)
    }

    /// Removes the keys past their publication window (never the one that signs).
    fn prune_unpublished(&self, now: DateTime<Utc>) -> Result<Vec<String>, KeyError> {
        let set = self.snapshot();
        let signer = set.signing_key(now).map(|k| k.kid.clone());
        let expired: Vec<String> = set
            .retirements()
            .into_iter()
            .filter(|(kid, retired_at)| {
                Some(kid) != signer.as_ref()
                    && retired_at.is_some_and(|r| r <= now)
                    && !self.is_published(*retired_at, now)
            })
            .map(|(kid, _)| kid)
            .collect();
        if expired.is_empty() {
            return Ok(expired);
        }
        self.store.delete_keys(&expired)?;
        log::info!("rotation: pruned {expired:?}, past their publication window");
        self.reload()?;
        Ok(expired)
    }

    /// Stores when each key retires (the next key's `not_before`) where the row says otherwise.
    fn record_retirements(&self) -> Result<(), KeyError> {
        let set = self.snapshot();
        let changes: Vec<(String, Option<DateTime<Utc>>)> = set
            .retirements()
            .into_iter()
            .filter(|(kid, at)| set.by_kid.get(kid).is_some_and(|k| k.retired_at != *at))
            .collect();
        if !changes.is_empty() {
            self.store.set_retirements(&changes)?;
            self.reload()?;
        }
        Ok(())
    }

    /// Every stored key with its life at `now` (reloads first). Blocking.
    pub fn list(&self, now: DateTime<Utc>) -> Result<Vec<KeyInfo>, KeyError> {
        self.reload()?;
        let set = self.snapshot();
        let signer = set.signing_key(now).map(|k| k.kid.clone());
        let retirements = set.retirements();
        Ok(set
            .keys
            .iter()
            .zip(retirements)
            .map(|(k, (_, retired_at))| KeyInfo {
                kid: k.kid.clone(),
                alg: k.alg,
                created_at: k.created_at,
                not_before: k.activates_at,
                retired_at,
                published: self.is_published(retired_at, now),
                signing: signer.as_deref() == Some(k.kid.as_str()),
            })
            .collect())
    }

    /// Removes keys created more than `older_than` ago. Without `force`, refuses if any of them
    /// signs now or stopped signing less than `session.lifespan` ago (tokens it signed may
    /// still be live). Returns the removed kids. Blocking.
    pub fn prune(
        &self,
        older_than: Duration,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, PruneError> {
        self.reload().map_err(PruneError::Key)?;
        let set = self.snapshot();
        let cutoff = now - older_than.chrono();
        let lifespan = self.policy.lifespan.chrono();
        let candidates: Vec<&Arc<LoadedKey>> =
            set.keys.iter().filter(|k| k.created_at < cutoff).collect();
        let still_needed: Vec<String> = candidates
            .iter()
            .filter(|k| {
                if k.activates_at > now {
                    return false; // staged: has not signed anything yet
                }
                // It signed until the next key (in activation order) took over.
                let retired_at = set
                    .keys
                    .iter()
                    .filter(|o| o.activates_at > k.activates_at && o.activates_at <= now)
                    .map(|o| o.activates_at)
                    .min();
                retired_at.is_none_or(|t| t + lifespan > now)
            })
            .map(|k| k.kid.clone())
            .collect();
        if !force && !still_needed.is_empty() {
            return Err(PruneError::StillNeeded(still_needed));
        }
        let kids: Vec<String> = candidates.iter().map(|k| k.kid.clone()).collect();
        self.store.delete_keys(&kids).map_err(KeyError::from)?;
        self.reload().map_err(PruneError::Key)?;
        self.record_retirements().map_err(PruneError::Key)?;
        Ok(kids)
    }
}
