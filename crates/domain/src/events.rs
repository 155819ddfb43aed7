//! The event catalogue: every event the service announces, written to the outbox in the
//! transaction of the change it describes, and delivered to the hooks subscribed to it.

use crate::ids::{SessionId, UserId};
use serde::Serialize;

/// Every event the service writes. One list, so a new event is named in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A user was deleted: at once, by an admin, or by the purge. `{id, emails, deleted_at}`.
    UserDelete,
    /// A deletion was scheduled (grace period). `{id, emails, purge_after}`.
    UserDeleteScheduled,
    /// A scheduled deletion was cancelled. `{id}`.
    UserDeleteCancelled,
    /// A session ended by logout or by an admin (not by a deletion, which the user event
    /// covers). `{id, user_id, reason}`.
    SessionDelete,
}

impl EventKind {
    /// The whole catalogue.
    pub const ALL: [EventKind; 4] = [
        Self::UserDelete,
        Self::UserDeleteScheduled,
        Self::UserDeleteCancelled,
        Self::SessionDelete,
    ];

    /// The event's name on the wire and in subscriptions.
    pub const fn name(self) -> &'static str {
        match self {
            Self::UserDelete => "user.delete",
            Self::UserDeleteScheduled => "user.delete.scheduled",
            Self::UserDeleteCancelled => "user.delete.cancelled",
            Self::SessionDelete => "session.delete",
        }
    }

    /// The event with this name, if it is in the catalogue.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Whether a subscription to `subscription` covers `event`: the exact name, or a prefix
/// ending at a dot (`user` matches `user.delete`, `us` does not).
pub fn subscribed(subscription: &str, event: &str) -> bool {
    event == subscription
        || event
            .strip_prefix(subscription)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Why a session ended, as the `session.delete` event says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionEndReason {
    /// `POST /logout`.
    Logout,
    /// An operator, through the admin API.
    Admin,
}

/// The payload of `session.delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionDeleted {
    pub id: SessionId,
    pub user_id: UserId,
    pub reason: SessionEndReason,
}

/// The hooks an event is to be delivered to, each by its key (its configured name, or its URL
/// without credentials). Decided when the event is written, in the same transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recipients(pub Vec<String>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(EventKind::from_name("user"), None);
    }

    #[test]
    fn subscriptions() {
        assert!(subscribed("user.delete", "user.delete"));
        assert!(subscribed("user", "user.delete"));
        assert!(subscribed("user.delete", "user.delete.scheduled"));
        assert!(!subscribed("us", "user.delete"));
        assert!(!subscribed("user.delete.extra", "user.delete"));
        assert!(!subscribed("email", "user.delete"));
    }
}
