use crate::pool::{Database, DbConnection};
use crate::rows::{AuditLogRow, EmailRow, UserRow};
use crate::schema::{audit_logs, emails, sessions, users};
use crate::types::{db_time, Id, Json, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::audit::USER_DELETED;
use domain::events::EventKind;
use domain::ids::UserId;
use domain::model::{Email, NewEmail, User};
use domain::ports::{AccountStore, DeletedBy, DeletedUser, Deletion, StoreError};
use std::collections::HashMap;

/// The e-mails of one user. `eq`, not `eq_any`: a statement with a fixed shape is prepared
/// once per connection and reused, which Postgres rewards (parse and plan once).
fn emails_of(conn: &mut DbConnection, user_id: Id) -> Result<Vec<EmailRow>, DieselError> {
    emails::table
        .filter(emails::user_id.eq(user_id))
        .select(EmailRow::as_select())
        .order((emails::created_at.asc(), emails::id.asc()))
        .load(conn)
}

fn load_emails(conn: &mut DbConnection, user_ids: &[Id]) -> Result<Vec<EmailRow>, DieselError> {
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
        })
        .collect()
}

impl AccountStore for Database {
    fn create_user(&self, new_emails: &[NewEmail], at: DateTime<Utc>) -> Result<User, StoreError> {
        let at = db_time(at);
        let user = UserRow {
            id: Id(uuid::Uuid::new_v4()),
            created_at: Timestamp(at),
            updated_at: Timestamp(at),
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
        self.run(|conn| {
            let Some(user) = users::table
                .find(Id(id.0))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?
            else {
                return Ok(None);
            };
            let email_rows = emails_of(conn, user.id)?;
            Ok(assemble(vec![user], email_rows).pop())
        })
    }

    fn list_users(
        &self,
        page: u32,
        per_page: u32,
        email: Option<&str>,
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

    fn delete_user(&self, deletion: &Deletion) -> Result<Option<DeletedUser>, StoreError> {
        let user_id = Id(deletion.user_id.0);
        let deleted_at = db_time(deletion.at);
        let at = Timestamp(deleted_at);
        self.transaction(|conn| {
            // Lock the user first, so concurrent deleters queue here and then find the user
            // gone. The backends differ: Postgres locks the row with SELECT … FOR UPDATE (a
            // fixed-shape statement, prepared once per connection; Diesel never caches
            // UPDATEs); SQLite has no row locks, and an UPDATE takes its write lock at once,
            // which avoids a deadlock on a later read-to-write upgrade.
            let locked = match conn {
                DbConnection::Pg(pg) => users::table
                    .find(user_id)
                    .select(users::id)
                    .for_update()
                    .first::<Id>(pg)
                    .optional()?
                    .is_some(),
                DbConnection::Sqlite(sqlite) => {
                    diesel::update(users::table.find(user_id))
                        .set(users::updated_at.eq(at))
                        .execute(sqlite)?
                        > 0
                }
            };
            if !locked {
                return Ok(None);
            }
            if let DeletedBy::User { session } = deletion.by {
                let live = sessions::table
                    .find(Id(session.0))
                    .filter(sessions::user_id.eq(user_id))
                    .filter(sessions::expires_at.gt(at))
                    .count()
                    .get_result::<i64>(conn)?;
                if live == 0 {
                    return Ok(None);
                }
            }
            let emails: Vec<Email> = emails_of(conn, user_id)?
                .into_iter()
                .map(Email::from)
                .collect();
            // Emails, sessions and every other row of the user go by ON DELETE CASCADE.
            diesel::delete(users::table.find(user_id)).execute(conn)?;

            if deletion.audit.enabled {
                let ctx = &deletion.context;
                let entry = AuditLogRow {
                    id: Id(uuid::Uuid::new_v4()),
                    kind: USER_DELETED.to_owned(),
                    actor_user_id: Some(user_id),
                    actor_email: deletion.audit.actor_email_of(&emails),
                    meta_http_request_id: Some(ctx.request_id.clone()),
                    meta_source_ip: ctx.source_ip.clone(),
                    meta_user_agent: ctx.user_agent.clone(),
                    details: Json(serde_json::json!({ "by": deletion.by.label() })),
                    created_at: at,
                };
                diesel::insert_into(audit_logs::table)
                    .values(&entry)
                    .execute(conn)?;
            }

            let deleted = DeletedUser {
                id: deletion.user_id,
                emails,
                deleted_at,
            };
            super::events::append(
                conn,
                EventKind::UserDelete,
                &deleted,
                &deletion.recipients,
                at,
            )?;
            Ok(Some(deleted))
        })
    }
}
