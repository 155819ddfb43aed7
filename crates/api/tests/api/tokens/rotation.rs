//! Algorithms and rotation: every algorithm signs, publishes and verifies (checked here with
//! aws-lc-rs from the published JWK alone, and the kid recomputed as an RFC 7638 thumbprint);
//! a header naming another algorithm than its key's is refused; scheduled rotation across two
//! instances switches both at the stored `not_before`, keeps at most 3 keys, prunes; the
//! database, not a clock race, decides which instance's successor is stored; existing key rows
//! migrate as RS256 keys with their kids.

use super::*;
use crate::on_both_backends;
use api::app::{Application, Options};
use aws_lc_rs::digest::{digest, SHA256};
use chrono::{DateTime, Utc};
use domain::model::StoredKey;
use domain::ports::StoreError;
use jwks::KeyAlgorithm;
use std::time::{Duration, Instant};

// docs/keys.md's Rust example ("Verify our tokens in your service"), verbatim: the test below
// checks docs/keys.md still prints exactly this and runs it against each algorithm.
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};

fn verify(token: &str, jwks: &JwkSet) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let kid = decode_header(token)?.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or("unknown kid: refetch the JWKS")?;
    let alg = Algorithm::try_from(jwk.common.key_algorithm.ok_or("no alg")?)?;
    if ![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA].contains(&alg) {
        return Err("algorithm not accepted".into());
    }
    let mut validation = Validation::new(alg);
    validation.set_audience(&["example.com"]);
    validation.set_issuer(&["https://auth.example.com"]);
    Ok(decode(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

#[actix_rt::test]
async fn the_readme_rust_example_verifies_every_algorithm() {
    let readme = include_str!("../../../../../docs/keys.md");
    let block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("no Rust example in docs/keys.md"));
    assert!(
        include_str!("rotation.rs").contains(block),
        "docs/keys.md's Rust example is the code tested here:\n{block}"
    );
    for alg in ["RS256", "ES256", "EdDSA"] {
        let app = TestApp::builder(Backend::Sqlite)
            .config(json!({
                "secrets": {"algorithm": alg},
                "session": {"issuer": "https://auth.example.com", "audience": ["example.com"]}
            }))
            .start()
            .await;
        let login = app.user_with_session("rustacean@example.com").await;
        let jwks: JwkSet = app
            .get_json(format!("{}/.well-known/jwks.json", app.public))
            .await;
        let claims = verify(&login.token, &jwks).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims["sub"], login.user_id.as_str());
        let forged = format!("{}x", login.token);
        assert!(verify(&forged, &jwks).is_err(), "{alg}: a changed token");
    }
}

fn header_of(token: &str) -> Value {
    let segment = token.split('.').next().expect("a JWS header segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("a base64url header"))
        .unwrap_or_else(|e| panic!("header of {token}: {e}"))
}

/// RFC 7638, written out here from the RFC rather than taken from the server's code.
fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].str() {
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].str(),
            jwk["n"].str()
        ),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["crv"].str(),
            jwk["x"].str(),
            jwk["y"].str()
        ),
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            jwk["crv"].str(),
            jwk["x"].str()
        ),
        other => panic!("unexpected kty {other} in {jwk}"),
    };
    b64(digest(&SHA256, canonical.as_bytes()))
}

/// Verifies `token`'s signature with the published `jwk` only.
fn verifies_with(jwk: &Value, token: &str) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("a compact JWS");
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("a base64url signature");
    let field = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].str())
            .expect("a base64url JWK member")
    };
    match jwk["alg"].str() {
        "RS256" => RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &signature,
        )
        .is_ok(),
        "ES256" => {
            let point = [vec![4u8], field("x"), field("y")].concat();
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input.as_bytes(), &signature)
                .is_ok()
        }
        "EdDSA" => signature::UnparsedPublicKey::new(&signature::ED25519, field("x"))
            .verify(input.as_bytes(), &signature)
            .is_ok(),
        other => panic!("unexpected alg {other}"),
    }
}

