//! `DELETE /user`: the seed's answers, atomicity, replay, races, policy.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

async fn audit_logs(app: &TestApp, user_id: &str) -> Vec<Value> {
    app.get_json(format!(
        "{}/audit_logs?type=user_deleted&actor_user_id={user_id}",
        app.admin
    ))
    .await
}

/// The events the outbox holds (whether or not any hook wants them).
async fn outbox(app: &TestApp) -> Vec<Value> {
    app.db.events()
}

async fn deletes_the_user_and_everything_of_theirs(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let victim = app.user_with_session("Jane@Example.com").await;
    let second_session = app.login(&victim.user_id).await;
    let bystander = app.user_with_session("bob@example.com").await;

    let res = app
        .client
        .delete(format!("{}/user", app.public))
        .bearer_auth(&victim.token)
        .header("x-request-id", "req-delete-1")
        .header("user-agent", "integration-test/1.0")
        .fetch()
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        header(res.headers(), "set-cookie").as_deref(),
        Some("hanko=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0")
    );
    assert!(res.headers().get("content-type").is_none());
    assert!(res.bytes().is_empty(), "204 has no body");

    assert_eq!(
        app.rows_of_user(&victim.user_id),
        0,
        "user, emails, sessions gone"
    );

    let logs = audit_logs(&app, &victim.user_id).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = &logs[0];
    assert_eq!(log["type"], "user_deleted");
    assert_eq!(log["actor_email"], "jane@example.com");
    assert_eq!(log["meta_http_request_id"], "req-delete-1");
    assert_eq!(log["meta_source_ip"], "127.0.0.1");
    assert_eq!(log["meta_user_agent"], "integration-test/1.0");

    let events = outbox(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "user.delete");
    assert_eq!(events[0]["payload"]["id"], victim.user_id.as_str());
    assert_eq!(
        events[0]["payload"]["emails"][0]["address"],
        "jane@example.com"
    );
    assert!(events[0]["payload"]["deleted_at"].is_string());

    // Replay: the same token and every other token of the user are dead.
    for token in [&victim.token, &second_session.token] {
        assert_error(app.get_me(token).await, 401);
        assert_error(app.delete_user(token).await, 401);
    }
    // The bystander is untouched.
    assert_eq!(app.get_me(&bystander.token).await.status(), 200);
    assert_eq!(
        app.db
            .count("emails", &format!("user_id = '{}'", bystander.user_id)),
        1
    );
}

async fn cookie_carrier_and_configured_cookie_attributes(backend: Backend) {
    let app = TestApp::builder(backend).config(json!({"session": {"cookie": {"name": "sid", "domain": "app.example", "same_site": "lax"}}})).start()
    .await;
    let victim = app.user_with_session("c@example.com").await;
    let res = app
        .client
        .delete(format!("{}/user", app.public))
        .header("cookie", format!("sid={}", victim.token))
        .fetch()
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        header(res.headers(), "set-cookie").as_deref(),
        Some("sid=; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=app.example; Max-Age=0")
    );
    assert_eq!(app.rows_of_user(&victim.user_id), 0);
}

async fn missing_or_bad_tokens_are_401_and_delete_nothing(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let victim = app.user_with_session("v@example.com").await;
    let requests = [
        app.client.delete(format!("{}/user", app.public)),
        app.client
            .delete(format!("{}/user", app.public))
            .bearer_auth("not-a-jwt"),
        app.client
            .delete(format!("{}/user", app.public))
            .bearer_auth(format!("{}x", victim.token)),
        app.client
            .delete(format!("{}/user", app.public))
            .header("authorization", format!("Basic {}", victim.token)),
    ];
    for req in requests {
        let res = req.fetch().await;
        assert_eq!(
            header(res.headers(), "www-authenticate").as_deref(),
            Some("Bearer")
        );
        assert_error(res, 401);
    }
    assert_eq!(app.rows_of_user(&victim.user_id), 1 + 1 + 1);
}

