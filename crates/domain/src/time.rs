//! How times are written into event payloads: RFC 3339, UTC, always six fractional digits.
//! One form whatever wrote the event (a Rust transaction or a Postgres statement, which
//! formats with `to_char(… 'US')`): chrono's default drops trailing zeros (`.780Z` for
//! `.780000Z`), so the same instant would reach receivers in two spellings.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// `2026-12-06T06:16:19.780000Z`.
pub fn rfc3339_micros(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `#[serde(serialize_with = "domain::time::micros")]`.
pub fn micros<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_micros(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_always() {
        let at: DateTime<Utc> = "2026-12-06T06:16:19.780Z".parse().unwrap();
        assert_eq!(rfc3339_micros(&at), "2026-12-06T06:16:19.780000Z");
        let at: DateTime<Utc> = "2026-12-06T06:16:19Z".parse().unwrap();
        assert_eq!(rfc3339_micros(&at), "2026-12-06T06:16:19.000000Z");
    }
}
