//! `/health/alive` and `/health/ready` (both listeners).

use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use domain::ports::Health;
use serde_json::json;

pub async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "alive": true }))
}

/// Ready when the database answers (within the pool timeout) and a key can sign.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let db_ok = match web::block(move || db.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            log::warn!("readiness: {e}");
            false
        }
        Err(e) => {
            log::warn!("readiness: {e}");
            false
        }
    };
    let keys_ok = state.keys.has_signing_key(Utc::now());
    let ready = db_ok && keys_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status).json(json!({ "ready": ready }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/health/alive", "GET").route(web::get().to(alive)))
        .service(super::resource("/health/ready", "GET").route(web::get().to(ready)));
}
