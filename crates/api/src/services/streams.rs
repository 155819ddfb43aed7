//! The Shared Signals transmitter's use cases: an operator's receivers, and a receiver's own
//! streams (configuration, status, subjects, verification, poll delivery). A receiver reaches
//! only its own streams; the door has authenticated it.

use super::{ServiceError, Services};
use crate::config::Transmitter;
use crate::delivery::formats::{self, Signer};
use crate::delivery::sealing;
use crate::metrics::AttemptResult;
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use domain::ids::EventId;
use domain::model::RequestContext;
use domain::ports::{SsfChange, SsfStore, StoreError};
use domain::ssf::{
    Delivery, Receiver, Stream, StreamConfig, StreamQuotaReached, StreamStatus, Subject,
    Verification,
};
use persistence::Database;
use std::time::Duration;

/// How long a poll waits for an event when asked to (RFC 8936 §2.4 leaves it to us).
const LONG_POLL: Duration = Duration::from_secs(30);
/// How often a waiting poll looks again without being woken (for other instances' events).
pub const LONG_POLL_RECHECK: Duration = Duration::from_secs(1);

/// Why a receiver or a stream configuration was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A receiver's audience that is one of `session.audience`: its SETs would carry a session
    /// token's audience.
    SessionAudience,
    /// A push endpoint no push could ever reach (a literal private address, or one of our own
    /// listeners).
    Unreachable,
    /// As many streams as `ssf.max_streams_per_receiver` allows.
    Quota(StreamQuotaReached),
}

/// A receiver just created, with its token (shown once, stored as its hash).
pub struct CreatedReceiver {
    pub receiver: Receiver,
    pub token: String,
}

/// An RFC 8936 poll request.
pub struct PollRequest {
    pub max_events: u32,
    pub return_immediately: bool,
    pub acks: Vec<EventId>,
    pub errors: Vec<(EventId, String)>,
}

/// What a poll answers.
pub enum Polled {
    /// The SETs, by jti, and whether more are waiting.
    Sets {
        sets: Vec<(EventId, String)>,
        more_available: bool,
    },
    NotFound,
    /// As many long polls wait on this stream as `ssf.poll.max_waiting_per_stream` allows.
    TooManyWaiting,
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()))
}

/// A new receiver token: 32 random bytes, base64url, shown once.
pub fn new_token() -> Result<String, aws_lc_rs::error::Unspecified> {
    new_token_with("ssf_")
}

/// A new bearer token: `prefix`, then 32 random bytes, base64url.
pub fn new_token_with(prefix: &str) -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

impl Services {
    pub async fn create_receiver(
        &self,
        name: String,
        audience: String,
        context: RequestContext,
    ) -> Result<Result<CreatedReceiver, Refused>, ServiceError> {
        if self.config.session.audience.contains(&audience) {
            return Ok(Err(Refused::SessionAudience));
        }
        let token =
            new_token().map_err(|e| ServiceError::internal("generating a receiver token", e))?;
        let hash = token_hash(&token);
        let receiver = self
            .audited("creating a receiver", context, move |db, change| {
                db.create_receiver(&name, &audience, &hash, change)
            })
            .await?;
        Ok(Ok(CreatedReceiver { receiver, token }))
    }