async fn a_database_failure_is_500_and_changes_nothing(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let victim = app.user_with_session("v@example.com").await;
    let (install, remove) = if app.db.is_postgres() {
        (
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit store down'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION refuse_audit();",
            "DROP TRIGGER refuse_audit ON audit_logs; DROP FUNCTION refuse_audit();",
        )
    } else {
        (
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_logs BEGIN SELECT RAISE(ABORT, 'audit store down'); END;",
            "DROP TRIGGER refuse_audit;",
        )
    };
    app.db.exec(install);

    let res = app.delete_user(&victim.token).await;
    assert_eq!(res.status(), 500);
    let body = res.text();
    assert_eq!(
        body, r#"{"code":500,"message":"Internal Server Error"}"#,
        "no internals leak"
    );

    // Atomic: the user, the email and the session are all still there; the token still works.
    assert_eq!(app.rows_of_user(&victim.user_id), 3);
    assert_eq!(app.db.count("webhook_outbox", "1=1"), 0);
    assert_eq!(app.get_me(&victim.token).await.status(), 200);

    app.db.exec(remove);
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    assert_eq!(app.rows_of_user(&victim.user_id), 0);
}

async fn sixteen_parallel_deletes_with_one_token(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let victim = app.user_with_session("race@example.com").await;
    let attempts = (0..16).map(|_| app.delete_user(&victim.token));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(app.db.count("audit_logs", "1=1"), 1);
    assert_eq!(app.db.count("webhook_outbox", "1=1"), 1);
}

async fn two_sessions_of_one_user_race(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let a = app.user_with_session("two@example.com").await;
    let b = app.login(&a.user_id).await;
    let (ra, rb) =
        futures_util::future::join(app.delete_user(&a.token), app.delete_user(&b.token)).await;
    let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 401]);
    assert_eq!(app.db.count("webhook_outbox", "1=1"), 1);
}

async fn disabled_deletion_is_404_and_deletes_nothing(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(json!({"account": {"allow_deletion": false}}))
        .start()
        .await;
    let victim = app.user_with_session("keep@example.com").await;
    assert_error(app.delete_user(&victim.token).await, 404);
    assert_eq!(app.rows_of_user(&victim.user_id), 3);
    let config: Value = app
        .get_json(format!("{}/.well-known/config", app.public))
        .await;
    assert_eq!(
        config,
        json!({"account": {"allow_deletion": false, "allow_signup": true, "deletion_grace_period": null}, "session": {"lifespan": "12h"}})
    );
}

async fn an_old_session_gets_the_step_up_challenge(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(json!({"account": {"deletion": {"max_session_age": "5m"}}}))
        .start()
        .await;
    let old = app.user_with_session("old@example.com").await;
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    app.db.exec(&format!(
        "UPDATE sessions SET created_at = '{hour_ago}' WHERE id = '{}'",
        old.session_id
    ));
    let res = app.delete_user(&old.token).await;
    assert_eq!(
        header(res.headers(), "www-authenticate").as_deref(),
        Some("Bearer error=\"insufficient_user_authentication\", error_description=\"A more recent authentication is required\", max_age=\"300\"")
    );
    assert_error(res, 401);
    assert_eq!(app.rows_of_user(&old.user_id), 3, "nothing deleted");

    // Signing in again (a fresh session) satisfies it.
    let fresh = app.login(&old.user_id).await;
    assert_eq!(app.delete_user(&fresh.token).await.status(), 204);
}

async fn masked_email_in_the_audit_log(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(json!({"audit_log": {"mask_email": true}}))
        .start()
        .await;
    let victim = app.user_with_session("jane@example.com").await;
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    let logs = audit_logs(&app, &victim.user_id).await;
    assert_eq!(logs[0]["actor_email"], "j***@example.com");
}

async fn me_users_and_logout(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let me = app.user_with_session("me@example.com").await;
    let other = app.create_user("other@example.com").await;

    let body: Value = app.get_me(&me.token).await.json();
    assert_eq!(body, json!({"id": me.user_id}));

    let own = app
        .client
        .get(format!("{}/users/{}", app.public, me.user_id))
        .bearer_auth(&me.token)
        .fetch()
        .await;
    assert_eq!(own.status(), 200);
    let own: Value = own.json();
    assert_eq!(own["id"], me.user_id.as_str());
    assert_eq!(own["email"], "me@example.com");
    assert_eq!(own["emails"][0]["is_primary"], true);

    let theirs = app
        .client
        .get(format!("{}/users/{other}", app.public))
        .bearer_auth(&me.token)
        .fetch()
        .await;
    assert_error(theirs, 403);

    let logout = app
        .client
        .post(format!("{}/logout", app.public))
        .bearer_auth(&me.token)
        .fetch()
        .await;
    assert_eq!(logout.status(), 204);
    assert!(logout.headers().get("set-cookie").is_some());
    assert_error(app.get_me(&me.token).await, 401);
    assert_eq!(
        app.db.count("users", &format!("id = '{}'", me.user_id)),
        1,
        "logout keeps the user"
    );
}

