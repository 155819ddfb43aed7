//! The in-memory key set: loaded (and decrypted) once, shared by every request.

use crate::config::{RsaBits, SecretsConfig, TokenPolicy};
use crate::crypto::{self, CryptoError};
use crate::token::{
    self, ClaimRules, Refusal, SessionClaims, TokenError, VerifiedToken, ALGORITHM,
};
use actix_web::web::Bytes;
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::config::{Duration, Secret};
use domain::ids::{SessionId, UserId};
use domain::model::StoredKey;
use domain::ports::{KeyStore, StoreError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::collections::HashMap;
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
    #[error("signing failed")]
    Sign(#[source] jsonwebtoken::errors::Error),
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

/// One key, decrypted and parsed once.
struct LoadedKey {
    kid: String,
    created_at: DateTime<Utc>,
    activates_at: DateTime<Utc>,
    encoding: EncodingKey,
    /// Parsed once: verifying a signature does no key work.
    verifier: ParsedPublicKey,
    /// Public JWK members, base64url without padding.
    n: String,
    e: String,
}

/// A published key, as listed by `jwk list` and the admin API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: DateTime<Utc>,
    pub activates_at: DateTime<Utc>,
    pub signing: bool,
}

/// The JWKS document, serialised once per key-set change.
#[derive(Clone, Debug)]
pub struct JwksDocument {
    pub body: Bytes,
    /// A strong ETag: a hash of the body, quoted.
    pub etag: String,
}

/// An immutable snapshot of the key set; requests hold an `Arc` to one.
struct KeySet {
    /// Ordered by activation (then creation): the last active one signs.
    keys: Vec<Arc<LoadedKey>>,
    by_kid: HashMap<String, Arc<LoadedKey>>,
    jwks: JwksDocument,
    /// The kids of stored keys that no configured secret opens (not in `keys`).
    undecryptable: Vec<String>,
    /// Tokens that verified against exactly this key set, keyed by SHA-256 of the whole token.
    /// Dies with the snapshot, so a reload (rotation, prune, refresh) starts it afresh.
    verified: RwLock<HashMap<[u8; 32], VerifiedToken>>,
}

/// Verified tokens remembered per key set; past this the memory is cleared and refilled.
const MAX_VERIFIED: usize = 10_000;

#[derive(Serialize)]
struct PublicJwk<'a> {
    kty: &'static str,
    kid: &'a str,
    #[serde(rename = "use")]
    use_: &'static str,
    alg: &'static str,
    n: &'a str,
    e: &'a str,
}

impl KeySet {
    fn build(keys: Vec<Arc<LoadedKey>>, undecryptable: Vec<String>) -> Self {
        let mut keys = keys;
        keys.sort_by(|a, b| {
            (a.activates_at, a.created_at, &a.kid).cmp(&(b.activates_at, b.created_at, &b.kid))
        });
        let by_kid = keys.iter().map(|k| (k.kid.clone(), k.clone())).collect();
        let public: Vec<PublicJwk<'_>> = keys
            .iter()
            .map(|k| PublicJwk {
                kty: "RSA",
                kid: &k.kid,
                use_: "sig",
                alg: ALGORITHM,
                n: &k.n,
                e: &k.e,
            })
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

    fn signing_key(&self, now: DateTime<Utc>) -> Option<&Arc<LoadedKey>> {
        self.keys.iter().rev().find(|k| k.activates_at <= now)
    }
}

/// The service's keys: signs session tokens, verifies them, publishes the JWKS.
pub struct KeyManager {
    store: Arc<dyn KeyStore>,
    secrets: Vec<Secret>,
    rsa_bits: RsaBits,
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
            rsa_bits: secrets.rsa_bits,
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
            && stored.iter().all(|k| current.by_kid.contains_key(&k.kid));
        if unchanged {
            // Same keys: keep the snapshot, and with it the verified-token memory.
            return Ok(());
        }
        let stored_count = stored.len();
        let mut loaded = Vec::with_capacity(stored.len());
        let mut undecryptable = Vec::new();
        for key in stored {
            if let Some(existing) = current.by_kid.get(&key.kid) {
                loaded.push(existing.clone());
                continue;
            }
            match self.open(&key) {
                Ok(k) => loaded.push(Arc::new(k)),
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

    fn open(&self, key: &StoredKey) -> Result<LoadedKey, CryptoError> {
        let pkcs8 = crypto::decrypt(&self.secrets, &key.kid, &key.encrypted_key)?.plaintext;
        let opened = crypto::open_rsa(&pkcs8)?;
        Ok(LoadedKey {
            kid: key.kid.clone(),
            created_at: key.created_at,
            activates_at: key.activates_at,
            encoding: EncodingKey::from_rsa_der(&opened.pkcs1_der),
            verifier: ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &opened.public_der)
                .map_err(|_| CryptoError::BadKey)?,
            n: URL_SAFE_NO_PAD.encode(&opened.n),
            e: URL_SAFE_NO_PAD.encode(&opened.e),
        })
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
            self.rotate(None, now)?;
        }
        Ok(())
    }

