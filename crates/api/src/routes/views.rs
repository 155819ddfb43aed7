//! How records look on the wire, shared by the public and admin handlers.

use chrono::{DateTime, Utc};
use domain::ids::{AuditLogId, EmailId, EventId, SessionId, UserId};
use domain::model::{AuditLog, Delivery, Session, User};
use serde::Serialize;
use utoipa::ToSchema;

/// A user as operators see it (the admin API): the deletion state with its legal hold.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    /// The primary address, if any.
    pub email: Option<String>,
    pub emails: Vec<EmailView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `null`, or the scheduled deletion and the legal hold.
    pub deletion: Option<DeletionView>,
    /// SCIM's `userName`, when a provider set one (docs/scim.md).
    pub username: Option<String>,
    /// The provider's id of the user (SCIM `externalId`).
    pub external_id: Option<String>,
    /// When a provider deactivated the user (`null`: active).
    pub deactivated_at: Option<DateTime<Utc>>,
    /// The latest of creation, a session created or used, a reactivation (docs/retention.md).
    pub last_active_at: DateTime<Utc>,
    /// When the inactivity policy warned the user (`null`: not warned, or withdrawn).
    pub inactivity_warned_at: Option<DateTime<Utc>>,
}

/// A user's deletion state, when there is one, as operators see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Deletion)]
pub struct DeletionView {
    pub scheduled_at: Option<DateTime<Utc>>,
    pub purge_after: Option<DateTime<Utc>>,
    pub hold: bool,
    pub hold_reason: Option<String>,
}

/// One address of a user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Email)]
pub struct EmailView {
    #[schema(value_type = uuid::Uuid)]
    pub id: EmailId,
    pub address: String,
    pub is_verified: bool,
    pub is_primary: bool,
}

/// A user as they see themselves (the public API): a legal hold is never shown to the person
/// it concerns (docs/api.md), so the deletion state is only the scheduled deletion, if any.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct PublicUserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    /// The primary address, if any.
    pub email: Option<String>,
    pub emails: Vec<EmailView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `null`, or when the deletion was scheduled and when the account will be purged.
    pub deletion: Option<ScheduledDeletionView>,
}

/// A scheduled deletion, as the user it concerns sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Deletion)]
pub struct ScheduledDeletionView {
    pub scheduled_at: DateTime<Utc>,
    pub purge_after: DateTime<Utc>,
}

fn emails_view(user: &User) -> Vec<EmailView> {
    user.emails
        .iter()
        .map(|e| EmailView {
            id: e.id,
            address: e.address.clone(),
            is_verified: e.is_verified,
            is_primary: e.is_primary,
        })
        .collect()
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.primary_email().map(|e| e.address.clone()),
            emails: emails_view(user),
            created_at: user.created_at,
            updated_at: user.updated_at,
            deletion: deletion_view(user),
            username: user.provisioning.username.clone(),
            external_id: user.provisioning.external_id.clone(),
            deactivated_at: user.provisioning.deactivated_at,
            last_active_at: user.activity.last_active_at,
            inactivity_warned_at: user.activity.inactivity_warned_at,
        }
    }
}

impl From<&User> for PublicUserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.primary_email().map(|e| e.address.clone()),
            emails: emails_view(user),
            created_at: user.created_at,
            updated_at: user.updated_at,
            deletion: user.deletion.scheduled.map(|s| ScheduledDeletionView {
                scheduled_at: s.scheduled_at,
                purge_after: s.purge_after,
            }),
        }
    }
}

fn deletion_view(user: &User) -> Option<DeletionView> {
    let d = &user.deletion;
    if d.scheduled.is_none() && d.hold.is_none() {
        return None;
    }
    Some(DeletionView {
        scheduled_at: d.scheduled.map(|s| s.scheduled_at),
        purge_after: d.scheduled.map(|s| s.purge_after),
        hold: d.hold.is_some(),
        hold_reason: d.hold.as_ref().and_then(|h| h.reason.clone()),
    })
}

