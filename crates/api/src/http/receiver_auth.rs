//! The SSF receivers' authentication (docs/events.md, "Shared Signals"): `Authorization: Bearer
//! <receiver token>`. Tokens are stored only as their SHA-256; the lookup is by that hash, and
//! the stored hash is compared with the presented one in constant time. Every failure is the
//! same 401.

use super::error::ApiError;
use crate::services::streams::token_hash;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use domain::ports::SsfStore;
use domain::ssf::Receiver;
use futures_util::future::LocalBoxFuture;

/// Tokens longer than this are refused before hashing.
const MAX_TOKEN_LEN: usize = 512;

/// A receiver that presented its token.
pub struct AuthenticatedReceiver(pub Receiver);

pub(crate) fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= MAX_TOKEN_LEN)
        .then(|| token.to_owned())
}

impl FromRequest for AuthenticatedReceiver {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(ApiError::unauthorized().into());
            };
            let presented = token_hash(&token);
            let db = state.db.clone();
            let lookup = presented.clone();
            let found = state
                .offload
                .run("authenticating a receiver", move || {
                    db.receiver_by_token_hash(&lookup)
                })
                .await
                .map_err(ApiError::from)?;
            match found {
                Some((receiver, stored))
                    if aws_lc_rs::constant_time::verify_slices_are_equal(
                        stored.as_bytes(),
                        presented.as_bytes(),
                    )
                    .is_ok() =>
                {
                    Ok(Self(receiver))
                }
                _ => Err(ApiError::unauthorized().into()),
            }
        })
    }
}
