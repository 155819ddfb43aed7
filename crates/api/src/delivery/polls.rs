//! What the long polls of this instance wait on (RFC 8936 with `returnImmediately: false`):
//! a signal raised when events reach streams here, and a count of the polls waiting on each
//! stream, so that a waiting poll costs nothing but its connection and a bounded number wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// Shared by the dispatcher (which raises the signal) and the poll handlers (which wait on it).
#[derive(Clone)]
pub struct PollWake {
    signal: Arc<watch::Sender<u64>>,
    waiting: Arc<Mutex<HashMap<uuid::Uuid, u32>>>,
}

impl Default for PollWake {
    fn default() -> Self {
        Self {
            signal: Arc::new(watch::channel(0).0),
            waiting: Arc::default(),
        }
    }
}

/// A poll's place among those waiting on its stream; it leaves when dropped.
pub struct Waiting {
    wake: PollWake,
    stream: uuid::Uuid,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut waiting = self
            .wake
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = waiting.get_mut(&self.stream) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                waiting.remove(&self.stream);
            }
        }
    }
}

impl PollWake {
    /// Events reached some stream: every waiting poll looks again.
    pub fn wake(&self) {
        self.signal.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What a waiting poll watches.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.signal.subscribe()
    }

    /// A place to wait on `stream`, unless `max` polls wait on it already.
    pub fn wait_on(&self, stream: uuid::Uuid, max: u32) -> Option<Waiting> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let n = waiting.entry(stream).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Waiting {
            wake: self.clone(),
            stream,
        })
    }
}
