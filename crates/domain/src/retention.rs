//! The inactivity policy (`account.retention.*`, docs/retention.md): an account nobody used for
//! `inactive_after` is warned `warn_before` ahead, then deleted by the one deletion
//! (`by: "retention"`). This module says when; persistence finds who, the API acts.

use crate::config::{ConfigError, Duration};
use crate::ids::UserId;
use crate::model::Email;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;

/// The longest `inactive_after` accepted (a century).
const MAX_INACTIVE_DAYS: u64 = 36_500;

/// `account.retention.*`. Without `inactive_after` there is no policy (the default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// How long an account may go unused before it is deleted (e.g. `730d`).
    pub inactive_after: Option<Duration>,
    /// How long before the deletion the user is warned; shorter than `inactive_after`.
    pub warn_before: Duration,
    /// How often each instance looks for users that are due.
    pub interval: Duration,
    /// Users acted on per second, for the whole fleet (a first run's backlog clears at this
    /// pace without crowding out requests).
    pub rate: NonZeroU32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            inactive_after: None,
            warn_before: Duration::from_secs(30 * 86_400),
            interval: Duration::from_secs(3_600),
            rate: NonZeroU32::new(50).unwrap_or(NonZeroU32::MIN),
        }
    }
}

impl RetentionConfig {
    /// The policy these settings describe (`None`: no policy), or the key that is wrong.
    pub fn policy(&self) -> Result<Option<RetentionPolicy>, ConfigError> {
        let Some(inactive_after) = self.inactive_after else {
            return Ok(None);
        };
        if inactive_after > Duration::from_secs(MAX_INACTIVE_DAYS * 86_400) {
            return Err(ConfigError::new(
                "account.retention.inactive_after",
                format!("must be at most {MAX_INACTIVE_DAYS}d"),
            ));
        }
        if self.warn_before >= inactive_after {
            return Err(ConfigError::new(
                "account.retention.warn_before",
                format!("must be shorter than account.retention.inactive_after ({inactive_after})"),
            ));
        }
        if self.interval.std().is_zero() {
            return Err(ConfigError::new(
                "account.retention.interval",
                "must be longer than 0s",
            ));
        }
        Ok(Some(RetentionPolicy {
            inactive_after: inactive_after.chrono(),
            warn_before: self.warn_before.chrono(),
            interval: self.interval.std(),
            rate: self.rate,
        }))
    }
}

/// A policy in force: `warn_before < inactive_after`, both positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    inactive_after: chrono::Duration,
    warn_before: chrono::Duration,
    pub interval: std::time::Duration,
    pub rate: NonZeroU32,
}

/// The bounds a pass at one instant applies, each inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    /// When the pass runs.
    pub at: DateTime<Utc>,
    /// Not active since this: warned (`at − (inactive_after − warn_before)`).
    pub warn_if_inactive_since: DateTime<Utc>,
    /// Not active since this: deleted, once warned (`at − inactive_after`).
    pub delete_if_inactive_since: DateTime<Utc>,
    /// Warned at or before this: the warning has run its course (`at − warn_before`).
    pub delete_if_warned_by: DateTime<Utc>,
}

impl RetentionPolicy {
    /// The bounds of a pass at `at`.
    /// The bounds of a pass at `at` (any instant: a bound before the calendar's start is its
    /// start).
    pub fn cutoffs(&self, at: DateTime<Utc>) -> Cutoffs {
        let back =
            |d: chrono::Duration| at.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC);
        Cutoffs {
            at,
            warn_if_inactive_since: back(self.inactive_after - self.warn_before),
            delete_if_inactive_since: back(self.inactive_after),
            delete_if_warned_by: back(self.warn_before),
        }
    }

    /// The earliest a user last active at `last_active_at` and warned at `warned_at` may be
    /// deleted (the warning's `delete_after`): both the inactivity and the warning have run.
    pub fn delete_after(
        &self,
        last_active_at: DateTime<Utc>,
        warned_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let ahead =
            |t: DateTime<Utc>, d| t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC);
        ahead(last_active_at, self.inactive_after).max(ahead(warned_at, self.warn_before))
    }

    /// Users claimed at a time: a hundredth of a second's worth at the fleet's rate, 1 to 100.
    /// Small, because requests' commits flush the write-ahead log a batch writes: a batch of
    /// fifty deletions at once raised DELETE's p99 twofold (bench/README.md, "Retention").
    pub fn batch(&self) -> u32 {
        (self.rate.get() / 100).clamp(1, 100)
    }

    /// How long `n` users take at the fleet's rate.
    pub fn share_of_time(&self, n: u32) -> chrono::Duration {
        chrono::Duration::microseconds(i64::from(n) * 1_000_000 / i64::from(self.rate.get()))
    }

    /// How often a used session must be noted for the policy to see activity in time: a tenth
    /// of the warning period, at most `default` (sessions' usual refresh).
    pub fn activity_resolution(&self, default: chrono::Duration) -> chrono::Duration {
        (self.warn_before / 10).min(default)
    }
}

