//! SCIM 2.0 provisioning, on both backends, with the request bodies Entra ID and Okta document:
//! a client's token and its revocation, create after a filter miss, deactivate (sessions end at
//! once, no new one), reactivate, delete (then 404), the SCIM error form for every refusal,
//! `If-Match`, uniqueness without case, and a held user deleted over SCIM (scheduled, never
//! purged while held).

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

const SCIM_JSON: &str = "application/scim+json";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

async fn scim_app(backend: Backend, overrides: Value) -> TestApp {
    let mut config = json!({
        "scim": {"enabled": true},
        "server": {"public": {"base_url": "https://auth.example"}}
    });
    if let (Some(base), Value::Object(more)) = (config.as_object_mut(), overrides) {
        base.extend(more);
    }
    TestApp::builder(backend).config(config).start().await
}

/// A SCIM client created through the admin API: its token.
async fn client(app: &TestApp, name: &str) -> String {
    let created: Value = app
        .client
        .post(format!("{}/scim/clients", app.admin))
        .json(&json!({ "name": name }))
        .fetch()
        .await
        .expect_status(201)
        .json();
    created["token"].str().to_owned()
}

async fn scim(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let mut request = app
        .client
        .request(
            method.parse().expect("a method"),
            format!("{}/scim/v2{path}", app.public),
        )
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", SCIM_JSON)
            .body(body.to_string());
    }
    request.fetch().await
}

/// A SCIM error with this status (and `scimType`, when given), in the SCIM form.
fn assert_scim_error(res: Reply, status: u16, scim_type: Option<&str>) {
    let res = res.expect_status(status);
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some(SCIM_JSON),
        "{res}"
    );
    let body: Value = res.json();
    assert_eq!(body["schemas"], json!([ERROR]), "{res}");
    assert_eq!(body["status"], status.to_string(), "{res}");
    assert!(body["detail"].is_string(), "{res}");
    if let Some(kind) = scim_type {
        assert_eq!(body["scimType"], kind, "{res}");
    }
}

