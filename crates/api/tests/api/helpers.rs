//! `spawn_app`: the real server on port 0, against a fresh Postgres database or a fresh SQLite
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
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PG_BASE: &str = "postgres://postgres@127.0.0.1:5432";

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
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => {
                let mut admin = pg_admin();
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|e| panic!("creating test database: {e}"));
                Self {
                    url: format!("{PG_BASE}/{name}"),
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
            .map_or(0, |c| c.n)
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_name.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let mut admin = pg_admin();
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
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

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub config: Config,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, json!({})).await
}

pub async fn spawn_app_with(backend: Backend, overrides: Value) -> TestApp {
    let db = TestDb::new(backend);
    spawn_on(db, overrides).await
}

pub async fn spawn_on(db: TestDb, overrides: Value) -> TestApp {
    let _ = env_logger::builder().is_test(true).try_init();
    let config = test_config(&db.url, overrides);
    let app = Application::build(
        config.clone(),
        Options {
            migrate: true,
            workers: Some(1),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("starting the server: {e}"));
    let public = format!("http://127.0.0.1:{}", app.public_port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    actix_rt::spawn(app.run_until_stopped());
    TestApp {
        public,
        admin,
        client: http_client(),
        db,
        config,
    }
}

/// An HTTP client for tests. reqwest is built without a default TLS provider (the process
/// uses aws-lc-rs throughout), so install it first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

pub struct Login {
    pub user_id: String,
    pub session_id: String,
    pub token: String,
}

impl TestApp {
    /// A user with one primary, verified address.
    pub async fn create_user(&self, email: &str) -> String {
        let res = self
            .client
            .post(format!("{}/users", self.admin))
            .json(&json!({"emails": [{"address": email, "is_primary": true, "is_verified": true}]}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("create user: {e}"));
        assert_eq!(res.status(), 201, "create user");
        let body: Value = res.json().await.unwrap_or_default();
        body["id"].as_str().unwrap_or_default().to_owned()
    }

    /// A new session (and its token) for the user.
    pub async fn login(&self, user_id: &str) -> Login {
        let res = self
            .client
            .post(format!("{}/sessions", self.admin))
            .json(&json!({"user_id": user_id, "user_agent": "test"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("create session: {e}"));
        assert_eq!(res.status(), 200, "create session");
        let body: Value = res.json().await.unwrap_or_default();
        Login {
            user_id: user_id.to_owned(),
            session_id: body["session_id"].as_str().unwrap_or_default().to_owned(),
            token: body["session_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    pub async fn user_with_session(&self, email: &str) -> Login {
        let id = self.create_user(email).await;
        self.login(&id).await
    }

    /// GET a URL and decode its JSON body (the default value if it is not that JSON).
    pub async fn get_json<T: serde::de::DeserializeOwned + Default>(&self, url: String) -> T {
        self.client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .json()
            .await
            .unwrap_or_default()
    }

    /// GET a URL and return its body as text.
    pub async fn get_text(&self, url: String) -> String {
        self.client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .text()
            .await
            .unwrap_or_default()
    }

    pub async fn delete_user(&self, token: &str) -> reqwest::Response {
        self.client
            .delete(format!("{}/user", self.public))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE /user: {e}"))
    }

    pub async fn get_me(&self, token: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/me", self.public))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /me: {e}"))
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

/// A response header as text, if present and readable.
pub fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The JSON error body every error of the API has.
pub async fn assert_error(res: reqwest::Response, status: u16) {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body: Value = res.json().await.unwrap_or_default();
    assert_eq!(body["code"], status);
    assert!(
        body["message"].is_string() && body["message"] != "",
        "{body}"
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
