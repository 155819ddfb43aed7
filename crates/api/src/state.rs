//! What every handler can reach.

use crate::config::Config;
use crate::delivery::Publisher;
use crate::metrics::Metrics;
use crate::sessions::{SessionLookup, SessionTouches};
use jwks::KeyManager;
use persistence::Database;
use persistence::Offload;
use std::sync::Arc;

/// Shared application state (cheap to clone: everything inside is shared). Background
/// workers never take it whole: each gets the few pieces it uses.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    /// Where handlers run their storage work (at most a pool's worth at once).
    pub offload: Offload,
    pub keys: Arc<KeyManager>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// Batched session lookups for the auth extractor.
    pub sessions: SessionLookup,
    /// Sessions whose `last_used` is due for a refresh.
    pub touches: Arc<SessionTouches>,
    /// Who hears of the events handlers write, and the dispatcher's wake-up.
    pub events: Publisher,
}
