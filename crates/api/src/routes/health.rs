//! `/health/alive` and `/health/ready` (both listeners).

use crate::report::Report;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use domain::ports::Health;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The database ping is shared by all probes within this long, so a flood of readiness
/// requests (the public listener is open to anyone) costs one query a second, not one each.
const PING_TTL: Duration = Duration::from_secs(1);

/// The last database ping: when, and whether it answered.
#[derive(Default)]
pub struct DatabasePing(Mutex<Option<(Instant, bool)>>);

impl DatabasePing {
    fn fresh(&self) -> Option<bool> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .filter(|(at, _)| at.elapsed() < PING_TTL)
            .map(|(_, ok)| ok)
    }

    fn record(&self, ok: bool) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), ok));
    }
}

/// `{"alive": true}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Alive {
    pub alive: bool,
}

/// `{"ready": …}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Ready {
    pub ready: bool,
}

#[utoipa::path(
    get,
    path = "/health/alive",
    operation_id = "alive",
    tag = "Health",
    summary = "The process answers",
    responses((status = 200, description = "Alive", body = Alive))
)]
pub async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(Alive { alive: true })
}

/// Ready when the database answers (within the pool timeout) and a key can sign.
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "ready",
    tag = "Health",
    summary = "The database answers, a key can sign and every stored key opens",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready", body = Ready),
    )
)]
pub async fn ready(state: web::Data<AppState>, ping: web::Data<DatabasePing>) -> HttpResponse {
    let db_ok = match ping.fresh() {
        Some(ok) => ok,
        None => {
            let db = state.db.clone();
            let ok = match state.offload.run("readiness", move || db.ping()).await {
                Ok(()) => true,
                Err(e) => {
                    log::warn!("{}", Report(&e));
                    false
                }
            };
            ping.record(ok);
            ok
        }
    };
    // A stored key no configured secret opens: tokens another instance signs with it would be
    // refused here (its kid is logged at every reload until it is fixed).
    let keys_ok = state.keys.has_signing_key(Utc::now()) && state.keys.opens_every_stored_key();
    let ready = db_ok && keys_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status).json(Ready { ready })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/health/alive", "GET").route(web::get().to(alive)))
        .service(super::resource("/health/ready", "GET").route(web::get().to(ready)));
}
