//! The `secrets` config section, and the token policy derived from `session`.

use crate::algorithm::KeyAlgorithm;
use domain::config::{Duration, Secret};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Minimum length of each entry of `secrets.keys`.
pub const MIN_SECRET_LEN: usize = 16;

/// `secrets.*`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// Encryption secrets for the stored keys: the first encrypts, all are tried to decrypt.
    pub keys: Secrets,
    /// Algorithm of new keys; stored keys keep theirs.
    #[serde(default)]
    pub algorithm: KeyAlgorithm,
    /// Size of newly generated RSA keys.
    #[serde(default)]
    pub rsa_bits: RsaBits,
    /// Scheduled rotation.
    #[serde(default)]
    pub rotation: RotationConfig,
    /// `max-age` of the JWKS `Cache-Control`: how long a client may keep a copy.
    #[serde(default = "default_jwks_max_age")]
    pub jwks_max_age: Duration,
    /// How often every instance reloads the key set from the database.
    #[serde(default = "default_refresh")]
    pub refresh_interval: Duration,
}

fn default_refresh() -> Duration {
    Duration::from_secs(60)
}

fn default_jwks_max_age() -> Duration {
    Duration::from_secs(600)
}

/// `secrets.rotation.*`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationConfig {
    /// How long each key signs; none = rotation by hand only.
    #[serde(default)]
    pub interval: Option<Duration>,
    /// How long a new key is published before it signs (default: twice the JWKS max-age).
    #[serde(default)]
    pub publish_ahead: Option<Duration>,
}

impl SecretsConfig {
    /// How long a new key is published before it signs.
    pub fn publish_ahead(&self) -> Duration {
        self.rotation
            .publish_ahead
            .unwrap_or(Duration(self.jwks_max_age.std().saturating_mul(2)))
    }

    /// The rules no type can express: `(key, problem)` of the first one broken.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.jwks_max_age.std().is_zero() {
            return Err(("secrets.jwks_max_age", "must be longer than 0s".to_owned()));
        }
        if self.refresh_interval.std() < std::time::Duration::from_secs(1) {
            return Err(("secrets.refresh_interval", "must be at least 1s".to_owned()));
        }
        let ahead = self.publish_ahead();
        if ahead.std() < self.jwks_max_age.std() {
            return Err((
                "secrets.rotation.publish_ahead",
                format!(
                    "{ahead} is shorter than secrets.jwks_max_age ({}): clients holding a cached \
                     JWKS would meet a key they have never seen",
                    self.jwks_max_age
                ),
            ));
        }
        if let Some(interval) = self.rotation.interval {
            if interval.std() <= ahead.std() {
                return Err((
                    "secrets.rotation.interval",
                    format!(
                        "{interval} must be longer than secrets.rotation.publish_ahead ({ahead})"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A non-empty list of secrets, each at least [`MIN_SECRET_LEN`] characters.
#[derive(Clone, Debug, Serialize)]
pub struct Secrets(Vec<Secret>);

impl Secrets {
    /// Validates a list of secrets.
    pub fn new(list: Vec<Secret>) -> Result<Self, String> {
        if list.is_empty() {
            return Err("must list at least one secret".to_owned());
        }
        if let Some(i) = list
            .iter()
            .position(|s| s.expose().chars().count() < MIN_SECRET_LEN)
        {
            return Err(format!(
                "secret #{} is shorter than {MIN_SECRET_LEN} characters",
                i + 1
            ));
        }
        Ok(Self(list))
    }

    /// The secret that encrypts new keys.
    pub fn current(&self) -> &Secret {
        // The constructor guarantees at least one entry.
        &self.0[0]
    }

    /// Every secret, in order of preference.
    pub fn all(&self) -> &[Secret] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Secrets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Secrets::new(Vec::<Secret>::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// RSA modulus size for new keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RsaBits {
    #[default]
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl RsaBits {
    /// The size in bits.
    pub fn bits(self) -> u32 {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }
}

impl Serialize for RsaBits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.bits())
    }
}

impl<'de> Deserialize<'de> for RsaBits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u32::deserialize(d)? {
            2048 => Ok(Self::Rsa2048),
            3072 => Ok(Self::Rsa3072),
            4096 => Ok(Self::Rsa4096),
            other => Err(de::Error::custom(format!(
                "{other} is not a supported RSA size (2048, 3072 or 4096)"
            ))),
        }
    }
}

/// What session tokens carry and how strictly they are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Token (and session) lifetime.
    pub lifespan: Duration,
    /// `iss`, set and checked when configured.
    pub issuer: Option<String>,
    /// `aud`, set and checked (any one must match).
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
}
