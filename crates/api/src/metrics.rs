//! Prometheus metrics: request counts and latencies by listener, route and status, deletions,
//! token rejections by reason, webhook deliveries; pool and outbox gauges read at scrape time.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.total += 1;
    }

    fn add(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
        self.sum += other.sum;
        self.total += other.total;
    }
}

/// Request series are recorded per shard, each thread into its own: the two cores serving
/// requests never contend for one lock (measured: one shared map cost the JWKS route 8% of its
/// rate); a scrape adds the shards up.
const SHARDS: usize = 16;

type RequestSeries = BTreeMap<RequestKey, Histogram>;

/// One shard, on a cache line pair of its own (no false sharing between cores).
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<RequestSeries>);

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// A request series: listener, route pattern, status.
type RequestKey = (&'static str, Cow<'static, str>, u16);

/// Every counter the service keeps.
#[derive(Default)]
pub struct Metrics {
    requests: [Shard; SHARDS],
    deletions_by_user: AtomicU64,
    deletions_by_admin: AtomicU64,
    deletions_by_purge: AtomicU64,
    deletions_by_scim: AtomicU64,
    deletions_by_retention: AtomicU64,
    deletions_scheduled: AtomicU64,
    /// The inactivity policy's actions: warned, withdrawn, deleted (or scheduled).
    retention: [AtomicU64; 3],
    /// SCIM changes to users' lives: created, deactivated, reactivated.
    scim_changes: Mutex<BTreeMap<&'static str, u64>>,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    /// Webhook attempts by hook key and result.
    webhook_attempts: Mutex<BTreeMap<(String, AttemptResult), u64>>,
    admin_auth_failures: AtomicU64,
    /// Counted by the HTTP workers' own Postgres connections.
    pub deletion_statements: Arc<persistence::DeletionStatements>,
}

/// How a webhook attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttemptResult {
    Delivered,
    /// Failed, to be retried.
    Failed,
    /// Failed for the last time (or refused for good).
    Dead,
}

impl AttemptResult {
    const ALL: [AttemptResult; 3] = [Self::Delivered, Self::Failed, Self::Dead];

    fn label(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }
}

/// Gauges read at scrape time.
pub struct Gauges {
    pub pool_connections: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
    /// Pending and dead deliveries per hook, if the database answered.
    pub backlog: Option<Vec<domain::ports::HookBacklog>>,
    /// Users due for the purge, if the database answered.
    pub purge_backlog: Option<u64>,
}

