//! The root configuration: each crate's section composed, loaded with figment
//! (defaults < config file < `DATABASE_URL` < `HANKO_…` environment), validated once.

mod fingerprint;
pub mod secret_rules;

use crate::delivery::destinations::IpNet;
use crate::delivery::WebhooksConfig;
use domain::account::AccountConfig;
use domain::audit::AuditLogConfig;
use domain::config::{BaseUrl, ConfigError, Duration, Issuer, Secret};
use figment::providers::{Env, Format, Yaml};
use figment::Figment;
use jwks::{SecretsConfig, TokenPolicy};
use persistence::DatabaseConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration (every key: `config/config.example.yaml`).
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
    pub ssf: SsfConfig,
    #[serde(default)]
    pub scim: ScimConfig,
    #[serde(default)]
    pub log: LogConfig,
}

/// `scim.*`: SCIM 2.0 provisioning (docs/scim.md).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimConfig {
    /// Mounts `/scim/v2` on the public listener.
    pub enabled: bool,
}

/// `ssf.*`: the Shared Signals transmitter (docs/events.md, "Shared Signals").
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsfConfig {
    /// Mounts the transmitter's endpoints on the public listener.
    pub enabled: bool,
    /// `ALL`: every user's events reach every enabled stream; `NONE`: only added subjects'.
    pub default_subjects: domain::ssf::DefaultSubjects,
    pub push: SsfPushConfig,
    pub poll: SsfPollConfig,
    /// Streams one receiver may have (409 beyond).
    pub max_streams_per_receiver: u32,
    /// How long after a stream's verification the next may be asked for (429 sooner).
    pub min_verification_interval: Duration,
}

impl Default for SsfConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            default_subjects: domain::ssf::DefaultSubjects::default(),
            push: SsfPushConfig::default(),
            poll: SsfPollConfig::default(),
            max_streams_per_receiver: 10,
            min_verification_interval: Duration::from_secs(30),
        }
    }
}

/// The SSF transmitter as configured (`Config::transmitter`): everything its endpoints and SETs
/// need, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmitter {
    /// The `iss` of its SETs and its metadata's `issuer`.
    pub issuer: Issuer,
    /// Where its endpoints are.
    pub base_url: BaseUrl,
    pub default_subjects: domain::ssf::DefaultSubjects,
}

/// `ssf.push.*`: where receivers' push endpoints may be.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsfPushConfig {
    /// Networks pushes may reach although they are not public (internal receivers an operator
    /// runs); this instance's own listeners stay out of reach.
    pub allow_networks: Vec<IpNet>,
}

/// `ssf.poll.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsfPollConfig {
    /// Long polls waiting at once on one stream (429 beyond).
    pub max_waiting_per_stream: u32,
}

impl Default for SsfPollConfig {
    fn default() -> Self {
        Self {
            max_waiting_per_stream: 2,
        }
    }
}

/// `server.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub public: PublicServerConfig,
    pub admin: AdminServerConfig,
    /// A request body not received within it ends with 408.
    pub body_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public: PublicServerConfig::default(),
            admin: AdminServerConfig::default(),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// `server.public.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicServerConfig {
    pub address: SocketAddr,
    pub cors: CorsConfig,
    /// The listener's external URL (`https://auth.example.com`): where the SSF metadata's
    /// endpoints point.
    pub base_url: Option<BaseUrl>,
}

impl Default for PublicServerConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8000)),
            cors: CorsConfig::default(),
            base_url: None,
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
    /// Serve the admin API on a non-loopback address without an api key (refused otherwise).
    pub allow_unauthenticated: bool,
}

impl Default for AdminServerConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8001)),
            api_key: None,
            allow_unauthenticated: false,
        }
    }
}

/// `session.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub lifespan: Duration,
    pub issuer: Option<Issuer>,
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
            issuer: self.issuer.clone().map(String::from),
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

