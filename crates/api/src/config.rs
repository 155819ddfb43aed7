//! The root configuration: each crate's section composed, loaded with figment
//! (defaults < config file < `DATABASE_URL` < `HANKO_…` environment), validated once.

use domain::account::AccountConfig;
use domain::audit::AuditLogConfig;
use domain::config::{Duration, Secret};
use figment::providers::{Env, Format, Yaml};
use figment::Figment;
use jwks::{SecretsConfig, TokenPolicy};
use persistence::DatabaseConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration (SPEC §3).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub session: SessionConfig,
    #[serde(default)]
    pub account: AccountConfig,
    #[serde(default)]
    pub audit_log: AuditLogConfig,
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    #[serde(default)]
    pub log: LogConfig,
}

/// `server.*`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub public: PublicServerConfig,
    pub admin: AdminServerConfig,
}

/// `server.public.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicServerConfig {
    pub address: SocketAddr,
    pub cors: CorsConfig,
}

impl Default for PublicServerConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8000)),
            cors: CorsConfig::default(),
        }
    }
}

/// `server.public.cors.*`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Exact origins (scheme://host[:port]); `*` only with the unsafe flag.
    pub allow_origins: Vec<String>,
    pub unsafe_wildcard_origin_allowed: bool,
}

/// `server.admin.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminServerConfig {
    pub address: SocketAddr,
    pub api_key: Option<Secret>,
}

impl Default for AdminServerConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8001)),
            api_key: None,
        }
    }
}

/// `session.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub lifespan: Duration,
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub leeway: Duration,
    pub cookie: CookieConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifespan: Duration::from_secs(12 * 3600),
            issuer: None,
            audience: vec!["localhost".to_owned()],
            leeway: Duration::from_secs(0),
            cookie: CookieConfig::default(),
        }
    }
}

impl SessionConfig {
    /// What the `jwks` crate needs to sign and verify session tokens.
    pub fn token_policy(&self) -> TokenPolicy {
        TokenPolicy {
            lifespan: self.lifespan,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway: self.leeway,
        }
    }
}

/// `session.cookie.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieConfig {
    pub name: String,
    pub domain: Option<String>,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: SameSite,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: "hanko".to_owned(),
            domain: None,
            http_only: true,
            secure: true,
            same_site: SameSite::Strict,
        }
    }
}

/// The cookie's `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

/// `webhooks.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    pub hooks: Vec<WebhookConfig>,
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub timeout: Duration,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            hooks: Vec::new(),
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

impl WebhooksConfig {
    /// Whether any hook wants `event` (see [`crate::webhooks::subscribed`]).
    pub fn has_subscribers(&self, event: &str) -> bool {
        self.hooks.iter().any(|h| {
            h.events
                .iter()
                .any(|s| crate::webhooks::subscribed(s, event))
        })
    }
}

/// One webhook subscription.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub events: Vec<String>,
}

/// `log.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
        }
    }
}

/// The secret shipped in `config/config.yaml` for local development only.
pub const DEV_SECRET: &str = "dev-only-secret-change-me-0123456789";

/// A configuration problem: the key it concerns and what is wrong, on one line.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "invalid configuration: {}", self.problem)
        } else {
            write!(f, "invalid configuration: {}: {}", self.key, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}

fn err(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        problem: problem.into(),
    }
}

/// Where the configuration file comes from.
pub enum ConfigSource<'a> {
    /// `config/config.yaml` if it exists.
    Default,
    /// A file named with `--config`: it must exist.
    File(&'a Path),
}

impl Config {
    /// Loads and validates the configuration.
    pub fn load(source: ConfigSource<'_>) -> Result<Self, ConfigError> {
        let file: PathBuf = match source {
            ConfigSource::Default => PathBuf::from("config/config.yaml"),
            ConfigSource::File(path) => {
                if !path.is_file() {
                    return Err(err(
                        "--config",
                        format!("{} does not exist", path.display()),
                    ));
                }
                path.to_owned()
            }
        };
        let figment = Figment::new()
            .merge(Yaml::file(file))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::prefixed("HANKO_").split("__"));
        Self::from_figment(figment)
    }

    /// Extracts and validates a configuration from any figment (tests build their own).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            let first = e.into_iter().next();
            match first {
                Some(e) => {
                    let mut path = e.path.clone();
                    if let figment::error::Kind::MissingField(field) = &e.kind {
                        path.push(field.to_string());
                    }
                    err(&path.join("."), e.kind.to_string())
                }
                None => err("", "unknown error"),
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let cors = &self.server.public.cors;
        for origin in &cors.allow_origins {
            if origin == "*" {
                if !cors.unsafe_wildcard_origin_allowed {
                    return Err(err(
                        "server.public.cors.allow_origins",
                        "\"*\" allows every site; set server.public.cors.unsafe_wildcard_origin_allowed: true if you mean it",
                    ));
                }
            } else if !is_origin(origin) {
                return Err(err(
                    "server.public.cors.allow_origins",
                    format!("{origin:?} is not an origin (scheme://host[:port], no path)"),
                ));
            }
        }
        if self.session.audience.is_empty() {
            return Err(err("session.audience", "must list at least one audience"));
        }
        if self.session.lifespan.std().is_zero() {
            return Err(err("session.lifespan", "must be longer than 0s"));
        }
        if self.session.cookie.name.is_empty()
            || !self.session.cookie.name.bytes().all(is_cookie_name_byte)
        {
            return Err(err(
                "session.cookie.name",
                "must be a non-empty cookie token",
            ));
        }
        if self.session.cookie.same_site == SameSite::None && !self.session.cookie.secure {
            return Err(err(
                "session.cookie.same_site",
                "none requires session.cookie.secure: true (browsers drop it otherwise)",
            ));
        }
        if self.database.pool_size == 0 {
            return Err(err("database.pool_size", "must be at least 1"));
        }
        if self.webhooks.max_attempts == 0 {
            return Err(err("webhooks.max_attempts", "must be at least 1"));
        }
        for (i, hook) in self.webhooks.hooks.iter().enumerate() {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return Err(err(
                    &format!("webhooks.hooks.{i}.url"),
                    "must be an http:// or https:// URL",
                ));
            }
            if hook.events.is_empty() {
                return Err(err(
                    &format!("webhooks.hooks.{i}.events"),
                    "must list at least one event",
                ));
            }
        }
        if let Some(key) = &self.server.admin.api_key {
            if key.expose().len() < 16 {
                return Err(err(
                    "server.admin.api_key",
                    "must be at least 16 characters",
                ));
            }
        }
        Ok(())
    }

    /// Whether the shipped development secret is in use.
    pub fn uses_dev_secret(&self) -> bool {
        self.secrets
            .keys
            .all()
            .iter()
            .any(|s| s.expose() == DEV_SECRET)
    }

    /// The effective configuration as YAML, every secret replaced by `***`.
    pub fn to_redacted_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn is_cookie_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `scheme://host[:port]` with nothing after it.
fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    let host_ok = !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
                !host.is_empty() && (port.parse::<u16>().is_ok() || host.starts_with('['))
            }
            _ => true,
        };
    scheme_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::is_origin;

    #[test]
    fn origins() {
        for good in [
            "https://app.example",
            "http://localhost:3000",
            "https://[::1]:8443",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "app.example",
            "https://app.example/",
            "https://",
            "https://a.b/path",
            "https://a:b",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }
}
