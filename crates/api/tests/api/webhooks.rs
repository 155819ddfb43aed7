//! Webhook delivery to a real local receiver.

use crate::helpers::*;
use crate::on_both_backends;
use crate::receiver::Receiver;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

fn hooks(receiver: &Receiver, events: &[&str], max_attempts: u32) -> Value {
    json!({"webhooks": {
        "hooks": [{"url": receiver.url, "events": events}],
        "initial_backoff": "50ms",
        "max_attempts": max_attempts,
        "timeout": "2s"
    }})
}

async fn deliveries(app: &TestApp, status: &str) -> Vec<Value> {
    app.get_json(format!("{}/webhooks/deliveries?status={status}", app.admin))
        .await
}

/// The deliveries with this status, once there is at least one (up to 10 s).
async fn listed_eventually(app: &TestApp, status: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = deliveries(app, status).await;
        if !listed.is_empty() || std::time::Instant::now() > deadline {
            return listed;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Verifies a webhook token with nothing but the public JWKS.
async fn verify_with_jwks(app: &TestApp, token: &str) -> Value {
    let jwks: Value = app
        .get_json(format!("{}/.well-known/jwks.json", app.public))
        .await;
    let header = jsonwebtoken::decode_header(token).unwrap_or_else(|e| panic!("{e}"));
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| {
            keys.iter()
                .find(|k| Some(k["kid"].str()) == header.kid.as_deref())
        })
        .unwrap_or_else(|| panic!("kid not in JWKS"));
    let key = DecodingKey::from_rsa_components(jwk["n"].str(), jwk["e"].str())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut validation = Validation::new(Algorithm::RS256);
    // Webhook tokens have an audience of their own, never the session audience.
    validation.set_audience(&["hanko-webhooks"]);
    validation.sub = Some("hanko webhooks".to_owned());
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("webhook token does not verify: {e}"))
        .claims
}

async fn delivered_after_two_failures_with_a_stable_id(backend: Backend) {
    let receiver = Receiver::start();
    receiver.state.fail_first.store(2, Ordering::SeqCst);
    let app = TestApp::builder(backend)
        .config(hooks(&receiver, &["user.delete"], 8))
        .start()
        .await;
    let victim = app.user_with_session("hook@example.com").await;
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);

    let attempts = receiver
        .wait_for("a successful delivery", |a| {
            a.iter().any(|x| x.status == 200)
        })
        .await;
    assert_eq!(
        attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![500, 500, 200]
    );
    let event_id = attempts[0].webhook_id.clone();
    assert!(uuid::Uuid::parse_str(&event_id).is_ok());
    assert!(
        attempts.iter().all(|a| a.webhook_id == event_id),
        "same Webhook-Id across retries"
    );

    let body = &attempts[2].body;
    assert_eq!(body["event"], "user.delete");
    let claims = verify_with_jwks(&app, body["token"].str()).await;
    assert_eq!(claims["evt"], "user.delete");
    assert_eq!(claims["data"]["id"], victim.user_id.as_str());
    assert_eq!(claims["data"]["emails"][0]["address"], "hook@example.com");
    assert_eq!(claims["exp"].int() - claims["iat"].int(), 300);
    assert_eq!(claims["jti"], event_id.as_str(), "jti is the event id");

    // The delivery stays, marked delivered, listable.
    let delivered = listed_eventually(&app, "delivered").await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["event_id"], event_id.as_str());
    assert_eq!(delivered[0]["attempts"], 3);
    assert!(delivered[0]["delivered_at"].is_string());
    assert!(deliveries(&app, "pending").await.is_empty());
}

