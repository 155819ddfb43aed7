//! E-mail address rules: what the service accepts as an address and as a user's list of them.

use crate::model::NewEmail;

/// Why a list of addresses for a new user was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailsRefused {
    /// One of them is not an e-mail address.
    #[error("not an e-mail address")]
    NotAnAddress,
    /// More than one is marked primary.
    #[error("at most one address may be primary")]
    SeveralPrimaries,
    /// The same address (compared case-insensitively) appears twice.
    #[error("the same address appears twice")]
    Duplicate,
}

/// The longest address accepted, in characters.
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest local part accepted, in characters.
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// The rule of [`is_email`] as an ECMA-262 regular expression (with [`MAX_EMAIL_LEN`] as the
/// length limit), for API descriptions: the two must accept exactly the same strings.
pub const EMAIL_PATTERN: &str = "^[^@\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]{1,64}@[^@.\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff][^@\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]*\\.[^@\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]*[^@.\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]$";

/// A character an address may not hold: whitespace, a control character, a byte-order mark.
fn forbidden(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == '\u{feff}'
}

/// A deliberately plain check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.chars().count() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && local.chars().count() <= MAX_LOCAL_PART_LEN
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.chars().any(forbidden)
}

/// Checks the addresses of a new user: each an address, at most one primary, no duplicates.
pub fn validate_new_emails(emails: &[NewEmail]) -> Result<(), EmailsRefused> {
    if emails.iter().any(|e| !is_email(&e.address)) {
        return Err(EmailsRefused::NotAnAddress);
    }
    if emails.iter().filter(|e| e.is_primary).count() > 1 {
        return Err(EmailsRefused::SeveralPrimaries);
    }
    let mut seen: Vec<String> = emails.iter().map(|e| e.address.to_lowercase()).collect();
    seen.sort();
    seen.dedup();
    if seen.len() != emails.len() {
        return Err(EmailsRefused::Duplicate);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(address: &str, is_primary: bool) -> NewEmail {
        NewEmail {
            address: address.to_owned(),
            is_primary,
            is_verified: false,
        }
    }

    #[test]
    fn email_shapes() {
        for good in ["a@b.c", "jane.doe+x@example.co.uk"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "", "a", "a@", "@b.c", "a@b", "a b@c.d", "a@b@c.d", "a@.c", "a@c.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!(validate_new_emails(&[]), Ok(()));
        assert_eq!(
            validate_new_emails(&[new("a@b.c", true), new("d@e.f", false)]),
            Ok(())
        );
        assert_eq!(
            validate_new_emails(&[new("a@b.c", true), new("d@e.f", true)]),
            Err(EmailsRefused::SeveralPrimaries)
        );
        assert_eq!(
            validate_new_emails(&[new("a@b.c", true), new("A@B.c", false)]),
            Err(EmailsRefused::Duplicate)
        );
        assert_eq!(
            validate_new_emails(&[new("nope", true)]),
            Err(EmailsRefused::NotAnAddress)
        );
    }
}
