//! The handlers: the public API, the admin API, the operator console and the health checks (docs/api.md).

pub mod admin;
pub mod console;
pub mod export;
pub mod health;
pub mod public;
pub mod scim;
pub mod ssf;
pub mod views;

use crate::http::error::ApiError;
use crate::http::metrics::RouteLabel;
use actix_web::{web, HttpResponse, Resource};
use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// Every `(path, method)` a listener of this process has mounted, whichever listener: the
/// route table, which the API-description test compares with the OpenAPI documents.
pub fn mounted() -> BTreeSet<(&'static str, &'static str)> {
    MOUNTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

static MOUNTED: Mutex<BTreeSet<(&'static str, &'static str)>> = Mutex::new(BTreeSet::new());

/// A resource whose other methods answer 405 with `Allow` in our error shape. Every route is
/// mounted through here, so [`mounted`] knows them all.
pub fn resource(path: &'static str, allow: &'static str) -> Resource {
    MOUNTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(allow.split(',').map(|method| (path, method.trim())));
    web::resource(path)
        .app_data(RouteLabel(path))
        .default_service(web::to(move || async move {
            Err::<HttpResponse, _>(ApiError::method_not_allowed(allow))
        }))
}
