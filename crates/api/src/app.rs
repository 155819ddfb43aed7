//! Wiring: state, the two listeners, background workers.

use crate::config::Config;
use crate::delivery::destinations::{AddressPolicy, Destinations};
use crate::delivery::dispatcher::Dispatcher;
use crate::delivery::Publisher;
use crate::http::admin_guard::{self, AdminGuard};
use crate::http::cors::CorsPolicy;
use crate::http::edge::Edge;
use crate::http::error::{bad_request, not_found};
use crate::lifecycle::Workers;
use crate::metrics::Metrics;
use crate::openapi::{self, ServedDocument};
use crate::report::Report;
use crate::routes;
use crate::routes::health::DatabasePing;
use crate::services::{Parts, Services};
use crate::sessions::last_used::TOUCH_INTERVAL;
use crate::sessions::{SessionLookup, SessionTouches};
use crate::state::AppState;
use crate::workers::key_refresh::KeyRefresh;
use crate::workers::last_used::LastUsed;
use crate::workers::purge::Purger;
use crate::workers::retention::Retention;
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition, Logger};
use actix_web::{web, App, HttpServer};
use chrono::Utc;
use jwks::KeyManager;
use persistence::Offload;
use persistence::{Database, DeletionPlan};
use std::net::TcpListener;
use std::sync::Arc;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("migrating the database: {0}")]
    Migrate(#[from] persistence::MigrationError),
    #[error("binding {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("loading signing keys: {0}")]
    Keys(#[from] jwks::KeyError),
    #[error("{0}")]
    Blocking(#[from] persistence::OffloadError),
    #[error("invalid configuration: {0}")]
    Config(domain::config::ConfigError),
    #[error("starting the session lookup threads: {0}")]
    Threads(std::io::Error),
}

/// Start-up choices that are not configuration.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Apply pending migrations before serving.
    pub migrate: bool,
    /// HTTP worker threads per listener (`None`: one per core).
    pub workers: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            migrate: true,
            workers: None,
        }
    }
}

/// A built, bound, not yet running server.
pub struct Application {
    public_port: u16,
    admin_port: u16,
    public: Server,
    admin: Server,
    state: AppState,
    parts: Parts,
    dispatcher: Dispatcher,
}

/// Threads serving batched session lookups. Two: one query in flight while the next batch
/// gathers; more threads mean smaller batches (measured: 2 beats 4 and 8 on /me).
const LOOKUP_THREADS: usize = 2;
/// How long the workers get, after the listeners have drained, to finish what they have in hand.
const WORKER_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

const LOG_FORMAT: &str = "%a \"%r\" %s %b %Dms %{X-Request-Id}o";