fn events_named(app: &TestApp, name: &str) -> Vec<Value> {
    app.db
        .events()
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

async fn clients_hold_tokens_and_errors_are_scim(backend: Backend) {
    let app = scim_app(backend, json!({})).await;
    let token = client(&app, "entra-id").await;
    let listed: Value = app.get_json(format!("{}/scim/clients", app.admin)).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(
        !listed.to_string().contains(&token),
        "tokens are never listed"
    );

    assert_scim_error(scim(&app, "nope", "GET", "/Users", None).await, 401, None);
    let unauthenticated = app
        .client
        .get(format!("{}/scim/v2/Users", app.public))
        .fetch()
        .await;
    assert!(header(unauthenticated.headers(), "www-authenticate").is_some());
    assert_scim_error(unauthenticated, 401, None);

    let config: Value = scim(&app, &token, "GET", "/ServiceProviderConfig", None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    let types: Value = scim(&app, &token, "GET", "/ResourceTypes", None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(types["totalResults"], 1);
    assert_eq!(types["Resources"][0]["name"], "User");
    let schemas: Value = scim(&app, &token, "GET", "/Schemas", None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(schemas["totalResults"], 2);

    assert_scim_error(scim(&app, &token, "GET", "/Groups", None).await, 404, None);
    assert_scim_error(
        scim(
            &app,
            &token,
            "GET",
            "/Users?filter=userName%20zz%20%22x%22",
            None,
        )
        .await,
        400,
        Some("invalidFilter"),
    );
    assert_scim_error(
        scim(&app, &token, "GET", "/Users/not-a-uuid", None).await,
        404,
        None,
    );
    let huge = json!({"userName": "x".repeat(1024 * 1024 + 1)});
    assert_scim_error(
        scim(&app, &token, "POST", "/Users", Some(huge)).await,
        413,
        None,
    );
    let raw = app
        .client
        .post(format!("{}/scim/v2/Users", app.public))
        .bearer_auth(&token)
        .header("content-type", SCIM_JSON)
        .body("{not json")
        .fetch()
        .await;
    assert_scim_error(raw, 400, Some("invalidSyntax"));
    assert_scim_error(
        scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({"displayName": "no userName"})),
        )
        .await,
        400,
        Some("invalidValue"),
    );

    // Revoked: the token stops working at once.
    let id = listed[0]["id"].str();
    app.client
        .delete(format!("{}/scim/clients/{id}", app.admin))
        .fetch()
        .await
        .expect_status(204);
    assert_scim_error(scim(&app, &token, "GET", "/Users", None).await, 401, None);
    assert_eq!(
        app.db.count(
            "audit_logs",
            "type IN ('scim_client_created', 'scim_client_revoked')"
        ),
        2
    );
}

async fn entra_id_creates_deactivates_reactivates_and_deletes(backend: Backend) {
    let app = scim_app(backend, json!({})).await;
    let token = client(&app, "entra-id").await;
    let user_name = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1";

    // Entra ID asks whether the user exists before it creates one.
    let miss: Value = scim(
        &app,
        &token,
        "GET",
        &format!("/Users?filter=userName+eq+%22{user_name}%22"),
        None,
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(miss["totalResults"], 0);
    assert_eq!(miss["Resources"], json!([]));

    // Microsoft's "Develop and plan provisioning for a SCIM endpoint": create user.
    let created = scim(
        &app,
        &token,
        "POST",
        "/Users",
        Some(json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": user_name,
            "active": true,
            "emails": [{
                "primary": true,
                "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
            }],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []
        })),
    )
    .await
    .expect_status(201);
    assert_eq!(
        header(created.headers(), "content-type").as_deref(),
        Some(SCIM_JSON)
    );
    let user: Value = created.json();
    let id = user["id"].str().to_owned();
    assert_eq!(
        header(created.headers(), "location").as_deref(),
        Some(format!("https://auth.example/scim/v2/Users/{id}").as_str())
    );
    assert_eq!(
        header(created.headers(), "etag"),
        user["meta"]["version"].as_str().map(str::to_owned)
    );
    assert_eq!(user["userName"], user_name);
    assert_eq!(user["active"], true);
    assert_eq!(user["name"]["givenName"], "givenName");
    assert_eq!(user["emails"][0]["type"], "work");
    assert_eq!(user["meta"]["resourceType"], "User");

    // The same query as a SearchRequest (RFC 7644 §3.4.3), at /Users/.search and at the root.
    for path in ["/Users/.search", "/.search"] {
        let searched: Value = scim(
            &app,
            &token,
            "POST",
            path,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": format!("userName eq \"{user_name}\""),
                "attributes": ["userName"],
                "startIndex": 1, "count": 10
            })),
        )
        .await
        .expect_status(200)
        .json();
        assert_eq!(searched["totalResults"], 1, "{path}: {searched}");
        assert_eq!(searched["Resources"][0]["userName"], user_name, "{path}");
        assert!(
            searched["Resources"][0].get("emails").is_none(),
            "{path}: attributes honoured"
        );
    }

    // The filter Entra ID uses to match finds it now, by userName (any case) and externalId.
    for filter in [
        format!("userName eq \"{}\"", user_name.to_uppercase()),
        "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"".to_owned(),
        "emails[type eq \"work\"].value co \"@testuser.com\"".to_owned(),
    ] {
        let found: Value = app
            .client
            .get(format!("{}/scim/v2/Users", app.public))
            .query(&[("filter", filter.as_str())])
            .bearer_auth(&token)
            .fetch()
            .await
            .expect_status(200)
            .json();
        assert_eq!(found["totalResults"], 1, "{filter}");
        assert_eq!(found["Resources"][0]["id"], id.as_str(), "{filter}");
    }

    // Entra ID's update: capitalised ops, a value-filtered path.
    let patched: Value = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
            ]
        })),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(patched["emails"][0]["value"], "updatedemail@microsoft.com");
    assert_eq!(patched["name"]["familyName"], "updatedFamilyName");
    assert_ne!(patched["meta"]["version"], user["meta"]["version"]);

    // Signed in twice; Entra ID disables the user: both tokens die at once.
    let first = app.login(&id).await;
    let second = app.login(&id).await;
    app.get_me(&first.token).await.expect_status(200);
    let disabled: Value = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        })),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(disabled["active"], false);
    app.get_me(&first.token).await.expect_status(401);
    app.get_me(&second.token).await.expect_status(401);
    app.client
        .post(format!("{}/sessions", app.admin))
        .json(&json!({"user_id": id}))
        .fetch()
        .await
        .expect_status(409);
    let ended = events_named(&app, "session.delete");
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(ended.iter().all(|e| e["payload"]["user_id"] == id.as_str()));
    assert_eq!(
        events_named(&app, "user.deactivated"),
        vec![json!({"event": "user.deactivated", "payload": {"id": id}})]
    );

    // Enabled again: a session may be had.
    scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "True"}]
        })),
    )
    .await
    .expect_status(200);
    let again = app.login(&id).await;
    app.get_me(&again.token).await.expect_status(200);
    assert_eq!(events_named(&app, "user.reactivated").len(), 1);

    // Deleted: the one deletion, by "scim", naming the client; then 404.
    scim(&app, &token, "DELETE", &format!("/Users/{id}"), None)
        .await
        .expect_status(204);
    assert_scim_error(
        scim(&app, &token, "GET", &format!("/Users/{id}"), None).await,
        404,
        None,
    );
    app.get_me(&again.token).await.expect_status(401);
    assert_eq!(events_named(&app, "user.delete").len(), 1);
    assert_eq!(app.rows_of_user(&id), 0);
    let audits: Vec<Value> = app
        .get_json(format!("{}/audit_logs?type=user_deleted", app.admin))
        .await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0]["details"]["by"], "scim");
    assert_eq!(audits[0]["details"]["scim_client"]["name"], "entra-id");
    assert_eq!(
        app.db.count("audit_logs", "type = 'user_updated'"),
        3,
        "one entry per change"
    );
}

