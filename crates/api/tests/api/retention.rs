//! The inactivity policy (docs/retention.md) with time compressed: warned once, then deleted
//! (scheduled with a grace period); activity withdraws a warning; a held user is never touched;
//! the preview against an independent count; the migration that brings `last_active_at`.

use crate::helpers::*;
use crate::on_both_backends;
use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// `inactive_after: 6s`, `warn_before: 3s`, a pass every second.
fn compressed(grace: Option<&str>) -> Value {
    let mut deletion = json!({"purge_interval": "100ms"});
    if let Some(g) = grace {
        deletion["grace_period"] = json!(g);
    }
    json!({"account": {
        "deletion": deletion,
        "retention": {"inactive_after": "6s", "warn_before": "3s", "interval": "1s"}
    }})
}

/// The events of `name` about user `id`, oldest first.
fn events_of(app: &TestApp, name: &str, id: &str) -> Vec<Value> {
    app.db
        .events()
        .into_iter()
        .filter(|e| e["event"] == name && e["payload"]["id"] == id)
        .collect()
}

async fn audit_of(app: &TestApp, id: &str, kind: &str) -> Vec<Value> {
    app.get_json(format!(
        "{}/audit_logs?type={kind}&actor_user_id={id}",
        app.admin
    ))
    .await
}

