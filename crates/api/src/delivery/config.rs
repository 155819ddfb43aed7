//! `webhooks.*`: the hooks and which events each wants, and the retry policy.

use domain::config::{ConfigError, Duration, Issuer, Secret};
use domain::events::{subscribed, EventKind};
use serde::{Deserialize, Serialize};

/// `webhooks.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    pub hooks: Vec<WebhookConfig>,
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub timeout: Duration,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            hooks: Vec::new(),
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// One webhook subscription.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// How deliveries and metrics name this hook; default: its URL without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub url: HookUrl,
    pub events: Vec<String>,
    /// The wire format of deliveries.
    #[serde(default)]
    pub format: HookFormat,
    /// `standard`: the signing secrets (`whsec_<base64>`), each signature sent, so a secret can
    /// be rotated without a missed delivery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// `aud` of the tokens sent (`hanko`: default `["hanko-webhooks"]`; `set`: required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<String>>,
}

/// The wire format of a hook's deliveries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookFormat {
    /// Hanko's envelope: `{"event", "token": <JWT signed with the current key>}`.
    #[default]
    Hanko,
    /// Standard Webhooks: HMAC-SHA256 signatures in `webhook-signature`.
    Standard,
    /// Security Event Tokens (RFC 8417) pushed per RFC 8935.
    Set,
    /// OpenID Connect Back-Channel Logout 1.0: a form-encoded `logout_token` for the relying
    /// party whose client id is the hook's `audience`.
    #[serde(rename = "backchannel_logout")]
    BackchannelLogout,
}

impl HookFormat {
    /// Whether this format carries `event` at all: a logout token says a user or a session is
    /// gone, so a back-channel logout hook hears of logouts, deletions and scheduled deletions
    /// only (never of a cancelled deletion, which ends no session).
    pub fn carries(self, event: &str) -> bool {
        match self {
            Self::BackchannelLogout => matches!(
                EventKind::from_name(event),
                Some(
                    EventKind::SessionDelete
                        | EventKind::UserDelete
                        | EventKind::UserDeleteScheduled
                )
            ),
            Self::Set => EventKind::from_name(event).is_some_and(|e| e.set_event_type().is_some()),
            Self::Hanko | Self::Standard => true,
        }
    }
}

/// The audience of `hanko` webhook tokens when the hook names none.
pub const DEFAULT_HANKO_AUDIENCE: &str = "hanko-webhooks";
/// A Standard Webhooks secret carries at least this many random bytes.
const MIN_STANDARD_SECRET_BYTES: usize = 24;

/// A hook's URL. It may carry credentials (`https://user:pass@…`, `?token=…`, a secret path),
/// so it is only ever shown as scheme, host and port: in logs, `last_error`, the deliveries
/// API and `config check` alike. [`HookUrl::expose`] is for sending, nothing else.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct HookUrl(String);

impl HookUrl {
    /// The URL as configured, credentials included: only for the request itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://host[:port]`: no user-info, path, query string or fragment, since any of them
    /// may be the credential (`https://hooks.slack.com/services/T…/B…/XXXX`).
    pub fn redacted(&self) -> String {
        self.parts().map_or_else(
            || "***".to_owned(),
            |(scheme, host, _)| format!("{scheme}://{host}"),
        )
    }

    /// How earlier versions named an unnamed hook: `scheme://host[:port]/path`. Deliveries
    /// stored under it are renamed at start ([`WebhookConfig::legacy_key`]).
    fn redacted_with_path(&self) -> String {
        self.parts().map_or_else(
            || "***".to_owned(),
            |(scheme, host, path)| format!("{scheme}://{host}{path}"),
        )
    }

    /// Scheme, host (with port) and path, without user-info, query string or fragment.
    fn parts(&self) -> Option<(&str, &str, &str)> {
        let url = self.0.split(['?', '#']).next().unwrap_or_default();
        let (scheme, rest) = url.split_once("://")?;
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        Some((scheme, host, path))
    }
}

impl std::fmt::Display for HookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for HookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HookUrl({})", self.redacted())
    }
}

impl Serialize for HookUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl WebhookConfig {
    /// Whether this hook wants `event` (and its format can say it).
    pub fn wants(&self, event: &str) -> bool {
        self.format.carries(event) && self.events.iter().any(|s| subscribed(s, event))
    }

    /// The key deliveries, logs and metrics know this hook by: its name, else its URL's scheme,
    /// host and port (two unnamed hooks on one host must be named, see `validate`).
    pub fn key(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.url.redacted())
    }

    /// The key earlier versions stored this hook's deliveries under, when it differs from
    /// [`Self::key`] (an unnamed hook whose URL has a path).
    pub fn legacy_key(&self) -> Option<String> {
        let legacy = self.url.redacted_with_path();
        (self.name.is_none() && legacy != self.key()).then_some(legacy)
    }

    /// The `aud` of the tokens this hook receives.
    pub fn token_audience(&self) -> Vec<String> {
        self.audience
            .clone()
            .unwrap_or_else(|| vec![DEFAULT_HANKO_AUDIENCE.to_owned()])
    }

    /// The HMAC keys of a `standard` hook, decoded (validated at start-up).
    pub fn standard_keys(&self) -> Vec<Vec<u8>> {
        self.secrets
            .iter()
            .filter_map(|s| decode_standard_secret(s.expose()))
            .collect()
    }
}

/// `whsec_<base64>` → the key bytes, if well-formed and long enough.
fn decode_standard_secret(secret: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let encoded = secret.strip_prefix("whsec_")?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    (key.len() >= MIN_STANDARD_SECRET_BYTES).then_some(key)
}