async fn okta_puts_the_whole_user_and_patches_active(backend: Backend) {
    let app = scim_app(backend, json!({})).await;
    let token = client(&app, "okta").await;
    // Okta's "SCIM 2.0 protocol reference": create user.
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    let user: Value = scim(&app, &token, "POST", "/Users", Some(body.clone()))
        .await
        .expect_status(201)
        .json();
    let id = user["id"].str().to_owned();
    assert!(
        user.get("password").is_none(),
        "a password is never kept nor shown"
    );
    assert_eq!(user["displayName"], "Test User");
    let login = app.login(&id).await;

    // Okta deactivates with PUT of the whole user, active false.
    let mut put = body.clone();
    put["id"] = json!(id);
    put["active"] = json!(false);
    let replaced: Value = scim(&app, &token, "PUT", &format!("/Users/{id}"), Some(put))
        .await
        .expect_status(200)
        .json();
    assert_eq!(replaced["active"], false);
    app.get_me(&login.token).await.expect_status(401);

    // And reactivates with PATCH replace active, no path.
    let reactivated: Value = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": true}}]
        })),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(reactivated["active"], true);
    assert_eq!(events_named(&app, "user.deactivated").len(), 1);
    assert_eq!(events_named(&app, "user.reactivated").len(), 1);

    // A stale If-Match: 412, nothing changes.
    let stale = app
        .client
        .put(format!("{}/scim/v2/Users/{id}", app.public))
        .bearer_auth(&token)
        .header("if-match", user["meta"]["version"].str())
        .header("content-type", SCIM_JSON)
        .body(body.to_string())
        .fetch()
        .await;
    assert_scim_error(stale, 412, None);

    // userName is compared without case: a second user with it is refused.
    let mut twin = body.clone();
    twin["userName"] = json!("TEST.USER@OKTA.LOCAL");
    twin["emails"] = json!([]);
    assert_scim_error(
        scim(&app, &token, "POST", "/Users", Some(twin)).await,
        409,
        Some("uniqueness"),
    );
    // id is read-only.
    assert_scim_error(
        scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "replace", "path": "id", "value": "x"}]})),
        )
        .await,
        400,
        Some("mutability"),
    );
}

