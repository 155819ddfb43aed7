//! Authentication as extractors (docs/api.md, ARCHITECTURE "Authentication"). A handler that
//! takes [`Authenticated`] cannot forget to authenticate.
//!
//! Candidates are the `Authorization: Bearer` token, then the session cookie(s); the first that
//! verifies (signature and claims, before any query: a forged token costs nothing) AND stands
//! for a live session wins, so a stale header does not hide a good cookie of the same user.
//! The first token we signed fixes the request's user: another user's token is never tried.

use super::error::ApiError;
use crate::metrics::Metrics;
use crate::sessions::lookup::{LookupError, SessionLookup};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use domain::ids::UserId;
use domain::model::Session;
use futures_util::future::LocalBoxFuture;
use jwks::{KeyManager, TokenError, VerifiedToken};
use persistence::{Offload, OffloadError};
use std::sync::Arc;

/// At most this many candidate tokens are tried per request (one header, a few cookies), so
/// a request stuffed with cookies cannot buy many signature checks.
const MAX_CANDIDATES: usize = 4;

/// A request whose token verified and whose session is live and belongs to the token's user.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub user_id: UserId,
    pub session: Session,
}

/// A request whose candidate tokens were verified (signature and claims) but whose sessions
/// were not looked up yet: for a handler whose own database work checks the session while it
/// holds its locks (`DELETE /user`: the deletion checks that a session is live).
#[derive(Clone, Debug)]
pub struct VerifiedTokens {
    /// The request's user: every token below names this user.
    pub user_id: UserId,
    /// The verified candidates, in the order they are to be tried (never empty).
    pub tokens: Vec<VerifiedToken>,
}

/// Why a request is not authenticated. Clients see one 401 for all of them; the reason goes
/// to the `hanko_token_rejections_total` metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No token in the header or the cookie.
    NoToken,
    /// The (last) token was refused.
    Token(TokenError),
    /// Tokens verified, but none stands for a live session of its user.
    NoLiveSession,
    /// The (last) token names another user than the first token signed by us.
    AnotherUser,
}

impl Rejection {
    /// The metric label.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NoToken => "missing",
            Self::Token(e) => e.reason(),
            Self::NoLiveSession => "session",
            Self::AnotherUser => "another_user",
        }
    }
}

/// Why authentication did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication refused: {}", .0.reason())]
    Rejected(Rejection),
    #[error("looking the session up")]
    Lookup(#[source] LookupError),
    #[error("reloading keys for an unknown kid")]
    Blocking(#[source] OffloadError),
}

impl AuthError {
    /// The response, counting a rejection in the metrics.
    fn into_api_error(self, metrics: &Metrics) -> ApiError {
        match self {
            Self::Rejected(rejection) => {
                metrics.token_rejected(rejection.reason());
                ApiError::unauthorized()
            }
            other => ApiError::internal("authentication", other),
        }
    }
}

/// The session a verified token stands for, if it is live and belongs to the token's user.
/// Every authentication path ends here, so the rule exists once.
fn live_session(
    session: Option<Session>,
    token: &VerifiedToken,
    now: DateTime<Utc>,
) -> Option<Session> {
    session.filter(|s| s.user_id == token.user_id && s.id == token.session_id && s.is_live_at(now))
}

/// The tokens to try, in order: `Authorization: Bearer`, then every cookie with the session
/// cookie's name; no more than [`MAX_CANDIDATES`] are even copied.
fn candidates(req: &HttpRequest, cookie_name: &str) -> Vec<String> {
    let bearer = req
        .headers()
        .get_all(header::AUTHORIZATION)
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let cookies = req
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| name.trim() == cookie_name)
        .map(|(_, token)| token.trim().trim_matches('"'));
    bearer
        .chain(cookies)
        .take(MAX_CANDIDATES)
        .map(str::to_owned)
        .collect()
}

