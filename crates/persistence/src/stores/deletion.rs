//! The deletion on Postgres as one statement (`sql/delete_user.sql`): its values, its
//! answer, and its run on a pooled (Diesel) connection. `WorkerPg` runs the same statement on
//! an HTTP worker's own connections.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::QueryResult;
use domain::model::Email;
use domain::ports::{DeletedBy, DeletedUser, Deletion, DeletionOutcome};

/// Postgres: the whole deletion as one statement (see the file).
pub(crate) const DELETE_POSTGRES: &str = include_str!("../sql/delete_user.sql");

/// Postgres: many deletions as one statement (see the file; `WorkerPg` sends it).
pub(crate) const DELETE_MANY_POSTGRES: &str = include_str!("../sql/delete_users.sql");

/// The statement's one row.
#[derive(QueryableByName)]
pub(crate) struct DeleteRow {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) found: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) held: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub(crate) emails: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) session_live: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) session_fresh: bool,
}

/// The values of [`DELETE_POSTGRES`], by placeholder number.
pub(crate) struct DeleteStatement<'a> {
    pub(crate) user: uuid::Uuid,
    pub(crate) session: Option<uuid::Uuid>,
    pub(crate) now: DateTime<Utc>,
    pub(crate) audit_id: uuid::Uuid,
    pub(crate) audit_enabled: bool,
    pub(crate) mask_email: bool,
    pub(crate) request_id: &'a str,
    pub(crate) source_ip: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) details: serde_json::Value,
    pub(crate) event_id: uuid::Uuid,
    pub(crate) deleted_at: String,
    pub(crate) hooks: &'a [String],
    pub(crate) created_after: Option<DateTime<Utc>>,
}

/// The statement's type is its cache key: Diesel prepares it once per connection and reuses
/// it (a `sql_query` is never cached, so Postgres would parse and plan it on every call).
pub(crate) struct DeleteStatementId;

impl diesel::query_builder::QueryId for DeleteStatement<'_> {
    type QueryId = DeleteStatementId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for DeleteStatement<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for DeleteStatement<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Bool, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
        // Each `$n` of the file becomes a bind of the n-th value (Diesel numbers binds itself).
        let mut rest = DELETE_POSTGRES;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            match &rest[at + 1..at + 1 + digits] {
                "1" => out.push_bind_param::<SqlUuid, _>(&self.user)?,
                "2" => out.push_bind_param::<Nullable<SqlUuid>, _>(&self.session)?,
                "3" => out.push_bind_param::<Timestamptz, _>(&self.now)?,
                "4" => out.push_bind_param::<SqlUuid, _>(&self.audit_id)?,
                "5" => out.push_bind_param::<Bool, _>(&self.audit_enabled)?,
                "6" => out.push_bind_param::<Bool, _>(&self.mask_email)?,
                "7" => out.push_bind_param::<Text, _>(&self.request_id)?,
                "8" => out.push_bind_param::<Nullable<Text>, _>(&self.source_ip)?,
                "9" => out.push_bind_param::<Nullable<Text>, _>(&self.user_agent)?,
                "10" => out.push_bind_param::<Jsonb, _>(&self.details)?,
                "11" => out.push_bind_param::<SqlUuid, _>(&self.event_id)?,
                "12" => out.push_bind_param::<Text, _>(&self.deleted_at)?,
                "13" => out.push_bind_param::<Array<Text>, _>(&self.hooks)?,
                "14" => out.push_bind_param::<Nullable<Timestamptz>, _>(&self.created_after)?,
                _ => out.push_sql("$"),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl RunQueryDsl<diesel::PgConnection> for DeleteStatement<'_> {}

/// The deletion on Postgres, in one round trip (autocommit: the statement is its own
/// transaction, so it commits or changes nothing).
pub(crate) fn in_one_statement(
    pg: &mut diesel::PgConnection,
    deletion: &Deletion,
    deleted_at: DateTime<Utc>,
) -> Result<DeletionOutcome, DieselError> {
    let statement = DeleteStatement::new(deletion, deleted_at)
        .map_err(|e| DieselError::SerializationError(Box::new(e)))?;
    let row: DeleteRow = statement.get_result(pg)?;
    row.outcome(deletion, deleted_at)
        .map_err(|e| DieselError::DeserializationError(Box::new(e)))
}

impl<'a> DeleteStatement<'a> {
    /// The values for `deletion`, deleted at `deleted_at` (the database's precision).
    pub(crate) fn new(
        deletion: &'a Deletion,
        deleted_at: DateTime<Utc>,
    ) -> Result<Self, serde_json::Error> {
        let (session, created_after) = match deletion.by {
            DeletedBy::User {
                session,
                created_after,
            } => (Some(session.0), created_after),
            DeletedBy::Admin | DeletedBy::Purge => (None, None),
        };
        let ctx = &deletion.context;
        // Serialised as the other backends' events are (serde), so receivers see one format.
        let deleted_at_text = match serde_json::to_value(deleted_at)? {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        Ok(Self {
            user: deletion.user_id.0,
            session,
            now: deleted_at,
            audit_id: uuid::Uuid::new_v4(),
            audit_enabled: deletion.audit.enabled,
            mask_email: deletion.audit.mask_email,
            request_id: &ctx.request_id,
            source_ip: ctx.source_ip.as_deref(),
            user_agent: ctx.user_agent.as_deref(),
            details: serde_json::json!({ "by": deletion.by.label() }),
            event_id: uuid::Uuid::new_v4(),
            deleted_at: deleted_at_text,
            hooks: &deletion.recipients.0,
            created_after,
        })
    }
}

impl DeleteRow {
    /// What the statement's answer means for `deletion`.
    pub(crate) fn outcome(
        self,
        deletion: &Deletion,
        deleted_at: DateTime<Utc>,
    ) -> Result<DeletionOutcome, serde_json::Error> {
        let by_user = matches!(deletion.by, DeletedBy::User { .. });
        if by_user && !self.session_live {
            return Ok(DeletionOutcome::NoSession);
        }
        if by_user && !self.session_fresh {
            return Ok(DeletionOutcome::ReauthenticationRequired);
        }
        if !self.found {
            return Ok(DeletionOutcome::Gone);
        }
        if self.held {
            return Ok(DeletionOutcome::Held);
        }
        let emails: Vec<Email> = serde_json::from_str(self.emails.as_deref().unwrap_or("[]"))?;
        Ok(DeletionOutcome::Deleted(DeletedUser {
            id: deletion.user_id,
            emails,
            deleted_at,
        }))
    }
}
