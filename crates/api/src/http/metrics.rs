//! Request metrics: every request of a listener is counted and timed by route and status.

use crate::metrics::Metrics;
use actix_web::dev::ServiceResponse;
use actix_web::{Error, HttpRequest};
use std::borrow::Cow;
use std::time::Instant;

/// Records one request of a listener, failures of other middleware (such as the admin guard)
/// included. Unmatched paths share one label, so scanners cannot blow up the number of series.
pub fn observe<B>(
    metrics: &Metrics,
    listener: &'static str,
    result: &Result<ServiceResponse<B>, Error>,
    started: Instant,
) {
    let (route, status) = match result {
        Ok(res) => (route_of(res.request()), res.status().as_u16()),
        Err(e) => (
            Cow::Borrowed(UNMATCHED),
            e.as_response_error().status_code().as_u16(),
        ),
    };
    metrics.observe_request(listener, route, status, started.elapsed().as_secs_f64());
}

/// The label of requests no route took.
const UNMATCHED: &str = "unmatched";

/// The pattern of the route that took a request, attached to the route as data (see
/// `routes::resource`), so labelling a request costs no second walk of the routing table.
#[derive(Clone, Copy, Debug)]
pub struct RouteLabel(pub &'static str);

fn route_of(req: &HttpRequest) -> Cow<'static, str> {
    match req.app_data::<RouteLabel>() {
        Some(label) => Cow::Borrowed(label.0),
        // A route registered without its label: the router knows its pattern.
        None => req
            .match_pattern()
            .map_or(Cow::Borrowed(UNMATCHED), Cow::Owned),
    }
}