/// The candidates that verify, in order; a `kid` nobody knows triggers one (rate-limited) key
/// reload before it is refused.
///
/// A request acts for one user (ARCHITECTURE.md, "Invariants"): the first candidate whose signature verifies names
/// it, even if its claims are refused (an expired token of ours is still ours), and a later
/// candidate counts only if it names the same user. Otherwise a dead header token of one user
/// beside another user's cookie would act on the second.
async fn verify_candidates(
    keys: &Arc<KeyManager>,
    offload: &Offload,
    tokens: Vec<String>,
) -> Result<Vec<VerifiedToken>, AuthError> {
    let mut verified = Vec::with_capacity(tokens.len());
    let mut rejection = Rejection::NoToken;
    let mut reloaded = false;
    let mut request_user: Option<UserId> = None;
    for token in tokens {
        let mut result = keys.verify_candidate(&token, Utc::now());
        if matches!(&result, Err(r) if r.reason == TokenError::UnknownKid)
            && !reloaded
            && keys.may_reload_for_unknown_kid()
        {
            reloaded = true;
            let manager = keys.clone();
            let did_reload = offload
                .call("reloading keys", move || manager.reload_for_unknown_kid())
                .await
                .map_err(AuthError::Blocking)?
                .unwrap_or_else(|e| {
                    log::warn!("key reload failed: {}", crate::report::Report(&e));
                    false
                });
            if did_reload {
                result = keys.verify_candidate(&token, Utc::now());
            }
        }
        let signed_for = match &result {
            Ok(token) => Some(token.user_id),
            Err(refusal) => refusal.signed_subject,
        };
        if let Some(user) = signed_for {
            if *request_user.get_or_insert(user) != user {
                log::debug!("token refused: it names another user than the request's first");
                rejection = Rejection::AnotherUser;
                continue;
            }
        }
        match result {
            Ok(token) => verified.push(token),
            Err(refusal) => {
                log::debug!("token refused: {}", refusal.reason.reason());
                rejection = Rejection::Token(refusal.reason);
            }
        }
    }
    if verified.is_empty() {
        Err(AuthError::Rejected(rejection))
    } else {
        Ok(verified)
    }
}

/// The first verified candidate whose session is live.
async fn first_live(
    sessions: &SessionLookup,
    tokens: Vec<VerifiedToken>,
) -> Result<(VerifiedToken, Session), AuthError> {
    for token in tokens {
        let found = sessions
            .find(token.session_id)
            .await
            .map_err(AuthError::Lookup)?;
        if let Some(session) = live_session(found, &token, Utc::now()) {
            return Ok((token, session));
        }
    }
    Err(AuthError::Rejected(Rejection::NoLiveSession))
}

/// What both extractors start from: the state and the request's candidates.
fn begin(req: &HttpRequest) -> Result<(web::Data<AppState>, Vec<String>), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("authentication", MissingState))?;
    let tokens = candidates(req, &state.config.session.cookie.name);
    Ok((state, tokens))
}

#[derive(Debug, thiserror::Error)]
#[error("the application state is not registered on this listener")]
struct MissingState;

impl FromRequest for VerifiedTokens {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let begun = begin(req);
        Box::pin(async move {
            let (state, tokens) = begun?;
            let tokens = verify_candidates(&state.keys, &state.offload, tokens)
                .await
                .map_err(|e| e.into_api_error(&state.metrics))?;
            match tokens.first() {
                Some(first) => Ok(VerifiedTokens {
                    user_id: first.user_id,
                    tokens,
                }),
                // `verify_candidates` refuses an empty list; say so if that ever changes.
                None => Err(AuthError::Rejected(Rejection::NoToken).into_api_error(&state.metrics)),
            }
        })
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let begun = begin(req);
        Box::pin(async move {
            let (state, tokens) = begun?;
            let authenticated = async {
                let verified = verify_candidates(&state.keys, &state.offload, tokens).await?;
                first_live(&state.sessions, verified).await
            };
            let (token, session) = authenticated
                .await
                .map_err(|e| e.into_api_error(&state.metrics))?;
            state.touches.note_use(&session, Utc::now());
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

    #[test]
    fn at_most_four_candidates() {
        let req = TestRequest::default()
            .insert_header((
                header::COOKIE,
                "hanko=1; hanko=2; hanko=3; hanko=4; hanko=5",
            ))
            .to_http_request();
        assert_eq!(candidates(&req, "hanko"), vec!["1", "2", "3", "4"]);
    }
}
