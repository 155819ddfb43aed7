//! HTTP plumbing shared by the handlers: the error shape, the authentication extractors, and
//! one middleware per concern (request id, metrics, CORS, no-store, the admin guard).

pub mod admin_guard;
pub mod auth;
pub mod cors;
pub mod error;
pub mod json_object;
pub mod metrics;
pub mod no_store;
pub mod request_id;
