//! `sessions.last_used`, refreshed at most once a minute per session and written in batches:
//! requests only note the session id; a background task writes all noted ids in one statement.

use crate::state::AppState;
use actix_web::web;
use chrono::Utc;
use domain::ids::SessionId;
use domain::ports::SessionStore;
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A session's `last_used` is not rewritten more often than this.
pub const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);
/// How often noted sessions are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Notes beyond this many are dropped until the next flush (a bound on memory, not on
/// correctness: `last_used` is informational).
const MAX_PENDING: usize = 100_000;

/// Sessions whose `last_used` is due for a refresh.
#[derive(Default)]
pub struct PendingTouches(Mutex<HashSet<SessionId>>);

impl PendingTouches {
    pub fn note(&self, id: SessionId) {
        let mut pending = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() < MAX_PENDING {
            pending.insert(id);
        }
    }

    fn take(&self) -> Vec<SessionId> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect()
    }
}

/// Writes noted sessions every few seconds, until aborted.
pub async fn flush_loop(state: AppState) {
    loop {
        actix_web::rt::time::sleep(FLUSH_EVERY).await;
        flush(&state).await;
    }
}

/// Writes every noted session now.
pub async fn flush(state: &AppState) {
    let ids = state.touches.take();
    if ids.is_empty() {
        return;
    }
    let db = state.db.clone();
    let result = web::block(move || {
        ids.chunks(1000)
            .try_for_each(|chunk| db.touch_sessions(chunk, Utc::now(), TOUCH_INTERVAL))
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::warn!("refreshing sessions' last_used: {e}"),
        Err(e) => log::warn!("refreshing sessions' last_used: {e}"),
    }
}