/// The payload of `user.inactivity_warning`: who, at which addresses (the team's mailer writes
/// to them), and the earliest the deletion may come.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InactivityWarning {
    pub id: UserId,
    pub emails: Vec<Email>,
    #[serde(serialize_with = "crate::time::micros")]
    pub delete_after: DateTime<Utc>,
}

/// What a pass at one instant would do to one user (`GET /retention/preview`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionAction {
    Warn,
    Delete,
}

/// One user a pass would act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreviewedUser {
    pub id: UserId,
    /// The primary address, if any.
    pub email: Option<String>,
    pub action: RetentionAction,
    pub last_active_at: DateTime<Utc>,
    pub inactivity_warned_at: Option<DateTime<Utc>>,
}

/// What a pass at one instant would do: how many users it would warn and delete (at the
/// fleet's rate, over as many passes as that takes), and the first of them, deletions first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetentionPreview {
    pub at: DateTime<Utc>,
    pub warn: u64,
    pub delete: u64,
    pub users: Vec<PreviewedUser>,
}

/// The users listed by a preview at most.
pub const PREVIEW_USERS: usize = 100;

/// Why no preview was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreviewRefused {
    #[error("no inactivity policy: account.retention.inactive_after is not set")]
    NoPolicy,
    #[error("at: an instant between the years 1970 and 9999")]
    OutOfRange,
}

/// Whether `at` is an instant a preview can be asked for (every store keeps times in it).
pub fn previewable(at: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (1970..=9999).contains(&at.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(inactive_after: &str, warn_before: &str) -> RetentionConfig {
        RetentionConfig {
            inactive_after: Some(inactive_after.parse().unwrap_or_else(|e| panic!("{e}"))),
            warn_before: warn_before.parse().unwrap_or_else(|e| panic!("{e}")),
            ..RetentionConfig::default()
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    #[test]
    fn no_policy_by_default() {
        assert_eq!(RetentionConfig::default().policy(), Ok(None));
    }

    #[test]
    fn the_warning_must_come_before_the_deletion() {
        for (inactive, warn) in [("30d", "30d"), ("10d", "30d")] {
            let e = config(inactive, warn).policy().err();
            assert_eq!(
                e.map(|e| e.key),
                Some("account.retention.warn_before".to_owned()),
                "{inactive}/{warn}"
            );
        }
        let zero = RetentionConfig {
            interval: Duration::from_secs(0),
            ..config("730d", "30d")
        };
        assert_eq!(
            zero.policy().err().map(|e| e.key),
            Some("account.retention.interval".to_owned())
        );
    }

    #[test]
    fn cutoffs_reach_back_from_the_pass() {
        let policy = config("10s", "3s").policy().ok().flatten();
        let policy = policy.unwrap_or_else(|| panic!("a policy"));
        let c = policy.cutoffs(at(100));
        assert_eq!(c.warn_if_inactive_since, at(93));
        assert_eq!(c.delete_if_inactive_since, at(90));
        assert_eq!(c.delete_if_warned_by, at(97));
        // Warned on time: deleted warn_before later; warned late (a backlog): still warned
        // a full warn_before ahead.
        assert_eq!(policy.delete_after(at(0), at(7)), at(10));
        assert_eq!(policy.delete_after(at(0), at(50)), at(53));
    }

    #[test]
    fn any_instant_has_cutoffs() {
        let policy = config("36500d", "30d").policy().ok().flatten();
        let policy = policy.unwrap_or_else(|| panic!("a policy"));
        let c = policy.cutoffs(DateTime::<Utc>::MIN_UTC);
        assert_eq!(c.delete_if_inactive_since, DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            policy.delete_after(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            config("36501d", "30d").policy().err().map(|e| e.key),
            Some("account.retention.inactive_after".to_owned())
        );
    }

    #[test]
    fn batches_are_a_hundredth_of_a_second_at_the_rate() {
        let mut c = config("730d", "30d");
        for (rate, batch, micros) in [
            (50, 1, 20_000),
            (1000, 10, 10_000),
            (20_000, 100, 5_000),
            (5, 1, 200_000),
        ] {
            c.rate = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
            let p = c
                .policy()
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("a policy"));
            assert_eq!(p.batch(), batch, "{rate}");
            assert_eq!(
                p.share_of_time(p.batch()).num_microseconds(),
                Some(micros),
                "{rate}"
            );
        }
    }
}
