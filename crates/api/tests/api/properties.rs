//! Property tests of what reads untrusted input in the api crate: the configuration loader
//! (any value under any key is refused with the key named, never a panic) and the admin API's
//! JSON bodies (never a 500). The token verifier's are in `crates/jwks/tests`, the webhook
//! signature's and receivers' answers' in `outbox::formats`. Cases: `PROPTEST_CASES`, else
//! the number each test names; `PROPTEST_CASES=50000 cargo test --test api properties` runs
//! them longer.

use crate::helpers::*;
use api::config::Config;
use figment::providers::{Format, Yaml};
use figment::Figment;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};

/// `PROPTEST_CASES`, or this many.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

/// Any JSON value, with the leaves a config or an API is likely to meet, up to 3 levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e12f64..1.0e12).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[0-9]{1,7}(ms|s|m|h|d|)".prop_map(Value::from),
        "(https?|sqlite|postgres)://[a-z0-9.:@/?=-]{0,30}".prop_map(Value::from),
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}:[0-9]{1,6}".prop_map(Value::from),
        "[a-zA-Z0-9._%+-]{0,12}@[a-z0-9.-]{0,12}".prop_map(Value::from),
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,14}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every key of the configuration (config/config.example.yaml), and a few that do not exist.
const KEYS: &[&str] = &[
    "server",
    "server.public",
    "server.public.address",
    "server.public.cors",
    "server.public.cors.allow_origins",
    "server.public.cors.unsafe_wildcard_origin_allowed",
    "server.admin",
    "server.admin.address",
    "server.admin.api_key",
    "server.admin.allow_unauthenticated",
    "database",
    "database.url",
    "database.pool_size",
    "database.connect_timeout",
    "database.idle_timeout",
    "secrets",
    "secrets.keys",
    "secrets.rsa_bits",
    "secrets.refresh_interval",
    "session",
    "session.lifespan",
    "session.issuer",
    "session.audience",
    "session.leeway",
    "session.cookie",
    "session.cookie.name",
    "session.cookie.domain",
    "session.cookie.http_only",
    "session.cookie.secure",
    "session.cookie.same_site",
    "account",
    "account.allow_deletion",
    "account.allow_signup",
    "account.deletion",
    "account.deletion.max_session_age",
    "account.deletion.grace_period",
    "account.deletion.purge_interval",
    "audit_log",
    "audit_log.enabled",
    "audit_log.mask_email",
    "webhooks",
    "webhooks.hooks",
    "webhooks.max_attempts",
    "webhooks.initial_backoff",
    "webhooks.timeout",
    "log",
    "log.level",
    "no_such_section",
    "server.no_such_key",
    "webhooks.hooks_",
];

/// `value` placed at the dotted `key` of `doc`.
fn set(doc: &mut Value, key: &str, value: Value) {
    let mut at = doc;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !at.get(*part).is_some_and(Value::is_object) {
            at[*part] = json!({});
        }
        at = &mut at[*part];
    }
    at[parts[parts.len() - 1]] = value;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(3000)))]

    /// Any value under any key: the loader accepts it or names a key of the configuration,
    /// never panics.
    #[test]
    fn any_value_under_any_key_is_refused_by_name_or_accepted(
        keys in prop::collection::vec(prop::sample::select(KEYS), 1..4),
        values in prop::collection::vec(any_json(), 4),
    ) {
        let mut doc = json!({"secrets": {"keys": ["a-secret-made-for-this-property-test-01"]}});
        for (key, value) in keys.iter().zip(values) {
            set(&mut doc, key, value);
        }
        let yaml = serde_yaml::to_string(&doc).unwrap();
        if let Err(e) = Config::from_figment(Figment::new().merge(Yaml::string(&yaml))) {
            let top = e.key.split('.').next().expect("split yields a first part");
            prop_assert!(
                KEYS.contains(&top) || !e.key.is_empty() && doc.get(top).is_some(),
                "{e} does not name a key\n{yaml}"
            );
            prop_assert!(!e.problem.is_empty(), "{e}\n{yaml}");
        }
    }

    /// Whole documents of anything (lists, scalars, maps of nonsense): refused, never a panic.
    #[test]
    fn any_document_is_refused_without_panic(doc in any_json()) {
        let yaml = serde_yaml::to_string(&doc).unwrap();
        let _ = Config::from_figment(Figment::new().merge(Yaml::string(&yaml)));
    }
}