async fn a_held_user_deleted_over_scim_is_scheduled_and_kept(backend: Backend) {
    let app = scim_app(
        backend,
        json!({"account": {"deletion": {"purge_interval": "200ms"}}}),
    )
    .await;
    let token = client(&app, "entra-id").await;
    let user: Value = scim(
        &app,
        &token,
        "POST",
        "/Users",
        Some(json!({"userName": "held", "emails": [{"value": "held@example.com"}]})),
    )
    .await
    .expect_status(201)
    .json();
    let id = user["id"].str().to_owned();
    let login = app.login(&id).await;
    app.client
        .put(format!("{}/users/{id}/hold", app.admin))
        .json(&json!({"hold": true, "reason": "litigation"}))
        .fetch()
        .await
        .expect_status(200);

    scim(&app, &token, "DELETE", &format!("/Users/{id}"), None)
        .await
        .expect_status(204);
    app.get_me(&login.token).await.expect_status(401);
    assert_scim_error(
        scim(&app, &token, "GET", &format!("/Users/{id}"), None).await,
        404,
        None,
    );
    // Several purge passes later, the held user is still there, scheduled.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let admin_view: Value = app.get_json(format!("{}/users/{id}", app.admin)).await;
    assert_eq!(admin_view["deletion"]["hold"], true, "{admin_view}");
    assert!(
        admin_view["deletion"]["purge_after"].is_string(),
        "{admin_view}"
    );
    assert_eq!(events_named(&app, "user.delete").len(), 0);

    // Released: purged at the next pass.
    app.client
        .put(format!("{}/users/{id}/hold", app.admin))
        .json(&json!({"hold": false}))
        .fetch()
        .await
        .expect_status(200);
    let mut purged = false;
    for _ in 0..50 {
        if app.db.count("users", &format!("id = '{id}'")) == 0 {
            purged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(purged, "purged within 5 s of the release");
    assert_eq!(events_named(&app, "user.delete").len(), 1);
}

/// The filter's answer, as served, is what the filter says of every user, evaluated here on the
/// whole list (so the index lookups the server narrows by never change an answer); and any
/// text as a filter is a result or 400 `invalidFilter`, never a 500.
async fn served_filters_agree_with_an_in_memory_evaluation(backend: Backend) {
    use domain::scim::filter::Filter;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let app = scim_app(backend, json!({})).await;
    let token = client(&app, "property").await;
    let kinds = ["work", "home"];
    for i in 0..12 {
        let mut user = json!({
            "userName": format!("User{i}@Example.com"),
            "active": i % 3 != 0,
            "displayName": format!("Person {}", i % 4),
            "name": {"givenName": format!("Given{}", i % 5), "familyName": "Family"},
            "emails": [{"value": format!("u{i}@{}.example", kinds[i % 2]), "type": kinds[i % 2]}]
        });
        if i % 2 == 0 {
            user["externalId"] = json!(format!("Ext-{i}"));
        }
        scim(&app, &token, "POST", "/Users", Some(user))
            .await
            .expect_status(201);
    }
    let all: Value = scim(&app, &token, "GET", "/Users?count=200", None)
        .await
        .expect_status(200)
        .json();
    let everyone = all["Resources"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("a list of users: {all}"));
    assert_eq!(everyone.len(), 12);

    let values = prop_oneof![
        (0..14usize).prop_map(|i| format!("\"user{i}@example.COM\"")),
        (0..14usize).prop_map(|i| format!("\"Ext-{i}\"")),
        (0..14usize).prop_map(|i| format!("\"ext-{i}\"")),
        (0..14usize).prop_map(|i| format!("\"u{i}@work.example\"")),
        Just("\"example\"".to_owned()),
        Just("\"Person 1\"".to_owned()),
        Just("\"Given2\"".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
    ];
    let paths = prop_oneof![
        Just("userName"),
        Just("externalId"),
        Just("emails.value"),
        Just("emails"),
        Just("emails[type eq \"work\"].value"),
        Just("name.givenName"),
        Just("displayName"),
        Just("active"),
        Just("id"),
        Just("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
    ];
    let ops = prop_oneof![
        Just("eq"),
        Just("ne"),
        Just("co"),
        Just("sw"),
        Just("ew"),
        Just("gt"),
        Just("le"),
    ];
    let leaf = prop_oneof![
        (paths.clone(), ops, values).prop_map(|(p, o, v)| format!("{p} {o} {v}")),
        paths.prop_map(|p| format!("{p} pr")),
    ];
    let filters = leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
            inner.prop_map(|f| format!("not ({f})")),
        ]
    });
    let text = "\\PC{0,40}";
    let mut runner = TestRunner::default();
    for _ in 0..150 {
        let filter = filters
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("generating a filter: {e}"))
            .current();
        let served = app
            .client
            .get(format!("{}/scim/v2/Users", app.public))
            .query(&[("filter", filter.as_str()), ("count", "200")])
            .bearer_auth(&token)
            .fetch()
            .await;
        let parsed = Filter::parse(&filter);
        let Ok(parsed) = parsed else {
            assert_scim_error(served, 400, Some("invalidFilter"));
            continue;
        };
        let served: Value = served.expect_status(200).json();
        let mut got: Vec<String> = served["Resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{filter}: {served}"))
            .iter()
            .map(|u| u["id"].str().to_owned())
            .collect();
        let mut expected: Vec<String> = everyone
            .iter()
            .filter(|u| parsed.matches(u))
            .map(|u| u["id"].str().to_owned())
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{filter}");
        assert_eq!(served["totalResults"], expected.len(), "{filter}");
    }
    let arbitrary = text;
    for _ in 0..150 {
        let filter = arbitrary
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("generating text: {e}"))
            .current();
        let res = app
            .client
            .get(format!("{}/scim/v2/Users", app.public))
            .query(&[("filter", filter.as_str())])
            .bearer_auth(&token)
            .fetch()
            .await;
        match res.status().as_u16() {
            200 => {}
            400 => assert_scim_error(res, 400, Some("invalidFilter")),
            _ => panic!("{filter:?}: {res}"),
        }
    }
}

