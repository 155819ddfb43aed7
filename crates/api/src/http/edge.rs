//! The one middleware every request of a listener passes: request id, metrics, the request's
//! limits (header size, body deadline), `no-store` and, on the public listener, CORS. Each concern keeps its own module; this layer only runs
//! them in that order, around one future per request. (One `from_fn` layer per concern boxed a
//! future and a service call per layer per request: measured in bench/README.md.)

use super::cors::{CorsPolicy, CorsStep};
use super::error::error_response;
use super::limits;
use super::metrics::observe;
use super::no_store::NoStore;
use super::request_id;
use crate::metrics::Metrics;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::HeaderValue;
use actix_web::http::StatusCode;
use actix_web::Error;
use futures_util::future::LocalBoxFuture;
use std::future::{ready, Ready};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the edge does on one listener, built once per worker.
#[derive(Clone)]
pub struct Edge(Rc<EdgePolicy>);

struct EdgePolicy {
    /// The `listener` label of the request metrics.
    listener: &'static str,
    metrics: Arc<Metrics>,
    /// CORS, and `no-store` for credentialed requests only: the public listener. `None`: the
    /// admin listener, which refuses browsers' requests and stores none of its answers.
    cors: Option<Arc<CorsPolicy>>,
    /// `server.body_timeout`.
    body_timeout: Duration,
}

impl Edge {
    /// The public listener: request id, metrics, CORS, `no-store`.
    pub fn public(metrics: Arc<Metrics>, cors: Arc<CorsPolicy>, body_timeout: Duration) -> Self {
        Self(Rc::new(EdgePolicy {
            listener: "public",
            metrics,
            cors: Some(cors),
            body_timeout,
        }))
    }

    /// The admin listener: request id, metrics and `no-store` on every answer.
    pub fn admin(metrics: Arc<Metrics>, body_timeout: Duration) -> Self {
        Self(Rc::new(EdgePolicy {
            listener: "admin",
            metrics,
            cors: None,
            body_timeout,
        }))
    }
}

impl<S, B> Transform<S, ServiceRequest> for Edge
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = EdgeService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(EdgeService {
            service,
            policy: self.0.clone(),
        }))
    }
}

pub struct EdgeService<S> {
    service: S,
    policy: Rc<EdgePolicy>,
}

impl<S, B> Service<ServiceRequest> for EdgeService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let id = request_id::assign(&req);
        let policy = self.policy.clone();
        if limits::oversized_headers(&req) {
            let answer = error_response(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
            let result = Ok(req.into_response(answer).map_into_right_body());
            return Box::pin(ready(policy.finish(result, started, id)));
        }
        let late_body = limits::body_deadline(&mut req, policy.body_timeout);
        let (cors, no_store) = match &policy.cors {
            Some(cors) => match cors.step(&req) {
                CorsStep::Preflight(answer) => {
                    // Answered here, without authentication; counted and echoed all the same.
                    let result = Ok(req.into_response(answer).map_into_right_body());
                    return Box::pin(ready(policy.finish(result, started, id)));
                }
                CorsStep::PassOn(headers) => (Some(headers), NoStore::for_request(req.headers())),
            },
            None => (None, NoStore::always()),
        };
        let answer = self.service.call(req);
        Box::pin(async move {
            let result = answer.await.map(|res| {
                let mut res = if late_body.is_some_and(|late| late.get()) {
                    res.into_response(error_response(StatusCode::REQUEST_TIMEOUT))
                        .map_into_right_body()
                } else {
                    res.map_into_left_body()
                };
                let headers = res.headers_mut();
                no_store.apply(headers);
                if let Some(cors) = cors {
                    cors.add_to(headers);
                }
                res
            });
            policy.finish(result, started, id)
        })
    }
}

impl EdgePolicy {
    fn finish<B>(
        &self,
        result: Result<ServiceResponse<B>, Error>,
        started: Instant,
        id: HeaderValue,
    ) -> Result<ServiceResponse<B>, Error> {
        observe(&self.metrics, self.listener, &result, started);
        // Our middleware answer refusals as responses (never `Err`), so every answer is echoed.
        result.map(|mut res| {
            request_id::echo(&mut res, id);
            res
        })
    }
}
