//! How records look on the wire, shared by the public and admin handlers.

use chrono::{DateTime, Utc};
use domain::ids::{EmailId, UserId};
use domain::model::User;
use serde::Serialize;

/// A user as the API shows it (public and admin alike).
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: UserId,
    /// The primary address, if any.
    pub email: Option<String>,
    pub emails: Vec<EmailView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One address of a user.
#[derive(Debug, Serialize)]
pub struct EmailView {
    pub id: EmailId,
    pub address: String,
    pub is_verified: bool,
    pub is_primary: bool,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.primary_email().map(|e| e.address.clone()),
            emails: user
                .emails
                .iter()
                .map(|e| EmailView {
                    id: e.id,
                    address: e.address.clone(),
                    is_verified: e.is_verified,
                    is_primary: e.is_primary,
                })
                .collect(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}
