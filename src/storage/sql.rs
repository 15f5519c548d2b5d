//! How both databases are spoken to: sqlx's Any driver, one code path for SQLite and PostgreSQL.
//! What differs between them is here and in [`super::dialect`], nowhere else.
//!
//! SQLite: one writer connection (SQLite writes one transaction at a time anyway; `BEGIN
//! IMMEDIATE` takes the write lock up front, so a transaction never fails half-way on a lock)
//! and a few readers, which WAL mode lets read while the writer writes. PostgreSQL: one bounded
//! pool for both, every operation abandoned after [`OPERATION_TIMEOUT`] whatever the network does.

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row, Transaction};

use super::StorageError;
use super::dialect::Dialect;

/// SQLite reader connections: enough for both cores and a request waiting on the writer.
const SQLITE_READERS: u32 = 4;

/// How long a SQLite statement waits for a lock held by another process (the server beside a
/// command such as `subscriptions`, or the other way round) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// PostgreSQL connections per instance: two cores' worth of requests and the background jobs,
/// well under PostgreSQL's default 100 connections for a few instances together.
pub const POOL_SIZE: u32 = 16;

/// How long PostgreSQL lets one statement run (and wait for a lock) before cancelling it.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one PostgreSQL operation may take in all (waiting for a connection included) before
/// the caller is told the database is unavailable.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// The pools of one database.
#[derive(Clone, Debug)]
pub(crate) struct Sql {
    dialect: Dialect,
    writer: AnyPool,
    readers: AnyPool,
}

impl Sql {
    /// The SQLite database file at `path` (made and migrated by the caller).
    pub(crate) async fn sqlite(path: &Path) -> Result<Self, StorageError> {
        Self::install_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let options = || {
            AnyPoolOptions::new()
                .test_before_acquire(false)
                .idle_timeout(None)
                .max_lifetime(None)
                .after_connect(sqlite_pragmas)
        };
        let writer = options().max_connections(1).connect(&url).await?;
        let readers = options().max_connections(SQLITE_READERS).connect(&url).await?;
        Ok(Self { dialect: Dialect::Sqlite, writer, readers })
    }

    /// The PostgreSQL database `url` names (checked by [`parse_postgres_url`]); connects lazily.
    pub(crate) fn postgres(url: &str) -> Result<Self, StorageError> {
        Self::install_drivers();
        let url = postgres_url_with_timeout(url)
            .map_err(|problem| StorageError::Database(format!("database URL {problem}")))?;
        let pool = AnyPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(OPERATION_TIMEOUT)
            .test_before_acquire(false)
            .connect_lazy(&url)?;
        Ok(Self { dialect: Dialect::Postgres, writer: pool.clone(), readers: pool })
    }

    /// Makes SQLite and PostgreSQL known to the Any driver (once per process; later calls do
    /// nothing).
    pub(crate) fn install_drivers() {
        sqlx::any::install_default_drivers();
    }

    /// Which database this is.
    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A write transaction (on SQLite, holding the write lock from its start); rolled back when
    /// dropped without [`Transaction::commit`].
    ///
    /// Begun in a task of its own: a request abandoned while its `BEGIN` is under way (a browser
    /// navigating on) would otherwise leave the connection inside a transaction no one holds,
    /// and on SQLite the write lock with it. The task finishes the `BEGIN` whatever happens to
    /// the caller, and a transaction nobody takes is dropped, so rolled back.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>, StorageError> {
        let (writer, dialect) = (self.writer.clone(), self.dialect);
        let begun = tokio::spawn(async move {
            match dialect {
                Dialect::Sqlite => writer.begin_with("BEGIN IMMEDIATE").await,
                Dialect::Postgres => writer.begin().await,
            }
        });
        Ok(begun.await.map_err(|e| StorageError::Database(format!("beginning a transaction: {e}")))??)
    }

    /// The pool to write one statement to, outside a transaction: a single statement is atomic
    /// by itself, and without `BEGIN` and `COMMIT` it takes one round trip to the database
    /// instead of three. On SQLite it waits for the one writer like a transaction does, and a
    /// writing statement takes the write lock before it reads anything.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// The pool to read from, outside a transaction.
    pub(crate) fn reader(&self) -> &AnyPool {
        &self.readers
    }

    /// Runs one operation; on PostgreSQL, abandons it after [`OPERATION_TIMEOUT`] (a transaction
    /// it began rolls back).
    pub(crate) async fn run<T>(
        &self,
        operation: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        match self.dialect {
            Dialect::Sqlite => operation.await,
            Dialect::Postgres => tokio::time::timeout(OPERATION_TIMEOUT, operation)
                .await
                .unwrap_or_else(|_| Err(StorageError::Unavailable(format!("no answer within {OPERATION_TIMEOUT:?}")))),
        }
    }
}

/// Busy timeout first: setting the journal mode already reads (on a new database, writes) the
/// file, and a statement without one fails at once with "database is locked" where another
/// process holds a lock for a moment. Then the write-ahead log (see [`write_ahead_log`]).
fn sqlite_pragmas(connection: &mut AnyConnection, _: PoolConnectionMetadata) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        connection.execute(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis()))).await?;
        write_ahead_log(connection).await?;
        connection.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON").await?;
        Ok(())
    })
}

