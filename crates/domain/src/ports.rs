//! The ports: what the service needs from storage, as traits. `persistence` implements them;
//! `api` and `jwks` call them. They are blocking (Diesel is), and async callers run them on a
//! blocking thread pool; but for [`Deleter`], which is async and picks its threads itself.

use crate::audit::AuditLogConfig;
use crate::events::{Recipients, SessionEndReason};
use crate::ids::{EventId, SessionId, UserId};
use crate::model::{
    AuditLog, Delivery, Email, LegalHold, NewEmail, NewSession, OutboxEvent, RequestContext,
    Session, StoredKey, User, UserStatus,
};
use crate::retention::{Cutoffs, RetentionPolicy, RetentionPreview};
use crate::ssf::{
    DefaultSubjects, PushAuthorization, Receiver, Resealed, Stream, StreamConfig, StreamStatus,
    Subject,
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

/// The cause of the `Conflict` a session request gets for a user who may have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionRefused {
    #[error("the user's deletion is scheduled")]
    DeletionScheduled,
    /// Deactivated by their identity provider (SCIM `active: false`).
    #[error("the user is deactivated")]
    Deactivated,
}

/// Who asked for a deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletedBy {
    /// The user themself, through `DELETE /user`, holding these sessions (the request's
    /// candidate tokens, all of this user, in order): the first that is still live when the
    /// transaction runs speaks for the request, and, when re-authentication is required, must
    /// have been created at or after `created_after` (RFC 9470 step-up).
    User {
        sessions: Vec<SessionId>,
        created_after: Option<DateTime<Utc>>,
    },
    /// An operator, through the admin API.
    Admin,
    /// The purge worker, when a scheduled deletion's grace period ended.
    Purge,
    /// The inactivity policy (`account.retention`), after its warning.
    Retention,
    /// An identity provider's SCIM client (`DELETE /scim/v2/Users/{id}`).
    Scim {
        client_id: uuid::Uuid,
        client_name: String,
    },
}

impl DeletedBy {
    /// The `by` recorded in the audit log's details.
    pub fn label(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::Admin => "admin",
            Self::Purge => "purge",
            Self::Retention => "retention",
            Self::Scim { .. } => "scim",
        }
    }

    /// The audit entry's details: `by`, and the SCIM client when it was one.
    pub fn details(&self) -> serde_json::Value {
        match self {
            Self::Scim {
                client_id,
                client_name,
            } => serde_json::json!({
                "by": self.label(),
                "scim_client": { "id": client_id, "name": client_name },
            }),
            _ => serde_json::json!({ "by": self.label() }),
        }
    }

    /// Whether a legal hold makes this asker's deletion a scheduled one instead of a refusal:
    /// the user's own and a provider's (neither is told of holds); an operator meets the hold.
    pub fn scheduled_under_hold(&self) -> bool {
        matches!(self, Self::User { .. } | Self::Scim { .. })
    }
}

/// Everything a deletion needs to know.
#[derive(Clone, Debug)]
pub struct Deletion {
    pub user_id: UserId,
    pub by: DeletedBy,
    /// A user's own deletion with a grace period: schedule it instead (the user marked, every
    /// session removed, `user_deletion_scheduled`, `user.delete.scheduled`), to be purged after
    /// this time unless an operator restores the account. `None`: delete at once; but a user's
    /// own request under legal hold is scheduled all the same, to be purged now, that is once
    /// the hold is released (the hold is never revealed to the user).
    pub purge_after: Option<DateTime<Utc>>,
    pub context: RequestContext,
    pub audit: AuditLogConfig,
    pub at: DateTime<Utc>,
    /// The hooks each event the deletion may write goes to (none: the event is written with
    /// nothing left to deliver).
    pub recipients: DeletionRecipients,
}

/// Who hears of a deletion: the hooks of `user.delete` and those of `user.delete.scheduled`
/// (which of the two a deletion writes is decided under the user's lock).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeletionRecipients {
    pub deleted: Recipients,
    pub scheduled: Recipients,
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

/// How a deletion request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletionOutcome {
    Deleted(DeletedUser),
    /// Scheduled ([`Deletion::purge_after`]): purged later unless restored.
    Scheduled(ScheduledUser),
    /// The user was already gone (a concurrent deletion won).
    Gone,
    /// [`DeletedBy::User`]: no session is a live session of the user (logged out, expired,
    /// deleted).
    NoSession,
    /// [`DeletedBy::User`]: the session is live but older than re-authentication allows.
    ReauthenticationRequired,
    /// An operator's deletion (or the purge's) met a legal hold: nothing was deleted. A
    /// user's own request never gets this: it is scheduled instead.
    Held,
}

