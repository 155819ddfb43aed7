//! The account service's HTTP side: configuration, wiring, handlers, the auth extractor,
//! CORS and error mapping. `main.rs` is the CLI over it.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod cors;
pub mod error;
pub mod issue;
pub mod metrics;
pub mod request_id;
pub mod routes;
pub mod session_cookie;
pub mod session_lookup;
pub mod state;
pub mod touch;
pub mod webhooks;