/// A session as a user's export and the admin API show it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionView {
    #[schema(value_type = uuid::Uuid)]
    pub id: SessionId,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used: DateTime<Utc>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id,
            user_agent: s.user_agent.clone(),
            ip_address: s.ip_address.clone(),
            created_at: s.created_at,
            expires_at: s.expires_at,
            last_used: s.last_used,
        }
    }
}

/// Everything the service holds about one user (GDPR Art. 15/20), as operators see it: the
/// user, their sessions, every audit entry about them (newest first), and when this was taken.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Export)]
pub struct ExportView {
    pub user: UserView,
    pub sessions: Vec<SessionView>,
    pub audit_logs: Vec<AuditLogView>,
    pub exported_at: DateTime<Utc>,
}

/// The user's own export (`GET /user/export`): their data, their own actions (newest first) and
/// their deletion state; nothing of legal holds or of what operators did (docs/api.md).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Export)]
pub struct PublicExportView {
    pub user: PublicUserView,
    pub sessions: Vec<SessionView>,
    /// The entries of the user's own actions (`details.by` is `user`).
    pub audit_logs: Vec<AuditLogView>,
    pub exported_at: DateTime<Utc>,
}

/// An audit log entry.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditLog)]
pub struct AuditLogView {
    #[schema(value_type = uuid::Uuid)]
    pub id: AuditLogId,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub actor_user_id: Option<UserId>,
    pub actor_email: Option<String>,
    pub meta_http_request_id: Option<String>,
    pub meta_source_ip: Option<String>,
    pub meta_user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<&AuditLog> for AuditLogView {
    fn from(a: &AuditLog) -> Self {
        Self {
            id: a.id,
            kind: a.kind.clone(),
            actor_user_id: a.actor_user_id,
            actor_email: a.actor_email.clone(),
            meta_http_request_id: a.meta_http_request_id.clone(),
            meta_source_ip: a.meta_source_ip.clone(),
            meta_user_agent: a.meta_user_agent.clone(),
            details: a.details.clone(),
            created_at: a.created_at,
        }
    }
}

/// One delivery of one event to one hook, as operators see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Delivery)]
pub struct DeliveryView {
    #[schema(value_type = uuid::Uuid)]
    pub event_id: EventId,
    pub event: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// The hook's key: its name, or its URL without user-info or query string.
    pub hook: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub dead: bool,
    pub last_error: Option<String>,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            event_id: d.event.id,
            event: d.event.event.clone(),
            payload: d.event.payload.clone(),
            created_at: d.event.created_at,
            hook: d.hook.clone(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            dead: d.dead,
            last_error: d.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::model::{DeletionState, LegalHold, ScheduledDeletion};

    /// A held user whose own request scheduled their deletion: operators see the hold and the
    /// request; the user's own view shows the scheduled deletion only (docs/api.md).
    #[test]
    fn the_public_view_of_a_held_scheduled_user_shows_the_schedule_only() {
        let now = Utc::now();
        let user = User {
            id: UserId::new_random(),
            emails: Vec::new(),
            created_at: now,
            updated_at: now,
            deletion: DeletionState {
                scheduled: Some(ScheduledDeletion {
                    scheduled_at: now,
                    purge_after: now,
                }),
                hold: Some(LegalHold {
                    reason: Some("litigation".into()),
                }),
            },
            provisioning: Default::default(),
            activity: domain::model::Activity {
                last_active_at: now,
                inactivity_warned_at: None,
            },
        };
        let public =
            serde_json::to_value(PublicUserView::from(&user)).unwrap_or_else(|e| panic!("{e}"));
        let deletion = public["deletion"]
            .as_object()
            .unwrap_or_else(|| panic!("a deletion: {public}"));
        let mut keys: Vec<&str> = deletion.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["purge_after", "scheduled_at"], "{public}");
        assert!(!public.to_string().contains("litigation"), "{public}");
        let operator =
            serde_json::to_value(UserView::from(&user)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(operator["deletion"]["hold"], true, "{operator}");
        assert_eq!(operator["deletion"]["hold_reason"], "litigation");
        assert!(operator["deletion"]["purge_after"].is_string());
    }
}
