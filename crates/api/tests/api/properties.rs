//! Property tests of what reads untrusted input in the api crate: the configuration loader
//! (any value under any key is refused with the key named, never a panic) and the admin API's
//! JSON bodies (never a 500). The token verifier's are in `crates/jwks/tests`, the webhook
//! signature's and receivers' answers' in `delivery::formats`. Cases: `PROPTEST_CASES`, else
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

/// A configuration that loads: the base every case changes.
fn base() -> Value {
    json!({"secrets": {"keys": ["a-secret-made-for-this-property-test-01"]}})
}

/// Every key of the configuration, dotted (`*` for a list element): read from a loaded
/// configuration with one hook and every optional key set, so a key added tomorrow is here.
fn config_keys() -> Vec<String> {
    let mut doc = base();
    set(
        &mut doc,
        "webhooks.hooks",
        json!([{"name": "h", "url": "https://h.example/x", "events": ["user.delete"]}]),
    );
    let yaml = serde_yaml::to_string(&doc).unwrap_or_else(|e| panic!("{e}"));
    let config = Config::from_figment(Figment::new().merge(Yaml::string(&yaml)))
        .unwrap_or_else(|e| panic!("the base configuration loads: {e}"));
    let loaded = serde_json::to_value(&config).unwrap_or_else(|e| panic!("{e}"));
    let mut keys = Vec::new();
    flatten(&loaded, "", &mut keys);
    // Optional keys left out when unset (`skip_serializing_if`) are documented, commented
    // out, in the example configuration: `# key: value` under a section of the tree.
    let example = include_str!("../../../../config/config.example.yaml");
    let mut sections: Vec<(usize, String)> = Vec::new();
    for line in example.lines() {
        let indent = line.len() - line.trim_start().len();
        let rest = line.trim_start();
        let (commented, rest) = match rest.strip_prefix("# ") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some((name, _)) = rest.split_once(':') else {
            continue;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            continue;
        }
        sections.retain(|(i, _)| *i < indent);
        let path = match sections.last() {
            Some((_, parent)) => format!("{parent}.{name}"),
            None => name.to_owned(),
        };
        let parent_known = sections.last().is_none_or(|(_, p)| keys.contains(p));
        if commented {
            if parent_known && !keys.contains(&path) {
                keys.push(path);
            }
        } else {
            sections.push((indent, path));
        }
    }
    assert!(
        keys.iter().any(|k| k == "ssf.push.allow_networks")
            && keys.iter().any(|k| k == "server.public.base_url")
            && keys.iter().any(|k| k == "session.issuer")
            && keys.iter().any(|k| k == "webhooks.hooks.*.format")
            && keys.iter().any(|k| k == "secrets.rotation.publish_ahead"),
        "the key list misses sections: {keys:?}"
    );
    keys
}

fn flatten(value: &Value, prefix: &str, keys: &mut Vec<String>) {
    let child = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = child(k);
                keys.push(key.clone());
                flatten(v, &key, keys);
            }
        }
        Value::Array(items) => {
            if let Some(Value::Object(_)) = items.first() {
                flatten(&items[0], &child("*"), keys);
            }
        }
        _ => {}
    }
}

/// An error's key with list indices as `*`.
fn normalized(key: &str) -> String {
    key.split('.')
        .map(|part| {
            if part.parse::<usize>().is_ok() {
                "*"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Keys that do not exist, to be refused by name.
const UNKNOWN: &[&str] = &[
    "no_such_section",
    "server.no_such_key",
    "webhooks.hooks_",
    "ssf.push.no_such_key",
];

/// `value` placed at the dotted `key` of `doc`; a key under `webhooks.hooks.*` goes into one
/// hook with a valid URL, so the value itself is what is judged.
fn set(doc: &mut Value, key: &str, value: Value) {
    if let Some(field) = key.strip_prefix("webhooks.hooks.*.") {
        let mut hook =
            json!({"name": "h", "url": "https://h.example/x", "events": ["user.delete"]});
        hook[field] = value;
        return set(doc, "webhooks.hooks", json!([hook]));
    }
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

/// Whether a refusal names a key: one of the configuration's by its full path (a list element
/// by its list), or the very path the document wrote (an unknown field, a map where a value
/// belongs), never a section alone or a name of its own.
fn names_a_key(error: &domain::config::ConfigError, known: &[String], doc: &Value) -> bool {
    let key = normalized(&error.key);
    let list = key
        .split_once(".*")
        .map_or(key.as_str(), |(list, _)| list)
        .to_owned();
    known.contains(&key) || known.contains(&list) || !key.is_empty() && present(doc, &error.key)
}

/// Whether the dotted `key` is in `doc` (it may have been replaced by a later key).
fn present(doc: &Value, key: &str) -> bool {
    doc.pointer(&format!("/{}", key.replace('.', "/")))
        .is_some()
}

/// The configuration's keys, read once.
fn known_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(config_keys)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(3000)))]

    /// Any value under any key: the loader accepts it or refuses it naming a key of the
    /// configuration by its full path, never panics.
    #[test]
    fn any_value_under_any_key_is_refused_by_name_or_accepted(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
        values in prop::collection::vec(any_json(), 4),
    ) {
        let known = known_keys();
        let candidates: Vec<String> = known
            .iter()
            .cloned()
            .chain(UNKNOWN.iter().map(|k| (*k).to_owned()))
            .collect();
        let set_keys: Vec<String> = picks.iter().map(|i| i.get(&candidates).clone()).collect();
        let mut doc = base();
        for (key, value) in set_keys.iter().zip(values) {
            set(&mut doc, key, value);
        }
        let yaml = serde_yaml::to_string(&doc).unwrap();
        if let Err(e) = Config::from_figment(Figment::new().merge(Yaml::string(&yaml))) {
            prop_assert!(names_a_key(&e, known, &doc), "{e} does not name a key\n{yaml}");
            prop_assert!(!e.problem.is_empty(), "{e}\n{yaml}");
        } else {
            prop_assert!(
                !set_keys.iter().any(|k| UNKNOWN.contains(&k.as_str()) && present(&doc, k)),
                "an unknown key was accepted\n{yaml}"
            );
        }
    }

    /// Whole documents of anything (lists, scalars, maps of nonsense): refused (they have no
    /// secret), with a key named, never a panic.
    #[test]
    fn any_document_is_refused_without_panic(doc in any_json()) {
        let yaml = serde_yaml::to_string(&doc).unwrap();
        let loaded = Config::from_figment(Figment::new().merge(Yaml::string(&yaml)));
        match loaded {
            Ok(_) => prop_assert!(
                doc["secrets"]["keys"].as_array().is_some_and(|k| !k.is_empty()),
                "accepted without secrets\n{yaml}"
            ),
            Err(e) => prop_assert!(!e.problem.is_empty(), "{e}\n{yaml}"),
        }
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
