//! How background work runs: each worker is a type holding the few handles it uses (never
//! `AppState`), all started and stopped the same way: [`Workers::start`] spawns one,
//! [`Workers::stop`] asks them all to stop (SIGTERM), each finishes the unit of work in hand (a
//! delivery round, a purge, a flush of `last_used`) and returns; what has not returned within
//! the grace period is aborted, which loses nothing (every unit is a transaction or a lease).

use futures_util::future::{select, Either};
use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use tokio::sync::watch;

/// A background worker.
pub trait Worker: 'static {
    /// How the log names it.
    const NAME: &'static str;

    /// Runs until `stop` asks it to, then returns once the unit of work in hand is done.
    fn run(self, stop: Stop) -> impl Future<Output = ()> + 'static;
}

/// What tells a worker to stop.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Whether the worker is to stop.
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits for `work` (a sleep, a wake-up), or less if a stop is requested meanwhile.
    /// Returns whether to go on.
    pub async fn wait<F: Future>(&mut self, work: F) -> bool {
        if self.requested() {
            return false;
        }
        let mut signal = self.0.clone();
        let stopped = async move {
            // An error means the sender is gone: nobody can ask any more, so stop too.
            let _ = signal.wait_for(|stop| *stop).await;
        };
        match select(pin!(work), pin!(stopped)).await {
            Either::Left(_) => !self.requested(),
            Either::Right(_) => false,
        }
    }

    /// Sleeps `duration`, or less if a stop is requested. Returns whether to go on.
    pub async fn sleep(&mut self, duration: Duration) -> bool {
        self.wait(actix_web::rt::time::sleep(duration)).await
    }
}

/// The running workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    running: Vec<(&'static str, actix_web::rt::task::JoinHandle<()>)>,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            stop: watch::channel(false).0,
            running: Vec::new(),
        }
    }
}

impl Workers {
    /// Starts `worker` on this thread's runtime.
    pub fn start<W: Worker>(&mut self, worker: W) {
        let stop = Stop(self.stop.subscribe());
        self.running
            .push((W::NAME, actix_web::rt::spawn(worker.run(stop))));
    }

    /// Asks every worker to stop and waits up to `grace` for them; aborts those still running.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        for (name, handle) in self.running {
            let abort = handle.abort_handle();
            match tokio::time::timeout_at(deadline, handle).await {
                Ok(_) => log::debug!("{name} stopped"),
                Err(_) => {
                    log::warn!("{name} did not stop within {grace:?}: aborted");
                    abort.abort();
                }
            }
        }
    }
}
