//! The `account` config section and the deletion policy.

use crate::config::Duration;
use crate::retention::RetentionConfig;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `account.*`: what users may do with their own account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountConfig {
    /// Mounts `DELETE /user`. Off by default: deleting is irreversible.
    pub allow_deletion: bool,
    /// Published in `/.well-known/config` for frontends.
    pub allow_signup: bool,
    /// Extra conditions on self-service deletion.
    pub deletion: DeletionConfig,
    /// The inactivity policy (none by default).
    pub retention: RetentionConfig,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            allow_deletion: false,
            allow_signup: true,
            deletion: DeletionConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

/// `account.deletion.*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeletionConfig {
    /// When set, `DELETE /user` needs a session younger than this (RFC 9470 step-up).
    pub max_session_age: Option<Duration>,
    /// None: delete at once (Hanko's behaviour). A duration: schedule the deletion and purge
    /// after it, undoable until then.
    pub grace_period: Option<Duration>,
    /// How often each instance looks for scheduled deletions that are due.
    pub purge_interval: Duration,
}

impl Default for DeletionConfig {
    fn default() -> Self {
        Self {
            max_session_age: None,
            grace_period: None,
            purge_interval: Duration::from_secs(60),
        }
    }
}

impl AccountConfig {
    /// The oldest session creation time that may still delete its account at `now`, when
    /// `account.deletion.max_session_age` asks for a recent sign-in.
    pub fn oldest_session_allowed(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.deletion.max_session_age.map(|max| now - max.chrono())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn any_session_age_without_a_limit() {
        assert_eq!(AccountConfig::default().oldest_session_allowed(at(0)), None);
    }

    #[test]
    fn the_limit_reaches_back_from_now() {
        let config = AccountConfig {
            deletion: DeletionConfig {
                max_session_age: Some(Duration::from_secs(300)),
                ..DeletionConfig::default()
            },
            ..AccountConfig::default()
        };
        // A session created exactly at the bound may still delete (`created_at >= oldest`).
        assert_eq!(config.oldest_session_allowed(at(300)), Some(at(0)));
    }
}
