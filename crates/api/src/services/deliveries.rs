//! Deliveries and what operators read: retry dead deliveries, list deliveries and audit
//! entries, the gauges of the metrics.

use super::{ServiceError, Services};
use crate::metrics::Gauges;
use chrono::Utc;
use domain::ids::EventId;
use domain::model::{AuditLog, Delivery, RequestContext};
use domain::ports::{AccountStore, AuditLogFilter, AuditLogStore, DeliveryStatus, Outbox, Page};

impl Services {
    /// Makes the matching dead deliveries pending again (audited as
    /// `webhook_deliveries_retried`) and wakes the dispatcher: how many. A hook may be named by
    /// its key or by its configured URL.
    pub async fn retry_dead_deliveries(
        &self,
        hook: Option<String>,
        event_id: Option<EventId>,
        context: RequestContext,
    ) -> Result<usize, ServiceError> {
        let hook = hook.map(|given| {
            self.config
                .webhooks
                .hooks
                .iter()
                .find(|h| h.url.expose() == given)
                .map_or(given, |h| h.key())
        });
        let (db, audit) = (self.db.clone(), self.config.audit_log.clone());
        let retried = self
            .offload
            .run("retrying deliveries", move || {
                db.retry_dead(hook.as_deref(), event_id, &context, &audit, Utc::now())
            })
            .await?;
        if retried > 0 {
            self.events.wake();
        }
        Ok(retried)
    }

    pub async fn list_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Delivery>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("listing deliveries", move || {
                db.list_deliveries(status, page, per_page)
            })
            .await?)
    }

    pub async fn list_audit_logs(
        &self,
        filter: AuditLogFilter,
    ) -> Result<Vec<AuditLog>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("listing audit logs", move || db.list_audit_logs(&filter))
            .await?)
    }

    /// The Prometheus text: the counters, and the gauges read now (a gauge the database
    /// does not answer is left out, never an error: metrics must stay readable in an outage).
    pub async fn metrics_text(&self) -> String {
        let db = self.db.clone();
        let backlog = self
            .offload
            .run("reading the delivery backlog", move || db.backlog())
            .await
            .ok();
        let db = self.db.clone();
        let purge_backlog = self
            .offload
            .run("reading the purge backlog", move || {
                db.purge_backlog(Utc::now())
            })
            .await
            .ok();
        let pool = self.db.pool_state();
        self.metrics.render(&Gauges {
            pool_connections: pool.connections,
            pool_idle: pool.idle_connections,
            pool_max: pool.max_size,
            backlog,
            purge_backlog,
        })
    }
}
