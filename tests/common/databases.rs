//! The databases a test can run on: a fresh SQLite data folder always, and a fresh schema of the
//! PostgreSQL database named by `AMAZONPAY2_TEST_DATABASE_URL` when that is set (`./build.sh
//! test` starts a throw-away cluster and sets it). Each test gets its own, so tests run in
//! parallel; a test opens it as often as it likes, as several server instances would.
//!
//! A developer's plain `cargo test` without a cluster skips the PostgreSQL half with a notice.
//! `./build.sh test` also sets `AMAZONPAY2_TEST_REQUIRE_POSTGRES=1`: there a missing URL fails
//! every PostgreSQL test instead, so that half can never pass by not running.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::atomic::{AtomicUsize, Ordering};

use amazonpay2::storage::{self, Database};

use crate::common::sockets::{DataDir, beside_server};

/// The PostgreSQL database the tests may use.
pub const TEST_DATABASE_URL: &str = "AMAZONPAY2_TEST_DATABASE_URL";

/// Set (to anything but empty or `0`) when the PostgreSQL half must run: `./build.sh test`.
pub const REQUIRE_POSTGRES: &str = "AMAZONPAY2_TEST_REQUIRE_POSTGRES";

/// The test PostgreSQL URL, if one is set. Without one, a notice on stderr and `None`, unless
/// [`REQUIRE_POSTGRES`] is set: then the test fails here, saying what is missing.
#[track_caller]
pub fn postgres_url() -> Option<String> {
    if let Some(url) = std::env::var(TEST_DATABASE_URL).ok().filter(|url| !url.trim().is_empty()) {
        return Some(url);
    }
    let required = std::env::var(REQUIRE_POSTGRES).is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "{TEST_DATABASE_URL} is not set, but {REQUIRE_POSTGRES} is: the PostgreSQL half of the tests must run \
         (./build.sh test starts a cluster with tests/pg/cluster.sh start and sets the URL)"
    );
    // Straight to the process's stderr, past the test harness's capture, once per test binary:
    // a developer sees it in a plain `cargo test`.
    static NOTICE: std::sync::Once = std::sync::Once::new();
    NOTICE.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "notice: PostgreSQL tests of this binary are skipped: {TEST_DATABASE_URL} is not set \
             (AMAZONPAY2_TEST_DATABASE_URL=$(tests/pg/cluster.sh start) runs them)"
        );
    });
    None
}

/// A database for one test: what a server instance is pointed at.
pub enum Target {
    /// A SQLite data folder.
    Sqlite(DataDir),
    /// A PostgreSQL URL whose connections use their own schema (dropped with the target).
    Postgres { url: String, base: String, schema: String },
}

impl Target {
    /// A fresh SQLite data folder.
    pub fn sqlite(name: &str) -> Self {
        Self::Sqlite(DataDir::new(name))
    }

    /// A fresh schema in the test PostgreSQL database; `None` when no test database is set.
    pub async fn postgres(name: &str) -> Option<Self> {
        Some(Self::postgres_at(&postgres_url()?, name).await)
    }

    /// A fresh schema in the PostgreSQL database at `base`.
    pub async fn postgres_at(base: &str, name: &str) -> Self {
        let base = base.to_owned();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let schema = format!(
            "t_{}_{}_{}_{nanos}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
        .to_ascii_lowercase();
        let client = connect(&base).await;
        client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("a schema for the test");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        Self::Postgres { url, base, schema }
    }

    /// What `AMAZONPAY2_DATA` or `AMAZONPAY2_DATABASE_URL` is set to for this target.
    pub fn setting(&self) -> (&'static str, String) {
        match self {
            Self::Sqlite(dir) => ("AMAZONPAY2_DATA", dir.0.display().to_string()),
            Self::Postgres { url, .. } => ("AMAZONPAY2_DATABASE_URL", url.clone()),
        }
    }

    /// Opens the database (another instance, if opened before).
    pub async fn open(&self) -> Database {
        let (_, target) = self.setting();
        storage::open(&target).await.expect("the database opens")
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres { .. })
    }

    /// Runs one statement returning one integer (a count), straight on the database.
    pub async fn count(&self, sql: &str) -> i64 {
        match self {
            Self::Sqlite(dir) => {
                let sql = sql.to_owned();
                beside_server(&dir.0, move |connection| connection.query_row(&sql, [], |row| row.get(0)).unwrap()).await
            }
            Self::Postgres { url, .. } => connect(url).await.query_one(sql, &[]).await.unwrap().get(0),
        }
    }
}

impl Target {
    /// Runs statements straight on the database (making a SQLite data folder first if need be).
    pub async fn execute(&self, sql: &str) -> Result<(), String> {
        match self {
            Self::Sqlite(dir) => {
                std::fs::create_dir_all(&dir.0).unwrap();
                let sql = sql.to_owned();
                beside_server(&dir.0, move |connection| connection.execute_batch(&sql).map_err(|e| e.to_string())).await
            }
            Self::Postgres { url, .. } => connect(url).await.batch_execute(sql).await.map_err(|e| e.to_string()),
        }
    }

    /// The text columns of the one row `sql` answers, straight from the database.
    pub async fn texts(&self, sql: &str) -> Vec<Option<String>> {
        match self {
            Self::Sqlite(dir) => {
                let sql = sql.to_owned();
                beside_server(&dir.0, move |connection| {
                    connection
                        .query_row(&sql, [], |row| {
                            (0..row.as_ref().column_count()).map(|i| row.get::<_, Option<String>>(i)).collect()
                        })
                        .unwrap()
                })
                .await
            }
            Self::Postgres { url, .. } => {
                let row = connect(url).await.query_one(sql, &[]).await.unwrap();
                (0..row.len()).map(|i| row.get::<_, Option<String>>(i)).collect()
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Self::Postgres { base, schema, .. } = self {
            let (base, schema) = (base.clone(), schema.clone());
            // Dropping cannot wait on the test's runtime: a runtime of its own, on a thread.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    if let Ok((client, connection)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
                        tokio::spawn(connection);
                        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
                    }
                });
            })
            .join();
        }
    }
}

/// A plain connection to `url`.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("PostgreSQL answers");
    tokio::spawn(connection);
    client
}