/// The event a deletion leaves says exactly what the user was, on either backend (Postgres
/// builds it in SQL, in the deletion's single statement): every address with its id, flags and
/// times, as the admin API showed them (times in RFC 3339).
async fn the_event_describes_the_user_as_it_was(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let created: Value = app
        .client
        .post(format!("{}/users", app.admin))
        .json(&json!({"emails": [
            {"address": "first@example.com", "is_primary": true, "is_verified": true},
            {"address": "second@example.com"}
        ]}))
        .fetch()
        .await
        .expect_status(201)
        .json();
    let id = created["id"].str().to_owned();
    // Times the deletion could not make up: each address's as stored, set apart.
    let times = [
        (
            "first@example.com",
            "2020-01-02T03:04:05.123456Z",
            "2021-02-03T04:05:06.654321Z",
        ),
        (
            "second@example.com",
            "2022-03-04T05:06:07.000001Z",
            "2023-04-05T06:07:08.100000Z",
        ),
    ];
    for (address, created_at, updated_at) in times {
        app.db.exec(&format!(
            "UPDATE emails SET created_at = '{created_at}', updated_at = '{updated_at}' \
             WHERE address = '{address}'"
        ));
    }
    let login = app.login(&id).await;
    app.delete_user(&login.token).await.expect_status(204);
    let events = app.db.events();
    assert_eq!(events.len(), 1);
    let payload = &events[0]["payload"];
    assert_eq!(payload["id"], id.as_str());
    let instant = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.str()).expect("RFC 3339");
    let mut shown: Vec<&Value> = created["emails"]
        .as_array()
        .expect("emails")
        .iter()
        .collect();
    let mut sent: Vec<&Value> = payload["emails"]
        .as_array()
        .expect("emails")
        .iter()
        .collect();
    shown.sort_by_key(|e| e["address"].str().to_owned());
    sent.sort_by_key(|e| e["address"].str().to_owned());
    assert_eq!(shown.len(), sent.len());
    for (a, b) in shown.iter().zip(&sent) {
        for field in ["id", "address", "is_verified", "is_primary"] {
            assert_eq!(a[field], b[field], "{field}");
        }
        // The instants the rows held, in RFC 3339 on either backend.
        let (_, created_at, updated_at) = times
            .iter()
            .find(|(address, _, _)| b["address"] == *address)
            .unwrap_or_else(|| panic!("an address the user did not have: {b}"));
        let expected = |t: &str| chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339");
        assert_eq!(instant(&b["created_at"]), expected(created_at), "{b}");
        assert_eq!(instant(&b["updated_at"]), expected(updated_at), "{b}");
    }
    assert!(chrono::DateTime::parse_from_rfc3339(payload["deleted_at"].str()).is_ok());
}

on_both_backends!(
    the_event_describes_the_user_as_it_was,
    deletes_the_user_and_everything_of_theirs,
    cookie_carrier_and_configured_cookie_attributes,
    missing_or_bad_tokens_are_401_and_delete_nothing,
    a_database_failure_is_500_and_changes_nothing,
    sixteen_parallel_deletes_with_one_token,
    two_sessions_of_one_user_race,
    disabled_deletion_is_404_and_deletes_nothing,
    an_old_session_gets_the_step_up_challenge,
    masked_email_in_the_audit_log,
    me_users_and_logout,
);

