//! The three wire formats of a delivery (docs/events.md "Webhooks"): what is sent for an event, and
//! what the receiver's answer means.
//!
//! - `hanko`: Hanko's envelope `{"event", "token"}`, the JWT signed with the current key
//!   (verify with the public JWKS), `aud` the hook's audience (never a session audience),
//!   `jti` the event id; header `Webhook-Id`.
//! - `standard`: Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`
//!   (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per secret).
//! - `set`: a Security Event Token (RFC 8417, `typ: secevent+jwt`) pushed as RFC 8935, with the
//!   RISC/CAEP event type of the event.
//! - `backchannel_logout`: an OpenID Connect Back-Channel Logout 1.0 logout token
//!   (`typ: logout+jwt`), form-encoded as `logout_token`.

use super::config::{HookFormat, WebhookConfig};
use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use domain::config::Issuer;
use domain::events::EventKind;
use domain::model::OutboxEvent;
use jwks::{KeyError, KeyManager};
use serde::Serialize;
use serde_json::{json, Value};

/// How long a `hanko` webhook token is valid.
const TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(5);
/// How long a logout token is valid (OIDC Back-Channel Logout 1.0 §2.4 recommends at most two
/// minutes).
const LOGOUT_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(2);
/// The one member of a logout token's `events` claim.
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A request ready to send.
pub struct Prepared {
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What the receiver's answer means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Delivered,
    /// Try again later.
    Failed(String),
    /// The receiver refused the event for good (RFC 8935 error): never retried.
    Refused(String),
}

/// The `iss` of tokens, and what signs them.
pub struct Signer<'a> {
    pub keys: &'a KeyManager,
    /// `session.issuer`: optional for `hanko` tokens, required (validated) for SETs and logout
    /// tokens, which refuse to go without one rather than send an empty `iss`.
    pub issuer: Option<&'a Issuer>,
}

impl<'a> Signer<'a> {
    fn required_issuer(&self) -> Result<&'a str, PrepareError> {
        self.issuer
            .map(Issuer::as_str)
            .ok_or(PrepareError::NoIssuer)
    }
}

#[derive(Serialize)]
struct HankoClaims<'a> {
    sub: &'static str,
    aud: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    iat: i64,
    exp: i64,
    jti: String,
    evt: &'a str,
    data: &'a Value,
}

#[derive(Serialize)]
struct SetClaims<'a> {
    iss: &'a str,
    aud: &'a [String],
    iat: i64,
    jti: String,
    sub_id: Value,
    events: Value,
}

/// A logout token's claims (OIDC Back-Channel Logout 1.0 §2.4): never a `nonce`.
#[derive(Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    /// The relying party's client id: a string when it is one, as most relying parties compare.
    aud: Value,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    events: Value,
}

