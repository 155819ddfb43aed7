//! HTTP plumbing shared by the handlers: the error shape, the authentication extractors, one
//! module per request-wide concern (request id, metrics, CORS, no-store), the middleware that
//! runs them (`edge`), and the admin guard.

pub mod admin_guard;
pub mod auth;
pub mod cors;
pub mod edge;
pub mod error;
pub mod json_object;
pub mod limits;
pub mod metrics;
pub mod no_store;
pub mod receiver_auth;
pub mod request_id;
