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

/// A deliberately plain check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
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