/// Why a delivery's request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// No key could sign it now (retried: keys come back).
    #[error("signing the delivery")]
    Signing(#[from] KeyError),
    /// The body does not serialise: it never will (dead at once, never an empty signed body).
    #[error("the delivery's body does not serialise")]
    Body(#[source] serde_json::Error),
    /// The event names no user to be its SET's subject: it never will (dead at once, never an
    /// empty `sub_id`).
    #[error("event {event} names no user to be the subject")]
    NoSubject { event: String },
    /// A SET or logout token with no `session.issuer` (configuration validation requires it
    /// for these formats and for SSF: only a hook changed under a running instance meets this).
    #[error("no session.issuer to be the token's iss")]
    NoIssuer,
    /// A `set` or `backchannel_logout` hook with no `audience` (validation requires one).
    #[error("the hook has no audience")]
    NoAudience,
    /// The signing thread did not finish the job (the process is stopping): retried.
    #[error("signing the delivery did not complete")]
    Unfinished(#[source] persistence::OffloadError),
}

impl PrepareError {
    /// Whether a later attempt could succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Signing(_) | Self::Unfinished(_))
    }
}

/// The request for `event` to `hook`, at `now`.
pub fn prepare(
    hook: &WebhookConfig,
    event: &OutboxEvent,
    signer: &Signer<'_>,
    now: DateTime<Utc>,
) -> Result<Prepared, PrepareError> {
    match hook.format {
        HookFormat::Hanko => {
            let audience = hook.token_audience();
            let claims = HankoClaims {
                sub: "hanko webhooks",
                aud: &audience,
                iss: signer.issuer.map(Issuer::as_str),
                iat: now.timestamp(),
                exp: (now + TOKEN_LIFETIME).timestamp(),
                jti: event.id.to_string(),
                evt: &event.event,
                data: &event.payload,
            };
            let token = signer.keys.sign(&claims, now)?;
            Ok(Prepared {
                content_type: "application/json",
                headers: vec![("Webhook-Id", event.id.to_string())],
                body: json_bytes(&json!({ "event": event.event, "token": token }))?,
            })
        }
        HookFormat::Standard => {
            let body = json_bytes(&json!({
                "type": event.event,
                "timestamp": event.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "data": event.payload,
            }))?;
            let id = event.id.to_string();
            let timestamp = now.timestamp().to_string();
            let signatures = standard_signatures(&hook.standard_keys(), &id, &timestamp, &body);
            Ok(Prepared {
                content_type: "application/json",
                headers: vec![
                    ("webhook-id", id),
                    ("webhook-timestamp", timestamp),
                    ("webhook-signature", signatures),
                ],
                body,
            })
        }
        HookFormat::BackchannelLogout => {
            let audience = hook.audience.clone().ok_or(PrepareError::NoAudience)?;
            let sid = match EventKind::from_name(&event.event) {
                // The session that ended; a user event ends every session of the user.
                Some(EventKind::SessionDelete) => event.payload["id"].as_str(),
                _ => None,
            };
            let claims = LogoutClaims {
                iss: signer.required_issuer()?,
                aud: match audience.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                },
                // Fresh on each attempt; the jti stays the event's, so the relying party can
                // tell a retry from a new logout.
                iat: now.timestamp(),
                exp: (now + LOGOUT_TOKEN_LIFETIME).timestamp(),
                jti: event.id.to_string(),
                sub: subject_of(event)?,
                sid,
                events: json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
            };
            let token = signer.keys.sign_typed(&claims, "logout+jwt", now)?;
            Ok(Prepared {
                content_type: "application/x-www-form-urlencoded",
                headers: Vec::new(),
                // A JWS is base64url and dots: nothing in it needs form encoding.
                body: format!("logout_token={token}").into_bytes(),
            })
        }
        HookFormat::Set => {
            let audience = hook.audience.clone().ok_or(PrepareError::NoAudience)?;
            let claims = SetClaims {
                iss: signer.required_issuer()?,
                aud: &audience,
                iat: now.timestamp(),
                jti: event.id.to_string(),
                sub_id: json!({ "format": "opaque", "id": subject_of(event)? }),
                events: set_events(event),
            };
            let token = signer.keys.sign_typed(&claims, "secevent+jwt", now)?;
            Ok(Prepared {
                content_type: "application/secevent+jwt",
                headers: vec![("Accept", "application/json".to_owned())],
                body: token.into_bytes(),
            })
        }
    }
}

/// The SET of `event` for an SSF stream (docs/events.md, "Shared Signals"): as a `set` hook's, with the
/// receiver's audience; a verification event names the stream as its subject and echoes the
/// receiver's `state`.
pub fn stream_set(
    audience: &str,
    stream_id: uuid::Uuid,
    event: &OutboxEvent,
    signer: &Signer<'_>,
    now: DateTime<Utc>,
) -> Result<String, PrepareError> {
    let audience = [audience.to_owned()];
    // A verification is about the stream itself; every other event about its user.
    let subject = match EventKind::from_name(&event.event) {
        Some(EventKind::SsfVerification) => stream_id.to_string(),
        _ => subject_of(event)?.to_owned(),
    };
    let (sub_id, events) = (
        json!({ "format": "opaque", "id": subject }),
        set_events(event),
    );
    let claims = SetClaims {
        iss: signer.required_issuer()?,
        aud: &audience,
        iat: now.timestamp(),
        jti: event.id.to_string(),
        sub_id,
        events,
    };
    Ok(signer.keys.sign_typed(&claims, "secevent+jwt", now)?)
}

/// Reads the receiver's answer as the format defines it.
pub fn answer(format: HookFormat, status: u16, body: &[u8]) -> Answer {
    match format {
        HookFormat::Hanko | HookFormat::Standard if (200..300).contains(&status) => {
            Answer::Delivered
        }
        // RFC 8935 §2.3 asks for 202; any 2xx says the SET arrived, and is not worth resending.
        HookFormat::Set if (200..300).contains(&status) => Answer::Delivered,
        // RFC 8935 §2.4: a 400 with an error code is the receiver's final word on this SET.
        HookFormat::Set if status == 400 => match set_error(body) {
            Some(err) => Answer::Refused(format!("HTTP 400 {err}")),
            None => Answer::Failed("HTTP 400".to_owned()),
        },
        // OIDC Back-Channel Logout 1.0 §2.8: 200 (or 204) on success; 400 when the relying
        // party could not validate or act on the token, which another attempt will not change.
        HookFormat::BackchannelLogout if status == 200 || status == 204 => Answer::Delivered,
        HookFormat::BackchannelLogout if status == 400 => {
            Answer::Refused("HTTP 400 (the relying party refused the logout token)".to_owned())
        }
        _ => Answer::Failed(format!("HTTP {status}")),
    }
}

