//! The account service's domain: what it promises, free of HTTP and SQL.
//!
//! - [`ids`]: typed identifiers, so a session id can never be passed where a user id belongs.
//! - [`config`]: value types every config section shares ([`config::Duration`], [`config::Secret`])
//!   and the sections this crate owns ([`account::AccountConfig`], [`audit::AuditLogConfig`]).
//! - [`account`]: the deletion policy (`account.allow_deletion`, re-authentication age).
//! - [`audit`]: audit log entries and e-mail masking.
//! - [`email`]: which addresses are accepted.
//! - [`events`]: the event catalogue and who receives an event.
//! - [`ports`]: the traits that persistence implements and the API calls.
//! - [`retention`]: the inactivity policy: when an unused account is warned and deleted.
//! - [`scim`]: SCIM 2.0 provisioning: filters, errors.
//! - [`ssf`]: the Shared Signals transmitter's receivers, streams and subjects.
//! - [`time`]: the one spelling of a time in an event payload.

pub mod account;
pub mod audit;
pub mod config;
pub mod email;
pub mod events;
pub mod ids;
pub mod model;
pub mod ports;
pub mod retention;
pub mod scim;
pub mod ssf;
pub mod time;