/// Polls until `n` events of `name` about `id` exist, up to `within`; returns them.
async fn wait_for_events(
    app: &TestApp,
    name: &str,
    id: &str,
    n: usize,
    within: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let events = events_of(app, name, id);
        if events.len() >= n {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{n} {name} for {id} never came: {events:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn time_of(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

async fn hold(app: &TestApp, id: &str) {
    app.client
        .put(format!("{}/users/{id}/hold", app.admin))
        .json(&json!({"hold": true, "reason": "litigation"}))
        .fetch()
        .await
        .expect_status(200);
}

/// A user who does nothing is warned once, then their deletion is scheduled (a grace period)
/// and purged after it; a held user is never touched.
async fn an_idle_user_is_warned_once_then_deleted(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(compressed(Some("2s")))
        .start()
        .await;
    let idle = app.create_user("idle@example.com").await;
    let held = app.create_user("held@example.com").await;
    hold(&app, &held).await;
    let created = Utc::now();

    let warning = wait_for_events(
        &app,
        "user.inactivity_warning",
        &idle,
        1,
        Duration::from_secs(10),
    )
    .await;
    let payload = &warning[0]["payload"];
    assert_eq!(
        payload["emails"][0]["address"], "idle@example.com",
        "{payload}"
    );
    let warned = audit_of(&app, &idle, "user_inactivity_warned").await;
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0]["details"]["by"], "retention");
    let warned_at = time_of(&warned[0]["created_at"]);
    assert!(
        warned_at - created >= Span::milliseconds(2900),
        "warned after 6s − 3s of inactivity, not before: {warned_at} vs {created}"
    );
    assert_eq!(
        time_of(&payload["delete_after"]),
        warned_at + Span::seconds(3),
        "the warning says when the deletion may come"
    );
    assert_eq!(
        payload["delete_after"],
        warned[0]["details"]["delete_after"]
    );
    let user: Value = app.get_json(format!("{}/users/{idle}", app.admin)).await;
    assert_eq!(time_of(&user["inactivity_warned_at"]), warned_at, "{user}");

    // Scheduled by the policy once the warning has run its course, then purged.
    let scheduled = wait_for_events(
        &app,
        "user.delete.scheduled",
        &idle,
        1,
        Duration::from_secs(10),
    )
    .await;
    let audit = audit_of(&app, &idle, "user_deletion_scheduled").await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["details"]["by"], "retention");
    assert!(
        time_of(&audit[0]["created_at"]) - warned_at >= Span::milliseconds(2900),
        "deleted warn_before after the warning"
    );
    assert!(scheduled[0]["payload"]["purge_after"].is_string());
    wait_for_events(&app, "user.delete", &idle, 1, Duration::from_secs(10)).await;
    app.client
        .get(format!("{}/users/{idle}", app.admin))
        .fetch()
        .await
        .expect_status(404);
    let purged = audit_of(&app, &idle, "user_deleted").await;
    assert_eq!(purged.len(), 1, "{purged:?}");
    assert_eq!(purged[0]["details"]["by"], "purge");

    // A few more passes: nothing more about anyone.
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    for (name, n) in [
        ("user.inactivity_warning", 1),
        ("user.delete.scheduled", 1),
        ("user.delete", 1),
    ] {
        assert_eq!(events_of(&app, name, &idle).len(), n, "{name}");
        assert!(
            events_of(&app, name, &held).is_empty(),
            "{name} of the held user"
        );
    }
    let held_user: Value = app.get_json(format!("{}/users/{held}", app.admin)).await;
    assert!(held_user["inactivity_warned_at"].is_null(), "{held_user}");
    assert_eq!(held_user["deletion"]["hold"], true, "{held_user}");
    assert!(audit_of(&app, &held, "user_inactivity_warned")
        .await
        .is_empty());
    let metrics = app.get_text(format!("{}/metrics", app.admin)).await;
    assert!(
        metrics.contains("hanko_retention_users_total{action=\"warned\"} 1\n")
            && metrics.contains("hanko_retention_users_total{action=\"deleted\"} 1\n"),
        "{metrics}"
    );
}

/// A user who uses a session after the warning is not deleted, and is warned again only after
/// a new period of inactivity; without a grace period the deletion is at once.
async fn activity_withdraws_the_warning(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(compressed(None))
        .start()
        .await;
    let active = app.user_with_session("active@example.com").await;
    let idle = app.create_user("idle@example.com").await;

    wait_for_events(
        &app,
        "user.inactivity_warning",
        &active.user_id,
        1,
        Duration::from_secs(10),
    )
    .await;
    let used_at = Utc::now();
    app.get_me(&active.token).await.expect_status(200);

    // The idle user, warned at the same time, is deleted at once (no grace period).
    wait_for_events(&app, "user.delete", &idle, 1, Duration::from_secs(10)).await;
    let deleted = audit_of(&app, &idle, "user_deleted").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["details"]["by"], "retention");
    assert!(events_of(&app, "user.delete.scheduled", &idle).is_empty());

    // The active one is still here, their warning withdrawn, and warned again only after
    // a new 6s − 3s of inactivity.
    let user: Value = app
        .get_json(format!("{}/users/{}", app.admin, active.user_id))
        .await;
    assert!(time_of(&user["last_active_at"]) >= used_at, "{user}");
    assert!(
        events_of(&app, "user.delete", &active.user_id).is_empty(),
        "deleted after using a session"
    );
    let warnings = wait_for_events(
        &app,
        "user.inactivity_warning",
        &active.user_id,
        2,
        Duration::from_secs(10),
    )
    .await;
    let audit = audit_of(&app, &active.user_id, "user_inactivity_warned").await;
    assert_eq!((warnings.len(), audit.len()), (2, 2), "{audit:?}");
    // Newest first.
    let second = time_of(&audit[0]["created_at"]);
    assert!(
        second - used_at >= Span::milliseconds(2900),
        "warned again {} ms after the activity",
        (second - used_at).num_milliseconds()
    );
    // And with no further activity, deleted at once.
    wait_for_events(
        &app,
        "user.delete",
        &active.user_id,
        1,
        Duration::from_secs(10),
    )
    .await;
    app.get_me(&active.token).await.expect_status(401);
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        events_of(&app, "user.inactivity_warning", &active.user_id).len(),
        2
    );
    assert_eq!(events_of(&app, "user.delete", &active.user_id).len(), 1);
    assert_eq!(
        audit_of(&app, &active.user_id, "user_deleted").await.len(),
        1
    );
    let metrics = app.get_text(format!("{}/metrics", app.admin)).await;
    for line in [
        "hanko_retention_users_total{action=\"warned\"} 3\n",
        "hanko_retention_users_total{action=\"withdrawn\"} 1\n",
        "hanko_retention_users_total{action=\"deleted\"} 2\n",
        "hanko_user_deletions_total{by=\"retention\"} 2\n",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
}

/// `2026-12-07T10:00:00.000000Z`: the stored form on SQLite, a timestamptz literal on Postgres.
fn sql_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A seeded user: last_active_at, inactivity_warned_at, held, deletion scheduled.
type Fixture = (DateTime<Utc>, Option<DateTime<Utc>>, bool, bool);

