//! Why a delivery did not go through, and what that makes of it: retried, or dead at once.

use super::destinations::{self, DestinationError};
use super::formats::PrepareError;
use std::fmt;

/// How one attempt ended.
pub(super) enum Outcome {
    Delivered,
    /// Retry later (or dead, past `max_attempts`).
    Failed(DeliveryError),
    /// Dead at once: the receiver refused for good, or the hook is gone.
    Refused(DeliveryError),
}

/// Why one delivery attempt failed. Hooks are named by their key, never by a URL that may
/// carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("preparing the delivery")]
    Prepare(#[source] PrepareError),
    #[error("{hook}: {failure}")]
    Transport { hook: String, failure: Transport },
    #[error("{hook}: {answer}")]
    Answered { hook: String, answer: String },
    #[error("{hook}: the hook is no longer configured")]
    Unconfigured { hook: String },
    /// Retried: adding the secret that sealed it to `secrets.keys` heals it.
    #[error("{hook}: the stream's authorization_header opens with no secret in secrets.keys")]
    Unopened { hook: String },
    /// Dead at once: where it points is not where deliveries may go.
    #[error("{hook}: address not allowed")]
    NotAllowed { hook: String },
    #[error("{hook}: not an absolute http(s) URL")]
    BadUrl { hook: String },
    #[error("{hook}: {source}")]
    Client {
        hook: String,
        #[source]
        source: DestinationError,
    },
}

impl DeliveryError {
    /// Why no request could be made to `hook`, as the outcome it makes.
    pub(super) fn unsendable(hook: String, e: DestinationError) -> Outcome {
        match e {
            DestinationError::NotAllowed => Outcome::Refused(Self::NotAllowed { hook }),
            DestinationError::Url => Outcome::Refused(Self::BadUrl { hook }),
            e @ DestinationError::Client(_) => Outcome::Failed(Self::Client { hook, source: e }),
        }
    }

    /// A request that failed before any answer: refused by the address policy (dead at once),
    /// or a transport failure (retried).
    pub(super) fn transport(hook: String, e: &reqwest::Error) -> Outcome {
        if destinations::refused_by_policy(e) {
            Outcome::Refused(Self::NotAllowed { hook })
        } else {
            Outcome::Failed(Self::Transport {
                hook,
                failure: Transport::from(e),
            })
        }
    }
}

/// How a request failed before any answer came back. reqwest's own message repeats the URL
/// (which may carry credentials), so only the kind is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Timeout,
    Connect,
    Other,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::Connect => "connection failed",
            Self::Other => "request failed",
        })
    }
}

impl From<&reqwest::Error> for Transport {
    fn from(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Connect
        } else {
            Self::Other
        }
    }
}
