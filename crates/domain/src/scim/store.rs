//! What SCIM needs of the database (`persistence` implements it): the providers' clients, and
//! users as SCIM sees them, each change in one transaction with its audit entry and events.

use super::user::{ScimUser, UserInput};
use crate::audit::AuditLogConfig;
use crate::events::Recipients;
use crate::ids::UserId;
use crate::model::RequestContext;
use crate::ports::StoreError;
use chrono::{DateTime, Utc};

/// An identity provider's client, known by the hash of its bearer token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimClient {
    pub id: uuid::Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Who receives the events a SCIM change may write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScimRecipients {
    pub deactivated: Recipients,
    pub reactivated: Recipients,
    /// Each session a deactivation ends (relying parties hear of it: back-channel logout).
    pub session_deleted: Recipients,
}

/// A change made over SCIM: by which client, in which request, audited how, announced to whom.
#[derive(Clone, Copy, Debug)]
pub struct ScimChange<'a> {
    pub client: &'a ScimClient,
    pub context: &'a RequestContext,
    pub audit: &'a AuditLogConfig,
    pub recipients: &'a ScimRecipients,
    pub at: DateTime<Utc>,
}

/// What a write did to the user's activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Unchanged,
    /// `active` went false: `sessions` sessions ended with it.
    Deactivated {
        sessions: usize,
    },
    Reactivated,
}

/// The outcome of creating or replacing a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    Done(ScimUser, Activity),
    /// No such user (or one whose deletion is under way).
    NotFound,
    /// `If-Match` named another version than the stored one.
    Stale,
    /// Another user has this `userName` (compared without case).
    UserNameTaken,
    /// Another user has one of these addresses.
    AddressTaken,
}

/// How a store may narrow a listing before the filter is evaluated on what it returns: an
/// equality every match must satisfy, looked up by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// `userName eq`, compared without case.
    UserName(String),
    /// `externalId eq`, exact.
    ExternalId(String),
    /// `emails.value eq`, compared without case.
    Email(String),
    /// `id eq`.
    Id(UserId),
}

pub trait ScimStore: Send + Sync {
    /// A new client, its token stored as `token_hash`; audited.
    fn create_scim_client(
        &self,
        name: &str,
        token_hash: &str,
        context: &RequestContext,
        audit: &AuditLogConfig,
        at: DateTime<Utc>,
    ) -> Result<ScimClient, StoreError>;

    fn list_scim_clients(&self) -> Result<Vec<ScimClient>, StoreError>;

    /// Revokes a client; false if there was none. Audited.
    fn delete_scim_client(
        &self,
        id: uuid::Uuid,
        context: &RequestContext,
        audit: &AuditLogConfig,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The client whose token hashes to `token_hash`, with the stored hash (for the caller
    /// to compare in constant time).
    fn scim_client_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ScimClient, String)>, StoreError>;

    /// A new user; audited `user_created`, with `user.deactivated` if created inactive.
    fn create_scim_user(
        &self,
        input: &UserInput,
        change: &ScimChange<'_>,
    ) -> Result<Written, StoreError>;

    /// A user as SCIM sees it: `None` when there is none or their deletion is under way.
    fn scim_user(&self, id: UserId) -> Result<Option<ScimUser>, StoreError>;

    /// Every user `lookup` allows (all without one), oldest first; deletions under way left out.
    fn scim_users(&self, lookup: Option<&Lookup>) -> Result<Vec<ScimUser>, StoreError>;

    /// Replaces what SCIM keeps of a user with `input`, if its version is still `if_match`
    /// (when given). `active` going false ends every session (a `session.delete` each) and
    /// writes `user.deactivated`; going true writes `user.reactivated`. Audited `user_updated`.
    fn replace_scim_user(
        &self,
        id: UserId,
        input: &UserInput,
        if_match: Option<&str>,
        change: &ScimChange<'_>,
    ) -> Result<Written, StoreError>;
}
