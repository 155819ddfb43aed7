//! The signature algorithms a key can have: what generating, opening and publishing a key of
//! each means. A key's algorithm is fixed when it is created and stored beside it; verification
//! takes the algorithm from the key a token's `kid` names, never from the token alone.

use crate::crypto::{self, CryptoError, PrivateKey};
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The JWS algorithm of a key (RFC 7518 names; `EdDSA` is Ed25519, RFC 8037).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[default]
    RS256,
    /// ECDSA on P-256 with SHA-256, fixed-size `r ‖ s` signatures.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl KeyAlgorithm {
    /// Every algorithm, for listings and tests.
    pub const ALL: [Self; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    /// The `alg` of the JWS header and of the JWK.
    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm named `alg` exactly (JOSE names are case-sensitive).
    pub fn from_name(alg: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == alg)
    }

    pub(crate) fn jws(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    /// Generates a private key (PKCS#8 DER). RSA is slow: call off the async threads.
    pub fn generate(self, rsa_bits: u32) -> Result<PrivateKey, CryptoError> {
        let der = match self {
            Self::RS256 => return crypto::generate_rsa(rsa_bits),
            Self::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(|_| CryptoError::Generate)?,
            Self::EdDSA => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8())
                .map_err(|_| CryptoError::Generate)?,
        };
        Ok(PrivateKey::from_der(der.as_ref().to_vec()))
    }

    /// Parses a stored private key of this algorithm into what signing, verifying and the JWKS
    /// need.
    pub fn open(self, pkcs8: &[u8]) -> Result<KeyMaterial, CryptoError> {
        match self {
            Self::RS256 => {
                let opened = crypto::open_rsa(pkcs8)?;
                Ok(KeyMaterial {
                    verifier: ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &opened.public_der)
                        .map_err(|_| CryptoError::BadKey)?,
                    signing: SigningKey::Rsa(opened.pair),
                    jwk: PublicJwk::Rsa {
                        n: URL_SAFE_NO_PAD.encode(&opened.n),
                        e: URL_SAFE_NO_PAD.encode(&opened.e),
                    },
                })
            }
            Self::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| CryptoError::BadKey)?;
                // The uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each on P-256.
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 0x04 {
                    return Err(CryptoError::BadKey);
                }
                Ok(KeyMaterial {
                    verifier: ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                        .map_err(|_| CryptoError::BadKey)?,
                    jwk: PublicJwk::Ec {
                        x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                        y: URL_SAFE_NO_PAD.encode(&point[33..]),
                    },
                    signing: SigningKey::Ecdsa(pair),
                })
            }
            Self::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| CryptoError::BadKey)?;
                let public = pair.public_key().as_ref();
                Ok(KeyMaterial {
                    verifier: ParsedPublicKey::new(&ED25519, public)
                        .map_err(|_| CryptoError::BadKey)?,
                    jwk: PublicJwk::Okp {
                        x: URL_SAFE_NO_PAD.encode(public),
                    },
                    signing: SigningKey::Ed25519(pair),
                })
            }
        }
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A key opened for use: parsed once, so signing and verifying do no key parsing.
pub struct KeyMaterial {
    pub signing: SigningKey,
    pub verifier: ParsedPublicKey,
    pub jwk: PublicJwk,
}

/// A private key parsed once for signing. (jsonwebtoken's `encode` parses the key's DER on
/// every signature, which for RSA costs as much again as the signature: 1.14 ms a token
/// against 0.61 ms here.)
pub enum SigningKey {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl SigningKey {
    /// The JWS signature of `message` (RFC 7515 §5.1): PKCS#1 v1.5 for RS256, `r ‖ s` with a
    /// low `s` for ES256, the 64 bytes of Ed25519.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| CryptoError::Sign)?;
                Ok(signature)
            }
            Self::Ecdsa(pair) => {
                let signature = pair
                    .sign(&SystemRandom::new(), message)
                    .map_err(|_| CryptoError::Sign)?;
                let mut signature = signature.as_ref().to_vec();
                crate::low_s::to_low_s(&mut signature);
                Ok(signature)
            }
            Self::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// The public members of a JWK (RFC 7517/7518/8037), base64url without padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicJwk {
    Rsa { n: String, e: String },
    Ec { x: String, y: String },
    Okp { x: String },
}

impl PublicJwk {
    /// The JWK as published: `kty`, `crv` where it applies, the key's members, `kid`, `alg`,
    /// `use: "sig"`.
    pub fn published(&self, kid: &str, alg: KeyAlgorithm) -> serde_json::Value {
        let mut jwk = self.required_members();
        jwk.insert("kid".into(), kid.into());
        jwk.insert("use".into(), "sig".into());
        jwk.insert("alg".into(), alg.name().into());
        serde_json::Value::Object(jwk)
    }

    /// RFC 7638 §3: the required members only, in lexicographic order, no whitespace,
    /// SHA-256, base64url. The kid of every new key.
    pub fn thumbprint(&self) -> String {
        // serde_json's map is ordered by key (no `preserve_order` feature), and compact.
        let canonical = serde_json::Value::Object(self.required_members()).to_string();
        URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()).as_ref())
    }

    fn required_members(&self) -> serde_json::Map<String, serde_json::Value> {
        let members: Vec<(&str, &str)> = match self {
            Self::Rsa { n, e } => vec![("kty", "RSA"), ("n", n), ("e", e)],
            Self::Ec { x, y } => vec![("kty", "EC"), ("crv", "P-256"), ("x", x), ("y", y)],
            Self::Okp { x } => vec![("kty", "OKP"), ("crv", "Ed25519"), ("x", x)],
        };
        members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = PublicJwk::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn every_algorithm_generates_opens_signs_and_verifies() {
        for alg in KeyAlgorithm::ALL {
            let private = alg.generate(2048).map_err(|e| format!("{alg}: {e}"));
            let material = private.and_then(|p| alg.open(p.pkcs8()).map_err(|e| e.to_string()));
            let material = match material {
                Ok(m) => m,
                Err(e) => panic!("{e}"),
            };
            let input = b"eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ";
            let signature = match material.signing.sign(input) {
                Ok(s) => s,
                Err(e) => panic!("{alg}: {e}"),
            };
            assert!(
                material.verifier.verify_sig(input, &signature).is_ok(),
                "{alg}: our verifier accepts what the key signed"
            );
            let published = material.jwk.published("k", alg);
            assert_eq!(published["alg"], alg.name());
            assert_eq!(published["use"], "sig");
            assert_eq!(KeyAlgorithm::from_name(alg.name()), Some(alg));
        }
        assert_eq!(KeyAlgorithm::from_name("rs256"), None);
        assert_eq!(KeyAlgorithm::from_name("none"), None);
    }
}
