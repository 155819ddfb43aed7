//! The request metrics middleware: every request of a listener is counted and timed by route
//! and status, failures of other middleware (such as the admin guard) included.

use crate::metrics::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error};
use std::time::Instant;

/// Records every request of a listener. Unmatched paths share one label, so scanners cannot
/// blow up the number of series.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let listener = req
        .app_data::<web::Data<Listener>>()
        .map_or("public", |l| l.0);
    let result = next.call(req).await;
    if let Some(metrics) = metrics {
        let (route, status) = match &result {
            Ok(res) => (res.request().match_pattern(), res.status().as_u16()),
            Err(e) => (None, e.as_response_error().status_code().as_u16()),
        };
        metrics.observe_request(
            listener,
            route.unwrap_or_else(|| "unmatched".to_owned()),
            status,
            started.elapsed().as_secs_f64(),
        );
    }
    result
}

/// Which listener a request arrived on, for the `listener` label.
pub struct Listener(pub &'static str);
