//! The purge worker: every `account.deletion.purge_interval`, each instance purges the users
//! whose grace period has ended and that are not under legal hold, one transaction per user
//! (`FOR UPDATE SKIP LOCKED` on Postgres: instances never take the same user). A crash or a
//! SIGTERM mid-purge loses nothing: a transaction commits or rolls back, and the next pass
//! finds whoever is still due.

use crate::lifecycle::{Stop, Worker};
use crate::report::Report;
use crate::services::Services;
use std::time::Duration;

/// Users purged per pass at most; the next pass (at once, if this one was full) takes more.
const BATCH: usize = 100;
/// The longest wait after repeated database failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What the purge needs, and nothing more.
pub struct Purger {
    /// The use cases (deleting on the pool: the purge has no lanes).
    pub services: Services,
    pub interval: Duration,
}
impl Worker for Purger {
    const NAME: &'static str = "purge";

    async fn run(self, mut stop: Stop) {
        let mut failures = 0u32;
        loop {
            let wait = match self.pass().await {
                Ok(purged) if purged == BATCH => Duration::ZERO,
                Ok(_) => {
                    failures = 0;
                    self.interval
                }
                Err(()) => {
                    failures = failures.saturating_add(1);
                    self.interval
                        .saturating_mul(1 << failures.min(8))
                        .min(MAX_BACKOFF)
                }
            };
            if !stop.sleep(wait).await {
                break;
            }
        }
    }
}

impl Purger {
    /// One pass: purge up to a batch of due users. Returns how many were purged.
    async fn pass(&self) -> Result<usize, ()> {
        let mut purged = 0;
        while purged < BATCH {
            match self.services.purge_next().await {
                Ok(Some(_)) => purged += 1,
                Ok(None) => break,
                Err(e) => {
                    log::warn!("purge: {}", Report(&e));
                    return Err(());
                }
            }
        }
        Ok(purged)
    }
}
