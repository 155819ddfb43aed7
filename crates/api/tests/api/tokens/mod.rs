//! Keys, tokens and the JWKS: shared signing helpers (an independent signer), then one module
//! per behaviour: the bad-token battery, session-bound tokens and their carriers, the keys
//! and the JWKS.

mod battery;
mod jwks_and_keys;
mod rotation;
mod sessions;

use crate::helpers::*;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use domain::ports::KeyStore;
use jwks::TokenError;
use persistence::Database;
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The server's current signing key, decrypted from the database as only a holder of the
/// secret can.
struct ServerKey {
    kid: String,
    pkcs8: Vec<u8>,
}

fn server_key(app: &TestApp) -> ServerKey {
    let db = Database::connect(&app.config.database);
    let stored = db.list_keys().unwrap_or_else(|e| panic!("{e}"));
    let key = stored.last().unwrap_or_else(|| panic!("no key stored"));
    let pkcs8 = jwks::crypto::decrypt(app.config.secrets.keys.all(), &key.kid, &key.encrypted_key)
        .unwrap_or_else(|e| panic!("{e}"))
        .plaintext;
    ServerKey {
        kid: key.kid.clone(),
        pkcs8,
    }
}

/// An independent JWS signer: aws-lc-rs directly, no jsonwebtoken.
fn sign_with(
    pkcs8: &[u8],
    alg: &'static dyn signature::RsaEncoding,
    header: &Value,
    claims: &Value,
) -> String {
    let pair = RsaKeyPair::from_pkcs8(pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(
        alg,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    format!("{input}.{}", b64(sig))
}

fn sign_raw(pkcs8: &[u8], header: &Value, payload: &[u8]) -> String {
    let pair = RsaKeyPair::from_pkcs8(pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let input = format!("{}.{}", b64(header.to_string()), b64(payload));
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    format!("{input}.{}", b64(sig))
}

fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    format!(
        "{input}.{}",
        b64(aws_lc_rs::hmac::sign(&key, input.as_bytes()))
    )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn good_claims(login: &Login) -> Value {
    json!({
        "sub": login.user_id,
        "session_id": login.session_id,
        "iat": now(),
        "exp": now() + 3600,
        "aud": ["localhost"],
        "iss": ISSUER,
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
    v
}

async fn issuer_app(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(json!({"session": {"issuer": ISSUER}}))
        .start()
        .await
}
