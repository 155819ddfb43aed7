//! Session lookups for the auth extractor, batched: concurrent requests that need a session
//! row at the same moment share one query (`WHERE id = ANY(…)`) and one trip to a blocking
//! thread. Every request still reads its session from the database after it arrived; nothing
//! is cached.

use domain::ids::SessionId;
use domain::model::Session;
use domain::ports::{SessionStore, StoreError};
use persistence::Database;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;

/// Most lookups one query serves.
const MAX_BATCH: usize = 64;
/// Lookups waiting beyond this many are answered "unavailable" (back-pressure, not a hang).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<Option<Session>, LookupError>>;

/// Why a session could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The queue is full: back-pressure instead of an unbounded wait.
    #[error("session lookup queue full")]
    Overloaded,
    /// The lookup threads are gone (shutting down).
    #[error("session lookup threads stopped")]
    Stopped,
    /// The database failed; every lookup of the batch shares the one error.
    #[error("session lookup query failed")]
    Store(#[source] Arc<StoreError>),
}

struct Lookup {
    id: SessionId,
    reply: Reply,
}

/// The batching front of the session store.
#[derive(Clone)]
pub struct SessionLookup {
    queue: SyncSender<Lookup>,
}

impl SessionLookup {
    /// Starts `threads` lookup threads over `db` (they end when every handle is dropped).
    pub fn start(db: Database, threads: usize) -> std::io::Result<Self> {
        let (queue, rx) = sync_channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let (db, rx) = (db.clone(), rx.clone());
            std::thread::Builder::new()
                .name(format!("session-lookup-{i}"))
                .spawn(move || serve(&db, &rx))?;
        }
        Ok(Self { queue })
    }

    /// The session row, if it exists.
    pub async fn find(&self, id: SessionId) -> Result<Option<Session>, LookupError> {
        let (reply, answer) = oneshot::channel();
        match self.queue.try_send(Lookup { id, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(LookupError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(LookupError::Stopped),
        }
        answer.await.unwrap_or(Err(LookupError::Stopped))
    }
}

fn serve(db: &Database, rx: &Mutex<Receiver<Lookup>>) {
    loop {
        // Take one lookup (waiting), then whatever else is already queued.
        let batch: Vec<Lookup> = {
            let rx = rx.lock().unwrap_or_else(PoisonError::into_inner);
            let Ok(first) = rx.recv() else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            batch
        };
        answer(db, batch);
    }
}

fn answer(db: &Database, batch: Vec<Lookup>) {
    if let [only] = batch.as_slice() {
        // A lone lookup uses the single-row statement (prepared once per connection).
        let result = db
            .find_session(only.id)
            .map_err(|e| LookupError::Store(Arc::new(e)));
        if let Some(Lookup { reply, .. }) = batch.into_iter().next() {
            let _ = reply.send(result);
        }
        return;
    }
    let ids: Vec<SessionId> = batch.iter().map(|l| l.id).collect();
    match db.find_sessions(&ids) {
        Ok(found) => {
            for lookup in batch {
                let session = found.iter().find(|s| s.id == lookup.id).cloned();
                let _ = lookup.reply.send(Ok(session));
            }
        }
        Err(e) => {
            let shared = Arc::new(e);
            for lookup in batch {
                let _ = lookup.reply.send(Err(LookupError::Store(shared.clone())));
            }
        }
    }
}
