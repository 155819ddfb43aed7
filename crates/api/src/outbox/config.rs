//! `webhooks.*`: the hooks and which events each wants, and the retry policy.

use domain::config::{ConfigError, Duration};
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
    pub url: HookUrl,
    pub events: Vec<String>,
}

/// A hook's URL. It may carry credentials (`https://user:pass@…`, `?token=…`), so it is only
/// ever shown without its user-info, query and fragment: in logs, `last_error`, the
/// deliveries API and `config check` alike. [`HookUrl::expose`] is for sending, nothing else.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct HookUrl(String);

impl HookUrl {
    /// The URL as configured, credentials included: only for the request itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://host[:port]/path`, without user-info, query string or fragment.
    pub fn redacted(&self) -> String {
        let url = self.0.split(['?', '#']).next().unwrap_or_default();
        let Some((scheme, rest)) = url.split_once("://") else {
            return "***".to_owned();
        };
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        format!("{scheme}://{host}{path}")
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
    /// Whether this hook wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|s| subscribed(s, event))
    }
}

/// Whether a subscription to `subscription` covers `event`: the exact name, or a prefix
/// ending at a dot (`user` matches `user.delete`, `us` does not).
pub fn subscribed(subscription: &str, event: &str) -> bool {
    event == subscription
        || event
            .strip_prefix(subscription)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl WebhooksConfig {
    /// Whether any hook wants `event`.
    pub fn has_subscribers(&self, event: &str) -> bool {
        self.hooks.iter().any(|h| h.wants(event))
    }

    /// The checks serde cannot make, naming the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
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
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions() {
        assert!(subscribed("user.delete", "user.delete"));
        assert!(subscribed("user", "user.delete"));
        assert!(!subscribed("us", "user.delete"));
        assert!(!subscribed("user.delete.extra", "user.delete"));
        assert!(!subscribed("email", "user.delete"));
    }

    #[test]
    fn hook_urls_are_shown_without_credentials() {
        for (configured, shown) in [
            ("https://hooks.example/in", "https://hooks.example/in"),
            (
                "https://user:pass@hooks.example:8443/in?token=s3cret#x",
                "https://hooks.example:8443/in",
            ),
            ("http://h.example?token=s3cret", "http://h.example"),
            ("http://tok@h.example", "http://h.example"),
            ("not a url", "***"),
        ] {
            let url = HookUrl(configured.to_owned());
            assert_eq!(url.redacted(), shown, "{configured}");
            assert_eq!(url.to_string(), shown);
            assert!(!format!("{url:?}").contains("s3cret"));
        }
    }
}