/// Waits (up to 20 s) until no delivery is left to attempt: each is delivered or dead. What a
/// receiver has heard by then is all it will hear (every delivery is written with its event).
async fn until_settled(app: &TestApp) {
    let unsettled = "delivered_at IS NULL AND NOT dead";
    for _ in 0..200 {
        if app.db.count("webhook_deliveries", unsettled) == 0 {
            return;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "{} deliveries still to attempt after 20 s",
        app.db.count("webhook_deliveries", unsettled)
    );
}

async fn prefix_subscription_receives_user_delete(backend: Backend) {
    let receiver = Receiver::start();
    let app = TestApp::builder(backend)
        .config(hooks(&receiver, &["user"], 8))
        .start()
        .await;
    let victim = app.user_with_session("prefix@example.com").await;
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    let delivered = receiver.wait_for("delivery", |a| !a.is_empty()).await;
    assert_eq!(delivered[0].body["event"], "user.delete");
}

async fn unsubscribed_events_are_kept_without_deliveries(backend: Backend) {
    let receiver = Receiver::start();
    let app = TestApp::builder(backend)
        .config(hooks(&receiver, &["email.create", "us"], 8))
        .start()
        .await;
    let victim = app.user_with_session("nobody@example.com").await;
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    assert_eq!(
        app.db.count("webhook_outbox", "event = 'user.delete'"),
        1,
        "the event is written"
    );
    // Deliveries are written with their event: none was, so none will ever be attempted.
    assert_eq!(
        app.db.count("webhook_deliveries", "1=1"),
        0,
        "no delivery written"
    );
    until_settled(&app).await;
    assert!(
        deliveries(&app, "pending").await.is_empty(),
        "nothing to deliver"
    );
    let all: Vec<Value> = app
        .get_json(format!("{}/webhooks/deliveries", app.admin))
        .await;
    assert!(all.is_empty(), "no hook wants it: {all:?}");
    assert!(receiver.attempts().is_empty(), "nobody was called");
}

async fn dead_after_max_attempts(backend: Backend) {
    let receiver = Receiver::start();
    receiver.state.failing.store(true, Ordering::SeqCst);
    let app = TestApp::builder(backend)
        .config(hooks(&receiver, &["user.delete"], 3))
        .start()
        .await;
    let victim = app.user_with_session("dead@example.com").await;
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    let dead = listed_eventually(&app, "dead").await;
    assert_eq!(dead.len(), 1, "listed as dead");
    assert_eq!(dead[0]["attempts"], 3);
    assert!(dead[0]["last_error"].str().contains("HTTP 500"));
    assert_eq!(receiver.attempts().len(), 3, "no attempt after the last");
    let metrics = app.get_text(format!("{}/metrics", app.admin)).await;
    assert!(
        metrics.contains("hanko_webhook_outbox_events{status=\"dead\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hanko_webhook_attempts_total{result=\"dead\"} 1"),
        "{metrics}"
    );
}

/// A hook URL may carry credentials; they never reach the deliveries API.
async fn hook_credentials_never_reach_the_deliveries_api(backend: Backend) {
    let receiver = Receiver::start();
    receiver.state.failing.store(true, Ordering::SeqCst);
    let secret_url = receiver
        .url
        .replace("http://", "http://hookuser:hook-pass-s3cret@")
        + "?token=hook-token-s3cret";
    let app = TestApp::builder(backend)
        .config(json!({"webhooks": {
            "hooks": [{"url": secret_url, "events": ["user.delete"]}],
            "initial_backoff": "50ms",
            "max_attempts": 2,
            "timeout": "2s"
        }}))
        .start()
        .await;
    let victim = app.user_with_session("creds@example.com").await;
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    let dead = listed_eventually(&app, "dead").await;
    assert_eq!(dead.len(), 1, "listed as dead");
    let listing = app
        .get_text(format!("{}/webhooks/deliveries", app.admin))
        .await;
    for secret in ["hookuser", "hook-pass-s3cret", "hook-token-s3cret", "/hook"] {
        assert!(!listing.contains(secret), "{secret} in {listing}");
    }
    assert_eq!(dead[0]["hook"], receiver.origin(), "{listing}");
    assert!(
        dead[0]["last_error"].str().contains(receiver.origin()),
        "the hook is still named: {}",
        dead[0]["last_error"]
    );
}

/// Two hooks: one fails three times, then answers; the other always answers. The healthy one
/// hears each event once; the failing one is retried alone and gets it on its fourth attempt.
async fn a_failing_hook_is_retried_alone(backend: Backend) {
    let (flaky, steady) = (Receiver::start(), Receiver::start());
    flaky.state.fail_first.store(3, Ordering::SeqCst);
    let app = TestApp::builder(backend)
        .config(json!({"webhooks": {
            "hooks": [
                {"name": "flaky", "url": flaky.url, "events": ["user.delete"]},
                {"name": "steady", "url": steady.url, "events": ["user.delete"]}
            ],
            "initial_backoff": "50ms",
            "timeout": "2s"
        }}))
        .start()
        .await;
    for email in ["one@example.com", "two@example.com"] {
        let victim = app.user_with_session(email).await;
        assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    }
    let flaky_attempts = flaky
        .wait_for("both events through the flaky hook", |a| {
            a.iter().filter(|x| x.status == 200).count() == 2
        })
        .await;
    // The receiver answers before the dispatcher records the answer: wait for the records.
    until_settled(&app).await;
    let steady_attempts = steady.attempts();
    assert_eq!(
        steady_attempts.len(),
        2,
        "each event once: {steady_attempts:?}"
    );
    assert!(steady_attempts.iter().all(|a| a.status == 200));
    let mut ids: Vec<&str> = steady_attempts
        .iter()
        .map(|a| a.webhook_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2, "two distinct events");
    for id in &ids {
        let statuses: Vec<u16> = flaky_attempts
            .iter()
            .filter(|a| a.webhook_id == *id)
            .map(|a| a.status)
            .collect();
        assert_eq!(statuses, vec![500, 500, 500, 200], "event {id}");
    }
    let listed: Vec<Value> = app
        .get_json(format!(
            "{}/webhooks/deliveries?status=delivered",
            app.admin
        ))
        .await;
    assert_eq!(
        listed.len(),
        4,
        "one delivery per event and hook: {listed:?}"
    );
    for d in &listed {
        let expected = if d["hook"] == "flaky" { 4 } else { 1 };
        assert_eq!(d["attempts"], expected, "{d}");
    }
    let metrics = app.get_text(format!("{}/metrics", app.admin)).await;
    for line in [
        "hanko_webhook_hook_attempts_total{hook=\"flaky\",result=\"failed\"} 6",
        "hanko_webhook_hook_attempts_total{hook=\"flaky\",result=\"delivered\"} 2",
        "hanko_webhook_hook_attempts_total{hook=\"steady\",result=\"delivered\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

/// A session ended by logout or by an operator is announced; the deletion of a user is not
/// announced per session (the user event covers them).
async fn ended_sessions_are_announced(backend: Backend) {
    let receiver = Receiver::start();
    let app = TestApp::builder(backend)
        .config(hooks(&receiver, &["session"], 8))
        .start()
        .await;
    let user = app.user_with_session("sessions@example.com").await;
    let other = app.login(&user.user_id).await;
    app.client
        .post(format!("{}/logout", app.public))
        .bearer_auth(&user.token)
        .fetch()
        .await
        .expect_status(204);
    app.client
        .delete(format!(
            "{}/users/{}/sessions/{}",
            app.admin, user.user_id, other.session_id
        ))
        .fetch()
        .await
        .expect_status(204);
    let third = app.login(&user.user_id).await;
    assert_eq!(app.delete_user(&third.token).await.status(), 204);
    let delivered = receiver
        .wait_for("two session events", |a| a.len() >= 2)
        .await;
    assert_eq!(
        app.db.count("webhook_outbox", "event = 'session.delete'"),
        2,
        "the deletion wrote no session event"
    );
    until_settled(&app).await;
    assert_eq!(
        receiver.attempts().len(),
        2,
        "the deletion adds no session event"
    );
    let mut seen = Vec::new();
    for attempt in &delivered {
        assert_eq!(attempt.body["event"], "session.delete");
        let claims = verify_with_jwks(&app, attempt.body["token"].str()).await;
        assert_eq!(claims["data"]["user_id"], user.user_id.as_str());
        seen.push((
            claims["data"]["id"].str().to_owned(),
            claims["data"]["reason"].str().to_owned(),
        ));
    }
    seen.sort();
    let mut expected = vec![
        (user.session_id.clone(), "logout".to_owned()),
        (other.session_id.clone(), "admin".to_owned()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
}

/// A SET hook: the token verifies with the public JWKS as a `secevent+jwt` with our issuer,
/// the hook's audience, the event id as `jti` and the RISC event; an RFC 8935 error answer
/// is final (no retry).
async fn a_set_refused_by_its_receiver_is_not_retried(backend: Backend) {
    let receiver = Receiver::start();
    *receiver
        .state
        .answer
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some((
        400,
        r#"{"err":"invalid_request","description":"no"}"#.to_owned(),
    ));
    let app = TestApp::builder(backend)
        .config(json!({
            "session": {"issuer": "https://auth.example"},
            "webhooks": {
                "hooks": [{"url": receiver.url, "events": ["user"], "format": "set",
                           "audience": ["https://rp.example"]}],
                "initial_backoff": "50ms",
                "timeout": "2s"
            }
        }))
        .start()
        .await;
    let victim = app.user_with_session("set@example.com").await;
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    let dead = listed_eventually(&app, "dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["attempts"], 1, "refused for good: no retry");
    assert!(
        dead[0]["last_error"].str().contains("invalid_request"),
        "{}",
        dead[0]
    );
    actix_rt::time::sleep(std::time::Duration::from_millis(500)).await;
    let attempts = receiver.attempts();
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert_eq!(attempt.header("content-type"), "application/secevent+jwt");
    assert_eq!(attempt.header("accept"), "application/json");
    let token = attempt.body.str();
    let header = jsonwebtoken::decode_header(token).expect("a JWS header");
    assert_eq!(header.typ.as_deref(), Some("secevent+jwt"));
    let jwks: Value = app
        .get_json(format!("{}/.well-known/jwks.json", app.public))
        .await;
    let jwk = &jwks["keys"][0];
    let key = DecodingKey::from_rsa_components(jwk["n"].str(), jwk["e"].str()).expect("a key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://rp.example"]);
    validation.set_issuer(&["https://auth.example"]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the SET verifies with the JWKS")
        .claims;
    assert_eq!(claims["jti"], dead[0]["event_id"]);
    assert_eq!(
        claims["sub_id"],
        json!({"format": "opaque", "id": victim.user_id})
    );
    let events = claims["events"].as_object().expect("an events object");
    assert_eq!(events.len(), 1);
    assert!(
        events.contains_key("https://schemas.openid.net/secevent/risc/event-type/account-purged")
    );
}

/// OpenID Connect Back-Channel Logout 1.0: every way a session ends reaches the relying party
/// as a logout token it can validate as §2.6 says: a form-encoded `logout_token`, `typ:
/// logout+jwt`, our issuer, its client id as `aud`, `iat`, `exp` two minutes later, a `jti`,
/// `sub`, `sid` for one session (none when the whole user is gone), the back-channel logout
/// event, and no `nonce`. A cancelled deletion ends nothing and is not sent.
async fn backchannel_logout_tokens_for_every_way_a_session_ends(backend: Backend) {
    let receiver = Receiver::start();
    let app = TestApp::builder(backend)
        .config(json!({
            "session": {"issuer": "https://auth.example"},
            "account": {"deletion": {"grace_period": "1h"}},
            "webhooks": {
                "hooks": [{"url": receiver.url, "events": ["user", "session"],
                           "format": "backchannel_logout", "audience": ["rp-client-id"]}],
                "initial_backoff": "50ms",
                "timeout": "2s"
            }
        }))
        .start()
        .await;
    // A logout, an operator ending a session, a scheduled deletion (then cancelled), and an
    // operator's deletion.
    let user = app.user_with_session("bcl@example.com").await;
    let second = app.login(&user.user_id).await;
    app.client
        .post(format!("{}/logout", app.public))
        .bearer_auth(&user.token)
        .fetch()
        .await
        .expect_status(204);
    app.client
        .delete(format!(
            "{}/users/{}/sessions/{}",
            app.admin, user.user_id, second.session_id
        ))
        .fetch()
        .await
        .expect_status(204);
    let third = app.login(&user.user_id).await;
    app.delete_user(&third.token).await.expect_status(204);
    app.client
        .post(format!("{}/users/{}/restore", app.admin, user.user_id))
        .fetch()
        .await
        .expect_status(200);
    app.client
        .delete(format!("{}/users/{}", app.admin, user.user_id))
        .fetch()
        .await
        .expect_status(204);
    let delivered = receiver
        .wait_for("four logout tokens", |a| a.len() >= 4)
        .await;
    until_settled(&app).await;
    assert_eq!(
        receiver.attempts().len(),
        4,
        "the cancelled deletion is not sent"
    );

    let jwks: jsonwebtoken::jwk::JwkSet = app
        .get_json(format!("{}/.well-known/jwks.json", app.public))
        .await;
    let mut sids = Vec::new();
    let mut jtis = std::collections::HashSet::new();
    for attempt in &delivered {
        assert_eq!(
            attempt.header("content-type"),
            "application/x-www-form-urlencoded"
        );
        let token = attempt
            .body
            .str()
            .strip_prefix("logout_token=")
            .unwrap_or_else(|| panic!("not a logout_token form: {:?}", attempt.body));
        let header = jsonwebtoken::decode_header(token).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
        let jwk = jwks
            .find(
                header
                    .kid
                    .as_deref()
                    .expect("a kid in the logout token header"),
            )
            .unwrap_or_else(|| panic!("kid not in the JWKS"));
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["rp-client-id"]);
        validation.set_issuer(&["https://auth.example"]);
        validation.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
        let claims = jsonwebtoken::decode::<Value>(
            token,
            &DecodingKey::from_jwk(jwk).unwrap_or_else(|e| panic!("{e}")),
            &validation,
        )
        .unwrap_or_else(|e| panic!("the logout token verifies: {e}"))
        .claims;
        assert_eq!(claims["aud"], "rp-client-id", "one client id: a string");
        assert_eq!(claims["exp"].int() - claims["iat"].int(), 120);
        assert_eq!(claims["sub"], user.user_id.as_str());
        assert!(claims.get("nonce").is_none(), "{claims}");
        assert_eq!(
            claims["events"],
            json!({"http://schemas.openid.net/event/backchannel-logout": {}})
        );
        assert!(jtis.insert(claims["jti"].str().to_owned()), "jti unique");
        sids.push(claims["sid"].as_str().map(str::to_owned));
    }
    sids.sort();
    let mut expected = vec![
        None,
        None,
        Some(user.session_id.clone()),
        Some(second.session_id.clone()),
    ];
    expected.sort();
    assert_eq!(sids, expected, "sid for a session, none for the whole user");
}

/// A relying party that answers 400 could not use the token: never sent again.
async fn a_logout_token_refused_with_400_is_not_retried(backend: Backend) {
    let receiver = Receiver::start();
    *receiver
        .state
        .answer
        .lock()
        .unwrap_or_else(|e| e.into_inner()) =
        Some((400, r#"{"error":"invalid_request"}"#.to_owned()));
    let app = TestApp::builder(backend)
        .config(json!({
            "session": {"issuer": "https://auth.example"},
            "webhooks": {
                "hooks": [{"url": receiver.url, "events": ["user.delete"],
                           "format": "backchannel_logout", "audience": ["rp"]}],
                "initial_backoff": "50ms",
                "timeout": "2s"
            }
        }))
        .start()
        .await;
    let victim = app.user_with_session("bcl400@example.com").await;
    app.delete_user(&victim.token).await.expect_status(204);
    let dead = listed_eventually(&app, "dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["attempts"], 1, "refused for good: no retry");
    actix_rt::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.attempts().len(), 1);
}

/// A `hanko` webhook token is signed with the session key but can never pass as a session
/// token: its audience is the hook's, and it names no session.
async fn webhook_tokens_never_pass_as_session_tokens(backend: Backend) {
    let receiver = Receiver::start();
    let app = TestApp::builder(backend)
        .config(hooks(&receiver, &["user.delete"], 8))
        .start()
        .await;
    let victim = app.user_with_session("notasession@example.com").await;
    assert_eq!(app.delete_user(&victim.token).await.status(), 204);
    let delivered = receiver.wait_for("a delivery", |a| !a.is_empty()).await;
    let token = delivered[0].body["token"].str();
    assert_error(app.get_me(token).await, 401);
    assert!(
        app.key_manager().verify(token, chrono::Utc::now()).is_err(),
        "our verifier refuses it"
    );
}

on_both_backends!(
    backchannel_logout_tokens_for_every_way_a_session_ends,
    a_logout_token_refused_with_400_is_not_retried,
    a_failing_hook_is_retried_alone,
    ended_sessions_are_announced,
    a_set_refused_by_its_receiver_is_not_retried,
    webhook_tokens_never_pass_as_session_tokens,
    hook_credentials_never_reach_the_deliveries_api,
    delivered_after_two_failures_with_a_stable_id,
    prefix_subscription_receives_user_delete,
    unsubscribed_events_are_kept_without_deliveries,
    dead_after_max_attempts,
);

/// Delivered and dead events older than 30 days may go; pending ones and recent ones stay.
async fn old_finished_events_are_pruned_and_nothing_else(backend: Backend) {
    use domain::ports::Outbox;
    let app = TestApp::builder(backend).config(json!({})).start().await;
    let old = (chrono::Utc::now() - chrono::Duration::days(31))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let recent = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // The pending event waits for a retry a day from now, so the running dispatcher leaves it.
    let later = (chrono::Utc::now() + chrono::Duration::days(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (t, f) = if app.db.is_postgres() {
        ("true", "false")
    } else {
        ("1", "0")
    };
    let rows = [
        ("old delivered", &old, format!("'{old}'"), f),
        ("old dead", &old, "NULL".to_owned(), t),
        ("old pending", &old, "NULL".to_owned(), f),
        ("recent delivered", &recent, format!("'{recent}'"), f),
    ];
    for (name, created, delivered, dead) in &rows {
        let id = uuid::Uuid::new_v4();
        app.db.exec(&format!(
            "INSERT INTO webhook_outbox (id, event, payload, created_at) \
             VALUES ('{id}', 'user.delete', '{{\"name\":\"{name}\"}}', '{created}')"
        ));
        app.db.exec(&format!(
            "INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at, last_error, dead) \
             VALUES ('{id}', 'a-hook', 1, '{later}', {delivered}, NULL, {dead})"
        ));
    }
    let db = persistence::Database::connect(&app.config.database);
    let removed = db
        .prune_outbox(chrono::Utc::now() - chrono::Duration::days(30))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(removed, 2);
    let left: Vec<Value> = app
        .get_json(format!("{}/webhooks/deliveries", app.admin))
        .await;
    let mut names: Vec<String> = left
        .iter()
        .map(|e| e["payload"]["name"].str().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["old pending", "recent delivered"]);
}

/// Events written before deliveries were kept per hook (one state per event) are migrated as
/// pending and delivered to every hook subscribed once the server runs the new version.
async fn pending_events_survive_the_per_hook_migration(backend: Backend) {
    let db = TestDb::new(backend);
    let store = persistence::Database::connect(&test_config(&db.url, json!({})).database);
    store.migrate_up().expect("migrate up");
    // Down past every later migration and the per-hook deliveries: the one-row outbox.
    migrate_down_through(&store, "20261129000001");
    assert_eq!(
        db.count("webhook_outbox", "1=1"),
        0,
        "the one-row outbox is back (its state columns are queried below)"
    );
    let (event, user) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (t, f) = if db.is_postgres() {
        ("true", "false")
    } else {
        ("1", "0")
    };
    let now = chrono::Utc::now().to_rfc3339();
    db.exec(&format!(
        "INSERT INTO webhook_outbox (id, event, payload, created_at, attempts, next_attempt_at, delivered_at, last_error, dead) \
         VALUES ('{event}', 'user.delete', '{{\"id\":\"{user}\",\"emails\":[]}}', '{now}', 2, '{now}', NULL, 'HTTP 500', {f})"
    ));
    db.exec(&format!(
        "INSERT INTO webhook_outbox (id, event, payload, created_at, attempts, next_attempt_at, delivered_at, last_error, dead) \
         VALUES ('{}', 'user.delete', '{{}}', '{now}', 8, '{now}', NULL, 'HTTP 500', {t})",
        uuid::Uuid::new_v4()
    ));
    let receiver = Receiver::start();
    let app = TestApp::builder(backend)
        .on(db)
        .config(hooks(&receiver, &["user.delete"], 8))
        .start()
        .await;
    let delivered = receiver
        .wait_for("the migrated event", |a| !a.is_empty())
        .await;
    assert_eq!(delivered[0].webhook_id, event.to_string());
    let claims = verify_with_jwks(&app, delivered[0].body["token"].str()).await;
    assert_eq!(claims["data"]["id"], user.to_string());
    let done = listed_eventually(&app, "delivered").await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        done[0]["hook"],
        receiver.origin(),
        "fanned out to the hook by its key"
    );
    let dead = deliveries(&app, "dead").await;
    assert_eq!(dead.len(), 1, "the dead event stays dead: {dead:?}");
    actix_rt::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.attempts().len(), 1, "and is not retried");
}

/// Deliveries stored by earlier versions under an unnamed hook's URL with its path (which may
/// be its credential) move to the hook's key, scheme, host and port, and are delivered.
async fn deliveries_under_an_earlier_key_move_to_the_new_one(backend: Backend) {
    let db = TestDb::new(backend);
    let store = persistence::Database::connect(&test_config(&db.url, json!({})).database);
    store.migrate_up().expect("migrate up");
    let receiver = Receiver::start();
    let (pending, failed) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let now = chrono::Utc::now().to_rfc3339();
    let dead = if db.is_postgres() { "false" } else { "0" };
    for (event, error) in [
        (pending, "NULL".to_owned()),
        (failed, format!("'{}: HTTP 500'", receiver.url)),
    ] {
        db.exec(&format!(
            "INSERT INTO webhook_outbox (id, event, payload, created_at) \
             VALUES ('{event}', 'user.delete', '{{\"id\":\"{}\",\"emails\":[]}}', '{now}')",
            uuid::Uuid::new_v4()
        ));
        db.exec(&format!(
            "INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at, last_error, dead) \
             VALUES ('{event}', '{}', 1, '{now}', NULL, {error}, {dead})",
            receiver.url
        ));
    }
    let app = TestApp::builder(backend)
        .on(db)
        .config(hooks(&receiver, &["user.delete"], 8))
        .start()
        .await;
    let arrived = receiver
        .wait_for("both stored deliveries", |a| a.len() >= 2)
        .await;
    let mut ids: Vec<String> = arrived.iter().map(|a| a.webhook_id.clone()).collect();
    ids.sort();
    let mut expected = vec![pending.to_string(), failed.to_string()];
    expected.sort();
    assert_eq!(ids, expected);
    let listing = app
        .get_text(format!("{}/webhooks/deliveries", app.admin))
        .await;
    assert!(!listing.contains("/hook"), "{listing}");
    let listed: Vec<Value> = serde_json::from_str(&listing).expect("JSON");
    assert_eq!(listed.len(), 2, "{listing}");
    assert!(
        listed.iter().all(|d| d["hook"] == receiver.origin()),
        "{listing}"
    );
}

mod migration {
    use super::{
        deliveries_under_an_earlier_key_move_to_the_new_one,
        pending_events_survive_the_per_hook_migration,
    };
    use crate::on_both_backends;
    on_both_backends!(
        pending_events_survive_the_per_hook_migration,
        deliveries_under_an_earlier_key_move_to_the_new_one,
    );
}

mod pruning {
    use super::old_finished_events_are_pruned_and_nothing_else;
    use crate::on_both_backends;
    on_both_backends!(old_finished_events_are_pruned_and_nothing_else);
}
