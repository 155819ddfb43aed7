//! How records look on the wire, shared by the public and admin handlers.

use chrono::{DateTime, Utc};
use domain::ids::{EmailId, EventId, UserId};
use domain::model::{Delivery, User};
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

/// One delivery of one event to one hook, as operators see it.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub event_id: EventId,
    pub event: String,
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
