//! `TestApp::builder(backend).start()`: the real server on port 0, against a fresh Postgres database or a fresh SQLite
//! file per test, driven over HTTP.

use api::app::{Application, Options};
use api::config::Config;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use figment::providers::Serialized;
use figment::Figment;
use jwks::KeyManager;
use persistence::Database;
use serde_json::{json, Value};
use std::sync::Arc;

pub const SECRET: &str = "integration-test-secret-0123456789";
pub const ORIGIN: &str = "https://app.example";
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";
const PG_BASE: &str = "postgres://postgres@127.0.0.1:5432";
/// The test servers talk to the local Postgres without TLS: libpq's OpenSSL state, freed by
/// OpenSSL's exit handler while a pool thread still closes its connection, aborted a test
/// process after its test had passed (`free(): invalid pointer`, about one run in four of
/// `carriers_and_their_variants` under `cargo nextest run --stress-count 20`).
pub const NO_TLS: &str = "sslmode=disable";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A database with the schema (cloned from the migrated template on Postgres, migrated by
    /// the server on SQLite).
    pub fn new(backend: Backend) -> Self {
        Self::create(backend, true)
    }

    /// A database with nothing in it, for tests of the migrations themselves.
    pub fn empty(backend: Backend) -> Self {
        Self::create(backend, false)
    }

    fn create(backend: Backend, migrated: bool) -> Self {
        match backend {
            Backend::Postgres => {
                let mut admin = pg_admin();
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                // A copy of a database the migrations already ran on: file copies, not the
                // migrations again for every test.
                let create = if migrated {
                    format!("CREATE DATABASE {name} TEMPLATE {}", migrated_template())
                } else {
                    format!("CREATE DATABASE {name}")
                };
                admin
                    .batch_execute(&create)
                    .unwrap_or_else(|e| panic!("creating test database: {e}"));
                Self {
                    url: format!("{PG_BASE}/{name}?{NO_TLS}"),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
                let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
                Self {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// Runs SQL directly against the test database (fixtures, triggers, row counts).
    pub fn exec(&self, sql: &str) {
        let result = match &self.pg_name {
            Some(_) => PgConnection::establish(&self.url)
                .map_err(|e| e.to_string())
                .and_then(|mut c| c.batch_execute(sql).map_err(|e| e.to_string())),
            None => SqliteConnection::establish(self.url.trim_start_matches("sqlite://"))
                .map_err(|e| e.to_string())
                .and_then(|mut c| c.batch_execute(sql).map_err(|e| e.to_string())),
        };
        result.unwrap_or_else(|e| panic!("exec {sql}: {e}"));
    }

    /// `SELECT count(*) FROM <table> WHERE <condition>`.
    pub fn count(&self, table: &str, condition: &str) -> i64 {
        use diesel::sql_types::BigInt;
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let sql = format!("SELECT count(*) AS n FROM {table} WHERE {condition}");
        let rows: Result<Vec<Count>, String> = match &self.pg_name {
            Some(_) => PgConnection::establish(&self.url)
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    diesel::sql_query(&sql)
                        .load(&mut c)
                        .map_err(|e| e.to_string())
                }),
            None => SqliteConnection::establish(self.url.trim_start_matches("sqlite://"))
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    diesel::sql_query(&sql)
                        .load(&mut c)
                        .map_err(|e| e.to_string())
                }),
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"))
            .first()
            .map(|c| c.n)
            .unwrap_or_else(|| panic!("{sql}: no row"))
    }

    /// Every outbox event, oldest first, as `{"event": …, "payload": …}`.
    pub fn events(&self) -> Vec<Value> {
        use diesel::sql_types::Text;
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            event: String,
            #[diesel(sql_type = Text)]
            payload: String,
        }
        let sql = "SELECT event, CAST(payload AS TEXT) AS payload FROM webhook_outbox ORDER BY created_at, id";
        let rows: Result<Vec<Row>, String> = match &self.pg_name {
            Some(_) => PgConnection::establish(&self.url)
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    diesel::sql_query(sql)
                        .load(&mut c)
                        .map_err(|e| e.to_string())
                }),
            None => SqliteConnection::establish(self.url.trim_start_matches("sqlite://"))
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    diesel::sql_query(sql)
                        .load(&mut c)
                        .map_err(|e| e.to_string())
                }),
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"))
            .into_iter()
            .map(|r| {
                let payload: Value = serde_json::from_str(&r.payload)
                    .unwrap_or_else(|e| panic!("payload is not JSON ({e}): {}", r.payload));
                json!({"event": r.event, "payload": payload})
            })
            .collect()
    }

    /// The Postgres database's name (`None` on SQLite).
    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_name.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let mut admin = pg_admin();
            if let Err(e) =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            {
                eprintln!("leaving the test database {name} behind: {e}");
            }
        }
    }
}

