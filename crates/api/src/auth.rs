//! Authentication (SPEC §6): the [`Authenticated`] extractor. A handler that takes it cannot
//! forget to authenticate.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::Utc;
use domain::ids::UserId;
use domain::model::Session;
use futures_util::future::LocalBoxFuture;
use jwks::{TokenError, VerifiedToken};

/// At most this many candidate tokens are tried per request (one header, a few cookies), so
/// a request stuffed with cookies cannot buy many signature checks.
const MAX_CANDIDATES: usize = 4;

/// A request whose token verified and whose session is live and belongs to the token's user.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub user_id: UserId,
    pub session: Session,
}

/// The tokens to try, in order: the `Authorization: Bearer` token, then every cookie with
/// the session cookie's name.
fn candidates(req: &HttpRequest, cookie_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for value in req.headers().get_all(header::AUTHORIZATION) {
        let Ok(value) = value.to_str() else { continue };
        if let Some((scheme, token)) = value.trim().split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") {
                out.push(token.trim().to_owned());
            }
        }
    }
    for value in req.headers().get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((name, token)) = pair.trim().split_once('=') {
                if name.trim() == cookie_name {
                    out.push(token.trim().trim_matches('"').to_owned());
                }
            }
        }
    }
    out.truncate(MAX_CANDIDATES);
    out
}

/// The first candidate that verifies, reloading the keys once if a `kid` is unknown; else the
/// reason the last candidate was refused.
async fn verify_any(
    state: &AppState,
    tokens: &[String],
) -> Result<Result<VerifiedToken, &'static str>, ApiError> {
    let mut reloaded = false;
    let mut refused = "missing";
    for token in tokens {
        let now = Utc::now();
        match state.keys.verify(token, now) {
            Ok(verified) => return Ok(Ok(verified)),
            Err(TokenError::UnknownKid) if !reloaded => {
                refused = TokenError::UnknownKid.reason();
                reloaded = true;
                let keys = state.keys.clone();
                let did_reload = web::block(move || keys.reload_for_unknown_kid())
                    .await
                    .map_err(ApiError::blocking)?
                    .unwrap_or_else(|e| {
                        log::warn!("key reload failed: {e}");
                        false
                    });
                if did_reload {
                    match state.keys.verify(token, Utc::now()) {
                        Ok(verified) => return Ok(Ok(verified)),
                        Err(e) => {
                            refused = e.reason();
                            log::debug!("token refused after reload: {refused}");
                        }
                    }
                }
            }
            Err(e) => {
                refused = e.reason();
                log::debug!("token refused: {refused}");
            }
        }
    }
    Ok(Err(refused))
}

/// A request whose token verified (signature and claims); its session is not looked up yet.
/// For handlers that check the session in the same blocking call as their own database work
/// (one thread hop instead of two); they must call [`live_session`] on what they load.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedRequest {
    pub token: VerifiedToken,
}

/// The session a verified token stands for, if it is live and belongs to the token's user.
/// Every authentication path ends here, so the rule exists once.
pub fn live_session(
    session: Option<Session>,
    token: &VerifiedToken,
    now: chrono::DateTime<Utc>,
) -> Option<Session> {
    session.filter(|s| s.user_id == token.user_id && s.id == token.session_id && s.is_live_at(now))
}

fn state_of(req: &HttpRequest) -> (Option<web::Data<AppState>>, Vec<String>) {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let tokens = state
        .as_ref()
        .map(|s| candidates(req, &s.config.session.cookie.name))
        .unwrap_or_default();
    (state, tokens)
}

/// Signature and claims first: a forged token costs no query.
async fn verify_request(
    state: Option<web::Data<AppState>>,
    tokens: Vec<String>,
) -> Result<(web::Data<AppState>, VerifiedToken), ApiError> {
    let state = state.ok_or_else(|| ApiError::internal("auth", "AppState missing"))?;
    match verify_any(&state, &tokens).await? {
        Ok(token) => Ok((state, token)),
        Err(reason) => {
            state.metrics.token_rejected(reason);
            Err(ApiError::unauthorized())
        }
    }
}

impl FromRequest for VerifiedRequest {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (state, tokens) = state_of(req);
        Box::pin(async move {
            let (_, token) = verify_request(state, tokens).await?;
            Ok(VerifiedRequest { token })
        })
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (state, tokens) = state_of(req);
        Box::pin(async move {
            let (state, token) = verify_request(state, tokens).await?;
            let session = state
                .sessions
                .find(token.session_id)
                .await
                .map_err(|e| ApiError::store("session lookup", e))?;
            let now = Utc::now();
            let Some(session) = live_session(session, &token, now) else {
                state.metrics.token_rejected("session");
                return Err(ApiError::unauthorized());
            };
            if now - session.last_used >= crate::touch::TOUCH_INTERVAL {
                state.touches.note(session.id);
            }
            Ok(Authenticated {
                user_id: token.user_id,
                session,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn candidate_order_and_schemes() {
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "bEaReR  abc "))
            .insert_header((header::COOKIE, "other=x; hanko=def; hanko=\"ghi\""))
            .to_http_request();
        assert_eq!(candidates(&req, "hanko"), vec!["abc", "def", "ghi"]);

        let basic = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic abc"))
            .to_http_request();
        assert!(candidates(&basic, "hanko").is_empty());
    }
}