    /// Generates and stores a new key, signing from `now + stage` (published at once).
    /// Returns its kid. Blocking.
    pub fn rotate(&self, stage: Option<Duration>, now: DateTime<Utc>) -> Result<String, KeyError> {
        let kid = crypto::random_kid()?;
        let private = crypto::generate_rsa(self.rsa_bits.bits())?;
        let encrypted_key = crypto::encrypt(&self.secrets[0], &kid, private.pkcs8())?;
        let key = StoredKey {
            kid: kid.clone(),
            alg: ALGORITHM.to_owned(),
            encrypted_key,
            created_at: now,
            activates_at: now + stage.map(Duration::chrono).unwrap_or_default(),
        };
        self.store.insert_key(&key)?;
        self.reload()?;
        Ok(kid)
    }

    /// Every stored key with whether it signs at `now` (reloads first). Blocking.
    pub fn list(&self, now: DateTime<Utc>) -> Result<Vec<KeyInfo>, KeyError> {
        self.reload()?;
        let set = self.snapshot();
        let signer = set.signing_key(now).map(|k| k.kid.clone());
        Ok(set
            .keys
            .iter()
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                created_at: k.created_at,
                activates_at: k.activates_at,
                signing: signer.as_deref() == Some(k.kid.as_str()),
            })
            .collect())
    }

    /// Removes keys created more than `older_than` ago. Without `force`, refuses if any of them
    /// signs now or stopped signing less than `session.lifespan` ago (tokens it signed may
    /// still be live). Returns the removed kids. Blocking.
    pub fn prune(
        &self,
        older_than: Duration,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, PruneError> {
        self.reload().map_err(PruneError::Key)?;
        let set = self.snapshot();
        let cutoff = now - older_than.chrono();
        let lifespan = self.policy.lifespan.chrono();
        let candidates: Vec<&Arc<LoadedKey>> =
            set.keys.iter().filter(|k| k.created_at < cutoff).collect();
        let still_needed: Vec<String> = candidates
            .iter()
            .filter(|k| {
                if k.activates_at > now {
                    return false; // staged: has not signed anything yet
                }
                // It signed until the next key (in activation order) took over.
                let retired_at = set
                    .keys
                    .iter()
                    .filter(|o| o.activates_at > k.activates_at && o.activates_at <= now)
                    .map(|o| o.activates_at)
                    .min();
                retired_at.is_none_or(|t| t + lifespan > now)
            })
            .map(|k| k.kid.clone())
            .collect();
        if !force && !still_needed.is_empty() {
            return Err(PruneError::StillNeeded(still_needed));
        }
        let kids: Vec<String> = candidates.iter().map(|k| k.kid.clone()).collect();
        self.store.delete_keys(&kids).map_err(KeyError::from)?;
        self.reload().map_err(PruneError::Key)?;
        Ok(kids)
    }

    /// Whether a key can sign at `now` (readiness).
    pub fn has_signing_key(&self, now: DateTime<Utc>) -> bool {
        self.snapshot().signing_key(now).is_some()
    }

    /// The current JWKS document (cheap: shared bytes).
    pub fn jwks(&self) -> JwksDocument {
        self.snapshot().jwks.clone()
    }

    /// Signs any claims with the current signing key (`alg: RS256`, `typ: JWT`, `kid`).
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
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(KeyError::Sign)
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
    /// the algorithm (RS256); the signature is checked before any claim is interpreted.
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
        let signature = URL_SAFE_NO_PAD
            .decode(parts.signature)
            .map_err(|_| TokenError::Malformed)?;
        key.verifier
            .verify_sig(parts.signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::Signature)?;
        token::check_claims(parts.payload, &self.rules, now.timestamp()).map_err(|reason| Refusal {
            reason,
            signed_subject: token::signed_subject(parts.payload),
        })
    }
}
