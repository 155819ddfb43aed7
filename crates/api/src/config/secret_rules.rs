//! What a secret (`secrets.keys`, `server.admin.api_key`) must not be (docs/operations.md, "Safe set-ups"): a
//! placeholder anywhere, and, while any listener is off loopback, shorter than 32 characters or
//! a text that appears in this repository (whoever reads it would know the secret).

use super::fingerprint::fingerprint;

mod published {
    include!(concat!(env!("OUT_DIR"), "/published_secrets.rs"));
}

/// The development secret of `config/config.yaml`: the one text of this repository accepted
/// as a secret, and only while every listener is on loopback.
pub const DEV_SECRET: &str = "dev-only-secret-change-me-0123456789";

/// The shortest secret accepted while a listener is off loopback.
pub const MIN_EXPOSED_SECRET_LEN: usize = 32;

/// Why a secret is refused. Never carries the secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretProblem {
    #[error("looks like a placeholder (angle brackets): put a secret of your own there (openssl rand -base64 32)")]
    AngleBrackets,
    #[error("contains whitespace (a placeholder or a copy-paste slip): put a secret of your own there (openssl rand -base64 32)")]
    Whitespace,
    #[error("looks like a placeholder (\"changeme\"): put a secret of your own there (openssl rand -base64 32)")]
    ChangeMe,
    #[error("is the value shipped in .env.example: put a secret of your own there (openssl rand -base64 32)")]
    EnvExample,
    #[error("is shorter than {MIN_EXPOSED_SECRET_LEN} characters while a listener is on {0}: use a long random one (openssl rand -base64 32)")]
    TooShortWhenExposed(std::net::SocketAddr),
    #[error("is published in this repository (anyone who reads it knows it) while a listener is on {0}: use a secret of your own (openssl rand -base64 32)")]
    PublishedWhenExposed(std::net::SocketAddr),
}

/// Checks one secret; `exposed` is the first listener off loopback, if any.
pub fn check(secret: &str, exposed: Option<std::net::SocketAddr>) -> Result<(), SecretProblem> {
    if secret.contains(['<', '>']) {
        return Err(SecretProblem::AngleBrackets);
    }
    if secret.chars().any(char::is_whitespace) {
        return Err(SecretProblem::Whitespace);
    }
    if secret != DEV_SECRET && says_change_me(secret) {
        return Err(SecretProblem::ChangeMe);
    }
    if is_in(published::ENV_EXAMPLE, secret) {
        return Err(SecretProblem::EnvExample);
    }
    if let Some(address) = exposed {
        if secret.chars().count() < MIN_EXPOSED_SECRET_LEN {
            return Err(SecretProblem::TooShortWhenExposed(address));
        }
        if is_published(secret) {
            return Err(SecretProblem::PublishedWhenExposed(address));
        }
    }
    Ok(())
}

/// Whether `secret` appears in a file of this repository (as the build script split them).
pub fn is_published(secret: &str) -> bool {
    secret == DEV_SECRET || is_in(published::PUBLISHED, secret)
}

fn is_in(fingerprints: &[u64], text: &str) -> bool {
    fingerprints.binary_search(&fingerprint(text)).is_ok()
}

/// `changeme`, `change-me`, `CHANGE_ME`, `change.me`…
fn says_change_me(secret: &str) -> bool {
    let letters: String = secret
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    letters.contains("changeme")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSED: Option<std::net::SocketAddr> = Some(std::net::SocketAddr::new(
        std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        8000,
    ));

    #[test]
    fn placeholders_are_refused_everywhere() {
        for (secret, problem) in [
            ("<openssl rand -hex 32>", SecretProblem::AngleBrackets),
            (
                "<your-secret-goes-here-please>",
                SecretProblem::AngleBrackets,
            ),
            ("a secret with spaces in it", SecretProblem::Whitespace),
            ("tab\tseparated-secret-value", SecretProblem::Whitespace),
            ("changeme-changeme-changeme", SecretProblem::ChangeMe),
            ("Change_Me-to-a-long-random-secret", SecretProblem::ChangeMe),
            ("CHANGE.ME.0123456789abcdef", SecretProblem::ChangeMe),
        ] {
            assert_eq!(check(secret, None), Err(problem), "{secret}");
            assert_eq!(check(secret, EXPOSED), Err(problem), "{secret}");
        }
    }

    #[test]
    fn the_repository_s_texts_are_refused_off_loopback_only() {
        // In config/config.yaml, config/config.example.yaml's neighbours and the test helpers.
        for secret in [DEV_SECRET, "integration-test-secret-0123456789"] {
            assert_eq!(check(secret, None), Ok(()), "{secret}");
            assert_eq!(
                check(secret, EXPOSED),
                Err(SecretProblem::PublishedWhenExposed(EXPOSED.unwrap())),
                "{secret}"
            );
        }
    }

    #[test]
    fn a_long_secret_of_one_s_own_passes_everywhere() {
        // Made here, so in no file of the repository.
        let own: String = (0..40)
            .map(|i| char::from(b'a' + ((i * 7 + 3) % 26) as u8))
            .chain(std::process::id().to_string().chars())
            .collect();
        assert_eq!(check(&own, None), Ok(()));
        assert_eq!(check(&own, EXPOSED), Ok(()));
        assert_eq!(
            check(&own[..20], EXPOSED),
            Err(SecretProblem::TooShortWhenExposed(EXPOSED.unwrap()))
        );
    }
}
