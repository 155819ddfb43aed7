//! HTTP tests against the real server, on Postgres and on SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod api_description;
mod config;
mod console;
mod cors;
mod delete_user;
mod foundation;
mod grace;
mod helpers;
mod hostile;
mod last_used;
mod outage;
mod processes;
mod properties;
mod receiver;
mod retention;
mod scim;
mod security;
mod ssf;
mod tokens;
mod webhooks;
