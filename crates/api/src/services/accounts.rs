//! Users: create, read, delete (the user's own request, an operator's, the purge), change a
//! deletion (restore, legal hold) and export.

use super::{ServiceError, Services};
use chrono::Utc;
use domain::email::{validate_new_emails, EmailsRefused};
use domain::events::EventKind;
use domain::ids::{SessionId, UserId};
use domain::model::{AuditLog, NewEmail, RequestContext, Session, User, UserStatus};
use domain::ports::{
    AccountStore, AuditLogFilter, AuditLogStore, ChangeOutcome, DeletedBy, DeletedUser, Deleter,
    Deletion, DeletionChange, DeletionChangeKind, DeletionOutcome, DeletionRecipients, Purge,
    SessionStore,
};
use persistence::OffloadError;

/// Audit entries read per query while exporting.
const EXPORT_PAGE: u32 = 1000;

/// A user's own deletion request (`DELETE /user`).
pub struct OwnDeletion {
    pub user_id: UserId,
    /// The request's candidate sessions, in order; the first live one speaks.
    pub sessions: Vec<SessionId>,
    pub context: RequestContext,
}

/// How a user's own deletion request ended.
#[derive(Debug, PartialEq, Eq)]
pub enum OwnDeletionOutcome {
    /// Deleted at once, or scheduled (by a grace period, or, never said to the user, because a
    /// legal hold keeps the account until it is released): the same answer to the user.
    Accepted,
    /// No session of the request is live (logged out, expired, or a concurrent deletion won).
    NoSession,
    /// The session is older than `account.deletion.max_session_age` (seconds) allows.
    ReauthenticationRequired { max_age: u64 },
}

/// How an operator's deletion ended.
#[derive(Debug, PartialEq, Eq)]
pub enum OperatorDeletionOutcome {
    Deleted,
    NotFound,
    Held,
}

/// What the service holds about one user.
pub struct Export {
    pub user: User,
    pub sessions: Vec<Session>,
    /// Every audit entry whose actor is the user, newest first.
    pub audit_logs: Vec<AuditLog>,
}

impl Services {
    /// Creates a user with `emails` (validated here: an address each, one primary at most, no
    /// duplicate; a taken address is the store's `Conflict`).
    pub async fn create_user(
        &self,
        emails: Vec<NewEmail>,
    ) -> Result<Result<User, EmailsRefused>, ServiceError> {
        if let Err(refused) = validate_new_emails(&emails) {
            return Ok(Err(refused));
        }
        let db = self.db.clone();
        let user = self
            .offload
            .run("creating user", move || db.create_user(&emails, Utc::now()))
            .await?;
        Ok(Ok(user))
    }

