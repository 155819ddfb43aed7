//! The inactivity policy's worker (docs/retention.md): every `account.retention.interval`, each
//! instance withdraws the warnings activity overtook, then works through what is due in small
//! claimed batches, each in the share of time it reserved from the fleet's
//! `account.retention.rate` (one row every instance shares), until a batch comes back short. A
//! user is acted on once whatever the number of instances: batches are claimed with
//! `FOR UPDATE SKIP LOCKED` on Postgres, each in one transaction with its events and audit.

use crate::lifecycle::{Stop, Worker};
use crate::report::Report;
use crate::services::{ServiceError, Services};
use chrono::Utc;
use domain::retention::RetentionPolicy;
use std::time::Duration;

/// The longest wait after repeated database failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What the policy needs, and nothing more.
pub struct Retention {
    /// The use cases (deleting on the pool: the policy has no lanes).
    pub services: Services,
    pub policy: RetentionPolicy,
}

impl Worker for Retention {
    const NAME: &'static str = "retention";

    async fn run(self, mut stop: Stop) {
        let mut failures = 0u32;
        loop {
            let wait = match self.pass(&mut stop).await {
                Ok(()) => {
                    failures = 0;
                    self.policy.interval
                }
                Err(()) => {
                    failures = failures.saturating_add(1);
                    self.policy
                        .interval
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

impl Retention {
    /// One pass: withdraw, then batches at the fleet's pace until one comes back short (or a
    /// stop is requested: what is done is committed, the rest waits for the next start).
    async fn pass(&self, stop: &mut Stop) -> Result<(), ()> {
        let report = |e: ServiceError| log::warn!("retention: {}", Report(&e));
        let withdrawn = self
            .services
            .withdraw_inactivity_warnings()
            .await
            .map_err(report)?;
        let (mut warned, mut deleted) = (0, 0);
        let result = loop {
            let start = match self.services.reserve_retention_share(&self.policy).await {
                Ok(start) => start,
                Err(e) => {
                    report(e);
                    break Err(());
                }
            };
            let ahead = (start - Utc::now()).to_std().unwrap_or_default();
            if !ahead.is_zero() && !stop.sleep(ahead).await {
                break Ok(());
            }
            match self.services.retention_step(&self.policy).await {
                Ok(step) => {
                    warned += step.warned as u64;
                    deleted += (step.deleted + step.scheduled) as u64;
                    if step.total() < self.policy.batch() as usize || stop.requested() {
                        break Ok(());
                    }
                }
                Err(e) => {
                    report(e);
                    break Err(());
                }
            }
        };
        self.services
            .metrics
            .retention_pass(warned, withdrawn, deleted);
        if warned + withdrawn + deleted > 0 {
            log::info!(
                "retention pass: {warned} warned, {withdrawn} warnings withdrawn, {deleted} deleted or scheduled"
            );
        }
        result
    }
}
