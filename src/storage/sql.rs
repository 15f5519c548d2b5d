//! How both databases are spoken to: sqlx's Any driver, one code path for SQLite and PostgreSQL.
//! What differs between them is here and in [`super::dialect`], nowhere else.
//!
//! SQLite: one writer connection (SQLite writes one transaction at a time anyway; `BEGIN
//! IMMEDIATE` takes the write lock up front, so a transaction never fails half-way on a lock)
//! and a few readers, which WAL mode lets read while the writer writes, kept here rather than in
//! sqlx's pool ([`Connections`]). PostgreSQL: one bounded
//! pool for both, every operation abandoned after [`OPERATION_TIMEOUT`] whatever the network does.

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Row, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// The connections of one database.
#[derive(Clone, Debug)]
pub(crate) struct Sql {
    dialect: Dialect,
    writer: Connections,
    readers: Connections,
}

/// Where connections come from: sqlx's pool for PostgreSQL; for SQLite, a few connections kept
/// here. sqlx's pool pings every connection it takes back, which for SQLite is a round trip to
/// the connection's thread: 80 µs of a 130 µs statement on the 2-core machine, and on the one
/// writer every write waited for it. A SQLite connection cannot break as a network one can, and
/// one left inside a transaction is rolled back before it is used again ([`Conn`]'s drop).
#[derive(Clone, Debug)]
enum Connections {
    Pool(AnyPool),
    Kept(Arc<Kept>),
}

/// SQLite connections not in use, and a permit for each.
struct Kept {
    idle: Mutex<Vec<AnyConnection>>,
    free: Arc<Semaphore>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept").field("free", &self.free.available_permits()).finish_non_exhaustive()
    }
}

impl Kept {
    async fn open(url: &str, count: u32) -> Result<Arc<Self>, StorageError> {
        let mut connections = Vec::new();
        for _ in 0..count {
            let mut connection = AnyConnection::connect(url).await?;
            sqlite_pragmas(&mut connection).await?;
            connections.push(connection);
        }
        Ok(Arc::new(Self { idle: Mutex::new(connections), free: Arc::new(Semaphore::new(count as usize)) }))
    }

    async fn take(self: &Arc<Self>) -> Result<KeptConn, StorageError> {
        let permit = self.free.clone().acquire_owned().await.map_err(|_| sqlx::Error::PoolClosed)?;
        let connection = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        // A permit is given back only after its connection.
        let connection = connection.ok_or(sqlx::Error::PoolClosed)?;
        Ok(KeptConn { connection: Some(connection), home: self.clone(), permit: Some(permit), in_transaction: false })
    }

    fn give_back(&self, connection: AnyConnection) {
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(connection);
    }
}

impl Connections {
    async fn take(&self) -> Result<Conn, StorageError> {
        match self {
            Self::Pool(pool) => Ok(Conn::Pooled(pool.acquire().await?)),
            Self::Kept(kept) => Ok(Conn::Kept(kept.take().await?)),
        }
    }
}

/// A connection in use; back where it came from when dropped.
pub(crate) enum Conn {
    Pooled(PoolConnection<Any>),
    Kept(KeptConn),
}

/// A kept SQLite connection in use.
pub(crate) struct KeptConn {
    connection: Option<AnyConnection>,
    home: Arc<Kept>,
    permit: Option<OwnedSemaphorePermit>,
    /// Between `BEGIN` (sent or being sent) and a successful `COMMIT`.
    in_transaction: bool,
}

impl Drop for KeptConn {
    fn drop(&mut self) {
        let (Some(mut connection), permit) = (self.connection.take(), self.permit.take()) else { return };
        if !self.in_transaction {
            self.home.give_back(connection);
            drop(permit);
            return;
        }
        // A transaction dropped unfinished (an error, or a caller gone): rolled back before the
        // connection serves anyone else, and at once, since on the writer it holds SQLite's write
        // lock. "No transaction is active" (a BEGIN that never ran) is as good.
        let home = self.home.clone();
        // Without a runtime (the process ending), the connection closes, which rolls back too.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let _ = connection.execute("ROLLBACK").await;
            home.give_back(connection);
            drop(permit);
        });
    }
}

impl std::ops::Deref for KeptConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.connection.as_ref().unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl std::ops::DerefMut for KeptConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.connection.as_mut().unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl std::ops::Deref for Conn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            Self::Pooled(connection) => connection,
            Self::Kept(kept) => kept,
        }
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Self::Pooled(connection) => connection,
            Self::Kept(kept) => kept,
        }
    }
}

/// A write transaction, rolled back when dropped without [`Tx::commit`].
pub(crate) enum Tx {
    Postgres(Transaction<'static, Any>),
    Sqlite(KeptConn),
}

impl Tx {
    /// Commits; on failure the transaction is rolled back when dropped.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Postgres(tx) => tx.commit().await,
            Self::Sqlite(mut conn) => {
                conn.execute("COMMIT").await?;
                conn.in_transaction = false;
                Ok(())
            }
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            Self::Postgres(tx) => tx,
            Self::Sqlite(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Self::Postgres(tx) => tx,
            Self::Sqlite(conn) => conn,
        }
    }
}