/// The shortest admin api key accepted.
pub const MIN_API_KEY_LEN: usize = 32;

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
                    return Err(ConfigError::new(
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
                    ConfigError::new(path.join("."), e.kind.to_string())
                }
                None => ConfigError::new("", "unknown error"),
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
                    return Err(ConfigError::new(
                        "server.public.cors.allow_origins",
                        "\"*\" allows every site; set server.public.cors.unsafe_wildcard_origin_allowed: true if you mean it",
                    ));
                }
            } else if !is_origin(origin) {
                return Err(ConfigError::new(
                    "server.public.cors.allow_origins",
                    format!("{origin:?} is not an origin (scheme://host[:port], no path)"),
                ));
            }
        }
        if self.session.audience.is_empty() {
            return Err(ConfigError::new(
                "session.audience",
                "must list at least one audience",
            ));
        }
        let deletion = &self.account.deletion;
        if deletion.grace_period.is_some_and(|g| g.std().is_zero()) {
            return Err(ConfigError::new(
                "account.deletion.grace_period",
                "must be longer than 0s (leave it unset to delete at once)",
            ));
        }
        if deletion.purge_interval.std() < std::time::Duration::from_millis(100) {
            return Err(ConfigError::new(
                "account.deletion.purge_interval",
                "must be at least 100ms",
            ));
        }
        self.account.retention.policy()?;
        if self.database.idle_timeout.std() < std::time::Duration::from_secs(1) {
            return Err(ConfigError::new(
                "database.idle_timeout",
                "must be at least 1s",
            ));
        }
        self.secrets
            .check()
            .map_err(|(key, problem)| ConfigError::new(key, problem))?;
        if self.session.lifespan.std().is_zero() {
            return Err(ConfigError::new(
                "session.lifespan",
                "must be longer than 0s",
            ));
        }
        if self.session.cookie.name.is_empty()
            || !self.session.cookie.name.bytes().all(is_cookie_name_byte)
        {
            return Err(ConfigError::new(
                "session.cookie.name",
                "must be a non-empty cookie token",
            ));
        }
        if self.session.cookie.same_site == SameSite::None && !self.session.cookie.secure {
            return Err(ConfigError::new(
                "session.cookie.same_site",
                "none requires session.cookie.secure: true (browsers drop it otherwise)",
            ));
        }
        self.webhooks
            .validate(&self.session.audience, self.session.issuer.as_ref())?;
        if self.server.body_timeout.std() < std::time::Duration::from_millis(100) {
            return Err(ConfigError::new(
                "server.body_timeout",
                "must be at least 100ms",
            ));
        }
        if self.ssf.max_streams_per_receiver == 0 {
            return Err(ConfigError::new(
                "ssf.max_streams_per_receiver",
                "must be at least 1",
            ));
        }
        if self.ssf.poll.max_waiting_per_stream == 0 {
            return Err(ConfigError::new(
                "ssf.poll.max_waiting_per_stream",
                "must be at least 1",
            ));
        }
        self.transmitter()?;
        self.refuse_unsafe_setups()
    }

    /// The SSF transmitter, with `ssf.enabled`: the values it needs, present (or the error
    /// naming the one missing). Validation calls this, so on a loaded configuration it answers.
    pub fn transmitter(&self) -> Result<Option<Transmitter>, ConfigError> {
        if !self.ssf.enabled {
            return Ok(None);
        }
        let issuer = self.session.issuer.clone().ok_or_else(|| {
            ConfigError::new(
                "session.issuer",
                "required by ssf.enabled (the SETs' iss and the transmitter's issuer)",
            )
        })?;
        let base_url = self.server.public.base_url.clone().ok_or_else(|| {
            ConfigError::new(
                "server.public.base_url",
                "required by ssf.enabled (the transmitter's endpoints are absolute URLs)",
            )
        })?;
        Ok(Some(Transmitter {
            issuer,
            base_url,
            default_subjects: self.ssf.default_subjects,
        }))
    }

    /// The set-ups that would be unsafe to serve (docs/operations.md, "Safe set-ups"): an open admin listener off
    /// loopback, a short api key, and secrets that are placeholders, or, off loopback, short or
    /// published in this repository.
    fn refuse_unsafe_setups(&self) -> Result<(), ConfigError> {
        let admin = &self.server.admin;
        let exposed = [self.server.public.address, admin.address]
            .into_iter()
            .find(|a| !a.ip().is_loopback());
        for (i, secret) in self.secrets.keys.all().iter().enumerate() {
            secret_rules::check(secret.expose(), exposed).map_err(|problem| {
                ConfigError::new("secrets.keys", format!("secret #{} {problem}", i + 1))
            })?;
        }
        if let Some(key) = &admin.api_key {
            if key.expose().chars().count() < MIN_API_KEY_LEN {
                return Err(ConfigError::new(
                    "server.admin.api_key",
                    format!(
                        "must be at least {MIN_API_KEY_LEN} characters (openssl rand -base64 32)"
                    ),
                ));
            }
            secret_rules::check(key.expose(), exposed)
                .map_err(|problem| ConfigError::new("server.admin.api_key", problem.to_string()))?;
        }
        if admin.api_key.is_none()
            && !admin.address.ip().is_loopback()
            && !admin.allow_unauthenticated
        {
            return Err(ConfigError::new(
                "server.admin.api_key",
                format!(
                    "required when the admin API listens on {} (not loopback): anyone who reaches it \
                     can mint sessions; set server.admin.allow_unauthenticated: true only if \
                     something else guards it",
                    admin.address
                ),
            ));
        }
        Ok(())
    }

    /// Whether the development secret of `config/config.yaml` is in use (on loopback only:
    /// anywhere else it is refused).
    pub fn uses_dev_secret(&self) -> bool {
        self.secrets
            .keys
            .all()
            .iter()
            .any(|s| s.expose() == secret_rules::DEV_SECRET)
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
