//! The inactivity policy: what a pass at a given instant would do (docs/retention.md).

use super::AdminRefusals;
use crate::http::error::{ApiError, ErrorBody};
use crate::services::Services;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::retention::{PreviewRefused, PreviewedUser, RetentionAction, RetentionPreview};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PreviewQuery {
    /// The instant of the pass (RFC 3339); now unless given.
    at: Option<DateTime<Utc>>,
}

/// What a pass at `at` would do: how many users it would warn and delete, and the first 100 of
/// them, deletions first.
#[derive(Serialize, ToSchema)]
#[schema(as = RetentionPreview)]
pub struct PreviewView {
    pub at: DateTime<Utc>,
    pub warn: u64,
    pub delete: u64,
    pub users: Vec<PreviewedUserView>,
}

/// One user a pass would act on.
#[derive(Serialize, ToSchema)]
#[schema(as = RetentionPreviewUser)]
pub struct PreviewedUserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: domain::ids::UserId,
    /// The primary address, if any.
    pub email: Option<String>,
    /// `delete` (scheduled when a grace period is set) or `warn`.
    #[schema(value_type = String, pattern = "^(warn|delete)$")]
    pub action: RetentionAction,
    pub last_active_at: DateTime<Utc>,
    pub inactivity_warned_at: Option<DateTime<Utc>>,
}

impl From<RetentionPreview> for PreviewView {
    fn from(p: RetentionPreview) -> Self {
        Self {
            at: p.at,
            warn: p.warn,
            delete: p.delete,
            users: p.users.into_iter().map(PreviewedUserView::from).collect(),
        }
    }
}

impl From<PreviewedUser> for PreviewedUserView {
    fn from(u: PreviewedUser) -> Self {
        Self {
            id: u.id,
            email: u.email,
            action: u.action,
            last_active_at: u.last_active_at,
            inactivity_warned_at: u.inactivity_warned_at,
        }
    }
}

#[utoipa::path(
    get,
    path = "/retention/preview",
    operation_id = "previewRetention",
    tag = "Users",
    summary = "What the inactivity policy would do at an instant, changing nothing",
    params(PreviewQuery),
    responses(
        (status = 200, description = "The counts and the first 100 users", body = PreviewView),
        (status = 400, description = "A malformed query, or an instant outside the years 1970 to 9999", body = ErrorBody),
        (status = 409, description = "No inactivity policy is configured (account.retention.inactive_after)", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub(crate) async fn preview(
    services: web::Data<Services>,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, ApiError> {
    let at = query.into_inner().at.unwrap_or_else(Utc::now);
    match services.retention_preview(at).await? {
        Ok(preview) => Ok(HttpResponse::Ok().json(PreviewView::from(preview))),
        Err(refused @ PreviewRefused::NoPolicy) => {
            Err(ApiError::refused(StatusCode::CONFLICT, refused.to_string()))
        }
        Err(refused @ PreviewRefused::OutOfRange) => {
            Err(ApiError::bad_request(refused.to_string()))
        }
    }
}
