//! Fixed Postgres statements with their values, sent by Diesel (the pool) and tokio-postgres
//! (the workers' lanes) alike. Diesel prepares a [`Prepared`] once per connection and reuses
//! it, its type `K` being the cache key; a `sql_query` is never cached, so Postgres would parse
//! and plan it on every call (about a millisecond for the deletion or the dispatcher's claim).

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{
    Array, Bool, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{QueryResult, RunQueryDsl};
use std::error::Error as StdError;
use std::marker::PhantomData;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// One parameter's value, by kind.
pub(crate) enum Value<'a> {
    Uuid(&'a uuid::Uuid),
    MaybeUuid(&'a Option<uuid::Uuid>),
    Time(&'a DateTime<Utc>),
    MaybeTime(&'a Option<DateTime<Utc>>),
    Bool(&'a bool),
    Int(&'a i32),
    Text(&'a String),
    MaybeText(&'a Option<String>),
    Json(&'a serde_json::Value),
    Uuids(&'a Vec<uuid::Uuid>),
    MaybeUuids(&'a Vec<Option<uuid::Uuid>>),
    Times(&'a Vec<DateTime<Utc>>),
    MaybeTimes(&'a Vec<Option<DateTime<Utc>>>),
    Texts(&'a Vec<String>),
    MaybeTexts(&'a Vec<Option<String>>),
    Jsons(&'a Vec<serde_json::Value>),
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be personal data (e-mail addresses in the deletion's details).
        f.write_str("statement parameter")
    }
}

/// `sql` (with `$1`, `$2` … for `values`, in order) as the statement `K`: one `K` per text.
pub(crate) struct Prepared<'a, K> {
    sql: &'static str,
    values: &'a [Value<'a>],
    key: PhantomData<K>,
}

impl<'a, K> Prepared<'a, K> {
    pub(crate) fn new(sql: &'static str, values: &'a [Value<'a>]) -> Self {
        Self {
            sql,
            values,
            key: PhantomData,
        }
    }
}

impl<K: 'static> QueryId for Prepared<'_, K> {
    type QueryId = K;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<K> Query for Prepared<'_, K> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<K> QueryFragment<Pg> for Prepared<'_, K> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            match rest[at + 1..at + 1 + digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| self.values.get(i))
            {
                Some(value) => bind(&mut out, value)?,
                None => out.push_sql("$"),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl<K> RunQueryDsl<diesel::PgConnection> for Prepared<'_, K> {}

/// Diesel: each value as its SQL type.
fn bind<'b>(out: &mut AstPass<'_, 'b, Pg>, value: &Value<'b>) -> QueryResult<()> {
    match *value {
        Value::Uuid(v) => out.push_bind_param::<SqlUuid, _>(v),
        Value::MaybeUuid(v) => out.push_bind_param::<Nullable<SqlUuid>, _>(v),
        Value::Time(v) => out.push_bind_param::<Timestamptz, _>(v),
        Value::MaybeTime(v) => out.push_bind_param::<Nullable<Timestamptz>, _>(v),
        Value::Bool(v) => out.push_bind_param::<Bool, _>(v),
        Value::Int(v) => out.push_bind_param::<Integer, _>(v),
        Value::Text(v) => out.push_bind_param::<Text, _>(v),
        Value::MaybeText(v) => out.push_bind_param::<Nullable<Text>, _>(v),
        Value::Json(v) => out.push_bind_param::<Jsonb, _>(v),
        Value::Uuids(v) => out.push_bind_param::<Array<SqlUuid>, _>(v),
        Value::MaybeUuids(v) => out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(v),
        Value::Times(v) => out.push_bind_param::<Array<Timestamptz>, _>(v),
        Value::MaybeTimes(v) => out.push_bind_param::<Array<Nullable<Timestamptz>>, _>(v),
        Value::Texts(v) => out.push_bind_param::<Array<Text>, _>(v),
        Value::MaybeTexts(v) => out.push_bind_param::<Array<Nullable<Text>>, _>(v),
        Value::Jsons(v) => out.push_bind_param::<Array<Jsonb>, _>(v),
    }
}

// tokio-postgres: each value as the driver's own type. The prepared statement's parameter
// types are what `accepts` is checked against, by the inner value.
impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Self::Uuid(v) => v.to_sql_checked(ty, out),
            Self::MaybeUuid(v) => v.to_sql_checked(ty, out),
            Self::Time(v) => v.to_sql_checked(ty, out),
            Self::MaybeTime(v) => v.to_sql_checked(ty, out),
            Self::Bool(v) => v.to_sql_checked(ty, out),
            Self::Int(v) => v.to_sql_checked(ty, out),
            Self::Text(v) => v.to_sql_checked(ty, out),
            Self::MaybeText(v) => v.to_sql_checked(ty, out),
            Self::Json(v) => v.to_sql_checked(ty, out),
            Self::Uuids(v) => v.to_sql_checked(ty, out),
            Self::MaybeUuids(v) => v.to_sql_checked(ty, out),
            Self::Times(v) => v.to_sql_checked(ty, out),
            Self::MaybeTimes(v) => v.to_sql_checked(ty, out),
            Self::Texts(v) => v.to_sql_checked(ty, out),
            Self::MaybeTexts(v) => v.to_sql_checked(ty, out),
            Self::Jsons(v) => v.to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql` (the inner value's own `accepts`).
        true
    }

    to_sql_checked!();
}
