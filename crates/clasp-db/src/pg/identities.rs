//! [`IdentityStore`] on PostgreSQL.

use async_trait::async_trait;
use clasp_domain::credentials::{ApiKey, Session};
use clasp_domain::ports::{IdentityStore, RepoError};
use clasp_domain::{Tenant, TenantId};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use super::models::{ApiKeyRow, NewApiKey, NewSession, NewTenant, SessionRow, TenantRow};
use super::schema::{api_keys, sessions, tenants};
use crate::error::{found, query_error};

/// The escape character of [`starts_with_pattern`].
const LIKE_ESCAPE: char = '\\';

/// A LIKE pattern matching exactly the strings that start with `prefix`.
///
/// LIKE is case-sensitive in PostgreSQL, as keys are, and with a literal start
/// it can use the `text_pattern_ops` index of the migration. Its metacharacters
/// (`%`, `_` and the escape character itself) are escaped, so the argument is
/// taken literally.
fn starts_with_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(tenants::table)
            .values(NewTenant::from_domain(tenant))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, RepoError> {
        let mut conn = self.conn().await?;
        found(
            tenants::table
                .filter(tenants::slug.eq(slug))
                .select(TenantRow::as_select())
                .get_result(&mut *conn)
                .await,
            |row| Ok(TenantRow::into_domain(row)),
        )
    }

    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, RepoError> {
        let mut conn = self.conn().await?;
        found(
            tenants::table
                .find(id.0)
                .select(TenantRow::as_select())
                .get_result(&mut *conn)
                .await,
            |row| Ok(TenantRow::into_domain(row)),
        )
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(api_keys::table)
            .values(NewApiKey::from_domain(key))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, RepoError> {
        let mut conn = self.conn().await?;
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
        let by_prefix = api_keys::prefix
            .like(starts_with_pattern(prefix_or_id))
            .escape(LIKE_ESCAPE);
        let mut query = api_keys::table.filter(by_prefix).into_boxed();
        if let Ok(key_id) = Uuid::parse_str(prefix_or_id) {
            query = query.or_filter(api_keys::id.eq(key_id));
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
        let mut conn = self.conn().await?;
        let changed = diesel::update(api_keys::table.find(id))
            .set(api_keys::revoked_at.eq(at))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(changed > 0)
    }

    async fn create_session(&self, session: &Session) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(sessions::table)
            .values(NewSession::from_domain(session))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn session_by_hash(&self, hash: &str) -> Result<Option<Session>, RepoError> {
        let mut conn = self.conn().await?;
        found(
            sessions::table
                .filter(sessions::hash.eq(hash))
                .select(SessionRow::as_select())
                .get_result(&mut *conn)
                .await,
            |row| Ok(SessionRow::into_domain(row)),
        )
    }

    async fn session_by_id(&self, id: Uuid) -> Result<Option<Session>, RepoError> {
        let mut conn = self.conn().await?;
        found(
            sessions::table
                .filter(sessions::id.eq(id))
                .select(SessionRow::as_select())
                .get_result(&mut *conn)
                .await,
            |row| Ok(SessionRow::into_domain(row)),
        )
    }

    async fn revoke_session(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let changed = diesel::update(sessions::table.find(id))
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
    fn patterns_escape_every_like_metacharacter() {
        assert_eq!(starts_with_pattern("ixk_Ab"), "ixk\\_Ab%");
        assert_eq!(starts_with_pattern("a%b_c\\d*?["), "a\\%b\\_c\\\\d*?[%");
        assert_eq!(starts_with_pattern(""), "%");
    }
}
