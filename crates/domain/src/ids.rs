//! Typed identifiers. All are UUIDs on the wire and in the database.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random (v4) identifier.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// Identifies a user; the `sub` claim of a session token.
    UserId
);
uuid_id!(
    /// Identifies a server-side session; the `session_id` claim of a session token.
    SessionId
);
uuid_id!(
    /// Identifies one e-mail address row.
    EmailId
);
uuid_id!(
    /// Identifies one audit log entry.
    AuditLogId
);
uuid_id!(
    /// Identifies one outbox event; sent as `Webhook-Id`, stable across retries.
    EventId
);
