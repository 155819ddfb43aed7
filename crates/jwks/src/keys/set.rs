//! One immutable snapshot of the key set: the keys in activation order, found by kid, and the
//! JWKS document serialised once.

use crate::algorithm::{KeyAlgorithm, KeyMaterial};
use crate::token::VerifiedToken;
use actix_web::web::Bytes;
use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One key, decrypted and parsed once; its dates as stored.
#[derive(Clone)]
pub(crate) struct LoadedKey {
    pub kid: String,
    pub alg: KeyAlgorithm,
    pub created_at: DateTime<Utc>,
    /// Signs from here (its `not_before`).
    pub activates_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    pub succeeds: Option<String>,
    /// Shared between snapshots: a reload that changes only dates parses nothing again.
    pub material: Arc<KeyMaterial>,
}

impl LoadedKey {
    /// A key with the dates of `stored` and material already opened.
    pub fn with_dates(
        stored: &domain::model::StoredKey,
        alg: KeyAlgorithm,
        material: Arc<KeyMaterial>,
    ) -> Self {
        Self {
            kid: stored.kid.clone(),
            alg,
            created_at: stored.created_at,
            activates_at: stored.activates_at,
            retired_at: stored.retired_at,
            succeeds: stored.succeeds.clone(),
            material,
        }
    }

    /// Whether the stored row says the same as this key (the material never changes).
    pub fn matches(&self, stored: &domain::model::StoredKey) -> bool {
        self.kid == stored.kid
            && self.activates_at == stored.activates_at
            && self.retired_at == stored.retired_at
            && self.succeeds == stored.succeeds
    }
}

/// The JWKS document, serialised once per key-set change.
#[derive(Clone, Debug)]
pub struct JwksDocument {
    pub body: Bytes,
    /// A strong ETag: a hash of the body, quoted.
    pub etag: String,
}

/// An immutable snapshot of the key set; requests hold an `Arc` to one.
pub(crate) struct KeySet {
    /// Ordered by activation (then creation): the last active one signs.
    pub keys: Vec<Arc<LoadedKey>>,
    pub by_kid: HashMap<String, Arc<LoadedKey>>,
    pub jwks: JwksDocument,
    /// The kids of stored keys that no configured secret opens (not in `keys`).
    pub undecryptable: Vec<String>,
    /// Tokens that verified against exactly this key set, keyed by SHA-256 of the whole token.
    /// Dies with the snapshot, so a reload (rotation, prune, refresh) starts it afresh.
    pub verified: RwLock<HashMap<[u8; 32], VerifiedToken>>,
}

impl KeySet {
    pub fn build(mut keys: Vec<Arc<LoadedKey>>, undecryptable: Vec<String>) -> Self {
        keys.sort_by(|a, b| {
            (a.activates_at, a.created_at, &a.kid).cmp(&(b.activates_at, b.created_at, &b.kid))
        });
        let by_kid = keys.iter().map(|k| (k.kid.clone(), k.clone())).collect();
        let public: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| k.material.jwk.published(&k.kid, k.alg))
            .collect();
        // A value of strings always serialises; were it ever not to, an empty key set is what
        // clients must then see (and readiness, which needs a signing key, says so).
        let body = serde_json::to_vec(&serde_json::json!({ "keys": public }))
            .unwrap_or_else(|_| br#"{"keys":[]}"#.to_vec());
        let hash = digest(&SHA256, &body);
        let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&hash.as_ref()[..18]));
        Self {
            keys,
            by_kid,
            undecryptable,
            jwks: JwksDocument {
                body: Bytes::from(body),
                etag,
            },
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// The key that signs at `now`: the last one (in activation order) whose `not_before` has
    /// passed. Every instance holding the same rows picks the same key at the same instant.
    pub fn signing_key(&self, now: DateTime<Utc>) -> Option<&Arc<LoadedKey>> {
        self.keys.iter().rev().find(|k| k.activates_at <= now)
    }

    /// When each key stops signing: the activation of the next one, if any (the order is the
    /// truth; the stored `retired_at` records it).
    pub fn retirements(&self) -> Vec<(String, Option<DateTime<Utc>>)> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let next = self.keys[i + 1..]
                    .iter()
                    .map(|o| o.activates_at)
                    .find(|at| *at > k.activates_at);
                (k.kid.clone(), next)
            })
            .collect()
    }
}
