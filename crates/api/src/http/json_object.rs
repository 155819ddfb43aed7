//! Request bodies as JSON objects only. serde would also read a struct from an array of its
//! fields (`[[]]` as `{"emails": []}`); the API describes objects, so anything else is a 400.

use super::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// A JSON object body decoded as `T` (the configured `web::JsonConfig` limits apply).
pub struct JsonObject<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = body.await?.into_inner();
            if !value.is_object() {
                return Err(ApiError::status(StatusCode::BAD_REQUEST).into());
            }
            serde_json::from_value(value).map(JsonObject).map_err(|e| {
                log::debug!("bad request body: {e}");
                ApiError::status(StatusCode::BAD_REQUEST).into()
            })
        })
    }
}
