//! The in-memory key set: loaded (and decrypted) once, shared by every request.
//!
//! - [`set`]: one immutable snapshot (keys in activation order, the JWKS body).
//! - [`lifecycle`]: creating, listing, retiring and pruning keys, by hand or on schedule.

mod lifecycle;
mod set;

pub use lifecycle::{KeyInfo, ScheduleStep};
pub use set::JwksDocument;

use crate::algorithm::{KeyAlgorithm, KeyMaterial};
use crate::config::{RsaBits, SecretsConfig, TokenPolicy};
use crate::crypto::{self, CryptoError};
use crate::token::{self, ClaimRules, Refusal, SessionClaims, TokenError, VerifiedToken};
use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::config::{Duration, Secret};
use domain::ids::{SessionId, UserId};
use domain::model::StoredKey;
use domain::ports::{KeyStore, StoreError};
use jsonwebtoken::Header;
use serde::Serialize;
use set::{KeySet, LoadedKey};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("no signing key is active")]
    NoSigningKey,
    /// The claims (or header) would not serialize as JSON.
    #[error("the token's claims are not JSON")]
    Claims(#[source] serde_json::Error),
    /// Keys are stored but `secrets.keys` opens none of them: a wrong or missing secret. Never
    /// answered with a fresh key, which would split the fleet.
    #[error(
        "none of the {stored} stored signing keys decrypts with secrets.keys: a secret is wrong \
         or missing (the one that encrypted them must be in the list)"
    )]
    NoneDecrypts { stored: usize },
    /// Some stored keys decrypt with no configured secret. They are published (every stored key
    /// is), so another instance may sign with them, and tokens it signs would be refused here:
    /// refused at start, and a running instance is not ready until it is fixed.
    #[error(
        "stored signing keys {0:?} decrypt with no secret in secrets.keys: tokens signed with them \
         would be refused here; add the secret that encrypted them to secrets.keys on every \
         instance (or prune the keys)"
    )]
    SomeUndecryptable(Vec<String>),
    /// `jwk rotate --stage` shorter than the JWKS max-age: a client holding a cached copy would
    /// meet the key before it has seen it.
    #[error(
        "a key staged for {stage} would sign before every cached copy of the JWKS (max-age \
         {max_age}) holds it; stage it for at least {max_age}, or use --force"
    )]
    StageTooShort { stage: Duration, max_age: Duration },
    /// `secrets reencrypt` found keys no configured secret opens; nothing was rewritten.
    #[error(
        "cannot re-encrypt {0:?}: no secret in secrets.keys decrypts them; nothing was changed"
    )]
    Unreadable(Vec<String>),
}

impl KeyError {
    /// Whether the stored keys and `secrets.keys` do not match (a configuration error: the
    /// server exits 2), as opposed to a failure of the database or of the crypto.
    pub fn is_secrets_mismatch(&self) -> bool {
        matches!(self, Self::NoneDecrypts { .. } | Self::SomeUndecryptable(_))
    }
}

/// Why `jwk prune` refused.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("refusing to prune {0:?}: it signs now or signed tokens that may still be live (use --force)")]
    StillNeeded(Vec<String>),
}

/// Verified tokens remembered per key set; past this the memory is cleared and refilled.
const MAX_VERIFIED: usize = 10_000;

/// The service's keys: signs session tokens, verifies them, publishes the JWKS.
pub struct KeyManager {
    store: Arc<dyn KeyStore>,
    secrets: Vec<Secret>,
    algorithm: KeyAlgorithm,
    rsa_bits: RsaBits,
    jwks_max_age: Duration,
    publish_ahead: Duration,
    refresh_interval: Duration,
    /// `Cache-Control` of the JWKS, built once.
    cache_control: String,
    policy: TokenPolicy,
    rules: ClaimRules,
    set: RwLock<Arc<KeySet>>,
    last_kid_reload: Mutex<Option<Instant>>,
    /// Held for the whole of a reload.
    reloading: Mutex<()>,
    /// Whether a reload has completed: the first one's unreadable keys are reported by its
    /// caller's error (start-up refuses them), later ones' in the log.
    loaded: AtomicBool,
}

