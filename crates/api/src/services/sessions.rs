//! Sessions: issue one (with its token), list a user's, end one, end every one.

use super::{ServiceError, Services};
use crate::sessions::{issue_session, IssueError, IssuedSession};
use chrono::Utc;
use domain::events::{EventKind, SessionEndReason};
use domain::ids::{SessionId, UserId};
use domain::model::{RequestContext, Session};
use domain::ports::{AccountStore, SessionEnding, SessionStore};
use persistence::OffloadError;

/// There is no such user.
#[derive(Debug, PartialEq, Eq)]
pub struct NoSuchUser;

impl Services {
    /// A new session for `user_id` and its signed token. A user whose deletion is scheduled,
    /// or who is deactivated, gets none (the store's `Conflict`).
    pub async fn issue_session(
        &self,
        user_id: UserId,
        user_agent: Option<String>,
        ip_address: Option<String>,
    ) -> Result<Result<IssuedSession, NoSuchUser>, ServiceError> {
        let (db, keys) = (self.db.clone(), self.keys.clone());
        let issued = self
            .offload
            .call("issuing session", move || {
                issue_session(&db, &keys, user_id, user_agent, ip_address)
            })
            .await?;
        match issued {
            Ok(issued) => Ok(Ok(issued)),
            Err(IssueError::UnknownUser) => Ok(Err(NoSuchUser)),
            Err(IssueError::Store(source)) => Err(OffloadError::Store {
                context: "issuing session",
                source,
            }
            .into()),
            Err(IssueError::Key(e)) => Err(ServiceError::internal("signing a session token", e)),
        }
    }

    /// A user's sessions, newest first; `None` if there is no such user.
    pub async fn list_sessions(
        &self,
        user_id: UserId,
    ) -> Result<Option<Vec<Session>>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("listing sessions", move || {
                if db.find_user(user_id)?.is_none() {
                    return Ok(None);
                }
                db.list_sessions(user_id).map(Some)
            })
            .await?)
    }

    /// Ends one session of `user_id` (announced as `session.delete`); false if there was none.
    pub async fn end_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
        reason: SessionEndReason,
    ) -> Result<bool, ServiceError> {
        let ending = SessionEnding {
            user_id,
            session_id,
            reason,
            recipients: self.events.recipients(EventKind::SessionDelete),
            at: Utc::now(),
        };
        let db = self.db.clone();
        let ended = self
            .offload
            .run("ending session", move || db.end_session(&ending))
            .await?;
        if ended {
            self.events.committed(EventKind::SessionDelete);
        }
        Ok(ended)
    }

    /// Ends every session of `user_id` (each announced as `session.delete`, reason admin;
    /// audited as `user_sessions_revoked`): how many, or `None` if there is no such user.
    pub async fn end_every_session(
        &self,
        user_id: UserId,
        context: RequestContext,
    ) -> Result<Option<usize>, ServiceError> {
        let recipients = self.events.recipients(EventKind::SessionDelete);
        let (db, audit) = (self.db.clone(), self.config.audit_log.clone());
        let ended = self
            .offload
            .run("ending every session", move || {
                db.end_all_sessions(user_id, &recipients, &context, &audit, Utc::now())
            })
            .await?;
        if ended.is_some_and(|n| n > 0) {
            self.events.committed(EventKind::SessionDelete);
        }
        Ok(ended)
    }
}
