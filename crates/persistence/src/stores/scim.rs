//! SCIM's view of users and the providers' clients ([`ScimStore`]). Each write is one
//! transaction with its audit entry and events; a deactivation ends every session in it.

use super::accounts::{audit, audit_operation, emails_of};
use super::events::append;
use crate::pool::{Database, DbConnection};
use crate::schema::{emails, scim_clients, sessions, users};
use crate::types::{db_time, Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::audit::AuditLogConfig;
use domain::events::{EventKind, SessionDeleted, SessionEndReason};
use domain::ids::{SessionId, UserId};
use domain::model::{Email, RequestContext};
use domain::ports::StoreError;
use domain::scim::store::{Activity, Lookup, ScimChange, ScimClient, ScimStore, Written};
use domain::scim::user::{Profile, ScimEmail, ScimUser, UserInput};
use serde_json::json;
use std::collections::HashMap;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = scim_clients)]
struct ClientRow {
    id: Id,
    name: String,
    token_hash: String,
    created_at: Timestamp,
}

impl From<ClientRow> for ScimClient {
    fn from(r: ClientRow) -> Self {
        Self {
            id: r.id.0,
            name: r.name,
            created_at: r.created_at.0,
        }
    }
}

/// What SCIM reads of a user row.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = users)]
struct ScimRow {
    id: Id,
    created_at: Timestamp,
    updated_at: Timestamp,
    username: Option<String>,
    external_id: Option<String>,
    scim_profile: Option<String>,
    deactivated_at: Option<Timestamp>,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = emails)]
struct ScimEmailRow {
    user_id: Id,
    address: String,
    is_primary: bool,
    kind: Option<String>,
}

/// How `userName` is compared: lowercased as Rust lowercases (the same on both backends).
fn username_key(user_name: &str) -> String {
    user_name.to_lowercase()
}

fn assemble(rows: Vec<ScimRow>, email_rows: Vec<ScimEmailRow>) -> Vec<ScimUser> {
    let mut by_user: HashMap<uuid::Uuid, Vec<ScimEmail>> = HashMap::new();
    for e in email_rows {
        by_user.entry(e.user_id.0).or_default().push(ScimEmail {
            address: e.address,
            primary: e.is_primary,
            kind: e.kind,
        });
    }
    rows.into_iter()
        .map(|r| ScimUser {
            id: UserId(r.id.0),
            user_name: r.username,
            external_id: r.external_id,
            active: r.deactivated_at.is_none(),
            emails: by_user.remove(&r.id.0).unwrap_or_default(),
            profile: Profile::from_json(r.scim_profile.as_deref()),
            created: r.created_at.0,
            last_modified: r.updated_at.0,
        })
        .collect()
}

/// The users with these ids that SCIM sees (no deletion under way), with their addresses.
fn load(conn: &mut DbConnection, ids: Option<&[Id]>) -> Result<Vec<ScimUser>, DieselError> {
    let mut query = users::table
        .filter(users::deletion_scheduled_at.is_null())
        .select(ScimRow::as_select())
        .order((users::created_at.asc(), users::id.asc()))
        .into_boxed();
    if let Some(ids) = ids {
        query = query.filter(users::id.eq_any(ids.to_vec()));
    }
    let rows: Vec<ScimRow> = query.load(conn)?;
    let mut email_query = emails::table
        .select(ScimEmailRow::as_select())
        .order((emails::created_at.asc(), emails::id.asc()))
        .into_boxed();
    if let Some(ids) = ids {
        email_query = email_query.filter(emails::user_id.eq_any(ids.to_vec()));
    }
    Ok(assemble(rows, email_query.load(conn)?))
}

fn load_one(conn: &mut DbConnection, id: Id) -> Result<Option<ScimUser>, DieselError> {
    Ok(load(conn, Some(&[id]))?.pop())
}

