//! PostgreSQL (`AMAZONPAY2_DATABASE_URL=postgres://…`): one database shared by several server
//! instances.
//!
//! Everything that must hold across instances is decided by the database itself, never by a
//! process's memory: inserts that must happen once are `ON CONFLICT DO NOTHING` against a unique
//! key (one order per checkout session or cycle, one notification claim, one secret), moves are
//! conditional updates (`… WHERE state = $from`, `… WHERE version = $seen`), which PostgreSQL
//! re-checks on the newest row after waiting for a concurrent writer, and the migration runs
//! under an advisory lock so that instances starting together migrate once.
//!
//! Nothing hangs: the pool is bounded, a connection attempt gives up after
//! [`CONNECT_TIMEOUT`], the server cancels a statement after [`STATEMENT_TIMEOUT`], and every
//! operation is abandoned after [`OPERATION_TIMEOUT`] whatever the network does. A database that
//! cannot be reached is [`StorageError::Unavailable`] (503 at the HTTP edge); the pool drops
//! broken connections and opens new ones when the database is back, without a restart.
//!
//! No TLS: reach the database over a Unix socket or a private network.

mod back_office;
pub mod copy;
mod safeguards;
mod schema;
mod shop;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::StorageError;
use super::sql::{Sql, SqlStore};

/// Connections per instance: two cores' worth of requests and the background jobs, well under
/// PostgreSQL's default 100 connections for a few instances together.
pub const POOL_SIZE: usize = 16;

/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the server lets one statement run (and wait for a lock) before cancelling it.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one storage operation may take in all (waiting for a connection included) before
/// the caller is told the database is unavailable.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// The newest schema version (the SQLite schema's, too: both make the same tables).
pub const SCHEMA_VERSION: i64 = 7;

/// The PostgreSQL database.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    sql: Sql,
}

impl SqlStore for Postgres {
    fn sql(&self) -> &Sql {
        &self.sql
    }
}

/// Whether `target` names a PostgreSQL database rather than a SQLite data folder.
pub fn is_url(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// The connection settings of `url`, checked, with the statement timeout added. The error never
/// repeats the URL (it may hold a password).
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, String> {
    if !is_url(url) {
        return Err("must be a postgres:// URL".into());
    }
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| format!("not a usable PostgreSQL URL ({e})"))?;
    if config.get_hosts().is_empty() {
        return Err("names no host (give one, or a Unix socket folder with ?host=/path)".into());
    }
    if config.get_dbname().is_none() {
        return Err("names no database (postgres://user@host/DATABASE)".into());
    }
    let timeout = format!("-c statement_timeout={}", STATEMENT_TIMEOUT.as_millis());
    let options = match config.get_options() {
        Some(given) if !given.is_empty() => format!("{given} {timeout}"),
        _ => timeout,
    };
    config.options(&options);
    config.connect_timeout(CONNECT_TIMEOUT);
    config.application_name("amazonpay2");
    Ok(config)
}

impl Postgres {
    /// Connects to `url` and brings its schema up to date (once, whoever else starts now).
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        let db = Self::connect(url)?;
        let mut client = db.client().await?;
        schema::migrate(&mut client).await?;
        Ok(db)
    }

    /// The pool for `url`, without touching the database.
    fn connect(url: &str) -> Result<Self, StorageError> {
        let config = parse_url(url).map_err(|problem| StorageError::Database(format!("database URL {problem}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .timeouts(Timeouts {
                wait: Some(OPERATION_TIMEOUT),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            })
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StorageError::Database(format!("connection pool: {e}")))?;
        Ok(Self { pool, sql: Sql::postgres(url)? })
    }

    /// A connection from the pool.
    async fn client(&self) -> Result<deadpool_postgres::Object, StorageError> {
        self.pool.get().await.map_err(|error| match error {
            deadpool_postgres::PoolError::Backend(error) => StorageError::from(error),
            other => StorageError::Unavailable(other.to_string()),
        })
    }

    /// Runs one operation, abandoning it after [`OPERATION_TIMEOUT`].
    async fn run<T>(&self, operation: impl Future<Output = Result<T, StorageError>>) -> Result<T, StorageError> {
        tokio::time::timeout(OPERATION_TIMEOUT, operation)
            .await
            .unwrap_or_else(|_| Err(StorageError::Unavailable(format!("no answer within {OPERATION_TIMEOUT:?}"))))
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64, StorageError> {
        self.run(async {
            let client = self.client().await?;
            Ok(client.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.try_get(0)?)
        })
        .await
    }
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(error: tokio_postgres::Error) -> Self {
        let code = error.code();
        // A connection that broke, could not be made, or a server shutting down: the database is
        // away, not wrong. A cancelled statement (the statement timeout) is the same to a caller.
        let away = error.is_closed()
            || (error.as_db_error().is_none() && {
                let text = error.to_string();
                ["error connecting", "error communicating", "timeout", "connection closed"]
                    .iter()
                    .any(|prefix| text.starts_with(prefix))
            })
            || code.is_some_and(|code| {
                code.code().starts_with("08")
                    || code.code().starts_with("57P")
                    || *code == SqlState::QUERY_CANCELED
                    || *code == SqlState::TOO_MANY_CONNECTIONS
                    || *code == SqlState::CANNOT_CONNECT_NOW
            });
        let detail = match (error.as_db_error(), std::error::Error::source(&error)) {
            (Some(db), _) => format!("{}: {}", db.code().code(), db.message()),
            (None, Some(cause)) => format!("{error}: {cause}"),
            (None, None) => error.to_string(),
        };
        if away { StorageError::Unavailable(detail) } else { StorageError::Database(detail) }
    }
}

/// Yen are stored as BIGINT; whatever is stored reads back as a non-negative amount.
fn yen(value: i64) -> u64 {
    value.max(0).unsigned_abs()
}

/// A yen amount as a BIGINT.
fn db_yen(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Unix seconds.
fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A position in a list as a BIGINT.
fn position(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_checked_and_gets_the_statement_timeout() {
        let config = parse_url("postgres://shop@db.internal:5433/amazonpay2?options=-csearch_path%3Dshop").unwrap();
        assert_eq!(config.get_dbname(), Some("amazonpay2"));
        assert_eq!(config.get_options(), Some("-csearch_path=shop -c statement_timeout=5000"));
        assert_eq!(config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        for (bad, problem) in [
            ("mysql://db/x", "postgres://"),
            ("postgres://db", "no database"),
            ("postgres://db/x?sslmode=bogus", "not a usable"),
        ] {
            let error = parse_url(bad).unwrap_err();
            assert!(error.contains(problem), "{bad}: {error}");
        }
    }

    #[test]
    fn a_bad_url_is_never_repeated_in_the_error() {
        let error = parse_url("postgres://shop:s3cret@db/x?connect_timeout=soon").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[tokio::test]
    async fn a_database_nobody_answers_for_is_unavailable_at_once() {
        // A port on loopback with nothing listening: refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let started = std::time::Instant::now();
        let error = Postgres::open(&format!("postgres://nobody@127.0.0.1:{port}/x")).await.err().unwrap();
        assert!(error.is_unavailable(), "{error}");
        assert!(error.to_string().starts_with(crate::storage::UNAVAILABLE), "{error}");
        assert!(started.elapsed() < CONNECT_TIMEOUT, "{:?}", started.elapsed());
    }

    #[test]
    fn the_schema_version_is_the_newest_migration() {
        assert_eq!(schema::migrations().last().map(|m| m.0), Some(SCHEMA_VERSION));
    }
}