/// The preview equals an independent SQL count of the same rule, on users placed on both
/// sides of every boundary, and changes nothing.
async fn the_preview_equals_an_independent_count(backend: Backend) {
    // The instant previewed is far ahead: at the server's own passes (now), nobody is due.
    let policy = json!({"account": {"retention": {
        "inactive_after": "10d", "warn_before": "3d", "interval": "1h"
    }}});
    let app = TestApp::builder(backend).config(policy).start().await;
    // The server's first pass (at start) has withdrawn and reserved its share once it has
    // written the pace row; what remains of it acts on users due now, and none of these is.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.db.count("retention_pace", "not_before > '2000-01-01'") == 0 {
        assert!(Instant::now() < deadline, "the first pass never ran");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let at = Utc::now() + Span::days(1000);
    let (day, second) = (Span::days(1), Span::seconds(1));
    let warn_cut = at - Span::days(7);
    let delete_cut = at - Span::days(10);
    let warned_cut = at - Span::days(3);
    let mut fixtures: Vec<Fixture> = vec![
        (warn_cut, None, false, false),               // warn: on the boundary
        (warn_cut + second, None, false, false),      // nothing: a second short
        (delete_cut, Some(warned_cut), false, false), // delete: both boundaries
        (delete_cut, Some(warned_cut + second), false, false), // nothing: warned too late
        (delete_cut + second, Some(warned_cut - day), false, false), // nothing: active since
        (at - Span::days(8), Some(at - Span::days(20)), false, false), // warn: overtaken warning
        (at - Span::days(30), None, true, false),     // nothing: held
        (at - Span::days(30), Some(at - Span::days(20)), true, false), // nothing: held
        (at - Span::days(30), None, false, true),     // nothing: scheduled
        (at - second, None, false, false),            // nothing: active
    ];
    // And 300 more spread over a month either side of the boundaries (a fixed sequence).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |range: i64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        i64::try_from(seed % u64::try_from(range).unwrap_or(1)).unwrap_or(0)
    };
    for _ in 0..300 {
        let last = at - Span::minutes(next(60 * 24 * 30));
        let warned = match next(3) {
            0 => None,
            _ => Some(last + Span::minutes(next(60 * 24 * 20)) - Span::days(10)),
        };
        fixtures.push((last, warned, next(20) == 0, next(20) == 0));
    }
    let (yes, no) = if app.db.is_postgres() {
        ("true", "false")
    } else {
        ("1", "0")
    };
    let mut sql = String::new();
    for (i, (last, warned, held, scheduled)) in fixtures.iter().enumerate() {
        let id = uuid::Uuid::new_v4();
        let created = sql_time(*last - day);
        let warned = warned.map_or("NULL".into(), |w| format!("'{}'", sql_time(w)));
        let scheduled_at = if *scheduled {
            format!("'{created}'")
        } else {
            "NULL".into()
        };
        sql += &format!(
            "INSERT INTO users (id, created_at, updated_at, last_active_at, inactivity_warned_at, \
             hold, deletion_scheduled_at, purge_after) VALUES ('{id}', '{created}', '{created}', \
             '{}', {warned}, {}, {scheduled_at}, {scheduled_at});\
             INSERT INTO emails (id, user_id, address, verified, is_primary, created_at, updated_at) \
             VALUES ('{}', '{id}', 'u{i}@example.com', {yes}, {yes}, '{created}', '{created}');",
            sql_time(*last),
            if *held { yes } else { no },
            uuid::Uuid::new_v4(),
        );
    }
    app.db.exec(&sql);

    let unheld = "deletion_scheduled_at IS NULL AND NOT hold";
    let warn = app.db.count(
        "users",
        &format!(
            "{unheld} AND last_active_at <= '{}' \
             AND (inactivity_warned_at IS NULL OR inactivity_warned_at < last_active_at)",
            sql_time(warn_cut)
        ),
    );
    let delete = app.db.count(
        "users",
        &format!(
            "{unheld} AND last_active_at <= '{}' AND inactivity_warned_at <= '{}' \
             AND inactivity_warned_at >= last_active_at",
            sql_time(delete_cut),
            sql_time(warned_cut)
        ),
    );
    assert!(
        warn > 50 && delete > 50,
        "fixtures on both sides: {warn} {delete}"
    );
    let before = (app.db.count("users", "1 = 1"), app.db.events().len());
    let preview: Value = app
        .get_json(format!(
            "{}/retention/preview?at={}",
            app.admin,
            sql_time(at)
        ))
        .await;
    assert_eq!(preview["warn"], warn, "{preview}");
    assert_eq!(preview["delete"], delete, "{preview}");
    let users = preview["users"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("a list of users: {preview}"));
    assert_eq!(users.len(), 100, "the first 100");
    let deletes = users.iter().take_while(|u| u["action"] == "delete").count();
    assert_eq!(
        deletes,
        usize::try_from(delete.min(100)).unwrap_or(0),
        "deletions first"
    );
    assert!(users[deletes..].iter().all(|u| u["action"] == "warn"));
    assert!(users.iter().all(|u| u["email"].is_string()), "{preview}");
    assert_eq!(
        (app.db.count("users", "1 = 1"), app.db.events().len()),
        before,
        "the preview changes nothing"
    );
    assert_eq!(
        app.db.count("users", "inactivity_warned_at IS NOT NULL"),
        i64::try_from(fixtures.iter().filter(|f| f.1.is_some()).count()).unwrap_or(0)
    );
    for at in [
        "yesterday",
        "0001-01-01T00:00:00Z",
        "+262143-01-01T00:00:00Z",
    ] {
        assert_error(
            app.client
                .get(format!("{}/retention/preview", app.admin))
                .query(&[("at", at)])
                .fetch()
                .await,
            400,
        );
    }
}

