//! The embedded SQLite database in `AMAZONPAY2_DATA`.
//!
//! Statements run on tokio's blocking threads, never on the async workers: one writer connection
//! (SQLite writes one transaction at a time anyway; `BEGIN IMMEDIATE` takes the write lock up
//! front, so a transaction never fails half-way on a lock) and a few reader connections, which WAL
//! mode lets read while the writer writes.
//!
//! The data folder holds the shop's members, sessions and orders: it is made owner-only (0700)
//! and the database with its `-wal` and `-shm` files owner-read-write (0600), whatever the umask.

mod back_office;
mod safeguards;
mod schema;
mod shop;

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::Semaphore;

use super::StorageError;
use super::sql::{Sql, SqlStore};

/// The database file inside the data folder.
const FILE_NAME: &str = "amazonpay2.sqlite3";

/// Reader connections: enough for both cores and a request waiting on the writer.
const READERS: usize = 4;

/// How long a statement waits for a lock held by another process (the server beside a command
/// such as `subscriptions`, or the other way round) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database file and the files SQLite keeps beside it.
const SUFFIXES: [&str; 3] = ["", "-wal", "-shm"];

/// The SQLite database.
#[derive(Clone)]
pub struct Sqlite {
    writer: Arc<tokio::sync::Mutex<Connection>>,
    readers: Arc<Readers>,
    sql: Sql,
}

impl SqlStore for Sqlite {
    fn sql(&self) -> &Sql {
        &self.sql
    }
}

struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    path: PathBuf,
}

impl Readers {
    fn take(&self) -> Result<Connection, StorageError> {
        match lock(&self.idle).pop() {
            Some(connection) => Ok(connection),
            // A connection is lost only when a statement panicked; open another.
            None => open_connection(&self.path),
        }
    }
}

