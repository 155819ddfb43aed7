//! The webhook dispatcher (a worker): claims due deliveries (one per event and hook), sends each in its
//! hook's format, and records the outcome on that delivery alone, so a failing hook is retried
//! without the healthy ones hearing the event twice. All state lives in the database, so a
//! restart (or another instance) picks up where this one left off.

use super::failure::{DeliveryError, Outcome};
use crate::delivery::config::{HookFormat, WebhookConfig, WebhooksConfig};
use crate::delivery::destinations::{self, Destinations, Trust};
use crate::delivery::formats::{self, Answer, Signer};
use crate::delivery::sealing;
use crate::delivery::PollWake;
use crate::lifecycle::{Stop, Worker};
use crate::metrics::{AttemptResult, Metrics};
use crate::report::Report;
use chrono::{DateTime, Utc};
use domain::config::Issuer;
use domain::ids::EventId;
use domain::model::{Delivery, OutboxEvent};
use domain::ports::{ClaimLimits, Outbox, SsfStore};
use domain::ssf::{self, DefaultSubjects};
use jwks::KeyManager;
use persistence::{Database, Offload};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Deliveries in hand at once (in flight or queued), so never more in flight.
const IN_HAND: usize = 128;
/// Deliveries in flight at once to one destination (hook or stream): a destination that
/// answers slowly or not at all holds this many, never the others' share.
const PER_DESTINATION: usize = 32;
/// Claimed deliveries a destination may hold besides those in flight, each started as one
/// of its attempts ends: the next claim runs while these go out, so a destination that
/// answers at once is never left waiting for the database (bench/dispatcher: with as many
/// queued as in flight, 15,600/s; with twice as many, 18,700/s; with none, 13,600/s).
const QUEUED_PER_DESTINATION: usize = 2 * PER_DESTINATION;
/// Of an answer, what is read (enough for an RFC 8935 error); the rest is never received.
const ANSWER_BYTES: usize = 4096;
/// How often to look for due events when nothing wakes us.
const POLL: Duration = Duration::from_millis(500);
/// Delivered and dead events older than this may be pruned.
const RETENTION_DAYS: i64 = 30;

