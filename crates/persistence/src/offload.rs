//! Storage work leaves the async threads for blocking ones, at most as many at once as the
//! pool has connections. The rest wait here, in arrival order, as futures: not as parked
//! threads queued on the pool, which costs a thread each, a wake-up each, and hands the next
//! free connection to whichever thread the scheduler picks (a long latency tail under load).

use domain::ports::{Cause, StoreError};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The gate in front of the blocking threads. Cheap to clone: every clone is the same gate.
#[derive(Clone, Debug)]
pub struct Offload {
    permits: Arc<Semaphore>,
}

impl Offload {
    /// A gate letting `connections` jobs run at once (the pool's size; at least one).
    pub fn new(connections: u32) -> Self {
        let permits = usize::try_from(connections.max(1)).unwrap_or(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(permits.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Runs `f` on a blocking thread once a connection's worth of room is free. `context`
    /// names the work in the error, which keeps its cause.
    pub async fn run<T, F>(&self, context: &'static str, f: F) -> Result<T, OffloadError>
    where
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.call(context, f)
            .await?
            .map_err(|source| OffloadError::Store { context, source })
    }

    /// Runs `f` as [`Offload::run`] does, for work whose own errors are not the store's (keys,
    /// sealing): its result comes back whole; only a job that never completed is an error here.
    pub async fn call<T, F>(&self, context: &'static str, f: F) -> Result<T, OffloadError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // The semaphore is never closed, so waiting can only end with a permit. The job holds
        // it until it ends, even if the request that asked is dropped meanwhile.
        let permit =
            self.permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| OffloadError::Failed {
                    context,
                    source: e.into(),
                })?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| OffloadError::Failed {
            context,
            source: e.into(),
        })
    }
}

/// Why offloaded work did not produce its result.
#[derive(Debug, thiserror::Error)]
pub enum OffloadError {
    /// The store refused or failed.
    #[error("{context}")]
    Store {
        context: &'static str,
        #[source]
        source: StoreError,
    },
    /// The work never completed (its thread panicked, or the runtime is shutting down).
    #[error("{context}: the blocking task did not complete")]
    Failed {
        context: &'static str,
        #[source]
        source: Cause,
    },
}

#[cfg(test)]
mod tests {
    use super::Offload;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[actix_rt::test]
    async fn never_more_jobs_at_once_than_connections() {
        let gate = Offload::new(3);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..12).map(|_| {
            let (running, most) = (running.clone(), most.clone());
            gate.run("test", move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
        });
        for result in futures_util::future::join_all(jobs).await {
            assert!(result.is_ok(), "a gated job failed");
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[actix_rt::test]
    async fn a_dropped_request_keeps_its_slot_until_its_job_ends() {
        let gate = Offload::new(1);
        let first_done = Arc::new(AtomicUsize::new(0));
        let done = first_done.clone();
        let first = actix_rt::spawn({
            let gate = gate.clone();
            async move {
                gate.run("first", move || {
                    std::thread::sleep(Duration::from_millis(100));
                    done.store(1, Ordering::SeqCst);
                    Ok(())
                })
                .await
            }
        });
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        // The client went away: the handler's future is dropped while its job still runs.
        first.abort();
        let seen = first_done.clone();
        let second = gate
            .run("second", move || Ok(seen.load(Ordering::SeqCst)))
            .await;
        assert_eq!(second.ok(), Some(1), "the second job ran beside the first");
    }
}