impl Sqlite {
    /// The database file in `data_dir`.
    pub fn file_in(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Opens (creating and migrating) the database in `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Self, StorageError> {
        let data_dir = data_dir.to_path_buf();
        let file = Self::file_in(&data_dir);
        let (writer, readers) = run_blocking(move || {
            DirBuilder::new().recursive(true).mode(0o700).create(&data_dir)?;
            let path = Self::file_in(&data_dir);
            // SQLite would create the file with the umask's mode (0644, readable by every user
            // of the machine) and give its -wal and -shm files the mode of the database file:
            // made owner-only first, all three are.
            OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(&path)?;
            make_owner_only(&path)?;
            let mut writer = open_connection(&path)?;
            schema::migrate(&mut writer, &path)?;
            let readers = (0..READERS).map(|_| open_connection(&path)).collect::<Result<Vec<_>, _>>()?;
            Ok((
                Arc::new(tokio::sync::Mutex::new(writer)),
                Arc::new(Readers { idle: Mutex::new(readers), permits: Semaphore::new(READERS), path }),
            ))
        })
        .await?;
        Ok(Self { writer, readers, sql: Sql::sqlite(&file).await? })
    }

    /// The newest migration applied (README's "schema version").
    pub async fn schema_version(&self) -> Result<i64, StorageError> {
        self.read(|c| c.query_row("SELECT coalesce(max(version), 0) FROM schema_migrations", [], |row| row.get(0)))
            .await
    }

    /// Runs `read` on a reader connection, off the async workers.
    async fn read<T, F>(&self, read: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let _permit = self.readers.permits.acquire().await.map_err(|e| StorageError::Database(e.to_string()))?;
        let readers = self.readers.clone();
        run_blocking(move || {
            let connection = readers.take()?;
            let result = read(&connection);
            lock(&readers.idle).push(connection);
            Ok(result?)
        })
        .await
    }

    /// Runs `write` in one immediate transaction on the writer connection, off the async
    /// workers; commits when it returns `Ok`, rolls back otherwise.
    async fn write<T, F>(&self, write: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
    {
        let mut writer = self.writer.clone().lock_owned().await;
        run_blocking(move || {
            let transaction = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let result = write(&transaction)?;
            transaction.commit()?;
            Ok(result)
        })
        .await
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        StorageError::Database(error.to_string())
    }
}

fn open_connection(path: &Path) -> Result<Connection, StorageError> {
    let connection = Connection::open(path)?;
    // First: setting the journal mode already reads (on a new database, writes) the file, and
    // a statement without a busy timeout fails at once with "database is locked" where another
    // process holds a lock for a moment (the server beside a command, or two starting together).
    // rusqlite's open sets 5 s too; ours must not depend on a library default.
    connection.busy_timeout(BUSY_TIMEOUT)?;
    write_ahead_log(&connection)?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    Ok(connection)
}

/// Turns on the write-ahead log (a no-op once the file has it). On a new database, where the
/// server and a command (or instances) starting together all turn it on at once, SQLite answers
/// all but one "database is locked" at once, without waiting: each holds a lock the other needs,
/// so a busy timeout would only deadlock. Once the one has finished, the file is in WAL mode and
/// the others' pragma goes through: they try again, for as long as the busy timeout.
fn write_ahead_log(connection: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < deadline =>
            {
                // A blocking thread (run_blocking): sleeping holds up no async worker.
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Takes group and other access away from the database and the files beside it, where a file
/// left by an older version (made under the umask) has them.
fn make_owner_only(database: &Path) -> Result<(), StorageError> {
    for suffix in SUFFIXES {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::metadata(&name) {
            Ok(metadata) if metadata.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&name, Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StorageError::Database(format!("database task: {e}")))?
}

// A poisoned lock means a panic while holding it; the vector of idle connections is still sound.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Yen are stored as SQLite integers; whatever is stored reads back as a non-negative amount.
fn yen(value: i64) -> u64 {
    value.max(0).unsigned_abs()
}

/// A yen amount as a SQLite integer.
fn db_yen(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Unix seconds.
fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A data folder removed when dropped.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(name: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("amazonpay2-{name}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fresh database in its own folder.
    pub(crate) async fn database(name: &str) -> (Sqlite, TempDir) {
        let dir = TempDir::new(name);
        (Sqlite::open(&dir.0).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn readers_see_what_the_writer_committed_and_a_failed_write_leaves_nothing() {
        let (db, _dir) = database("rw").await;
        db.write(|tx| Ok(tx.execute("INSERT INTO secrets (name, value) VALUES ('a', 'x')", [])?)).await.unwrap();
        let failed: Result<(), _> = db
            .write(|tx| {
                tx.execute("INSERT INTO secrets (name, value) VALUES ('b', 'y')", [])?;
                Err(StorageError::Database("changed my mind".into()))
            })
            .await;
        assert!(failed.is_err());
        let names: Vec<String> = db
            .read(|c| {
                let mut statement = c.prepare("SELECT name FROM secrets ORDER BY name")?;
                let rows = statement.query_map([], |row| row.get(0))?;
                rows.collect()
            })
            .await
            .unwrap();
        assert_eq!(names, ["a"]);
    }

    #[tokio::test]
    async fn many_readers_and_writers_at_once_do_not_block_the_runtime() {
        let (db, _dir) = database("concurrent").await;
        let mut tasks = Vec::new();
        for i in 0..32 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |tx| {
                    Ok(tx.execute("INSERT INTO secrets (name, value) VALUES (?1, 'v')", [i.to_string()])?)
                })
                .await
                .unwrap();
                db.read(|c| c.query_row("SELECT count(*) FROM secrets", [], |row| row.get::<_, i64>(0))).await.unwrap()
            }));
        }
        for task in tasks {
            assert!(task.await.unwrap() >= 1);
        }
    }

    /// Several processes starting together on a folder with no database yet (a first deploy:
    /// the server and the cron jobs, or instances): every one of them opens it, and each
    /// migration is applied once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_database_opened_by_several_at_once_opens_for_every_one() {
        for round in 0..60 {
            let dir = TempDir::new(&format!("together-{round}"));
            let opens = (0..4).map(|_| Sqlite::open(&dir.0));
            for opened in futures_util::future::join_all(opens).await {
                if let Err(e) = opened {
                    panic!("round {round}: {e}");
                }
            }
            let db = Sqlite::open(&dir.0).await.unwrap();
            let applied: i64 =
                db.read(|c| c.query_row("SELECT count(*) FROM schema_migrations", [], |row| row.get(0))).await.unwrap();
            assert_eq!(applied, i64::try_from(schema::migrations().len()).unwrap(), "round {round}");
        }
    }
}