impl Metrics {
    fn requests_added_up(&self) -> RequestSeries {
        let mut all = RequestSeries::new();
        for shard in &self.requests {
            let series = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, histogram) in series.iter() {
                all.entry(key.clone()).or_default().add(histogram);
            }
        }
        all
    }

    pub fn observe_request(
        &self,
        listener: &'static str,
        route: Cow<'static, str>,
        status: u16,
        secs: f64,
    ) {
        let shard = &self.requests[SHARD.with(|s| *s)];
        shard
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((listener, route, status))
            .or_default()
            .observe(secs);
    }

    pub fn user_deleted(&self, by_admin: bool) {
        let counter = if by_admin {
            &self.deletions_by_admin
        } else {
            &self.deletions_by_user
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A user purged after their grace period.
    pub fn user_purged(&self) {
        self.deletions_by_purge.fetch_add(1, Ordering::Relaxed);
    }

    /// A user deleted at once by a SCIM client.
    pub fn user_deleted_by_scim(&self) {
        self.deletions_by_scim.fetch_add(1, Ordering::Relaxed);
    }

    /// Users deleted at once by the inactivity policy (a scheduled one counts as scheduled).
    pub fn users_deleted_by_retention(&self, n: u64) {
        self.deletions_by_retention.fetch_add(n, Ordering::Relaxed);
    }

    /// What a pass of the inactivity policy did.
    pub fn retention_pass(&self, warned: u64, withdrawn: u64, deleted: u64) {
        for (counter, n) in self.retention.iter().zip([warned, withdrawn, deleted]) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// A SCIM change to a user's life (`created`, `deactivated`, `reactivated`).
    pub fn scim_activity(&self, change: &'static str) {
        *self
            .scim_changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(change)
            .or_default() += 1;
    }

    /// A deletion scheduled (grace period).
    pub fn deletion_scheduled(&self) {
        self.deletions_scheduled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn token_rejected(&self, reason: &'static str) {
        *self
            .rejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
    }

    /// An admin request without the right api key.
    pub fn admin_auth_failed(&self) {
        self.admin_auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// One webhook attempt to `hook` ended so. A dead attempt counts as failed too.
    pub fn webhook_attempt(&self, hook: &str, result: AttemptResult) {
        let mut attempts = self
            .webhook_attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *attempts.entry((hook.to_owned(), result)).or_default() += 1;
        if result == AttemptResult::Dead {
            *attempts
                .entry((hook.to_owned(), AttemptResult::Failed))
                .or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let _ = self.render_into(&mut out, gauges);
        out
    }

    fn render_into(&self, out: &mut String, g: &Gauges) -> std::fmt::Result {
        writeln!(
            out,
            "# HELP hanko_http_requests_total HTTP requests by listener, route and status."
        )?;
        writeln!(out, "# TYPE hanko_http_requests_total counter")?;
        let requests = self.requests_added_up();
        for ((listener, route, status), h) in requests.iter() {
            writeln!(out, "hanko_http_requests_total{{listener=\"{listener}\",route=\"{}\",status=\"{status}\"}} {}", escape(route), h.total)?;
        }
        writeln!(
            out,
            "# HELP hanko_http_request_duration_seconds Request latency."
        )?;
        writeln!(out, "# TYPE hanko_http_request_duration_seconds histogram")?;
        for ((listener, route, status), h) in requests.iter() {
            let labels = format!(
                "listener=\"{listener}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                writeln!(
                    out,
                    "hanko_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                )?;
            }
            writeln!(
                out,
                "hanko_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.total
            )?;
            writeln!(
                out,
                "hanko_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            )?;
            writeln!(
                out,
                "hanko_http_request_duration_seconds_count{{{labels}}} {}",
                h.total
            )?;
        }

        writeln!(
            out,
            "# HELP hanko_user_deletions_total Users deleted, by who asked."
        )?;
        writeln!(out, "# TYPE hanko_user_deletions_total counter")?;
        writeln!(
            out,
            "hanko_user_deletions_total{{by=\"user\"}} {}",
            self.deletions_by_user.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "hanko_user_deletions_total{{by=\"admin\"}} {}",
            self.deletions_by_admin.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "hanko_user_deletions_total{{by=\"purge\"}} {}",
            self.deletions_by_purge.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "hanko_user_deletions_total{{by=\"scim\"}} {}",
            self.deletions_by_scim.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "hanko_user_deletions_total{{by=\"retention\"}} {}",
            self.deletions_by_retention.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "# HELP hanko_retention_users_total What the inactivity policy did: users warned, warnings withdrawn by activity, users deleted or scheduled for deletion."
        )?;
        writeln!(out, "# TYPE hanko_retention_users_total counter")?;
        for (action, counter) in ["warned", "withdrawn", "deleted"]
            .iter()
            .zip(&self.retention)
        {
            writeln!(
                out,
                "hanko_retention_users_total{{action=\"{action}\"}} {}",
                counter.load(Ordering::Relaxed)
            )?;
        }
        writeln!(
            out,
            "# HELP hanko_scim_user_changes_total Users created, deactivated and reactivated by SCIM clients."
        )?;
        writeln!(out, "# TYPE hanko_scim_user_changes_total counter")?;
        {
            let changes = self
                .scim_changes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for change in ["created", "deactivated", "reactivated"] {
                writeln!(
                    out,
                    "hanko_scim_user_changes_total{{change=\"{change}\"}} {}",
                    changes.get(change).copied().unwrap_or(0)
                )?;
            }
        }
        writeln!(
            out,
            "# HELP hanko_deletion_statements_total Deletion statements the HTTP workers sent on their own Postgres connections (deletions arriving together share one)."
        )?;
        writeln!(out, "# TYPE hanko_deletion_statements_total counter")?;
        writeln!(
            out,
            "hanko_deletion_statements_total {}",
            self.deletion_statements.statements()
        )?;
        writeln!(
            out,
            "# HELP hanko_deletion_statement_deletions_total Deletions those statements carried."
        )?;
        writeln!(
            out,
            "# TYPE hanko_deletion_statement_deletions_total counter"
        )?;
        writeln!(
            out,
            "hanko_deletion_statement_deletions_total {}",
            self.deletion_statements.deletions()
        )?;
        writeln!(
            out,
            "# HELP hanko_user_deletions_scheduled_total Deletions scheduled (grace period)."
        )?;
        writeln!(out, "# TYPE hanko_user_deletions_scheduled_total counter")?;
        writeln!(
            out,
            "hanko_user_deletions_scheduled_total {}",
            self.deletions_scheduled.load(Ordering::Relaxed)
        )?;
        if let Some(due) = g.purge_backlog {
            writeln!(
                out,
                "# HELP hanko_purge_backlog Users whose grace period ended, not purged yet (held ones excluded)."
            )?;
            writeln!(out, "# TYPE hanko_purge_backlog gauge")?;
            writeln!(out, "hanko_purge_backlog {due}")?;
        }

        writeln!(
            out,
            "# HELP hanko_token_rejections_total Refused authentication attempts, by reason."
        )?;
        writeln!(out, "# TYPE hanko_token_rejections_total counter")?;
        for (reason, n) in self
            .rejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            writeln!(
                out,
                "hanko_token_rejections_total{{reason=\"{reason}\"}} {n}"
            )?;
        }

        writeln!(
            out,
            "# HELP hanko_admin_auth_failures_total Admin requests refused for a missing or wrong api key."
        )?;
        writeln!(out, "# TYPE hanko_admin_auth_failures_total counter")?;
        writeln!(
            out,
            "hanko_admin_auth_failures_total {}",
            self.admin_auth_failures.load(Ordering::Relaxed)
        )?;

        let attempts = self
            .webhook_attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        writeln!(
            out,
            "# HELP hanko_webhook_attempts_total Webhook delivery attempts, by result (all hooks)."
        )?;
        writeln!(out, "# TYPE hanko_webhook_attempts_total counter")?;
        for result in AttemptResult::ALL {
            let n: u64 = attempts
                .iter()
                .filter(|((_, r), _)| *r == result)
                .map(|(_, n)| n)
                .sum();
            writeln!(
                out,
                "hanko_webhook_attempts_total{{result=\"{}\"}} {n}",
                result.label()
            )?;
        }
        writeln!(
            out,
            "# HELP hanko_webhook_hook_attempts_total Webhook delivery attempts, by hook and result."
        )?;
        writeln!(out, "# TYPE hanko_webhook_hook_attempts_total counter")?;
        for ((hook, result), n) in &attempts {
            writeln!(
                out,
                "hanko_webhook_hook_attempts_total{{hook=\"{}\",result=\"{}\"}} {n}",
                escape(hook),
                result.label()
            )?;
        }

        writeln!(
            out,
            "# HELP hanko_db_pool_connections Database pool connections."
        )?;
        writeln!(out, "# TYPE hanko_db_pool_connections gauge")?;
        writeln!(
            out,
            "hanko_db_pool_connections{{state=\"open\"}} {}",
            g.pool_connections
        )?;
        writeln!(
            out,
            "hanko_db_pool_connections{{state=\"idle\"}} {}",
            g.pool_idle
        )?;
        writeln!(
            out,
            "hanko_db_pool_connections{{state=\"max\"}} {}",
            g.pool_max
        )?;
        if let Some(backlog) = &g.backlog {
            let pending: u64 = backlog.iter().map(|b| b.pending).sum();
            let dead: u64 = backlog.iter().map(|b| b.dead).sum();
            writeln!(
                out,
                "# HELP hanko_webhook_outbox_events Deliveries not done yet, and dead ones (all hooks)."
            )?;
            writeln!(out, "# TYPE hanko_webhook_outbox_events gauge")?;
            writeln!(
                out,
                "hanko_webhook_outbox_events{{status=\"pending\"}} {pending}"
            )?;
            writeln!(out, "hanko_webhook_outbox_events{{status=\"dead\"}} {dead}")?;
            writeln!(
                out,
                "# HELP hanko_webhook_hook_deliveries Deliveries not done yet, and dead ones, by hook."
            )?;
            writeln!(out, "# TYPE hanko_webhook_hook_deliveries gauge")?;
            for b in backlog {
                let hook = escape(&b.hook);
                writeln!(
                    out,
                    "hanko_webhook_hook_deliveries{{hook=\"{hook}\",status=\"pending\"}} {}",
                    b.pending
                )?;
                writeln!(
                    out,
                    "hanko_webhook_hook_deliveries{{hook=\"{hook}\",status=\"dead\"}} {}",
                    b.dead
                )?;
            }
        }
        Ok(())
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_recorded_on_many_threads_are_added_up() {
        let metrics = std::sync::Arc::new(Metrics::default());
        let threads: Vec<_> = (0..SHARDS + 3)
            .map(|_| {
                let metrics = metrics.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        metrics.observe_request("public", Cow::Borrowed("/me"), 200, 0.002);
                    }
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().is_ok());
        }
        let gauges = Gauges {
            pool_connections: 0,
            pool_idle: 0,
            pool_max: 0,
            backlog: None,
            purge_backlog: None,
        };
        let text = metrics.render(&gauges);
        let total = (SHARDS + 3) * 10;
        assert!(
            text.contains(&format!(
                "hanko_http_requests_total{{listener=\"public\",route=\"/me\",status=\"200\"}} {total}\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "hanko_http_request_duration_seconds_bucket{{listener=\"public\",route=\"/me\",status=\"200\",le=\"0.0025\"}} {total}\n"
            )),
            "{text}"
        );
    }
}