/// On Postgres the worker sends the deletion on connections of its own (no thread hop), opened
/// as the load needs them, at most its share of `pool_size` (4 here, one worker), and
/// encrypted whenever the server offers TLS (`sslmode=prefer`, libpq's default too).
#[actix_rt::test]
async fn on_postgres_the_worker_deletes_on_connections_of_its_own() {
    // The URL as deployments write it (TLS preferred), unlike the other tests' (NO_TLS): the
    // lanes must take TLS when the server offers it.
    let db = TestDb::new(Backend::Postgres);
    let preferred = db.url.replace(&format!("?{NO_TLS}"), "");
    let app = TestApp::builder(Backend::Postgres)
        .config(json!({"database": {"url": preferred}}))
        .on(db)
        .start()
        .await;
    let ours = "datname = current_database() AND application_name = 'hanko-api deletions'";
    assert_eq!(
        app.db.count("pg_stat_activity", ours),
        0,
        "none before the first deletion"
    );

    let one = app.user_with_session("one@example.com").await;
    assert_eq!(app.delete_user(&one.token).await.status(), 204);
    assert_eq!(
        app.db.count("pg_stat_activity", ours),
        1,
        "one deletion, one connection"
    );

    let mut victims = Vec::new();
    for i in 0..24 {
        victims.push(app.user_with_session(&format!("many{i}@example.com")).await);
    }
    let statuses: Vec<u16> =
        futures_util::future::join_all(victims.iter().map(|v| app.delete_user(&v.token)))
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    assert_eq!(app.db.count("users", "1=1"), 0);
    assert_eq!(app.db.count("webhook_outbox", "event = 'user.delete'"), 25);
    let open = app.db.count("pg_stat_activity", ours);
    assert!(
        (1..=4).contains(&open),
        "{open} connections for a share of 4"
    );

    let offers_tls = app
        .db
        .count("pg_settings", "name = 'ssl' AND setting = 'on'")
        == 1;
    // CI's Postgres offers TLS, so there the check below can never be passed over; elsewhere
    // a server without TLS is said, not hidden.
    if !offers_tls {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI=true but this Postgres does not offer TLS: the TLS half of this test cannot run"
        );
        eprintln!("this Postgres does not offer TLS: the TLS half of this test did not run");
    }
    if offers_tls {
        let encrypted = app.db.count(
            "pg_stat_ssl s JOIN pg_stat_activity a USING (pid)",
            "a.datname = current_database() AND a.application_name = 'hanko-api deletions' AND s.ssl",
        );
        assert_eq!(
            encrypted, open,
            "the server offers TLS: every worker connection uses it"
        );
    }
}

#[actix_rt::test]
async fn on_postgres_idle_worker_connections_close_and_reopen() {
    let app = TestApp::builder(Backend::Postgres)
        .config(json!({"database": {"idle_timeout": "1s"}}))
        .start()
        .await;
    let ours = "datname = current_database() AND application_name = 'hanko-api deletions'";
    let one = app.user_with_session("one@example.com").await;
    assert_eq!(app.delete_user(&one.token).await.status(), 204);
    assert_eq!(app.db.count("pg_stat_activity", ours), 1);

    // Closed by the server once idle for 1s (the backend is gone from pg_stat_activity once
    // the connection said goodbye); waiting is bounded, not timed.
    let mut open = 1;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        open = app.db.count("pg_stat_activity", ours);
        if open == 0 {
            break;
        }
    }
    assert_eq!(
        open, 0,
        "the idle worker connection is still open after 10s"
    );

    let two = app.user_with_session("two@example.com").await;
    assert_eq!(
        app.delete_user(&two.token).await.status(),
        204,
        "a closed lane is opened again"
    );
    assert_eq!(app.db.count("pg_stat_activity", ours), 1);
    assert_eq!(app.db.count("users", "1=1"), 0);
}

/// A server on Postgres whose worker has one connection (`pool_size` 1), so deletions sent at
/// once wait for each other's statement; and 24 users with a session each
/// (`v{i}@example.com`).
async fn one_lane_with_victims() -> (TestApp, Vec<Login>) {
    let app = TestApp::builder(Backend::Postgres)
        .config(json!({"database": {"pool_size": 1}}))
        .start()
        .await;
    let mut victims = Vec::new();
    for i in 0..24 {
        victims.push(app.user_with_session(&format!("v{i}@example.com")).await);
    }
    (app, victims)
}

