//! The one store both databases are: what opens it, and the data folder SQLite keeps it in.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::migrate::{migrate, schema_version};
use super::sql::{Sql, is_postgres_url};
use super::{ShopId, StorageError};

/// The SQLite database file inside the data folder.
const FILE_NAME: &str = "amazonpay2.sqlite3";

/// The database file and the files SQLite keeps beside it.
const SUFFIXES: [&str; 3] = ["", "-wal", "-shm"];

/// The database: the embedded SQLite one in a data folder, or PostgreSQL, which several server
/// instances can share. Every behaviour is written once for both ([`super::sql`]).
///
/// A `Store` is one shop's view of it: every statement it runs is limited to its shop's rows
/// (`shop_id`), and what it writes is its shop's. Opened, it is the first shop's (the one
/// served from the `AMAZONPAY2_*` settings); [`Store::for_shop`] gives another's.
#[derive(Clone, Debug)]
pub struct Store {
    sql: Sql,
    shop: ShopId,
}

impl Store {
    /// Opens the database `target` names: a `postgres://` URL, or else the data folder of the
    /// embedded SQLite database. Either is created or migrated as needed.
    pub async fn open(target: &str) -> Result<Self, StorageError> {
        if is_postgres_url(target) { Self::postgres(target).await } else { Self::sqlite(Path::new(target)).await }
    }

    /// Opens (creating and migrating) the SQLite database in `data_dir`.
    ///
    /// The data folder holds the shop's members, sessions and orders: it is made owner-only
    /// (0700) and the database with its `-wal` and `-shm` files owner-read-write (0600), whatever
    /// the umask.
    pub async fn sqlite(data_dir: &Path) -> Result<Self, StorageError> {
        let file = sqlite_file(data_dir);
        tokio::task::spawn_blocking({
            let (data_dir, file) = (data_dir.to_path_buf(), file.clone());
            move || -> Result<(), StorageError> {
                DirBuilder::new().recursive(true).mode(0o700).create(&data_dir)?;
                // SQLite would create the file with the umask's mode (0644, readable by every user
                // of the machine) and give its -wal and -shm files the mode of the database file:
                // made owner-only first, all three are.
                OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(&file)?;
                make_owner_only(&file)
            }
        })
        .await
        .map_err(|e| StorageError::Database(format!("data folder: {e}")))??;
        let sql = Sql::sqlite(&file).await?;
        migrate(&sql, &file.display().to_string()).await?;
        Ok(Self { sql, shop: ShopId::FIRST })
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema up to date (once,
    /// whoever else starts now).
    pub async fn postgres(url: &str) -> Result<Self, StorageError> {
        let sql = Sql::postgres(url)?;
        sql.run(migrate(&sql, "the PostgreSQL database")).await?;
        Ok(Self { sql, shop: ShopId::FIRST })
    }

    /// The newest migration applied (README's "schema version").
    pub async fn schema_version(&self) -> Result<i64, StorageError> {
        self.sql.run(schema_version(&self.sql)).await
    }

    /// The same database as shop `shop` sees it.
    #[must_use]
    pub fn for_shop(&self, shop: ShopId) -> Self {
        Self { sql: self.sql.clone(), shop }
    }

    /// The shop whose rows this store reads and writes.
    pub fn shop(&self) -> ShopId {
        self.shop
    }

    /// Its shop's ID as statements bind it.
    pub(crate) fn shop_id(&self) -> i64 {
        self.shop.0
    }

    /// Its pools.
    pub(crate) fn sql(&self) -> &Sql {
        &self.sql
    }
}

/// The SQLite database file in `data_dir`.
pub fn sqlite_file(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
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

    /// A fresh SQLite database in its own folder.
    pub(crate) async fn database(name: &str) -> (Store, TempDir) {
        let dir = TempDir::new(name);
        (Store::sqlite(&dir.0).await.unwrap(), dir)
    }

    /// Several processes starting together on a folder with no database yet (a first deploy:
    /// the server and the cron jobs, or instances): every one of them opens it, and each
    /// migration is applied once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_database_opened_by_several_at_once_opens_for_every_one() {
        for round in 0..60 {
            let dir = TempDir::new(&format!("together-{round}"));
            let opens = (0..4).map(|_| Store::sqlite(&dir.0));
            for opened in futures_util::future::join_all(opens).await {
                if let Err(e) = opened {
                    panic!("round {round}: {e}");
                }
            }
            let db = Store::sqlite(&dir.0).await.unwrap();
            assert_eq!(db.schema_version().await.unwrap(), crate::storage::SCHEMA_VERSION, "round {round}");
            let applied = sqlx::query("SELECT count(*) FROM _sqlx_migrations")
                .fetch_one(&mut *db.sql().reader().await.unwrap())
                .await
                .unwrap();
            assert_eq!(sqlx::Row::get::<i64, _>(&applied, 0), crate::storage::SCHEMA_VERSION, "round {round}");
        }
    }

    #[tokio::test]
    async fn the_data_folder_and_the_database_are_the_owners_alone() {
        let (_db, dir) = database("modes").await;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.0), 0o700);
        assert_eq!(mode(&sqlite_file(&dir.0)), 0o600);
    }

    #[tokio::test]
    async fn a_database_nobody_answers_for_is_unavailable() {
        // A port on loopback with nothing listening: the pool keeps trying (a restarting
        // database comes back) until the operation's time is up, then says it is unavailable.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let error = Store::postgres(&format!("postgres://nobody@127.0.0.1:{port}/x")).await.err().unwrap();
        assert!(error.is_unavailable(), "{error}");
        assert!(error.to_string().starts_with(crate::storage::UNAVAILABLE), "{error}");
    }
}
