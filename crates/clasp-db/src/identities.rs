//! [`IdentityStore`](clasp_domain::ports::IdentityStore) on both backends: one
//! body of queries, expanded once per store by [`identity_store!`].
//!
//! What differs lives with each store: how "the key's prefix starts with"
//! is asked (`starts_with`: GLOB on SQLite, LIKE on PostgreSQL, each served
//! by the `prefix` index), and which connection a single-row read takes.

/// Inserts `$row` into `$table` on a connection of `$store`.
macro_rules! insert_row {
    ($store:expr, $table:expr, $row:expr) => {{
        let mut conn = $store.conn().await?;
        let insert = diesel::insert_into($table).values($row);
        diesel_async::RunQueryDsl::execute(insert, &mut *conn)
            .await
            .map_err($crate::error::query_error)?;
        Ok(())
    }};
}
pub(crate) use insert_row;

/// Stamps `revoked_at` on the row `$id` of `$table` (keys and sessions alike).
macro_rules! revoke {
    ($store:expr, $table:ident, $id:expr, $at:expr) => {{
        let row = $table::table.find($crate::sql::DbId($id));
        changed_any!(
            $store,
            diesel::update(row).set($table::revoked_at.eq(DbTime($at)))
        )
    }};
}
pub(crate) use revoke;

/// The row of `$table` whose secret hashes to `$hash`, as `$row` (keys and
/// sessions alike).
macro_rules! by_hash {
    ($store:expr, $table:ident, $hash:expr, $row:ty) => {{
        let wanted = $table::table.filter($table::hash.eq($hash));
        find_one!($store, wanted, $row)
    }};
}
pub(crate) use by_hash;

