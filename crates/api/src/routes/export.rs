//! The user's data export (GDPR Art. 15/20), shared by `GET /user/export` and the admin's
//! `GET /users/{id}/export`: the same data, read once; the user's own copy leaves out what
//! operators did (a legal hold is often confidential by law, docs/api.md).

use super::views::{
    AuditLogView, ExportView, PublicExportView, PublicUserView, SessionView, UserView,
};
use crate::http::error::ApiError;
use crate::services::accounts::Export;
use crate::services::Services;
use actix_web::http::header;
use actix_web::HttpResponse;
use chrono::Utc;
use domain::ids::UserId;

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
    services: &Services,
    user_id: UserId,
    reader: Reader,
) -> Result<Option<HttpResponse>, ApiError> {
    let found = services.export(user_id).await?;
    Ok(found.map(
        |Export {
             user,
             sessions,
             audit_logs,
         }| {
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
        },
    ))
}
