//! The documented API is the mounted API: every operation of each listener's OpenAPI document
//! answers on that listener, with the methods its document lists and no others, and every
//! route the code mounts on a listener is in that listener's document.

use crate::helpers::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Path → methods, as a listener's served document lists them.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("a path item")
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
                .map(|k| k.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// A method no route of ours has (PATCH is one of the SSF stream's).
fn unmounted() -> reqwest::Method {
    reqwest::Method::from_bytes(b"PROPFIND").expect("a method")
}

/// `/users/{id}/sessions/{session_id}` with ids that exist, so no handler answers 404.
fn concrete(path: &str, user: &str, session: &str, receiver: &str, scim: &str) -> String {
    if path.starts_with("/ssf/receivers/") {
        return path.replace("{id}", receiver);
    }
    if path.starts_with("/scim/clients/") {
        return path.replace("{id}", scim);
    }
    path.replace("{id}", user).replace("{session_id}", session)
}

#[actix_rt::test]
async fn every_documented_operation_is_mounted_and_every_route_documented() {
    // Everything mounted: the Shared Signals transmitter and SCIM too.
    let app = TestApp::builder(Backend::Sqlite)
        .config(serde_json::json!({
            "session": {"issuer": "https://auth.example"},
            "server": {"public": {"base_url": "https://auth.example"}},
            "ssf": {"enabled": true},
            "scim": {"enabled": true}
        }))
        .start()
        .await;
    let mut all_documented: BTreeSet<(String, String)> = BTreeSet::new();
    let receiver: Value = app
        .client
        .post(format!("{}/ssf/receivers", app.admin))
        .json(&serde_json::json!({"name": "probe", "audience": "https://probe.example"}))
        .fetch()
        .await
        .expect_status(201)
        .json();
    let receiver = receiver["id"].str().to_owned();
    let scim_client: Value = app
        .client
        .post(format!("{}/scim/clients", app.admin))
        .json(&serde_json::json!({"name": "probe"}))
        .fetch()
        .await
        .expect_status(201)
        .json();
    let scim_client = scim_client["id"].str().to_owned();
    for base in [app.public.clone(), app.admin.clone()] {
        let doc: Value = app.get_json(format!("{base}/openapi.json")).await;
        for (path, methods) in documented(&doc) {
            let login = app
                .user_with_session(&format!("{}@example.com", uuid::Uuid::new_v4().simple()))
                .await;
            let url = format!(
                "{base}{}",
                concrete(
                    &path,
                    &login.user_id,
                    &login.session_id,
                    &receiver,
                    &scim_client
                )
            );
            // A method no route has: the resource answers 405 and names what it mounts.
            let refused = app
                .client
                .request(unmounted(), &url)
                .bearer_auth(&login.token)
                .fetch()
                .await
                .expect_status(405);
            let allow: BTreeSet<String> = header(refused.headers(), "allow")
                .unwrap_or_else(|| panic!("{refused}: no Allow"))
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            assert_eq!(
                allow, methods,
                "{base}{path}: mounted methods vs documented"
            );
            for method in &methods {
                all_documented.insert((path.clone(), method.clone()));
            }
            // Each documented method reaches its handler (not the 404 of an unknown path);
            // DELETE last, so the others still find what it removes.
            let mut ordered: Vec<&String> = methods.iter().filter(|m| *m != "DELETE").collect();
            ordered.extend(methods.iter().filter(|m| *m == "DELETE"));
            for method in ordered {
                let answer = app
                    .client
                    .request(method.parse().expect("a method"), &url)
                    .bearer_auth(&login.token)
                    .header("content-type", "application/json")
                    .body("{}")
                    .fetch()
                    .await;
                assert!(
                    answer.status() != 404 && answer.status() != 405,
                    "{method} {base}{path}: {answer}"
                );
            }
        }
    }
    // Per listener: every path the code mounts anywhere either answers on this listener (405
    // to an unmounted method, naming what it mounts there), and is then in this listener's
    // document with exactly those methods, or does not (404), and is then not in it.
    let login = app.user_with_session("probe@example.com").await;
    let paths: BTreeSet<&str> = api::routes::mounted().into_iter().map(|(p, _)| p).collect();
    for base in [app.public.clone(), app.admin.clone()] {
        let doc = documented(&app.get_json(format!("{base}/openapi.json")).await);
        for path in &paths {
            let url = format!(
                "{base}{}",
                concrete(
                    path,
                    &login.user_id,
                    &login.session_id,
                    &receiver,
                    &scim_client
                )
            );
            let probe = app.client.request(unmounted(), &url).fetch().await;
            let here: BTreeSet<String> = match probe.status().as_u16() {
                405 => header(probe.headers(), "allow")
                    .unwrap_or_else(|| panic!("{probe}: no Allow"))
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .collect(),
                404 => BTreeSet::new(),
                _ => panic!("PROPFIND {url}: {probe}"),
            };
            let documented_here = doc.get(*path).cloned().unwrap_or_else(BTreeSet::new);
            assert_eq!(
                here, documented_here,
                "{base}{path}: mounted here vs this document"
            );
        }
    }
    let mounted: BTreeSet<(String, String)> = api::routes::mounted()
        .into_iter()
        .map(|(path, method)| (path.to_owned(), method.to_owned()))
        .collect();
    assert_eq!(
        mounted.difference(&all_documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "mounted but documented nowhere"
    );
    assert_eq!(
        all_documented.difference(&mounted).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but mounted nowhere"
    );
}
