//! Issuing a session: the session row and its token. Shared by `POST /sessions` (admin) and
//! `api jwt create`.

use domain::ids::{SessionId, UserId};
use domain::model::NewSession;
use domain::ports::{AccountStore, SessionStore, StoreError};
use jwks::{KeyError, KeyManager};
use persistence::Database;
use serde::Serialize;

/// A new session and the token that proves it.
#[derive(Debug, Serialize)]
pub struct IssuedSession {
    pub session_token: String,
    pub session_id: SessionId,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no such user")]
    UnknownUser,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Creates a session for `user_id` and signs its token. Blocking.
pub fn issue_session(
    db: &Database,
    keys: &KeyManager,
    user_id: UserId,
    user_agent: Option<String>,
    ip_address: Option<String>,
) -> Result<IssuedSession, IssueError> {
    let user = db.find_user(user_id)?.ok_or(IssueError::UnknownUser)?;
    let now = chrono::Utc::now();
    let new = NewSession {
        user_id,
        user_agent,
        ip_address,
        lifespan: keys.policy().lifespan.chrono(),
    };
    let session = db.create_session(&new, now).map_err(|e| match e {
        StoreError::NotFound => IssueError::UnknownUser,
        other => IssueError::Store(other),
    })?;
    let email = user.primary_email().map(|e| e.address.clone());
    let session_token = keys.sign_session(user_id, session.id, email, now, session.expires_at)?;
    Ok(IssuedSession {
        session_token,
        session_id: session.id,
        expires_at: session.expires_at,
    })
}
