//! The audit log.

use super::{paging, AdminRefusals};
use crate::http::error::{ApiError, ErrorBody};
use crate::routes::views::AuditLogView;
use crate::services::Services;
use actix_web::{web, HttpResponse};
use domain::ids::UserId;
use domain::ports::AuditLogFilter;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListAuditLogs {
    /// e.g. `user_deleted`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    actor_user_id: Option<UserId>,
    /// 1-based.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// 20 unless given.
    #[param(minimum = 1, maximum = 1000)]
    per_page: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/audit_logs",
    operation_id = "listAuditLogs",
    tag = "Audit",
    summary = "Audit log entries",
    params(ListAuditLogs),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditLogView>),
        (status = 400, description = "A malformed query", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub(crate) async fn list_audit_logs(
    services: web::Data<Services>,
    query: web::Query<ListAuditLogs>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (page, per_page) = paging(q.page, q.per_page)?;
    let filter = AuditLogFilter {
        kind: q.kind,
        actor_user_id: q.actor_user_id,
        page,
        per_page,
    };
    let logs = services.list_audit_logs(filter).await?;
    let body: Vec<AuditLogView> = logs.iter().map(AuditLogView::from).collect();
    Ok(HttpResponse::Ok().json(body))
}
