//! The outbox: an event a change announces becomes one pending delivery per
//! webhook of its tenant subscribed to its kind, inserted in the transaction
//! of the change itself ([`announced!`]), so that an event is never lost nor
//! told of a change that rolled back. And the
//! [`WebhookStore`](clasp_domain::webhooks::WebhookStore) on both backends
//! ([`webhook_store!`]), whose claim differs only in PostgreSQL's row locks.

use clasp_domain::events::Event;
use clasp_domain::ports::{RepoError, Stored};

use crate::sql::{DbId, DbTime};

/// An event as the outbox stores it.
pub(crate) struct Outgoing {
    pub(crate) event_id: DbId,
    pub(crate) tenant_id: DbId,
    pub(crate) kind: &'static str,
    /// What a subscribed webhook's `events` column contains: `%,kind,%`.
    pub(crate) subscribed: String,
    pub(crate) payload: String,
    pub(crate) at: DbTime,
}

impl Outgoing {
    /// `event`, its payload serialized once for every delivery and attempt.
    pub(crate) fn of(event: &Event) -> Stored<Self> {
        let payload = serde_json::to_string(event)
            .map_err(|e| RepoError::Backend(format!("an event did not serialize: {e}")))?;
        Ok(Self {
            event_id: DbId(event.id),
            tenant_id: DbId(event.tenant().0),
            kind: event.kind.as_str(),
            subscribed: format!("%,{},%", event.kind.as_str()),
            payload,
            at: DbTime(event.timestamp),
        })
    }
}

/// Inserts the deliveries of `$outgoing` (an [`Outgoing`]) on `$conn`, one per
/// webhook of its tenant subscribed to its kind, each pending and due now.
macro_rules! fan_out {
    ($conn:expr, $outgoing:expr) => {{
        use diesel::IntoSql;
        use $crate::schema::{webhook_deliveries as d, webhooks as w};
        let o = $outgoing;
        let subscribed = diesel::QueryDsl::select(
            diesel::QueryDsl::filter(
                diesel::QueryDsl::filter(
                    w::table,
                    diesel::ExpressionMethods::eq(w::tenant_id, o.tenant_id),
                ),
                diesel::TextExpressionMethods::like(w::events, o.subscribed.clone()),
            ),
            (
                o.event_id.into_sql::<$crate::sql::types::Id>(),
                w::id,
                w::tenant_id,
                o.kind.into_sql::<diesel::sql_types::Text>(),
                w::url,
                w::secret,
                o.payload.clone().into_sql::<diesel::sql_types::Text>(),
                "pending".into_sql::<diesel::sql_types::Text>(),
                o.at.into_sql::<$crate::sql::types::Moment>(),
                o.at.into_sql::<$crate::sql::types::Moment>(),
            ),
        );
        diesel_async::RunQueryDsl::execute(
            diesel::insert_into(d::table)
                .values(subscribed)
                .into_columns((
                    d::event_id,
                    d::webhook_id,
                    d::tenant_id,
                    d::event_type,
                    d::url,
                    d::secret,
                    d::payload,
                    d::state,
                    d::next_at,
                    d::created_at,
                )),
            $conn,
        )
        .await
    }};
}
pub(crate) use fan_out;

/// Runs the update or delete `$statement` on a connection of `$store` and,
/// when it changed a row and `$event` (an `Option<&Event>`) is some, records
/// the event in the same transaction: whether it changed a row.
macro_rules! announced {
    ($store:expr, $statement:expr, $event:expr) => {{
        match $event {
            None => $crate::error::changed_any!($store, $statement),
            Some(event) => {
                let outgoing = $crate::outbox::Outgoing::of(event)?;
                let mut conn = $store.conn().await?;
                let statement = $statement;
                diesel_async::AsyncConnection::transaction(&mut *conn, async |conn| {
                    let changed = diesel_async::RunQueryDsl::execute(statement, &mut *conn).await?;
                    if changed > 0 {
                        $crate::outbox::fan_out!(&mut *conn, &outgoing)?;
                    }
                    Ok::<_, diesel::result::Error>(changed > 0)
                })
                .await
                .map_err($crate::error::query_error)
            }
        }
    }};
}
pub(crate) use announced;

