//! The key refresh worker: every `secrets.refresh_interval`, reload the key set so rotations on
//! other instances are seen (and generate a key if the database had none when we started).

use crate::report::Report;
use actix_web::web;
use chrono::Utc;
use jwks::KeyManager;
use std::sync::Arc;
use std::time::Duration;

/// Runs until aborted.
pub async fn run(keys: Arc<KeyManager>, every: Duration) {
    let every = every.max(Duration::from_secs(1));
    loop {
        actix_web::rt::time::sleep(every).await;
        let keys = keys.clone();
        let result = web::block(move || {
            if keys.has_signing_key(Utc::now()) {
                keys.reload()
            } else {
                keys.ensure_signing_key(Utc::now())
            }
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("key refresh failed: {}", Report(&e)),
            Err(e) => log::warn!("key refresh failed: {}", Report(&e)),
        }
    }
}
