use crate::pool::{Database, DbConnection};
use crate::rows::{AuditLogRow, EmailRow, UserRow};
use crate::schema::{audit_logs, emails, users};
use crate::types::{db_time, Id, Json, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::audit::{AuditLogConfig, USER_DELETION_CANCELLED, USER_HOLD_RELEASED, USER_HOLD_SET};
use domain::events::EventKind;
use domain::ids::UserId;
use domain::model::{
    Activity, DeletionState, Email, LegalHold, NewEmail, Provisioning, RequestContext,
    ScheduledDeletion, User, UserStatus,
};
use domain::ports::{AccountStore, ChangeOutcome, DeletionChange, DeletionChangeKind, StoreError};
use std::collections::HashMap;

/// The e-mails of one user. `eq`, not `eq_any`: a statement with a fixed shape is prepared
/// once per connection and reused, which Postgres rewards (parse and plan once).
pub(crate) fn emails_of(
    conn: &mut DbConnection,
    user_id: Id,
) -> Result<Vec<EmailRow>, DieselError> {
    emails::table
        .filter(emails::user_id.eq(user_id))
        .select(EmailRow::as_select())
        .order((emails::created_at.asc(), emails::id.asc()))
        .load(conn)
}

pub(crate) fn load_emails(
    conn: &mut DbConnection,
    user_ids: &[Id],
) -> Result<Vec<EmailRow>, DieselError> {
    emails::table
        .filter(emails::user_id.eq_any(user_ids))
        .select(EmailRow::as_select())
        .order((emails::created_at.asc(), emails::id.asc()))
        .load(conn)
}

fn assemble(user_rows: Vec<UserRow>, email_rows: Vec<EmailRow>) -> Vec<User> {
    let mut by_user: HashMap<uuid::Uuid, Vec<Email>> = HashMap::new();
    for e in email_rows {
        by_user.entry(e.user_id.0).or_default().push(e.into());
    }
    user_rows
        .into_iter()
        .map(|u| User {
            id: UserId(u.id.0),
            emails: by_user.remove(&u.id.0).unwrap_or_default(),
            created_at: u.created_at.0,
            updated_at: u.updated_at.0,
            deletion: DeletionState {
                scheduled: u
                    .deletion_scheduled_at
                    .zip(u.purge_after)
                    .map(|(at, after)| ScheduledDeletion {
                        scheduled_at: at.0,
                        purge_after: after.0,
                    }),
                hold: u.hold.then(|| LegalHold {
                    reason: u.hold_reason.clone(),
                }),
            },
            provisioning: Provisioning {
                username: u.username.clone(),
                external_id: u.external_id.clone(),
                deactivated_at: u.deactivated_at.map(|t| t.0),
            },
            activity: Activity {
                last_active_at: u.last_active_at.0,
                inactivity_warned_at: u.inactivity_warned_at.map(|t| t.0),
            },
        })
        .collect()
}

/// Locks the user row for the rest of the transaction and says whether it exists and is
/// under legal hold. The backends differ: Postgres locks the row with SELECT … FOR UPDATE (a
/// fixed-shape statement, prepared once per connection; Diesel never caches UPDATEs); SQLite
/// has no row locks, and an UPDATE takes its write lock at once, which avoids a deadlock on a
/// later read-to-write upgrade.
pub(crate) fn lock_user(
    conn: &mut DbConnection,
    user_id: Id,
    at: Timestamp,
) -> Result<Option<bool>, DieselError> {
    match conn {
        DbConnection::Pg(pg) => users::table
            .find(user_id)
            .select(users::hold)
            .for_update()
            .first::<bool>(pg)
            .optional(),
        DbConnection::Sqlite(sqlite) => {
            let touched = diesel::update(users::table.find(user_id))
                .set(users::updated_at.eq(at))
                .execute(sqlite)?;
            if touched == 0 {
                return Ok(None);
            }
            users::table
                .find(user_id)
                .select(users::hold)
                .first::<bool>(sqlite)
                .optional()
        }
    }
}

/// Writes one audit entry about `user_id`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn audit(
    conn: &mut DbConnection,
    config: &AuditLogConfig,
    kind: &str,
    user_id: Id,
    emails: &[Email],
    context: &RequestContext,
    details: serde_json::Value,
    at: Timestamp,
) -> Result<(), DieselError> {
    if !config.enabled {
        return Ok(());
    }
    let entry = audit_row(config, kind, user_id, emails, context, details, at);
    diesel::insert_into(audit_logs::table)
        .values(&entry)
        .execute(conn)?;
    Ok(())
}

