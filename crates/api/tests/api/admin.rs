//! The admin API: every endpoint, every error answer, the API key guard, metrics.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

async fn send(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = app.client.request(method, format!("{}{path}", app.admin));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.fetch().await
}

async fn raw_post(app: &TestApp, path: &str, body: &'static str) -> Reply {
    app.client
        .post(format!("{}{path}", app.admin))
        .header("content-type", "application/json")
        .body(body)
        .fetch()
        .await
}

/// Ann, with a primary and a second address; returns her id.
async fn create_ann(app: &TestApp) -> String {
    let created = send(
        app,
        "POST",
        "/users",
        Some(json!({"emails": [
            {"address": "Ann@Example.com", "is_primary": true, "is_verified": true},
            {"address": "ann.work@example.com"}
        ]})),
    )
    .await;
    assert_eq!(created.status(), 201);
    let user: Value = created.json();
    let id = user["id"].str().to_owned();
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["emails"].as_array().map(Vec::len), Some(2));
    assert!(chrono::DateTime::parse_from_rfc3339(user["created_at"].str()).is_ok());
    id
}

async fn creating_users_validates_every_field(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    create_ann(&app).await;
    // Validation: 400 for bad JSON, unknown fields, non-addresses, two primaries; 409 if taken.
    for (name, body, status) in [
        ("not JSON", "{", 400),
        ("unknown field", r#"{"emails": [], "admin": true}"#, 400),
        (
            "unknown email field",
            r#"{"emails": [{"address": "x@y.z", "role": "admin"}]}"#,
            400,
        ),
        (
            "not an address",
            r#"{"emails": [{"address": "not-an-email"}]}"#,
            400,
        ),
        ("wrong type", r#"{"emails": "a@b.c"}"#, 400),
        ("an array of the fields, not an object", "[[]]", 400),
        (
            "two primaries",
            r#"{"emails": [{"address": "p1@x.io", "is_primary": true}, {"address": "p2@x.io", "is_primary": true}]}"#,
            400,
        ),
        (
            "taken, other case",
            r#"{"emails": [{"address": "ANN@example.com"}]}"#,
            409,
        ),
        (
            "twice in one request",
            r#"{"emails": [{"address": "d@x.io"}, {"address": "D@x.io"}]}"#,
            409,
        ),
    ] {
        let res = raw_post(&app, "/users", body).await;
        assert_eq!(res.status().as_u16(), status, "{name}");
        assert_error(res, status);
    }
}

async fn listing_and_reading_users(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let id = create_ann(&app).await;
    for i in 0..3 {
        send(
            &app,
            "POST",
            "/users",
            Some(json!({"emails": [{"address": format!("u{i}@example.com")}]})),
        )
        .await;
    }
    let page = send(&app, "GET", "/users?page=2&per_page=3", None).await;
    assert_eq!(
        header(page.headers(), "x-total-count").as_deref(),
        Some("4")
    );
    let page: Vec<Value> = page.json();
    assert_eq!(page.len(), 1);
    let by_email: Vec<Value> = send(&app, "GET", "/users?email=ANN.WORK@example.com", None)
        .await
        .json();
    assert_eq!(by_email.len(), 1);
    assert_eq!(by_email[0]["id"], id.as_str());
    assert_error(send(&app, "GET", "/users?page=abc", None).await, 400);

    assert_eq!(
        send(&app, "GET", &format!("/users/{id}"), None)
            .await
            .status(),
        200
    );
    assert_error(
        send(
            &app,
            "GET",
            &format!("/users/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await,
        404,
    );
    assert_error(send(&app, "GET", "/users/not-a-uuid", None).await, 400);
}

async fn deleting_a_user_leaves_its_audit_entry_and_event(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let id = create_ann(&app).await;
    let login = app.login(&id).await;
    let deleted = send(&app, "DELETE", &format!("/users/{id}"), None).await;
    assert_eq!(deleted.status(), 204);
    assert_error(app.get_me(&login.token).await, 401);
    assert_eq!(app.rows_of_user(&id), 0);
    assert_error(
        send(&app, "DELETE", &format!("/users/{id}"), None).await,
        404,
    );
    assert_error(send(&app, "DELETE", "/users/42", None).await, 400);
    let logs: Vec<Value> = send(
        &app,
        "GET",
        &format!("/audit_logs?type=user_deleted&actor_user_id={id}"),
        None,
    )
    .await
    .json();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["details"], json!({"by": "admin"}));
    assert_error(
        send(&app, "GET", "/audit_logs?actor_user_id=nope", None).await,
        400,
    );
    let events = app.db.events();
    assert_eq!(
        events.len(),
        1,
        "the admin deletion left its event: {events:?}"
    );
    assert_eq!(events[0]["event"], "user.delete");
    assert_eq!(events[0]["payload"]["id"], id.as_str());
    assert_error(
        send(&app, "GET", "/webhooks/deliveries?status=lost", None).await,
        400,
    );
}

async fn sessions_endpoints(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let id = app.create_user("s@example.com").await;
    let res = send(
        &app,
        "POST",
        "/sessions",
        Some(json!({"user_id": id, "user_agent": "cli", "ip_address": "10.0.0.1"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let issued: Value = res.json();
    let token = issued["session_token"].str().to_owned();
    let session_id = issued["session_id"].str().to_owned();
    assert!(chrono::DateTime::parse_from_rfc3339(issued["expires_at"].str()).is_ok());
    assert_eq!(app.get_me(&token).await.status(), 200);

    assert_error(
        send(
            &app,
            "POST",
            "/sessions",
            Some(json!({"user_id": uuid::Uuid::new_v4()})),
        )
        .await,
        404,
    );
    assert_error(
        send(&app, "POST", "/sessions", Some(json!({"user_id": "zzz"}))).await,
        400,
    );
    assert_error(raw_post(&app, "/sessions", "[]").await, 400);

    let sessions: Vec<Value> = send(&app, "GET", &format!("/users/{id}/sessions"), None)
        .await
        .json();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], session_id.as_str());
    assert_eq!(sessions[0]["user_agent"], "cli");
    assert_error(
        send(
            &app,
            "GET",
            &format!("/users/{}/sessions", uuid::Uuid::new_v4()),
            None,
        )
        .await,
        404,
    );

    let path = format!("/users/{id}/sessions/{session_id}");
    assert_eq!(send(&app, "DELETE", &path, None).await.status(), 204);
    assert_error(app.get_me(&token).await, 401);
    assert_error(send(&app, "DELETE", &path, None).await, 404);
    assert_error(
        send(&app, "DELETE", &format!("/users/{id}/sessions/xyz"), None).await,
        400,
    );
}

async fn keys_and_metrics_endpoints(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let keys: Vec<Value> = send(&app, "GET", "/jwks", None).await.json();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["signing"], true);
    let rotated = send(&app, "POST", "/jwks/rotate", None).await;
    assert_eq!(rotated.status(), 201);
    let kid = rotated.json::<Value>()["kid"].str().to_owned();
    let keys: Vec<Value> = send(&app, "GET", "/jwks", None).await.json();
    assert_eq!(keys.len(), 2);
    let signing: Vec<&Value> = keys.iter().filter(|k| k["signing"] == true).collect();
    assert_eq!(signing.len(), 1);
    assert_eq!(signing[0]["kid"], kid.as_str());

    let scrape = |app: &TestApp| {
        let url = format!("{}/metrics", app.admin);
        let client = app.client.clone();
        async move { client.get(url).fetch().await.text() }
    };
    let before = scrape(&app).await;
    assert!(
        before.contains("hanko_user_deletions_total{by=\"user\"} 0"),
        "{before}"
    );
    assert!(before.contains("hanko_db_pool_connections{state=\"max\"} 4"));
    assert!(before.contains("hanko_webhook_outbox_events{status=\"pending\"} 0"));

    let login = app.user_with_session("m@example.com").await;
    assert_error(app.get_me("not.a.token").await, 401);
    assert_error(app.get_me("").await, 401);
    assert_eq!(app.delete_user(&login.token).await.status(), 204);
    assert_error(app.delete_user(&login.token).await, 401);

    let after = scrape(&app).await;
    for line in [
        "hanko_user_deletions_total{by=\"user\"} 1",
        "hanko_token_rejections_total{reason=\"malformed\"} 1",
        "hanko_token_rejections_total{reason=\"missing\"} 1",
        "hanko_token_rejections_total{reason=\"session\"} 1",
        "hanko_http_requests_total{listener=\"public\",route=\"/user\",status=\"204\"} 1",
        "hanko_http_requests_total{listener=\"public\",route=\"/user\",status=\"401\"} 1",
        "hanko_http_requests_total{listener=\"public\",route=\"/me\",status=\"401\"} 2",
        "hanko_http_request_duration_seconds_count{listener=\"public\",route=\"/user\",status=\"204\"} 1",
    ] {
        assert!(after.contains(line), "missing {line} in\n{after}");
    }
}

/// The api key guards every operation the admin listener mounts: the list is the listener's
/// own OpenAPI document (which `api_description` proves is exactly what is mounted), so a
/// route added tomorrow is guarded or this fails. The guard's exemptions (`/health/`, the
/// console's files) are prefixes: paths that only look like them reach nothing.
async fn the_api_key_guards_every_admin_endpoint(backend: Backend) {
    let key = "an-admin-api-key-0123456789-abcdef";
    let app = TestApp::builder(backend)
        .config(json!({"server": {"admin": {"api_key": key}}}))
        .start()
        .await;
    let id = uuid::Uuid::new_v4();
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.admin))
        .bearer_auth(key)
        .fetch()
        .await
        .expect_status(200)
        .json();
    let mut endpoints: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths in the admin document: {doc}"))
        .iter()
        .filter(|(path, _)| !path.starts_with("/health/") && !path.starts_with("/console"))
        .flat_map(|(path, item)| {
            let concrete = path
                .replace("{id}", &id.to_string())
                .replace("{session_id}", &id.to_string());
            item.as_object()
                .unwrap_or_else(|| panic!("{path}: not a path item"))
                .keys()
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), concrete.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    endpoints.push(("GET".to_owned(), "/openapi.json".to_owned()));
    endpoints.sort();
    endpoints.dedup();
    for must in [
        "/users/{id}/hold",
        "/users/{id}/restore",
        "/users/{id}/export",
        "/metrics",
    ] {
        let must = must.replace("{id}", &id.to_string());
        assert!(
            endpoints.iter().any(|(_, p)| *p == must),
            "{must} is not in the admin document: {endpoints:?}"
        );
    }
    for (method, path) in &endpoints {
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let url = format!("{}{path}", app.admin);
        for auth in [
            None,
            Some("Bearer wrong-key-0123456789abc"),
            Some(key),
            Some("Bearer an-admin-api-key-012345678"),
        ] {
            let mut req = app.client.request(m.clone(), &url);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let res = req.fetch().await;
            assert_eq!(res.status(), 401, "{method} {path} with {auth:?}");
            assert!(
                header(res.headers(), "x-request-id").is_some(),
                "{method} {path}: a refusal carries X-Request-Id too"
            );
            assert_error(res, 401);
        }
        let res = app
            .client
            .request(m, &url)
            .header("authorization", format!("Bearer {key}"))
            .json(&json!({"emails": [], "user_id": id}))
            .fetch()
            .await;
        assert_ne!(res.status(), 401, "{method} {path} with the key");
        assert!(
            res.status().as_u16() < 500,
            "{method} {path}: {}",
            res.status()
        );
    }
    for path in ["/health/alive", "/health/ready"] {
        let res = app.client.get(format!("{}{path}", app.admin)).fetch().await;
        assert_eq!(res.status(), 200, "{path} is open to probes");
    }
    let metrics = app
        .client
        .get(format!("{}/metrics", app.admin))
        .bearer_auth(key)
        .fetch()
        .await
        .expect_status(200)
        .text();
    let refused = endpoints.len() * 4;
    assert!(
        metrics.contains(&format!("hanko_admin_auth_failures_total {refused}\n")),
        "every refused attempt counted: {metrics}"
    );
    assert!(
        metrics.contains("hanko_http_requests_total{listener=\"admin\",route=\"/jwks/rotate\",status=\"401\"} 4\n"),
        "refusals reach the request metrics: {metrics}"
    );
    // Paths that only look like an exemption, sent as written (an HTTP client would resolve
    // the dots): refused or routed nowhere, never answered.
    let address = app.admin.trim_start_matches("http://").to_owned();
    for path in [
        "/consoleX",
        "/console/../users",
        "/console/%2e%2e/users",
        "/health/../users",
        "/health/%2e%2e/users",
        "/health/..%2fusers",
        "/healthz/../users",
    ] {
        let status = raw_get_status(&address, path);
        assert!(
            status == 401 || status == 404,
            "GET {path} without the key answered {status}"
        );
    }
}

/// Without an api key (loopback only), nothing a browser page could send gets through: DNS
/// rebinding (a foreign `Host`), a cross-origin `fetch` or form (`Origin`, `Sec-Fetch-Site`).
/// `POST /jwks/rotate?staged=true`: the new key is published at once and signs only after
/// `publish_ahead` plus one refresh interval; the old key signs meanwhile. A bad query is a 400.
async fn a_staged_rotation_publishes_before_it_signs(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(json!({"secrets": {
            "jwks_max_age": "1s",
            "refresh_interval": "1s",
            "rotation": {"publish_ahead": "2s"}
        }}))
        .start()
        .await;
    let old: Vec<Value> = send(&app, "GET", "/jwks", None).await.json();
    let old_kid = old[0]["kid"].str().to_owned();
    let asked = chrono::Utc::now();
    let rotated: Value = send(&app, "POST", "/jwks/rotate?staged=true", None)
        .await
        .expect_status(201)
        .json();
    let kid = rotated["kid"].str().to_owned();
    let not_before: chrono::DateTime<chrono::Utc> =
        rotated["not_before"].str().parse().expect("a time");
    let lead = (not_before - asked).num_milliseconds();
    assert!(
        (3000..=4000).contains(&lead),
        "signs 2s + 1s after: {lead} ms"
    );
    let keys: Vec<Value> = send(&app, "GET", "/jwks", None).await.json();
    let new = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("listed");
    assert_eq!(
        (new["published"].clone(), new["signing"].clone()),
        (json!(true), json!(false))
    );
    let jwks: Value = app
        .get_json(format!("{}/.well-known/jwks.json", app.public))
        .await;
    assert!(jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .any(|k| k["kid"] == kid.as_str()));
    let early = app.user_with_session("early@example.com").await;
    assert_eq!(
        kid_of(&early.token),
        old_kid,
        "the old key signs until not_before"
    );

    actix_rt::time::sleep(std::time::Duration::from_millis(3600)).await;
    let late = app.user_with_session("late@example.com").await;
    assert_eq!(
        kid_of(&late.token),
        kid,
        "the new key signs after not_before"
    );
    app.get_me(&early.token).await.expect_status(200);

    for bad in ["?staged=maybe", "?staged=true&force=1", "?stage=20m"] {
        assert_error(
            send(&app, "POST", &format!("/jwks/rotate{bad}"), None).await,
            400,
        );
    }
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    header.kid.expect("a kid")
}

async fn without_a_key_the_admin_api_refuses_browser_requests(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let url = format!("{}/jwks/rotate", app.admin);
    for (name, headers) in [
        ("rebinding", vec![("host", "attacker.example:8001")]),
        ("origin", vec![("origin", "https://attacker.example")]),
        ("null origin", vec![("origin", "null")]),
        ("cross-site", vec![("sec-fetch-site", "cross-site")]),
    ] {
        let mut req = app.client.post(&url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let res = req.fetch().await;
        assert_eq!(res.status(), 403, "{name}: {res}");
        assert!(header(res.headers(), "x-request-id").is_some(), "{name}");
        assert_error(res, 403);
    }
    let keys: Vec<Value> = send(&app, "GET", "/jwks", None).await.json();
    assert_eq!(keys.len(), 1, "no refused request rotated a key");
    let port = app.admin.rsplit(':').next().expect("a port");
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let res = app
            .client
            .get(format!("{}/users", app.admin))
            .header("host", host.as_str())
            .fetch()
            .await;
        assert_eq!(res.status(), 200, "Host: {host}: {res}");
    }
}

/// `DELETE /users/{id}/sessions`: every session ends (each token 401 at once), each announced
/// as `session.delete` with `reason: admin`, and the operator's act audited; an unknown user 404.
async fn revoking_every_session_of_a_user(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let first = app.user_with_session("revoked@example.com").await;
    let others = [
        app.login(&first.user_id).await,
        app.login(&first.user_id).await,
    ];
    let bystander = app.user_with_session("bystander@example.com").await;
    send(
        &app,
        "DELETE",
        &format!("/users/{}/sessions", first.user_id),
        None,
    )
    .await
    .expect_status(204);
    for token in [&first.token, &others[0].token, &others[1].token] {
        assert_error(app.get_me(token).await, 401);
    }
    app.get_me(&bystander.token).await.expect_status(200);
    let events: Vec<Value> = app
        .db
        .events()
        .into_iter()
        .filter(|e| e["event"] == "session.delete")
        .collect();
    assert_eq!(
        events.len(),
        3,
        "one session.delete per session: {events:?}"
    );
    assert!(events
        .iter()
        .all(|e| e["payload"]["reason"] == "admin"
            && e["payload"]["user_id"] == first.user_id.as_str()));
    let audited: Vec<Value> = app
        .get_json(format!(
            "{}/audit_logs?type=user_sessions_revoked",
            app.admin
        ))
        .await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["details"], json!({"by": "admin", "sessions": 3}));
    assert_eq!(audited[0]["actor_user_id"], first.user_id.as_str());
    // Again: nothing left to end, still 204.
    send(
        &app,
        "DELETE",
        &format!("/users/{}/sessions", first.user_id),
        None,
    )
    .await
    .expect_status(204);
    assert_error(
        send(
            &app,
            "DELETE",
            &format!("/users/{}/sessions", uuid::Uuid::new_v4()),
            None,
        )
        .await,
        404,
    );
    assert_error(
        send(&app, "DELETE", "/users/not-a-uuid/sessions", None).await,
        400,
    );
}

/// `POST /webhooks/deliveries/retry`: a delivery that died is pending again (attempts 0) and
/// delivered once the hook answers; audited; only `dead` can be asked for.
async fn dead_deliveries_are_retried(backend: Backend) {
    let receiver = crate::receiver::Receiver::start();
    receiver
        .state
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let app = TestApp::builder(backend)
        .config(json!({"webhooks": {
            "hooks": [{"name": "flaky", "url": receiver.url, "events": ["user"]}],
            "initial_backoff": "50ms", "max_attempts": 2, "timeout": "2s"
        }}))
        .start()
        .await;
    let victim = app.user_with_session("retried@example.com").await;
    app.delete_user(&victim.token).await.expect_status(204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let dead = loop {
        let dead: Vec<Value> = app
            .get_json(format!("{}/webhooks/deliveries?status=dead", app.admin))
            .await;
        if !dead.is_empty() || std::time::Instant::now() > deadline {
            break dead;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(dead.len(), 1, "dead after two attempts");
    assert_error(
        send(
            &app,
            "POST",
            "/webhooks/deliveries/retry",
            Some(json!({"status": "pending"})),
        )
        .await,
        400,
    );
    let none: Value = send(
        &app,
        "POST",
        "/webhooks/deliveries/retry",
        Some(json!({"status": "dead", "hook": "another"})),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(none, json!({"retried": 0}), "another hook's: none");
    receiver
        .state
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let retried: Value = send(
        &app,
        "POST",
        "/webhooks/deliveries/retry",
        Some(json!({"status": "dead", "hook": receiver.url, "event_id": dead[0]["event_id"]})),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(
        retried,
        json!({"retried": 1}),
        "named by its configured URL"
    );
    let delivered = receiver
        .wait_for("the retried delivery", |a| {
            a.iter().any(|x| x.status == 200)
        })
        .await;
    assert_eq!(delivered.iter().filter(|a| a.status == 200).count(), 1);
    // The receiver answers before the dispatcher writes the delivery down (group commit).
    wait_until("the retried delivery is recorded", || {
        app.db
            .count("webhook_deliveries", "delivered_at IS NOT NULL")
            == 1
    })
    .await;
    let listed: Vec<Value> = app
        .get_json(format!(
            "{}/webhooks/deliveries?status=delivered",
            app.admin
        ))
        .await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["attempts"], 1, "counted afresh from 0");
    let audited: Vec<Value> = app
        .get_json(format!(
            "{}/audit_logs?type=webhook_deliveries_retried",
            app.admin
        ))
        .await;
    assert_eq!(audited.len(), 2);
}

on_both_backends!(
    revoking_every_session_of_a_user,
    dead_deliveries_are_retried,
    creating_users_validates_every_field,
    listing_and_reading_users,
    deleting_a_user_leaves_its_audit_entry_and_event,
    sessions_endpoints,
    keys_and_metrics_endpoints,
    the_api_key_guards_every_admin_endpoint,
    without_a_key_the_admin_api_refuses_browser_requests,
    a_staged_rotation_publishes_before_it_signs,
);
