//! A real local webhook receiver: records every attempt, fails on demand, and notices
//! overlapping attempts for one `Webhook-Id`.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Attempt {
    /// `webhook-id`, or a SET's or logout token's `jti`: the event id, stable across retries.
    pub webhook_id: String,
    /// The body as JSON, or as a JSON string when it is not JSON (a SET is a compact JWS).
    pub body: Value,
    pub headers: HashMap<String, String>,
    pub status: u16,
}

impl Attempt {
    /// A header's value (names are lowercase).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {name} header: {self:?}"))
    }
}

/// The `jti` of a compact JWS, read without verifying (the tests verify separately).
fn jti_of(jws: &str) -> Option<String> {
    use base64::Engine;
    let payload = jws.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()?,
    )
    .ok()?;
    claims["jti"].as_str().map(str::to_owned)
}

#[derive(Default)]
pub struct ReceiverState {
    /// Fail the first N attempts of every event with 500.
    pub fail_first: AtomicUsize,
    /// Fail every attempt while set.
    pub failing: AtomicBool,
    /// Hold every attempt open this many milliseconds (at least 15).
    pub hold_ms: AtomicU64,
    /// Answer every attempt with this status and body instead (after recording it).
    pub answer: Mutex<Option<(u16, String)>>,
    attempts: Mutex<Vec<Attempt>>,
    per_id: Mutex<HashMap<String, usize>>,
    in_flight: Mutex<HashMap<String, usize>>,
    pub overlaps: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<ReceiverState>,
}

async fn hook(req: HttpRequest, body: web::Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    let raw = String::from_utf8_lossy(&body).into_owned();
    let body: Value = serde_json::from_str(&raw).unwrap_or(Value::String(raw.clone()));
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    // A back-channel logout is a form: `logout_token=<JWT>`.
    let jws = raw.strip_prefix("logout_token=").unwrap_or(&raw);
    let id = headers
        .get("webhook-id")
        .cloned()
        .or_else(|| jti_of(jws))
        .expect("a webhook-id header or a SET with a jti");
    let seen = {
        let mut per_id = state.per_id.lock().unwrap_or_else(|e| e.into_inner());
        let n = per_id.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    {
        let mut flying = state.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = flying.entry(id.clone()).or_default();
        *n += 1;
        if *n > 1 {
            state.overlaps.fetch_add(1, Ordering::SeqCst);
        }
    }
    // Hold the attempt open a little, so a concurrent duplicate would overlap.
    let hold = state.hold_ms.load(Ordering::SeqCst).max(15);
    actix_rt::time::sleep(Duration::from_millis(hold)).await;
    if let Some(n) = state
        .in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&id)
    {
        *n -= 1;
    }
    let fail =
        state.failing.load(Ordering::SeqCst) || seen <= state.fail_first.load(Ordering::SeqCst);
    let fixed = state
        .answer
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let (status, answer_body) = match fixed {
        Some((status, body)) => (status, body),
        None if fail => (500, String::new()),
        None => (200, String::new()),
    };
    state
        .attempts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Attempt {
            webhook_id: id,
            body,
            headers,
            status,
        });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a valid status"))
        .content_type("application/json")
        .body(answer_body)
}

impl Receiver {
    pub fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/hook", web::post().to(hook))
        })
        .workers(2)
        .bind(("127.0.0.1", 0))
        .unwrap_or_else(|e| panic!("{e}"));
        let port = server.addrs()[0].port();
        actix_rt::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
        }
    }

    /// How the server names an unnamed hook at this URL: scheme, host and port.
    pub fn origin(&self) -> &str {
        self.url.trim_end_matches("/hook")
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.state
            .attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn delivered(&self) -> Vec<Attempt> {
        self.attempts()
            .into_iter()
            .filter(|a| a.status == 200)
            .collect()
    }

    /// Waits until `done` holds for the attempts so far (up to 30 s).
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Attempt]) -> bool) -> Vec<Attempt> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let attempts = self.attempts();
            if done(&attempts) {
                return attempts;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {attempts:?}"
            );
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