/// Whether another user than `except` holds `user_name` or one of `emails`.
fn taken(
    conn: &mut DbConnection,
    input: &UserInput,
    except: Option<Id>,
) -> Result<Option<Written>, DieselError> {
    let owner: Option<Id> = match input.user_name.as_deref().map(username_key) {
        Some(key) => users::table
            .filter(users::username_key.eq(key))
            .select(users::id)
            .first(conn)
            .optional()?,
        None => None,
    };
    if owner.is_some_and(|o| Some(o) != except) {
        return Ok(Some(Written::UserNameTaken));
    }
    let addresses: Vec<String> = input
        .emails
        .iter()
        .map(|e| e.address.to_lowercase())
        .collect();
    let owners: Vec<Id> = emails::table
        .filter(emails::address.eq_any(addresses))
        .select(emails::user_id)
        .load(conn)?;
    if owners.iter().any(|o| Some(*o) != except) {
        return Ok(Some(Written::AddressTaken));
    }
    Ok(None)
}

/// Replaces the user's addresses with `input`'s (kept rows keep their ids and verification).
fn write_emails(
    conn: &mut DbConnection,
    user: Id,
    input: &UserInput,
    at: Timestamp,
) -> Result<(), DieselError> {
    let existing = emails_of(conn, user)?;
    let wanted: Vec<String> = input
        .emails
        .iter()
        .map(|e| e.address.to_lowercase())
        .collect();
    let gone: Vec<Id> = existing
        .iter()
        .filter(|e| !wanted.contains(&e.address))
        .map(|e| e.id)
        .collect();
    if !gone.is_empty() {
        diesel::delete(emails::table.filter(emails::id.eq_any(gone))).execute(conn)?;
    }
    for (email, address) in input.emails.iter().zip(&wanted) {
        match existing.iter().find(|e| &e.address == address) {
            Some(row) => {
                diesel::update(emails::table.find(row.id))
                    .set((
                        emails::is_primary.eq(email.primary),
                        emails::kind.eq(email.kind.clone()),
                        emails::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(emails::table)
                    .values((
                        emails::id.eq(Id(uuid::Uuid::new_v4())),
                        emails::user_id.eq(user),
                        emails::address.eq(address.clone()),
                        emails::verified.eq(false),
                        emails::is_primary.eq(email.primary),
                        emails::created_at.eq(at),
                        emails::updated_at.eq(at),
                        emails::kind.eq(email.kind.clone()),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Locks the user row for the rest of the transaction (Postgres: `FOR UPDATE`; SQLite: a write
/// that changes nothing, which takes the write lock); false if there is none.
fn lock(conn: &mut DbConnection, user: Id) -> Result<bool, DieselError> {
    match conn {
        DbConnection::Pg(pg) => Ok(users::table
            .find(user)
            .select(users::id)
            .for_update()
            .first::<Id>(pg)
            .optional()?
            .is_some()),
        DbConnection::Sqlite(sqlite) => Ok(diesel::update(users::table.find(user))
            .set(users::hold.eq(users::hold))
            .execute(sqlite)?
            == 1),
    }
}

fn addresses_of(conn: &mut DbConnection, user: Id) -> Result<Vec<Email>, DieselError> {
    Ok(emails_of(conn, user)?
        .into_iter()
        .map(Email::from)
        .collect())
}

/// Ends every session of `user` (a `session.delete` each) and writes `user.deactivated`.
fn deactivate(
    conn: &mut DbConnection,
    user: Id,
    change: &ScimChange<'_>,
    at: Timestamp,
) -> Result<usize, DieselError> {
    let ended: Vec<Id> = diesel::delete(sessions::table.filter(sessions::user_id.eq(user)))
        .returning(sessions::id)
        .get_results(conn)?;
    let user_id = UserId(user.0);
    for session in &ended {
        let payload = SessionDeleted {
            id: SessionId(session.0),
            user_id,
            reason: SessionEndReason::Admin,
        };
        append(
            conn,
            EventKind::SessionDelete,
            &payload,
            &change.recipients.session_deleted,
            at,
        )?;
    }
    append(
        conn,
        EventKind::UserDeactivated,
        &json!({ "id": user.0 }),
        &change.recipients.deactivated,
        at,
    )?;
    Ok(ended.len())
}

fn audit_change(
    conn: &mut DbConnection,
    change: &ScimChange<'_>,
    kind: &str,
    user: Id,
    details: serde_json::Value,
    at: Timestamp,
) -> Result<(), DieselError> {
    let emails = addresses_of(conn, user)?;
    let mut details = details;
    if let Some(d) = details.as_object_mut() {
        d.insert("by".into(), json!("scim"));
        d.insert(
            "scim_client".into(),
            json!({ "id": change.client.id, "name": change.client.name }),
        );
    }
    audit(
        conn,
        change.audit,
        kind,
        user,
        &emails,
        change.context,
        details,
        at,
    )
}

impl ScimStore for Database {
    fn create_scim_client(
        &self,
        name: &str,
        token_hash: &str,
        context: &RequestContext,
        audit_config: &AuditLogConfig,
        at: DateTime<Utc>,
    ) -> Result<ScimClient, StoreError> {
        let row = ClientRow {
            id: Id(uuid::Uuid::new_v4()),
            name: name.to_owned(),
            token_hash: token_hash.to_owned(),
            created_at: Timestamp(db_time(at)),
        };
        self.transaction(|conn| {
            diesel::insert_into(scim_clients::table)
                .values(&row)
                .execute(conn)?;
            audit_operation(
                conn,
                audit_config,
                context,
                "scim_client_created",
                json!({ "scim_client_id": row.id.0, "name": name }),
                row.created_at,
            )
        })?;
        Ok(row.into())
    }

    fn list_scim_clients(&self) -> Result<Vec<ScimClient>, StoreError> {
        let rows: Vec<ClientRow> = self.run(|conn| {
            scim_clients::table
                .select(ClientRow::as_select())
                .order((scim_clients::created_at.asc(), scim_clients::id.asc()))
                .load(conn)
        })?;
        Ok(rows.into_iter().map(ScimClient::from).collect())
    }

    fn delete_scim_client(
        &self,
        id: uuid::Uuid,
        context: &RequestContext,
        audit_config: &AuditLogConfig,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.transaction(|conn| {
            let name: Option<String> = diesel::delete(scim_clients::table.find(Id(id)))
                .returning(scim_clients::name)
                .get_result(conn)
                .optional()?;
            let Some(name) = name else {
                return Ok(false);
            };
            audit_operation(
                conn,
                audit_config,
                context,
                "scim_client_revoked",
                json!({ "scim_client_id": id, "name": name }),
                Timestamp(db_time(at)),
            )?;
            Ok(true)
        })
    }

    fn scim_client_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ScimClient, String)>, StoreError> {
        let row: Option<ClientRow> = self.run(|conn| {
            scim_clients::table
                .filter(scim_clients::token_hash.eq(token_hash))
                .select(ClientRow::as_select())
                .first(conn)
                .optional()
        })?;
        Ok(row.map(|r| {
            let hash = r.token_hash.clone();
            (ScimClient::from(r), hash)
        }))
    }

    fn create_scim_user(
        &self,
        input: &UserInput,
        change: &ScimChange<'_>,
    ) -> Result<Written, StoreError> {
        let at = Timestamp(db_time(change.at));
        let id = Id(uuid::Uuid::new_v4());
        self.transaction(|conn| {
            if let Some(refused) = taken(conn, input, None)? {
                return Ok(refused);
            }
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(id),
                    users::created_at.eq(at),
                    users::updated_at.eq(at),
                    users::hold.eq(false),
                    users::username.eq(&input.user_name),
                    users::username_key.eq(input.user_name.as_deref().map(username_key)),
                    users::external_id.eq(&input.external_id),
                    users::scim_profile.eq(input.profile.to_json()),
                    users::deactivated_at.eq((!input.active).then_some(at)),
                    users::last_active_at.eq(at),
                ))
                .execute(conn)?;
            write_emails(conn, id, input, at)?;
            let activity = if input.active {
                Activity::Unchanged
            } else {
                Activity::Deactivated {
                    sessions: deactivate(conn, id, change, at)?,
                }
            };
            audit_change(conn, change, "user_created", id, json!({}), at)?;
            let user = load_one(conn, id)?.ok_or(DieselError::NotFound)?;
            Ok(Written::Done(user, activity))
        })
    }

    fn scim_user(&self, id: UserId) -> Result<Option<ScimUser>, StoreError> {
        self.run(|conn| load_one(conn, Id(id.0)))
    }

    fn scim_users(&self, lookup: Option<&Lookup>) -> Result<Vec<ScimUser>, StoreError> {
        self.run(|conn| {
            let ids: Vec<Id> = match lookup {
                None => return load(conn, None),
                Some(Lookup::Id(id)) => vec![Id(id.0)],
                Some(Lookup::UserName(name)) => users::table
                    .filter(users::username_key.eq(username_key(name)))
                    .select(users::id)
                    .load(conn)?,
                Some(Lookup::ExternalId(external)) => users::table
                    .filter(users::external_id.eq(external))
                    .select(users::id)
                    .load(conn)?,
                Some(Lookup::Email(address)) => emails::table
                    .filter(emails::address.eq(address.to_lowercase()))
                    .select(emails::user_id)
                    .load(conn)?,
            };
            load(conn, Some(&ids))
        })
    }

    fn replace_scim_user(
        &self,
        id: UserId,
        input: &UserInput,
        if_match: Option<&str>,
        change: &ScimChange<'_>,
    ) -> Result<Written, StoreError> {
        let at = Timestamp(db_time(change.at));
        let id = Id(id.0);
        self.transaction(|conn| {
            // Locked first: a session being created meanwhile is either seen and ended here,
            // or sees the deactivation and is refused.
            if !lock(conn, id)? {
                return Ok(Written::NotFound);
            }
            let Some(before) = load_one(conn, id)? else {
                return Ok(Written::NotFound);
            };
            if if_match.is_some_and(|v| v != before.version()) {
                return Ok(Written::Stale);
            }
            if let Some(refused) = taken(conn, input, Some(id))? {
                return Ok(refused);
            }
            // A new version, even within the microsecond of the last one.
            let modified = if at.0 > before.last_modified {
                at
            } else {
                Timestamp(before.last_modified + chrono::Duration::microseconds(1))
            };
            let deactivated_at = match (before.active, input.active) {
                (true, false) => Some(Some(at)),
                (false, true) => Some(None),
                _ => None,
            };
            diesel::update(users::table.find(id))
                .set((
                    users::updated_at.eq(modified),
                    users::username.eq(&input.user_name),
                    users::username_key.eq(input.user_name.as_deref().map(username_key)),
                    users::external_id.eq(&input.external_id),
                    users::scim_profile.eq(input.profile.to_json()),
                ))
                .execute(conn)?;
            if let Some(value) = deactivated_at {
                diesel::update(users::table.find(id))
                    .set(users::deactivated_at.eq(value))
                    .execute(conn)?;
            }
            if !before.active && input.active {
                // A reactivation is activity: the inactivity policy starts over.
                diesel::update(users::table.find(id))
                    .set((
                        users::last_active_at.eq(at),
                        users::inactivity_warned_at.eq(None::<Timestamp>),
                    ))
                    .execute(conn)?;
            }
            write_emails(conn, id, input, at)?;
            let activity = match (before.active, input.active) {
                (true, false) => Activity::Deactivated {
                    sessions: deactivate(conn, id, change, at)?,
                },
                (false, true) => {
                    append(
                        conn,
                        EventKind::UserReactivated,
                        &json!({ "id": id.0 }),
                        &change.recipients.reactivated,
                        at,
                    )?;
                    Activity::Reactivated
                }
                _ => Activity::Unchanged,
            };
            let details = match activity {
                Activity::Unchanged => json!({}),
                Activity::Deactivated { sessions } => {
                    json!({ "active": false, "sessions": sessions })
                }
                Activity::Reactivated => json!({ "active": true }),
            };
            audit_change(conn, change, "user_updated", id, details, at)?;
            let user = load_one(conn, id)?.ok_or(DieselError::NotFound)?;
            Ok(Written::Done(user, activity))
        })
    }
}
