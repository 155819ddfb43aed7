//! Session token claims and the verification rules (ARCHITECTURE.md, "Tokens").

use crate::algorithm::KeyAlgorithm;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::ids::{SessionId, UserId};
use serde::{Deserialize, Serialize};

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Key ids longer than this are refused (ours are 22 or 43 characters).
pub const MAX_KID_LEN: usize = 128;

/// The claims of a session token, as issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub sub: String,
    pub session_id: String,
    pub iat: i64,
    pub exp: i64,
    pub aud: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// What a verified token proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub issued_at: Option<i64>,
    pub expires_at: i64,
    pub not_before: Option<i64>,
}

/// Why a token was refused. Never shown to clients (they all get the same 401); logged and
/// counted by [`TokenError::reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token longer than {MAX_TOKEN_LEN} bytes")]
    TooLarge,
    #[error("not three base64url segments")]
    Malformed,
    #[error("header is not a JSON object")]
    Header,
    #[error("algorithm is not the one of the key its kid names")]
    Algorithm,
    #[error("kid missing, not a string or too long")]
    Kid,
    #[error("no key with this kid")]
    UnknownKid,
    #[error("crit lists extensions we do not understand")]
    Crit,
    #[error("typ names another kind of token than a JWT")]
    Type,
    #[error("signature does not verify")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("not valid yet (nbf)")]
    NotYetValid,
    #[error("issued in the future (iat)")]
    IssuedInFuture,
    #[error("wrong audience")]
    Audience,
    #[error("wrong issuer")]
    Issuer,
    #[error("required claim missing or of the wrong type")]
    Claims,
}

impl TokenError {
    /// A short stable label, for logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::Header => "header",
            Self::Algorithm => "algorithm",
            Self::Kid => "kid",
            Self::UnknownKid => "unknown_kid",
            Self::Crit => "crit",
            Self::Type => "typ",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::Audience => "audience",
            Self::Issuer => "issuer",
            Self::Claims => "claims",
        }
    }
}

/// A refused token, with the user its signature vouches for when it got that far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: TokenError,
    /// The `sub` of a token whose signature verified but whose claims were refused (expired,
    /// wrong audience, …): a token we signed for this user, so a request that carries it acts
    /// for this user or for no one (ARCHITECTURE.md, "Invariants"). `None` when the signature did not verify.
    pub signed_subject: Option<UserId>,
}

impl Refusal {
    /// Refused before the signature was known to be ours.
    pub(crate) fn unsigned(reason: TokenError) -> Self {
        Self {
            reason,
            signed_subject: None,
        }
    }
}

impl From<TokenError> for Refusal {
    fn from(reason: TokenError) -> Self {
        Self::unsigned(reason)
    }
}

/// The header fields we look at before trusting anything. `jku`, `jwk`, `x5u` and `x5c` are
/// deliberately not read: keys come only from our own store, found by `kid`.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<serde_json::Value>,
    kid: Option<serde_json::Value>,
    crit: Option<serde_json::Value>,
    typ: Option<serde_json::Value>,
}