/// Without a policy the preview says so.
async fn no_policy_no_preview(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let res = app
        .client
        .get(format!("{}/retention/preview", app.admin))
        .fetch()
        .await;
    let body: Value = res.expect_status(409).json();
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("account.retention.inactive_after")),
        "{body}"
    );
}

/// A database of the previous version, with users, sessions and `last_used` values, gets each
/// user's `last_active_at`: the latest of its creation and its sessions' creation and use.
async fn the_migration_derives_last_active_at(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let store = persistence::Database::connect(&app.config.database);
    migrate_down_through(&store, "20261210000001");
    let t0 = Utc::now() - Span::days(400);
    let t = |days: i64| sql_time(t0 + Span::days(days));
    let users = [
        ("a", t(0), vec![]),             // no session: its creation
        ("b", t(0), vec![(t(1), t(5))]), // a used session: its last use
        ("c", t(0), vec![(t(1), t(2)), (t(9), t(9)), (t(3), t(7))]), // the latest of several
        ("d", t(10), vec![(t(1), t(2))]), // created after its session's use
    ];
    let mut sql = String::new();
    let mut ids = Vec::new();
    for (name, created, sessions) in &users {
        let id = uuid::Uuid::new_v4();
        ids.push((*name, id));
        sql += &format!(
            "INSERT INTO users (id, created_at, updated_at) VALUES ('{id}', '{created}', '{created}');"
        );
        for (session_created, last_used) in sessions {
            sql += &format!(
                "INSERT INTO sessions (id, user_id, created_at, expires_at, last_used) \
                 VALUES ('{}', '{id}', '{session_created}', '{}', '{last_used}');",
                uuid::Uuid::new_v4(),
                t(500),
            );
        }
    }
    app.db.exec(&sql);
    store.migrate_up().expect("up again");
    for ((name, id), expected) in ids.iter().zip([t(0), t(5), t(9), t(10)]) {
        let matched = app.db.count(
            "users",
            &format!(
                "id = '{id}' AND last_active_at = '{expected}' AND inactivity_warned_at IS NULL"
            ),
        );
        assert_eq!(
            matched, 1,
            "user {name}: last_active_at should be {expected}"
        );
    }
}

on_both_backends!(
    an_idle_user_is_warned_once_then_deleted,
    activity_withdraws_the_warning,
    the_preview_equals_an_independent_count,
    no_policy_no_preview,
    the_migration_derives_last_active_at,
);
