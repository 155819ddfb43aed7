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
    pub url: String,
    pub events: Vec<String>,
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
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
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
}
