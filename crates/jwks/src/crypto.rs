//! The encryption of private keys at rest, and RSA's key generation and DER parsing.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hkdf;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::config::Secret;

/// Why a crypto operation failed. Deliberately vague: details could help an attacker.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("RSA key generation failed")]
    Generate,
    #[error("no configured secret decrypts this key")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("the stored key is not a valid RSA private key")]
    BadKey,
    #[error("signing failed")]
    Sign,
}

/// A freshly generated private key, PKCS#8 DER. Never leaves this process unencrypted.
pub struct PrivateKey(Vec<u8>);

impl PrivateKey {
    pub(crate) fn from_der(pkcs8: Vec<u8>) -> Self {
        Self(pkcs8)
    }

    /// The PKCS#8 DER bytes.
    pub fn pkcs8(&self) -> &[u8] {
        &self.0
    }
}

/// Generates an RSA key of `bits` (2048, 3072 or 4096). Slow: call off the async threads.
pub fn generate_rsa(bits: u32) -> Result<PrivateKey, CryptoError> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        _ => KeySize::Rsa4096,
    };
    let pair = KeyPair::generate(size).map_err(|_| CryptoError::Generate)?;
    let der = pair.as_der().map_err(|_| CryptoError::Generate)?;
    Ok(PrivateKey(der.as_ref().to_vec()))
}

/// The parts of a stored key that signing and verification need.
pub struct OpenedKey {
    /// The private key, parsed once for signing.
    pub pair: KeyPair,
    /// PKCS#1 `RSAPublicKey` DER, parsed once into the verifier.
    pub public_der: Vec<u8>,
    /// Public modulus, big-endian, no leading zero.
    pub n: Vec<u8>,
    /// Public exponent, big-endian, no leading zero.
    pub e: Vec<u8>,
}

/// Parses a PKCS#8 RSA private key into what signing and the JWKS need.
pub fn open_rsa(pkcs8: &[u8]) -> Result<OpenedKey, CryptoError> {
    let pair = KeyPair::from_pkcs8(pkcs8).map_err(|_| CryptoError::BadKey)?;
    let public = pair.public_key();
    Ok(OpenedKey {
        public_der: public.as_ref().to_vec(),
        n: public.modulus().big_endian_without_leading_zero().to_vec(),
        e: public.exponent().big_endian_without_leading_zero().to_vec(),
        pair,
    })
}

/// Length of the random per-key salt that HKDF derives the encryption key with.
const SALT_LEN: usize = 16;
/// HKDF `info`: binds the derived key to this one use.
const HKDF_INFO: &[u8] = b"hanko-rs jwks private key encryption";

/// AES-256-GCM key = HKDF-SHA256(secret, salt, info).
fn derived_key(secret: &Secret, salt: &[u8]) -> Result<LessSafeKey, CryptoError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(secret.expose().as_bytes());
    // `expand` only fails for an output longer than 255 hash lengths; 32 bytes never is.
    let okm = prk
        .expand(&[HKDF_INFO], &AES_256_GCM)
        .map_err(|_| CryptoError::Encrypt)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

/// Earlier versions' key: a bare SHA-256 of the secret (no salt, no stretching). Read only.
fn legacy_key(secret: &Secret) -> Option<LessSafeKey> {
    let key = digest(&SHA256, secret.expose().as_bytes());
    UnboundKey::new(&AES_256_GCM, key.as_ref())
        .ok()
        .map(LessSafeKey::new)
}

/// Encrypts with AES-256-GCM under HKDF-SHA256(`secret`, random salt):
/// base64url(salt ‖ nonce ‖ ciphertext ‖ tag). `kid` is bound as associated data, so a
/// ciphertext cannot be moved to another key id.
pub fn encrypt(secret: &Secret, kid: &str, plaintext: &[u8]) -> Result<String, CryptoError> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut salt).map_err(|_| CryptoError::Encrypt)?;
    rng.fill(&mut nonce).map_err(|_| CryptoError::Encrypt)?;
    let mut sealed = plaintext.to_vec();
    derived_key(secret, &salt)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(kid.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| CryptoError::Encrypt)?;
    let mut out = Vec::with_capacity(SALT_LEN + NONCE_LEN + sealed.len());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// A decrypted private key, and whether it was stored as [`encrypt`] now writes it under the
