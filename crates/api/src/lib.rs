//! The account service's HTTP side. `main.rs` calls [`cli::run`]; `serve` builds an
//! [`app::Application`]: the two listeners and the background workers. ARCHITECTURE.md has
//! the map.
//!
//! - [`config`]: the root configuration, composed of each crate's section.
//! - [`http`]: error shape, authentication extractors, middleware (one file per concern).
//! - [`routes`]: the handlers of the public and admin APIs and the health checks.
//! - [`sessions`]: issuing sessions, batched lookups, `last_used` refresh, the cookie.
//! - [`delivery`]: who hears of an event, each format's request, sealing, the dispatcher and
//!   the SSF fan-out; the long polls' wake-ups.
//! - [`openapi`]: the OpenAPI 3.1 document of each listener, generated from the handlers.
//! - [`services`]: the use cases, once; every door above calls them.
//! - [`lifecycle`]: how background workers start and stop.
//! - [`workers`]: the other background workers (key refresh, `last_used`, purge).

pub mod app;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod http;
pub mod lifecycle;
pub mod metrics;
pub mod openapi;
pub mod report;
pub mod routes;
pub mod services;
pub mod sessions;
pub mod state;
pub mod workers;