/// The payload of `user.delete.scheduled`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScheduledUser {
    pub id: UserId,
    pub emails: Vec<Email>,
    #[serde(serialize_with = "crate::time::micros")]
    pub purge_after: DateTime<Utc>,
}

/// An operator's change to a user's deletion state: cancel a scheduled deletion, or set or
/// release a legal hold. Audited and (for a cancellation) announced in its transaction.
#[derive(Clone, Debug)]
pub struct DeletionChange {
    pub user_id: UserId,
    pub change: DeletionChangeKind,
    pub context: RequestContext,
    pub audit: AuditLogConfig,
    /// The hooks `user.delete.cancelled` goes to (a restoration only).
    pub recipients: Recipients,
    pub at: DateTime<Utc>,
}

/// What an operator changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletionChangeKind {
    /// Cancel the scheduled deletion: the user is back as before.
    Restore,
    /// Set (`Some(reason)`) or release (`None`) the legal hold.
    Hold(Option<LegalHold>),
}

/// How an operator's change ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    Changed(User),
    NotFound,
    /// A restoration of a user with no deletion scheduled.
    NotScheduled,
}

/// One pass of the purge: the transaction of a deletion for one due, unheld user.
#[derive(Clone, Debug)]
pub struct Purge {
    pub audit: AuditLogConfig,
    pub recipients: Recipients,
    pub at: DateTime<Utc>,
}

/// The payload of the `user.delete` event: who was deleted, with which addresses, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeletedUser {
    pub id: UserId,
    pub emails: Vec<Email>,
    #[serde(serialize_with = "crate::time::micros")]
    pub deleted_at: DateTime<Utc>,
}

/// Deletes accounts. Every deletion goes through one implementation of this: the user's own
/// (at once or scheduled), an operator's and the purge's. It picks its driver and threads
/// itself, and writes each rule (a live session, a fresh one, the hold, the masking) once per
/// backend, so every caller gets the same answers and the same rows.
pub trait Deleter {
    /// Deletes (or schedules) as `deletion` says.
    fn delete(
        &self,
        deletion: Deletion,
    ) -> impl std::future::Future<Output = Result<DeletionOutcome, StoreError>>;

    /// Purges the next user whose grace period has ended and who is not held, if any: the
    /// deletion of an operator, `by: purge`. Instances never purge the same user twice.
    fn purge_next(
        &self,
        purge: Purge,
    ) -> impl std::future::Future<Output = Result<Option<DeletedUser>, StoreError>>;

    /// Deletes (or, with a grace period, schedules) up to `batch.limit` users the inactivity
    /// policy has warned and whose time has come, `by: retention`, in one transaction; a user
    /// another instance holds is skipped, a held one never selected.
    fn delete_inactive(
        &self,
        batch: InactiveDeletions,
    ) -> impl std::future::Future<Output = Result<Vec<DeletionOutcome>, StoreError>>;
}

/// One batch of the inactivity policy's deletions (docs/retention.md).
#[derive(Clone, Debug)]
pub struct InactiveDeletions {
    pub cutoffs: Cutoffs,
    pub limit: u32,
    /// With a grace period: when the scheduled deletions are purged.
    pub purge_after: Option<DateTime<Utc>>,
    pub audit: AuditLogConfig,
    pub recipients: DeletionRecipients,
}

/// One batch of the inactivity policy's warnings.
#[derive(Clone, Debug)]
pub struct InactivityWarnings {
    pub policy: RetentionPolicy,
    pub cutoffs: Cutoffs,
    pub limit: u32,
    pub audit: AuditLogConfig,
    pub recipients: Recipients,
}

/// The inactivity policy's own storage: warnings, the fleet's pace, the preview.
pub trait RetentionStore: Send + Sync {
    /// Withdraws every warning that activity has overtaken; returns how many.
    fn withdraw_inactivity_warnings(&self) -> Result<u64, StoreError>;

    /// Reserves `share` of the fleet's time (one row every instance shares) for the next
    /// users this instance acts on; returns when it may start.
    fn reserve_retention_share(
        &self,
        share: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError>;

    /// Warns up to `warnings.limit` users that are due, oldest activity first, in one
    /// transaction: `user.inactivity_warning` and `user_inactivity_warned` each, remembered so
    /// that it is sent once; returns how many.
    fn warn_inactive_users(&self, warnings: &InactivityWarnings) -> Result<usize, StoreError>;

    /// What a pass with these cutoffs would do, changing nothing; `limit` users listed.
    fn retention_preview(
        &self,
        cutoffs: &Cutoffs,
        limit: usize,
    ) -> Result<RetentionPreview, StoreError>;
}

/// Users and their e-mail addresses.
pub trait AccountStore: Send + Sync {
    /// Creates a user with the given addresses. `Conflict` if an address is taken
    /// (compared case-insensitively).
    fn create_user(&self, emails: &[NewEmail], at: DateTime<Utc>) -> Result<User, StoreError>;