    pub async fn list_receivers(&self) -> Result<Vec<Receiver>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("listing receivers", move || db.list_receivers())
            .await?)
    }

    /// Removes a receiver; its streams end and their undelivered events are dropped.
    pub async fn delete_receiver(
        &self,
        id: uuid::Uuid,
        context: RequestContext,
    ) -> Result<bool, ServiceError> {
        self.audited("removing a receiver", context, move |db, change| {
            db.delete_receiver(id, change)
        })
        .await
    }

    /// A new stream, enabled (its push authorization header sealed at rest).
    pub async fn create_stream(
        &self,
        receiver: Receiver,
        config: StreamConfig,
        context: RequestContext,
    ) -> Result<Result<Stream, Refused>, ServiceError> {
        let config = match self.storable(config)? {
            Ok(config) => config,
            Err(refused) => return Ok(Err(refused)),
        };
        let max = self.config.ssf.max_streams_per_receiver;
        Ok(self
            .audited("creating a stream", context, move |db, change| {
                db.create_stream(&receiver, &config, max, change)
            })
            .await?
            .map_err(Refused::Quota))
    }

    pub async fn stream(
        &self,
        receiver: Receiver,
        id: uuid::Uuid,
    ) -> Result<Option<Stream>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("reading a stream", move || db.stream_of(&receiver, id))
            .await?)
    }

    pub async fn streams(&self, receiver: Receiver) -> Result<Vec<Stream>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("listing streams", move || db.streams_of(&receiver))
            .await?)
    }

    /// Replaces a stream's configuration (`None`: no such stream of this receiver), and wakes
    /// delivery (a push endpoint that changed may have deliveries waiting).
    pub async fn update_stream(
        &self,
        receiver: Receiver,
        id: uuid::Uuid,
        config: StreamConfig,
        context: RequestContext,
    ) -> Result<Result<Option<Stream>, Refused>, ServiceError> {
        let config = match self.storable(config)? {
            Ok(config) => config,
            Err(refused) => return Ok(Err(refused)),
        };
        let stream = self
            .audited("updating a stream", context, move |db, change| {
                db.update_stream(&receiver, id, &config, change)
            })
            .await?;
        self.events.wake();
        Ok(Ok(stream))
    }

    pub async fn delete_stream(
        &self,
        receiver: Receiver,
        id: uuid::Uuid,
        context: RequestContext,
    ) -> Result<bool, ServiceError> {
        self.audited("deleting a stream", context, move |db, change| {
            db.delete_stream(&receiver, id, change)
        })
        .await
    }

    /// Enables, pauses (events kept) or disables (events dropped) a stream, and wakes delivery.
    pub async fn set_stream_status(
        &self,
        receiver: Receiver,
        id: uuid::Uuid,
        status: StreamStatus,
        reason: Option<String>,
        context: RequestContext,
    ) -> Result<Option<Stream>, ServiceError> {
        let stream = self
            .audited("changing a stream's status", context, move |db, change| {
                db.set_stream_status(&receiver, id, status, reason.as_deref(), change)
            })
            .await?;
        self.events.wake();
        Ok(stream)
    }

    /// Adds or removes a subject (`None`: no such stream of this receiver).
    pub async fn change_subject(
        &self,
        receiver: Receiver,
        id: uuid::Uuid,
        subject: Subject,
        add: bool,
        context: RequestContext,
    ) -> Result<Option<()>, ServiceError> {
        self.audited(
            "changing a stream's subjects",
            context,
            move |db, change| db.change_subject(&receiver, id, &subject, add, change),
        )
        .await
    }

    /// Writes a verification event for the stream (at most one per
    /// `ssf.min_verification_interval`) and wakes delivery and the stream's waiting polls.
    pub async fn request_verification(
        &self,
        receiver: Receiver,
        id: uuid::Uuid,
        state: Option<String>,
    ) -> Result<Verification, ServiceError> {
        let db = self.db.clone();
        let interval = self.config.ssf.min_verification_interval.chrono();
        let verification = self
            .offload
            .run("requesting a verification", move || {
                db.request_verification(&receiver, id, state.as_deref(), Utc::now(), interval)
            })
            .await?;
        if verification == Verification::Requested {
            self.events.verification_requested();
        }
        Ok(verification)
    }

    /// RFC 8936 poll delivery: records the acknowledgements and errors, then answers the SETs
    /// not yet acknowledged, signed for the receiver. Asked to wait, it waits up to
    /// [`LONG_POLL`] for an event, woken by events reaching a stream on this instance and
    /// looking again every [`LONG_POLL_RECHECK`] for other instances'.
    pub async fn poll(
        &self,
        transmitter: &Transmitter,
        receiver: Receiver,
        id: uuid::Uuid,
        request: PollRequest,
    ) -> Result<Polled, ServiceError> {
        let Some(stream) = self
            .stream(receiver.clone(), id)
            .await?
            .filter(|s| matches!(s.config.delivery, Delivery::Poll))
        else {
            return Ok(Polled::NotFound);
        };
        let deadline = tokio::time::Instant::now() + LONG_POLL;
        let (mut acks, mut errors) = (request.acks, request.errors);
        // Per stream, as pushes are: an acknowledgement is a delivery, an error a dead one.
        let key = stream.delivery_key();
        for _ in &acks {
            self.metrics.webhook_attempt(&key, AttemptResult::Delivered);
        }
        for _ in &errors {
            self.metrics.webhook_attempt(&key, AttemptResult::Dead);
        }
        // Subscribed before the first look, so an event committed after it wakes us.
        let mut woken = self.events.polls().subscribe();
        let mut waiting = None;
        loop {
            let (db, polled, max) = (self.db.clone(), stream.clone(), request.max_events);
            let (a, e) = (std::mem::take(&mut acks), std::mem::take(&mut errors));
            let (events, more_available) = self
                .offload
                .run("polling a stream", move || {
                    db.poll(&polled, &a, &e, max, Utc::now())
                })
                .await?;
            let wait = events.is_empty()
                && max > 0
                && !request.return_immediately
                && tokio::time::Instant::now() < deadline;
            if wait {
                if waiting.is_none() {
                    let max_waiting = self.config.ssf.poll.max_waiting_per_stream;
                    match self.events.polls().wait_on(stream.id, max_waiting) {
                        Some(place) => waiting = Some(place),
                        None => return Ok(Polled::TooManyWaiting),
                    }
                }
                // Woken by an event reaching a stream here, or look again after a while for
                // other instances'; a client that hangs up drops this future (and its place).
                let until = deadline.min(tokio::time::Instant::now() + LONG_POLL_RECHECK);
                if tokio::time::timeout_at(until, woken.changed())
                    .await
                    .is_err()
                {
                    log::trace!("poll of stream {}: looking again", stream.id);
                }
                woken.borrow_and_update();
                continue;
            }
            let signer = Signer {
                keys: &self.keys,
                issuer: Some(&transmitter.issuer),
            };
            let mut sets = Vec::with_capacity(events.len());
            for event in &events {
                let set =
                    formats::stream_set(&receiver.audience, stream.id, event, &signer, Utc::now())
                        .map_err(|e| ServiceError::internal("signing a SET", e))?;
                sets.push((event.id, set));
            }
            return Ok(Polled::Sets {
                sets,
                more_available,
            });
        }
    }

    /// The configuration as it is stored: a push endpoint no push could reach is refused now
    /// rather than failing every delivery later; the push authorization header is sealed.
    fn storable(
        &self,
        config: StreamConfig,
    ) -> Result<Result<StreamConfig, Refused>, ServiceError> {
        if let Delivery::Push { endpoint_url, .. } = &config.delivery {
            // A URL the pattern allows but the URL parser does not (a stray `%` in the host)
            // has no literal address to judge; its pushes fail as not an absolute http(s) URL.
            if let Ok(parsed) = reqwest::Url::parse(endpoint_url) {
                if self.destinations.never_allowed(&parsed) {
                    return Ok(Err(Refused::Unreachable));
                }
            }
        }
        sealing::seal(&self.keys, config)
            .map(Ok)
            .map_err(|e| ServiceError::internal("sealing a push authorization header", e))
    }

    /// Runs a change to receivers or streams through the gate, audited as `context`'s.
    async fn audited<T: Send + 'static>(
        &self,
        what: &'static str,
        context: RequestContext,
        change: impl FnOnce(&Database, &SsfChange<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let (db, audit) = (self.db.clone(), self.config.audit_log.clone());
        Ok(self
            .offload
            .run(what, move || {
                change(
                    &db,
                    &SsfChange {
                        context: &context,
                        audit: &audit,
                        at: Utc::now(),
                    },
                )
            })
            .await?)
    }
}