/// The name of a Postgres database with every migration applied and nothing else, made once
/// per version of the migrations (its name carries their hash) and kept: the suite's cache of
/// the schema, which every test database is cloned from.
fn migrated_template() -> &'static str {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/postgres");
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(folder)
            .unwrap_or_else(|e| panic!("{folder}: {e}"))
            .flatten()
            .flat_map(|dir| {
                std::fs::read_dir(dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|f| f.path())
            .collect();
        files.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for file in &files {
            file.file_name().hash(&mut hasher);
            std::fs::read(file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
                .hash(&mut hasher);
        }
        let name = format!("t_template_{:016x}", hasher.finish());
        let mut admin = pg_admin();
        #[derive(diesel::QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::RunQueryDsl;
        let exists = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}' AND datistemplate"
        ))
        .get_result::<Found>(&mut admin)
        .map(|f| f.n > 0)
        .unwrap_or_else(|e| panic!("looking for the template: {e}"));
        if !exists {
            // Built under another name and renamed when complete, so a half-made template is
            // never cloned (another test process may be building one too).
            let building = format!("{name}_{}", uuid::Uuid::new_v4().simple());
            admin
                .batch_execute(&format!("CREATE DATABASE {building}"))
                .unwrap_or_else(|e| panic!("creating the template: {e}"));
            let store = Database::connect(
                &test_config(&format!("{PG_BASE}/{building}?{NO_TLS}"), json!({})).database,
            );
            store
                .migrate_up()
                .unwrap_or_else(|e| panic!("migrating the template: {e}"));
            drop(store);
            let renamed = admin
                .batch_execute(&format!("ALTER DATABASE {building} IS_TEMPLATE true"))
                .and_then(|()| {
                    admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                });
            if renamed.is_err() {
                // Another process finished first: use theirs. Postgres drops no template, so
                // this copy stops being one first.
                let dropped = admin
                    .batch_execute(&format!("ALTER DATABASE {building} IS_TEMPLATE false"))
                    .and_then(|()| {
                        admin.batch_execute(&format!(
                            "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
                        ))
                    });
                if let Err(e) = dropped {
                    eprintln!("leaving the unfinished template {building} behind: {e}");
                }
            }
        }
        name
    })
}

