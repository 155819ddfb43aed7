//! `GET /.well-known/jwks.json`.

use crate::keys::KeyManager;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// Serves the public keys. The body is the pre-serialised document: no work per request
/// beyond comparing the ETag.
pub async fn jwks_json(req: HttpRequest, keys: web::Data<KeyManager>) -> HttpResponse {
    let doc = keys.jwks();
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, &doc.etag));
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        // `max-age` is `secrets.jwks_max_age`: a key is published at least that long
        // before it signs.
        .insert_header((header::CACHE_CONTROL, keys.jwks_cache_control()))
        .insert_header((header::ETAG, doc.etag.as_str()))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    if not_modified {
        response.finish()
    } else {
        response
            .content_type(header::ContentType::json())
            .body(doc.body)
    }
}

/// `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2): `W/` prefixes are ignored.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn if_none_match_forms() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
        assert!(!etag_matches("abc", "\"abc\""));
    }
}
