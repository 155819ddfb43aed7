//! The key refresh worker: every `secrets.refresh_interval`, reload the key set so rotations on
//! other instances are seen (and generate a key if the database had none when we started).

use super::{Stop, Worker};
use crate::report::Report;
use actix_web::web;
use chrono::Utc;
use jwks::KeyManager;
use std::sync::Arc;
use std::time::Duration;

/// The worker: what it reloads, and how often.
pub struct KeyRefresh {
    pub keys: Arc<KeyManager>,
    pub every: Duration,
}

impl Worker for KeyRefresh {
    const NAME: &'static str = "key refresh";

    async fn run(self, mut stop: Stop) {
        let every = self.every.max(Duration::from_secs(1));
        while stop.sleep(every).await {
            let keys = self.keys.clone();
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
}