async fn every_algorithm_signs_publishes_and_verifies(backend: Backend) {
    for (alg, kty, crv) in [
        ("RS256", "RSA", None),
        ("ES256", "EC", Some("P-256")),
        ("EdDSA", "OKP", Some("Ed25519")),
    ] {
        let app = TestApp::builder(backend)
            .config(json!({"secrets": {"algorithm": alg, "jwks_max_age": "5m"}}))
            .start()
            .await;
        let login = app.user_with_session(&format!("{alg}@example.com")).await;
        let jws_header = header_of(&login.token);
        assert_eq!(jws_header["alg"], alg, "{jws_header}");
        assert_eq!(jws_header["typ"], "JWT");
        let jwks = app
            .client
            .get(format!("{}/.well-known/jwks.json", app.public))
            .fetch()
            .await
            .expect_status(200);
        assert_eq!(
            header(jwks.headers(), "cache-control").as_deref(),
            Some("public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"),
            "secrets.jwks_max_age sets the max-age"
        );
        let jwks: Value = jwks.json();
        let keys = jwks["keys"].as_array().cloned().expect("keys: an array");
        assert_eq!(keys.len(), 1, "{jwks}");
        let jwk = &keys[0];
        assert_eq!(jwk["kty"], kty, "{jwk}");
        assert_eq!(jwk["crv"].as_str(), crv, "{jwk}");
        assert_eq!(jwk["alg"], alg);
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], jws_header["kid"]);
        assert_eq!(
            jwk["kid"].str(),
            thumbprint(jwk),
            "the kid is the RFC 7638 thumbprint"
        );
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(private).is_none(), "{private} published: {jwk}");
        }
        assert!(
            verifies_with(jwk, &login.token),
            "{alg}: verified from the JWK alone"
        );
        app.get_me(&login.token).await.expect_status(200);
        let listed: Value = app.get_json(format!("{}/jwks", app.admin)).await;
        assert_eq!(listed[0]["alg"], alg, "{listed}");
        assert_eq!(listed[0]["signing"], true);
        assert_eq!(listed[0]["published"], true);
        assert!(listed[0]["retired_at"].is_null(), "{listed}");
    }
}

