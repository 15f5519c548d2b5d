//! The schema: numbered migrations, one folder per database (`migrations/sqlite`,
//! `migrations/postgres`), applied by sqlx's migrator and recorded in its `_sqlx_migrations`
//! table with each file's checksum (a released file is never edited: a new one is added).
//!
//! Run under the database's write lock in one transaction, so that instances (or a server and
//! its commands) starting together migrate once and a half-applied schema is never seen: SQLite's
//! `BEGIN IMMEDIATE`, PostgreSQL's transaction-scoped advisory lock (the same key older versions
//! took, so they wait for each other too). sqlx's own lock is off: on PostgreSQL it is a session
//! lock that a failed migration leaves held on a pooled connection.
//!
//! A database made before the migrator (its versions in `schema_migrations`) is adopted: the
//! versions it has are recorded as applied without running them again, and the old table stays.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, Connection, Executor, SqlSafeStr};

use super::StorageError;
use super::dialect::Dialect;
use super::sql::{Fields, Sql};

/// The advisory lock's key on PostgreSQL: the one older versions took ("amazonpa").
const MIGRATION_LOCK: i64 = 0x616d_617a_6f6e_7061;

/// `(version, description, SQL)` of each migration, in order.
type Migrations = [(i64, &'static str, &'static str); 8];

const SQLITE: Migrations = [
    (1, "shop, orders, sessions", include_str!("migrations/sqlite/0001_shop_orders_sessions.sql")),
    (2, "bulk outcome skipped", include_str!("migrations/sqlite/0002_bulk_outcome_skipped.sql")),
    (3, "buyer e-mail, plans, bulk claims", include_str!("migrations/sqlite/0003_buyer_email_plans_bulk_claims.sql")),
    (4, "safeguards", include_str!("migrations/sqlite/0004_safeguards.sql")),
    (5, "refund requests", include_str!("migrations/sqlite/0005_refund_requests.sql")),
    (6, "ipn topics seen", include_str!("migrations/sqlite/0006_ipn_topics_seen.sql")),
    (7, "forced history lines", include_str!("migrations/sqlite/0007_forced_history_lines.sql")),
    (8, "shops", include_str!("migrations/sqlite/0008_shops.sql")),
];

const POSTGRES: Migrations = [
    (1, "shop, orders, sessions", include_str!("migrations/postgres/0001_shop_orders_sessions.sql")),
    (2, "bulk outcome skipped", include_str!("migrations/postgres/0002_bulk_outcome_skipped.sql")),
    (3, "buyer e-mail, plans, bulk claims", include_str!("migrations/postgres/0003_buyer_email_plans_bulk_claims.sql")),
    (4, "safeguards", include_str!("migrations/postgres/0004_safeguards.sql")),
    (5, "refund requests", include_str!("migrations/postgres/0005_refund_requests.sql")),
    (6, "ipn topics seen", include_str!("migrations/postgres/0006_ipn_topics_seen.sql")),
    (7, "forced history lines", include_str!("migrations/postgres/0007_forced_history_lines.sql")),
    (8, "shops", include_str!("migrations/postgres/0008_shops.sql")),
];

/// The newest schema version this server makes (both databases have the same versions).
pub const SCHEMA_VERSION: i64 = SQLITE[SQLITE.len() - 1].0;

fn migrations(dialect: Dialect) -> &'static Migrations {
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

fn migrator(dialect: Dialect) -> Migrator {
    let mut migrator = Migrator::with_migrations(
        migrations(dialect)
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    );
    migrator.set_locking(false);
    migrator
}

/// Brings the schema up to date, or says why it cannot: a database this server did not make, or
/// one a newer server already migrated. `what` names the database in the message.
pub(crate) async fn migrate(sql: &Sql, what: &str) -> Result<(), StorageError> {
    match sql.dialect() {
        Dialect::Postgres => {
            let mut tx = sql.begin().await?;
            migrate_in(&mut tx, Dialect::Postgres, what).await?;
            Ok(tx.commit().await?)
        }
        // SQLite changes a table's constraints only by building the table anew, which must not
        // set off the foreign keys' actions on the rows that refer to the old one: its documented
        // procedure is to turn them off outside the transaction and check them before commit.
        Dialect::Sqlite => {
            let mut connection = sql.writer().await?;
            connection.execute("PRAGMA foreign_keys = OFF").await?;
            let migrated = async {
                let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
                migrate_in(&mut tx, Dialect::Sqlite, what).await?;
                if let Some(broken) = sqlx::query("PRAGMA foreign_key_check").fetch_optional(&mut *tx).await? {
                    let table = broken.text(0)?;
                    return Err(StorageError::Incompatible(format!("schema migration left {table} inconsistent")));
                }
                Ok(tx.commit().await?)
            }
            .await;
            match migrated {
                Ok(()) => {
                    connection.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                }
                // Not back among the connections with its foreign keys off (the failed
                // transaction is rolled back first: the pragma does nothing inside one).
                Err(error) => {
                    if let Err(pragma) = connection.execute("PRAGMA foreign_keys = ON").await {
                        tracing::error!(error = %pragma, "foreign keys left off after a failed migration");
                    }
                    Err(error)
                }
            }
        }
    }
}

/// The migrations not yet applied, in `tx`.
async fn migrate_in(tx: &mut AnyConnection, dialect: Dialect, what: &str) -> Result<(), StorageError> {
    if let Some(lock) = dialect.transaction_lock() {
        sqlx::query(lock).bind(MIGRATION_LOCK).execute(&mut *tx).await?;
    }
    let exists = |table: &'static str| sqlx::query(dialect.table_exists()).bind(table);
    let migrated = exists("_sqlx_migrations").fetch_one(&mut *tx).await?.flag(0)?;
    let legacy = exists("schema_migrations").fetch_one(&mut *tx).await?.flag(0)?;
    let ours =
        exists("orders").fetch_one(&mut *tx).await?.flag(0)? || exists("members").fetch_one(&mut *tx).await?.flag(0)?;
    if !migrated && !legacy && ours {
        return Err(StorageError::Incompatible(format!(
            "{what} holds tables this server did not make (or a pre-release version did); use an empty database"
        )));
    }
    let mut current = 0;
    for (newest, present) in [
        ("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_migrations", legacy),
        ("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM _sqlx_migrations", migrated),
    ] {
        if present {
            current = current.max(sqlx::query(newest).fetch_one(&mut *tx).await?.int(0)?);
        }
    }
    if current > SCHEMA_VERSION {
        return Err(StorageError::Incompatible(format!(
            "{what} is at schema version {current}, newer than this server's {SCHEMA_VERSION}: run a newer server"
        )));
    }
    let migrator = migrator(dialect);
    if legacy && !migrated {
        migrator.run_direct(Some(current), &mut *tx, true).await.map_err(migration_error)?;
        tracing::info!(version = current, "database adopted by the migrator");
    }
    migrator.run_direct(None, &mut *tx, false).await.map_err(migration_error)
}

/// The newest migration applied (README's "schema version").
pub(crate) async fn schema_version(sql: &Sql) -> Result<i64, StorageError> {
    sqlx::query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *sql.reader().await?)
        .await?
        .int(0)
}

fn migration_error(error: sqlx::migrate::MigrateError) -> StorageError {
    match error {
        sqlx::migrate::MigrateError::Execute(error) => error.into(),
        other => StorageError::Incompatible(format!("schema migration: {other}")),
    }
}