/// Deletions that arrive while the worker's statement is out go together in the next one
/// (the group form of `sql/delete/`). One connection (`pool_size` 1) makes them wait for each other; each
/// keeps its own answer, audit entry (with its request id) and event, and the races inside one
/// statement end as they do between statements.
#[actix_rt::test]
async fn on_postgres_deletions_arriving_together_share_a_statement() {
    let (app, victims) = one_lane_with_victims().await;
    // Two sessions of one user, and a session ended before its token is used.
    let twice = app.user_with_session("twice@example.com").await;
    let twice_again = app.login(&twice.user_id).await;
    let logged_out = app.user_with_session("out@example.com").await;
    app.db.exec(&format!(
        "DELETE FROM sessions WHERE id = '{}'",
        logged_out.session_id
    ));

    let send = |token: &str, request_id: String| {
        app.client
            .delete(format!("{}/user", app.public))
            .bearer_auth(token)
            .header("x-request-id", request_id)
            .fetch()
    };
    let mut requests = vec![
        send(&twice.token, "twice-a".into()),
        send(&logged_out.token, "logged-out".into()),
    ];
    requests.extend(
        victims
            .iter()
            .enumerate()
            .map(|(i, v)| send(&v.token, format!("victim-{i}"))),
    );
    requests.push(send(&twice_again.token, "twice-b".into()));
    let replies = futures_util::future::join_all(requests).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status().as_u16()).collect();

    assert!(statuses[2..26].iter().all(|s| *s == 204), "{statuses:?}");
    assert_eq!(statuses[1], 401, "the ended session: {statuses:?}");
    let mut pair = [statuses[0], statuses[26]];
    pair.sort_unstable();
    assert_eq!(pair, [204, 401], "one user, two sessions: {statuses:?}");
    assert_eq!(
        app.db.count("users", "1=1"),
        1,
        "only the logged-out user is left"
    );

    for (i, victim) in victims.iter().enumerate() {
        let entries = audit_logs(&app, &victim.user_id).await;
        assert_eq!(entries.len(), 1, "victim {i}: {entries:?}");
        assert_eq!(entries[0]["meta_http_request_id"], format!("victim-{i}"));
        assert_eq!(entries[0]["actor_email"], format!("v{i}@example.com"));
    }
    let events = outbox(&app).await;
    assert_eq!(events.len(), 25, "24 victims and one of the pair");
    for (i, victim) in victims.iter().enumerate() {
        let event = events
            .iter()
            .find(|e| e["payload"]["id"] == victim.user_id.as_str())
            .unwrap_or_else(|| panic!("no event for victim {i}"));
        assert_eq!(
            event["payload"]["emails"][0]["address"],
            format!("v{i}@example.com")
        );
    }

    // They did share: fewer statements than deletions (the first went alone, the others
    // waited for it).
    let metrics = app
        .client
        .get(format!("{}/metrics", app.admin))
        .fetch()
        .await
        .expect_status(200)
        .text();
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {metrics}"))
    };
    let carried = counter("hanko_deletion_statement_deletions_total ");
    let statements = counter("hanko_deletion_statements_total ");
    assert_eq!(carried, 27, "every deletion went through a statement");
    assert!(
        statements < carried,
        "{statements} statements for {carried} deletions"
    );
}

/// A deletion Postgres refuses inside a shared statement fails alone: the statement changed
/// nothing, each of its deletions is run again by itself, and only the refused one answers 500.
#[actix_rt::test]
async fn on_postgres_a_refused_deletion_in_a_shared_statement_fails_alone() {
    let (app, victims) = one_lane_with_victims().await;
    let bad = 12;
    // The refusals are counted in a sequence, which no rollback takes back.
    app.db.exec(&format!(
        "CREATE SEQUENCE refusals;
         CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN
           IF NEW.actor_user_id = '{}' THEN PERFORM nextval('refusals'); RAISE EXCEPTION 'refused'; END IF;
           RETURN NEW; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER refuse_one BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION refuse_one();",
        victims[bad].user_id
    ));
    let statuses: Vec<u16> =
        futures_util::future::join_all(victims.iter().map(|v| app.delete_user(&v.token)))
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
    for (i, status) in statuses.iter().enumerate() {
        assert_eq!(
            *status,
            if i == bad { 500 } else { 204 },
            "{i}: {statuses:?}"
        );
    }
    assert_eq!(
        app.rows_of_user(&victims[bad].user_id),
        3,
        "nothing of it deleted"
    );
    assert_eq!(app.db.count("users", "1=1"), 1);
    assert_eq!(app.db.count("webhook_outbox", "1=1"), 23);
    assert_eq!(
        app.db.count("refusals", "is_called AND last_value >= 2"),
        1,
        "refused twice: in the shared statement, then alone"
    );
}

