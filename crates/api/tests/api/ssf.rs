//! The Shared Signals transmitter against a real local receiver, on both backends: a
//! receiver's streams are its own (401 without its token, 404 for another's), configuration
//! (create, read, update, replace, delete) with its refusals, push delivery with status changes
//! and verification, poll delivery with acknowledgements, and `default_subjects: NONE`.

use crate::helpers::*;
use crate::on_both_backends;
use crate::receiver::Receiver;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use std::time::Duration;

const ISSUER: &str = "https://auth.example";
const PUSH: &str = "urn:ietf:rfc:8935";
const POLL: &str = "urn:ietf:rfc:8936";
const PURGED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-purged";
const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";

async fn ssf_app(backend: Backend, default_subjects: &str) -> TestApp {
    TestApp::builder(backend)
        .config(json!({
            "session": {"issuer": ISSUER},
            "server": {"public": {"base_url": "https://auth.example"}},
            "ssf": {"enabled": true, "default_subjects": default_subjects,
                    "push": {"allow_networks": ["127.0.0.0/8"]}},
            "webhooks": {"initial_backoff": "50ms", "timeout": "2s"}
        }))
        .start()
        .await
}

/// A receiver created through the admin API: its token.
pub(crate) async fn receiver(app: &TestApp, audience: &str) -> String {
    let created: Value = app
        .client
        .post(format!("{}/ssf/receivers", app.admin))
        .json(&json!({"name": audience, "audience": audience}))
        .fetch()
        .await
        .expect_status(201)
        .json();
    created["token"].str().to_owned()
}

async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
    let mut request = app
        .client
        .request(
            method.parse().expect("a method"),
            format!("{}{path}", app.public),
        )
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.fetch().await
}

/// A SET, verified with the JWKS as a receiver would.
async fn verified_set(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .get_json(format!("{}/.well-known/jwks.json", app.public))
        .await;
    let header = jsonwebtoken::decode_header(token).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(header.typ.as_deref(), Some("secevent+jwt"));
    let jwk = jwks
        .find(header.kid.as_deref().expect("a kid in the SET header"))
        .unwrap_or_else(|| panic!("kid not in the JWKS"));
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_jwk(jwk).unwrap_or_else(|e| panic!("{e}")),
        &validation,
    )
    .unwrap_or_else(|e| panic!("the SET verifies: {e}"))
    .claims
}

/// A new push stream to `url` sending `authorization`: its id.
async fn push_stream(app: &TestApp, token: &str, url: &str, authorization: &str) -> String {
    let created: Value = call(
        app,
        "POST",
        "/ssf/stream",
        token,
        Some(json!({"delivery": {"method": PUSH, "endpoint_url": url,
                                 "authorization_header": authorization}})),
    )
    .await
    .expect_status(201)
    .json();
    created["stream_id"].str().to_owned()
}

async fn deleted_user(app: &TestApp, email: &str) -> String {
    let login = app.user_with_session(email).await;
    app.delete_user(&login.token).await.expect_status(204);
    login.user_id
}

