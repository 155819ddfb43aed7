//! The use cases, each once. Every door calls these: the public and admin APIs, the SSF
//! endpoints, the command line and the workers. A use case builds its command, lets the outbox
//! decide who hears of the event it writes, runs its blocking work through the one gate
//! ([`Offload`]), wakes delivery after the commit and counts what happened. A door only parses
//! its input, calls, and maps the outcome to a status or an exit code.
//!
//! - [`accounts`]: create, read and delete users; change a deletion (restore, hold); export.
//! - [`sessions`]: issue, list and end sessions.
//! - [`deliveries`]: retry deliveries; the delivery and audit listings; the metrics gauges.
//! - [`keys`]: rotate, list and prune signing keys; re-encrypt them under the first secret.
//! - [`retention`]: the inactivity policy's passes and preview.
//! - [`streams`]: the SSF receivers and their streams.
//! - [`scim`]: SCIM provisioning: the providers' clients and what they do to users.

pub mod accounts;
pub mod deliveries;
pub mod keys;
pub mod retention;
pub mod scim;
pub mod sessions;
pub mod streams;

use crate::config::Config;
use crate::delivery::destinations::AddressPolicy;
use crate::delivery::Publisher;
use crate::metrics::Metrics;
use domain::model::RequestContext;
use domain::ports::Cause;
use jwks::KeyManager;
use persistence::{Database, Deletions, Offload, OffloadError};
use std::rc::Rc;
use std::sync::Arc;

/// Everything the use cases reach (cheap to clone: all of it is shared). One per HTTP worker,
/// which owns its deletions' lanes (so it stays on that worker's thread).
#[derive(Clone)]
pub struct Services {
    pub(crate) db: Database,
    /// The one gate in front of blocking work (at most a pool's worth at once).
    pub(crate) offload: Offload,
    pub(crate) keys: Arc<KeyManager>,
    pub(crate) config: Arc<Config>,
    pub(crate) metrics: Arc<Metrics>,
    /// Who hears of the events use cases write, and the dispatcher's wake-up.
    pub(crate) events: Publisher,
    /// Where SSF pushes may go (our own listeners never).
    pub(crate) destinations: Arc<AddressPolicy>,
    /// The one entry point of every deletion: an HTTP worker's own lanes, or the pool.
    deletions: Rc<Deletions>,
}

/// The parts [`Services`] is made of, shared by every thread.
#[derive(Clone)]
pub struct Parts {
    pub db: Database,
    pub offload: Offload,
    pub keys: Arc<KeyManager>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub events: Publisher,
    pub destinations: Arc<AddressPolicy>,
}

impl Services {
    /// The use cases over `parts`, deleting on the pool.
    pub fn new(parts: Parts) -> Self {
        let deletions = Deletions::pooled(parts.db.clone(), parts.offload.clone());
        Self::with_deletions(parts, deletions)
    }

    /// The use cases over `parts`, deleting through `deletions` (an HTTP worker's own lanes).
    pub fn with_deletions(parts: Parts, deletions: Deletions) -> Self {
        Self {
            db: parts.db,
            offload: parts.offload,
            keys: parts.keys,
            config: parts.config,
            metrics: parts.metrics,
            events: parts.events,
            destinations: parts.destinations,
            deletions: Rc::new(deletions),
        }
    }

    /// The use cases for one command line invocation: the pool, a gate of its size, and a
    /// publisher that wakes no one here (the serving instances' dispatchers find the events the
    /// command writes on their next look).
    pub fn standalone(config: Config) -> Self {
        let config = Arc::new(config);
        let db = Database::connect(&config.database);
        let keys = Arc::new(KeyManager::new(
            Arc::new(db.clone()),
            &config.secrets,
            config.session.token_policy(),
        ));
        Self::new(Parts {
            offload: Offload::new(db.pool_state().max_size),
            db,
            keys,
            metrics: Arc::new(Metrics::default()),
            events: Publisher::new(Arc::new(config.webhooks.clone()), config.ssf.enabled),
            destinations: Arc::new(AddressPolicy::new(
                config.ssf.push.allow_networks.clone(),
                Vec::new(),
            )),
            config,
        })
    }

    pub(crate) fn deletions(&self) -> &Deletions {
        &self.deletions
    }
}

/// Who asks, as the audit log records it, for a change made from the command line.
pub fn command_line() -> RequestContext {
    RequestContext {
        request_id: "cli".to_owned(),
        source_ip: None,
        user_agent: Some("api (command line)".to_owned()),
    }
}

/// Why a use case did not complete (its refusals are part of its outcome, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Storage failed, or the blocking work never completed.
    #[error(transparent)]
    Storage(#[from] OffloadError),
    /// Anything else that failed inside (keys, sealing, signing): `context` names the work.
    #[error("{context}")]
    Internal {
        context: &'static str,
        #[source]
        source: Cause,
    },
}

impl ServiceError {
    pub(crate) fn internal(context: &'static str, source: impl Into<Cause>) -> Self {
        Self::Internal {
            context,
            source: source.into(),
        }
    }
}