/// A token that names an algorithm other than its key's: refused, even with a valid signature
/// by another of our keys (algorithm confusion between keys of one set).
async fn a_header_naming_another_algorithm_than_its_key_is_refused(backend: Backend) {
    let app = issuer_app(backend).await;
    let login = app.user_with_session("confused@example.com").await;
    let rsa = server_key(&app);
    // An ES256 key beside the RSA one (published, staged: not signing).
    let mut ec_config = app.config.secrets.clone();
    ec_config.algorithm = KeyAlgorithm::ES256;
    let db = Database::connect(&app.config.database);
    let ec_keys = jwks::KeyManager::new(
        std::sync::Arc::new(db),
        &ec_config,
        app.config.session.token_policy(),
    );
    let ec_kid = ec_keys
        .rotate(
            Some(domain::config::Duration::from_secs(3600)),
            true,
            Utc::now(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let claims = good_claims(&login);
    let good = sign_with(
        &rsa.pkcs8,
        &signature::RSA_PKCS1_SHA256,
        &json!({"alg": "RS256", "typ": "JWT", "kid": rsa.kid}),
        &claims,
    );
    app.get_me(&good).await.expect_status(200);
    let checker = app.key_manager();
    for header in [
        json!({"alg": "RS256", "typ": "JWT", "kid": ec_kid}),
        json!({"alg": "ES256", "typ": "JWT", "kid": rsa.kid}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": rsa.kid}),
    ] {
        let token = sign_with(&rsa.pkcs8, &signature::RSA_PKCS1_SHA256, &header, &claims);
        assert_error(app.get_me(&token).await, 401);
        assert_eq!(
            checker.verify(&token, Utc::now()).err(),
            Some(TokenError::Algorithm),
            "{header}"
        );
    }
}

/// A second instance in this process, on the same database and config.
async fn second_instance(app: &TestApp) -> Api {
    let second = Application::build(
        app.config.clone(),
        Options {
            migrate: false,
            workers: Some(1),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("starting the second instance: {e}"));
    let api = Api {
        public: format!("http://127.0.0.1:{}", second.public_port()),
        admin: format!("http://127.0.0.1:{}", second.admin_port()),
        client: http_client(),
    };
    actix_rt::spawn(second.run_until_stopped());
    api
}

/// The key that signs at `t` according to the stored schedule.
fn scheduled_signer(keys: &[StoredKey], t: DateTime<Utc>) -> Option<String> {
    keys.iter()
        .filter(|k| k.activates_at <= t)
        .max_by_key(|k| (k.activates_at, k.created_at))
        .map(|k| k.kid.clone())
}

/// Two instances with `interval: 4s`: over 16 s both sign with the scheduled key at every
/// moment (one token from each, back to back), each successor is published at least
/// `publish_ahead` before it signs, at most 3 keys are stored, retired keys are pruned, and
/// every token verifies on both.
async fn scheduled_rotation_on_two_instances(backend: Backend) {
    let publish_ahead = chrono::Duration::seconds(1);
    let app = TestApp::builder(backend)
        .config(json!({
            "secrets": {
                "algorithm": "ES256",
                "jwks_max_age": "1s",
                "refresh_interval": "1s",
                "rotation": {"interval": "4s", "publish_ahead": "1s"}
            },
            "session": {"lifespan": "2s"}
        }))
        .start()
        .await;
    let other = second_instance(&app).await;
    let store = Database::connect(&app.config.database);
    let user = app.create_user("rotating@example.com").await;
    let first_kid = store.list_keys().unwrap_or_else(|e| panic!("{e}"))[0]
        .kid
        .clone();
    let mut signers = std::collections::BTreeSet::new();
    let mut successors = std::collections::BTreeMap::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(16) {
        let before = Utc::now();
        let (a, b) = (app.login(&user).await, other.login(&user).await);
        let after = Utc::now();
        let keys = store.list_keys().unwrap_or_else(|e| panic!("{e}"));
        assert!(keys.len() <= 3, "at most 3 stored keys: {keys:?}");
        for key in &keys {
            if key.kid == first_kid {
                continue;
            }
            // Every key after the first is a scheduled successor, recorded as such: a rotation
            // that stopped naming the key it follows would escape the checks below otherwise.
            let predecessor = key.succeeds.as_ref().unwrap_or_else(|| {
                panic!("{} was created without naming the key it follows", key.kid)
            });
            {
                assert!(
                    key.activates_at - key.created_at >= publish_ahead,
                    "{} signs {} after it was stored",
                    key.kid,
                    key.activates_at - key.created_at
                );
                let previous = successors.insert(predecessor.clone(), key.kid.clone());
                assert!(
                    previous.is_none_or(|p| p == key.kid),
                    "two successors of {predecessor}"
                );
            }
        }
        let expected = scheduled_signer(&keys, before);
        if expected == scheduled_signer(&keys, after) {
            for token in [&a.token, &b.token] {
                assert_eq!(
                    header_of(token)["kid"].as_str(),
                    expected.as_deref(),
                    "both instances sign with the key the schedule names"
                );
            }
        }
        for token in [&a.token, &b.token] {
            signers.insert(header_of(token)["kid"].str().to_owned());
            app.get_me(token).await.expect_status(200);
            other.get_me(token).await.expect_status(200);
        }
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        signers.len() >= 4,
        "at least 3 rotations in 16 s: {signers:?}"
    );
    assert!(
        successors.len() + 1 >= signers.len(),
        "every signer after the first was seen as a recorded successor: {successors:?}, {signers:?}"
    );
    let remaining: Vec<String> = store
        .list_keys()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert!(
        !remaining.contains(&first_kid),
        "the first key is pruned once its tokens have expired: {remaining:?}"
    );
    let listed: Value = app.get_json(format!("{}/jwks", app.admin)).await;
    let list = listed.as_array().cloned().expect("GET /jwks: an array");
    assert_eq!(
        list.iter().filter(|k| k["signing"] == true).count(),
        1,
        "{listed}"
    );
    assert!(
        list.iter()
            .any(|k| k["retired_at"].is_string() && k["published"] == true),
        "a retired key stays published after it stops signing: {listed}"
    );
}

/// However many instances try to follow a key, one successor is stored: the database refuses
/// the others (a unique rule, not a clock race).
async fn the_database_stores_one_successor_per_key(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let store = Database::connect(&app.config.database);
    let first = store.list_keys().unwrap_or_else(|e| panic!("{e}"))[0].clone();
    let successor = |kid: &str| StoredKey {
        kid: kid.to_owned(),
        alg: "RS256".into(),
        encrypted_key: first.encrypted_key.clone(),
        created_at: Utc::now(),
        activates_at: Utc::now() + chrono::Duration::hours(1),
        retired_at: None,
        succeeds: Some(first.kid.clone()),
    };
    store
        .insert_key(&successor("successor-a"))
        .unwrap_or_else(|e| panic!("{e}"));
    match store.insert_key(&successor("successor-b")) {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a second successor of one key: {other:?}"),
    }

    // Two instances due at once: both generate, one key is stored.
    let mut config = app.config.secrets.clone();
    config.rotation.interval = Some(domain::config::Duration::from_secs(1));
    config.rotation.publish_ahead = Some(domain::config::Duration::from_secs(600));
    let fresh = TestDb::new(backend);
    let fresh_config = test_config(&fresh.url, json!({}));
    let db = Database::connect(&fresh_config.database);
    db.migrate_up().unwrap_or_else(|e| panic!("{e}"));
    let managers: Vec<std::sync::Arc<jwks::KeyManager>> = (0..2)
        .map(|_| {
            std::sync::Arc::new(jwks::KeyManager::new(
                std::sync::Arc::new(Database::connect(&fresh_config.database)),
                &config,
                fresh_config.session.token_policy(),
            ))
        })
        .collect();
    managers[0]
        .ensure_signing_key(Utc::now())
        .unwrap_or_else(|e| panic!("{e}"));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let steps: Vec<jwks::ScheduleStep> = managers
        .iter()
        .map(|m| {
            let (m, barrier) = (m.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                m.rotate_on_schedule(domain::config::Duration::from_secs(1))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| panic!("rotation thread panicked"))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assert_eq!(
        steps.iter().filter(|s| s.created.is_some()).count(),
        1,
        "{steps:?}"
    );
    let keys = db.list_keys().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[1].succeeds.as_deref(), Some(keys[0].kid.as_str()));
    assert!(
        keys[1].activates_at - keys[1].created_at >= chrono::Duration::seconds(600),
        "signs no sooner than publish_ahead after it was stored"
    );
}

/// Key rows written before rotation existed: RS256 keys with their kids, retirements filled in.
async fn existing_keys_migrate_as_rs256_keys_with_their_kids(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    app.client
        .post(format!("{}/jwks/rotate", app.admin))
        .fetch()
        .await
        .expect_status(201);
    let store = Database::connect(&app.config.database);
    let kids: Vec<String> = store
        .list_keys()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|k| format!("old-{}", k.kid))
        .collect();
    migrate_down_through(&store, "20261206000001");
    // What an earlier version stored: kids that are not thumbprints.
    app.db.exec("UPDATE jwks SET kid = 'old-' || kid");
    store.migrate_up().unwrap_or_else(|e| panic!("{e}"));
    let keys = store.list_keys().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(), kids);
    assert!(keys
        .iter()
        .all(|k| k.alg == "RS256" && k.succeeds.is_none()));
    assert_eq!(keys[0].retired_at, Some(keys[1].activates_at));
    assert_eq!(keys[1].retired_at, None);
}

on_both_backends!(
    every_algorithm_signs_publishes_and_verifies,
    a_header_naming_another_algorithm_than_its_key_is_refused,
    scheduled_rotation_on_two_instances,
    the_database_stores_one_successor_per_key,
    existing_keys_migrate_as_rs256_keys_with_their_kids,
);
