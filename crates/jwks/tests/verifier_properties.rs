//! Property tests of the token verifier, the first code that reads what a client sends: any
//! bytes, and any change to a token we signed, are refused, never a panic, never a pass.
//! `PROPTEST_CASES=100000 cargo test -p jwks --test verifier_properties` runs them longer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use domain::config::Secret;
use domain::ids::{SessionId, UserId};
use jwks::config::Secrets;
use jwks::{KeyAlgorithm, KeyManager, SecretsConfig, TokenPolicy};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

#[path = "support/memory_keys.rs"]
mod memory_keys;
use memory_keys::MemoryKeys;

struct Fixture {
    keys: KeyManager,
    token: String,
    now: DateTime<Utc>,
}

/// One key manager and one valid token per algorithm, for every case (RSA key generation is
/// the slow part).
fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| KeyAlgorithm::ALL.into_iter().map(fixture_for).collect())
}

/// The RS256 fixture (the default algorithm).
fn fixture() -> &'static Fixture {
    &fixtures()[0]
}

fn fixture_for(algorithm: KeyAlgorithm) -> Fixture {
    {
        let secrets = SecretsConfig {
            keys: Secrets::new(vec![Secret::new("property-test-secret-0123456789")]).unwrap(),
            algorithm,
            rsa_bits: Default::default(),
            rotation: Default::default(),
            jwks_max_age: domain::config::Duration::from_secs(600),
            refresh_interval: domain::config::Duration::from_secs(60),
        };
        let policy = TokenPolicy {
            lifespan: domain::config::Duration::from_secs(3600),
            issuer: Some("https://auth.example".into()),
            audience: vec!["localhost".into()],
            leeway: domain::config::Duration::from_secs(0),
        };
        let keys = KeyManager::new(Arc::new(MemoryKeys::default()), &secrets, policy);
        let now = Utc::now();
        keys.ensure_signing_key(now).unwrap();
        let token = keys
            .sign_session(
                UserId(uuid::Uuid::new_v4()),
                SessionId(uuid::Uuid::new_v4()),
                Some("a@example.com".into()),
                now,
                now + Duration::hours(1),
            )
            .unwrap();
        assert!(
            keys.verify(&token, now).is_ok(),
            "the fixture's token verifies"
        );
        Fixture { keys, token, now }
    }
}

/// `PROPTEST_CASES`, or this many.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    ProptestConfig::with_cases(cases)
}

/// One change to a token: a character replaced, inserted or removed, or the token cut.
#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, char),
    Insert(usize, char),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let c = prop_oneof![
        proptest::char::range('A', 'Z'),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
        Just('-'),
        Just('_'),
        Just('.'),
        Just('='),
        any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<usize>(), c).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(token: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    match *m {
        Mutation::Replace(i, c) => {
            let i = i % chars.len();
            if chars[i] == c {
                // Not a change: make it one.
                chars[i] = if c == 'A' { 'B' } else { 'A' };
            } else {
                chars[i] = c;
            }
        }
        Mutation::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
        Mutation::Remove(i) => {
            chars.remove(i % chars.len());
        }
        Mutation::Truncate(i) => chars.truncate(i % chars.len()),
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Arbitrary bytes, read as a client's header would be.
    #[test]
    fn arbitrary_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let f = fixture();
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(f.keys.verify_candidate(&text, f.now).is_err());
    }

    /// Token-shaped text: three segments of the base64url alphabet.
    #[test]
    fn token_shaped_text_never_verifies(text in "[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,400}\\.[A-Za-z0-9_-]{0,400}") {
        let f = fixture();
        prop_assert!(f.keys.verify(&text, f.now).is_err());
    }

    /// A token we signed with a key of any algorithm, changed anywhere, by one or several
    /// characters.
    #[test]
    fn a_changed_token_never_verifies(
        which in 0..KeyAlgorithm::ALL.len(),
        changes in proptest::collection::vec(mutation(), 1..4),
    ) {
        let f = &fixtures()[which];
        let mut token = f.token.clone();
        for m in &changes {
            if token.is_empty() {
                break;
            }
            token = apply(&token, m);
        }
        prop_assume!(token != f.token);
        let refused = f.keys.verify_candidate(&token, f.now);
        prop_assert!(refused.is_err(), "{token} verified after {changes:?}");
    }
}

/// A segment of a token: base64url without padding.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The decoded JSON of a token's segment `i`.
fn segment(token: &str, i: usize) -> serde_json::Value {
    use base64::Engine;
    let part = token.split('.').nth(i).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Well-formed tokens that are not ours: a real header (any algorithm name, `none`
    /// included, and any of our kids, so algorithm and key may disagree) over our fixture's
    /// real claims, with a signature of zeros or random bytes of a plausible length, another
    /// token's signature, or none. Each gets past base64 and JSON, to the checks that matter; none
    /// verifies, on any key manager.
    #[test]
    fn well_formed_tokens_with_foreign_signatures_never_verify(
        alg in prop_oneof![
            Just("RS256"), Just("ES256"), Just("EdDSA"), Just("none"), Just("HS256"),
            Just("PS256"), Just("RS512"), Just("ES384"), Just("rs256"), Just(""),
        ],
        kid_from in 0..KeyAlgorithm::ALL.len(),
        verifier in 0..KeyAlgorithm::ALL.len(),
        typ in prop_oneof![Just(None), Just(Some("JWT")), Just(Some("secevent+jwt"))],
        signature in prop_oneof![
            // All zeros: the "psychic signature" an ECDSA check without its range checks takes.
            Just(vec![0u8; 64]),
            Just(vec![0u8; 256]),
            proptest::collection::vec(any::<u8>(), 64..=64),
            proptest::collection::vec(any::<u8>(), 256..=256),
            proptest::collection::vec(any::<u8>(), 0..300),
        ],
        borrowed in 0..=KeyAlgorithm::ALL.len(),
    ) {
        let all = fixtures();
        let kid = segment(&all[kid_from].token, 0)["kid"].clone();
        let mut header = serde_json::json!({"alg": alg, "kid": kid});
        if let Some(typ) = typ {
            header["typ"] = serde_json::json!(typ);
        }
        let claims = segment(&all[verifier].token, 1);
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        // A signature: random bytes, or a real one of another token of ours (not over these
        // bytes), or nothing at all.
        let sig = match borrowed {
            i if i < all.len() => all[i].token.rsplit('.').next().unwrap().to_owned(),
            _ => b64(&signature),
        };
        // (Our own token, byte for byte, is not a foreign one.)
        prop_assume!(format!("{signed}.{sig}") != all[verifier].token);
        for token in [format!("{signed}.{sig}"), format!("{signed}.")] {
            let refused = all[verifier].keys.verify_candidate(&token, all[verifier].now);
            prop_assert!(refused.is_err(), "verified: {header} with {sig}");
        }
    }
}
