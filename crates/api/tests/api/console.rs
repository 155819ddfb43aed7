//! The operator console (docs/operations.md "Operator console"): its files are served to anyone with the
//! policy that keeps the page to itself, and the admin guard admits the page's own requests
//! while refusing every other origin's, with or without the api key. The console in a browser
//! is `e2e/console.test.mjs`.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

const KEY: &str = "console-test-api-key-0123456789abcdef";
const POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A request as the browser sends it for a page of `origin` (`Sec-Fetch-Site` as it would say).
fn from_page(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    origin: &str,
    site: &str,
    key: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = app
        .client
        .request(method, format!("{}{path}", app.admin))
        .header("origin", origin)
        .header("sec-fetch-site", site)
        .header("sec-fetch-mode", "cors");
    match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

async fn key_count(app: &TestApp, key: Option<&str>) -> usize {
    let request = app.client.get(format!("{}/jwks", app.admin));
    let request = match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    };
    let keys: Value = request.fetch().await.expect_status(200).json();
    keys.as_array().expect("a list of keys").len()
}

async fn the_console_s_requests_pass_and_other_origins_never(backend: Backend) {
    for key in [Some(KEY), None] {
        let config = match key {
            Some(key) => json!({"server": {"admin": {"api_key": key}}}),
            None => json!({}),
        };
        let app = TestApp::builder(backend).config(config).start().await;
        let own = app.admin.clone();

        // The files: no key needed, the page's policy on each, nothing inline.
        let page = app
            .client
            .get(format!("{own}/console/"))
            .fetch()
            .await
            .expect_status(200);
        let html = page.text();
        for (name, value) in [
            ("content-type", "text/html; charset=utf-8"),
            ("content-security-policy", POLICY),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(
                header(page.headers(), name).as_deref(),
                Some(value),
                "{page}"
            );
        }
        assert!(
            html.contains(r#"<script src="console.js" defer></script>"#)
                && html.matches("<script").count() == 1
                && !html.contains("style="),
            "one script, by file; no inline code or style: {html}"
        );
        for (file, kind) in [
            ("console.js", "text/javascript; charset=utf-8"),
            ("console.css", "text/css; charset=utf-8"),
        ] {
            let answer = app
                .client
                .get(format!("{own}/console/{file}"))
                .fetch()
                .await
                .expect_status(200);
            assert_eq!(
                header(answer.headers(), "content-type").as_deref(),
                Some(kind)
            );
            assert_eq!(
                header(answer.headers(), "content-security-policy").as_deref(),
                Some(POLICY)
            );
        }
        let script = app.get_text(format!("{own}/console/console.js")).await;
        assert!(
            !script.contains("innerHTML") && !script.contains("insertAdjacentHTML"),
            "the script never parses API values as markup"
        );

        // The console's own requests: same origin, as the browser marks them.
        let before = key_count(&app, key).await;
        let listed = from_page(
            &app,
            reqwest::Method::GET,
            "/users",
            &own,
            "same-origin",
            key,
        )
        .fetch()
        .await
        .expect_status(200);
        assert_eq!(
            header(listed.headers(), "x-total-count").as_deref(),
            Some("0")
        );
        from_page(
            &app,
            reqwest::Method::POST,
            "/jwks/rotate",
            &own,
            "same-origin",
            key,
        )
        .fetch()
        .await
        .expect_status(201);
        assert_eq!(key_count(&app, key).await, before + 1);

        // Every other origin: 403 in our error shape, the key changes nothing.
        let port = app.admin.rsplit(':').next().expect("a port");
        let other_port = format!(
            "http://127.0.0.1:{}",
            port.parse::<u16>().expect("a port") ^ 1
        );
        for (origin, site) in [
            (other_port.as_str(), "same-site"),
            (other_port.as_str(), "cross-site"),
            ("https://evil.example", "cross-site"),
            ("null", "cross-site"),
            (own.as_str(), "same-site"),
            (own.as_str(), "cross-site"),
        ] {
            for method in [reqwest::Method::POST, reqwest::Method::OPTIONS] {
                let refused = from_page(&app, method.clone(), "/jwks/rotate", origin, site, key)
                    .fetch()
                    .await;
                assert_error(refused, 403);
            }
            let refused = from_page(&app, reqwest::Method::GET, "/users", origin, site, key)
                .fetch()
                .await;
            assert_error(refused, 403);
        }
        // An origin the browser does not qualify (older browsers send no Sec-Fetch-Site).
        let refused = app
            .client
            .post(format!("{own}/jwks/rotate"))
            .header("origin", "https://evil.example")
            .bearer_auth(KEY)
            .fetch()
            .await;
        assert_error(refused, 403);
        assert_eq!(
            key_count(&app, key).await,
            before + 1,
            "no key from another origin"
        );
        // The files themselves may be opened from a link anywhere.
        app.client
            .get(format!("{own}/console/"))
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "navigate")
            .fetch()
            .await
            .expect_status(200);
        if key.is_some() {
            // The page's own origin still needs the key for the API.
            let refused = from_page(
                &app,
                reqwest::Method::GET,
                "/users",
                &own,
                "same-origin",
                None,
            )
            .fetch()
            .await;
            assert_error(refused, 401);
        } else {
            // DNS rebinding: the browser thinks it is same-origin, the Host gives it away.
            let refused = app
                .client
                .get(format!("{own}/users"))
                .header("host", "rebound.example:8001")
                .header("origin", "http://rebound.example:8001")
                .header("sec-fetch-site", "same-origin")
                .fetch()
                .await;
            assert_error(refused, 403);
        }
    }
}

on_both_backends!(the_console_s_requests_pass_and_other_origins_never);