impl WebhooksConfig {
    /// The keys of the hooks that want `event`.
    pub fn recipients(&self, event: &str) -> Vec<String> {
        self.hooks
            .iter()
            .filter(|h| h.wants(event))
            .map(WebhookConfig::key)
            .collect()
    }

    /// The hook with this key.
    pub fn hook(&self, key: &str) -> Option<&WebhookConfig> {
        self.hooks.iter().find(|h| h.key() == key)
    }

    /// The checks serde cannot make, naming the offending key. `session` is the session
    /// token policy, which webhook tokens must never be mistaken for.
    pub fn validate(
        &self,
        session_audience: &[String],
        issuer: Option<&Issuer>,
    ) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                "webhooks.max_attempts",
                "must be at least 1",
            ));
        }
        for (i, hook) in self.hooks.iter().enumerate() {
            let url = hook.url.expose();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    format!("webhooks.hooks.{i}.url"),
                    "must be an http:// or https:// URL",
                ));
            }
            if hook.events.is_empty() {
                return Err(ConfigError::new(
                    format!("webhooks.hooks.{i}.events"),
                    "must list at least one event",
                ));
            }
            if self.hooks[..i].iter().any(|h| h.key() == hook.key()) {
                return Err(ConfigError::new(
                    format!("webhooks.hooks.{i}.name"),
                    format!(
                        "another hook is already known as {:?}: give one a name",
                        hook.key()
                    ),
                ));
            }
            hook.validate_format(i, session_audience, issuer)?;
        }
        Ok(())
    }
}

impl WebhookConfig {
    fn validate_format(
        &self,
        i: usize,
        session_audience: &[String],
        issuer: Option<&Issuer>,
    ) -> Result<(), ConfigError> {
        let key = |field: &str| format!("webhooks.hooks.{i}.{field}");
        if let Some(audience) = &self.audience {
            if audience.is_empty() {
                return Err(ConfigError::new(key("audience"), "must not be empty"));
            }
            if audience.iter().any(|a| session_audience.contains(a)) {
                return Err(ConfigError::new(
                    key("audience"),
                    "must differ from session.audience: a webhook token must never pass as a session token",
                ));
            }
        }
        match self.format {
            HookFormat::Hanko => {}
            HookFormat::Standard => {
                if self.secrets.is_empty() {
                    return Err(ConfigError::new(
                        key("secrets"),
                        "a standard hook needs at least one secret (whsec_<base64 of 24+ random bytes>)",
                    ));
                }
                if self
                    .secrets
                    .iter()
                    .any(|s| decode_standard_secret(s.expose()).is_none())
                {
                    return Err(ConfigError::new(
                        key("secrets"),
                        format!("each must be whsec_ followed by the base64 of at least {MIN_STANDARD_SECRET_BYTES} random bytes"),
                    ));
                }
            }
            HookFormat::Set => {
                if self.audience.is_none() {
                    return Err(ConfigError::new(
                        key("audience"),
                        "a set hook needs the receiver's audience",
                    ));
                }
                if issuer.is_none() {
                    return Err(ConfigError::new(
                        "session.issuer",
                        format!("required by the set hook webhooks.hooks.{i} (the SET's iss)"),
                    ));
                }
            }
            HookFormat::BackchannelLogout => {
                if self.audience.is_none() {
                    return Err(ConfigError::new(
                        key("audience"),
                        "a backchannel_logout hook needs the relying party's client id",
                    ));
                }
                if issuer.is_none() {
                    return Err(ConfigError::new(
                        "session.issuer",
                        format!(
                            "required by the backchannel_logout hook webhooks.hooks.{i} (the logout token's iss)"
                        ),
                    ));
                }
                if !self.events.iter().any(|s| {
                    EventKind::ALL
                        .iter()
                        .any(|e| self.format.carries(e.name()) && subscribed(s, e.name()))
                }) {
                    return Err(ConfigError::new(
                        key("events"),
                        "a backchannel_logout hook carries session.delete, user.delete and user.delete.scheduled: subscribe to one of them",
                    ));
                }
            }
        }
        if self.format != HookFormat::Standard && !self.secrets.is_empty() {
            return Err(ConfigError::new(
                key("secrets"),
                "only standard hooks sign with secrets (hanko, set and backchannel_logout hooks sign with the JWKS key)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_secrets() {
        assert!(decode_standard_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_some());
        assert!(decode_standard_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(
            decode_standard_secret("whsec_c2hvcnQ=").is_none(),
            "too short"
        );
        assert!(decode_standard_secret("whsec_!!!").is_none());
    }

    #[test]
    fn hook_urls_are_shown_without_credentials() {
        for (configured, shown) in [
            ("https://hooks.example/in", "https://hooks.example"),
            (
                "https://user:pass@hooks.example:8443/in?token=s3cret#x",
                "https://hooks.example:8443",
            ),
            ("http://h.example?token=s3cret", "http://h.example"),
            ("http://tok@h.example", "http://h.example"),
            (
                "https://hooks.slack.com/services/T0001/B0002/s3cret",
                "https://hooks.slack.com",
            ),
            ("not a url", "***"),
        ] {
            let url = HookUrl(configured.to_owned());
            assert_eq!(url.redacted(), shown, "{configured}");
            assert_eq!(url.to_string(), shown);
            assert!(!format!("{url:?}").contains("s3cret"));
            assert!(!serde_json::to_string(&url).unwrap().contains("s3cret"));
        }
    }
}