/// The audit entry about `user_id`, as [`audit`] writes it (for writes of many at once).
pub(crate) fn audit_row(
    config: &AuditLogConfig,
    kind: &str,
    user_id: Id,
    emails: &[Email],
    context: &RequestContext,
    details: serde_json::Value,
    at: Timestamp,
) -> AuditLogRow {
    AuditLogRow {
        id: Id(uuid::Uuid::new_v4()),
        kind: kind.to_owned(),
        actor_user_id: Some(user_id),
        actor_email: config.actor_email_of(emails),
        meta_http_request_id: Some(context.request_id.clone()),
        meta_source_ip: context.source_ip.clone(),
        meta_user_agent: context.user_agent.clone(),
        details: Json(details),
        created_at: at,
    }
}

/// An audit entry for an act on no user's account (an SSF receiver or stream, a retry of
/// deliveries): no actor, the request's context. Call inside the change's transaction.
pub(crate) fn audit_operation(
    conn: &mut DbConnection,
    config: &AuditLogConfig,
    context: &RequestContext,
    kind: &str,
    details: serde_json::Value,
    at: Timestamp,
) -> Result<(), DieselError> {
    if !config.enabled {
        return Ok(());
    }
    diesel::insert_into(audit_logs::table)
        .values(&AuditLogRow {
            id: Id(uuid::Uuid::new_v4()),
            kind: kind.to_owned(),
            actor_user_id: None,
            actor_email: None,
            meta_http_request_id: Some(context.request_id.clone()),
            meta_source_ip: context.source_ip.clone(),
            meta_user_agent: context.user_agent.clone(),
            details: Json(details),
            created_at: at,
        })
        .execute(conn)?;
    Ok(())
}

