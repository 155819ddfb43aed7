//! Delivery, in one place: which hooks want an event ([`config`]), the handle use cases call
//! after writing one ([`Publisher`]), each format's request ([`formats`]), where a delivery may
//! connect ([`destinations`]), the SSF push credentials sealed at rest ([`sealing`]), the
//! worker that claims and delivers, and fans events out to the SSF streams ([`dispatcher`]),
//! and the long polls' wake-ups ([`polls`]). Events are written to the outbox by the
//! transaction of the change they announce (`persistence`); when a stream's delivery is due is
//! `domain::ssf`'s decision.

pub mod config;
pub mod destinations;
pub mod dispatcher;
mod failure;
pub(crate) mod formats;
pub mod polls;
pub mod sealing;

pub use config::{WebhookConfig, WebhooksConfig};
pub use polls::PollWake;

use domain::events::{EventKind, Recipients};
use std::sync::Arc;
use tokio::sync::Notify;

/// What a handler that writes an event needs: which hooks get it (their deliveries are written
/// with the event) and a way to wake this instance's dispatcher after the commit.
#[derive(Clone)]
pub struct Publisher {
    config: Arc<WebhooksConfig>,
    /// The SSF transmitter is on: every event also goes to the streams (fanned out by the
    /// dispatcher from one delivery written with the event).
    streams: bool,
    wake: Arc<Notify>,
    polls: PollWake,
}

impl Publisher {
    pub fn new(config: Arc<WebhooksConfig>, streams: bool) -> Self {
        Self {
            config,
            streams,
            wake: Arc::new(Notify::new()),
            polls: PollWake::default(),
        }
    }

    /// The hooks that subscribe to `event` (and the streams' delivery, with SSF on): the
    /// deliveries to write with it.
    pub fn recipients(&self, event: EventKind) -> Recipients {
        let mut keys = self.config.recipients(event.name());
        if self.streams && event.set_event_type().is_some() {
            keys.push(domain::ssf::ALL_STREAMS.to_owned());
        }
        Recipients(keys)
    }

    /// Call after committing an `event`: wakes the dispatcher if anyone wants it.
    pub fn committed(&self, event: EventKind) {
        if (self.streams && event.set_event_type().is_some())
            || !self.config.recipients(event.name()).is_empty()
        {
            self.wake.notify_one();
        }
    }

    /// Wakes the dispatcher (a stream's verification, a resumed stream).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A stream's verification was written here: its waiting polls look again.
    pub fn verification_requested(&self) {
        self.wake.notify_one();
        self.polls.wake();
    }

    /// What this instance's long polls wait on.
    pub fn polls(&self) -> &PollWake {
        &self.polls
    }

    /// What the dispatcher waits on.
    pub(crate) fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
