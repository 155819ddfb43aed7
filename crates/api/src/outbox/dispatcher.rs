//! The webhook dispatcher: claims due outbox events, delivers the signed envelope to every
//! hook subscribed to the event, and records the outcome. State lives in the outbox table
//! only, so a restart (or another instance) picks up where this one left off.

use super::config::{WebhookConfig, WebhooksConfig};
use super::envelope::{self, Envelope};
use crate::metrics::Metrics;
use crate::report::Report;
use actix_web::web;
use chrono::{DateTime, Utc};
use domain::model::OutboxEvent;
use domain::ports::Outbox;
use jwks::{KeyError, KeyManager};
use persistence::Database;
use std::fmt;
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

/// Why one delivery attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("signing the envelope")]
    Signing(#[source] KeyError),
    #[error("{hook}: {failure}")]
    Transport { hook: String, failure: Transport },
    #[error("{hook}: HTTP {status}")]
    Status { hook: String, status: u16 },
}

/// How a request failed before any answer came back. reqwest's own message repeats the URL
/// (which may carry credentials), so only the kind is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Timeout,
    Connect,
    Other,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::Connect => "connection failed",
            Self::Other => "request failed",
        })
    }
}

impl From<&reqwest::Error> for Transport {
    fn from(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Connect
        } else {
            Self::Other
        }
    }
}

/// The failures of one event's attempt across its hooks.
#[derive(Debug)]
struct Failures(Vec<DeliveryError>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}", Report(e))?;
        }
        Ok(())
    }
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

/// The delivery worker, with only what it needs.
pub struct Dispatcher {
    db: Database,
    keys: Arc<KeyManager>,
    metrics: Arc<Metrics>,
    config: Arc<WebhooksConfig>,
    /// `aud` of the envelope token.
    audience: Vec<String>,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(
        db: Database,
        keys: Arc<KeyManager>,
        metrics: Arc<Metrics>,
        config: Arc<WebhooksConfig>,
        audience: Vec<String>,
        wake: Arc<Notify>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout.std())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("hanko-rs-webhooks")
            .build()?;
        Ok(Self {
            db,
            keys,
            metrics,
            config,
            audience,
            client,
            wake,
        })
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
                // Wait for an event written in this process, or poll for other instances'.
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
        let db = self.db.clone();
        let events = match web::block(move || db.claim_due(now, BATCH, now + lease)).await {
            Ok(Ok(events)) => events,
            Ok(Err(e)) => {
                log::warn!("webhooks: claiming events: {}", Report(&e));
                return 0;
            }
            Err(e) => {
                log::warn!("webhooks: claiming events: {}", Report(&e));
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
            .filter(|h| h.wants(&event.event))
            .collect();
        let outcome = if hooks.is_empty() {
            Ok(())
        } else {
            match envelope::seal(&self.keys, &self.audience, &event) {
                Ok(body) => {
                    let attempts = hooks.iter().map(|h| self.post(h, &event, &body));
                    let errors: Vec<DeliveryError> = futures_util::future::join_all(attempts)
                        .await
                        .into_iter()
                        .filter_map(Result::err)
                        .collect();
                    if errors.is_empty() {
                        Ok(())
                    } else {
                        Err(Failures(errors))
                    }
                }
                Err(e) => Err(Failures(vec![DeliveryError::Signing(e)])),
            }
        };
        self.record(&event, outcome).await;
    }

    async fn post(
        &self,
        hook: &WebhookConfig,
        event: &OutboxEvent,
        body: &Envelope<'_>,
    ) -> Result<(), DeliveryError> {
        let res = self
            .client
            .post(hook.url.expose())
            .header("Webhook-Id", event.id.to_string())
            .json(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Transport {
                hook: hook.url.redacted(),
                failure: Transport::from(&e),
            })?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status {
                hook: hook.url.redacted(),
                status: res.status().as_u16(),
            })
        }
    }

    async fn record(&self, event: &OutboxEvent, outcome: Result<(), Failures>) {
        let db = self.db.clone();
        let id = event.id;
        let result = match outcome {
            Ok(()) => {
                self.metrics.webhook_delivered();
                let at = Utc::now();
                web::block(move || db.mark_delivered(&[id], at)).await
            }
            Err(failures) => {
                let dead =
                    event.attempts >= i32::try_from(self.config.max_attempts).unwrap_or(i32::MAX);
                self.metrics.webhook_failed(dead);
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
                        "webhook event {id} is dead after {} attempts: {failures}",
                        event.attempts
                    );
                } else {
                    log::info!(
                        "webhook event {id} attempt {} failed: {failures}",
                        event.attempts
                    );
                }
                let error = failures.to_string();
                web::block(move || db.mark_failed(id, &error, retry_at)).await
            }
        };
        match result {
            Ok(Ok(())) => {}
            // The lease expires and the event is retried: at-least-once.
            Ok(Err(e)) => log::warn!("webhooks: recording outcome of {id}: {}", Report(&e)),
            Err(e) => log::warn!("webhooks: recording outcome of {id}: {}", Report(&e)),
        }
    }

    async fn prune(&self) {
        let db = self.db.clone();
        let before = Utc::now() - chrono::Duration::days(RETENTION_DAYS);
        match web::block(move || db.prune_outbox(before)).await {
            Ok(Ok(n)) if n > 0 => log::info!("webhooks: pruned {n} old events"),
            Ok(Err(e)) => log::warn!("webhooks: pruning: {}", Report(&e)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
