//! The background workers besides delivery's dispatcher (`delivery::dispatcher`), each started
//! and stopped as `lifecycle` says:
//!
//! - [`key_refresh`]: reloads the key set (and runs the scheduled rotation).
//! - [`last_used`]: writes the noted sessions' `last_used` (and the last notes when stopping).
//! - [`purge`]: purges users whose grace period ended.
//! - [`retention`]: warns and deletes accounts nobody uses (`account.retention`).

pub mod key_refresh;
pub mod last_used;
pub mod purge;
pub mod retention;
