//! The key refresh worker: every `secrets.refresh_interval`, reload the key set so rotations on
//! other instances are seen (and generate a key if the database had none when we started).
//! With `secrets.rotation.interval` set it also runs the scheduled rotation: the next key
//! created ahead of time, retired keys pruned (docs/keys.md, "Keys and rotation").

use crate::lifecycle::{Stop, Worker};
use crate::report::Report;
use chrono::Utc;
use jwks::KeyManager;
use persistence::Offload;
use std::sync::Arc;
use std::time::Duration;

/// The worker: what it reloads, how often, and the rotation interval if rotation is scheduled.
pub struct KeyRefresh {
    pub keys: Arc<KeyManager>,
    pub offload: Offload,
    pub every: Duration,
    pub rotation: Option<domain::config::Duration>,
}

impl Worker for KeyRefresh {
    const NAME: &'static str = "key refresh";

    async fn run(self, mut stop: Stop) {
        let every = self.every.max(Duration::from_secs(1));
        while stop.sleep(every).await {
            let keys = self.keys.clone();
            let rotation = self.rotation;
            let result = self
                .offload
                .call("refreshing keys", move || {
                    if !keys.has_signing_key(Utc::now()) {
                        keys.ensure_signing_key(Utc::now())
                    } else if let Some(interval) = rotation {
                        keys.rotate_on_schedule(interval).map(|_| ())
                    } else {
                        keys.reload()
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
