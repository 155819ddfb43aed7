//! The operator console (docs/operations.md "Operator console"): one page, its script and its style,
//! embedded in the binary and served on the admin listener. The page talks only to the admin
//! API of its own origin; the guard (`http::admin_guard`) lets those requests through and
//! refuses every other origin's.

use super::resource;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

/// No script but our file, no inline code, no frames of us, no form or base elsewhere.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const PAGE: &[u8] = include_bytes!("../../console/index.html");
const SCRIPT: &[u8] = include_bytes!("../../console/console.js");
const STYLE: &[u8] = include_bytes!("../../console/console.css");

/// One embedded file with the console's security headers.
fn file(body: &'static [u8], content_type: &'static str) -> HttpResponse {
    let mut answer = HttpResponse::Ok()
        .content_type(content_type)
        .body(web::Bytes::from_static(body));
    let headers = answer.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CROSS_ORIGIN_OPENER_POLICY, "same-origin"),
        (header::CROSS_ORIGIN_RESOURCE_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    answer
}

#[utoipa::path(
    get,
    path = "/console/",
    operation_id = "console",
    tag = "Console",
    summary = "The operator console",
    description = "A web page over this API, for the people who run the service. Needs no key to load; \
        it asks for the api key and keeps it in the tab's sessionStorage.",
    responses((status = 200, description = "The page", content_type = "text/html", body = String))
)]
pub async fn page() -> HttpResponse {
    file(PAGE, "text/html; charset=utf-8")
}

#[utoipa::path(
    get,
    path = "/console/console.js",
    operation_id = "consoleScript",
    tag = "Console",
    summary = "The console's script",
    responses((status = 200, description = "The script", content_type = "text/javascript", body = String))
)]
pub async fn script() -> HttpResponse {
    file(SCRIPT, "text/javascript; charset=utf-8")
}

#[utoipa::path(
    get,
    path = "/console/console.css",
    operation_id = "consoleStyle",
    tag = "Console",
    summary = "The console's style sheet",
    responses((status = 200, description = "The style sheet", content_type = "text/css", body = String))
)]
pub async fn style() -> HttpResponse {
    file(STYLE, "text/css; charset=utf-8")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/console/", "GET").route(web::get().to(page)))
        .service(resource("/console/console.js", "GET").route(web::get().to(script)))
        .service(resource("/console/console.css", "GET").route(web::get().to(style)));
}