/// An unknown `kid` triggers at most one reload per this interval, across all requests.
const KID_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl KeyManager {
    /// A manager with an empty key set; call [`KeyManager::reload`] or
    /// [`KeyManager::ensure_signing_key`] before serving.
    pub fn new(store: Arc<dyn KeyStore>, secrets: &SecretsConfig, policy: TokenPolicy) -> Self {
        let rules = ClaimRules {
            audience: policy.audience.clone(),
            issuer: policy.issuer.clone(),
            leeway: i64::try_from(policy.leeway.as_secs()).unwrap_or(i64::MAX),
        };
        Self {
            store,
            secrets: secrets.keys.all().to_vec(),
            algorithm: secrets.algorithm,
            rsa_bits: secrets.rsa_bits,
            jwks_max_age: secrets.jwks_max_age,
            publish_ahead: secrets.publish_ahead(),
            refresh_interval: secrets.refresh_interval,
            cache_control: format!(
                "public, max-age={}, stale-while-revalidate=60, stale-if-error=86400",
                secrets.jwks_max_age.std().as_secs().max(1)
            ),
            policy,
            rules,
            set: RwLock::new(Arc::new(KeySet::build(Vec::new(), Vec::new()))),
            last_kid_reload: Mutex::new(None),
            reloading: Mutex::new(()),
            loaded: AtomicBool::new(false),
        }
    }

    /// The token policy this manager signs and verifies with.
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.set
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reloads the key set from the store, decrypting only keys not loaded yet. Blocking.
    pub fn reload(&self) -> Result<(), KeyError> {
        // One reload at a time: a slow one must not swap in a snapshot older than a faster one's.
        let _serial = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stored = self.store.list_keys()?;
        let current = self.snapshot();
        let unchanged = stored.len() == current.keys.len()
            && stored
                .iter()
                .all(|k| current.by_kid.get(&k.kid).is_some_and(|l| l.matches(k)));
        if unchanged {
            // Same keys: keep the snapshot, and with it the verified-token memory.
            return Ok(());
        }
        let stored_count = stored.len();
        let mut loaded = Vec::with_capacity(stored.len());
        let mut undecryptable = Vec::new();
        for key in stored {
            if let Some(existing) = current.by_kid.get(&key.kid) {
                loaded.push(Arc::new(LoadedKey::with_dates(
                    &key,
                    existing.alg,
                    existing.material.clone(),
                )));
                continue;
            }
            match self.open(&key) {
                Ok((alg, material)) => loaded.push(Arc::new(LoadedKey::with_dates(
                    &key,
                    alg,
                    Arc::new(material),
                ))),
                // One unreadable key (its secret was removed) must not take the others down,
                // but the instance is not ready while it lasts (see `undecryptable_kids`).
                Err(e) => {
                    if self.loaded.load(Ordering::Relaxed) {
                        log::error!(
                            "cannot load key {}: {e}; tokens signed with it are refused here \
                             and this instance is not ready until a secret in secrets.keys opens it",
                            key.kid
                        );
                    }
                    undecryptable.push(key.kid);
                }
            }
        }
        if stored_count > 0 && loaded.is_empty() {
            return Err(KeyError::NoneDecrypts {
                stored: stored_count,
            });
        }
        let next = Arc::new(KeySet::build(loaded, undecryptable));
        *self.set.write().unwrap_or_else(PoisonError::into_inner) = next;
        self.loaded.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Decrypts and parses a stored key. A row naming an algorithm we do not know is
    /// unusable, like one no secret opens.
    fn open(&self, key: &StoredKey) -> Result<(KeyAlgorithm, KeyMaterial), CryptoError> {
        let alg = KeyAlgorithm::from_name(&key.alg).ok_or(CryptoError::BadKey)?;
        let pkcs8 = crypto::decrypt(&self.secrets, &key.kid, &key.encrypted_key)?.plaintext;
        Ok((alg, alg.open(&pkcs8)?))
    }

    /// Whether [`Self::reload_for_unknown_kid`] would reload now (its rate limit has passed).
    /// Cheap and non-blocking: callers skip the trip to a blocking thread when it would not.
    pub fn may_reload_for_unknown_kid(&self) -> bool {
        !self
            .last_kid_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|t| t.elapsed() < KID_RELOAD_INTERVAL)
    }

    /// After a token with an unknown `kid`: reloads, unless a reload for this reason ran
    /// less than a second ago. Returns whether it reloaded. Blocking.
    pub fn reload_for_unknown_kid(&self) -> Result<bool, KeyError> {
        {
            let mut last = self
                .last_kid_reload
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < KID_RELOAD_INTERVAL) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        self.reload().map(|()| true)
    }

    /// Seals another secret the service must keep (a receiver's credential) as the keys are
    /// sealed: under the first of `secrets.keys`, bound to `purpose` (no I/O).
    pub fn seal_secret(&self, purpose: &str, plaintext: &str) -> Result<String, KeyError> {
        let first = self.secrets.first().ok_or(CryptoError::Encrypt)?;
        Ok(crypto::encrypt(first, purpose, plaintext.as_bytes())?)
    }

    /// Opens what [`KeyManager::seal_secret`] sealed for `purpose`, with any configured
    /// secret; also says whether it is sealed under the first (else `secrets reencrypt` would
    /// rewrite it).
    pub fn open_secret(&self, purpose: &str, sealed: &str) -> Result<(String, bool), KeyError> {
        let opened = crypto::decrypt(&self.secrets, purpose, sealed)?;
        let text = String::from_utf8(opened.plaintext).map_err(|_| CryptoError::Decrypt)?;
        Ok((text, opened.current))
    }

    /// Re-encrypts every stored key under the first secret (HKDF with a fresh salt), so older
    /// secrets can be removed from `secrets.keys`. All or nothing: if any key decrypts with no
    /// configured secret, nothing is rewritten; the rewrite is one transaction. Returns how many
    /// keys were rewritten. Blocking.
    pub fn reencrypt_all(&self) -> Result<usize, KeyError> {
        let stored = self.store.list_keys()?;
        let mut rewritten = Vec::with_capacity(stored.len());
        let mut unreadable = Vec::new();
        for key in &stored {
            match crypto::decrypt(&self.secrets, &key.kid, &key.encrypted_key) {
                Ok(decrypted) => rewritten.push((
                    key.kid.clone(),
                    crypto::encrypt(&self.secrets[0], &key.kid, &decrypted.plaintext)?,
                )),
                Err(_) => unreadable.push(key.kid.clone()),
            }
        }
        if !unreadable.is_empty() {
            return Err(KeyError::Unreadable(unreadable));
        }
        // One transaction: a crash leaves every key under the old secret or every one under
        // the new, never a mix that only a fleet with both secrets could read.
        Ok(self.store.replace_encrypted_keys(&rewritten)?)
    }

    /// The stored keys no configured secret opens, as of the last reload: while there is any,
    /// this instance would refuse tokens another instance signs, so it is not ready.
    pub fn undecryptable_kids(&self) -> Vec<String> {
        self.snapshot().undecryptable.clone()
    }

    /// Whether every stored key opened at the last reload (readiness).
    pub fn opens_every_stored_key(&self) -> bool {
        self.snapshot().undecryptable.is_empty()
    }

    /// Loads the keys and generates one if none can sign now. Refuses a key set in which some
    /// stored key decrypts with no configured secret (a split fleet). Blocking (key generation).
    pub fn ensure_signing_key(&self, now: DateTime<Utc>) -> Result<(), KeyError> {
        self.reload()?;
        let undecryptable = self.undecryptable_kids();
        if !undecryptable.is_empty() {
            return Err(KeyError::SomeUndecryptable(undecryptable));
        }
        if self.snapshot().signing_key(now).is_none() {
            log::info!("no active signing key: generating one");
            self.rotate(None, true, now)?;
        }
        Ok(())
    }

    /// Whether a key can sign at `now` (readiness).
    pub fn has_signing_key(&self, now: DateTime<Utc>) -> bool {
        self.snapshot().signing_key(now).is_some()
    }

    /// The current JWKS document (cheap: shared bytes).
    pub fn jwks(&self) -> JwksDocument {
        self.snapshot().jwks.clone()
    }

    /// The JWKS `Cache-Control` (`secrets.jwks_max_age`).
    pub fn jwks_cache_control(&self) -> &str {
        &self.cache_control
    }

    /// Signs any claims with the current signing key (its `alg`, `typ: JWT`, `kid`).
    pub fn sign<T: Serialize>(&self, claims: &T, now: DateTime<Utc>) -> Result<String, KeyError> {
        self.sign_typed(claims, "JWT", now)
    }

    /// Signs `claims` with the current signing key and the header `typ` given (a Security
    /// Event Token is `secevent+jwt`, so it can never be taken for another kind of JWT).
    pub fn sign_typed<T: Serialize>(
        &self,
        claims: &T,
        typ: &str,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let set = self.snapshot();
        let key = set.signing_key(now).ok_or(KeyError::NoSigningKey)?;
        let mut header = Header::new(key.alg.jws());
        header.typ = Some(typ.to_owned());
        header.kid = Some(key.kid.clone());
        // The JWS Compact Serialization (RFC 7515 §7.1), signed with the key parsed at load.
        let input = format!("{}.{}", b64_json(&header)?, b64_json(claims)?);
        let signature = key.material.signing.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Issues a session token for `session` of `user`, valid until `expires_at`.
    pub fn sign_session(
        &self,
        user: UserId,
        session: SessionId,
        email: Option<String>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let claims = SessionClaims {
            sub: user.to_string(),
            session_id: session.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            aud: self.policy.audience.clone(),
            iss: self.policy.issuer.clone(),
            email,
        };
        self.sign(&claims, now)
    }

    /// Verifies a session token against the loaded keys (no I/O, no key parsing). The header
    /// is read before any key is chosen; the key comes only from our set, by `kid`, and fixes
    /// the algorithm (a header naming another is refused); the signature is checked before any claim is interpreted.
    /// The rules are in [`crate::token`].
    ///
    /// A token that verified before against the same key set is recognised by the SHA-256 of
    /// its bytes (identical bytes, identical verdict) and only its time claims are checked
    /// again; failures are never remembered.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, TokenError> {
        self.verify_candidate(token, now).map_err(|r| r.reason)
    }

    /// [`Self::verify`], and when the token is refused after its signature verified (expired,
    /// wrong audience, …), the user it was signed for: one of our tokens names the request's
    /// user even when it no longer authenticates anyone (ARCHITECTURE.md, "Invariants").
    pub fn verify_candidate(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, Refusal> {
        if token.len() > token::MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge.into());
        }
        let set = self.snapshot();
        let fingerprint: [u8; 32] = digest(&SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .map_err(|_| TokenError::Malformed)?;
        let remembered = set
            .verified
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&fingerprint)
            .copied();
        if let Some(verified) = remembered {
            let times = token::TimeClaims {
                exp: verified.expires_at,
                nbf: verified.not_before,
                iat: verified.issued_at,
            };
            times
                .check(now.timestamp(), self.rules.leeway)
                .map_err(|reason| Refusal {
                    reason,
                    signed_subject: Some(verified.user_id),
                })?;
            return Ok(verified);
        }
        let verified = self.verify_fully(&set, token, now)?;
        let mut memory = set.verified.write().unwrap_or_else(PoisonError::into_inner);
        if memory.len() >= MAX_VERIFIED {
            memory.clear();
        }
        memory.insert(fingerprint, verified);
        Ok(verified)
    }

    fn verify_fully(
        &self,
        set: &KeySet,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, Refusal> {
        let parts = token::precheck(token)?;
        let key = set.by_kid.get(&parts.kid).ok_or(TokenError::UnknownKid)?;
        if parts.alg != key.alg {
            return Err(TokenError::Algorithm.into());
        }
        let signature = URL_SAFE_NO_PAD
            .decode(parts.signature)
            .map_err(|_| TokenError::Malformed)?;
        if key.alg == KeyAlgorithm::ES256 && crate::low_s::is_high_s(&signature) {
            return Err(TokenError::Signature.into()); // the malleable twin of a signature
        }
        key.material
            .verifier
            .verify_sig(parts.signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::Signature)?;
        token::check_claims(parts.payload, &self.rules, now.timestamp()).map_err(|reason| Refusal {
            reason,
            signed_subject: token::signed_subject(parts.payload),
        })
    }
}

/// One part of a JWS: the base64url of the value's JSON.
fn b64_json<T: Serialize + ?Sized>(value: &T) -> Result<String, KeyError> {
    serde_json::to_vec(value)
        .map(|json| URL_SAFE_NO_PAD.encode(json))
        .map_err(KeyError::Claims)
}
