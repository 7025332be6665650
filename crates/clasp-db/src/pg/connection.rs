//! Connecting to PostgreSQL: a connect bounded in time, the settings every pooled
//! session gets, and the pool.

use std::sync::Arc;
use std::time::Duration;

use diesel::{ConnectionError, ConnectionResult};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use tokio_postgres::NoTls;

use super::PgSettings;
use super::url::PgUrl;
use clasp_domain::error::with_causes as with_sources;

use crate::error::DbError;

/// The pool of a store.
pub(crate) type ConnPool = Pool<AsyncPgConnection>;

/// Opens one connection, giving up after `timeout`: an unreachable host would
/// otherwise hold the caller for the operating system's TCP timeout (minutes),
/// and a server that accepts but never answers, forever.
///
/// tokio-postgres rather than `AsyncPgConnection::establish`, because the URL
/// was parsed once already, with the `application_name` added then and the TLS
/// its `sslmode` asks for (see `tls`).
pub(crate) async fn connect(url: &PgUrl, timeout: Duration) -> ConnectionResult<AsyncPgConnection> {
    let failed = |e: tokio_postgres::Error| ConnectionError::BadConnection(with_sources(&e));
    let attempt = async {
        match &url.tls {
            None => {
                let (client, connection) = url.config.connect(NoTls).await.map_err(failed)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await
            }
            Some(tls) => {
                let (client, connection) = url.config.connect(tls.clone()).await.map_err(failed)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await
            }
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_elapsed| {
            Err(ConnectionError::BadConnection(format!(
                "no answer within {timeout:?} (the connect timeout)"
            )))
        })
}

/// `SET statement_timeout` in whole milliseconds, rounded up so that a
/// sub-millisecond timeout does not become 0 (no timeout); at most what the
/// server accepts (`i32::MAX` ms, about 25 days).
pub(crate) fn statement_timeout_sql(timeout: Duration) -> String {
    let millis = timeout.as_micros().div_ceil(1_000).min(i32::MAX as u128);
    format!("SET statement_timeout = {millis}")
}

/// A pool whose every new connection is opened by [`connect`] and then gets
/// the statement timeout, so that a runaway query frees its connection (and the
/// request waiting on it) instead of holding both indefinitely.
///
/// A connection's socket is driven by a task on the runtime that opened it;
/// queries from other runtimes (other actix-web workers) pass it messages. When
/// that runtime ends, its connections close and are replaced on checkout.
pub(crate) fn build_pool(url: &PgUrl, settings: &PgSettings) -> Result<ConnPool, DbError> {
    let shown = url.shown.clone();
    let url = Arc::new(url.clone());
    let connect_timeout = settings.connect_timeout;
    let session_setup: Arc<str> = statement_timeout_sql(settings.statement_timeout).into();
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // A connection whose socket closed (the server restarted, or the runtime
    // driving it ended) reports itself broken and is discarded on checkout; a
    // ping per checkout would add a round trip to every query for little more.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |_url| {
        let url = Arc::clone(&url);
        let session_setup = Arc::clone(&session_setup);
        Box::pin(async move {
            let mut conn = connect(&url, connect_timeout).await?;
            conn.batch_execute(&session_setup)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    // The manager's URL is only for show: the setup above connects with `url`.
    let manager = AsyncDieselConnectionManager::new_with_config(shown.clone(), manager_config);
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .build()
        .map_err(|e| DbError::PgConnect {
            url: shown,
            message: e.to_string(),
        })
}

/// A connection from `pool`, free or new, waiting at most `timeout` for it:
/// when every connection is busy for longer, failing the request is better than
/// queueing it without bound.
pub(crate) async fn checkout(
    pool: &ConnPool,
    timeout: Duration,
) -> Result<Object<AsyncPgConnection>, String> {
    match tokio::time::timeout(timeout, pool.get()).await {
        Ok(got) => got.map_err(|e| e.to_string()),
        Err(_elapsed) => Err(format!(
            "no connection free or made within {timeout:?} (the connect timeout)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_timeouts_round_up_to_milliseconds_and_stay_in_range() {
        let sql = |d| statement_timeout_sql(d);
        assert_eq!(
            sql(Duration::from_secs(30)),
            "SET statement_timeout = 30000"
        );
        assert_eq!(sql(Duration::from_micros(1)), "SET statement_timeout = 1");
        assert_eq!(
            sql(Duration::from_micros(1_500)),
            "SET statement_timeout = 2"
        );
        assert_eq!(sql(Duration::ZERO), "SET statement_timeout = 0");
        assert_eq!(
            sql(Duration::from_secs(u64::MAX)),
            format!("SET statement_timeout = {}", i32::MAX)
        );
    }
}