impl Sql {
    /// The SQLite database file at `path` (made and migrated by the caller).
    pub(crate) async fn sqlite(path: &Path) -> Result<Self, StorageError> {
        Self::install_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let writer = Connections::Kept(Kept::open(&url, 1).await?);
        let readers = Connections::Kept(Kept::open(&url, SQLITE_READERS).await?);
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
        Ok(Self {
            dialect: Dialect::Postgres,
            writer: Connections::Pool(pool.clone()),
            readers: Connections::Pool(pool),
        })
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
    /// dropped without [`Tx::commit`].
    ///
    /// A request abandoned while its `BEGIN` is under way (a browser navigating on) must not
    /// leave the connection inside a transaction no one holds, and on SQLite the write lock with
    /// it. On SQLite the connection counts as in a transaction from before its `BEGIN`, so that
    /// its drop rolls back whatever ran. On PostgreSQL the `BEGIN` runs in a task of its own,
    /// which finishes it whatever happens to the caller; a transaction nobody takes is dropped,
    /// so rolled back.
    pub(crate) async fn begin(&self) -> Result<Tx, StorageError> {
        match &self.writer {
            Connections::Kept(kept) => {
                let mut conn = kept.take().await?;
                conn.in_transaction = true;
                conn.execute("BEGIN IMMEDIATE").await?;
                Ok(Tx::Sqlite(conn))
            }
            Connections::Pool(pool) => {
                let pool = pool.clone();
                let begun = tokio::spawn(async move { pool.begin().await });
                let tx = begun.await.map_err(|e| StorageError::Database(format!("beginning a transaction: {e}")))??;
                Ok(Tx::Postgres(tx))
            }
        }
    }

    /// A connection to write one statement to, outside a transaction: a single statement is
    /// atomic by itself, and without `BEGIN` and `COMMIT` it takes one round trip to the database
    /// instead of three. On SQLite it waits for the one writer like a transaction does, and a
    /// writing statement takes the write lock before it reads anything.
    pub(crate) async fn writer(&self) -> Result<Conn, StorageError> {
        self.writer.take().await
    }

    /// A connection to read from, outside a transaction.
    pub(crate) async fn reader(&self) -> Result<Conn, StorageError> {
        self.readers.take().await
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
async fn sqlite_pragmas(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    connection.execute(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis()))).await?;
    write_ahead_log(connection).await?;
    connection.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON").await?;
    Ok(())
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
    use futures_util::FutureExt;

    use super::*;
    use crate::storage::store::tests::database;

    async fn secret(sql: &Sql, name: &str) -> Option<String> {
        let row = sqlx::query("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *sql.reader().await.unwrap())
            .await
            .unwrap();
        row.map(|row| row.text(0).unwrap())
    }

    async fn put_secret(tx: &mut Tx, name: &str) {
        sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, 'v')").bind(name).execute(&mut **tx).await.unwrap();
    }

    #[tokio::test]
    async fn a_transaction_dropped_unfinished_is_rolled_back_and_the_writer_serves_the_next() {
        let (db, _dir) = database("dropped-tx").await;
        let sql = db.sql();
        let mut tx = sql.begin().await.unwrap();
        put_secret(&mut tx, "dropped").await;
        drop(tx);
        let mut tx = sql.begin().await.unwrap();
        put_secret(&mut tx, "kept").await;
        tx.commit().await.unwrap();
        assert_eq!(secret(sql, "dropped").await, None);
        assert_eq!(secret(sql, "kept").await.as_deref(), Some("v"));
    }

    #[tokio::test]
    async fn a_begin_abandoned_half_way_leaves_no_transaction_behind() {
        let (db, _dir) = database("abandoned-begin").await;
        let sql = db.sql();
        // Polled once, then dropped: a caller gone before, during or just after its `BEGIN`.
        for _ in 0..50 {
            drop(sql.begin().now_or_never());
        }
        let mut tx = sql.begin().await.unwrap();
        put_secret(&mut tx, "after").await;
        tx.commit().await.unwrap();
        // Committed for real: another connection sees it, and the writer writes on.
        assert_eq!(secret(sql, "after").await.as_deref(), Some("v"));
        sqlx::query("DELETE FROM secrets").execute(&mut *sql.writer().await.unwrap()).await.unwrap();
        assert_eq!(secret(sql, "after").await, None);
    }

    #[tokio::test]
    async fn reads_abandoned_half_way_give_their_connections_back() {
        let (db, _dir) = database("abandoned-reads").await;
        let sql = db.sql();
        for _ in 0..2 * SQLITE_READERS {
            let read = async {
                sqlx::query("SELECT 1").fetch_one(&mut *sql.reader().await?).await.map_err(StorageError::from)
            };
            let _ = read.now_or_never();
        }
        assert_eq!(secret(sql, "none").await, None);
    }

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