/// Postgres is part of the test environment: unreachable is a failure, never a skip.
fn pg_admin() -> PgConnection {
    PgConnection::establish(PG_ADMIN_URL).unwrap_or_else(|e| {
        panic!(
            "Postgres is required for these tests and is not reachable at {PG_ADMIN_URL}: {e}\n\
             start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    })
}

/// The configuration every test starts from; `overrides` are merged over it.
pub fn test_config(db_url: &str, overrides: Value) -> Config {
    let base = json!({
        "server": {
            "public": {
                "address": "127.0.0.1:0",
                "cors": { "allow_origins": [ORIGIN] }
            },
            "admin": { "address": "127.0.0.1:0" }
        },
        "database": { "url": db_url, "pool_size": 4, "connect_timeout": "1s" },
        "secrets": { "keys": [SECRET] },
        "account": { "allow_deletion": true },
        "log": { "level": "warn" }
    });
    let figment = Figment::from(Serialized::defaults(base)).merge(Serialized::defaults(overrides));
    Config::from_figment(figment).unwrap_or_else(|e| panic!("test config: {e}"))
}

/// Reverts migrations, newest first, until `version` is reverted; returns how many were.
pub fn migrate_down_through(store: &Database, version: &str) -> usize {
    for reverted in 1..=20 {
        let last = store
            .migrate_down()
            .unwrap_or_else(|e| panic!("migrating down towards {version}: {e}"));
        if last == version {
            return reverted;
        }
    }
    panic!("migration {version} was never reverted")
}

/// A response read whole, with the request that produced it, so every failure can name
/// the method, URL, status and body.
pub struct Reply {
    method: reqwest::Method,
    url: String,
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    pub fn status(&self) -> reqwest::StatusCode {
        self.status
    }

    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        &self.headers
    }

    /// The body decoded as `T`; panics naming the request if it is not that JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{self}: body is not the expected JSON ({e})"))
    }

    /// The body as text; panics naming the request if it is not UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone())
            .unwrap_or_else(|e| panic!("{self}: body is not UTF-8 ({e})"))
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.body.clone()
    }

    /// Panics naming the request unless the status is `status`; returns the reply.
    pub fn expect_status(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{self}");
        self
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} answered {}: {}",
            self.method,
            self.url,
            self.status,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// `.fetch()`: send a request and read the whole answer, panicking with the method and URL
/// if it cannot be sent or read.
pub trait Fetch {
    async fn fetch(self) -> Reply;
}

impl Fetch for reqwest::RequestBuilder {
    async fn fetch(self) -> Reply {
        let (client, request) = self.build_split();
        let request = request.unwrap_or_else(|e| panic!("building a request: {e}"));
        let (method, url) = (request.method().clone(), request.url().to_string());
        let res = client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"))
            .to_vec();
        Reply {
            method,
            url,
            status,
            headers,
            body,
        }
    }
}

/// Typed access to JSON fields that panics, naming the field's JSON, when the type is wrong.
pub trait JsonField {
    fn str(&self) -> &str;
    fn int(&self) -> i64;
}

impl JsonField for Value {
    fn str(&self) -> &str {
        self.as_str()
            .unwrap_or_else(|| panic!("expected a string, found {self}"))
    }

    fn int(&self) -> i64 {
        self.as_i64()
            .unwrap_or_else(|| panic!("expected an integer, found {self}"))
    }
}

/// The two listeners of one server (in this process or another) and a client for them.
#[derive(Clone)]
pub struct Api {
    pub public: String,
    pub admin: String,
    pub client: reqwest::Client,
}

pub struct Login {
    pub user_id: String,
    pub session_id: String,
    pub token: String,
}

impl Api {
    /// A user with one primary, verified address; returns the id.
    pub async fn create_user(&self, email: &str) -> String {
        let user: Value = self
            .client
            .post(format!("{}/users", self.admin))
            .json(&json!({"emails": [{"address": email, "is_primary": true, "is_verified": true}]}))
            .fetch()
            .await
            .expect_status(201)
            .json();
        user["id"].str().to_owned()
    }

    /// A new session (and its token) for the user.
    pub async fn login(&self, user_id: &str) -> Login {
        let body: Value = self
            .client
            .post(format!("{}/sessions", self.admin))
            .json(&json!({"user_id": user_id, "user_agent": "test"}))
            .fetch()
            .await
            .expect_status(200)
            .json();
        Login {
            user_id: user_id.to_owned(),
            session_id: body["session_id"].str().to_owned(),
            token: body["session_token"].str().to_owned(),
        }
    }

    pub async fn user_with_session(&self, email: &str) -> Login {
        let id = self.create_user(email).await;
        self.login(&id).await
    }

    /// GET a URL that must answer 200 with JSON, decoded as `T`.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, url: String) -> T {
        self.client.get(url).fetch().await.expect_status(200).json()
    }

    /// GET a URL that must answer 200; its body as text.
    pub async fn get_text(&self, url: String) -> String {
        self.client.get(url).fetch().await.expect_status(200).text()
    }

    pub async fn delete_user(&self, token: &str) -> Reply {
        self.client
            .delete(format!("{}/user", self.public))
            .bearer_auth(token)
            .fetch()
            .await
    }

    pub async fn get_me(&self, token: &str) -> Reply {
        self.client
            .get(format!("{}/me", self.public))
            .bearer_auth(token)
            .fetch()
            .await
    }
}

/// A server in this process on its own fresh database.
pub struct TestApp {
    pub api: Api,
    pub db: TestDb,
    pub config: Config,
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// The one way to start a test app: `TestApp::builder(backend)`, then any of `.config(…)`
/// (merged over [`test_config`]) and `.on(db)` (an existing test database), then `.start()`.
pub struct TestAppBuilder {
    backend: Backend,
    db: Option<TestDb>,
    overrides: Value,
}

impl TestAppBuilder {
    /// Config overrides, merged over the test defaults.
    pub fn config(mut self, overrides: Value) -> Self {
        self.overrides = overrides;
        self
    }

