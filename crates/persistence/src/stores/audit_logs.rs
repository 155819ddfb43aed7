use crate::pool::Database;
use crate::rows::AuditLogRow;
use crate::schema::audit_logs;
use crate::types::Id;
use diesel::prelude::*;
use domain::model::AuditLog;
use domain::ports::{AuditLogFilter, AuditLogStore, StoreError};

impl AuditLogStore for Database {
    fn list_audit_logs(&self, filter: &AuditLogFilter) -> Result<Vec<AuditLog>, StoreError> {
        let per_page = i64::from(filter.per_page.clamp(1, 1000));
        let offset = i64::from(filter.page.max(1) - 1) * per_page;
        let rows = self.run(|conn| {
            let mut query = audit_logs::table.into_boxed();
            if let Some(kind) = &filter.kind {
                query = query.filter(audit_logs::kind.eq(kind.clone()));
            }
            if let Some(actor) = filter.actor_user_id {
                query = query.filter(audit_logs::actor_user_id.eq(Id(actor.0)));
            }
            query
                .select(AuditLogRow::as_select())
                .order((audit_logs::created_at.desc(), audit_logs::id.asc()))
                .limit(per_page)
                .offset(offset)
                .load(conn)
        })?;
        Ok(rows.into_iter().map(AuditLog::from).collect())
    }
}