/// A held user asked for by several requests in one statement: the first schedules the deletion
/// (204, as for anyone) and ends every session; the others find their session gone (401), as
/// they would one after the other. Nothing tells any of them of the hold, and the deletions
/// around them go through.
#[actix_rt::test]
async fn on_postgres_a_held_user_asked_four_times_in_a_group_is_scheduled_once() {
    let (app, victims) = one_lane_with_victims().await;
    let held = app.user_with_session("held@example.com").await;
    let mut tokens = vec![held.token.clone()];
    for _ in 0..3 {
        tokens.push(app.login(&held.user_id).await.token);
    }
    app.client
        .put(format!("{}/users/{}/hold", app.admin, held.user_id))
        .json(&json!({"hold": true, "reason": "litigation"}))
        .fetch()
        .await
        .expect_status(200);
    // Victims around the held user's four requests, all at once.
    let mut order: Vec<&str> = victims[..12].iter().map(|v| v.token.as_str()).collect();
    order.extend(tokens.iter().map(String::as_str));
    order.extend(victims[12..].iter().map(|v| v.token.as_str()));
    let statuses: Vec<u16> =
        futures_util::future::join_all(order.iter().map(|token| app.delete_user(token)))
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
    let mut held_statuses = statuses[12..16].to_vec();
    held_statuses.sort_unstable();
    assert_eq!(held_statuses, [204, 401, 401, 401], "{statuses:?}");
    assert!(
        statuses[..12]
            .iter()
            .chain(&statuses[16..])
            .all(|s| *s == 204),
        "{statuses:?}"
    );
    assert_eq!(
        app.rows_of_user(&held.user_id),
        2,
        "the user and the address are kept, the four sessions gone"
    );
    let user: Value = app
        .get_json(format!("{}/users/{}", app.admin, held.user_id))
        .await;
    assert_eq!(user["deletion"]["hold"], true, "{user}");
    assert!(user["deletion"]["purge_after"].is_string(), "{user}");
    let scheduled = app
        .db
        .events()
        .iter()
        .filter(|e| e["event"] == "user.delete.scheduled" && e["payload"]["id"] == held.user_id)
        .count();
    assert_eq!(scheduled, 1);
    let metrics = app.get_text(format!("{}/metrics", app.admin)).await;
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {metrics}"))
    };
    assert!(
        counter("hanko_deletion_statements_total ")
            < counter("hanko_deletion_statement_deletions_total "),
        "they shared statements: {metrics}"
    );
}

