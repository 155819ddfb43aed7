//! The port implementations, one module per port.

pub(crate) mod accounts;
mod audit_logs;
pub(crate) mod events;
mod health;
mod keys;
mod outbox;
mod scim;
mod sessions;
mod ssf;