async fn streams_are_their_receivers_own(backend: Backend) {
    let app = ssf_app(backend, "ALL").await;
    let metadata: Value = app
        .get_json(format!("{}/.well-known/ssf-configuration", app.public))
        .await;
    assert_eq!(metadata["spec_version"], "1_0");
    assert_eq!(metadata["issuer"], ISSUER);
    assert_eq!(
        metadata["configuration_endpoint"],
        "https://auth.example/ssf/stream"
    );
    let a = receiver(&app, "https://a.example").await;
    let b = receiver(&app, "https://b.example").await;
    let listed: Value = app.get_json(format!("{}/ssf/receivers", app.admin)).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert!(!listed.to_string().contains(&a), "tokens are never listed");

    let config = json!({"delivery": {"method": PUSH, "endpoint_url": "https://a.example/ssf",
                                     "authorization_header": "Bearer a-secret"},
                        "events_requested": [PURGED, "urn:example:unknown"]});
    let created = call(&app, "POST", "/ssf/stream", &a, Some(config.clone()))
        .await
        .expect_status(201)
        .json::<Value>();
    let id = created["stream_id"].str().to_owned();
    assert_eq!(created["aud"], "https://a.example");
    assert_eq!(created["iss"], ISSUER);
    assert_eq!(created["events_delivered"], json!([PURGED]));
    assert!(
        created["delivery"].get("authorization_header").is_none(),
        "never shown back: {created}"
    );
    let one = format!("/ssf/stream?stream_id={id}");
    call(&app, "GET", &one, &a, None).await.expect_status(200);
    // Refusals: no token, a wrong one, another receiver's stream, duplicates, malformed.
    let anonymous = app.client.get(format!("{}{one}", app.public)).fetch().await;
    assert_error(anonymous, 401);
    assert_error(call(&app, "GET", &one, "ssf_wrong", None).await, 401);
    assert_error(call(&app, "GET", &one, &b, None).await, 404);
    assert_error(call(&app, "DELETE", &one, &b, None).await, 404);
    assert_error(
        call(
            &app,
            "POST",
            "/ssf/status",
            &b,
            Some(json!({"stream_id": id, "status": "paused"})),
        )
        .await,
        404,
    );
    assert_error(
        call(&app, "POST", "/ssf/stream", &a, Some(config)).await,
        409,
    );
    for malformed in [
        json!({}),
        json!({"delivery": {"method": "urn:example:carrier-pigeon"}}),
        json!({"delivery": {"method": PUSH}}),
        json!({"delivery": {"method": PUSH, "endpoint_url": "ftp://x"}}),
        json!({"delivery": {"method": POLL}, "events_requested": "all"}),
        json!({"delivery": {"method": POLL}, "stream_id": id}),
        json!({"delivery": {"method": POLL}, "colour": "blue"}),
        // Transmitter-supplied properties are ignored, but only when of the type it gives.
        json!({"delivery": {"method": POLL}, "aud": 5}),
        json!({"delivery": {"method": POLL}, "events_delivered": [true]}),
        json!({"delivery": {"method": POLL}, "inactivity_timeout": -1}),
        json!([1]),
    ] {
        assert_error(
            call(&app, "POST", "/ssf/stream", &a, Some(malformed.clone())).await,
            400,
        );
    }
    assert_error(
        call(&app, "GET", "/ssf/stream?stream_id=not-a-uuid", &a, None).await,
        400,
    );
    assert_error(
        call(
            &app,
            "GET",
            &format!("/ssf/stream?stream_id={}", uuid::Uuid::new_v4()),
            &a,
            None,
        )
        .await,
        404,
    );
    // Update, replace, list, delete.
    let updated = call(
        &app,
        "PATCH",
        "/ssf/stream",
        &a,
        Some(json!({"stream_id": id, "description": "risk"})),
    )
    .await
    .expect_status(200)
    .json::<Value>();
    assert_eq!(updated["description"], "risk");
    assert_eq!(
        updated["events_delivered"],
        json!([PURGED]),
        "the rest kept"
    );
    let replaced = call(
        &app,
        "PUT",
        "/ssf/stream",
        &a,
        // What the transmitter returned, sent back with a new delivery (SSF 1.0 §8.1.1.4).
        Some({
            let mut whole = updated.clone();
            whole["delivery"] = json!({"method": POLL});
            whole["aud"] = json!(["https://a.example"]);
            whole
        }),
    )
    .await
    .expect_status(200)
    .json::<Value>();
    assert_eq!(replaced["delivery"]["method"], POLL);
    assert_eq!(
        replaced["delivery"]["endpoint_url"],
        format!("https://auth.example/ssf/poll/{id}")
    );
    assert_eq!(
        replaced["description"], "risk",
        "replaced whole: {replaced}"
    );
    let all = call(&app, "GET", "/ssf/stream", &a, None)
        .await
        .expect_status(200)
        .json::<Value>();
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let none = call(&app, "GET", "/ssf/stream", &b, None)
        .await
        .expect_status(200)
        .json::<Value>();
    assert_eq!(none, json!([]));
    call(&app, "DELETE", &one, &a, None)
        .await
        .expect_status(204);
    assert_error(call(&app, "GET", &one, &a, None).await, 404);
    let audited: Vec<Value> = app
        .get_json(format!("{}/audit_logs?type=ssf_stream_created", app.admin))
        .await;
    assert_eq!(audited.len(), 1);
    let deleted: Vec<Value> = app
        .get_json(format!("{}/audit_logs?type=ssf_stream_deleted", app.admin))
        .await;
    assert_eq!(deleted.len(), 1);
}

