//! What every handler can reach.

use crate::config::Config;
use jwks::KeyManager;
use persistence::Database;
use std::sync::Arc;

/// Shared application state (cheap to clone: everything inside is shared).
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub keys: Arc<KeyManager>,
    pub config: Arc<Config>,
}