/// Implements `IdentityStore` for `$store`.
macro_rules! identity_store {
    ($store:ty) => {
        // One block, so that its imports serve every method.
        const _: () = {
            use clasp_domain::ports::Stored;
            use clasp_domain::{ApiKey, Session, Tenant, TenantId, TenantPolicy};
            use diesel::prelude::*;
            use time::OffsetDateTime;
            use uuid::Uuid;
            use $crate::error::{changed_any, find_all, find_one};
            use $crate::identities::{by_hash, insert_row, revoke};
            use $crate::models::{ApiKeyRow, SessionRow, TenantRow};
            use $crate::schema::{api_keys, sessions, tenants};
            use $crate::sql::{DbId, DbTags, DbTime};

            #[async_trait::async_trait]
            impl clasp_domain::ports::IdentityStore for $store {
                async fn create_tenant(&self, tenant: &Tenant) -> Stored<()> {
                    insert_row!(self, tenants::table, TenantRow::from_domain(tenant))
                }

                async fn tenant_by_slug(&self, slug: &str) -> Stored<Option<Tenant>> {
                    let wanted = tenants::table.filter(tenants::slug.eq(slug));
                    find_one!(self, wanted, TenantRow)
                }

                async fn tenant_by_id(&self, id: TenantId) -> Stored<Option<Tenant>> {
                    find_one!(self, tenants::table.find(DbId(id.0)), TenantRow)
                }

                async fn set_tenant_policy(
                    &self,
                    tenant: TenantId,
                    policy: &TenantPolicy,
                ) -> Stored<bool> {
                    let allowed = policy.allowed_types.clone().map(DbTags);
                    // At most 5 GiB (TenantPolicy::new), far inside i64.
                    let max = policy
                        .max_upload_bytes
                        .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
                    let row = tenants::table.find(DbId(tenant.0));
                    changed_any!(
                        self,
                        diesel::update(row).set((
                            tenants::allowed_types.eq(allowed),
                            tenants::max_upload_bytes.eq(max),
                        ))
                    )
                }

                async fn list_tenants(
                    &self,
                    after: Option<&str>,
                    limit: usize,
                ) -> Stored<Vec<Tenant>> {
                    let mut query = tenants::table.into_boxed();
                    if let Some(after) = after {
                        query = query.filter(tenants::slug.gt(after.to_owned()));
                    }
                    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                    let page = query.order(tenants::slug.asc()).limit(limit);
                    find_all!(self, page, TenantRow)
                }

                async fn create_api_key(&self, key: &ApiKey) -> Stored<()> {
                    insert_row!(self, api_keys::table, ApiKeyRow::from_domain(key))
                }

                async fn api_key_by_hash(&self, hash: &str) -> Stored<Option<ApiKey>> {
                    by_hash!(self, api_keys, hash, ApiKeyRow)
                }

                async fn api_keys_of(&self, tenant: TenantId) -> Stored<Vec<ApiKey>> {
                    let oldest_first = api_keys::table
                        .filter(api_keys::tenant_id.eq(DbId(tenant.0)))
                        .order((api_keys::created_at.asc(), api_keys::id.asc()));
                    find_all!(self, oldest_first, ApiKeyRow)
                }

                async fn find_api_keys(&self, prefix_or_id: &str) -> Stored<Vec<ApiKey>> {
                    let mut query = api_keys::table
                        .filter(Self::starts_with(prefix_or_id))
                        .into_boxed();
                    if let Ok(key_id) = Uuid::parse_str(prefix_or_id) {
                        query = query.or_filter(api_keys::id.eq(DbId(key_id)));
                    }
                    let oldest_first =
                        query.order((api_keys::created_at.asc(), api_keys::id.asc()));
                    find_all!(self, oldest_first, ApiKeyRow)
                }

                async fn revoke_api_key(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool> {
                    revoke!(self, api_keys, id, at)
                }

                async fn create_session(&self, session: &Session) -> Stored<()> {
                    insert_row!(self, sessions::table, SessionRow::from_domain(session))
                }

                async fn session_by_hash(&self, hash: &str) -> Stored<Option<Session>> {
                    by_hash!(self, sessions, hash, SessionRow)
                }

                async fn session_by_id(&self, id: Uuid) -> Stored<Option<Session>> {
                    let wanted = sessions::table.filter(sessions::id.eq(DbId(id)));
                    find_one!(self, wanted, SessionRow)
                }

                async fn revoke_session(&self, id: Uuid, at: OffsetDateTime) -> Stored<bool> {
                    revoke!(self, sessions, id, at)
                }

                async fn begin_tenant_deletion(
                    &self,
                    tenant: TenantId,
                    at: OffsetDateTime,
                    event: Option<&clasp_domain::events::Event>,
                ) -> Stored<()> {
                    let of = DbId(tenant.0);
                    let keys = api_keys::table
                        .filter(api_keys::tenant_id.eq(of))
                        .filter(api_keys::revoked_at.is_null());
                    let _: bool = changed_any!(
                        self,
                        diesel::update(keys).set(api_keys::revoked_at.eq(DbTime(at)))
                    )?;
                    let live = sessions::table
                        .filter(sessions::tenant_id.eq(of))
                        .filter(sessions::revoked_at.is_null());
                    let _: bool = changed_any!(
                        self,
                        diesel::update(live).set(sessions::revoked_at.eq(DbTime(at)))
                    )?;
                    let unmarked = tenants::table
                        .find(of)
                        .filter(tenants::deleting_since.is_null());
                    let _: bool = $crate::outbox::announced!(
                        self,
                        diesel::update(unmarked).set(tenants::deleting_since.eq(DbTime(at))),
                        event
                    )?;
                    Ok(())
                }

                async fn tenants_being_deleted(&self) -> Stored<Vec<Tenant>> {
                    let marked = tenants::table
                        .filter(tenants::deleting_since.is_not_null())
                        .order(tenants::slug.asc());
                    find_all!(self, marked, TenantRow)
                }

                async fn delete_tenant(&self, tenant: TenantId) -> Stored<bool> {
                    let of = DbId(tenant.0);
                    let keys = api_keys::table.filter(api_keys::tenant_id.eq(of));
                    let _: bool = changed_any!(self, diesel::delete(keys))?;
                    let all = sessions::table.filter(sessions::tenant_id.eq(of));
                    let _: bool = changed_any!(self, diesel::delete(all))?;
                    changed_any!(self, diesel::delete(tenants::table.find(of)))
                }
            }
        };
    };
}
pub(crate) use identity_store;