/// Waits (up to 20 s) until every event has been fanned out to the streams (its `ssf:*`
/// delivery done): from then on, a stream's own deliveries are all there is to send.
async fn until_fanned_out(app: &TestApp) {
    let waiting = "hook = 'ssf:*' AND delivered_at IS NULL AND NOT dead";
    for _ in 0..200 {
        if app.db.count("webhook_deliveries", waiting) == 0 {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("events not fanned out to the streams after 20 s");
}

async fn push_with_status_changes_and_verification(backend: Backend) {
    let app = ssf_app(backend, "ALL").await;
    let hooks = Receiver::start();
    let token = receiver(&app, "https://rp.example").await;
    let id = push_stream(&app, &token, &hooks.url, "Bearer push-secret").await;

    let first = deleted_user(&app, "ssf-push-1@example.com").await;
    let got = hooks.wait_for("the first SET", |a| !a.is_empty()).await;
    assert_eq!(got[0].header("authorization"), "Bearer push-secret");
    assert_eq!(got[0].header("content-type"), "application/secevent+jwt");
    let claims = verified_set(&app, got[0].body.str(), "https://rp.example").await;
    assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": first}));
    assert!(claims["events"].get(PURGED).is_some(), "{claims}");

    // Paused: kept, delivered on resume.
    call(
        &app,
        "POST",
        "/ssf/status",
        &token,
        Some(json!({"stream_id": id, "status": "paused", "reason": "maintenance"})),
    )
    .await
    .expect_status(200);
    let status = call(
        &app,
        "GET",
        &format!("/ssf/status?stream_id={id}"),
        &token,
        None,
    )
    .await
    .expect_status(200)
    .json::<Value>();
    assert_eq!(
        status,
        json!({"stream_id": id, "status": "paused", "reason": "maintenance"})
    );
    let second = deleted_user(&app, "ssf-push-2@example.com").await;
    until_fanned_out(&app).await;
    let stream = format!("hook = 'ssf:{id}' AND delivered_at IS NULL");
    assert_eq!(
        app.db.count(
            "webhook_deliveries",
            &format!("{stream} AND next_attempt_at > '9000-01-01'")
        ),
        1,
        "the paused stream's SET is kept, parked"
    );
    assert_eq!(hooks.attempts().len(), 1, "nothing pushed while paused");
    call(
        &app,
        "POST",
        "/ssf/status",
        &token,
        Some(json!({"stream_id": id, "status": "enabled"})),
    )
    .await
    .expect_status(200);
    let got = hooks.wait_for("the kept SET", |a| a.len() >= 2).await;
    let claims = verified_set(&app, got[1].body.str(), "https://rp.example").await;
    assert_eq!(claims["sub_id"]["id"], second.as_str());

    // Disabled: dropped, not delivered on enabling.
    call(
        &app,
        "POST",
        "/ssf/status",
        &token,
        Some(json!({"stream_id": id, "status": "disabled"})),
    )
    .await
    .expect_status(200);
    deleted_user(&app, "ssf-push-3@example.com").await;
    until_fanned_out(&app).await;
    call(
        &app,
        "POST",
        "/ssf/status",
        &token,
        Some(json!({"stream_id": id, "status": "enabled"})),
    )
    .await
    .expect_status(200);
    assert_eq!(
        app.db.count(
            "webhook_deliveries",
            &format!("hook = 'ssf:{id}' AND delivered_at IS NULL AND NOT dead")
        ),
        0,
        "a disabled stream keeps nothing: nothing is left to send"
    );
    assert_eq!(hooks.attempts().len(), 2, "a disabled stream keeps nothing");

    // Verification, with the state echoed.
    call(
        &app,
        "POST",
        "/ssf/verify",
        &token,
        Some(json!({"stream_id": id, "state": "VGhpcyBpcyBh"})),
    )
    .await
    .expect_status(204);
    let got = hooks.wait_for("the verification", |a| a.len() >= 3).await;
    let claims = verified_set(&app, got[2].body.str(), "https://rp.example").await;
    assert_eq!(claims["events"][VERIFICATION]["state"], "VGhpcyBpcyBh");
    assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": id}));
    assert_error(
        call(
            &app,
            "POST",
            "/ssf/verify",
            &token,
            Some(json!({"stream_id": uuid::Uuid::new_v4()})),
        )
        .await,
        404,
    );
}

async fn poll_with_acknowledgements(backend: Backend) {
    let app = ssf_app(backend, "ALL").await;
    let token = receiver(&app, "https://poller.example").await;
    let created = call(
        &app,
        "POST",
        "/ssf/stream",
        &token,
        Some(json!({"delivery": {"method": POLL}})),
    )
    .await
    .expect_status(201)
    .json::<Value>();
    let id = created["stream_id"].str().to_owned();
    let poll = format!("/ssf/poll/{id}");
    let mut users = Vec::new();
    for i in 0..3 {
        users.push(deleted_user(&app, &format!("ssf-poll-{i}@example.com")).await);
    }
    // Let the dispatcher fan the three events out to the stream (nothing is acknowledged).
    let mut waiting = 0;
    for _ in 0..100 {
        let all: Value = call(
            &app,
            "POST",
            &poll,
            &token,
            Some(json!({"maxEvents": 10, "returnImmediately": true})),
        )
        .await
        .expect_status(200)
        .json();
        waiting = all["sets"].as_object().map_or(0, |s| s.len());
        if waiting == 3 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        waiting, 3,
        "the three SETs are waiting for the poll within 10 s"
    );
    let first: Value = call(
        &app,
        "POST",
        &poll,
        &token,
        Some(json!({"maxEvents": 2, "returnImmediately": true})),
    )
    .await
    .expect_status(200)
    .json();
    let jtis: Vec<String> = first["sets"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .expect("sets: an object");
    assert_eq!(jtis.len(), 2, "{first}");
    assert_eq!(first["moreAvailable"], true);
    for (jti, set) in first["sets"].as_object().into_iter().flatten() {
        let claims = verified_set(&app, set.str(), "https://poller.example").await;
        assert_eq!(claims["jti"].str(), jti);
    }
    // Not acknowledged: sent again.
    let again: Value = call(
        &app,
        "POST",
        &poll,
        &token,
        Some(json!({"maxEvents": 2, "returnImmediately": true})),
    )
    .await
    .expect_status(200)
    .json();
    let mut again_jtis: Vec<String> = again["sets"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .expect("sets: an object");
    let mut expected = jtis.clone();
    again_jtis.sort();
    expected.sort();
    assert_eq!(again_jtis, expected, "un-acknowledged SETs come back");
    // Acknowledged: never again.
    let rest: Value = call(
        &app,
        "POST",
        &poll,
        &token,
        Some(json!({"ack": jtis, "maxEvents": 10, "returnImmediately": true})),
    )
    .await
    .expect_status(200)
    .json();
    let rest_jtis: Vec<String> = rest["sets"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .expect("sets: an object");
    assert_eq!(rest_jtis.len(), 1, "{rest}");
    assert!(!jtis.contains(&rest_jtis[0]));
    assert_eq!(rest["moreAvailable"], false);
    let empty: Value = call(
        &app,
        "POST",
        &poll,
        &token,
        Some(json!({"ack": rest_jtis, "returnImmediately": true})),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(empty["sets"], json!({}));
    // A long poll waits for the next event.
    let waiting = {
        let app_client = app.client.clone();
        let url = format!("{}{poll}", app.public);
        let token = token.clone();
        actix_rt::spawn(async move {
            app_client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"maxEvents": 5}))
                .fetch()
                .await
        })
    };
    actix_rt::time::sleep(Duration::from_millis(700)).await;
    let late = deleted_user(&app, "ssf-poll-late@example.com").await;
    let answered = waiting
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .expect_status(200)
        .json::<Value>();
    let sets = answered["sets"]
        .as_object()
        .cloned()
        .expect("sets: an object");
    assert_eq!(sets.len(), 1, "{answered}");
    let claims = verified_set(
        &app,
        sets.values().next().map(|v| v.str()).expect("one SET"),
        "https://poller.example",
    )
    .await;
    assert_eq!(claims["sub_id"]["id"], late.as_str());
    // Malformed polls.
    for bad in [
        json!({"maxEvents": -1}),
        json!({"ack": "not-a-list"}),
        json!({"returnImmediately": "yes"}),
    ] {
        assert_error(call(&app, "POST", &poll, &token, Some(bad)).await, 400);
    }
}

async fn only_added_subjects_with_default_none(backend: Backend) {
    let app = ssf_app(backend, "NONE").await;
    let token = receiver(&app, "https://narrow.example").await;
    let created = call(
        &app,
        "POST",
        "/ssf/stream",
        &token,
        Some(json!({"delivery": {"method": POLL}})),
    )
    .await
    .expect_status(201)
    .json::<Value>();
    let id = created["stream_id"].str().to_owned();
    let watched = app.user_with_session("watched@example.com").await;
    let other = app.user_with_session("other@example.com").await;
    call(&app, "POST", "/ssf/subjects/add", &token,
         Some(json!({"stream_id": id, "subject": {"format": "email", "email": "Watched@example.com"}})))
        .await
        .expect_status(200);
    assert_error(
        call(&app, "POST", "/ssf/subjects/add", &token,
             Some(json!({"stream_id": id, "subject": {"format": "phone_number", "phone_number": "+1"}}))).await,
        400,
    );
    app.delete_user(&other.token).await.expect_status(204);
    app.delete_user(&watched.token).await.expect_status(204);
    until_fanned_out(&app).await;
    let polled: Value = call(
        &app,
        "POST",
        &format!("/ssf/poll/{id}"),
        &token,
        Some(json!({"returnImmediately": true})),
    )
    .await
    .expect_status(200)
    .json();
    let sets = polled["sets"]
        .as_object()
        .cloned()
        .expect("sets: an object");
    assert_eq!(sets.len(), 1, "only the added subject's event: {polled}");
    let claims = verified_set(
        &app,
        sets.values().next().map(|v| v.str()).expect("one SET"),
        "https://narrow.example",
    )
    .await;
    assert_eq!(claims["sub_id"]["id"], watched.user_id.as_str());
    call(&app, "POST", "/ssf/subjects/remove", &token,
         Some(json!({"stream_id": id, "subject": {"format": "email", "email": "watched@example.com"}})))
        .await
        .expect_status(204);
}

/// A push stream's `authorization_header` is the receiver's credential: stored sealed under
/// `secrets.keys`, so the database never holds it; pushes carry it; a header an earlier version
/// stored in plain still works and is sealed by re-sealing; re-sealing is refused, changing
/// nothing, when a header opens with no secret; one sealed under a secret this instance lacks
/// fails its pushes (retried) without a word of it anywhere.
async fn push_authorization_headers_are_sealed_at_rest(backend: Backend) {
    use api::delivery::sealing;
    use domain::ports::SsfStore;
    let app = ssf_app(backend, "ALL").await;
    let hooks = Receiver::start();
    let token = receiver(&app, "https://rp.example").await;
    push_stream(
        &app,
        &token,
        &hooks.url,
        "Bearer sealed-receiver-credential",
    )
    .await;
    let holding = |text: &str| {
        app.db.count(
            "ssf_streams",
            &format!("CAST(config AS TEXT) LIKE '%{text}%'"),
        )
    };
    assert_eq!(
        holding("sealed-receiver-credential"),
        0,
        "not in the database"
    );
    assert_eq!(holding("authorization_header_sealed"), 1);
    deleted_user(&app, "sealed-1@example.com").await;
    let got = hooks.wait_for("the first push", |a| a.len() == 1).await;
    assert_eq!(
        got[0].header("authorization"),
        "Bearer sealed-receiver-credential"
    );

    // As an earlier version stored it: in plain.
    app.db.exec(if app.db.is_postgres() {
        "UPDATE ssf_streams SET config = jsonb_set(config #- '{delivery,authorization_header_sealed}',          '{delivery,authorization_header}', '\"Bearer legacy-plain\"')"
    } else {
        "UPDATE ssf_streams SET config = json_set(json_remove(config, '$.delivery.authorization_header_sealed'),          '$.delivery.authorization_header', 'Bearer legacy-plain')"
    });
    assert_eq!(holding("legacy-plain"), 1);
    deleted_user(&app, "sealed-2@example.com").await;
    let got = hooks.wait_for("the second push", |a| a.len() == 2).await;
    assert_eq!(got[1].header("authorization"), "Bearer legacy-plain");

    // Re-sealing (`api secrets reencrypt`) seals it.
    let database = persistence::Database::connect(&app.config.database);
    let keys = app.key_manager();
    let resealed = sealing::resealed(&keys, &database).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        database.replace_push_authorizations(&resealed).ok(),
        Some(1)
    );
    assert_eq!(
        (
            holding("legacy-plain"),
            holding("authorization_header_sealed")
        ),
        (0, 1)
    );
    deleted_user(&app, "sealed-3@example.com").await;
    let got = hooks.wait_for("the third push", |a| a.len() == 3).await;
    assert_eq!(got[2].header("authorization"), "Bearer legacy-plain");

    // Under a secret list that does not open it: refused, nothing changed.
    let manager = |list: Value| {
        let mut secrets = app.config.secrets.clone();
        secrets.keys = serde_json::from_value(list).expect("secrets");
        jwks::KeyManager::new(
            std::sync::Arc::new(database.clone()),
            &secrets,
            app.config.session.token_policy(),
        )
    };
    let new_secret = format!("a-new-secret-made-by-this-test-{}", uuid::Uuid::new_v4());
    let stranger = manager(json!(["a-secret-that-sealed-nothing-0123456789"]));
    let refused = sealing::resealed(&stranger, &database).map(|r| r.len());
    assert!(
        matches!(&refused, Err(sealing::ResealError::Unreadable(streams)) if streams.len() == 1),
        "{refused:?}"
    );
    // Under a new first secret this instance lacks: its pushes fail, and say only that.
    let both = manager(json!([new_secret, SECRET]));
    let resealed = sealing::resealed(&both, &database).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        database.replace_push_authorizations(&resealed).ok(),
        Some(1)
    );
    deleted_user(&app, "sealed-4@example.com").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let failing: Vec<Value> = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt in 10 s"
        );
        let pending: Vec<Value> = app
            .get_json(format!("{}/webhooks/deliveries?status=pending", app.admin))
            .await;
        let failing: Vec<Value> = pending
            .into_iter()
            .filter(|d| d["last_error"].is_string())
            .collect();
        if !failing.is_empty() {
            break failing;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    let error = failing[0]["last_error"].str();
    assert!(
        error.contains("opens with no secret in secrets.keys"),
        "{error}"
    );
    assert!(!error.contains("legacy-plain"), "{error}");
    assert_eq!(
        hooks.attempts().len(),
        3,
        "nothing was sent without its header"
    );
}

on_both_backends!(
    push_authorization_headers_are_sealed_at_rest,
    streams_are_their_receivers_own,
    push_with_status_changes_and_verification,
    poll_with_acknowledgements,
    only_added_subjects_with_default_none,
);
