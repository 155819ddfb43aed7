//! Signing keys: rotate by hand, list.

use super::AdminRefusals;
use crate::http::error::{ApiError, ErrorBody};
use crate::services::Services;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// The id of a new key, and when it starts signing.
#[derive(serde::Serialize, ToSchema)]
pub struct Rotated {
    pub kid: String,
    /// Now, or with `staged=true` after `publish_ahead` plus one refresh interval.
    pub not_before: chrono::DateTime<Utc>,
}

/// How a key is rotated by hand.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RotateKey {
    /// `true`: publish the new key now and let it sign after `secrets.rotation.publish_ahead`
    /// plus one `secrets.refresh_interval`, so no client's cached JWKS misses it (docs/keys.md "Keys
    /// and rotation"). Otherwise it signs at once: an emergency rotation, which sends clients
    /// with a cached JWKS to fetch it again.
    staged: Option<bool>,
}

/// A stored signing key (its public part is in the JWKS).
#[derive(serde::Serialize, ToSchema)]
#[schema(as = Key)]
pub struct KeyView {
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    pub created_at: chrono::DateTime<Utc>,
    /// When it starts signing (published from `created_at`).
    pub not_before: chrono::DateTime<Utc>,
    /// When the next key takes over (null while no next key exists).
    pub retired_at: Option<chrono::DateTime<Utc>>,
    /// Whether the JWKS lists it (until its tokens have expired plus one JWKS max-age).
    pub published: bool,
    /// Whether this key signs new tokens now.
    pub signing: bool,
}

#[utoipa::path(
    post,
    path = "/jwks/rotate",
    operation_id = "rotateKey",
    tag = "Keys",
    summary = "Add a signing key: at once, or published first",
    params(RotateKey),
    responses(
        (status = 201, description = "The new key's id and when it signs", body = Rotated),
        (status = 400, description = "A malformed query", body = ErrorBody),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub(crate) async fn rotate_key(
    services: web::Data<Services>,
    query: web::Query<RotateKey>,
) -> Result<HttpResponse, ApiError> {
    let (kid, not_before) = services.rotate_key(query.staged.unwrap_or(false)).await?;
    Ok(HttpResponse::Created().json(Rotated { kid, not_before }))
}

#[utoipa::path(
    get,
    path = "/jwks",
    operation_id = "listKeys",
    tag = "Keys",
    summary = "The stored keys",
    responses(
        (status = 200, description = "Every key, oldest first", body = Vec<KeyView>),
        AdminRefusals,
    ),
    security(("ApiKeyAuth" = []), ())
)]
pub(crate) async fn list_keys(services: web::Data<Services>) -> Result<HttpResponse, ApiError> {
    let list = services.list_keys().await?;
    let body: Vec<KeyView> = list
        .into_iter()
        .map(|k| KeyView {
            kid: k.kid,
            alg: k.alg.name().to_owned(),
            created_at: k.created_at,
            not_before: k.not_before,
            retired_at: k.retired_at,
            published: k.published,
            signing: k.signing,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
