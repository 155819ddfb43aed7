//! The port implementations, one module per port.

mod accounts;
mod audit_logs;
mod health;
mod keys;
mod outbox;
mod sessions;