/// Wait before retry number `attempts` (1-based): `initial · 2^(attempts-1)`, capped.
pub fn backoff(initial: Duration, attempts: i32) -> Duration {
    // A count below one (never stored) waits the initial backoff.
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    initial
        .checked_mul(1u32 << exponent)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

/// How long a claim holds its deliveries: a queued one waits for at most one attempt of each
/// sender per [`PER_DESTINATION`] ahead of it, then makes its own; each within the timeout.
/// With a margin; at most a year, whatever the timeout.
fn lease(timeout: chrono::Duration) -> chrono::Duration {
    const ATTEMPTS: i32 = (QUEUED_PER_DESTINATION.div_ceil(PER_DESTINATION) + 1) as i32;
    let year = chrono::Duration::days(365);
    timeout
        .checked_mul(ATTEMPTS)
        .and_then(|t| t.checked_add(&chrono::Duration::seconds(30)))
        .map_or(year, |lease| lease.min(year))
}

/// The delivery worker, with only what it needs.
pub struct Dispatcher {
    db: Database,
    /// The one gate in front of blocking work, shared with the requests.
    offload: Offload,
    keys: Arc<KeyManager>,
    metrics: Arc<Metrics>,
    config: Arc<WebhooksConfig>,
    /// `iss` of the tokens sent (`session.issuer`).
    issuer: Option<Issuer>,
    /// Whether the SSF streams hear of every user (`ssf.default_subjects`).
    default_subjects: DefaultSubjects,
    /// Whether the SSF transmitter is on (the unparking chore runs).
    streams: bool,
    /// One HTTP client per destination, connecting only where deliveries may go.
    destinations: Destinations,
    wake: Arc<Notify>,
    /// Wakes the long polls of this instance when events reach their streams.
    polls: PollWake,
    /// Per destination with deliveries in hand: those in flight and those queued.
    lanes: RefCell<HashMap<String, Lane>>,
    /// Whether the last claim found deliveries due, or passed over a full lane: then more may
    /// be due, and a lane whose queue runs low starts another round.
    backlog: Cell<bool>,
    /// Deliveries made and not yet written down; written together, one transaction for as
    /// many as ended while the last write was under way (a commit each would bound the
    /// dispatcher by the disk's flushes, not by the receivers).
    delivered: RefCell<Vec<(EventId, String, DateTime<Utc>)>>,
    /// Whether a delivery's task is writing them now.
    writing: Cell<bool>,
}

/// The dispatcher's chores besides delivering, and when it last did them.
#[derive(Default)]
struct Chores {
    last_prune: Option<std::time::Instant>,
    last_unpark: Option<std::time::Instant>,
    keys_adopted: bool,
}

impl Worker for Dispatcher {
    const NAME: &'static str = "webhook dispatcher";

    async fn run(self, mut stop: Stop) {
        let this = Rc::new(self);
        let mut chores = Chores::default();
        let mut in_flight = JoinSet::new();
        loop {
            while in_flight.try_join_next().is_some() {}
            let full = this.work(&mut chores, &mut in_flight).await;
            let go_on = if full {
                !stop.requested()
            } else {
                // Wait for an event written in this process, a delivery that frees room, or
                // poll for other instances' events.
                stop.wait(tokio::time::timeout(POLL, this.wake.notified()))
                    .await
            };
            if !go_on {
                break;
            }
        }
        // What is queued goes back; each delivery in flight ends within its timeout.
        this.release_queued().await;
        while in_flight.join_next().await.is_some() {}
    }
}

/// One destination's deliveries in hand: each sender sends one at a time, taking the next
/// from the queue as the last ends, so a lane never has more than [`PER_DESTINATION`] in
/// flight, nor more than [`QUEUED_PER_DESTINATION`] waiting (all claimed, in due order).
#[derive(Default)]
struct Lane {
    senders: usize,
    queued: VecDeque<Delivery>,
}

impl Lane {
    fn held(&self) -> usize {
        self.senders + self.queued.len()
    }
}

/// One of a lane's senders, counted until it ends (or is aborted).
struct Sender {
    dispatcher: Rc<Dispatcher>,
    destination: String,
}

impl Sender {
    fn start(dispatcher: &Rc<Dispatcher>, destination: &str) -> Self {
        dispatcher
            .lanes
            .borrow_mut()
            .entry(destination.to_owned())
            .or_default()
            .senders += 1;
        Self {
            dispatcher: dispatcher.clone(),
            destination: destination.to_owned(),
        }
    }

    /// The lane's next delivery, if any is queued. Wakes the loop when the queue has run low
    /// (half its room free, or empty): a claim then takes a batch, not one delivery each time
    /// one ends, and runs while the rest of the queue goes out.
    fn next(&self) -> Option<Delivery> {
        let mut lanes = self.dispatcher.lanes.borrow_mut();
        let lane = lanes.get_mut(&self.destination)?;
        let next = lane.queued.pop_front();
        if self.dispatcher.backlog.get() && lane.queued.len() <= QUEUED_PER_DESTINATION / 2 {
            self.dispatcher.wake.notify_one();
        }
        next
    }

    async fn run(self) {
        while let Some(delivery) = self.next() {
            self.dispatcher.deliver(delivery).await;
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut lanes = self.dispatcher.lanes.borrow_mut();
        if let Some(lane) = lanes.get_mut(&self.destination) {
            lane.senders = lane.senders.saturating_sub(1);
            if lane.held() == 0 {
                lanes.remove(&self.destination);
            }
        }
        // Not only when the lane was full: a claim made while others were ending takes less
        // than the room there is by then, and nothing else would wake the loop before `POLL`
        // (a backlog of events from elsewhere would go out 8 per half second).
        if self.dispatcher.backlog.get() {
            self.dispatcher.wake.notify_one();
        }
    }
}

impl Dispatcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Database,
        offload: Offload,
        keys: Arc<KeyManager>,
        metrics: Arc<Metrics>,
        config: Arc<WebhooksConfig>,
        issuer: Option<Issuer>,
        ssf: Option<DefaultSubjects>,
        destinations: Destinations,
        wake: Arc<Notify>,
        polls: PollWake,
    ) -> Self {
        Self {
            db,
            offload,
            keys,
            metrics,
            config,
            issuer,
            default_subjects: ssf.unwrap_or_default(),
            streams: ssf.is_some(),
            destinations,
            wake,
            polls,
            lanes: RefCell::default(),
            backlog: Cell::new(false),
            delivered: RefCell::default(),
            writing: Cell::new(false),
        }
    }

    /// One round of claiming (and the odd chore). Returns whether it took all it had room for
    /// (there may be more due).
    async fn work(self: &Rc<Self>, state: &mut Chores, in_flight: &mut JoinSet<()>) -> bool {
        if !state.keys_adopted {
            state.keys_adopted = self.adopt_legacy_keys().await;
        }
        let full = self.round(in_flight).await;
        if self.streams
            && state
                .last_unpark
                .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
        {
            state.last_unpark = Some(std::time::Instant::now());
            self.unpark().await;
        }
        if state
            .last_prune
            .is_none_or(|t| t.elapsed() > Duration::from_secs(3600))
        {
            state.last_prune = Some(std::time::Instant::now());
            self.prune().await;
        }
        full
    }

    /// Moves the deliveries stored under a hook's earlier key (an unnamed hook used to be known
    /// by its URL's path too, which may be its credential) to its key. Returns whether every
    /// hook is done; until then it is tried again each round.
    async fn adopt_legacy_keys(&self) -> bool {
        let renames: Vec<(String, String)> = self
            .config
            .hooks
            .iter()
            .filter_map(|h| h.legacy_key().map(|legacy| (legacy, h.key())))
            .collect();
        if renames.is_empty() {
            return true;
        }
        let db = self.db.clone();
        let result = self
            .offload
            .run("webhooks: renaming hook keys", move || {
                renames.iter().try_fold(0, |moved, (from, to)| {
                    db.rename_hook(from, to).map(|n| moved + n)
                })
            })
            .await;
        match result {
            Ok(moved) => {
                if moved > 0 {
                    log::info!("webhooks: {moved} deliveries moved to their hook's new key");
                }
                true
            }
            Err(e) => {
                log::warn!("{}", Report(&e));
                false
            }
        }
    }

    /// What the next claim may take: the room left in all, and in each busy lane (in flight
    /// and queued).
    fn limits(&self) -> ClaimLimits {
        let lanes = self.lanes.borrow();
        let held: usize = lanes.values().map(Lane::held).sum();
        let per_destination = PER_DESTINATION + QUEUED_PER_DESTINATION;
        ClaimLimits {
            total: u32::try_from(IN_HAND.saturating_sub(held)).unwrap_or(0),
            per_destination: u32::try_from(per_destination).unwrap_or(0),
            room: lanes
                .iter()
                .map(|(hook, lane)| {
                    let room = per_destination.saturating_sub(lane.held());
                    (hook.clone(), u32::try_from(room).unwrap_or(0))
                })
                .collect(),
        }
    }

    /// Queues claimed deliveries in their lanes and starts the senders there is room for.
    fn enqueue(self: &Rc<Self>, deliveries: Vec<Delivery>, in_flight: &mut JoinSet<()>) {
        let mut touched: Vec<String> = Vec::new();
        let mut starting: Vec<(String, usize)> = Vec::new();
        {
            let mut lanes = self.lanes.borrow_mut();
            for delivery in deliveries {
                if !touched.contains(&delivery.hook) {
                    touched.push(delivery.hook.clone());
                }
                lanes
                    .entry(delivery.hook.clone())
                    .or_default()
                    .queued
                    .push_back(delivery);
            }
            for destination in touched {
                if let Some(lane) = lanes.get(&destination) {
                    let idle = PER_DESTINATION.saturating_sub(lane.senders);
                    starting.push((destination, idle.min(lane.queued.len())));
                }
            }
        }
        for (destination, senders) in starting {
            for _ in 0..senders {
                in_flight.spawn_local(Sender::start(self, &destination).run());
            }
        }
    }

    /// Hands back the deliveries queued and not started (stopping): due again at once.
    async fn release_queued(&self) {
        let queued: Vec<(EventId, String)> = self
            .lanes
            .borrow_mut()
            .values_mut()
            .flat_map(|lane| lane.queued.drain(..))
            .map(|d| (d.event.id, d.hook))
            .collect();
        if queued.is_empty() {
            return;
        }
        let db = self.db.clone();
        let n = queued.len();
        let result = self
            .offload
            .run("webhooks: releasing queued deliveries", move || {
                db.release(&queued, Utc::now())
            })
            .await;
        if let Err(e) = result {
            // Their lease expires; they are sent then.
            log::warn!("{n} queued deliveries not released: {}", Report(&e));
        }
    }

    /// One round: claim what there is room for and start each delivery in its destination's
    /// lane; nobody waits for another destination's answer. Returns whether the claim took
    /// all it was allowed.
    async fn round(self: &Rc<Self>, in_flight: &mut JoinSet<()>) -> bool {
        let limits = self.limits();
        if limits.total == 0 {
            return false; // a delivery that ends wakes the loop
        }
        let now = Utc::now();
        // The lease outlasts the slowest possible wait in a queue (the attempts ahead, each
        // ending within the timeout) and attempt, so no other instance can start the same
        // attempt while this one holds it.
        let lease = lease(self.config.timeout.chrono());
        let db = self.db.clone();
        let asked = limits.total as usize;
        // A destination without room is passed over: it has a backlog the claim cannot see.
        let lanes_full = limits.room.iter().any(|(_, room)| *room == 0);
        let started = std::time::Instant::now();
        let claim = self
            .offload
            .run("webhooks: claiming deliveries", move || {
                db.claim_due(now, &limits, now + lease)
            })
            .await;
        let deliveries = match claim {
            Ok(deliveries) => deliveries,
            Err(e) => {
                log::warn!("{}", Report(&e));
                return false;
            }
        };
        let n = deliveries.len();
        log::debug!(
            "webhooks: claimed {n} of {asked} in {:?}",
            started.elapsed()
        );
        self.backlog.set(n > 0 || lanes_full);
        self.enqueue(deliveries, in_flight);
        n == asked
    }

    async fn deliver(&self, delivery: Delivery) {
        if delivery.hook == Delivery::ALL_SUBSCRIBED {
            return self.fan_out(&delivery).await;
        }
        if delivery.hook == ssf::ALL_STREAMS {
            return self.fan_out_to_streams(&delivery).await;
        }
        if let Some(stream) = ssf::stream_of(&delivery.hook) {
            // None: parked (the stream is paused or polled).
            if let Some(outcome) = self.attempt_stream(stream, &delivery).await {
                self.record(&delivery, outcome).await;
            }
            return;
        }
        let outcome = match self.config.hook(&delivery.hook) {
            Some(hook) => self.attempt(hook, &delivery).await,
            None => Outcome::Refused(DeliveryError::Unconfigured {
                hook: delivery.hook.clone(),
            }),
        };
        self.record(&delivery, outcome).await;
    }

    /// An event from before deliveries were kept per hook: one delivery per hook that wants it.
    async fn fan_out(&self, delivery: &Delivery) {
        let db = self.db.clone();
        let id = delivery.event.id;
        let hooks = self.config.recipients(&delivery.event.event);
        let result = self
            .offload
            .run("webhooks: fanning out", move || {
                db.fan_out(id, &hooks, Utc::now())
            })
            .await;
        match result {
            Ok(()) => self.wake.notify_one(),
            Err(e) => log::warn!("{id}: {}", Report(&e)),
        }
    }

    /// An event for the SSF streams: one delivery per stream that wants it.
    async fn fan_out_to_streams(&self, delivery: &Delivery) {
        let db = self.db.clone();
        let id = delivery.event.id;
        let subjects = self.default_subjects;
        let result = self
            .offload
            .run("ssf: fanning out", move || {
                db.fan_out_to_streams(id, subjects, Utc::now())
            })
            .await;
        match result {
            Ok(n) => {
                if n > 0 {
                    self.wake.notify_one();
                    self.polls.wake();
                }
            }
            Err(e) => log::warn!("{id}: {}", Report(&e)),
        }
    }

    /// Pushes a stream's SET (RFC 8935) with the stream's `authorization_header`. `None` when
    /// the stream may not be sent to now (paused, or polled): the delivery is parked.
    async fn attempt_stream(&self, stream_id: uuid::Uuid, delivery: &Delivery) -> Option<Outcome> {
        let key = delivery.hook.clone();
        let db = self.db.clone();
        let found = self
            .offload
            .run("ssf: loading a stream", move || {
                db.stream_for_delivery(stream_id)
            })
            .await;
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                log::warn!("{stream_id}: {}", Report(&e));
                return None; // the lease expires; tried again
            }
        };
        let Some((stream, receiver)) = found else {
            return Some(Outcome::Refused(DeliveryError::Unconfigured { hook: key }));
        };
        let (endpoint, authorization) = match (&stream.status, &stream.config.delivery) {
            (
                ssf::StreamStatus::Enabled,
                ssf::Delivery::Push {
                    endpoint_url,
                    authorization_header,
                },
            ) => (endpoint_url.clone(), authorization_header.clone()),
            _ => {
                let db = self.db.clone();
                let id = delivery.event.id;
                let parked = self
                    .offload
                    .run("ssf: parking", move || db.park_delivery(id, &key))
                    .await;
                if let Err(e) = parked {
                    log::warn!("{id}: {}", Report(&e));
                }
                return None;
            }
        };
        let authorization = match authorization.map(|h| sealing::open(&self.keys, &h)) {
            None => None,
            Some(Ok(plain)) => Some(plain),
            Some(Err(e)) => {
                log::warn!("ssf: stream {stream_id}: {}", Report(&e));
                return Some(Outcome::Failed(DeliveryError::Unopened { hook: key }));
            }
        };
        let (keys, issuer) = (self.keys.clone(), self.issuer.clone());
        let (audience, event, id) = (receiver.audience.clone(), delivery.event.clone(), stream.id);
        let signed = self
            .offload
            .call("ssf: signing a SET", move || {
                let signer = Signer {
                    keys: &keys,
                    issuer: issuer.as_ref(),
                };
                formats::stream_set(&audience, id, &event, &signer, Utc::now())
            })
            .await
            .map_err(formats::PrepareError::Unfinished)
            .and_then(|signed| signed);
        let token = match signed {
            Ok(token) => token,
            Err(e) if e.is_retryable() => return Some(Outcome::Failed(DeliveryError::Prepare(e))),
            Err(e) => return Some(Outcome::Refused(DeliveryError::Prepare(e))),
        };
        let mut request = match self.destinations.post(&endpoint, Trust::Receiver) {
            Ok(request) => request,
            Err(e) => return Some(DeliveryError::unsendable(key, e)),
        }
        .header(reqwest::header::CONTENT_TYPE, "application/secevent+jwt")
        .header(reqwest::header::ACCEPT, "application/json");
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = match request.body(token).send().await {
            Ok(response) => response,
            Err(e) => return Some(DeliveryError::transport(key, &e)),
        };
        let status = response.status().as_u16();
        let body = destinations::read_at_most(response, ANSWER_BYTES).await;
        Some(match formats::answer(HookFormat::Set, status, &body) {
            Answer::Delivered => Outcome::Delivered,
            Answer::Failed(answer) => {
                Outcome::Failed(DeliveryError::Answered { hook: key, answer })
            }
            Answer::Refused(answer) => {
                Outcome::Refused(DeliveryError::Answered { hook: key, answer })
            }
        })
    }

    /// Deliveries of enabled push streams left parked by a resume that raced a fan-out.
    async fn unpark(&self) {
        let db = self.db.clone();
        let unparked = self
            .offload
            .run("ssf: unparking", move || db.unpark_enabled(Utc::now()))
            .await;
        match unparked {
            Ok(n) if n > 0 => {
                log::info!("ssf: {n} parked deliveries of enabled streams are due");
                self.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => log::warn!("{}", Report(&e)),
        }
    }

    /// `event` as `hook` takes it. A format that signs a token with the session key (RS256 by
    /// default: about a millisecond each on a small machine) signs on a storage thread, so the
    /// signatures use every core while this thread goes on sending; an HMAC is made here.
    async fn prepare(
        &self,
        hook: &WebhookConfig,
        event: &OutboxEvent,
    ) -> Result<formats::Prepared, formats::PrepareError> {
        if hook.format == HookFormat::Standard {
            let signer = Signer {
                keys: &self.keys,
                issuer: self.issuer.as_ref(),
            };
            return formats::prepare(hook, event, &signer, Utc::now());
        }
        let (keys, issuer) = (self.keys.clone(), self.issuer.clone());
        let (hook, event) = (hook.clone(), event.clone());
        self.offload
            .call("webhooks: signing a delivery", move || {
                let signer = Signer {
                    keys: &keys,
                    issuer: issuer.as_ref(),
                };
                formats::prepare(&hook, &event, &signer, Utc::now())
            })
            .await
            .map_err(formats::PrepareError::Unfinished)?
    }

    async fn attempt(&self, hook: &WebhookConfig, delivery: &Delivery) -> Outcome {
        let prepared = match self.prepare(hook, &delivery.event).await {
            Ok(prepared) => prepared,
            // A key that cannot sign now may later; a body or subject that cannot be made never
            // can: dead at once, with the reason.
            Err(e) if e.is_retryable() => return Outcome::Failed(DeliveryError::Prepare(e)),
            Err(e) => return Outcome::Refused(DeliveryError::Prepare(e)),
        };
        let mut request = match self.destinations.post(hook.url.expose(), Trust::Operator) {
            Ok(request) => request,
            Err(e) => return DeliveryError::unsendable(hook.key(), e),
        }
        .header(reqwest::header::CONTENT_TYPE, prepared.content_type);
        for (name, value) in prepared.headers {
            request = request.header(name, value);
        }
        let response = match request.body(prepared.body).send().await {
            Ok(response) => response,
            Err(e) => return DeliveryError::transport(hook.key(), &e),
        };
        let status = response.status().as_u16();
        // The body matters only to read an RFC 8935 error; a few KiB are plenty, and an
        // answer whose body cannot be read reads as what arrived of it.
        let body = destinations::read_at_most(response, ANSWER_BYTES).await;
        match formats::answer(hook.format, status, &body) {
            Answer::Delivered => Outcome::Delivered,
            Answer::Failed(answer) => Outcome::Failed(DeliveryError::Answered {
                hook: hook.key(),
                answer,
            }),
            Answer::Refused(answer) => Outcome::Refused(DeliveryError::Answered {
                hook: hook.key(),
                answer,
            }),
        }
    }

    async fn record(&self, delivery: &Delivery, outcome: Outcome) {
        let db = self.db.clone();
        let (id, hook) = (delivery.event.id, delivery.hook.clone());
        let result = match outcome {
            Outcome::Delivered => {
                self.metrics
                    .webhook_attempt(&hook, AttemptResult::Delivered);
                self.delivered.borrow_mut().push((id, hook, Utc::now()));
                return self.write_delivered().await;
            }
            Outcome::Failed(error) => {
                let dead = delivery.attempts
                    >= i32::try_from(self.config.max_attempts).unwrap_or(i32::MAX);
                let retry_at: Option<DateTime<Utc>> = (!dead).then(|| {
                    // The backoff is capped at 10 minutes, which chrono always holds.
                    Utc::now()
                        + chrono::Duration::from_std(backoff(
                            self.config.initial_backoff.std(),
                            delivery.attempts,
                        ))
                        .unwrap_or(chrono::Duration::seconds(600))
                });
                self.failed(delivery, &error, dead);
                let error = Report(&error).to_string();
                self.offload
                    .run("webhooks: recording a failure", move || {
                        db.mark_failed(id, &hook, &error, retry_at)
                    })
                    .await
            }
            Outcome::Refused(error) => {
                self.failed(delivery, &error, true);
                let error = Report(&error).to_string();
                self.offload
                    .run("webhooks: recording a refusal", move || {
                        db.mark_failed(id, &hook, &error, None)
                    })
                    .await
            }
        };
        // Not recorded: the lease expires and the delivery is retried (at-least-once).
        if let Err(e) = result {
            log::warn!("{id} for {}: {}", delivery.hook, Report(&e));
        }
    }

    /// Writes down the deliveries made, unless another task is at it (it takes these too):
    /// group commit. A write that fails leaves those deliveries to their lease, after which
    /// they are sent again (at-least-once, as ever).
    async fn write_delivered(&self) {
        if self.writing.replace(true) {
            return;
        }
        loop {
            let done = std::mem::take(&mut *self.delivered.borrow_mut());
            if done.is_empty() {
                break;
            }
            let db = self.db.clone();
            let n = done.len();
            let result = self
                .offload
                .run("webhooks: recording deliveries", move || {
                    db.mark_delivered(&done)
                })
                .await;
            if let Err(e) = result {
                log::warn!("{n} deliveries not recorded: {}", Report(&e));
            }
        }
        self.writing.set(false);
    }

    fn failed(&self, delivery: &Delivery, error: &DeliveryError, dead: bool) {
        let id = delivery.event.id;
        let result = if dead {
            AttemptResult::Dead
        } else {
            AttemptResult::Failed
        };
        self.metrics.webhook_attempt(&delivery.hook, result);
        if dead {
            log::warn!(
                "webhook event {id} is dead after {} attempts: {}",
                delivery.attempts,
                Report(error)
            );
        } else {
            log::info!(
                "webhook event {id} attempt {} failed: {}",
                delivery.attempts,
                Report(error)
            );
        }
    }

    async fn prune(&self) {
        let db = self.db.clone();
        let before = Utc::now() - chrono::Duration::days(RETENTION_DAYS);
        let pruned = self
            .offload
            .run("webhooks: pruning", move || db.prune_outbox(before))
            .await;
        match pruned {
            Ok(n) if n > 0 => log::info!("webhooks: pruned {n} old events"),
            Ok(_) => {}
            Err(e) => log::warn!("{}", Report(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 1), Duration::from_secs(1));
        assert_eq!(backoff(s, 2), Duration::from_secs(2));
        assert_eq!(backoff(s, 4), Duration::from_secs(8));
        assert_eq!(backoff(s, 30), MAX_BACKOFF);
        assert_eq!(backoff(s, 0), Duration::from_secs(1));
    }
}
