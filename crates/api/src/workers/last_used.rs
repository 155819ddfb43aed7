//! The `last_used` worker: writes the sessions requests noted ([`SessionTouches`]) once a
//! second, and whatever is noted still when it stops.

use crate::lifecycle::{Stop, Worker};
use crate::sessions::SessionTouches;
use persistence::{Database, Offload};
use std::sync::Arc;
use std::time::Duration;

/// How often noted sessions are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The worker: where it writes, and what.
pub struct LastUsed {
    pub db: Database,
    pub offload: Offload,
    pub touches: Arc<SessionTouches>,
}

impl Worker for LastUsed {
    const NAME: &'static str = "last_used";

    async fn run(self, mut stop: Stop) {
        while stop.sleep(FLUSH_EVERY).await {
            self.touches.flush(&self.db, &self.offload).await;
        }
        // Stopping: the notes of the last requests are written, not dropped.
        self.touches.flush(&self.db, &self.offload).await;
    }
}
