//! The ports: what the service needs from storage, as traits. `persistence` implements them;
//! `api` and `jwks` call them. They are blocking (Diesel is); async callers run them on a
//! blocking thread pool.

use crate::audit::AuditLogConfig;
use crate::events::{Recipients, SessionEndReason};
use crate::ids::{EventId, SessionId, UserId};
use crate::model::{
    AuditLog, Delivery, Email, NewEmail, NewSession, RequestContext, Session, StoredKey, User,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The error a storage driver reported, kept whole so the chain reaches the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong in storage, sorted by what the caller should do about it. Each variant
/// keeps the driver's error as its `source`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had in time, or it broke: retry later (HTTP 500/503).
    #[error("database unavailable")]
    Unavailable(#[source] Cause),
    /// A uniqueness rule was broken (e.g. an e-mail address already taken).
    #[error("conflict with an existing row")]
    Conflict(#[source] Cause),
    /// A row this operation depends on does not exist.
    #[error("not found")]
    NotFound,
    /// Anything else the database reported.
    #[error("database error")]
    Database(#[source] Cause),
}

/// Who asked for a deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletedBy {
    /// The user themself, through `DELETE /user`, holding this session (which must still be
    /// live when the transaction runs).
    User { session: SessionId },
    /// An operator, through the admin API.
    Admin,
}

impl DeletedBy {
    /// The `by` recorded in the audit log's details.
    pub fn label(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::Admin => "admin",
        }
    }
}

/// Everything the deletion transaction needs to know.
#[derive(Clone, Debug)]
pub struct Deletion {
    pub user_id: UserId,
    pub by: DeletedBy,
    pub context: RequestContext,
    pub audit: AuditLogConfig,
    pub at: DateTime<Utc>,
    /// The hooks the `user.delete` event goes to (none: the event is written with nothing
    /// left to deliver).
    pub recipients: Recipients,
}

/// A session ending by request (logout, admin), announced as `session.delete`.
#[derive(Clone, Debug)]
pub struct SessionEnding {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub reason: SessionEndReason,
    pub recipients: Recipients,
    pub at: DateTime<Utc>,
}

/// The payload of the `user.delete` event: who was deleted, with which addresses, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeletedUser {
    pub id: UserId,
    pub emails: Vec<Email>,
    pub deleted_at: DateTime<Utc>,
}

/// Users and their e-mail addresses.
pub trait AccountStore: Send + Sync {
    /// Creates a user with the given addresses. `Conflict` if an address is taken
    /// (compared case-insensitively).
    fn create_user(&self, emails: &[NewEmail], at: DateTime<Utc>) -> Result<User, StoreError>;

    /// The user with their addresses, if they exist.
    fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// One page of users (1-based), optionally those holding an address, and the total count.
    fn list_users(
        &self,
        page: u32,
        per_page: u32,
        email: Option<&str>,
    ) -> Result<(Vec<User>, u64), StoreError>;

    /// Deletes the user and, by cascade, every row of theirs, and writes the audit log entry and
    /// the `user.delete` outbox event, all in one transaction. `Ok(None)` if the user was
    /// already gone (a concurrent deletion won) or, for [`DeletedBy::User`], the session no
    /// longer exists; on any error nothing changes.
    fn delete_user(&self, deletion: &Deletion) -> Result<Option<DeletedUser>, StoreError>;
}

/// Server-side sessions.
pub trait SessionStore: Send + Sync {
    /// Creates a session. `NotFound` if the user does not exist.
    fn create_session(&self, new: &NewSession, at: DateTime<Utc>) -> Result<Session, StoreError>;

    /// The session, if its row exists (expired or not: the caller decides).
    fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// The sessions among `ids` whose rows exist, in one query (any order).
    fn find_sessions(&self, ids: &[SessionId]) -> Result<Vec<Session>, StoreError>;

    /// Sets `last_used = at` on these sessions, except those already refreshed within
    /// `min_interval` (one statement for the whole batch).
    fn touch_sessions(
        &self,
        ids: &[SessionId],
        at: DateTime<Utc>,
        min_interval: chrono::Duration,
    ) -> Result<(), StoreError>;

    /// The user's sessions, newest first.
    fn list_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError>;

    /// Deletes one session of the user and writes its `session.delete` event, in one
    /// transaction; `false` (and no event) if there was no such session.
    fn end_session(&self, ending: &SessionEnding) -> Result<bool, StoreError>;
}

/// The stored signing keys (encrypted).
pub trait KeyStore: Send + Sync {
    /// Every stored key, oldest first.
    fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Stores a new key. `Conflict` if its `kid` exists.
    fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError>;

    /// Rewrites one key's ciphertext (re-encryption under another secret); `false` if no key
    /// has this kid.
    fn replace_encrypted_key(&self, kid: &str, encrypted_key: &str) -> Result<bool, StoreError>;

    /// Removes the keys with these ids; returns how many were removed.
    fn delete_keys(&self, kids: &[String]) -> Result<usize, StoreError>;
}

/// Filters for listing audit logs.
#[derive(Clone, Debug, Default)]
pub struct AuditLogFilter {
    pub kind: Option<String>,
    pub actor_user_id: Option<UserId>,
    pub page: u32,
    pub per_page: u32,
}

/// Which deliveries to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

/// The audit log, read side (entries are written by the changes they record).
pub trait AuditLogStore: Send + Sync {
    /// Audit log entries matching the filter, newest first.
    fn list_audit_logs(&self, filter: &AuditLogFilter) -> Result<Vec<AuditLog>, StoreError>;
}

/// Liveness of the store itself.
pub trait Health: Send + Sync {
    /// Succeeds when the database answers a trivial query.
    fn ping(&self) -> Result<(), StoreError>;
}

/// Backlog figures of one hook's deliveries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HookBacklog {
    pub hook: String,
    pub pending: u64,
    pub dead: u64,
}

/// One page of a listing and the total count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The webhook outbox: what the dispatcher claims and records, and what operators list.
/// Delivery state is per (event, hook).
pub trait Outbox: Send + Sync {
    /// Deliveries, optionally by status, oldest event first; pages are 1-based.
    fn list_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Delivery>, StoreError>;

    /// Claims up to `limit` deliveries due at `now`: each gets `attempts + 1` and is hidden
    /// from every other claimer until `lease_until`. Concurrent claimers (other instances)
    /// never receive the same delivery.
    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Replaces an event's [`Delivery::ALL_SUBSCRIBED`] delivery by one delivery per hook, due
    /// at `now` (none if no hook wants the event), in one transaction.
    fn fan_out(
        &self,
        event: EventId,
        hooks: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a successful delivery.
    fn mark_delivered(
        &self,
        event: EventId,
        hook: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a failed attempt: retry at `retry_at`, or mark dead when `None`.
    fn mark_failed(
        &self,
        event: EventId,
        hook: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Removes events created before `before` whose deliveries are all delivered or dead;
    /// returns how many.
    fn prune_outbox(&self, before: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Pending and dead deliveries per hook.
    fn backlog(&self) -> Result<Vec<HookBacklog>, StoreError>;
}
