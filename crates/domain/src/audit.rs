//! The `audit_log` config section and what a deletion records.

use crate::model::Email;
use serde::{Deserialize, Serialize};

/// `audit_log.*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditLogConfig {
    /// Write audit log entries at all.
    pub enabled: bool,
    /// Store `j***@example.com` instead of the address.
    pub mask_email: bool,
}

impl Default for AuditLogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mask_email: false,
        }
    }
}

impl AuditLogConfig {
    /// The actor's address for the audit log: the primary one, masked if so configured.
    pub fn actor_email_of(&self, emails: &[Email]) -> Option<String> {
        emails
            .iter()
            .find(|e| e.is_primary)
            .map(|e| self.actor_email(&e.address))
    }

    /// The address as it may be written to the audit log under this config.
    pub fn actor_email(&self, address: &str) -> String {
        if self.mask_email {
            mask_email(address)
        } else {
            address.to_owned()
        }
    }
}

/// The audit log type written when a user is deleted.
pub const USER_DELETED: &str = "user_deleted";
/// … when a deletion is scheduled (grace period).
pub const USER_DELETION_SCHEDULED: &str = "user_deletion_scheduled";
/// … when a scheduled deletion is cancelled.
pub const USER_DELETION_CANCELLED: &str = "user_deletion_cancelled";
/// … when a legal hold is set.
pub const USER_HOLD_SET: &str = "user_hold_set";
/// … when a legal hold is released.
pub const USER_HOLD_RELEASED: &str = "user_hold_released";
/// The inactivity policy warned a user (docs/retention.md).
pub const USER_INACTIVITY_WARNED: &str = "user_inactivity_warned";

/// `jane@example.com` → `j***@example.com`. Keeps the domain, hides the local part.
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_local_part() {
        assert_eq!(mask_email("jane@example.com"), "j***@example.com");
        assert_eq!(mask_email("é@x.io"), "é***@x.io");
        assert_eq!(mask_email("@x.io"), "***@x.io");
        assert_eq!(mask_email("nonsense"), "***");
    }
}
