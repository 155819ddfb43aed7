//! Signing keys, session tokens and the public JWKS.
//!
//! - [`config`]: the `secrets` section and the token policy the `session` section sets.
//! - [`algorithm`]: RS256, ES256 and EdDSA keys: generation, opening, the public JWK and its RFC 7638 thumbprint.
//! - [`crypto`]: encryption at rest (AES-256-GCM under HKDF-SHA256 of a secret and a per-key salt).
//! - [`keys`]: [`KeyManager`], the in-memory key set: decrypted once, reloaded periodically and on
//!   an unknown `kid`, with the JWKS body serialised once per key-set change.
//! - [`token`]: session token claims, signing and the strict verifier.
//! - [`handler`]: `GET /.well-known/jwks.json`.
//!
//! Invariant: no private key is ever written anywhere unencrypted.

pub mod algorithm;
pub mod config;
pub mod crypto;
pub mod handler;
pub mod keys;
mod low_s;
pub mod token;

pub use algorithm::KeyAlgorithm;
pub use config::{RotationConfig, RsaBits, SecretsConfig, TokenPolicy};
pub use keys::{KeyError, KeyInfo, KeyManager, PruneError, ScheduleStep};
pub use token::{Refusal, SessionClaims, TokenError, VerifiedToken};
