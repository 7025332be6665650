//! The SQL types the two backends store differently, so that one schema and one
//! set of models serve both: ids (`uuid` in PostgreSQL, UUID text in SQLite),
//! timestamps (`timestamptz`, integer microseconds since the epoch) and tags
//! (`text[]`, a JSON array in text).
//!
//! Each is a diesel SQL type naming its type on both backends, and a Rust
//! value ([`DbId`], [`DbTime`], [`DbTags`]) converting to and from either.

use std::io::Write;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types;
use diesel::sqlite::{Sqlite, SqliteValue};
use time::OffsetDateTime;
use uuid::Uuid;

/// The SQL types of the schema.
pub(crate) mod types {
    use diesel::query_builder::QueryId;
    use diesel::sql_types::SqlType;

    /// An id: `uuid`, or its text.
    #[derive(Debug, Clone, Copy, SqlType, QueryId)]
    #[diesel(postgres_type(oid = 2950, array_oid = 2951))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Id;

    /// A moment: `timestamptz`, or microseconds since the Unix epoch.
    #[derive(Debug, Clone, Copy, SqlType, QueryId)]
    #[diesel(postgres_type(oid = 1184, array_oid = 1185))]
    #[diesel(sqlite_type(name = "Long"))]
    pub struct Moment;

    /// An attachment's tags: `text[]`, or a JSON array of strings.
    #[derive(Debug, Clone, Copy, SqlType, QueryId)]
    #[diesel(postgres_type(oid = 1009, array_oid = 1009))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Tags;
}

/// An id as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = types::Id)]
pub(crate) struct DbId(pub(crate) Uuid);

/// A moment as stored, to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = types::Moment)]
pub(crate) struct DbTime(pub(crate) OffsetDateTime);

/// Tags as stored.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = types::Tags)]
pub(crate) struct DbTags(pub(crate) Vec<String>);

/// Microseconds since the Unix epoch (rounded down), as SQLite stores moments.
pub(crate) fn to_micros(at: OffsetDateTime) -> deserialize::Result<i64> {
    Ok(i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000))?)
}

/// The inverse of [`to_micros`], in UTC.
pub(crate) fn from_micros(micros: i64) -> deserialize::Result<OffsetDateTime> {
    Ok(OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(micros) * 1_000,
    )?)
}

impl ToSql<types::Id, Pg> for DbId {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<types::Id, Pg> for DbId {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self(<Uuid as FromSql<sql_types::Uuid, Pg>>::from_sql(
            value,
        )?))
    }
}

impl ToSql<types::Id, Sqlite> for DbId {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<types::Id, Sqlite> for DbId {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<sql_types::Text, Sqlite>>::from_sql(value)?;
        Ok(Self(Uuid::parse_str(&text)?))
    }
}

impl ToSql<types::Moment, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <OffsetDateTime as ToSql<sql_types::Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<types::Moment, Pg> for DbTime {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self(<OffsetDateTime as FromSql<
            sql_types::Timestamptz,
            Pg,
        >>::from_sql(value)?))
    }
}

impl ToSql<types::Moment, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(to_micros(self.0)?);
        Ok(IsNull::No)
    }
}

impl FromSql<types::Moment, Sqlite> for DbTime {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let micros = <i64 as FromSql<sql_types::BigInt, Sqlite>>::from_sql(value)?;
        Ok(Self(from_micros(micros)?))
    }
}

impl ToSql<types::Tags, Pg> for DbTags {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <Vec<String> as ToSql<sql_types::Array<sql_types::Text>, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<types::Tags, Pg> for DbTags {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self(<Vec<String> as FromSql<
            sql_types::Array<sql_types::Text>,
            Pg,
        >>::from_sql(value)?))
    }
}

impl ToSql<types::Tags, Sqlite> for DbTags {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl FromSql<types::Tags, Sqlite> for DbTags {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<sql_types::Text, Sqlite>>::from_sql(value)?;
        Ok(Self(serde_json::from_str(&text)?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is how a test fails")]

    use super::*;

    #[test]
    fn timestamps_keep_microseconds_before_and_after_the_epoch() {
        for micros in [0, 1, -1, 1_750_000_000_123_456, -86_400_000_001] {
            let at = from_micros(micros).unwrap();
            assert_eq!(to_micros(at).unwrap(), micros);
        }
        let at = OffsetDateTime::UNIX_EPOCH - time::Duration::nanoseconds(1_500);
        assert_eq!(to_micros(at).unwrap(), -2, "sub-microseconds round down");
    }
}