    /// The user with their addresses, if they exist.
    fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// One page of users (1-based), optionally those holding an address or in a state, and
    /// the total count.
    fn list_users(
        &self,
        page: u32,
        per_page: u32,
        email: Option<&str>,
        status: Option<UserStatus>,
    ) -> Result<(Vec<User>, u64), StoreError>;

    /// Restores a scheduled user or sets/releases a legal hold (see [`DeletionChange`]).
    fn change_deletion(&self, change: &DeletionChange) -> Result<ChangeOutcome, StoreError>;

    /// How many users are due for the purge at `now` (held ones excluded).
    fn purge_backlog(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Server-side sessions.
pub trait SessionStore: Send + Sync {
    /// Creates a session. `NotFound` if the user does not exist; `Conflict` (with
    /// [`SessionRefused`] as the cause) if their deletion is scheduled or they are deactivated.
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

    /// An operator ends every session of the user: each deleted with its `session.delete`
    /// event (`reason: admin`), audited (`user_sessions_revoked`), in one transaction. `None`
    /// if there is no such user; else how many sessions ended.
    fn end_all_sessions(
        &self,
        user_id: UserId,
        recipients: &Recipients,
        context: &RequestContext,
        audit: &AuditLogConfig,
        at: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError>;
}

/// The stored signing keys (encrypted).
pub trait KeyStore: Send + Sync {
    /// Every stored key, oldest first.
    fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Stores a new key. `Conflict` if its `kid` exists, or if another key already
    /// `succeeds` the same key (the database decides which instance's successor is stored).
    fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError>;

    /// Records when keys retire, `(kid, retired_at)`; returns how many rows changed.
    fn set_retirements(
        &self,
        keys: &[(String, Option<DateTime<Utc>>)],
    ) -> Result<usize, StoreError>;

    /// Rewrites the ciphertexts of these keys, `(kid, encrypted_key)`, in one transaction
    /// (re-encryption under another secret): every one or none. Returns how many keys were
    /// rewritten (a kid that no longer exists is skipped).
    fn replace_encrypted_keys(&self, keys: &[(String, String)]) -> Result<usize, StoreError>;

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

/// How many deliveries one claim may take, so that no destination takes more than its share
/// of a dispatcher's concurrency (a slow one delays no other).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimLimits {
    /// In all.
    pub total: u32,
    /// Of one destination (hook or stream) with nothing in hand.
    pub per_destination: u32,
    /// Destinations with deliveries in hand, and how many more each may take now (0: none).
    pub room: Vec<(String, u32)>,
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

    /// Claims deliveries due at `now`, within `limits`: each gets `attempts + 1` and is hidden
    /// from every other claimer until `lease_until`. Concurrent claimers (other instances)
    /// never receive the same delivery.
    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limits: &ClaimLimits,
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

    /// Records successful deliveries (event, hook, when), all in one transaction.
    fn mark_delivered(&self, done: &[(EventId, String, DateTime<Utc>)]) -> Result<(), StoreError>;

    /// Hands back claimed deliveries that were never attempted (a dispatcher stopping with them
    /// queued): due at `now`, their claim's attempt uncounted, in one transaction. Any recorded
    /// meanwhile is left as it is.
    fn release(&self, claimed: &[(EventId, String)], now: DateTime<Utc>) -> Result<(), StoreError>;

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

    /// Moves every delivery of the hook known as `from` to the key `to` (and the key in their
    /// `last_error`), in one transaction; returns how many. For a hook whose key changed.
    fn rename_hook(&self, from: &str, to: &str) -> Result<usize, StoreError>;

    /// Makes the dead deliveries (of this hook, of this event, when given) pending again,
    /// attempts 0 and due at `now`, audited (`webhook_deliveries_retried`) in the same
    /// transaction; returns how many.
    fn retry_dead(
        &self,
        hook: Option<&str>,
        event: Option<EventId>,
        context: &RequestContext,
        audit: &AuditLogConfig,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;
}

/// Who changes an SSF receiver or stream, for the audit log.
#[derive(Clone, Debug)]
pub struct SsfChange<'a> {
    pub context: &'a RequestContext,
    pub audit: &'a AuditLogConfig,
    pub at: DateTime<Utc>,
}

/// The Shared Signals transmitter's state (docs/events.md, "Shared Signals"): receivers, their streams
/// and subjects, and each stream's deliveries, which live beside the hooks' under the key
/// `ssf:<stream id>`. A stream is only ever reached through its receiver: another receiver's
/// stream is `None`, as if it did not exist. Every change is audited in its transaction.
pub trait SsfStore: Send + Sync {
    /// Stores a receiver known by the hash of its token.
    fn create_receiver(
        &self,
        name: &str,
        audience: &str,
        token_hash: &str,
        change: &SsfChange<'_>,
    ) -> Result<Receiver, StoreError>;

    fn list_receivers(&self) -> Result<Vec<Receiver>, StoreError>;

    /// Removes a receiver, its streams and their pending deliveries; false if unknown.
    fn delete_receiver(&self, id: uuid::Uuid, change: &SsfChange<'_>) -> Result<bool, StoreError>;

    /// The receiver whose token hashes to `token_hash`, with the hash as stored.
    fn receiver_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Receiver, String)>, StoreError>;

    /// A new enabled stream, unless the receiver has `max_streams` already. `Conflict` if the
    /// receiver already pushes to this endpoint.
    fn create_stream(
        &self,
        receiver: &Receiver,
        config: &StreamConfig,
        max_streams: u32,
        change: &SsfChange<'_>,
    ) -> Result<Result<Stream, crate::ssf::StreamQuotaReached>, StoreError>;

    /// The receiver's streams, oldest first.
    fn streams_of(&self, receiver: &Receiver) -> Result<Vec<Stream>, StoreError>;

    /// One of the receiver's streams.
    fn stream_of(&self, receiver: &Receiver, id: uuid::Uuid) -> Result<Option<Stream>, StoreError>;

    /// Replaces a stream's configuration. `Conflict` as [`SsfStore::create_stream`].
    fn update_stream(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        config: &StreamConfig,
        change: &SsfChange<'_>,
    ) -> Result<Option<Stream>, StoreError>;

    /// Removes a stream and its pending deliveries; false if not the receiver's.
    fn delete_stream(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        change: &SsfChange<'_>,
    ) -> Result<bool, StoreError>;

    /// Sets the status: paused keeps pending deliveries parked, disabled drops them, enabled
    /// makes them due now.
    fn set_stream_status(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        status: StreamStatus,
        reason: Option<&str>,
        change: &SsfChange<'_>,
    ) -> Result<Option<Stream>, StoreError>;

    /// Adds (`true`) or removes (`false`) a subject; `None` if the stream is not the receiver's.
    fn change_subject(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        subject: &Subject,
        add: bool,
        change: &SsfChange<'_>,
    ) -> Result<Option<()>, StoreError>;

    /// Writes a verification event for the stream alone, unless the last one was requested
    /// less than `min_interval` before `at`.
    fn request_verification(
        &self,
        receiver: &Receiver,
        id: uuid::Uuid,
        state: Option<&str>,
        at: DateTime<Utc>,
        min_interval: chrono::Duration,
    ) -> Result<crate::ssf::Verification, StoreError>;

    /// Replaces the event's [`crate::ssf::ALL_STREAMS`] delivery by one per stream that wants
    /// it (not disabled, carrying its type, and, with `DefaultSubjects::None`, with one of its
    /// subjects), in one transaction. Push streams' deliveries are due now if enabled; the
    /// others' are parked (paused streams, and polled ones, which the dispatcher never sends).
    fn fan_out_to_streams(
        &self,
        event: EventId,
        default_subjects: DefaultSubjects,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    /// A stream and its receiver, by id alone (for the dispatcher).
    fn stream_for_delivery(&self, id: uuid::Uuid)
        -> Result<Option<(Stream, Receiver)>, StoreError>;

    /// Every push stream's stored `authorization_header`, by stream id (for re-sealing).
    fn push_authorizations(&self) -> Result<Vec<(uuid::Uuid, PushAuthorization)>, StoreError>;

    /// Stores re-sealed headers in one transaction, each only where the stream still holds
    /// the header it replaces (a stream deleted or changed meanwhile is left as it is);
    /// returns how many were written.
    fn replace_push_authorizations(&self, resealed: &[Resealed]) -> Result<usize, StoreError>;

    /// Parks a delivery the dispatcher claimed but may not send now (a paused or polled
    /// stream): not due until the stream is enabled again, the claim's attempt undone.
    fn park_delivery(&self, event: EventId, key: &str) -> Result<(), StoreError>;

    /// Makes the parked deliveries of enabled push streams due (after a resume that raced a
    /// fan-out); returns how many.
    fn unpark_enabled(&self, now: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Poll delivery (RFC 8936): records `acks` as delivered and `errors` as dead, then returns
    /// up to `max` pending events of the stream, oldest first, and whether more are pending.
    fn poll(
        &self,
        stream: &Stream,
        acks: &[EventId],
        errors: &[(EventId, String)],
        max: u32,
        now: DateTime<Utc>,
    ) -> Result<(Vec<OutboxEvent>, bool), StoreError>;
}