/// first secret (if not, `api secrets reencrypt` rewrites it).
#[derive(Debug, PartialEq, Eq)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    pub current: bool,
}

fn open_with(key: &LessSafeKey, kid: &str, nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = sealed.to_vec();
    key.open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf)
        .ok()
        .map(|plain| plain.to_vec())
}

/// Decrypts what [`encrypt`] (or an earlier version) produced, trying every secret in turn.
/// AES-GCM authenticates, so trying a layout that is not the stored one simply fails.
pub fn decrypt(secrets: &[Secret], kid: &str, encoded: &str) -> Result<Decrypted, CryptoError> {
    let raw = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| CryptoError::Decrypt)?;
    for (i, secret) in secrets.iter().enumerate() {
        if raw.len() > SALT_LEN + NONCE_LEN {
            let (salt, rest) = raw.split_at(SALT_LEN);
            let (nonce, sealed) = rest.split_at(NONCE_LEN);
            let key = derived_key(secret, salt)?;
            if let Some(plaintext) = open_with(&key, kid, nonce, sealed) {
                return Ok(Decrypted {
                    plaintext,
                    current: i == 0,
                });
            }
        }
        if raw.len() > NONCE_LEN {
            let (nonce, sealed) = raw.split_at(NONCE_LEN);
            if let Some(key) = legacy_key(secret) {
                if let Some(plaintext) = open_with(&key, kid, nonce, sealed) {
                    return Ok(Decrypted {
                        plaintext,
                        current: false,
                    });
                }
            }
        }
    }
    Err(CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trips_and_rotates_secrets() {
        let old = Secret::new("old-secret-0123456789");
        let new = Secret::new("new-secret-0123456789");
        let sealed = encrypt(&old, "kid1", b"private").unwrap();
        assert_eq!(
            decrypt(std::slice::from_ref(&old), "kid1", &sealed),
            Ok(Decrypted {
                plaintext: b"private".to_vec(),
                current: true
            })
        );
        assert_eq!(
            decrypt(&[new.clone(), old.clone()], "kid1", &sealed),
            Ok(Decrypted {
                plaintext: b"private".to_vec(),
                current: false
            }),
            "under a secret that is no longer first: due for re-encryption"
        );
        assert_eq!(decrypt(&[new], "kid1", &sealed), Err(CryptoError::Decrypt));
        assert_eq!(
            decrypt(std::slice::from_ref(&old), "kid2", &sealed),
            Err(CryptoError::Decrypt),
            "kid is bound"
        );
        assert_eq!(decrypt(&[old], "kid1", "!!"), Err(CryptoError::Decrypt));
    }

    #[test]
    fn salts_differ_and_legacy_ciphertexts_still_decrypt() {
        let secret = Secret::new("a-secret-0123456789");
        let a = encrypt(&secret, "k", b"same").unwrap();
        let b = encrypt(&secret, "k", b"same").unwrap();
        assert_ne!(a, b, "a fresh salt and nonce each time");
        // What earlier versions wrote: nonce ‖ AES-256-GCM under SHA-256(secret).
        let nonce = [7u8; NONCE_LEN];
        let mut sealed = b"legacy".to_vec();
        let sealing = legacy_key(&secret);
        assert!(sealing.is_some());
        if let Some(key) = sealing {
            assert!(key
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&b"k"[..]),
                    &mut sealed,
                )
                .is_ok());
        }
        let legacy = URL_SAFE_NO_PAD.encode([&nonce[..], &sealed].concat());
        assert_eq!(
            decrypt(std::slice::from_ref(&secret), "k", &legacy),
            Ok(Decrypted {
                plaintext: b"legacy".to_vec(),
                current: false
            })
        );
    }

    #[test]
    fn generated_key_opens_with_65537() {
        let key = generate_rsa(2048).map_err(|e| e.to_string());
        let opened = key.and_then(|k| open_rsa(k.pkcs8()).map_err(|e| e.to_string()));
        let opened = match opened {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(opened.e, vec![1, 0, 1]);
        assert_eq!(opened.n.len(), 256);
        assert_eq!(opened.pair.public_modulus_len(), 256);
    }
}
