//! The port implementations, one module per port.

mod accounts;
mod events;
mod health;
mod keys;
mod outbox;
mod sessions;
