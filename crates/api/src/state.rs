//! What every handler can reach.

use crate::config::Config;
use crate::metrics::Metrics;
use jwks::KeyManager;
use persistence::Database;
use std::sync::Arc;

/// Shared application state (cheap to clone: everything inside is shared).
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub keys: Arc<KeyManager>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// Batched session lookups for the auth extractor.
    pub sessions: crate::session_lookup::SessionLookup,
    /// Sessions whose `last_used` is due for a refresh.
    pub touches: Arc<crate::touch::PendingTouches>,
    /// Wakes the webhook dispatcher when an event was just written.
    pub outbox_written: Arc<tokio::sync::Notify>,
}