/// A user the admin API made (no userName) is deactivated over SCIM as any other, keeps its
/// verified address, and may be given a userName later (never lose it again); and the
/// request forms the OpenAPI document promises are read as it says.
async fn users_made_elsewhere_and_requests_as_documented(backend: Backend) {
    let app = scim_app(backend, json!({})).await;
    let token = client(&app, "entra-id").await;
    let id = app.create_user("kept@example.com").await;
    let login = app.login(&id).await;
    let shown: Value = scim(&app, &token, "GET", &format!("/Users/{id}"), None)
        .await
        .expect_status(200)
        .json();
    assert!(shown.get("userName").is_none(), "{shown}");

    let deactivate = json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let patched: Value = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{id}"),
        Some(deactivate),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(patched["active"], false);
    app.get_me(&login.token).await.expect_status(401);
    let user: Value = app
        .client
        .get(format!("{}/users/{id}", app.admin))
        .fetch()
        .await
        .expect_status(200)
        .json();
    assert_eq!(user["emails"][0]["is_verified"], true, "{user}");

    let named = json!({"Operations": [{"op": "add", "path": "userName", "value": "kept"}]});
    scim(&app, &token, "PATCH", &format!("/Users/{id}"), Some(named))
        .await
        .expect_status(200);
    let unnamed = json!({"Operations": [{"op": "remove", "path": "userName"}]});
    assert_scim_error(
        scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{id}"),
            Some(unnamed),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    // Another extension's attributes are ignored, by PATCH as by POST.
    let custom = json!({"Operations": [{"op": "add",
        "path": "urn:example:params:scim:schemas:extension:custom:2.0:User:badge", "value": "7"}]});
    scim(&app, &token, "PATCH", &format!("/Users/{id}"), Some(custom))
        .await
        .expect_status(200);

    // One address twice in one body collides with itself, as in the admin API.
    let twice = json!({"userName": "twice", "emails": [
        {"value": "t@example.com"}, {"value": "T@example.com"}]});
    assert_scim_error(
        scim(&app, &token, "POST", "/Users", Some(twice)).await,
        409,
        Some("uniqueness"),
    );
    // A SearchRequest: members of other names ignored, the defined ones typed.
    let search = |body: Value| scim(&app, &token, "POST", "/Users/.search", Some(body));
    let found: Value = search(json!({"filter": "userName eq \"KEPT\"", "count": 5.0, "sortBy": 1}))
        .await
        .expect_status(200)
        .json();
    assert_eq!(found["totalResults"], 1, "{found}");
    // Any integral number within int64 is an integer, however written (a count below zero
    // is zero, RFC 7644 §3.4.2.4); a fraction is not, nor a number past int64 (the OpenAPI
    // document's bounds).
    for count in [json!(-3138223846213558.0), json!(-9.2e18), json!(i64::MIN)] {
        let page: Value = search(json!({"count": count, "startIndex": count}))
            .await
            .expect_status(200)
            .json();
        assert!(
            page["Resources"].as_array().is_none_or(Vec::is_empty),
            "{count}: {page}"
        );
    }
    for wrong in [
        json!(2.5),
        json!(9223372036854775808u64),
        json!(9.223_372_036_854_776e18),
        json!(-9.223_372_036_854_776e18),
        json!(1e300),
    ] {
        assert_scim_error(
            search(json!({"startIndex": wrong})).await,
            400,
            Some("invalidValue"),
        );
    }
    assert_scim_error(
        search(json!({"count": "5"})).await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        search(json!({"attributes": ["userName,emails"]})).await,
        400,
        Some("invalidPath"),
    );
    assert_scim_error(
        search(json!({"schemas": 1})).await,
        400,
        Some("invalidSyntax"),
    );
    // An empty attribute list selects nothing away; a bad path in either list is refused.
    let all: Value = scim(
        &app,
        &token,
        "GET",
        &format!("/Users/{id}?excludedAttributes="),
        None,
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(all["emails"][0]["value"], "kept@example.com", "{all}");
    assert_scim_error(
        scim(
            &app,
            &token,
            "GET",
            &format!("/Users/{id}?attributes=userName&excludedAttributes=a,,b"),
            None,
        )
        .await,
        400,
        Some("invalidPath"),
    );
}

on_both_backends!(
    clients_hold_tokens_and_errors_are_scim,
    entra_id_creates_deactivates_reactivates_and_deletes,
    okta_puts_the_whole_user_and_patches_active,
    a_held_user_deleted_over_scim_is_scheduled_and_kept,
    served_filters_agree_with_an_in_memory_evaluation,
    users_made_elsewhere_and_requests_as_documented,
);
