//! The user's data export (GDPR Art. 15/20), shared by `GET /user/export` and the admin's
//! `GET /users/{id}/export`: the same data, read once; the user's own copy leaves out what
//! operators did (a legal hold is often confidential by law, docs/api.md).

use super::views::{
    AuditLogView, ExportView, PublicExportView, PublicUserView, SessionView, UserView,
};
use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::HttpResponse;
use chrono::Utc;
use domain::ids::UserId;
use domain::ports::{AccountStore, AuditLogFilter, AuditLogStore, SessionStore};

/// Audit entries read per query while exporting.
const PAGE: u32 = 1000;

/// Who an export is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// The user it concerns: their own actions and deletion state only.
    Subject,
    /// An operator (the admin API): everything.
    Operator,
}

/// The export of `user_id` for `reader`, or `None` if there is no such user.
pub async fn export(
    state: &AppState,
    user_id: UserId,
    reader: Reader,
) -> Result<Option<HttpResponse>, ApiError> {
    let db = state.db.clone();
    let found = state
        .offload
        .run("exporting a user", move || {
            let Some(user) = db.find_user(user_id)? else {
                return Ok(None);
            };
            let sessions = db.list_sessions(user_id)?;
            let mut audit_logs = Vec::new();
            for page in 1.. {
                let batch = db.list_audit_logs(&AuditLogFilter {
                    kind: None,
                    actor_user_id: Some(user_id),
                    page,
                    per_page: PAGE,
                })?;
                let last = batch.len() < PAGE as usize;
                audit_logs.extend(batch);
                if last {
                    break;
                }
            }
            Ok(Some((user, sessions, audit_logs)))
        })
        .await?;
    Ok(found.map(|(user, sessions, audit_logs)| {
        let sessions = sessions.iter().map(SessionView::from).collect();
        let mut answer = HttpResponse::Ok();
        answer
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"user-{}.json\"", user.id),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        match reader {
            Reader::Operator => answer.json(ExportView {
                user: UserView::from(&user),
                sessions,
                audit_logs: audit_logs.iter().map(AuditLogView::from).collect(),
                exported_at: Utc::now(),
            }),
            Reader::Subject => answer.json(PublicExportView {
                user: PublicUserView::from(&user),
                sessions,
                audit_logs: audit_logs
                    .iter()
                    .filter(|a| a.is_own_action())
                    .map(AuditLogView::from)
                    .collect(),
                exported_at: Utc::now(),
            }),
        }
    }))
}
