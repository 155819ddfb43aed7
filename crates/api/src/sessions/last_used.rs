//! `sessions.last_used` (and the user's `last_active_at` with it), refreshed at most once a
//! minute per session and written in batches: requests only note the session; a worker
//! (`workers::last_used`) writes every noted id once a second. With an inactivity policy whose
//! warning period is short, more often: activity must be seen well within it.

use crate::report::Report;
use chrono::{DateTime, Utc};
use domain::ids::SessionId;
use domain::model::Session;
use domain::ports::SessionStore;
use persistence::{Database, Offload};
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// A session's `last_used` is not rewritten more often than this, by default.
pub const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);
/// Notes beyond this many are dropped until the next flush (a bound on memory, not on
/// correctness: `last_used` is informational).
const MAX_PENDING: usize = 100_000;

/// Sessions whose `last_used` is due for a refresh.
pub struct SessionTouches {
    pending: Mutex<HashSet<SessionId>>,
    /// How stale a `last_used` may be before it is rewritten.
    interval: chrono::Duration,
}

impl Default for SessionTouches {
    fn default() -> Self {
        Self::every(TOUCH_INTERVAL)
    }
}

impl SessionTouches {
    /// Refreshing each session's `last_used` at most once per `interval`.
    pub fn every(interval: chrono::Duration) -> Self {
        Self {
            pending: Mutex::default(),
            interval,
        }
    }

    /// Notes that `session` authenticated a request at `now`, if its `last_used` is due.
    pub fn note_use(&self, session: &Session, now: DateTime<Utc>) {
        if now - session.last_used < self.interval {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() < MAX_PENDING {
            pending.insert(session.id);
        }
    }

    fn take(&self) -> Vec<SessionId> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect()
    }

    /// Writes every noted session now.
    pub async fn flush(&self, db: &Database, offload: &Offload) {
        let ids = self.take();
        if ids.is_empty() {
            return;
        }
        let db = db.clone();
        let interval = self.interval;
        let result = offload
            .run("refreshing sessions' last_used", move || {
                ids.chunks(1000)
                    .try_for_each(|chunk| db.touch_sessions(chunk, Utc::now(), interval))
            })
            .await;
        if let Err(e) = result {
            log::warn!("{}", Report(&e));
        }
    }
}