/// Implements `WebhookStore` for `$store`; `$($lock)*` is what a claim's
/// select of due deliveries ends with, so that concurrent claimers on
/// PostgreSQL skip each other's rows (SQLite has one writer at a time).
macro_rules! webhook_store {
    ($store:ty $(, $lock:ident)*) => {
        const _: () = {
            use clasp_domain::ports::Stored;
            use clasp_domain::tenant::TenantId;
            use clasp_domain::webhooks::{Delivery, DeliveryState, Webhook};
            use diesel::prelude::*;
            use diesel_async::RunQueryDsl;
            use time::OffsetDateTime;
            use uuid::Uuid;
            use $crate::error::{changed_any, find_all, find_one, query_error};
            use $crate::models::{DeliveryRow, WebhookRow};
            use $crate::schema::{webhook_deliveries as d, webhooks as w};
            use $crate::sql::{DbId, DbTime};

            #[async_trait::async_trait]
            impl clasp_domain::webhooks::WebhookStore for $store {
                async fn create_webhook(&self, webhook: &Webhook) -> Stored<()> {
                    let row = WebhookRow::from_domain(webhook);
                    let mut conn = self.conn().await?;
                    diesel::insert_into(w::table)
                        .values(row)
                        .execute(&mut *conn)
                        .await
                        .map_err(query_error)?;
                    Ok(())
                }

                async fn webhooks_of(&self, tenant: TenantId) -> Stored<Vec<Webhook>> {
                    let of = w::table
                        .filter(w::tenant_id.eq(DbId(tenant.0)))
                        .order((w::created_at.asc(), w::id.asc()));
                    find_all!(self, of, WebhookRow)
                }

                async fn webhook(&self, id: Uuid) -> Stored<Option<Webhook>> {
                    find_one!(self, w::table.filter(w::id.eq(DbId(id))), WebhookRow)
                }

                async fn delete_webhook(&self, id: Uuid) -> Stored<bool> {
                    let pending = d::table
                        .filter(d::webhook_id.eq(DbId(id)))
                        .filter(d::state.eq(DeliveryState::Pending.as_str()));
                    let _: bool = changed_any!(self, diesel::delete(pending))?;
                    changed_any!(self, diesel::delete(w::table.filter(w::id.eq(DbId(id)))))
                }

                async fn claim_deliveries(
                    &self,
                    now: OffsetDateTime,
                    lease_until: OffsetDateTime,
                    limit: usize,
                ) -> Stored<Vec<Delivery>> {
                    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                    let mut conn = self.conn().await?;
                    let claimed = diesel_async::AsyncConnection::transaction(
                        &mut *conn,
                        async |conn| {
                            let due: Vec<DeliveryRow> = d::table
                                .filter(d::state.eq(DeliveryState::Pending.as_str()))
                                .filter(d::next_at.le(DbTime(now)))
                                .order(d::next_at.asc())
                                .limit(limit)
                                .select(DeliveryRow::as_select())
                                $(.$lock())*
                                .load(&mut *conn)
                                .await?;
                            for row in &due {
                                diesel::update(
                                    d::table
                                        .filter(d::event_id.eq(row.event_id))
                                        .filter(d::webhook_id.eq(row.webhook_id)),
                                )
                                .set(d::next_at.eq(DbTime(lease_until)))
                                .execute(&mut *conn)
                                .await?;
                            }
                            Ok::<_, diesel::result::Error>(due)
                        },
                    )
                    .await
                    .map_err(query_error)?;
                    claimed.into_iter().map(DeliveryRow::into_domain).collect()
                }

                async fn record_attempt(&self, delivery: &Delivery) -> Stored<()> {
                    let one = d::table
                        .filter(d::event_id.eq(DbId(delivery.event_id)))
                        .filter(d::webhook_id.eq(DbId(delivery.webhook_id)));
                    let _: bool = changed_any!(
                        self,
                        diesel::update(one).set((
                            d::attempts.eq(i32::try_from(delivery.attempts).unwrap_or(i32::MAX)),
                            d::state.eq(delivery.state.as_str()),
                            d::next_at.eq(DbTime(delivery.next_at)),
                            d::last_status.eq(delivery.last_status.map(i32::from)),
                            d::last_error.eq(delivery.last_error.as_deref()),
                        ))
                    )?;
                    Ok(())
                }

                async fn deliveries_of(&self, id: Uuid, limit: usize) -> Stored<Vec<Delivery>> {
                    let latest = d::table
                        .filter(d::webhook_id.eq(DbId(id)))
                        .order((d::created_at.desc(), d::event_id.desc()))
                        .limit(i64::try_from(limit).unwrap_or(i64::MAX));
                    find_all!(self, latest, DeliveryRow)
                }

                async fn pending_deliveries(&self) -> Stored<u64> {
                    let mut conn = self.conn().await?;
                    let count: i64 = d::table
                        .filter(d::state.eq(DeliveryState::Pending.as_str()))
                        .count()
                        .get_result(&mut *conn)
                        .await
                        .map_err(query_error)?;
                    Ok(u64::try_from(count).unwrap_or(0))
                }

                async fn prune_deliveries(&self, before: OffsetDateTime) -> Stored<u64> {
                    let ended = d::table
                        .filter(d::state.ne(DeliveryState::Pending.as_str()))
                        .filter(d::next_at.lt(DbTime(before)));
                    let mut conn = self.conn().await?;
                    let gone = diesel::delete(ended)
                        .execute(&mut *conn)
                        .await
                        .map_err(query_error)?;
                    Ok(u64::try_from(gone).unwrap_or(0))
                }
            }
        };
    };
}
pub(crate) use webhook_store;
