//! The delivery body: Hanko's webhook envelope, `{"event": …, "token": <JWT>}`, the JWT signed
//! with the current signing key so receivers verify it with the public JWKS.

use chrono::Utc;
use domain::model::OutboxEvent;
use jwks::{KeyError, KeyManager};
use serde::Serialize;

/// How long a webhook token is valid.
const TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(5);

/// The claims of a webhook token.
#[derive(Serialize)]
struct WebhookClaims<'a> {
    sub: &'static str,
    aud: &'a [String],
    iat: i64,
    exp: i64,
    evt: &'a str,
    data: &'a serde_json::Value,
}

/// The JSON body posted to a hook.
#[derive(Serialize)]
pub struct Envelope<'a> {
    pub event: &'a str,
    pub token: String,
}

/// Signs the envelope of `event` for receivers expecting `audience`.
pub fn seal<'a>(
    keys: &KeyManager,
    audience: &[String],
    event: &'a OutboxEvent,
) -> Result<Envelope<'a>, KeyError> {
    let now = Utc::now();
    let claims = WebhookClaims {
        sub: "hanko webhooks",
        aud: audience,
        iat: now.timestamp(),
        exp: (now + TOKEN_LIFETIME).timestamp(),
        evt: &event.event,
        data: &event.payload,
    };
    Ok(Envelope {
        event: &event.event,
        token: keys.sign(&claims, now)?,
    })
}