    /// Serve from this database instead of a fresh one.
    pub fn on(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    pub async fn start(self) -> TestApp {
        // Another test of this process may have installed the logger already.
        env_logger::builder().is_test(true).try_init().ok();
        let db = self.db.unwrap_or_else(|| TestDb::new(self.backend));
        let config = test_config(&db.url, self.overrides);
        let app = Application::build(
            config.clone(),
            Options {
                migrate: true,
                workers: Some(1),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("starting the server: {e}"));
        let api = Api {
            public: format!("http://127.0.0.1:{}", app.public_port()),
            admin: format!("http://127.0.0.1:{}", app.admin_port()),
            client: http_client(),
        };
        actix_rt::spawn(app.run_until_stopped());
        TestApp { api, db, config }
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            db: None,
            overrides: json!({}),
        }
    }

    /// A key manager over the same database and secrets as the server (to decrypt keys and
    /// name the reason a token is refused).
    pub fn key_manager(&self) -> KeyManager {
        let db = Database::connect(&self.config.database);
        let keys = KeyManager::new(
            Arc::new(db),
            &self.config.secrets,
            self.config.session.token_policy(),
        );
        keys.reload().unwrap_or_else(|e| panic!("reload keys: {e}"));
        keys
    }

    /// Rows that still refer to the user, outside the audit log and outbox.
    pub fn rows_of_user(&self, user_id: &str) -> i64 {
        self.db.count("users", &format!("id = '{user_id}'"))
            + self.db.count("emails", &format!("user_id = '{user_id}'"))
            + self.db.count("sessions", &format!("user_id = '{user_id}'"))
    }
}

/// An HTTP client for tests. reqwest is built without a default TLS provider (the process
/// uses aws-lc-rs throughout), so install it first.
pub fn http_client() -> reqwest::Client {
    // Installed once per process; later calls find it there.
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .ok();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

/// Runs a command that must exit on its own within 20 seconds; kills it (failing) otherwise.
pub fn run_briefly(mut cmd: std::process::Command) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap_or_else(|e| panic!("{e}")).is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
            panic!(
                "still running after 20 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

/// Listens on each of `addresses` (`host:port`) for as long as the result lives. A server
/// given these addresses that listened before refusing its set-up would fail on the address
/// instead of naming the bad key: so a refusal that names the key came before any listening.
pub fn occupy(addresses: &[String]) -> Vec<std::net::TcpListener> {
    addresses
        .iter()
        .map(|address| {
            std::net::TcpListener::bind(address)
                .unwrap_or_else(|e| panic!("occupying {address} for the test: {e}"))
        })
        .collect()
}

/// The status of `GET path` sent byte for byte as written (no client-side resolution of `..`
/// or percent-escapes) to `address` (`host:port`), with no credentials.
pub fn raw_get_status(address: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)
        .unwrap_or_else(|e| panic!("GET {path}: connecting to {address}: {e}"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("GET {path}: reading the answer: {e}"));
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: not an HTTP answer: {text}"))
}

/// A response header as text, if present; a present header that is not text panics (it is
/// not absent).
pub fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| {
        v.to_str()
            .unwrap_or_else(|_| panic!("header {name} is present but not visible ASCII: {v:?}"))
            .to_owned()
    })
}

/// The JSON error body every error of the API has.
pub fn assert_error(res: Reply, status: u16) {
    let res = res.expect_status(status);
    assert_eq!(
        header(res.headers(), "content-type").as_deref(),
        Some("application/json"),
        "{res}"
    );
    let body: Value = res.json();
    assert_eq!(body["code"], status, "{res}");
    assert!(
        body["message"].is_string() && body["message"] != "",
        "{res}"
    );
}

/// Defines each listed `async fn(Backend)` case as a test on Postgres and on SQLite.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[actix_rt::test]
                async fn $case() {
                    super::$case($crate::helpers::Backend::Postgres).await
                }
            )*
        }
        mod sqlite {
            $(
                #[actix_rt::test]
                async fn $case() {
                    super::$case($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
    };
}

/// Waits up to 30 s for `condition`, naming `what` when it never holds.
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