/// The `err` code of an RFC 8935 error body (a short token, safe to record).
fn set_error(body: &[u8]) -> Option<String> {
    let parsed: Value = serde_json::from_slice(body).ok()?;
    let err = parsed.get("err")?.as_str()?;
    let plain = err.len() <= 64 && err.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    plain.then(|| err.to_owned())
}

fn json_bytes(value: &Value) -> Result<Vec<u8>, PrepareError> {
    serde_json::to_vec(value).map_err(PrepareError::Body)
}

/// `v1,<sig>` for each key, space-separated.
fn standard_signatures(keys: &[Vec<u8>], id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut signed = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    keys.iter()
        .map(|key| {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &signed);
            format!("v1,{}", STANDARD.encode(tag.as_ref()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The user an event is about.
fn subject_of(event: &OutboxEvent) -> Result<&str, PrepareError> {
    // A row from a newer version names its user as ours do.
    let field = EventKind::from_name(&event.event)
        .map_or(Some("id"), EventKind::user_field)
        .ok_or_else(|| PrepareError::NoSubject {
            event: event.id.to_string(),
        })?;
    event.payload[field]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| PrepareError::NoSubject {
            event: event.id.to_string(),
        })
}

/// The one-member `events` claim: the event's SET type (`EventKind::set_event_type`), with
/// the body its type defines.
fn set_events(event: &OutboxEvent) -> Value {
    let Some((kind, set_type)) = EventKind::from_name(&event.event)
        .and_then(|kind| kind.set_event_type().map(|t| (kind, t)))
    else {
        // Not in the catalogue (a row from a newer version) or never a SET (no hook or stream
        // carries it): say what it is, in our namespace.
        return json!({ format!("urn:hanko-rs:event:{}", event.event): {} });
    };
    let body = match kind {
        EventKind::SessionDelete => json!({ "event_timestamp": event.created_at.timestamp() }),
        EventKind::SsfVerification => {
            let state = &event.payload["state"];
            if state.is_string() {
                json!({ "state": state })
            } else {
                json!({})
            }
        }
        EventKind::UserDelete
        | EventKind::UserDeleteScheduled
        | EventKind::UserDeleteCancelled
        | EventKind::UserDeactivated
        | EventKind::UserReactivated
        | EventKind::UserInactivityWarning => json!({}),
    };
    json!({ set_type: body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_signature_matches_the_spec_example() {
        // The example of the Standard Webhooks specification.
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            standard_signatures(&[key], "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    /// Property tests of what meets the outside world here: the signature header receivers
    /// check, and the answers they send back (`PROPTEST_CASES=100000` runs them longer).
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// `PROPTEST_CASES`, or this many.
        fn cases(default: u32) -> ProptestConfig {
            let cases = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(default);
            ProptestConfig::with_cases(cases)
        }

        /// What a receiver does with `webhook-signature`, as the Standard Webhooks
        /// specification says: split on spaces, keep the `v1,` entries, and accept if one of
        /// them is the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under its key.
        fn receiver_accepts(
            header: &str,
            key: &[u8],
            id: &str,
            timestamp: &str,
            body: &[u8],
        ) -> bool {
            let mut signed = format!("{id}.{timestamp}.").into_bytes();
            signed.extend_from_slice(body);
            let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &signed);
            header
                .split(' ')
                .filter_map(|entry| entry.strip_prefix("v1,"))
                .filter_map(|sig| STANDARD.decode(sig).ok())
                .any(|sig| sig.as_slice() == expected.as_ref())
        }

        proptest! {
            #![proptest_config(cases(2000))]

            /// Every key's signature is in the header, each verifies with its key alone (so a
            /// secret can be rotated), the header is one line of `v1,<base64>` entries, and a
            /// changed body verifies with none.
            #[test]
            fn standard_signatures_verify_with_each_key(
                keys in prop::collection::vec(prop::collection::vec(any::<u8>(), 24..64), 1..4),
                id in "[ -~]{0,64}",
                timestamp in "[0-9]{1,12}",
                body in prop::collection::vec(any::<u8>(), 0..512),
            ) {
                let header = standard_signatures(&keys, &id, &timestamp, &body);
                let entries: Vec<&str> = header.split(' ').collect();
                prop_assert_eq!(entries.len(), keys.len());
                for entry in &entries {
                    let sig = entry.strip_prefix("v1,").unwrap();
                    prop_assert_eq!(STANDARD.decode(sig).unwrap().len(), 32);
                }
                for key in &keys {
                    prop_assert!(receiver_accepts(&header, key, &id, &timestamp, &body));
                    let mut changed = body.clone();
                    changed.push(b'!');
                    prop_assert!(!receiver_accepts(&header, key, &id, &timestamp, &changed));
                }
            }

            /// A receiver's answer (any status, any body) means what its format says, in both
            /// directions: delivered exactly on the format's success statuses, refused for good
            /// exactly on its final refusals (with a reason of at most a short token of the
            /// body, never the body itself), failed (retried) on everything else.
            #[test]
            fn any_answer_is_read_safely(
                format in prop_oneof![
                    Just(HookFormat::Hanko),
                    Just(HookFormat::Standard),
                    Just(HookFormat::Set),
                    Just(HookFormat::BackchannelLogout),
                ],
                status in prop_oneof![100u16..600, Just(200u16), Just(202u16), Just(204u16), Just(400u16)],
                body in prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..256),
                    "\\{\"err\":\"[ -~]{0,80}\"(,\"description\":\"[ -~]{0,40}\")?\\}"
                        .prop_map(String::into_bytes),
                    "\\{\"err\":\"[a-z_]{1,20}\"\\}".prop_map(String::into_bytes),
                ],
            ) {
                let success = match format {
                    HookFormat::BackchannelLogout => status == 200 || status == 204,
                    _ => (200..300).contains(&status),
                };
                let final_refusal = match format {
                    HookFormat::Set => status == 400 && set_error(&body).is_some(),
                    HookFormat::BackchannelLogout => status == 400,
                    _ => false,
                };
                match answer(format, status, &body) {
                    Answer::Delivered => prop_assert!(success, "{:?} {} delivered", format, status),
                    Answer::Refused(reason) => {
                        prop_assert!(final_refusal, "{:?} {} refused: {}", format, status, reason);
                        prop_assert!(reason.len() <= "HTTP 400 ".len() + 64, "{}", reason);
                    }
                    Answer::Failed(reason) => {
                        prop_assert!(!success && !final_refusal, "{:?} {} failed: {}", format, status, reason);
                    }
                }
            }
        }
    }

    /// An event that names no user is never sent with an empty subject: it is refused, for
    /// good (the delivery dies with the reason instead of being retried).
    #[test]
    fn an_event_without_a_subject_is_refused_not_sent_empty() {
        let event = |payload: Value| OutboxEvent {
            id: domain::ids::EventId::new_random(),
            event: "user.delete".into(),
            payload,
            created_at: Utc::now(),
        };
        for payload in [json!({}), json!({"id": ""}), json!({"id": 7})] {
            let refused = subject_of(&event(payload.clone())).unwrap_err();
            assert!(
                matches!(refused, PrepareError::NoSubject { .. }),
                "{payload}"
            );
            assert!(!refused.is_retryable());
        }
        assert_eq!(subject_of(&event(json!({"id": "u1"}))).unwrap(), "u1");
    }

    #[test]
    fn set_answers() {
        assert_eq!(answer(HookFormat::Set, 202, b""), Answer::Delivered);
        assert_eq!(
            answer(HookFormat::Set, 400, br#"{"err":"invalid_request"}"#),
            Answer::Refused("HTTP 400 invalid_request".to_owned())
        );
        assert!(matches!(
            answer(HookFormat::Set, 400, b"oops"),
            Answer::Failed(_)
        ));
        assert!(matches!(
            answer(HookFormat::Set, 503, b""),
            Answer::Failed(_)
        ));
        // RFC 8935 asks for 202; any 2xx says the SET arrived.
        assert_eq!(answer(HookFormat::Set, 204, b""), Answer::Delivered);
        assert_eq!(answer(HookFormat::Set, 201, b""), Answer::Delivered);
        assert!(matches!(
            answer(HookFormat::Set, 302, b""),
            Answer::Failed(_)
        ));
        assert_eq!(answer(HookFormat::Hanko, 204, b""), Answer::Delivered);
    }
}
