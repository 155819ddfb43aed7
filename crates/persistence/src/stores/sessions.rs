use crate::pool::{Database, DbConnection};
use crate::rows::SessionRow;
use crate::schema::{sessions, users};
use crate::types::{db_time, DbTimestamp, Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Array;
use domain::audit::AuditLogConfig;
use domain::events::{EventKind, Recipients, SessionDeleted, SessionEndReason};
use domain::ids::{SessionId, UserId};
use domain::model::{Email, NewSession, RequestContext, Session};
use domain::ports::{SessionEnding, SessionRefused, SessionStore, StoreError};

/// Postgres: refresh `last_used`, locking in id order and skipping rows locked elsewhere.
const TOUCH_POSTGRES: &str = "UPDATE sessions SET last_used = $1 \
     WHERE id IN (SELECT id FROM sessions WHERE id = ANY($2) AND last_used < $3 \
                  ORDER BY id FOR UPDATE SKIP LOCKED)";
/// Postgres: the sessions' users were active (docs/retention.md), locked in id order. It
/// waits for a row locked elsewhere rather than lose the activity (a warning would stand).
const ACTIVE_POSTGRES: &str = "UPDATE users SET last_active_at = $1 \
     WHERE id IN (SELECT id FROM users WHERE last_active_at < $3 AND id IN \
                    (SELECT user_id FROM sessions WHERE id = ANY($2)) \
                  ORDER BY id FOR UPDATE)";

impl SessionStore for Database {
    fn create_session(&self, new: &NewSession, at: DateTime<Utc>) -> Result<Session, StoreError> {
        let at = db_time(at);
        let row = SessionRow {
            id: Id(uuid::Uuid::new_v4()),
            user_id: Id(new.user_id.0),
            user_agent: new.user_agent.clone(),
            ip_address: new.ip_address.clone(),
            created_at: Timestamp(at),
            expires_at: Timestamp(at + new.lifespan),
            last_used: Timestamp(at),
        };
        // Insert first, then look at the user: the insert's foreign key already holds the user
        // row against a concurrent scheduling (Postgres) or the write lock is ours (SQLite),
        // so a deletion scheduled meanwhile is seen and the session rolled back.
        // The same holds for a deactivation (SCIM), which locks the user row before it ends
        // the user's sessions.
        let mut refused = None;
        let result = self.transaction(|conn| {
            diesel::insert_into(sessions::table)
                .values(&row)
                .execute(conn)?;
            let state: Option<(Option<Timestamp>, Option<Timestamp>)> = users::table
                .find(row.user_id)
                .select((users::deletion_scheduled_at, users::deactivated_at))
                .first(conn)
                .optional()?;
            refused = match state {
                Some((Some(_), _)) => Some(SessionRefused::DeletionScheduled),
                Some((None, Some(_))) => Some(SessionRefused::Deactivated),
                _ => None,
            };
            if refused.is_some() {
                return Err(diesel::result::Error::RollbackTransaction);
            }
            // A sign-in is activity (docs/retention.md).
            diesel::update(
                users::table
                    .find(row.user_id)
                    .filter(users::last_active_at.lt(row.created_at)),
            )
            .set(users::last_active_at.eq(row.created_at))
            .execute(conn)?;
            Ok(())
        });
        if let Some(refused) = refused {
            return Err(StoreError::Conflict(Box::new(refused)));
        }
        result?;
        Ok(row.into())
    }

    fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let row = self.run(|conn| {
            sessions::table
                .find(Id(id.0))
                .select(SessionRow::as_select())
                .first(conn)
                .optional()
        })?;
        Ok(row.map(Session::from))
    }

    fn find_sessions(&self, ids: &[SessionId]) -> Result<Vec<Session>, StoreError> {
        let ids: Vec<Id> = ids.iter().map(|id| Id(id.0)).collect();
        let rows = self.run(|conn| {
            sessions::table
                .filter(sessions::id.eq_any(&ids))
                .select(SessionRow::as_select())
                .load(conn)
        })?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    fn touch_sessions(
        &self,
        ids: &[SessionId],
        at: DateTime<Utc>,
        min_interval: chrono::Duration,
    ) -> Result<(), StoreError> {
        let stale_before = Timestamp(at - min_interval);
        let session_ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
        // Its own statement, before the sessions' (which take no user lock): nothing here
        // holds a session's lock while it waits for a user's, as a deletion's cascade does the
        // other way round.
        self.write(|conn| match conn {
            DbConnection::Pg(pg) => diesel::sql_query(ACTIVE_POSTGRES)
                .bind::<DbTimestamp, _>(Timestamp(at))
                .bind::<Array<diesel::sql_types::Uuid>, _>(&session_ids)
                .bind::<DbTimestamp, _>(stale_before)
                .execute(pg),
            DbConnection::Sqlite(_) => {
                let ids: Vec<Id> = session_ids.iter().copied().map(Id).collect();
                let owners = sessions::table
                    .filter(sessions::id.eq_any(ids))
                    .select(sessions::user_id);
                diesel::update(
                    users::table
                        .filter(users::id.eq_any(owners))
                        .filter(users::last_active_at.lt(stale_before)),
                )
                .set(users::last_active_at.eq(Timestamp(at)))
                .execute(conn)
            }
        })?;
        self.write(|conn| match conn {
            // Rows are locked in id order, and a row locked elsewhere (a deletion's cascade,
            // another instance's flush) is skipped rather than waited for: `last_used` is
            // informational, and waiting in plan order could deadlock with a cascade.
            DbConnection::Pg(pg) => diesel::sql_query(TOUCH_POSTGRES)
                .bind::<DbTimestamp, _>(Timestamp(at))
                .bind::<Array<diesel::sql_types::Uuid>, _>(&session_ids)
                .bind::<DbTimestamp, _>(stale_before)
                .execute(pg),
            // SQLite has one writer at a time: no row locks to order.
            DbConnection::Sqlite(_) => {
                let ids: Vec<Id> = ids.iter().map(|id| Id(id.0)).collect();
                diesel::update(
                    sessions::table
                        .filter(sessions::id.eq_any(&ids))
                        .filter(sessions::last_used.lt(stale_before)),
                )
                .set(sessions::last_used.eq(Timestamp(at)))
                .execute(conn)
            }
        })?;
        Ok(())
    }

    fn list_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        let rows = self.run(|conn| {
            sessions::table
                .filter(sessions::user_id.eq(Id(user_id.0)))
                .select(SessionRow::as_select())
                .order(sessions::created_at.desc())
                .load(conn)
        })?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    fn end_session(&self, ending: &SessionEnding) -> Result<bool, StoreError> {
        let at = Timestamp(db_time(ending.at));
        self.transaction(|conn| {
            let n = diesel::delete(
                sessions::table
                    .find(Id(ending.session_id.0))
                    .filter(sessions::user_id.eq(Id(ending.user_id.0))),
            )
            .execute(conn)?;
            if n == 0 {
                return Ok(false);
            }
            let payload = SessionDeleted {
                id: ending.session_id,
                user_id: ending.user_id,
                reason: ending.reason,
            };
            super::events::append(
                conn,
                EventKind::SessionDelete,
                &payload,
                &ending.recipients,
                at,
            )?;
            Ok(true)
        })
    }

    fn end_all_sessions(
        &self,
        user_id: UserId,
        recipients: &Recipients,
        context: &RequestContext,
        audit: &AuditLogConfig,
        at: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let at = Timestamp(db_time(at));
        let user = Id(user_id.0);
        self.transaction(|conn| {
            let exists = users::table
                .find(user)
                .select(users::id)
                .first::<Id>(conn)
                .optional()?
                .is_some();
            if !exists {
                return Ok(None);
            }
            let ended: Vec<Id> = diesel::delete(sessions::table.filter(sessions::user_id.eq(user)))
                .returning(sessions::id)
                .get_results(conn)?;
            for session in &ended {
                let payload = SessionDeleted {
                    id: SessionId(session.0),
                    user_id,
                    reason: SessionEndReason::Admin,
                };
                super::events::append(conn, EventKind::SessionDelete, &payload, recipients, at)?;
            }
            let emails: Vec<Email> = super::accounts::emails_of(conn, user)?
                .into_iter()
                .map(Email::from)
                .collect();
            super::accounts::audit(
                conn,
                audit,
                "user_sessions_revoked",
                user,
                &emails,
                context,
                serde_json::json!({ "by": "admin", "sessions": ended.len() }),
                at,
            )?;
            Ok(Some(ended.len()))
        })
    }
}
