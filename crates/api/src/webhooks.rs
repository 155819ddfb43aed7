//! The webhook dispatcher (SPEC §9): claims due outbox events, delivers the signed envelope
//! to every hook subscribed to the event, and records the outcome. State lives in the
//! outbox table only, so a restart (or another instance) picks up where this one left off.

use crate::config::{WebhookConfig, WebhooksConfig};
use crate::metrics::Metrics;
use crate::state::AppState;
use actix_web::web;
use chrono::{DateTime, Utc};
use domain::model::OutboxEvent;
use domain::ports::Outbox;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Events claimed per round.
const BATCH: u32 = 64;
/// How often to look for due events when nothing wakes us.
const POLL: Duration = Duration::from_millis(500);
/// Delivered and dead events older than this may be pruned.
const RETENTION_DAYS: i64 = 30;

/// The claims of a webhook token: the envelope Hanko uses.
#[derive(Serialize)]
struct WebhookClaims<'a> {
    sub: &'static str,
    aud: &'a [String],
    iat: i64,
    exp: i64,
    evt: &'a str,
    data: &'a serde_json::Value,
}

#[derive(Serialize)]
struct Envelope<'a> {
    event: &'a str,
    token: &'a str,
}

/// Whether a hook subscribed to `subscription` wants `event`: the exact name, or a prefix
/// ending at a dot (`user` matches `user.delete`, `us` does not).
pub fn subscribed(subscription: &str, event: &str) -> bool {
    event == subscription
        || event
            .strip_prefix(subscription)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Wait before retry number `attempts` (1-based): `initial · 2^(attempts-1)`, capped.
pub fn backoff(initial: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    initial
        .checked_mul(1u32 << exponent)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

pub struct Dispatcher {
    state: AppState,
    config: WebhooksConfig,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(state: AppState, wake: Arc<Notify>) -> Result<Self, reqwest::Error> {
        let config = state.config.webhooks.clone();
        let client = reqwest::Client::builder()
            .timeout(config.timeout.std())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("hanko-rs-webhooks")
            .build()?;
        Ok(Self {
            state,
            config,
            client,
            wake,
        })
    }

    fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// Runs until the task is aborted.
    pub async fn run(self) {
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            let claimed = self.round().await;
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(std::time::Instant::now());
                self.prune().await;
            }
            if claimed < BATCH as usize {
                // Wait for a deletion in this process, or poll for other instances' events.
                let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
            }
        }
    }

    /// One round: claim and deliver a batch. Returns how many events were claimed.
    async fn round(&self) -> usize {
        let now = Utc::now();
        // The lease outlasts the slowest possible delivery of one event to every hook, so no
        // other instance can start the same attempt while this one is in flight.
        let lease = self.config.timeout.chrono()
            * i32::try_from(self.config.hooks.len().max(1)).unwrap_or(i32::MAX)
            + chrono::Duration::seconds(30);
        let db = self.state.db.clone();
        let events = match web::block(move || db.claim_due(now, BATCH, now + lease)).await {
            Ok(Ok(events)) => events,
            Ok(Err(e)) => {
                log::warn!("webhooks: claiming events: {e}");
                return 0;
            }
            Err(e) => {
                log::warn!("webhooks: {e}");
                return 0;
            }
        };
        let n = events.len();
        futures_util::future::join_all(events.into_iter().map(|e| self.deliver(e))).await;
        n
    }

    async fn deliver(&self, event: OutboxEvent) {
        let hooks: Vec<&WebhookConfig> = self
            .config
            .hooks
            .iter()
            .filter(|h| h.events.iter().any(|s| subscribed(s, &event.event)))
            .collect();
        let outcome = if hooks.is_empty() {
            Ok(())
        } else {
            match self.token(&event) {
                Ok(token) => {
                    let body = Envelope {
                        event: &event.event,
                        token: &token,
                    };
                    let attempts = hooks.iter().map(|h| self.post(h, &event, &body));
                    let errors: Vec<String> = futures_util::future::join_all(attempts)
                        .await
                        .into_iter()
                        .filter_map(Result::err)
                        .collect();
                    if errors.is_empty() {
                        Ok(())
                    } else {
                        Err(errors.join("; "))
                    }
                }
                Err(e) => Err(e),
            }
        };
        self.record(&event, outcome).await;
    }

    fn token(&self, event: &OutboxEvent) -> Result<String, String> {
        let now = Utc::now();
        let claims = WebhookClaims {
            sub: "hanko webhooks",
            aud: &self.state.config.session.audience,
            iat: now.timestamp(),
            exp: (now + chrono::Duration::minutes(5)).timestamp(),
            evt: &event.event,
            data: &event.payload,
        };
        self.state
            .keys
            .sign(&claims, now)
            .map_err(|e| format!("signing: {e}"))
    }

    async fn post(
        &self,
        hook: &WebhookConfig,
        event: &OutboxEvent,
        body: &Envelope<'_>,
    ) -> Result<(), String> {
        let res = self
            .client
            .post(&hook.url)
            .header("Webhook-Id", event.id.to_string())
            .json(body)
            .send()
            .await
            .map_err(|e| format!("{}: {}", hook.url, without_url(&e)))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(format!("{}: HTTP {}", hook.url, res.status().as_u16()))
        }
    }

    async fn record(&self, event: &OutboxEvent, outcome: Result<(), String>) {
        let db = self.state.db.clone();
        let id = event.id;
        let result = match outcome {
            Ok(()) => {
                self.metrics().webhook_delivered();
                let at = Utc::now();
                web::block(move || db.mark_delivered(&[id], at)).await
            }
            Err(error) => {
                let dead =
                    event.attempts >= i32::try_from(self.config.max_attempts).unwrap_or(i32::MAX);
                self.metrics().webhook_failed(dead);
                let retry_at: Option<DateTime<Utc>> = (!dead).then(|| {
                    Utc::now()
                        + chrono::Duration::from_std(backoff(
                            self.config.initial_backoff.std(),
                            event.attempts,
                        ))
                        .unwrap_or_default()
                });
                if dead {
                    log::warn!(
                        "webhook event {id} is dead after {} attempts: {error}",
                        event.attempts
                    );
                } else {
                    log::info!(
                        "webhook event {id} attempt {} failed: {error}",
                        event.attempts
                    );
                }
                web::block(move || db.mark_failed(id, &error, retry_at)).await
            }
        };
        match result {
            Ok(Ok(())) => {}
            // The lease expires and the event is retried: at-least-once.
            Ok(Err(e)) => log::warn!("webhooks: recording outcome of {id}: {e}"),
            Err(e) => log::warn!("webhooks: recording outcome of {id}: {e}"),
        }
    }

    async fn prune(&self) {
        let db = self.state.db.clone();
        let before = Utc::now() - chrono::Duration::days(RETENTION_DAYS);
        match web::block(move || db.prune_outbox(before)).await {
            Ok(Ok(n)) if n > 0 => log::info!("webhooks: pruned {n} old events"),
            Ok(Err(e)) => log::warn!("webhooks: pruning: {e}"),
            _ => {}
        }
    }
}

/// reqwest errors name the URL, which is already in the message; keep the cause only.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
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
    fn backoff_doubles_and_caps() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 1), Duration::from_secs(1));
        assert_eq!(backoff(s, 2), Duration::from_secs(2));
        assert_eq!(backoff(s, 4), Duration::from_secs(8));
        assert_eq!(backoff(s, 30), MAX_BACKOFF);
        assert_eq!(backoff(s, 0), Duration::from_secs(1));
    }
}
