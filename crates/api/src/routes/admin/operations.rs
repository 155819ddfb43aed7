//! Operations: the Prometheus metrics.

use super::AdminRefusals;
use crate::services::Services;
use actix_web::{web, HttpResponse};

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "Operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "The Prometheus text exposition", content_type = "text/plain", body = String),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub(crate) async fn metrics(services: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(services.metrics_text().await)
}
