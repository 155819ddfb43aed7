//! The inactivity policy (docs/retention.md): a pass's steps (withdraw overtaken warnings,
//! reserve the fleet's time, act on a batch: deletions due first, then warnings) and the
//! preview. Its deletion is the one deletion, `by: "retention"`.

use super::{ServiceError, Services};
use chrono::{DateTime, Utc};
use domain::events::EventKind;
use domain::ports::{
    Deleter, DeletionOutcome, InactiveDeletions, InactivityWarnings, RetentionStore,
};
use domain::retention::{
    previewable, PreviewRefused, RetentionPolicy, RetentionPreview, PREVIEW_USERS,
};
use persistence::OffloadError;

/// What one step of a pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionStep {
    pub warned: usize,
    /// Deleted at once (no grace period).
    pub deleted: usize,
    /// Scheduled for deletion (a grace period: restorable until the purge).
    pub scheduled: usize,
}

impl RetentionStep {
    /// Users acted on.
    pub fn total(&self) -> usize {
        self.warned + self.deleted + self.scheduled
    }
}

impl Services {
    /// The policy in force, if `account.retention.inactive_after` is set (the config was
    /// validated at start: a policy that does not hold is never served).
    pub fn retention_policy(&self) -> Option<RetentionPolicy> {
        self.config.account.retention.policy().ok().flatten()
    }

    /// Withdraws the warnings that activity has overtaken; returns how many.
    pub async fn withdraw_inactivity_warnings(&self) -> Result<u64, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("withdrawing inactivity warnings", move || {
                db.withdraw_inactivity_warnings()
            })
            .await?)
    }

    /// Reserves the fleet's time for one batch; returns when this instance may act on it.
    pub async fn reserve_retention_share(
        &self,
        policy: &RetentionPolicy,
    ) -> Result<DateTime<Utc>, ServiceError> {
        let share = policy.share_of_time(policy.batch());
        let db = self.db.clone();
        Ok(self
            .offload
            .run("reserving the retention pace", move || {
                db.reserve_retention_share(share, Utc::now())
            })
            .await?)
    }

    /// Acts on up to one batch of users: those whose deletion is due first, then those due
    /// for a warning.
    pub async fn retention_step(
        &self,
        policy: &RetentionPolicy,
    ) -> Result<RetentionStep, ServiceError> {
        let limit = policy.batch();
        let now = Utc::now();
        let cutoffs = policy.cutoffs(now);
        let grace = self.config.account.deletion.grace_period;
        let outcomes = self
            .deletions()
            .delete_inactive(InactiveDeletions {
                cutoffs,
                limit,
                purge_after: grace.map(|g| now + g.chrono()),
                audit: self.config.audit_log.clone(),
                recipients: self.deletion_recipients(),
            })
            .await
            .map_err(|source| OffloadError::Store {
                context: "deleting inactive users",
                source,
            })?;
        let mut step = RetentionStep::default();
        for outcome in &outcomes {
            match outcome {
                DeletionOutcome::Deleted(user) => {
                    log::info!("user {} deleted after their inactivity", user.id);
                    step.deleted += 1;
                }
                DeletionOutcome::Scheduled(user) => {
                    log::info!(
                        "user {} scheduled for deletion after their inactivity, purged after {}",
                        user.id,
                        user.purge_after
                    );
                    step.scheduled += 1;
                }
                _ => {}
            }
        }
        if step.deleted > 0 {
            self.metrics.users_deleted_by_retention(step.deleted as u64);
            self.events.committed(EventKind::UserDelete);
        }
        if step.scheduled > 0 {
            for _ in 0..step.scheduled {
                self.metrics.deletion_scheduled();
            }
            self.events.committed(EventKind::UserDeleteScheduled);
        }
        let room = limit.saturating_sub(u32::try_from(outcomes.len()).unwrap_or(limit));
        if room > 0 {
            let warnings = InactivityWarnings {
                policy: *policy,
                cutoffs,
                limit: room,
                audit: self.config.audit_log.clone(),
                recipients: self.events.recipients(EventKind::UserInactivityWarning),
            };
            let db = self.db.clone();
            step.warned = self
                .offload
                .run("warning inactive users", move || {
                    db.warn_inactive_users(&warnings)
                })
                .await?;
            if step.warned > 0 {
                self.events.committed(EventKind::UserInactivityWarning);
            }
        }
        Ok(step)
    }

    /// What a pass at `at` would do, changing nothing.
    pub async fn retention_preview(
        &self,
        at: DateTime<Utc>,
    ) -> Result<Result<RetentionPreview, PreviewRefused>, ServiceError> {
        let Some(policy) = self.retention_policy() else {
            return Ok(Err(PreviewRefused::NoPolicy));
        };
        if !previewable(at) {
            return Ok(Err(PreviewRefused::OutOfRange));
        }
        let cutoffs = policy.cutoffs(at);
        let db = self.db.clone();
        Ok(Ok(self
            .offload
            .run("previewing the inactivity policy", move || {
                db.retention_preview(&cutoffs, PREVIEW_USERS)
            })
            .await?))
    }
}
