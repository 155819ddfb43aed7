//! Server-side sessions, from the API's side: issuing one (session row + token), looking them
//! up for the auth extractor (batched), refreshing `last_used` (coalesced), and the cookie.

pub mod cookie;
pub mod issuing;
pub mod last_used;
pub mod lookup;

pub use issuing::{issue_session, IssueError, IssuedSession};
pub use last_used::SessionTouches;
pub use lookup::SessionLookup;
