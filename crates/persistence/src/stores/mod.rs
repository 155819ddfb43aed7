//! The port implementations, one module per port.

mod accounts;
mod audit_logs;
pub(crate) mod deletion;
pub(crate) mod events;
mod health;
mod keys;
mod outbox;
mod sessions;
