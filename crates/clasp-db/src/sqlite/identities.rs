//! [`IdentityStore`] on SQLite.

use async_trait::async_trait;
use clasp_domain::credentials::{ApiKey, Session};
use clasp_domain::ports::{IdentityStore, RepoError};
use clasp_domain::{Tenant, TenantId};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use super::SqliteStore;
use super::models::{ApiKeyRow, SessionRow, TenantRow, to_micros};
use super::schema::{api_keys, sessions, tenants};
use crate::error::{found, query_error};

diesel::infix_operator!(Glob, " GLOB ", backend: diesel::sqlite::Sqlite);

/// A GLOB pattern matching exactly the strings that start with `prefix`.
///
/// GLOB rather than LIKE: it is case-sensitive, as keys are, and SQLite turns a
/// GLOB whose pattern starts with literal characters into a range scan of the
/// `prefix` index. Its metacharacters are escaped as one-character sets, so the
/// argument is taken literally (`%` and `_` mean nothing to GLOB at all).
fn starts_with_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        match c {
            '*' => pattern.push_str("[*]"),
            '?' => pattern.push_str("[?]"),
            '[' => pattern.push_str("[[]"),
            other => pattern.push(other),
        }
    }
    pattern.push('*');
    pattern
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), RepoError> {
        let row = TenantRow::from_domain(tenant)?;
        let mut conn = self.conn().await?;
        diesel::insert_into(tenants::table)
            .values(row)
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, RepoError> {
        let mut conn = self.read_conn().await?;
        found(
            tenants::table
                .filter(tenants::slug.eq(slug))
                .select(TenantRow::as_select())
                .get_result(&mut *conn)
                .await,
            TenantRow::into_domain,
        )
    }

    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, RepoError> {
        let mut conn = self.read_conn().await?;
        found(
            tenants::table
                .find(id.to_string())
                .select(TenantRow::as_select())
                .get_result(&mut *conn)
                .await,
            TenantRow::into_domain,
        )
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), RepoError> {
        let row = ApiKeyRow::from_domain(key)?;
        let mut conn = self.conn().await?;
        diesel::insert_into(api_keys::table)
            .values(row)
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, RepoError> {
        let mut conn = self.read_conn().await?;
        found(
            api_keys::table
                .filter(api_keys::hash.eq(hash))
                .select(ApiKeyRow::as_select())
                .get_result(&mut *conn)
                .await,
            ApiKeyRow::into_domain,
        )
    }

    async fn find_api_keys(&self, prefix_or_id: &str) -> Result<Vec<ApiKey>, RepoError> {
        let by_prefix = Glob::new(
            api_keys::prefix,
            starts_with_pattern(prefix_or_id).into_sql::<Text>(),
        );
        let mut query = api_keys::table.filter(by_prefix).into_boxed();
        if let Ok(key_id) = Uuid::parse_str(prefix_or_id) {
            query = query.or_filter(api_keys::id.eq(key_id.to_string()));
        }
        let mut conn = self.conn().await?;
        query
            .order((api_keys::created_at.asc(), api_keys::id.asc()))
            .select(ApiKeyRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?
            .into_iter()
            .map(ApiKeyRow::into_domain)
            .collect()
    }

    async fn revoke_api_key(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, RepoError> {
        let at = to_micros(at)?;
        let mut conn = self.conn().await?;
        let changed = diesel::update(api_keys::table.find(id.to_string()))
            .set(api_keys::revoked_at.eq(at))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(changed > 0)
    }

    async fn create_session(&self, session: &Session) -> Result<(), RepoError> {
        let row = SessionRow::from_domain(session)?;
        let mut conn = self.conn().await?;
        diesel::insert_into(sessions::table)
            .values(row)
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn session_by_hash(&self, hash: &str) -> Result<Option<Session>, RepoError> {
        let mut conn = self.read_conn().await?;
        found(
            sessions::table
                .filter(sessions::hash.eq(hash))
                .select(SessionRow::as_select())
                .get_result(&mut *conn)
                .await,
            SessionRow::into_domain,
        )
    }

    async fn session_by_id(&self, id: Uuid) -> Result<Option<Session>, RepoError> {
        let mut conn = self.read_conn().await?;
        found(
            sessions::table
                .filter(sessions::id.eq(id.to_string()))
                .select(SessionRow::as_select())
                .get_result(&mut *conn)
                .await,
            SessionRow::into_domain,
        )
    }

    async fn revoke_session(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, RepoError> {
        let at = to_micros(at)?;
        let mut conn = self.conn().await?;
        let changed = diesel::update(sessions::table.find(id.to_string()))
            .set(sessions::revoked_at.eq(at))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(changed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::starts_with_pattern;

    #[test]
    fn patterns_escape_every_glob_metacharacter() {
        assert_eq!(starts_with_pattern("ixk_Ab"), "ixk_Ab*");
        assert_eq!(starts_with_pattern("a*b?c[d]%_"), "a[*]b[?]c[[]d]%_*");
        assert_eq!(starts_with_pattern(""), "*");
    }
}