/// The user row with their addresses, read inside a transaction.
fn load_user(conn: &mut DbConnection, user_id: Id) -> Result<Option<User>, DieselError> {
    let Some(user) = users::table
        .find(user_id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let email_rows = emails_of(conn, user.id)?;
    Ok(assemble(vec![user], email_rows).pop())
}

impl AccountStore for Database {
    fn create_user(&self, new_emails: &[NewEmail], at: DateTime<Utc>) -> Result<User, StoreError> {
        let at = db_time(at);
        let user = UserRow {
            id: Id(uuid::Uuid::new_v4()),
            created_at: Timestamp(at),
            updated_at: Timestamp(at),
            deletion_scheduled_at: None,
            purge_after: None,
            hold: false,
            hold_reason: None,
            username: None,
            external_id: None,
            deactivated_at: None,
            last_active_at: Timestamp(at),
            inactivity_warned_at: None,
        };
        let email_rows: Vec<EmailRow> = new_emails
            .iter()
            .map(|e| EmailRow {
                id: Id(uuid::Uuid::new_v4()),
                user_id: user.id,
                address: e.address.to_lowercase(),
                verified: e.is_verified,
                is_primary: e.is_primary,
                created_at: Timestamp(at),
                updated_at: Timestamp(at),
            })
            .collect();
        self.transaction(|conn| {
            diesel::insert_into(users::table)
                .values(&user)
                .execute(conn)?;
            for row in &email_rows {
                diesel::insert_into(emails::table)
                    .values(row)
                    .execute(conn)?;
            }
            Ok(())
        })?;
        Ok(assemble(vec![user], email_rows).remove(0))
    }

    fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.run(|conn| load_user(conn, Id(id.0)))
    }

    fn list_users(
        &self,
        page: u32,
        per_page: u32,
        email: Option<&str>,
        status: Option<UserStatus>,
    ) -> Result<(Vec<User>, u64), StoreError> {
        let per_page = i64::from(per_page.clamp(1, 1000));
        let offset = i64::from(page.max(1) - 1) * per_page;
        let email = email.map(str::to_lowercase);
        self.run(|conn| {
            let mut query = users::table.into_boxed();
            let mut count = users::table.into_boxed();
            if let Some(address) = &email {
                let owners = emails::table
                    .filter(emails::address.eq(address.clone()))
                    .select(emails::user_id);
                query = query.filter(users::id.eq_any(owners));
                let owners = emails::table
                    .filter(emails::address.eq(address.clone()))
                    .select(emails::user_id);
                count = count.filter(users::id.eq_any(owners));
            }
            match status {
                None => {}
                Some(UserStatus::Active) => {
                    query = query.filter(users::deletion_scheduled_at.is_null());
                    count = count.filter(users::deletion_scheduled_at.is_null());
                }
                Some(UserStatus::PendingDeletion) => {
                    query = query.filter(users::deletion_scheduled_at.is_not_null());
                    count = count.filter(users::deletion_scheduled_at.is_not_null());
                }
                Some(UserStatus::Held) => {
                    query = query.filter(users::hold.eq(true));
                    count = count.filter(users::hold.eq(true));
                }
            }
            let total: i64 = count.count().get_result(conn)?;
            let user_rows = query
                .select(UserRow::as_select())
                .order((users::created_at.asc(), users::id.asc()))
                .limit(per_page)
                .offset(offset)
                .load(conn)?;
            let ids: Vec<Id> = user_rows.iter().map(|u| u.id).collect();
            let email_rows = load_emails(conn, &ids)?;
            Ok((
                assemble(user_rows, email_rows),
                u64::try_from(total).unwrap_or(0),
            ))
        })
    }

    fn change_deletion(&self, change: &DeletionChange) -> Result<ChangeOutcome, StoreError> {
        let user_id = Id(change.user_id.0);
        let at = Timestamp(db_time(change.at));
        self.transaction(|conn| {
            if lock_user(conn, user_id, at)?.is_none() {
                return Ok(ChangeOutcome::NotFound);
            }
            let Some(before) = load_user(conn, user_id)? else {
                return Ok(ChangeOutcome::NotFound);
            };
            let (kind, details) = match &change.change {
                DeletionChangeKind::Restore => {
                    if before.deletion.scheduled.is_none() {
                        return Ok(ChangeOutcome::NotScheduled);
                    }
                    // A restored account is an active one again: the inactivity policy starts
                    // over (a deletion it scheduled would otherwise come back at once).
                    diesel::update(users::table.find(user_id))
                        .set((
                            users::deletion_scheduled_at.eq(None::<Timestamp>),
                            users::purge_after.eq(None::<Timestamp>),
                            users::updated_at.eq(at),
                            users::last_active_at.eq(at),
                            users::inactivity_warned_at.eq(None::<Timestamp>),
                        ))
                        .execute(conn)?;
                    super::events::append(
                        conn,
                        EventKind::UserDeleteCancelled,
                        &serde_json::json!({ "id": change.user_id }),
                        &change.recipients,
                        at,
                    )?;
                    (
                        USER_DELETION_CANCELLED,
                        serde_json::json!({ "by": "admin" }),
                    )
                }
                DeletionChangeKind::Hold(hold) => {
                    diesel::update(users::table.find(user_id))
                        .set((
                            users::hold.eq(hold.is_some()),
                            users::hold_reason.eq(hold.as_ref().and_then(|h| h.reason.clone())),
                            users::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                    match hold {
                        Some(h) => (
                            USER_HOLD_SET,
                            serde_json::json!({ "by": "admin", "reason": h.reason }),
                        ),
                        None => (USER_HOLD_RELEASED, serde_json::json!({ "by": "admin" })),
                    }
                }
            };
            audit(
                conn,
                &change.audit,
                kind,
                user_id,
                &before.emails,
                &change.context,
                details,
                at,
            )?;
            Ok(match load_user(conn, user_id)? {
                Some(user) => ChangeOutcome::Changed(user),
                None => ChangeOutcome::NotFound,
            })
        })
    }

    fn purge_backlog(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let due: i64 = self.run(|conn| {
            users::table
                .filter(users::purge_after.le(Timestamp(now)))
                .filter(users::hold.eq(false))
                .count()
                .get_result(conn)
        })?;
        Ok(u64::try_from(due).unwrap_or(0))
    }
}
