//! The `database` config section.

use domain::config::Duration;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::str::FromStr;

/// `database.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://PATH` (`sqlite::memory:` for tests).
    pub url: DatabaseUrl,
    /// r2d2 max connections; zero is refused while the config is read.
    pub pool_size: NonZeroU32,
    /// Pool checkout timeout; past it a request fails fast.
    pub connect_timeout: Duration,
    /// A connection unused this long is closed (the pool's and the workers' alike), so a burst
    /// does not hold its connections against the server's `max_connections` forever.
    pub idle_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: DatabaseUrl::Sqlite(PathBuf::from("data/hanko.sqlite3")),
            pool_size: NonZeroU32::MIN.saturating_add(15),
            connect_timeout: Duration::from_secs(2),
            // r2d2's own default.
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// Where the data lives; the scheme picks the backend.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A libpq connection URL (`postgres://` or `postgresql://`).
    Postgres(String),
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A private in-memory SQLite database (one connection; for tests).
    SqliteMemory,
}

/// Why a database URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("unknown database scheme (expected postgres://, postgresql://, sqlite:// or sqlite::memory:)")]
    UnknownScheme,
    #[error("sqlite:// needs a file path")]
    EmptySqlitePath,
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self::Postgres(s.to_owned()))
        } else if s == "sqlite::memory:" || s == "sqlite://:memory:" {
            Ok(Self::SqliteMemory)
        } else if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DatabaseUrlError::EmptySqlitePath);
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else {
            Err(DatabaseUrlError::UnknownScheme)
        }
    }
}

impl DatabaseUrl {
    /// The URL with any password replaced by `***`: safe to log and print.
    pub fn redacted(&self) -> String {
        match self {
            Self::Postgres(url) => redact_password(url),
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::SqliteMemory => "sqlite::memory:".to_owned(),
        }
    }

    /// Whether this is a Postgres URL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

fn redact_password(url: &str) -> String {
    // scheme://user:password@host/… → scheme://user:***@host/…
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut redacted_tail = tail.to_owned();
    if let Some(q) = tail.find('?') {
        // password=… in the query string
        let (path, query) = tail.split_at(q);
        let params: Vec<String> = query[1..]
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        redacted_tail = format!("{path}?{}", params.join("&"));
    }
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{redacted_tail}"),
            None => format!("{scheme}://{userinfo}@{host}{redacted_tail}"),
        },
        None => format!("{scheme}://{authority}{redacted_tail}"),
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_backend_from_scheme() {
        assert!(matches!(
            "postgres://h/db".parse(),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(matches!(
            "postgresql://h/db".parse(),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert_eq!(
            "sqlite://data/x.db".parse(),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/x.db")))
        );
        assert_eq!("sqlite::memory:".parse(), Ok(DatabaseUrl::SqliteMemory));
        assert_eq!(
            "mysql://h/db".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::UnknownScheme)
        );
        assert_eq!(
            "data/x.db".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::UnknownScheme)
        );
        assert_eq!(
            "sqlite://".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::EmptySqlitePath)
        );
    }

    #[test]
    fn redacts_passwords() {
        let cases = [
            ("postgres://u:pw@h:5432/db", "postgres://u:***@h:5432/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?password=pw&sslmode=require",
                "postgres://h/db?password=***&sslmode=require",
            ),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
        ];
        for (input, expected) in cases {
            assert_eq!(DatabaseUrl::Postgres(input.into()).redacted(), expected);
        }
    }
}
