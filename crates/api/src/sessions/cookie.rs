//! The session cookie as the config describes it.

use crate::config::{CookieConfig, SameSite};
use actix_web::cookie::{self, Cookie};

/// A `Set-Cookie` that removes the session cookie: same name, domain, path `/` and
/// attributes as when it was set, empty value, `Max-Age=0`.
pub fn removal(config: &CookieConfig) -> Cookie<'static> {
    let mut c = Cookie::build(config.name.clone(), "")
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .http_only(config.http_only)
        .secure(config.secure)
        .same_site(match config.same_site {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        })
        .finish();
    if let Some(domain) = &config.domain {
        c.set_domain(domain.clone());
    }
    c
}
