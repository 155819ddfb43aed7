//! Token verification throughput per algorithm (bench/README.md, "Algorithms"): our verifier
//! (`KeyManager::verify`: header, kid lookup, signature, claims) on distinct tokens, so none is
//! answered from the verified-token memory, against the floor for the same work: aws-lc-rs
//! checking the same signatures over the same bytes, nothing else. One thread each; three
//! rounds, alternating sides, the best round of each (a fresh key manager each round, so its
//! memory of verified tokens starts empty).
//!
//! `cargo run --release -p jwks --example verify_throughput [TOKENS]` prints one JSON line per
//! algorithm.

#[path = "../tests/support/memory_keys.rs"]
mod memory_keys;

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use domain::config::Secret;
use domain::ids::{SessionId, UserId};
use jwks::config::Secrets;
use jwks::{KeyAlgorithm, KeyManager, SecretsConfig, TokenPolicy};
use memory_keys::MemoryKeys;
use std::sync::Arc;
use std::time::Instant;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(4000);
    for algorithm in KeyAlgorithm::ALL {
        let secrets = SecretsConfig {
            keys: Secrets::new(vec![Secret::new("benchmark-secret-0123456789abcdef")])?,
            algorithm,
            rsa_bits: Default::default(),
            rotation: Default::default(),
            jwks_max_age: domain::config::Duration::from_secs(600),
            refresh_interval: domain::config::Duration::from_secs(60),
        };
        let policy = TokenPolicy {
            lifespan: domain::config::Duration::from_secs(3600),
            issuer: None,
            audience: vec!["localhost".into()],
            leeway: domain::config::Duration::from_secs(0),
        };
        let store = Arc::new(MemoryKeys::default());
        let keys = KeyManager::new(store.clone(), &secrets, policy.clone());
        let now = Utc::now();
        keys.ensure_signing_key(now)?;
        let tokens = (0..count)
            .map(|_| {
                keys.sign_session(
                    UserId(uuid::Uuid::new_v4()),
                    SessionId(uuid::Uuid::new_v4()),
                    None,
                    now,
                    now + Duration::hours(1),
                )
            })
            .collect::<Result<Vec<String>, _>>()?;

        // The floor: the signature checks alone, on bytes already split and decoded.
        let jwks: serde_json::Value = serde_json::from_slice(&keys.jwks().body)?;
        let jwk = &jwks["keys"][0];
        let member = |name: &str| -> Result<Vec<u8>, Failure> {
            Ok(URL_SAFE_NO_PAD.decode(jwk[name].as_str().ok_or("member missing")?)?)
        };
        let signed: Vec<(Vec<u8>, Vec<u8>)> = tokens
            .iter()
            .map(|t| -> Result<_, Failure> {
                let (input, signature) = t.rsplit_once('.').ok_or("not a JWS")?;
                Ok((
                    input.as_bytes().to_vec(),
                    URL_SAFE_NO_PAD.decode(signature)?,
                ))
            })
            .collect::<Result<_, _>>()?;
        let (mut ours, mut floor) = (0f64, 0f64);
        for _ in 0..3 {
            let fresh = KeyManager::new(store.clone(), &secrets, policy.clone());
            fresh.reload()?;
            let started = Instant::now();
            for token in &tokens {
                fresh.verify(token, now)?;
            }
            ours = ours.max(count as f64 / started.elapsed().as_secs_f64());
            let started = Instant::now();
            check_signatures(algorithm, &member, &signed)?;
            floor = floor.max(count as f64 / started.elapsed().as_secs_f64());
        }
        println!(
            "{}",
            serde_json::json!({
                "alg": algorithm.name(),
                "tokens": count,
                "ours_per_s": ours.round(),
                "signature_only_per_s": floor.round(),
                "ratio": (ours / floor * 100.0).round() / 100.0,
            })
        );
    }
    Ok(())
}

/// The reference: each signature checked with the public key from the JWKS, nothing else.
fn check_signatures(
    algorithm: KeyAlgorithm,
    member: &dyn Fn(&str) -> Result<Vec<u8>, Failure>,
    signed: &[(Vec<u8>, Vec<u8>)],
) -> Result<(), Failure> {
    {
        match algorithm {
            KeyAlgorithm::RS256 => {
                let public = RsaPublicKeyComponents {
                    n: member("n")?,
                    e: member("e")?,
                };
                for (input, signature) in signed {
                    public
                        .verify(&RSA_PKCS1_2048_8192_SHA256, input, signature)
                        .map_err(|_| "reference refused")?;
                }
            }
            KeyAlgorithm::ES256 => {
                let point = [vec![4u8], member("x")?, member("y")?].concat();
                let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
                for (input, signature) in signed {
                    public
                        .verify(input, signature)
                        .map_err(|_| "reference refused")?;
                }
            }
            KeyAlgorithm::EdDSA => {
                let public = UnparsedPublicKey::new(&ED25519, member("x")?);
                for (input, signature) in signed {
                    public
                        .verify(input, signature)
                        .map_err(|_| "reference refused")?;
                }
            }
        }
    }
    Ok(())
}