/// One request to the admin API with a body of any shape.
#[derive(Clone, Debug)]
struct Case {
    method: reqwest::Method,
    path: String,
    body: Body,
}

#[derive(Clone, Debug)]
enum Body {
    Json(Value),
    Bytes(Vec<u8>),
}

/// Bodies for every admin operation that reads one: anything at all, and objects with the
/// operation's own fields holding anything (so validation deeper than the shape runs).
fn admin_case(user_id: String) -> impl Strategy<Value = Case> {
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    let users = "/users".to_owned();
    let sessions = "/sessions".to_owned();
    let hold = format!("/users/{user_id}/hold");
    let restore = format!("/users/{user_id}/restore");
    let email = (any_json(), any_json(), any_json()).prop_map(|(address, primary, verified)| {
        json!({"address": address, "is_primary": primary, "is_verified": verified})
    });
    let new_user = prop_oneof![
        any_json().prop_map(|emails| json!({"emails": emails})),
        prop::collection::vec(email, 0..4).prop_map(|emails| json!({"emails": emails})),
    ];
    let user_ref = prop_oneof![any_json(), Just(Value::from(user_id.clone()))];
    let new_session = (user_ref, any_json(), any_json())
        .prop_map(|(id, agent, ip)| json!({"user_id": id, "user_agent": agent, "ip_address": ip}));
    let hold_change =
        (any_json(), any_json()).prop_map(|(hold, reason)| json!({"hold": hold, "reason": reason}));
    let target = prop_oneof![
        Just((post.clone(), users)),
        Just((post.clone(), sessions)),
        Just((put.clone(), hold)),
        Just((post.clone(), restore)),
    ];
    let shaped = prop_oneof![
        new_user.prop_map(move |b| (post.clone(), "/users".to_owned(), b)),
        new_session.prop_map(|b| (reqwest::Method::POST, "/sessions".to_owned(), b)),
        hold_change.prop_map(move |b| (put.clone(), format!("/users/{user_id}/hold"), b)),
    ];
    prop_oneof![
        shaped.prop_map(|(method, path, body)| Case {
            method,
            path,
            body: Body::Json(body)
        }),
        (target.clone(), any_json()).prop_map(|((method, path), body)| Case {
            method,
            path,
            body: Body::Json(body)
        }),
        (target, prop::collection::vec(any::<u8>(), 0..200)).prop_map(|((method, path), body)| {
            Case {
                method,
                path,
                body: Body::Bytes(body),
            }
        }),
    ]
}

/// JSON bodies of the admin API: whatever they hold, the answer is a success or a JSON error
/// below 500.
async fn admin_bodies_never_cause_a_500(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let user_id = app.create_user("property@example.com").await;
    let strategy = admin_case(user_id);
    let mut runner = TestRunner::default();
    let n = cases(1500);
    for _ in 0..n {
        let case = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("generating a case: {e}"))
            .current();
        let request = app
            .client
            .request(case.method.clone(), format!("{}{}", app.admin, case.path))
            .header("content-type", "application/json");
        let request = match &case.body {
            Body::Json(v) => request.body(v.to_string()),
            Body::Bytes(b) => request.body(b.clone()),
        };
        let res = request.fetch().await;
        let status = res.status().as_u16();
        assert!(status < 500, "{case:?}: {res}");
        if status >= 400 {
            let body: Value = res.json();
            assert_eq!(body["code"], status, "{case:?}: {res}");
            assert!(body["message"].is_string(), "{case:?}: {res}");
        }
    }
}

crate::on_both_backends!(admin_bodies_never_cause_a_500);
