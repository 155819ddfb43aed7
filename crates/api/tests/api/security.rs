//! Security review, round 3: what operators do stays theirs (a legal hold is never shown to
//! the person it concerns), every admin answer is kept out of caches, and re-encrypting the
//! keys is all or nothing. (One identity per request: `tokens::sessions`; secrets that cannot
//! be placeholders: `config`; a key no secret opens: `processes`.)

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

const REASON: &str = "subpoena 2026-CV-4711";
const OPERATOR_AGENT: &str = "legal-team-console/7.1";

/// docs/api.md "Grace period and legal hold" (legal hold): the public user and the user's own export show no hold, no reason, nothing of
/// what an operator's request carried; the admin API keeps everything.
async fn a_legal_hold_is_not_shown_to_the_person_it_concerns(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let login = app.user_with_session("held@example.com").await;
    app.client
        .put(format!("{}/users/{}/hold", app.admin, login.user_id))
        .header("user-agent", OPERATOR_AGENT)
        .header("x-request-id", "operator-request-0001")
        .json(&json!({"hold": true, "reason": REASON}))
        .fetch()
        .await
        .expect_status(200);

    let own = app
        .client
        .get(format!("{}/users/{}", app.public, login.user_id))
        .bearer_auth(&login.token)
        .fetch()
        .await
        .expect_status(200);
    let export = app
        .client
        .get(format!("{}/user/export", app.public))
        .bearer_auth(&login.token)
        .fetch()
        .await
        .expect_status(200);
    for (name, res) in [("GET /users/{id}", &own), ("GET /user/export", &export)] {
        let text = res.text();
        for confidential in [
            REASON,
            OPERATOR_AGENT,
            "operator-request-0001",
            "hold",
            "user_hold_set",
        ] {
            assert!(
                !text.contains(confidential),
                "{name} shows {confidential:?}: {text}"
            );
        }
    }
    assert_eq!(own.json::<Value>()["deletion"], Value::Null, "{own}");
    let export: Value = export.json();
    assert_eq!(export["user"]["deletion"], Value::Null);
    assert_eq!(
        export["audit_logs"],
        json!([]),
        "no action of the user's own yet"
    );

    // Operators see it all.
    let user: Value = app
        .get_json(format!("{}/users/{}", app.admin, login.user_id))
        .await;
    assert_eq!(user["deletion"]["hold"], true, "{user}");
    assert_eq!(user["deletion"]["hold_reason"], REASON, "{user}");
    let admin_export = app
        .get_text(format!("{}/users/{}/export", app.admin, login.user_id))
        .await;
    for kept in [REASON, OPERATOR_AGENT, "user_hold_set"] {
        assert!(admin_export.contains(kept), "{kept} in {admin_export}");
    }
}

/// docs/api.md "Admin API" (): one admin answer holds a session token; none may be stored by any cache, errors and
/// the guard's refusals included.
async fn every_admin_answer_is_not_stored(backend: Backend) {
    let key = "an-admin-api-key-for-this-test-0123456789";
    let app = TestApp::builder(backend)
        .config(json!({"server": {"admin": {"api_key": key}}}))
        .start()
        .await;
    let admin = |path: &str| format!("{}{path}", app.admin);
    let user: Value = app
        .client
        .post(admin("/users"))
        .bearer_auth(key)
        .json(&json!({"emails": [{"address": "cache@example.com", "is_primary": true}]}))
        .fetch()
        .await
        .expect_status(201)
        .json();
    let id = user["id"].str();
    let answers = vec![
        app.client
            .post(admin("/sessions"))
            .bearer_auth(key)
            .json(&json!({"user_id": id}))
            .fetch()
            .await
            .expect_status(200),
        app.client
            .get(admin("/users"))
            .bearer_auth(key)
            .fetch()
            .await
            .expect_status(200),
        app.client
            .get(admin("/users"))
            .fetch()
            .await
            .expect_status(401),
        app.client
            .get(admin(&format!("/users/{}", uuid::Uuid::new_v4())))
            .bearer_auth(key)
            .fetch()
            .await
            .expect_status(404),
        app.client
            .post(admin("/users"))
            .bearer_auth(key)
            .body("{not json")
            .header("content-type", "application/json")
            .fetch()
            .await
            .expect_status(400),
        app.client
            .get(admin("/nowhere"))
            .bearer_auth(key)
            .fetch()
            .await
            .expect_status(404),
        app.client
            .get(admin("/metrics"))
            .bearer_auth(key)
            .fetch()
            .await
            .expect_status(200),
        app.client
            .get(admin("/jwks"))
            .bearer_auth(key)
            .fetch()
            .await
            .expect_status(200),
        app.client
            .get(admin("/health/ready"))
            .fetch()
            .await
            .expect_status(200),
        app.client
            .get(admin("/openapi.json"))
            .bearer_auth(key)
            .fetch()
            .await
            .expect_status(200),
    ];
    for res in answers {
        assert_eq!(
            header(res.headers(), "cache-control").as_deref(),
            Some("no-store"),
            "{res}"
        );
    }
}

