//! Migrations, health, the error shape, request ids.

use crate::helpers::*;
use crate::on_both_backends;
use persistence::{Database, DatabaseConfig};

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let db = TestDb::empty(backend);
    let config = DatabaseConfig {
        url: db.url.parse().unwrap_or_else(|e| panic!("{e:?}")),
        ..DatabaseConfig::default()
    };
    let database = Database::connect(&config);
    let pending = database
        .migration_status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!pending.is_empty() && pending.iter().all(|m| !m.applied));

    let applied = database.migrate_up().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(applied.len(), pending.len());
    assert_eq!(db.count("users", "1=1"), 0, "tables exist");

    let reverted = database.migrate_down().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Some(&reverted), applied.last());
    let status = database
        .migration_status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.iter().any(|m| !m.applied));

    let again = database.migrate_up().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, vec![reverted]);
    assert!(
        database
            .migrate_up()
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "idempotent"
    );
    assert_eq!(db.count("users", "1=1"), 0);
}

async fn health_on_both_listeners(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    for base in [&app.public, &app.admin] {
        let alive = app.client.get(format!("{base}/health/alive")).fetch().await;
        assert_eq!(alive.status(), 200);
        assert_eq!(
            alive.json::<serde_json::Value>(),
            serde_json::json!({"alive": true})
        );
        let ready = app.client.get(format!("{base}/health/ready")).fetch().await;
        assert_eq!(ready.status(), 200);
        assert_eq!(
            ready.json::<serde_json::Value>(),
            serde_json::json!({"ready": true})
        );
    }
}

async fn unknown_paths_and_methods_answer_json(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    for base in [&app.public, &app.admin] {
        let res = app.client.get(format!("{base}/no/such/path")).fetch().await;
        assert_error(res, 404);
    }
    let res = app.client.post(format!("{}/me", app.public)).fetch().await;
    assert_eq!(header(res.headers(), "allow").as_deref(), Some("GET"));
    assert_error(res, 405);
    let res = app.client.get(format!("{}/user", app.public)).fetch().await;
    assert_eq!(header(res.headers(), "allow").as_deref(), Some("DELETE"));
    assert_error(res, 405);
}

async fn every_response_has_a_request_id(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let generated = app
        .client
        .get(format!("{}/no/such/path", app.public))
        .fetch()
        .await;
    let id = header(generated.headers(), "x-request-id")
        .as_deref()
        .expect("present and well-formed")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "generated id {id:?}");

    let echoed = app
        .client
        .get(format!("{}/health/alive", app.public))
        .header("x-request-id", "trace-abc.123")
        .fetch()
        .await;
    assert_eq!(
        header(echoed.headers(), "x-request-id").as_deref(),
        Some("trace-abc.123")
    );

    // A forged id that could break a log line is replaced, not echoed.
    let forged = app
        .client
        .get(format!("{}/health/alive", app.public))
        .header("x-request-id", "abc\" injected=1")
        .fetch()
        .await;
    let replaced = header(forged.headers(), "x-request-id").expect("present and well-formed");
    assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{replaced:?}");
}

on_both_backends!(
    migrations_go_up_down_and_up_again,
    health_on_both_listeners,
    unknown_paths_and_methods_answer_json,
    every_response_has_a_request_id,
);