    pub async fn find_user(&self, id: UserId) -> Result<Option<User>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("loading user", move || db.find_user(id))
            .await?)
    }

    /// One page of users (and how many match on every page).
    pub async fn list_users(
        &self,
        page: u32,
        per_page: u32,
        email: Option<String>,
        status: Option<UserStatus>,
    ) -> Result<(Vec<User>, u64), ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("listing users", move || {
                db.list_users(page, per_page, email.as_deref(), status)
            })
            .await?)
    }

    /// `DELETE /user`: deletes the user at once, or with `account.deletion.grace_period`
    /// schedules the deletion (every session ends at once either way). One of the request's
    /// sessions must be live, and fresh enough when re-authentication is required; the
    /// deletion checks it while it holds the user's lock.
    pub async fn delete_own_account(
        &self,
        request: OwnDeletion,
    ) -> Result<OwnDeletionOutcome, ServiceError> {
        let account = &self.config.account;
        let now = Utc::now();
        let grace = account.deletion.grace_period;
        let deletion = Deletion {
            user_id: request.user_id,
            by: DeletedBy::User {
                sessions: request.sessions,
                created_after: account.oldest_session_allowed(now),
            },
            purge_after: grace.map(|g| now + g.chrono()),
            context: request.context,
            audit: self.config.audit_log.clone(),
            recipients: self.deletion_recipients(),
            at: now,
        };
        let outcome = self.delete(deletion).await?;
        Ok(match outcome {
            DeletionOutcome::Deleted(deleted) => {
                log::info!("user {} deleted", deleted.id);
                self.metrics.user_deleted(false);
                self.events.committed(EventKind::UserDelete);
                OwnDeletionOutcome::Accepted
            }
            DeletionOutcome::Scheduled(scheduled) => {
                log::info!(
                    "user {} scheduled for deletion after {}",
                    scheduled.id,
                    scheduled.purge_after
                );
                self.metrics.deletion_scheduled();
                self.events.committed(EventKind::UserDeleteScheduled);
                OwnDeletionOutcome::Accepted
            }
            // Only an operator's deletion meets a hold; a user's own is scheduled instead.
            DeletionOutcome::Held => {
                return Err(ServiceError::internal(
                    "deleting user",
                    "a user's own deletion was refused by a legal hold",
                ))
            }
            DeletionOutcome::NoSession => {
                self.metrics.token_rejected("session");
                OwnDeletionOutcome::NoSession
            }
            // A concurrent deletion (or logout) won: the token no longer stands for anyone.
            DeletionOutcome::Gone => OwnDeletionOutcome::NoSession,
            DeletionOutcome::ReauthenticationRequired => {
                OwnDeletionOutcome::ReauthenticationRequired {
                    max_age: account
                        .deletion
                        .max_session_age
                        .map_or(0, |age| age.as_secs()),
                }
            }
        })
    }

    /// An operator's deletion: at once, whatever the grace period; refused under legal hold.
    pub async fn delete_by_operator(
        &self,
        user_id: UserId,
        context: RequestContext,
    ) -> Result<OperatorDeletionOutcome, ServiceError> {
        let deletion = Deletion {
            user_id,
            by: DeletedBy::Admin,
            purge_after: None,
            context,
            audit: self.config.audit_log.clone(),
            recipients: self.deletion_recipients(),
            at: Utc::now(),
        };
        Ok(match self.delete(deletion).await? {
            DeletionOutcome::Deleted(deleted) => {
                log::info!("user {} deleted by an operator", deleted.id);
                self.metrics.user_deleted(true);
                self.events.committed(EventKind::UserDelete);
                OperatorDeletionOutcome::Deleted
            }
            DeletionOutcome::Held => OperatorDeletionOutcome::Held,
            // The session outcomes only answer a user's own deletion (an operator names no
            // session), and only a user's own deletion is ever scheduled.
            DeletionOutcome::Gone
            | DeletionOutcome::NoSession
            | DeletionOutcome::ReauthenticationRequired
            | DeletionOutcome::Scheduled(_) => OperatorDeletionOutcome::NotFound,
        })
    }

    /// Purges the next user whose grace period has ended and who is not held, if any.
    pub async fn purge_next(&self) -> Result<Option<DeletedUser>, ServiceError> {
        let purge = Purge {
            audit: self.config.audit_log.clone(),
            recipients: self.events.recipients(EventKind::UserDelete),
            at: Utc::now(),
        };
        let purged =
            self.deletions()
                .purge_next(purge)
                .await
                .map_err(|source| OffloadError::Store {
                    context: "purging",
                    source,
                })?;
        if let Some(deleted) = &purged {
            log::info!("user {} purged after their grace period", deleted.id);
            self.metrics.user_purged();
            self.events.committed(EventKind::UserDelete);
        }
        Ok(purged)
    }

    /// Cancels a scheduled deletion, or sets or releases a legal hold.
    pub async fn change_deletion(
        &self,
        user_id: UserId,
        change: DeletionChangeKind,
        context: RequestContext,
    ) -> Result<ChangeOutcome, ServiceError> {
        let restoring = change == DeletionChangeKind::Restore;
        let change = DeletionChange {
            user_id,
            change,
            context,
            audit: self.config.audit_log.clone(),
            recipients: self.events.recipients(EventKind::UserDeleteCancelled),
            at: Utc::now(),
        };
        let db = self.db.clone();
        let outcome = self
            .offload
            .run("changing a deletion", move || db.change_deletion(&change))
            .await?;
        if restoring && matches!(outcome, ChangeOutcome::Changed(_)) {
            self.events.committed(EventKind::UserDeleteCancelled);
        }
        Ok(outcome)
    }

    /// Everything held about a user (GDPR Art. 15/20), read at once; `None` if there is no
    /// such user.
    pub async fn export(&self, user_id: UserId) -> Result<Option<Export>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("exporting a user", move || {
                let Some(user) = db.find_user(user_id)? else {
                    return Ok(None);
                };
                let sessions = db.list_sessions(user_id)?;
                let mut audit_logs = Vec::new();
                for page in 1.. {
                    let batch = db.list_audit_logs(&AuditLogFilter {
                        kind: None,
                        actor_user_id: Some(user_id),
                        page,
                        per_page: EXPORT_PAGE,
                    })?;
                    let last = batch.len() < EXPORT_PAGE as usize;
                    audit_logs.extend(batch);
                    if last {
                        break;
                    }
                }
                Ok(Some(Export {
                    user,
                    sessions,
                    audit_logs,
                }))
            })
            .await?)
    }

    /// Who hears of a deletion, whichever event it writes.
    pub(crate) fn deletion_recipients(&self) -> DeletionRecipients {
        DeletionRecipients {
            deleted: self.events.recipients(EventKind::UserDelete),
            scheduled: self.events.recipients(EventKind::UserDeleteScheduled),
        }
    }

    /// Every deletion goes through here, to the one entry point.
    async fn delete(&self, deletion: Deletion) -> Result<DeletionOutcome, ServiceError> {
        Ok(self
            .deletions()
            .delete(deletion)
            .await
            .map_err(|source| OffloadError::Store {
                context: "deleting user",
                source,
            })?)
    }
}
