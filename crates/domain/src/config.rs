//! Value types shared by every config section: they validate while deserialising, so code
//! that holds one never re-checks it.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A configuration value that cannot be used: the key it concerns (`server.admin.api_key`,
/// `webhooks.hooks.0.url`) and what is wrong, printed on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    /// The problem `problem` with the value at `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "invalid configuration: {}", self.problem)
        } else {
            write!(f, "invalid configuration: {}: {}", self.key, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}

/// A non-negative duration written as `30s`, `10m`, `12h`, `1h30m`, `500ms` or `7d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

/// Why a duration string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {input:?}: expected a number and a unit (ms, s, m, h, d), e.g. \"30s\" or \"12h\"")]
pub struct DurationError {
    input: String,
}

impl Duration {
    /// Builds a duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// The duration as [`std::time::Duration`].
    pub const fn std(self) -> std::time::Duration {
        self.0
    }

    /// The duration as a chrono duration (saturating at chrono's maximum).
    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }

    /// Whole seconds, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || DurationError {
            input: input.to_owned(),
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err());
        }
        let mut total_ms: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(err());
            }
            let value: u128 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let factor_ms: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(err()),
            };
            rest = &rest[unit_len..];
            total_ms = value
                .checked_mul(factor_ms)
                .and_then(|v| v.checked_add(total_ms))
                .ok_or_else(err)?;
        }
        let ms = u64::try_from(total_ms).map_err(|_| err())?;
        Ok(Self(std::time::Duration::from_millis(ms)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let units = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        if ms == 0 {
            return f.write_str("0s");
        }
        let mut rest = ms;
        for (size, unit) in units {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        if rest > 0 {
            write!(f, "{rest}ms")?;
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// `session.issuer`: the `iss` of every token and SET we sign. Read, never re-checked: a value
/// of this type is non-empty and holds no whitespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Issuer(String);

impl TryFrom<String> for Issuer {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        if value.is_empty() || value.chars().any(char::is_whitespace) {
            return Err(
                "an issuer is non-empty text without spaces (e.g. https://auth.example.com)".into(),
            );
        }
        Ok(Self(value))
    }
}

impl From<Issuer> for String {
    fn from(issuer: Issuer) -> String {
        issuer.0
    }
}

impl Issuer {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `server.public.base_url`: the public listener's external URL, absolute http(s) without query
/// or fragment, kept without a trailing slash so paths append to it as they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUrl(String);

impl TryFrom<String> for BaseUrl {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"));
        if rest.is_none_or(|r| r.trim_end_matches('/').is_empty() || r.contains(['?', '#', ' '])) {
            return Err("must be an absolute http(s) URL without query or fragment".into());
        }
        Ok(Self(value.trim_end_matches('/').to_owned()))
    }
}

impl From<BaseUrl> for String {
    fn from(url: BaseUrl) -> String {
        url.0
    }
}

impl BaseUrl {
    /// The URL of `path` (which starts with `/`) on this listener.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret string: never printed. `Debug`, `Display` and `Serialize` all show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        let cases = [
            ("30s", 30_000),
            ("10m", 600_000),
            ("12h", 43_200_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("2d", 172_800_000),
            ("0s", 0),
        ];
        for (input, ms) in cases {
            let d: Duration = input.parse().unwrap();
            assert_eq!(d.0.as_millis(), ms, "{input}");
        }
    }

    #[test]
    fn refuses_bad_durations() {
        for input in [
            "",
            "10",
            "s",
            "10x",
            "-5s",
            "1.5h",
            "h10",
            "99999999999999999999999d",
        ] {
            assert!(input.parse::<Duration>().is_err(), "{input:?} accepted");
        }
    }

    #[test]
    fn duration_display_round_trips() {
        for input in ["30s", "10m", "12h", "1h30m", "500ms", "1d2h3m4s5ms"] {
            let d: Duration = input.parse().unwrap();
            assert_eq!(d.to_string(), input);
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("super-secret-value");
        assert_eq!(format!("{s:?}"), "***");
    }
}
