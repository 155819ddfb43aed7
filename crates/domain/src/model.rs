//! The records the service keeps, as the rest of the code sees them.

use crate::ids::{AuditLogId, EmailId, EventId, SessionId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A user with their e-mail addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub emails: Vec<Email>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Scheduled deletion and legal hold, if any.
    pub deletion: DeletionState,
    /// What an identity provider keeps on the user over SCIM (docs/scim.md), if any.
    #[serde(default)]
    pub provisioning: Provisioning,
    /// When the user was last active, and whether the inactivity policy warned them.
    pub activity: Activity,
}

/// A user's activity as the inactivity policy (`account.retention`) reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The latest of: creation, a session created, a session used, a reactivation.
    pub last_active_at: DateTime<Utc>,
    /// When the inactivity warning went out (`None`: not warned, or withdrawn by activity).
    pub inactivity_warned_at: Option<DateTime<Utc>>,
}

/// A user as their identity provider sees them: `userName`, `externalId`, and whether it
/// deactivated them (no session lives or can be created then).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioning {
    pub username: Option<String>,
    pub external_id: Option<String>,
    pub deactivated_at: Option<DateTime<Utc>>,
}

/// Where a user stands on deletion: a deletion scheduled (grace period) and a legal hold are
/// independent; a held account is never purged nor deleted by an operator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionState {
    pub scheduled: Option<ScheduledDeletion>,
    pub hold: Option<LegalHold>,
}

/// A deletion asked for, to be carried out after `purge_after` unless cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledDeletion {
    pub scheduled_at: DateTime<Utc>,
    pub purge_after: DateTime<Utc>,
}

/// A legal hold: the account must not be deleted while it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    pub reason: Option<String>,
}

/// The filter of `GET /users?status=…`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// No deletion scheduled.
    Active,
    /// A deletion is scheduled (held or not).
    PendingDeletion,
    /// Under legal hold.
    Held,
}

impl User {
    /// The primary address, if the user has one.
    pub fn primary_email(&self) -> Option<&Email> {
        self.emails.iter().find(|e| e.is_primary)
    }
}

/// One e-mail address of a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub id: EmailId,
    pub address: String,
    pub is_verified: bool,
    pub is_primary: bool,
    #[serde(serialize_with = "crate::time::micros")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::micros")]
    pub updated_at: DateTime<Utc>,
}

/// An e-mail address to attach to a new user.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct NewEmail {
    pub address: String,
    pub is_primary: bool,
    pub is_verified: bool,
}

/// A server-side session. A token is only honoured while its session row lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used: DateTime<Utc>,
}

impl Session {
    /// Whether the session may still authenticate a request at `now`.
    pub fn is_live_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// Data for a session about to be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub user_id: UserId,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub lifespan: chrono::Duration,
}

/// Where a request came from, as recorded in audit logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RequestContext {
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An audit log entry as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditLog {
    pub id: AuditLogId,
    #[serde(rename = "type")]
    pub kind: String,
    pub actor_user_id: Option<UserId>,
    pub actor_email: Option<String>,
    pub meta_http_request_id: Option<String>,
    pub meta_source_ip: Option<String>,
    pub meta_user_agent: Option<String>,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl AuditLog {
    /// Whether the user it concerns did this themselves (`details.by` is `user`), as opposed to
    /// an operator or the purge. Only these are shown to the user (docs/api.md): what an operator
    /// did, and from where, may be confidential (a legal hold).
    pub fn is_own_action(&self) -> bool {
        self.details.get("by").and_then(serde_json::Value::as_str) == Some("user")
    }
}

/// An event in the webhook outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxEvent {
    pub id: EventId,
    pub event: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// The delivery of one event to one hook: its own attempts, schedule and outcome, so a failing
/// hook is retried alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub event: OutboxEvent,
    /// The hook's key; [`Delivery::ALL_SUBSCRIBED`] for an event written before deliveries
    /// were kept per hook, to be fanned out to the hooks subscribed now.
    pub hook: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub dead: bool,
}

impl Delivery {
    /// The hook key of a delivery that stands for every subscribed hook (see above).
    pub const ALL_SUBSCRIBED: &'static str = "*";
}

/// A signing key as stored: the private key is only ever held encrypted here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// base64url(salt ‖ nonce ‖ AES-256-GCM ciphertext) of the PKCS#8 DER private key, the
    /// AES key derived from a secret with HKDF-SHA256 (earlier versions: nonce ‖ ciphertext).
    pub encrypted_key: String,
    pub created_at: DateTime<Utc>,
    /// When it starts signing (its `not_before`); published from `created_at`.
    pub activates_at: DateTime<Utc>,
    /// When the next key takes over from it (it is published until its tokens have expired).
    pub retired_at: Option<DateTime<Utc>>,
    /// The key a scheduled rotation created this one to follow. Unique: however many instances
    /// try, one successor per key is stored.
    pub succeeds: Option<String>,
}
