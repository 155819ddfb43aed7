//! Storage work leaves the async threads for blocking ones, at most as many at once as the
//! pool has connections. The rest wait here, in arrival order, as futures: not as parked
//! threads queued on the pool, which costs a thread each, a wake-up each, and hands the next
//! free connection to whichever thread the scheduler picks (a long latency tail under load).
//!
//! The blocking threads are this gate's own, one per connection at most, started as the first
//! jobs arrive and kept until the gate is dropped: a fixed set, shared by every runtime of the
//! process. Runtimes' own blocking pools start threads per runtime and let them go after ten
//! idle seconds; under a varying load the process kept starting new ones, and its memory grew
//! with every thread it had ever had (each with its stack and its allocator arena).

use domain::ports::{Cause, StoreError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{oneshot, Semaphore};

/// The gate in front of the blocking threads. Cheap to clone: every clone is the same gate.
#[derive(Clone, Debug)]
pub struct Offload {
    permits: Arc<Semaphore>,
    threads: Arc<Threads>,
}

impl Offload {
    /// A gate letting `connections` jobs run at once (the pool's size; at least one).
    pub fn new(connections: u32) -> Self {
        let permits = usize::try_from(connections.max(1))
            .unwrap_or(Semaphore::MAX_PERMITS)
            .min(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            threads: Arc::new(Threads::new(permits)),
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
        let failed = |source: Cause| OffloadError::Failed { context, source };
        // The semaphore is never closed, so waiting can only end with a permit. The job holds
        // it until it ends, even if the request that asked is dropped meanwhile.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| failed(e.into()))?;
        let (reply, answer) = oneshot::channel();
        self.threads
            .run(Box::new(move || {
                let _permit = permit;
                // Nobody may be waiting any more (the request was dropped): nothing to tell.
                let _ = reply.send(catch_unwind(AssertUnwindSafe(f)));
            }))
            .map_err(|e| failed(e.into()))?;
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_panic)) => Err(failed("the job panicked".into())),
            Err(e) => Err(failed(e.into())),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// At most `most` threads taking jobs from one queue; they end when the gate is dropped.
#[derive(Debug)]
struct Threads {
    queue: Sender<Job>,
    jobs: Arc<Mutex<Receiver<Job>>>,
    started: AtomicUsize,
    most: usize,
}

impl Threads {
    fn new(most: usize) -> Self {
        let (queue, jobs) = channel();
        Self {
            queue,
            jobs: Arc::new(Mutex::new(jobs)),
            started: AtomicUsize::new(0),
            most,
        }
    }

    /// Queues `job`, starting one more thread while there are fewer than `most` (the gate lets
    /// no more than `most` jobs in at once, so each finds a thread free or about to be).
    fn run(&self, job: Job) -> std::io::Result<()> {
        self.queue
            .send(job)
            .map_err(|_| std::io::Error::other("the storage threads are gone"))?;
        let claimed = self
            .started
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.most).then_some(n + 1)
            });
        let Ok(n) = claimed else {
            return Ok(()); // all started
        };
        let jobs = self.jobs.clone();
        let started = std::thread::Builder::new()
            .name(format!("storage-{n}"))
            .spawn(move || serve(&jobs));
        if let Err(e) = started {
            // The queued job waits for a thread already there; were there none, say so.
            self.started.fetch_sub(1, Ordering::Relaxed);
            if n == 0 {
                return Err(e);
            }
        }
        Ok(())
    }
}

fn serve(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return, // the gate is gone
        }
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

    #[actix_rt::test]
    async fn never_more_threads_than_connections_however_many_jobs_and_runtimes() {
        let gate = Offload::new(2);
        let names = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
        for round in 0..3 {
            // Each round from a runtime of its own, as actix's workers each have one.
            let (gate, names) = (gate.clone(), names.clone());
            std::thread::spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let jobs = (0..10).map(|_| {
                        let names = names.clone();
                        gate.run("test", move || {
                            let name = std::thread::current().name().map(str::to_owned);
                            names.lock().unwrap_or_else(|e| e.into_inner()).insert(name);
                            std::thread::sleep(Duration::from_millis(5));
                            Ok(())
                        })
                    });
                    for result in futures_util::future::join_all(jobs).await {
                        assert!(result.is_ok(), "round {round}: a job failed");
                    }
                })
            })
            .join()
            .unwrap_or_else(|_| panic!("round {round} panicked"));
        }
        let names = names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let expected: std::collections::BTreeSet<_> = ["storage-0", "storage-1"]
            .into_iter()
            .map(|n| Some(n.to_owned()))
            .collect();
        assert_eq!(names, expected);
    }

    #[actix_rt::test]
    async fn a_panicking_job_is_an_error_and_its_thread_goes_on() {
        let gate = Offload::new(1);
        let panicked = gate
            .call("boom", || -> u32 { panic!("a job that panics") })
            .await;
        assert!(
            matches!(
                panicked,
                Err(super::OffloadError::Failed {
                    context: "boom",
                    ..
                })
            ),
            "{panicked:?}"
        );
        assert_eq!(gate.call("after", || 7).await.ok(), Some(7));
    }
}
