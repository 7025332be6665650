//! [`IdentityStore`](clasp_domain::ports::IdentityStore) on both backends: one
//! body of queries, expanded once per store by [`identity_store!`].
//!
//! What differs lives with each store: how "the key's prefix starts with"
//! is asked (`starts_with`: GLOB on SQLite, LIKE on PostgreSQL, each served
//! by the `prefix` index), and which connection a single-row read takes.

/// Inserts `$row` into `$table` on a connection of `$store`.
macro_rules! insert_row {
    ($store:expr, $table:expr, $row:expr) => {{
        use diesel_async::RunQueryDsl;
        let mut conn = $store.conn().await?;
        diesel::insert_into($table)
            .values($row)
            .execute(&mut *conn)
            .await
            .map_err($crate::error::query_error)?;
        Ok(())
    }};
}
pub(crate) use insert_row;

/// Implements `IdentityStore` for `$store`.
macro_rules! identity_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl clasp_domain::ports::IdentityStore for $store {
            async fn create_tenant(
                &self,
                tenant: &clasp_domain::Tenant,
            ) -> Result<(), clasp_domain::ports::RepoError> {
                $crate::identities::insert_row!(
                    self,
                    $crate::schema::tenants::table,
                    $crate::models::TenantRow::from_domain(tenant)
                )
            }

            async fn tenant_by_slug(
                &self,
                slug: &str,
            ) -> Result<Option<clasp_domain::Tenant>, clasp_domain::ports::RepoError> {
                use diesel::prelude::*;
                use $crate::schema::tenants;
                $crate::error::find_one!(
                    self,
                    tenants::table.filter(tenants::slug.eq(slug)),
                    $crate::models::TenantRow
                )
            }

            async fn tenant_by_id(
                &self,
                id: clasp_domain::TenantId,
            ) -> Result<Option<clasp_domain::Tenant>, clasp_domain::ports::RepoError> {
                use diesel::prelude::*;
                use $crate::schema::tenants;
                $crate::error::find_one!(
                    self,
                    tenants::table.find($crate::sql::DbId(id.0)),
                    $crate::models::TenantRow
                )
            }

            async fn create_api_key(
                &self,
                key: &clasp_domain::ApiKey,
            ) -> Result<(), clasp_domain::ports::RepoError> {
                $crate::identities::insert_row!(
                    self,
                    $crate::schema::api_keys::table,
                    $crate::models::ApiKeyRow::from_domain(key)
                )
            }

            async fn api_key_by_hash(
                &self,
                hash: &str,
            ) -> Result<Option<clasp_domain::ApiKey>, clasp_domain::ports::RepoError> {
                use diesel::prelude::*;
                use $crate::schema::api_keys;
                $crate::error::find_one!(
                    self,
                    api_keys::table.filter(api_keys::hash.eq(hash)),
                    $crate::models::ApiKeyRow
                )
            }

            async fn find_api_keys(
                &self,
                prefix_or_id: &str,
            ) -> Result<Vec<clasp_domain::ApiKey>, clasp_domain::ports::RepoError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use $crate::models::ApiKeyRow;
                use $crate::schema::api_keys;
                let mut query = api_keys::table
                    .filter(Self::starts_with(prefix_or_id))
                    .into_boxed();
                if let Ok(key_id) = uuid::Uuid::parse_str(prefix_or_id) {
                    query = query.or_filter(api_keys::id.eq($crate::sql::DbId(key_id)));
                }
                let mut conn = self.conn().await?;
                query
                    .order((api_keys::created_at.asc(), api_keys::id.asc()))
                    .select(ApiKeyRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::query_error)?
                    .into_iter()
                    .map(ApiKeyRow::into_domain)
                    .collect()
            }

            async fn revoke_api_key(
                &self,
                id: uuid::Uuid,
                at: time::OffsetDateTime,
            ) -> Result<bool, clasp_domain::ports::RepoError> {
                use diesel::prelude::*;
                use $crate::schema::api_keys;
                $crate::error::changed_any!(
                    self,
                    diesel::update(api_keys::table.find($crate::sql::DbId(id)))
                        .set(api_keys::revoked_at.eq($crate::sql::DbTime(at)))
                )
            }

            async fn create_session(
                &self,
                session: &clasp_domain::Session,
            ) -> Result<(), clasp_domain::ports::RepoError> {
                $crate::identities::insert_row!(
                    self,
                    $crate::schema::sessions::table,
                    $crate::models::SessionRow::from_domain(session)
                )
            }

            async fn session_by_hash(
                &self,
                hash: &str,
            ) -> Result<Option<clasp_domain::Session>, clasp_domain::ports::RepoError> {
                use diesel::prelude::*;
                use $crate::schema::sessions;
                $crate::error::find_one!(
                    self,
                    sessions::table.filter(sessions::hash.eq(hash)),
                    $crate::models::SessionRow
                )
            }

            async fn session_by_id(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<clasp_domain::Session>, clasp_domain::ports::RepoError> {
                use diesel::prelude::*;
                use $crate::schema::sessions;
                $crate::error::find_one!(
                    self,
                    sessions::table.filter(sessions::id.eq($crate::sql::DbId(id))),
                    $crate::models::SessionRow
                )
            }

            async fn revoke_session(
                &self,
                id: uuid::Uuid,
                at: time::OffsetDateTime,
            ) -> Result<bool, clasp_domain::ports::RepoError> {
                use diesel::prelude::*;
                use $crate::schema::sessions;
                $crate::error::changed_any!(
                    self,
                    diesel::update(sessions::table.find($crate::sql::DbId(id)))
                        .set(sessions::revoked_at.eq($crate::sql::DbTime(at)))
                )
            }
        }
    };
}
pub(crate) use identity_store;
