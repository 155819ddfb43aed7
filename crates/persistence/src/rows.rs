//! Rows as Diesel reads and writes them, and their conversion to domain records.

use crate::schema::{
    audit_logs, emails, jwks, sessions, users, webhook_deliveries, webhook_outbox,
};
use crate::types::{Id, Json, Timestamp};
use diesel::prelude::*;
use domain::ids::{AuditLogId, EmailId, EventId, SessionId, UserId};
use domain::model::{AuditLog, Delivery, Email, OutboxEvent, Session, StoredKey};

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    pub id: Id,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deletion_scheduled_at: Option<Timestamp>,
    pub purge_after: Option<Timestamp>,
    pub hold: bool,
    pub hold_reason: Option<String>,
    pub username: Option<String>,
    pub external_id: Option<String>,
    pub deactivated_at: Option<Timestamp>,
    pub last_active_at: Timestamp,
    pub inactivity_warned_at: Option<Timestamp>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = emails)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct EmailRow {
    pub id: Id,
    pub user_id: Id,
    pub address: String,
    pub verified: bool,
    pub is_primary: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<EmailRow> for Email {
    fn from(r: EmailRow) -> Self {
        Email {
            id: EmailId(r.id.0),
            address: r.address,
            is_verified: r.verified,
            is_primary: r.is_primary,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sessions)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct SessionRow {
    pub id: Id,
    pub user_id: Id,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_used: Timestamp,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: SessionId(r.id.0),
            user_id: UserId(r.user_id.0),
            user_agent: r.user_agent,
            ip_address: r.ip_address,
            created_at: r.created_at.0,
            expires_at: r.expires_at.0,
            last_used: r.last_used.0,
        }
    }
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = audit_logs)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct AuditLogRow {
    pub id: Id,
    pub kind: String,
    pub actor_user_id: Option<Id>,
    pub actor_email: Option<String>,
    pub meta_http_request_id: Option<String>,
    pub meta_source_ip: Option<String>,
    pub meta_user_agent: Option<String>,
    pub details: Json,
    pub created_at: Timestamp,
}

impl From<AuditLogRow> for AuditLog {
    fn from(r: AuditLogRow) -> Self {
        AuditLog {
            id: AuditLogId(r.id.0),
            kind: r.kind,
            actor_user_id: r.actor_user_id.map(|i| UserId(i.0)),
            actor_email: r.actor_email,
            meta_http_request_id: r.meta_http_request_id,
            meta_source_ip: r.meta_source_ip,
            meta_user_agent: r.meta_user_agent,
            details: r.details.0,
            created_at: r.created_at.0,
        }
    }
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = jwks)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct KeyRow {
    pub id: Id,
    pub kid: String,
    pub alg: String,
    pub encrypted_key: String,
    pub created_at: Timestamp,
    pub activates_at: Timestamp,
    pub retired_at: Option<Timestamp>,
    pub succeeds: Option<String>,
}

impl From<KeyRow> for StoredKey {
    fn from(r: KeyRow) -> Self {
        StoredKey {
            kid: r.kid,
            alg: r.alg,
            encrypted_key: r.encrypted_key,
            created_at: r.created_at.0,
            activates_at: r.activates_at.0,
            retired_at: r.retired_at.map(|t| t.0),
            succeeds: r.succeeds,
        }
    }
}

#[derive(Queryable, QueryableByName, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = webhook_outbox)]
pub(crate) struct OutboxRow {
    pub id: Id,
    pub event: String,
    pub payload: Json,
    pub created_at: Timestamp,
}

impl From<OutboxRow> for OutboxEvent {
    fn from(r: OutboxRow) -> Self {
        OutboxEvent {
            id: EventId(r.id.0),
            event: r.event,
            payload: r.payload.0,
            created_at: r.created_at.0,
        }
    }
}

#[derive(Queryable, QueryableByName, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = webhook_deliveries)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct DeliveryRow {
    pub event_id: Id,
    pub hook: String,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub dead: bool,
}

impl DeliveryRow {
    /// The delivery, with its event.
    pub fn with_event(self, event: OutboxEvent) -> Delivery {
        Delivery {
            event,
            hook: self.hook,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.0,
            delivered_at: self.delivered_at.map(|t| t.0),
            last_error: self.last_error,
            dead: self.dead,
        }
    }
}
