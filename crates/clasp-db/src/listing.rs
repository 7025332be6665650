//! What both backends share to answer `AttachmentRepository::list_page`: the
//! keyset range and order (a macro, since each backend's columns have their own
//! SQL types), and `EXPLAIN` of a built query, to show which index serves it.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// Narrows a boxed query on `attachments` to a listing's keyset range and orders
/// it by (sort column, id) in the listing's direction.
///
/// A bound with a tie-breaker becomes `col >= v AND (col > v OR id > i)` rather
/// than the equivalent `col > v OR (col = v AND id > i)`: its first term is a
/// range on the index's sort column, so the database seeks to the cursor instead
/// of scanning from the start, and the second only sorts out the ties.
///
/// `$value` converts a cursor value to the column's Rust type (fallibly, with
/// `?`), `$id` an `AttachmentId` to the id column's.
macro_rules! keyset {
    // One side of the range: `$or_eq` the column's comparison with ties, `$strict`
    // without.
    (@bound $query:expr, $bound:expr, $or_eq:ident, $strict:ident, $col:expr, $id_col:expr, $value:expr, $id:expr) => {
        match $bound {
            None => $query,
            Some(c) => {
                let v = ($value)(&c.value)?;
                match c.id {
                    Some(cid) => $query.filter(
                        $col.$or_eq(v.clone())
                            .and($col.$strict(v).or($id_col.$strict(($id)(cid)))),
                    ),
                    None => $query.filter($col.$strict(v)),
                }
            }
        }
    };
    ($query:expr, $range:expr, $order:expr, $col:expr, $id_col:expr, $value:expr, $id:expr) => {{
        let query = $query;
        let query = keyset!(@bound query, &$range.after, ge, gt, $col, $id_col, $value, $id);
        let query = keyset!(@bound query, &$range.before, le, lt, $col, $id_col, $value, $id);
        match $order {
            clasp_domain::listing::SortOrder::Asc => query.order(($col.asc(), $id_col.asc())),
            clasp_domain::listing::SortOrder::Desc => query.order(($col.desc(), $id_col.desc())),
        }
    }};
}
pub(crate) use keyset;

diesel::define_sql_function! {
    /// `COALESCE(x, '')`: a text column that may be null, as the listing sorts
    /// it (absent is the empty text, on every backend, as the domain says).
    #[sql_name = "COALESCE"]
    fn coalesce_text(x: diesel::sql_types::Nullable<diesel::sql_types::Text>, y: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A nullable text column as the listing sorts and bounds it: null as `''`.
pub(crate) fn or_empty<C>(column: C) -> coalesce_text<C, &'static str>
where
    C: diesel::expression::AsExpression<diesel::sql_types::Nullable<diesel::sql_types::Text>>,
{
    coalesce_text(column, "")
}

/// Narrows a boxed query on `attachments` to a listing's equality filters;
/// `$tag` builds the condition "has tag `v`" (each backend stores tags its way).
/// Each filter column leads an index of the migrations.
macro_rules! filtered {
    ($query:expr, $filters:expr, $tag:expr) => {{
        let mut query = $query;
        for f in $filters {
            let v = f.value.clone();
            query = match f.field {
                FilterField::CaseId => query.filter(case_id.eq(v)),
                FilterField::ContentType => query.filter(content_type.eq(v)),
                FilterField::Kind => query.filter(kind.eq(v)),
                FilterField::FileFormat => query.filter(file_format.eq(v)),
                FilterField::Filename => query.filter(filename.eq(v)),
                FilterField::Tag => query.filter(($tag)(v)),
                // a value that is no id names no attachment: the nil id
                FilterField::Id => {
                    let wanted = uuid::Uuid::parse_str(&v).unwrap_or_default();
                    query.filter(id.eq($crate::sql::DbId(wanted)))
                }
                FilterField::NameWithoutExtension => query.filter(name_stem.eq(v)),
                FilterField::Description => query.filter(description.eq(v)),
                FilterField::Locale => query.filter(locale.eq(v)),
                FilterField::Sha256 => query.filter(sha256.eq(v)),
            };
        }
        query
    }};
}
pub(crate) use filtered;

/// A size cursor as stored: sizes are `bigint`s (larger ones exist nowhere).
pub(crate) fn stored_size(n: &u64) -> Result<i64, clasp_domain::ports::RepoError> {
    i64::try_from(*n)
        .map_err(|e| clasp_domain::ports::RepoError::Backend(format!("size cursor: {e}")))
}

/// `query` prefixed with `EXPLAIN …`, whose rows (of SQL type `ST`) describe the
/// plan the database picks for it, with the same bound values.
pub(crate) struct Explain<Q, ST> {
    prefix: &'static str,
    query: Q,
    rows: PhantomData<ST>,
}

impl<Q, ST> Explain<Q, ST> {
    /// `prefix` (e.g. `EXPLAIN QUERY PLAN `) followed by `query`.
    pub(crate) fn new(prefix: &'static str, query: Q) -> Self {
        Self {
            prefix,
            query,
            rows: PhantomData,
        }
    }
}

impl<Q, ST> QueryId for Explain<Q, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, ST, DB> QueryFragment<DB> for Explain<Q, ST>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.prefix);
        self.query.walk_ast(out.reborrow())
    }
}

impl<Q, ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType> Query
    for Explain<Q, ST>
{
    type SqlType = ST;
}