/// A deletion whose user's row is locked elsewhere (a long operator transaction, a hold, a
/// purge) holds up no other deletion: its lane gives up on the lock quickly and the pool runs
/// it, waiting there. With one user's row locked for 4 s and 40 other deletions sent
/// meanwhile on a small pool, each of the 40 answers 204 in well under a second.
#[actix_rt::test]
async fn on_postgres_a_locked_user_holds_up_no_other_deletion() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = TestApp::builder(Backend::Postgres)
        .config(json!({"database": {"pool_size": 2}}))
        .start()
        .await;
    let locked = app.user_with_session("locked@example.com").await;
    let mut others = Vec::new();
    for i in 0..40 {
        others.push(app.user_with_session(&format!("o{i}@example.com")).await);
    }
    let (url, id) = (app.db.url.clone(), locked.user_id.clone());
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut conn = diesel::PgConnection::establish(&url).expect("connect");
        conn.batch_execute(&format!(
            "BEGIN; SELECT id FROM users WHERE id = '{id}' FOR UPDATE;"
        ))
        .expect("lock the row");
        locked_tx.send(()).expect("tell the test");
        std::thread::sleep(std::time::Duration::from_secs(4));
        // Taken before the COMMIT is sent: the waiting deletion may answer before this thread
        // hears back from its own COMMIT, never before the COMMIT was sent.
        let releasing = std::time::Instant::now();
        conn.batch_execute("COMMIT").expect("release");
        releasing
    });
    locked_rx.recv().expect("the row is locked");
    let timed = |token: String| {
        let api = app.api.clone();
        async move {
            let started = std::time::Instant::now();
            let reply = api.delete_user(&token).await;
            (
                reply.status().as_u16(),
                started.elapsed(),
                std::time::Instant::now(),
            )
        }
    };
    // All at once, the locked user's among them: it shares a statement with others.
    let mut tokens: Vec<String> = others.iter().map(|o| o.token.clone()).collect();
    tokens.insert(5, locked.token.clone());
    let mut answers = futures_util::future::join_all(tokens.into_iter().map(timed)).await;
    let (status, _, answered_at) = answers.remove(5);
    let slowest = answers
        .iter()
        .map(|(_, took, _)| *took)
        .max()
        .expect("forty answers");
    println!("40 deletions beside a locked row: slowest {slowest:?}");
    for (i, (status, took, _)) in answers.iter().enumerate() {
        assert_eq!(*status, 204, "{i}");
        // The row stays locked for 4 s: a deletion that waited for it would take about that
        // long; one that did not is far below, even on a loaded machine.
        assert!(
            *took < std::time::Duration::from_secs(3),
            "deletion {i} took {took:?} beside a row locked for 4 s"
        );
    }
    let released_at = holder.join().expect("the lock holder");
    match status {
        204 => {
            assert!(
                answered_at >= released_at,
                "answered only once the lock was being released"
            );
            assert_eq!(app.rows_of_user(&locked.user_id), 0);
        }
        500 | 503 => assert_eq!(app.rows_of_user(&locked.user_id), 3, "nothing changed"),
        other => panic!("the locked user's deletion answered {other}"),
    }
    assert_eq!(app.db.count("users", "1=1"), i64::from(status != 204));
}

mod last_used {
    use crate::helpers::*;
    use crate::on_both_backends;

    async fn sessions(app: &TestApp, user_id: &str) -> Vec<serde_json::Value> {
        app.get_json(format!("{}/users/{user_id}/sessions", app.admin))
            .await
    }

    async fn last_used_of(app: &TestApp, user_id: &str) -> chrono::DateTime<chrono::Utc> {
        let list = sessions(app, user_id).await;
        let text = list[0]["last_used"].str().to_owned();
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn set_last_used(
        app: &TestApp,
        session_id: &str,
        ago: chrono::Duration,
    ) -> chrono::DateTime<chrono::Utc> {
        let at = chrono::Utc::now() - ago;
        let text = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        app.db.exec(&format!(
            "UPDATE sessions SET last_used = '{text}' WHERE id = '{session_id}'"
        ));
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or(at)
    }

    async fn refreshed_at_most_once_a_minute(backend: Backend) {
        let app = TestApp::builder(backend).start().await;
        let login = app.user_with_session("touch@example.com").await;
        // Stale by two minutes: the next requests refresh it (once, in the background).
        let stale = set_last_used(&app, &login.session_id, chrono::Duration::minutes(2));
        for _ in 0..5 {
            assert_eq!(app.get_me(&login.token).await.status(), 200);
        }
        let mut refreshed = stale;
        for _ in 0..60 {
            refreshed = last_used_of(&app, &login.user_id).await;
            if refreshed > stale {
                break;
            }
            actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            refreshed > chrono::Utc::now() - chrono::Duration::seconds(10),
            "refreshed: {refreshed}"
        );

        // Used 30 seconds ago: requests do not write it again. A witness, stale, used after
        // them, is written by a flush that would carry any note taken before it.
        let recent = set_last_used(&app, &login.session_id, chrono::Duration::seconds(30));
        for _ in 0..5 {
            assert_eq!(app.get_me(&login.token).await.status(), 200);
        }
        let witness = app.user_with_session("witness@example.com").await;
        let witness_stale = set_last_used(&app, &witness.session_id, chrono::Duration::minutes(2));
        assert_eq!(app.get_me(&witness.token).await.status(), 200);
        let mut flushed = false;
        for _ in 0..100 {
            if last_used_of(&app, &witness.user_id).await > witness_stale {
                flushed = true;
                break;
            }
            actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(flushed, "the witness's use was not flushed within 10 s");
        assert_eq!(
            last_used_of(&app, &login.user_id).await,
            recent,
            "not rewritten within a minute"
        );
    }

    on_both_backends!(refreshed_at_most_once_a_minute);
}