/// `api secrets reencrypt` rewrites every key in one transaction: when writing one fails, none
/// has moved, so every key still opens with the old secret alone (docs/operations.md, "Safe set-ups").
async fn reencrypting_the_keys_is_all_or_nothing(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let mut secrets = app.config.secrets.clone();
    let kid = app
        .key_manager()
        .rotate(None, true, chrono::Utc::now())
        .unwrap_or_else(|e| panic!("rotate: {e}"));
    assert_eq!(app.db.count("jwks", "1=1"), 2);
    // The newest key is written last; refuse that write, as a crash at that point would.
    app.db.exec(&if app.db.is_postgres() {
        format!(
            "CREATE FUNCTION refuse_key_write() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_key_write BEFORE UPDATE ON jwks FOR EACH ROW WHEN (OLD.kid = '{kid}') EXECUTE FUNCTION refuse_key_write();"
        )
    } else {
        format!(
            "CREATE TRIGGER refuse_key_write BEFORE UPDATE ON jwks FOR EACH ROW WHEN OLD.kid = '{kid}' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        )
    });
    let new_secret = format!("a-new-secret-made-by-this-test-{}", uuid::Uuid::new_v4());
    secrets.keys = serde_json::from_value(json!([new_secret, SECRET])).expect("secrets");
    let database = persistence::Database::connect(&app.config.database);
    let both = jwks::KeyManager::new(
        std::sync::Arc::new(database.clone()),
        &secrets,
        app.config.session.token_policy(),
    );
    assert!(both.reencrypt_all().is_err(), "the refused write fails it");

    let opened = app
        .key_manager()
        .list(chrono::Utc::now())
        .unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(
        opened.len(),
        2,
        "no key moved under the new secret: {opened:?}"
    );
}

on_both_backends!(
    a_legal_hold_is_not_shown_to_the_person_it_concerns,
    every_admin_answer_is_not_stored,
    reencrypting_the_keys_is_all_or_nothing,
);

/// `.env.example` ships every secret empty, so compose's `${VAR:?}` stops until each is filled
/// (docs/operations.md, "Safe set-ups"), and nothing in it can pass for a secret.
#[test]
fn the_env_example_leaves_every_secret_empty() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let assignments: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            l.split_once('=')
                .unwrap_or_else(|| panic!("not KEY=VALUE: {l}"))
        })
        .collect();
    assert!(assignments.len() >= 3, "{assignments:?}");
    for (name, value) in assignments {
        assert_eq!(value.trim(), "", "{name} ships a value");
    }
}

/// The build fingerprints the files that can hold a secret, never the documentation
/// (`crates/api/build.rs`), so a secret printed in a document would not be refused off
/// loopback: every example in the README and `docs/` that sets a secret shows a placeholder
/// (angle brackets, `…`, a shell substitution) or nothing, never a value one could copy.
#[test]
fn the_documentation_prints_no_secret_to_copy() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut documents = vec![std::path::PathBuf::from(format!("{root}/README.md"))];
    let docs = std::fs::read_dir(format!("{root}/docs")).unwrap_or_else(|e| panic!("docs/: {e}"));
    for entry in docs {
        let path = entry.unwrap_or_else(|e| panic!("docs/: {e}")).path();
        if path.extension().is_some_and(|e| e == "md") {
            documents.push(path);
        }
    }
    assert!(documents.len() >= 5, "{documents:?}");
    let secret_keys = [
        "keys",
        "api_key",
        "secrets",
        "authorization_header",
        "HANKO_SECRETS__KEYS",
        "HANKO_ADMIN_API_KEY",
        "HANKO_SERVER__ADMIN__API_KEY",
        "POSTGRES_PASSWORD",
    ];
    let mut assignments = 0;
    for document in &documents {
        let text = std::fs::read_to_string(document)
            .unwrap_or_else(|e| panic!("{}: {e}", document.display()));
        let mut in_code = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code {
                continue;
            }
            for key in secret_keys {
                for separator in [":", "="] {
                    for quote in ["", "\""] {
                        let needle = format!("{quote}{key}{quote}{separator}");
                        let Some(at) = line.find(&needle) else {
                            continue;
                        };
                        assignments += 1;
                        let value = &line[at + needle.len()..];
                        let copyable = value
                            .split(|c: char| c.is_whitespace() || "\"'`()[]{}<>,;|\\".contains(c))
                            .filter(|piece| !piece.contains('…') && !piece.starts_with('$'))
                            .find(|piece| piece.chars().count() >= 16);
                        assert!(
                            copyable.is_none(),
                            "{}: `{line}` prints a secret one could copy ({copyable:?}): show a placeholder",
                            document.display()
                        );
                    }
                }
            }
        }
    }
    // The push stream example sets an authorization_header (with a placeholder).
    assert!(
        assignments >= 1,
        "no secret example found: the scan reads nothing"
    );
}
