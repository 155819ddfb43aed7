//! Webhook deliveries: list them, send dead ones again.

use super::{paging, AdminRefusals};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_object::JsonObject;
use crate::http::request_id::request_context;
use crate::routes::views::DeliveryView;
use crate::services::Services;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::ports::DeliveryStatus;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// Which deliveries to send again.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryDeliveries {
    /// Only dead deliveries are retried.
    pub status: RetryStatus,
    /// One hook: its name, or its URL (as configured, or scheme://host[:port] as listed).
    pub hook: Option<String>,
    /// One event.
    pub event_id: Option<uuid::Uuid>,
}

/// `dead`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryStatus {
    Dead,
}

/// How many deliveries are pending again.
#[derive(serde::Serialize, ToSchema)]
pub struct Retried {
    pub retried: usize,
}

#[utoipa::path(
    post,
    path = "/webhooks/deliveries/retry",
    operation_id = "retryDeliveries",
    tag = "Webhooks",
    summary = "Send dead deliveries again",
    request_body = RetryDeliveries,
    responses(
        (status = 200, description = "The matching dead deliveries are pending again (attempts 0, due now); audited as webhook_deliveries_retried", body = Retried),
        (status = 400, description = "Not valid JSON, an unknown field, or a status other than dead", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub(crate) async fn retry_deliveries(
    req: HttpRequest,
    services: web::Data<Services>,
    body: JsonObject<RetryDeliveries>,
) -> Result<HttpResponse, ApiError> {
    let RetryDeliveries { hook, event_id, .. } = body.0;
    let retried = services
        .retry_dead_deliveries(
            hook,
            event_id.map(domain::ids::EventId),
            request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Ok().json(Retried { retried }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListDeliveries {
    #[param(value_type = Option<DeliveryStatusParam>)]
    status: Option<String>,
    /// 1-based.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// 20 unless given.
    #[param(minimum = 1, maximum = 1000)]
    per_page: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/webhooks/deliveries",
    operation_id = "listDeliveries",
    tag = "Webhooks",
    summary = "Webhook deliveries, one per event and hook",
    params(ListDeliveries),
    responses(
        (status = 200, description = "One page of deliveries", body = Vec<DeliveryView>, headers(("X-Total-Count" = u64, description = "Deliveries matching, all pages"))),
        (status = 400, description = "A malformed query", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub(crate) async fn list_deliveries(
    services: web::Data<Services>,
    query: web::Query<ListDeliveries>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("delivered") => Some(DeliveryStatus::Delivered),
        Some("dead") => Some(DeliveryStatus::Dead),
        Some(_) => return Err(ApiError::status(StatusCode::BAD_REQUEST)),
    };
    let (page, per_page) = paging(q.page, q.per_page)?;
    let listed = services.list_deliveries(status, page, per_page).await?;
    let body: Vec<DeliveryView> = listed.items.iter().map(DeliveryView::from).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", listed.total.to_string()))
        .json(body))
}

/// A delivery's state, to filter by.
#[derive(ToSchema)]
#[schema(as = DeliveryStatus)]
#[allow(dead_code)]
pub(crate) enum DeliveryStatusParam {
    #[schema(rename = "pending")]
    Pending,
    #[schema(rename = "delivered")]
    Delivered,
    #[schema(rename = "dead")]
    Dead,
}