/// Turns on the write-ahead log (a no-op once the file has it). On a new database, where the
/// server and a command (or instances) starting together all turn it on at once, SQLite answers
/// all but one "database is locked" at once, without waiting: each holds a lock the other needs,
/// so a busy timeout would only deadlock. Once the one has finished, the file is in WAL mode and
/// the others' pragma goes through: they try again, for as long as the busy timeout.
async fn write_ahead_log(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let deadline = tokio::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match connection.execute("PRAGMA journal_mode = WAL").await {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("5") && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => return other.map(drop),
        }
    }
}

/// Whether `target` names a PostgreSQL database rather than a SQLite data folder.
pub fn is_postgres_url(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// Checks a PostgreSQL URL: a host and a database named. The error never repeats the URL (it may
/// hold a password).
pub fn parse_postgres_url(url: &str) -> Result<PgConnectOptions, String> {
    if !is_postgres_url(url) {
        return Err("must be a postgres:// URL".into());
    }
    let options =
        PgConnectOptions::from_str(url).map_err(|e| format!("not a usable PostgreSQL URL ({})", without_url(&e)))?;
    if options.get_database().is_none() {
        return Err("names no database (postgres://user@host/DATABASE)".into());
    }
    Ok(options)
}

/// An error's text without anything that looks like the URL it was about.
fn without_url(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Configuration(cause) => {
            cause.to_string().split("postgres").next().unwrap_or_default().trim().to_owned()
        }
        other => other.to_string(),
    }
}

/// `url` with the server's statement timeout added to the options it sends.
fn postgres_url_with_timeout(url: &str) -> Result<String, String> {
    parse_postgres_url(url)?;
    let mut parsed = url::Url::parse(url).map_err(|e| format!("not a usable PostgreSQL URL ({e})"))?;
    let timeout = format!("-c statement_timeout={}", STATEMENT_TIMEOUT.as_millis());
    let given: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let options = match given.iter().find(|(k, _)| k == "options") {
        Some((_, v)) if !v.is_empty() => format!("{v} {timeout}"),
        _ => timeout,
    };
    let mut pairs = parsed.query_pairs_mut();
    pairs.clear();
    for (key, value) in given.iter().filter(|(k, _)| k != "options" && k != "application_name") {
        pairs.append_pair(key, value);
    }
    pairs.append_pair("options", &options);
    pairs.append_pair("application_name", "amazonpay2");
    drop(pairs);
    Ok(parsed.into())
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        // A connection that broke, could not be made, or a server shutting down: the database is
        // away, not wrong. A cancelled statement (the statement timeout) is the same to a caller.
        let away = match &error {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
            sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                code.starts_with("08") || code.starts_with("57P") || code == "57014" || code == "53300"
            }),
            _ => false,
        };
        let detail = match &error {
            sqlx::Error::Database(db) => match db.code() {
                Some(code) => format!("{code}: {}", db.message()),
                None => db.message().to_owned(),
            },
            other => other.to_string(),
        };
        if away { StorageError::Unavailable(detail) } else { StorageError::Database(detail) }
    }
}

/// Reading a row's columns the same way on both databases: yen and counts are BIGINT/INTEGER,
/// flags BOOLEAN on PostgreSQL but 0/1 on SQLite.
pub(crate) trait Fields {
    fn int(&self, column: usize) -> Result<i64, StorageError>;
    fn opt_int(&self, column: usize) -> Result<Option<i64>, StorageError>;
    fn text(&self, column: usize) -> Result<String, StorageError>;
    fn opt_text(&self, column: usize) -> Result<Option<String>, StorageError>;
    fn flag(&self, column: usize) -> Result<bool, StorageError>;
    /// A yen amount: whatever is stored reads back as a non-negative amount.
    fn yen(&self, column: usize) -> Result<u64, StorageError> {
        Ok(self.int(column)?.max(0).unsigned_abs())
    }
}

impl Fields for AnyRow {
    fn int(&self, column: usize) -> Result<i64, StorageError> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: usize) -> Result<Option<i64>, StorageError> {
        Ok(self.try_get(column)?)
    }
    fn text(&self, column: usize) -> Result<String, StorageError> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: usize) -> Result<Option<String>, StorageError> {
        Ok(self.try_get(column)?)
    }
    fn flag(&self, column: usize) -> Result<bool, StorageError> {
        match self.try_get::<bool, _>(column) {
            Ok(flag) => Ok(flag),
            Err(_) => Ok(self.try_get::<i64, _>(column)? != 0),
        }
    }
}

/// A yen amount as a BIGINT/INTEGER.
pub(crate) fn db_yen(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A count of rows a statement changed.
pub(crate) fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_checked_and_gets_the_statement_timeout() {
        let url = postgres_url_with_timeout("postgres://shop@db.internal:5433/amazonpay2?options=-csearch_path%3Dshop")
            .unwrap();
        let options = PgConnectOptions::from_str(&url).unwrap();
        assert_eq!(options.get_database(), Some("amazonpay2"));
        assert_eq!(options.get_options(), Some("-csearch_path=shop -c statement_timeout=5000"));
        assert_eq!(options.get_application_name(), Some("amazonpay2"));
        for (bad, problem) in [
            ("mysql://db/x", "postgres://"),
            ("postgres://db", "no database"),
            ("postgres://db/x?sslmode=bogus", "not a usable"),
        ] {
            let error = parse_postgres_url(bad).unwrap_err();
            assert!(error.contains(problem), "{bad}: {error}");
        }
    }

    #[test]
    fn a_bad_url_is_never_repeated_in_the_error() {
        let error = parse_postgres_url("postgres://shop:s3cret@db/x?sslmode=bogus").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
    }
}