/// Structural checks and the header, before any key is looked up.
pub(crate) fn precheck(token: &str) -> Result<Parts<'_>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    let segments: Vec<&str> = token.split('.').collect();
    let well_formed = segments.len() == 3
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !well_formed {
        return Err(TokenError::Malformed);
    }
    let header_json = URL_SAFE_NO_PAD
        .decode(segments[0])
        .map_err(|_| TokenError::Malformed)?;
    let header: RawHeader = serde_json::from_slice(&header_json).map_err(|_| TokenError::Header)?;
    // Only a name we sign with gets further; that it is the named key's own algorithm is
    // checked once the key is found.
    let alg = header
        .alg
        .as_ref()
        .and_then(|a| a.as_str())
        .and_then(KeyAlgorithm::from_name)
        .ok_or(TokenError::Algorithm)?;
    // We implement no JWS extensions, so any `crit` (even an empty one, which RFC 7515
    // forbids) is refused.
    if header.crit.is_some() {
        return Err(TokenError::Crit);
    }
    // A session token is a plain JWT: a SET (`secevent+jwt`), a logout token (`logout+jwt`)
    // or anything else typed never passes as one, whatever its audience (RFC 8725 §3.11).
    match &header.typ {
        None => {}
        Some(serde_json::Value::String(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
        Some(_) => return Err(TokenError::Type),
    }
    let kid = match header.kid {
        Some(serde_json::Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => kid,
        _ => return Err(TokenError::Kid),
    };
    let signing_input_len = segments[0].len() + 1 + segments[1].len();
    Ok(Parts {
        alg,
        kid,
        signing_input: &token[..signing_input_len],
        payload: segments[1],
        signature: segments[2],
    })
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The claims we check, with their types. Extra claims are allowed; a claim of the wrong type
/// fails the whole parse.
#[derive(Deserialize)]
struct CheckedClaims {
    sub: String,
    session_id: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    iss: Option<String>,
}

/// What the claims must satisfy, prepared once from the token policy.
pub(crate) struct ClaimRules {
    pub audience: Vec<String>,
    pub issuer: Option<String>,
    pub leeway: i64,
}

/// Checks the claims (after the signature verified): types, `exp`, `nbf`, future `iat` with
/// the leeway, `aud`, `iss`, and the ids.
pub(crate) fn check_claims(
    payload_b64: &str,
    rules: &ClaimRules,
    now: i64,
) -> Result<VerifiedToken, TokenError> {
    let json = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TokenError::Malformed)?;
    let claims: CheckedClaims = serde_json::from_slice(&json).map_err(|_| TokenError::Claims)?;
    let times = TimeClaims {
        exp: claims.exp,
        nbf: claims.nbf,
        iat: claims.iat,
    };
    times.check(now, rules.leeway)?;
    let audience_ok = match &claims.aud {
        None => return Err(TokenError::Claims),
        Some(Audience::One(a)) => rules.audience.iter().any(|x| x == a),
        Some(Audience::Many(list)) => list.iter().any(|a| rules.audience.contains(a)),
    };
    if !audience_ok {
        return Err(TokenError::Audience);
    }
    if let Some(expected) = &rules.issuer {
        match &claims.iss {
            None => return Err(TokenError::Claims),
            Some(iss) if iss != expected => return Err(TokenError::Issuer),
            Some(_) => {}
        }
    }
    let user_id = claims.sub.parse().map_err(|_| TokenError::Claims)?;
    let session_id = claims.session_id.parse().map_err(|_| TokenError::Claims)?;
    Ok(VerifiedToken {
        user_id,
        session_id,
        issued_at: claims.iat,
        expires_at: claims.exp,
        not_before: claims.nbf,
    })
}

/// The `sub` of a payload whose signature verified, if it names a user.
pub(crate) fn signed_subject(payload_b64: &str) -> Option<UserId> {
    #[derive(Deserialize)]
    struct Subject {
        sub: String,
    }
    let json = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
    let claims: Subject = serde_json::from_slice(&json).ok()?;
    claims.sub.parse().ok()
}

/// The time claims, checked on every use of a token (remembered or not).
pub(crate) struct TimeClaims {
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
}

impl TimeClaims {
    /// `exp` must be in the future, `nbf` and `iat` not, each with `leeway` seconds of skew.
    pub(crate) fn check(&self, now: i64, leeway: i64) -> Result<(), TokenError> {
        if now >= self.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(TokenError::NotYetValid);
        }
        if self.iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(())
    }
}

/// The parts of a token that passed [`precheck`]: its `alg` and `kid`, what was signed, the payload
/// and the signature.
pub(crate) struct Parts<'a> {
    pub alg: KeyAlgorithm,
    pub kid: String,
    pub signing_input: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn precheck_reasons() {
        let good_header = b64(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
        let cases: Vec<(&str, String, Result<String, TokenError>)> = vec![
            ("good", format!("{good_header}.e30.c2ln"), Ok("k1".into())),
            (
                "two segments",
                format!("{good_header}.e30"),
                Err(TokenError::Malformed),
            ),
            (
                "four segments",
                format!("{good_header}.e30.c2ln.eA"),
                Err(TokenError::Malformed),
            ),
            (
                "padding",
                format!("{good_header}.e30=.c2ln"),
                Err(TokenError::Malformed),
            ),
            (
                "space",
                format!(" {good_header}.e30.c2ln"),
                Err(TokenError::Malformed),
            ),
            (
                "empty signature",
                format!("{good_header}.e30."),
                Err(TokenError::Malformed),
            ),
            (
                "alg none",
                format!("{}.e30.c2ln", b64(r#"{"alg":"none","kid":"k1"}"#)),
                Err(TokenError::Algorithm),
            ),
            (
                "alg HS256",
                format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","kid":"k1"}"#)),
                Err(TokenError::Algorithm),
            ),
            (
                "alg of another case",
                format!("{}.e30.c2ln", b64(r#"{"alg":"rs256","kid":"k1"}"#)),
                Err(TokenError::Algorithm),
            ),
            (
                "alg number",
                format!("{}.e30.c2ln", b64(r#"{"alg":1,"kid":"k1"}"#)),
                Err(TokenError::Algorithm),
            ),
            (
                "kid number",
                format!("{}.e30.c2ln", b64(r#"{"alg":"RS256","kid":1}"#)),
                Err(TokenError::Kid),
            ),
            (
                "no kid",
                format!("{}.e30.c2ln", b64(r#"{"alg":"RS256"}"#)),
                Err(TokenError::Kid),
            ),
            (
                "crit",
                format!(
                    "{}.e30.c2ln",
                    b64(r#"{"alg":"RS256","kid":"k1","crit":["exp"]}"#)
                ),
                Err(TokenError::Crit),
            ),
            (
                "header array",
                format!("{}.e30.c2ln", b64("[1]")),
                Err(TokenError::Header),
            ),
            (
                "too large",
                "a".repeat(MAX_TOKEN_LEN + 1),
                Err(TokenError::TooLarge),
            ),
        ];
        for (name, token, expected) in cases {
            assert_eq!(precheck(&token).map(|p| p.kid), expected, "{name}");
        }
    }
}