impl Application {
    /// Migrates (unless told not to), loads or creates the signing key, binds both listeners.
    pub async fn build(config: Config, options: Options) -> Result<Self, StartupError> {
        // One TLS provider for the whole process, the same aws-lc-rs that signs tokens.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let config = Arc::new(config);
        let db = Database::connect(&config.database);
        let offload = Offload::new(db.pool_state().max_size);
        if options.migrate {
            let migrator = db.clone();
            let applied = offload
                .call("migrating", move || migrator.migrate_up())
                .await??;
            if !applied.is_empty() {
                log::info!("applied migrations: {}", applied.join(", "));
            }
        }
        let keys = Arc::new(KeyManager::new(
            Arc::new(db.clone()),
            &config.secrets,
            config.session.token_policy(),
        ));
        let loader = keys.clone();
        if let Err(e) = offload
            .call("loading signing keys", move || {
                loader.ensure_signing_key(Utc::now())
            })
            .await?
        {
            if options.migrate || e.is_secrets_mismatch() {
                return Err(e.into());
            }
            // Without migrations the database may simply not be up yet: start not-ready,
            // the key worker retries.
            log::error!("signing keys not loaded yet: {}", Report(&e));
        }
        let webhooks = Arc::new(config.webhooks.clone());
        let state = AppState {
            db: db.clone(),
            offload: offload.clone(),
            keys,
            config: config.clone(),
            metrics: Arc::new(Metrics::default()),
            sessions: SessionLookup::start(db.clone(), LOOKUP_THREADS)
                .map_err(StartupError::Threads)?,
            touches: Arc::new(SessionTouches::every(
                config
                    .account
                    .retention
                    .policy()
                    .ok()
                    .flatten()
                    .map_or(TOUCH_INTERVAL, |p| p.activity_resolution(TOUCH_INTERVAL)),
            )),
            events: Publisher::new(webhooks.clone(), config.ssf.enabled),
        };

        let public_workers = options.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        });
        let public_listener = bind(config.server.public.address)?;
        let admin_listener = bind(config.server.admin.address)?;
        let public_address = address_of(&public_listener)?;
        let admin_address = address_of(&admin_listener)?;
        let (public_port, admin_port) = (public_address.port(), admin_address.port());
        // Where deliveries may connect: never to these listeners.
        let destinations = Arc::new(AddressPolicy::new(
            config.ssf.push.allow_networks.clone(),
            vec![public_address, admin_address],
        ));
        let body_timeout = config.server.body_timeout.std();
        // Validated with the configuration: here it only takes its typed form.
        let transmitter = config.transmitter().map_err(StartupError::Config)?;
        let parts = Parts {
            db: db.clone(),
            offload,
            keys: state.keys.clone(),
            config: config.clone(),
            metrics: state.metrics.clone(),
            events: state.events.clone(),
            destinations: destinations.clone(),
        };

        // One ping cache per listener: the admin listener's probes are not starved by public ones.
        let public = {
            let (state, parts) = (state.clone(), parts.clone());
            let ping = web::Data::new(DatabasePing::default());
            let cors = Arc::new(CorsPolicy::new(&config.server.public.cors));
            let allow_deletion = config.account.allow_deletion;
            let ssf_enabled = transmitter.is_some();
            let scim_enabled = config.scim.enabled;
            let transmitter = transmitter.clone().map(web::Data::new);
            let destinations = web::Data::from(destinations.clone());
            let document = web::Data::new(ServedDocument(web::Bytes::from(openapi::to_json(
                &openapi::served(
                    openapi::Listener::Public,
                    openapi::Mounted {
                        allow_deletion,
                        ssf: ssf_enabled,
                        scim: scim_enabled,
                    },
                ),
            ))));
            let deletions = DeletionPlan::new(
                &config.database,
                public_workers,
                state.metrics.deletion_statements.clone(),
            );
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(Services::with_deletions(
                        parts.clone(),
                        deletions.for_this_worker(state.db.clone(), state.offload.clone()),
                    )))
                    .app_data(web::Data::new(state.clone()))
                    .app_data(document.clone())
                    .app_data(web::Data::from(state.keys.clone()))
                    .app_data(web::Data::from(state.metrics.clone()))
                    .app_data(ping.clone())
                    .app_data(destinations.clone())
                    .app_data(extractor_errors())
                    .app_data(path_errors())
                    .app_data(query_errors())
                    .configure(|cfg| routes::public::configure(cfg, allow_deletion))
                    .configure(|cfg| {
                        if let Some(transmitter) = &transmitter {
                            cfg.app_data(transmitter.clone());
                            routes::ssf::configure(cfg);
                        }
                    })
                    .configure(|cfg| {
                        if scim_enabled {
                            routes::scim::configure(cfg);
                        }
                    })
                    .service(
                        routes::resource("/openapi.json", "GET")
                            .route(web::get().to(openapi::openapi_json)),
                    )
                    .configure(routes::health::configure)
                    .default_service(web::to(not_found))
                    .wrap(Edge::public(
                        state.metrics.clone(),
                        cors.clone(),
                        body_timeout,
                    ))
                    .wrap(access_log())
            })
            // A client that hangs up ends its request: a waiting long poll stops with it.
            .h1_allow_half_closed(false)
            .listen(public_listener)
            .map_err(|e| StartupError::Bind("public listener".into(), e))?;
            server.workers(public_workers).shutdown_timeout(30).run()
        };
        let admin = {
            let (state, parts) = (state.clone(), parts.clone());
            let guard = web::Data::new(AdminGuard::new(config.server.admin.api_key.clone()));
            let ping = web::Data::new(DatabasePing::default());
            let document = web::Data::new(ServedDocument(web::Bytes::from(openapi::to_json(
                &openapi::served(openapi::Listener::Admin, openapi::Mounted::ALL),
            ))));
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(Services::new(parts.clone())))
                    .app_data(web::Data::new(state.clone()))
                    .app_data(document.clone())
                    .app_data(guard.clone())
                    .app_data(ping.clone())
                    .app_data(web::Data::from(state.metrics.clone()))
                    .app_data(extractor_errors())
                    .app_data(path_errors())
                    .app_data(query_errors())
                    .configure(routes::admin::configure)
                    .configure(routes::console::configure)
                    .service(
                        routes::resource("/openapi.json", "GET")
                            .route(web::get().to(openapi::openapi_json)),
                    )
                    .configure(routes::health::configure)
                    .default_service(web::to(not_found))
                    .wrap(from_fn(admin_guard::middleware))
                    .wrap(Edge::admin(state.metrics.clone(), body_timeout))
                    .wrap(access_log())
            })
            .listen(admin_listener)
            .map_err(|e| StartupError::Bind("admin listener".into(), e))?;
            server.workers(1).shutdown_timeout(30).run()
        };
        let dispatcher = Dispatcher::new(
            db,
            state.offload.clone(),
            state.keys.clone(),
            state.metrics.clone(),
            webhooks,
            config.session.issuer.clone(),
            transmitter.as_ref().map(|t| t.default_subjects),
            Destinations::new(destinations, config.webhooks.timeout.std()),
            state.events.wake_signal(),
            state.events.polls().clone(),
        );
        Ok(Self {
            public_port,
            admin_port,
            public,
            admin,
            state,
            parts,
            dispatcher,
        })
    }

    /// The port the public API listens on.
    pub fn public_port(&self) -> u16 {
        self.public_port
    }

    /// The port the admin API listens on.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Serves until SIGTERM/SIGINT, then drains in-flight requests (up to 30 s).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state;
        let mut workers = Workers::default();
        workers.start(KeyRefresh {
            keys: state.keys.clone(),
            offload: state.offload.clone(),
            every: state.config.secrets.refresh_interval.std(),
            rotation: state.config.secrets.rotation.interval,
        });
        workers.start(self.dispatcher);
        workers.start(LastUsed {
            db: state.db.clone(),
            offload: state.offload.clone(),
            touches: state.touches.clone(),
        });
        if let Some(policy) = state.config.account.retention.policy().ok().flatten() {
            workers.start(Retention {
                services: Services::new(self.parts.clone()),
                policy,
            });
        }
        workers.start(Purger {
            interval: state.config.account.deletion.purge_interval.std(),
            services: Services::new(self.parts),
        });
        let result = futures_util::future::try_join(self.public, self.admin).await;
        // The listeners have drained; each worker finishes what it has in hand.
        workers.stop(WORKER_GRACE).await;
        result.map(|_| ())
    }
}

/// The access log, only when its lines would be written: the logger renders every line
/// whether or not the level lets it through.
fn access_log() -> Condition<Logger> {
    let enabled = log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
    Condition::new(enabled, Logger::new(LOG_FORMAT))
}

fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).map_err(|e| StartupError::Bind(addr.to_string(), e))
}

fn address_of(listener: &TcpListener) -> Result<std::net::SocketAddr, StartupError> {
    listener
        .local_addr()
        .map_err(|e| StartupError::Bind("listener".into(), e))
}

fn extractor_errors() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(bad_request)
}

fn path_errors() -> web::PathConfig {
    web::PathConfig::default().error_handler(bad_request)
}

fn query_errors() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(bad_request)
}
