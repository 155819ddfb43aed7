//! Signing keys, session tokens and the public JWKS.
//!
//! - [`config`]: the `secrets` section and the token policy the `session` section sets.
//! - [`crypto`]: RSA key generation and encryption at rest (AES-256-GCM under HKDF-SHA256 of a secret and a per-key salt).
//! - [`keys`]: [`KeyManager`], the in-memory key set: decrypted once, reloaded periodically and on
//!   an unknown `kid`, with the JWKS body serialised once per key-set change.
//! - [`token`]: session token claims, signing and the strict verifier.
//! - [`handler`]: `GET /.well-known/jwks.json`.
//!
//! Invariant: no private key is ever written anywhere unencrypted.

pub mod config;
pub mod crypto;
pub mod handler;
pub mod keys;
pub mod token;

pub use config::{RsaBits, SecretsConfig, TokenPolicy};
pub use keys::{KeyError, KeyInfo, KeyManager, PruneError};
pub use token::{Refusal, SessionClaims, TokenError, VerifiedToken};
