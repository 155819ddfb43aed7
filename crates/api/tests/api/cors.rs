//! CORS: exact origins, preflights without auth, errors readable by the page.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::header::HeaderMap;
use serde_json::json;

fn access_control_headers(h: &HeaderMap) -> Vec<String> {
    h.keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-allow"))
        .collect()
}

async fn preflight_from_an_allowed_origin(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/user", app.public))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "DELETE")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-hanko-sdk",
        )
        .fetch()
        .await;
    assert_eq!(res.status(), 204);
    let h = res.headers();
    assert_eq!(
        header(h, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    assert_eq!(
        header(h, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let methods = header(h, "access-control-allow-methods").expect("present and well-formed");
    assert!(
        methods.contains("DELETE") && methods.contains("GET"),
        "{methods}"
    );
    assert_eq!(
        header(h, "access-control-allow-headers").as_deref(),
        Some("authorization, content-type, x-hanko-sdk")
    );
    assert_eq!(header(h, "access-control-max-age").as_deref(), Some("7200"));
    let vary: Vec<String> = h
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    assert!(vary.iter().any(|v| v == "Origin"), "{vary:?}");
}

async fn lookalike_origins_get_no_cors_headers(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let login = app.user_with_session("l@example.com").await;
    for origin in [
        "https://app.example.evil.com",
        "https://app.example:8443",
        "http://app.example",
        "null",
        "https://evilapp.example",
        "https://app.exampl",
        "https://app.example.",
    ] {
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, format!("{}/user", app.public))
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .fetch()
            .await;
        assert_eq!(
            access_control_headers(preflight.headers()),
            Vec::<String>::new(),
            "preflight {origin}"
        );
        let actual = app
            .client
            .get(format!("{}/me", app.public))
            .bearer_auth(&login.token)
            .header("origin", origin)
            .fetch()
            .await;
        assert_eq!(
            access_control_headers(actual.headers()),
            Vec::<String>::new(),
            "GET {origin}"
        );
        assert!(header(actual.headers(), "access-control-expose-headers").is_none());
    }
}

async fn errors_carry_cors_headers(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    for (method, path, status) in [
        (reqwest::Method::DELETE, "/user", 401),
        (reqwest::Method::GET, "/me", 401),
        (reqwest::Method::GET, "/nowhere", 404),
        (reqwest::Method::PUT, "/user", 405),
    ] {
        let res = app
            .client
            .request(method, format!("{}{path}", app.public))
            .header("origin", ORIGIN)
            .fetch()
            .await;
        assert_eq!(res.status().as_u16(), status);
        let h = res.headers();
        assert_eq!(
            header(h, "access-control-allow-origin").as_deref(),
            Some(ORIGIN),
            "{path}"
        );
        assert_eq!(
            header(h, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        let expose = header(h, "access-control-expose-headers").expect("present and well-formed");
        assert!(
            expose.contains("X-Request-Id")
                && expose.contains("X-Auth-Token")
                && expose.contains("X-Session-Lifetime")
        );
    }
}

async fn no_origin_no_cors_headers(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let res = app.client.get(format!("{}/me", app.public)).fetch().await;
    assert!(access_control_headers(res.headers()).is_empty());
    assert!(header(res.headers(), "access-control-expose-headers").is_none());
    // Shared caches must still key on Origin: the answer differs when one is sent.
    for path in [
        "/me",
        "/.well-known/config",
        "/.well-known/jwks.json",
        "/no/such/path",
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.public))
            .fetch()
            .await;
        let vary: Vec<&str> = res
            .headers()
            .get_all("vary")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(vary.contains(&"Origin"), "{path}: Vary {vary:?}");
    }
}

async fn deletion_from_an_allowed_origin(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let login = app.user_with_session("browser@example.com").await;
    let res = app
        .client
        .delete(format!("{}/user", app.public))
        .bearer_auth(&login.token)
        .header("origin", ORIGIN)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .fetch()
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        header(res.headers(), "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    assert_eq!(app.rows_of_user(&login.user_id), 0);
}

async fn wildcard_is_never_sent_with_credentials(backend: Backend) {
    let app = TestApp::builder(backend).config(json!({"server": {"public": {"cors": {"allow_origins": ["*"], "unsafe_wildcard_origin_allowed": true}}}})).start()
    .await;
    let res = app
        .client
        .get(format!("{}/me", app.public))
        .header("origin", "https://whoever.example")
        .fetch()
        .await;
    assert_eq!(
        header(res.headers(), "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(header(res.headers(), "access-control-allow-credentials").is_none());
}

on_both_backends!(
    preflight_from_an_allowed_origin,
    lookalike_origins_get_no_cors_headers,
    errors_carry_cors_headers,
    no_origin_no_cors_headers,
    deletion_from_an_allowed_origin,
    wildcard_is_never_sent_with_credentials,
);
