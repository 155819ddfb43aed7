//! Deletion with a grace period: scheduled, restorable, held, purged once; and the user's
//! data export.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn grace(period: &str) -> Value {
    json!({"account": {"deletion": {"grace_period": period, "purge_interval": "100ms"}}})
}

async fn admin_user(app: &TestApp, id: &str) -> Reply {
    app.client
        .get(format!("{}/users/{id}", app.admin))
        .fetch()
        .await
}

async fn audit_of(app: &TestApp, id: &str, kind: &str) -> Vec<Value> {
    app.get_json(format!(
        "{}/audit_logs?type={kind}&actor_user_id={id}",
        app.admin
    ))
    .await
}

/// Polls until the user is gone (the purge ran), up to `within`.
async fn purged_within(app: &TestApp, id: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let res = admin_user(app, id).await;
        if res.status() == 404 {
            return;
        }
        assert!(Instant::now() < deadline, "never purged: {res}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn events_named(app: &TestApp, name: &str, id: &str) -> usize {
    app.db
        .events()
        .iter()
        .filter(|e| e["event"] == name && e["payload"]["id"] == id)
        .count()
}

async fn scheduled_restored_then_purged(backend: Backend) {
    let app = TestApp::builder(backend).config(grace("3s")).start().await;
    let config: Value = app
        .get_json(format!("{}/.well-known/config", app.public))
        .await;
    assert_eq!(config["account"]["deletion_grace_period"], "3s");
    let victim = app.user_with_session("grace@example.com").await;
    let other = app.login(&victim.user_id).await;

    let res = app.delete_user(&victim.token).await.expect_status(204);
    let cookie = header(res.headers(), "set-cookie").expect("the cookie is cleared");
    assert!(
        cookie.starts_with("hanko=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );
    for token in [&victim.token, &other.token] {
        assert_error(app.get_me(token).await, 401);
    }
    let user: Value = admin_user(&app, &victim.user_id)
        .await
        .expect_status(200)
        .json();
    let deletion = &user["deletion"];
    assert!(deletion["scheduled_at"].is_string(), "{user}");
    assert!(deletion["purge_after"].is_string(), "{user}");
    assert_eq!(deletion["hold"], false);
    assert_eq!(
        app.rows_of_user(&victim.user_id),
        2,
        "user and e-mail kept, sessions gone"
    );
    let listed: Vec<Value> = app
        .get_json(format!("{}/users?status=pending_deletion", app.admin))
        .await;
    assert_eq!(listed.len(), 1);
    let active: Vec<Value> = app
        .get_json(format!("{}/users?status=active", app.admin))
        .await;
    assert!(active.is_empty(), "{active:?}");

    let refused = app
        .client
        .post(format!("{}/sessions", app.admin))
        .json(&json!({"user_id": victim.user_id}))
        .fetch()
        .await;
    assert_error(refused, 409);

    let restored: Value = app
        .client
        .post(format!("{}/users/{}/restore", app.admin, victim.user_id))
        .fetch()
        .await
        .expect_status(200)
        .json();
    assert!(restored["deletion"].is_null(), "{restored}");
    assert_eq!(restored["email"], "grace@example.com", "e-mails kept");
    let back = app.login(&victim.user_id).await;
    assert_eq!(app.get_me(&back.token).await.status(), 200);
    assert_error(
        app.client
            .post(format!("{}/users/{}/restore", app.admin, victim.user_id))
            .fetch()
            .await,
        409,
    );

    // Scheduled again, and this time the grace period runs out.
    app.delete_user(&back.token).await.expect_status(204);
    purged_within(&app, &victim.user_id, Duration::from_secs(10)).await;
    assert_eq!(app.rows_of_user(&victim.user_id), 0);
    let deleted = audit_of(&app, &victim.user_id, "user_deleted").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["details"], json!({"by": "purge"}));
    let scheduled = audit_of(&app, &victim.user_id, "user_deletion_scheduled").await;
    assert_eq!(scheduled.len(), 2);
    assert_eq!(scheduled[0]["details"]["by"], "user");
    let cancelled = audit_of(&app, &victim.user_id, "user_deletion_cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["details"]["by"], "admin");
    assert_eq!(events_named(&app, "user.delete", &victim.user_id), 1);
    assert_eq!(
        events_named(&app, "user.delete.scheduled", &victim.user_id),
        2
    );
    assert_eq!(
        events_named(&app, "user.delete.cancelled", &victim.user_id),
        1
    );
    let metrics = app.get_text(format!("{}/metrics", app.admin)).await;
    assert!(
        metrics.contains("hanko_user_deletions_total{by=\"purge\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("hanko_purge_backlog 0"), "{metrics}");
}

async fn held_users_are_never_purged(backend: Backend) {
    let app = TestApp::builder(backend).config(grace("1s")).start().await;
    let victim = app.user_with_session("held@example.com").await;
    let held: Value = app
        .client
        .put(format!("{}/users/{}/hold", app.admin, victim.user_id))
        .json(&json!({"hold": true, "reason": "litigation 2026-17"}))
        .fetch()
        .await
        .expect_status(200)
        .json();
    assert_eq!(held["deletion"]["hold"], true);
    assert_eq!(held["deletion"]["hold_reason"], "litigation 2026-17");
    app.delete_user(&victim.token).await.expect_status(204);
    // A witness scheduled after the held user is due after them: once the purge has deleted
    // the witness, it has had the held user before it.
    let witness = app.user_with_session("witness@example.com").await;
    app.delete_user(&witness.token).await.expect_status(204);
    let mut purged = false;
    for _ in 0..200 {
        if admin_user(&app, &witness.user_id).await.status() == 404 {
            purged = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(purged, "the witness was not purged within 20 s");
    let user: Value = admin_user(&app, &victim.user_id)
        .await
        .expect_status(200)
        .json();
    assert!(
        user["deletion"]["purge_after"].is_string(),
        "past purge_after: {user}"
    );
    assert_eq!(user["deletion"]["hold"], true, "still there, held");
    let listed: Vec<Value> = app
        .get_json(format!("{}/users?status=held", app.admin))
        .await;
    assert_eq!(listed.len(), 1);
    assert_error(
        app.client
            .delete(format!("{}/users/{}", app.admin, victim.user_id))
            .fetch()
            .await,
        409,
    );
    let set = audit_of(&app, &victim.user_id, "user_hold_set").await;
    assert_eq!(set[0]["details"]["reason"], "litigation 2026-17");

    app.client
        .put(format!("{}/users/{}/hold", app.admin, victim.user_id))
        .json(&json!({"hold": false}))
        .fetch()
        .await
        .expect_status(200);
    purged_within(&app, &victim.user_id, Duration::from_secs(5)).await;
    assert_eq!(
        audit_of(&app, &victim.user_id, "user_hold_released")
            .await
            .len(),
        1
    );
    let deleted = audit_of(&app, &victim.user_id, "user_deleted").await;
    assert_eq!(deleted[0]["details"], json!({"by": "purge"}));
}

/// A legal hold never blocks or reveals anything to the user's own request (docs/api.md): the
/// answer is a non-held user's, every session ends, and the deletion is scheduled (purge after
/// the grace period, or now without one) while the purge waits for the hold's release; the
/// admin API shows both the hold and the request. Then the release lets the purge take the user.
async fn a_held_users_own_deletion_is_accepted_and_waits_for_the_release(
    backend: Backend,
    grace_period: Option<&str>,
) {
    let config = match grace_period {
        Some(period) => grace(period),
        None => json!({"account": {"deletion": {"purge_interval": "100ms"}}}),
    };
    let app = TestApp::builder(backend).config(config).start().await;
    let held = app.user_with_session("held.own@example.com").await;
    let other_session = app.login(&held.user_id).await;
    let free = app.user_with_session("free.own@example.com").await;
    app.client
        .put(format!("{}/users/{}/hold", app.admin, held.user_id))
        .json(&json!({"hold": true, "reason": "litigation"}))
        .fetch()
        .await
        .expect_status(200);

    let answered_held = app.delete_user(&held.token).await.expect_status(204);
    let answered_free = app.delete_user(&free.token).await.expect_status(204);
    assert_eq!(
        header(answered_held.headers(), "set-cookie"),
        header(answered_free.headers(), "set-cookie"),
        "the same answer as to a user without a hold"
    );
    for token in [&held.token, &other_session.token] {
        assert_error(app.get_me(token).await, 401);
    }

    let user: Value = admin_user(&app, &held.user_id)
        .await
        .expect_status(200)
        .json();
    assert_eq!(user["deletion"]["hold"], true, "{user}");
    assert_eq!(user["deletion"]["hold_reason"], "litigation", "{user}");
    let purge_after: chrono::DateTime<chrono::Utc> = user["deletion"]["purge_after"]
        .str()
        .parse()
        .unwrap_or_else(|e| panic!("purge_after: {e}: {user}"));
    let scheduled_at: chrono::DateTime<chrono::Utc> = user["deletion"]["scheduled_at"]
        .str()
        .parse()
        .unwrap_or_else(|e| panic!("scheduled_at: {e}: {user}"));
    let expected_wait = match grace_period {
        Some(_) => chrono::Duration::seconds(2),
        None => chrono::Duration::zero(),
    };
    assert_eq!(purge_after - scheduled_at, expected_wait, "{user}");
    assert_eq!(
        app.rows_of_user(&held.user_id),
        2,
        "the user and the address, no session"
    );
    let scheduled = audit_of(&app, &held.user_id, "user_deletion_scheduled").await;
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert_eq!(scheduled[0]["details"]["by"], "user");
    assert_eq!(
        events_named(&app, "user.delete.scheduled", &held.user_id),
        1
    );
    assert_eq!(events_named(&app, "user.delete", &held.user_id), 0);
    // The session row is gone and a new one is refused while the deletion is scheduled.
    assert_error(
        app.client
            .post(format!("{}/sessions", app.admin))
            .json(&json!({"user_id": held.user_id}))
            .fetch()
            .await,
        409,
    );

    // Not purged while held, well past purge_after (the free user, scheduled alike, is).
    let free_within = Duration::from_secs(if grace_period.is_some() { 8 } else { 5 });
    purged_within(&app, &free.user_id, free_within).await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    admin_user(&app, &held.user_id).await.expect_status(200);

    app.client
        .put(format!("{}/users/{}/hold", app.admin, held.user_id))
        .json(&json!({"hold": false}))
        .fetch()
        .await
        .expect_status(200);
    purged_within(&app, &held.user_id, Duration::from_secs(5)).await;
    let deleted = audit_of(&app, &held.user_id, "user_deleted").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["details"], json!({"by": "purge"}));
    assert_eq!(events_named(&app, "user.delete", &held.user_id), 1);
}

async fn a_held_user_without_a_grace_period(backend: Backend) {
    a_held_users_own_deletion_is_accepted_and_waits_for_the_release(backend, None).await
}

async fn a_held_user_with_a_grace_period(backend: Backend) {
    a_held_users_own_deletion_is_accepted_and_waits_for_the_release(backend, Some("2s")).await
}

async fn the_export_holds_everything_about_the_user_and_nothing_else(backend: Backend) {
    // Mounted whatever allow_deletion says.
    let app = TestApp::builder(backend)
        .config(json!({"account": {"allow_deletion": false}}))
        .start()
        .await;
    let created: Value = app
        .client
        .post(format!("{}/users", app.admin))
        .json(&json!({"emails": [
            {"address": "exported@example.com", "is_primary": true, "is_verified": true},
            {"address": "second@example.com"}
        ]}))
        .fetch()
        .await
        .expect_status(201)
        .json();
    let id = created["id"].str().to_owned();
    let (one, _two) = (app.login(&id).await, app.login(&id).await);
    for hold in [true, false] {
        app.client
            .put(format!("{}/users/{id}/hold", app.admin))
            .json(&json!({"hold": hold, "reason": hold.then_some("audit trail")}))
            .fetch()
            .await
            .expect_status(200);
    }
    let stranger = app.user_with_session("stranger@example.com").await;
    app.client
        .put(format!("{}/users/{}/hold", app.admin, stranger.user_id))
        .json(&json!({"hold": true, "reason": "someone else's"}))
        .fetch()
        .await
        .expect_status(200);

    let url = format!("{}/user/export", app.public);
    assert_error(app.client.get(&url).fetch().await, 401);
    let res = app
        .client
        .get(&url)
        .bearer_auth(&one.token)
        .fetch()
        .await
        .expect_status(200);
    assert_eq!(
        header(res.headers(), "content-disposition").as_deref(),
        Some(format!("attachment; filename=\"user-{id}.json\"").as_str())
    );
    assert_eq!(
        header(res.headers(), "cache-control").as_deref(),
        Some("no-store")
    );
    let text = res.text();
    for foreign in [
        stranger.user_id.as_str(),
        "stranger@example.com",
        "someone else's",
    ] {
        assert!(!text.contains(foreign), "{foreign} in {text}");
    }
    let export: Value = res.json();
    assert_eq!(export["user"]["id"], id.as_str());
    let mut addresses: Vec<&str> = export["user"]["emails"]
        .as_array()
        .expect("emails")
        .iter()
        .map(|e| e["address"].str())
        .collect();
    addresses.sort_unstable();
    assert_eq!(
        addresses,
        vec!["exported@example.com", "second@example.com"]
    );
    assert_eq!(export["sessions"].as_array().map(Vec::len), Some(2));
    // The user's own actions only: what operators did (the hold) is theirs (docs/api.md).
    assert_eq!(export["audit_logs"], json!([]), "{text}");
    assert_eq!(export["user"]["deletion"], Value::Null, "{text}");
    assert!(export["exported_at"].is_string());

    let admin: Value = app
        .client
        .get(format!("{}/users/{id}/export", app.admin))
        .fetch()
        .await
        .expect_status(200)
        .json();
    let kinds: Vec<&str> = admin["audit_logs"]
        .as_array()
        .expect("audit logs")
        .iter()
        .map(|e| e["type"].str())
        .collect();
    assert_eq!(
        kinds,
        vec!["user_hold_released", "user_hold_set"],
        "operators see everything, newest first"
    );
    for field in ["id", "email", "emails", "created_at"] {
        assert_eq!(admin["user"][field], export["user"][field], "{field}");
    }
    let ids = |v: &Value| -> Vec<String> {
        v["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .map(|s| s["id"].str().to_owned())
            .collect()
    };
    assert_eq!(ids(&admin), ids(&export));
    assert_error(
        app.client
            .get(format!(
                "{}/users/{}/export",
                app.admin,
                uuid::Uuid::new_v4()
            ))
            .fetch()
            .await,
        404,
    );
}

/// The migration is reversible on a database with scheduled users.
async fn migrations_go_down_and_up_with_scheduled_users(backend: Backend) {
    let app = TestApp::builder(backend).config(grace("1h")).start().await;
    let victim = app.user_with_session("migrated@example.com").await;
    app.delete_user(&victim.token).await.expect_status(204);
    let store = persistence::Database::connect(&app.config.database);
    // Down through the grace-period migration, with a scheduled user.
    let reverted = migrate_down_through(&store, "20261129000002");
    assert_eq!(
        app.db.count("users", &format!("id = '{}'", victim.user_id)),
        1
    );
    let applied = store.migrate_up().expect("and up again");
    assert_eq!(applied.len(), reverted, "{applied:?}");
    assert_eq!(
        app.db.count("users", &format!("id = '{}'", victim.user_id)),
        1
    );
}

on_both_backends!(
    migrations_go_down_and_up_with_scheduled_users,
    scheduled_restored_then_purged,
    held_users_are_never_purged,
    a_held_user_without_a_grace_period,
    a_held_user_with_a_grace_period,
    the_export_holds_everything_about_the_user_and_nothing_else,
);
