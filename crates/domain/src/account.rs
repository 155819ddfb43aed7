//! The `account` config section and the deletion policy.

use crate::config::Duration;
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
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            allow_deletion: false,
            allow_signup: true,
            deletion: DeletionConfig::default(),
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

/// Why a user may not delete their own account right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeletionRefused {
    /// `account.allow_deletion` is false: the operation does not exist.
    #[error("account deletion is disabled")]
    Disabled,
    /// The session is older than `account.deletion.max_session_age`: the user must sign in
    /// again (RFC 9470 `insufficient_user_authentication`, with `max_age` in seconds).
    #[error("re-authentication required: session older than {max_age}")]
    ReauthenticationRequired { max_age: Duration },
}

impl AccountConfig {
    /// The oldest session creation time that may still delete its account at `now`, when
    /// `account.deletion.max_session_age` asks for a recent sign-in.
    pub fn oldest_session_allowed(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.deletion.max_session_age.map(|max| now - max.chrono())
    }

    /// Decides whether the holder of a session created at `session_created_at` may delete
    /// their own account at `now`. Pure: no clock, no I/O.
    pub fn may_delete_own_account(
        &self,
        session_created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), DeletionRefused> {
        if !self.allow_deletion {
            return Err(DeletionRefused::Disabled);
        }
        if let Some(max_age) = self.deletion.max_session_age {
            // A session "from the future" (clock skew between instances) counts as fresh.
            let age = now.signed_duration_since(session_created_at);
            if age > max_age.chrono() {
                return Err(DeletionRefused::ReauthenticationRequired { max_age });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    fn config(allow: bool, max_age: Option<u64>) -> AccountConfig {
        AccountConfig {
            allow_deletion: allow,
            deletion: DeletionConfig {
                max_session_age: max_age.map(Duration::from_secs),
                ..DeletionConfig::default()
            },
            ..AccountConfig::default()
        }
    }

    #[test]
    fn disabled_by_default() {
        assert_eq!(
            AccountConfig::default().may_delete_own_account(at(0), at(1)),
            Err(DeletionRefused::Disabled)
        );
    }

    #[test]
    fn allowed_without_age_limit_whatever_the_age() {
        assert_eq!(
            config(true, None).may_delete_own_account(at(0), at(10_000_000)),
            Ok(())
        );
    }

    #[test]
    fn age_limit_is_inclusive_of_its_bound() {
        let c = config(true, Some(300));
        assert_eq!(c.may_delete_own_account(at(0), at(300)), Ok(()));
        assert_eq!(
            c.may_delete_own_account(at(0), at(301)),
            Err(DeletionRefused::ReauthenticationRequired {
                max_age: Duration::from_secs(300)
            })
        );
    }

    #[test]
    fn session_from_the_future_counts_as_fresh() {
        assert_eq!(
            config(true, Some(60)).may_delete_own_account(at(100), at(0)),
            Ok(())
        );
    }

    #[test]
    fn disabled_wins_over_age() {
        assert_eq!(
            config(false, Some(60)).may_delete_own_account(at(0), at(1_000)),
            Err(DeletionRefused::Disabled)
        );
    }
}
