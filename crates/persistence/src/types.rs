//! SQL types whose storage differs between the backends, and the Rust values that map to them.
//!
//! The `MultiConnection` derive only covers the types both backends share; for the rest we say
//! how each backend stores them (Postgres natively, SQLite as text) and route the
//! `MultiBackend` impls through those, as the derive's documentation shows.

use crate::pool::MultiBackend;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::query_builder::QueryId;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::SqlType;
use diesel::sql_types::{HasSqlType, Jsonb, Text, Timestamptz};
use diesel::sqlite::Sqlite;

/// `uuid` on Postgres, `TEXT` on SQLite.
#[derive(Clone, Copy, Debug, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct DbUuid;

/// `timestamptz` on Postgres, RFC 3339 UTC text with microseconds on SQLite.
#[derive(Clone, Copy, Debug, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct DbTimestamp;

/// `jsonb` on Postgres, `TEXT` on SQLite.
#[derive(Clone, Copy, Debug, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
pub struct DbJsonb;

/// A UUID column value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = DbUuid)]
pub struct Id(pub uuid::Uuid);

/// A timestamp column value, always UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = DbTimestamp)]
pub struct Timestamp(pub DateTime<Utc>);

/// A JSON column value.
#[derive(Clone, Debug, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = DbJsonb)]
pub struct Json(pub serde_json::Value);

// ---- Postgres: delegate to Diesel's native impls.

impl ToSql<DbUuid, Pg> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <uuid::Uuid as ToSql<diesel::sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}
impl FromSql<DbUuid, Pg> for Id {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <uuid::Uuid as FromSql<diesel::sql_types::Uuid, Pg>>::from_sql(bytes).map(Id)
    }
}
impl ToSql<DbTimestamp, Pg> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}
impl FromSql<DbTimestamp, Pg> for Timestamp {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<Timestamptz, Pg>>::from_sql(bytes).map(Timestamp)
    }
}
impl ToSql<DbJsonb, Pg> for Json {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <serde_json::Value as ToSql<Jsonb, Pg>>::to_sql(&self.0, out)
    }
}
impl FromSql<DbJsonb, Pg> for Json {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <serde_json::Value as FromSql<Jsonb, Pg>>::from_sql(bytes).map(Json)
    }
}

// ---- SQLite: text.

/// Times as both backends keep them: microsecond precision (Postgres' resolution).
pub(crate) fn db_time(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

/// Fixed width (microseconds, `Z`) so that text order is time order in SQL comparisons.
pub(crate) fn sqlite_time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn sqlite_text(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<String> {
    <String as FromSql<Text, Sqlite>>::from_sql(bytes)
}

impl ToSql<DbUuid, Sqlite> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}
impl FromSql<DbUuid, Sqlite> for Id {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(Id(uuid::Uuid::parse_str(&sqlite_text(bytes)?)?))
    }
}
impl ToSql<DbTimestamp, Sqlite> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(sqlite_time_text(&self.0));
        Ok(IsNull::No)
    }
}
impl FromSql<DbTimestamp, Sqlite> for Timestamp {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = sqlite_text(bytes)?;
        Ok(Timestamp(
            DateTime::parse_from_rfc3339(&text)?.with_timezone(&Utc),
        ))
    }
}
impl ToSql<DbJsonb, Sqlite> for Json {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}
impl FromSql<DbJsonb, Sqlite> for Json {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(Json(serde_json::from_str(&sqlite_text(bytes)?)?))
    }
}

// ---- MultiBackend: dispatch to whichever backend the connection is.

macro_rules! multi_backend {
    ($sql:ident, $rust:ty) => {
        impl HasSqlType<$sql> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$sql>(lookup)
            }
        }
        impl FromSql<$sql, MultiBackend> for $rust {
            fn from_sql(
                bytes: <MultiBackend as Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                bytes.from_sql::<$rust, $sql>()
            }
        }
        impl ToSql<$sql, MultiBackend> for $rust {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value(($sql, self));
                Ok(IsNull::No)
            }
        }
    };
}

multi_backend!(DbUuid, Id);
multi_backend!(DbTimestamp, Timestamp);
multi_backend!(DbJsonb, Json);

impl From<uuid::Uuid> for Id {
    fn from(id: uuid::Uuid) -> Self {
        Id(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_times_sort_as_text() {
        let a = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let b = DateTime::from_timestamp(1_700_000_000, 500_000).unwrap();
        let c = DateTime::from_timestamp(1_700_000_001, 0).unwrap();
        let texts: Vec<String> = [a, b, c].iter().map(sqlite_time_text).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
        assert_eq!(texts[0], "2023-11-14T22:13:20.000000Z");
    }
}
