//! The port implementations, one module per port.

pub(crate) mod accounts;
mod audit_logs;
pub(crate) mod events;
mod health;
mod keys;
mod outbox;
pub(crate) mod retention;
mod scim;
mod sessions;
mod ssf;
