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
    /// An SSF stream's verification (SSF 1.0 §8.1.4), for that stream only, never for a hook.
    /// `{stream_id, state}`.
    SsfVerification,
    /// A user was deactivated (SCIM `active: false`): every session ended with it. `{id}`.
    UserDeactivated,
    /// A deactivated user was made active again. `{id}`.
    UserReactivated,
    /// The inactivity policy warned an inactive user of their deletion (the team's mailer tells
    /// them). `{id, emails, delete_after}`. No SET type: it goes to hooks, never to a stream.
    UserInactivityWarning,
}

impl EventKind {
    /// The hooks' catalogue: what webhooks subscribe to.
    pub const ALL: [EventKind; 7] = [
        Self::UserDelete,
        Self::UserDeleteScheduled,
        Self::UserDeleteCancelled,
        Self::SessionDelete,
        Self::UserDeactivated,
        Self::UserReactivated,
        Self::UserInactivityWarning,
    ];

    /// Every kind, the SSF verification included.
    pub const EVERY: [EventKind; 8] = [
        Self::UserDelete,
        Self::UserDeleteScheduled,
        Self::UserDeleteCancelled,
        Self::SessionDelete,
        Self::SsfVerification,
        Self::UserDeactivated,
        Self::UserReactivated,
        Self::UserInactivityWarning,
    ];

    /// The event's name on the wire, in subscriptions and in the outbox.
    pub const fn name(self) -> &'static str {
        match self {
            Self::UserDelete => "user.delete",
            Self::UserDeleteScheduled => "user.delete.scheduled",
            Self::UserDeleteCancelled => "user.delete.cancelled",
            Self::SessionDelete => "session.delete",
            Self::SsfVerification => "ssf.verification",
            Self::UserDeactivated => "user.deactivated",
            Self::UserReactivated => "user.reactivated",
            Self::UserInactivityWarning => "user.inactivity_warning",
        }
    }

    /// The event with this name, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::EVERY.into_iter().find(|k| k.name() == name)
    }

    /// The one mapping to Security Event Token event types (RISC, CAEP, SSF): what a SET of
    /// this event says it is, on a `set` hook and on an SSF stream; `None`: no SET carries it.
    pub const fn set_event_type(self) -> Option<&'static str> {
        Some(match self {
            Self::UserInactivityWarning => return None,
            Self::UserDelete => concat!(
                "https://schemas.openid.net/secevent/risc/event-type",
                "/account-purged"
            ),
            Self::UserDeleteScheduled | Self::UserDeactivated => concat!(
                "https://schemas.openid.net/secevent/risc/event-type",
                "/account-disabled"
            ),
            Self::UserDeleteCancelled | Self::UserReactivated => concat!(
                "https://schemas.openid.net/secevent/risc/event-type",
                "/account-enabled"
            ),
            Self::SessionDelete => concat!(
                "https://schemas.openid.net/secevent/caep/event-type",
                "/session-revoked"
            ),
            Self::SsfVerification => {
                "https://schemas.openid.net/secevent/ssf/event-type/verification"
            }
        })
    }

    /// The SET type of a kind that has one, for constants (a kind without one fails the build).
    pub const fn set_type(self) -> &'static str {
        match self.set_event_type() {
            Some(t) => t,
            None => panic!("this event has no SET type"),
        }
    }

    /// The payload field that names the user the event is about (`None`: a stream's own event).
    pub const fn user_field(self) -> Option<&'static str> {
        match self {
            Self::SessionDelete => Some("user_id"),
            Self::UserDelete
            | Self::UserDeleteScheduled
            | Self::UserDeleteCancelled
            | Self::UserDeactivated
            | Self::UserReactivated
            | Self::UserInactivityWarning => Some("id"),
            Self::SsfVerification => None,
        }
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
        for kind in EventKind::EVERY {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(EventKind::from_name("user"), None);
        assert!(!EventKind::ALL.contains(&EventKind::SsfVerification));
    }

    const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type";
    const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type";

    #[test]
    fn set_event_types_are_risc_caep_or_ssf() {
        for kind in EventKind::EVERY {
            let Some(t) = kind.set_event_type() else {
                assert_eq!(
                    kind,
                    EventKind::UserInactivityWarning,
                    "only the warning has none"
                );
                continue;
            };
            assert!(
                t.starts_with(RISC) || t.starts_with(CAEP) || t.contains("/ssf/"),
                "{t}"
            );
        }
        assert_eq!(
            EventKind::UserDeleteCancelled.set_event_type(),
            Some(format!("{RISC}/account-enabled").as_str())
        );
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
