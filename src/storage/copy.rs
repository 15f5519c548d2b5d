//! Moving a shop: every row of an existing SQLite database into an empty PostgreSQL one, in one
//! transaction, verified by counting each table on both sides before it commits.

use std::path::Path;

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use super::sql::{Fields, Sql};
use super::{SCHEMA_VERSION, StorageError, Store};

/// The deployment's tables (all but the migrator's), parents before children: the order a copy
/// fills them in.
pub const TABLES: [&str; 25] = [
    "shops",
    "shops_version",
    "shop_hosts",
    "shop_secrets",
    "secrets",
    "members",
    "amazon_links",
    "products",
    "shipping_methods",
    "payment_methods",
    "carts",
    "cart_items",
    "sessions",
    "subscriptions",
    "orders",
    "order_items",
    "order_events",
    "refunds",
    "notifications",
    "admin_accounts",
    "admin_sessions",
    "login_attempts",
    "ipn_topics",
    "bulk_jobs",
    "bulk_items",
];

/// One table as copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// The table.
    pub table: &'static str,
    /// Rows in the SQLite database.
    pub source: u64,
    /// Rows in PostgreSQL after the copy.
    pub target: u64,
}

/// PostgreSQL's column types in the shop's schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Flag,
    Text,
    Bytes,
}

/// A column's value, typed as PostgreSQL's column wants it.
#[derive(Debug)]
enum Cell {
    Int(Option<i64>),
    Flag(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// Copies the SQLite database at `from` (the `amazonpay2.sqlite3` of a data folder, or the folder)
/// into the PostgreSQL database at `to`. A target that already holds a shop's data is refused
/// unless `replace`, which empties it first (in the same transaction). Nothing is written unless
/// every table's count matches.
pub async fn copy_from_sqlite(from: &Path, to: &str, replace: bool) -> Result<Vec<Copied>, StorageError> {
    let file = if from.is_dir() { from.join("amazonpay2.sqlite3") } else { from.to_path_buf() };
    if !file.is_file() {
        return Err(StorageError::Database(format!("{}: no such SQLite database", file.display())));
    }
    let db = Store::postgres(to).await?;
    let mut transaction = db.sql().begin().await?;

    let mut holding = Vec::new();
    // What the migrations themselves put in a new database is not data of a shop.
    let made_by_migrations = ["payment_methods", "shops", "shops_version"];
    for table in TABLES.iter().filter(|t| !made_by_migrations.contains(t)) {
        let found =
            sqlx::query(AssertSqlSafe(format!("SELECT 1 FROM {table} LIMIT 1"))).fetch_optional(&mut *transaction);
        if found.await?.is_some() {
            holding.push(*table);
        }
    }
    if !holding.is_empty() && !replace {
        return Err(StorageError::Database(format!(
            "the PostgreSQL database already holds data ({}); copy into an empty one, or pass --replace to overwrite it",
            holding.join(", ")
        )));
    }
    // Emptied as one statement, so that no foreign key stands in the way; the migrations' own
    // rows (the first shop, its payment methods) are replaced by the copied ones.
    sqlx::query(AssertSqlSafe(format!("TRUNCATE {} RESTART IDENTITY", TABLES.join(", "))))
        .execute(&mut *transaction)
        .await?;

    let mut source = open_source(&file).await?;
    let mut snapshot = source.begin().await?;
    let mut copied = Vec::new();
    for table in TABLES {
        let columns = sqlx::query(
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *transaction)
        .await?
        .iter()
        .map(|row| {
            let (name, kind) = (row.text(0)?, row.text(1)?);
            let kind = match kind.as_str() {
                "bigint" => Kind::Int,
                "boolean" => Kind::Flag,
                "text" => Kind::Text,
                "bytea" => Kind::Bytes,
                other => return Err(StorageError::Database(format!("{table}.{name}: unexpected type {other}"))),
            };
            Ok((name, kind))
        })
        .collect::<Result<Vec<_>, StorageError>>()?;

        // Text columns read as text whatever SQLite stored in them (it keeps what it was given).
        let read = columns
            .iter()
            .map(|(name, kind)| if *kind == Kind::Text { format!("CAST({name} AS TEXT)") } else { name.clone() })
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {read} FROM {table}"))).fetch_all(&mut *snapshot).await?;
        let names = columns.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ");
        let places = (1..=columns.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
        let insert = format!("INSERT INTO {table} ({names}) VALUES ({places})");
        for row in &rows {
            let mut statement = sqlx::query(AssertSqlSafe(insert.clone()));
            for (index, (_, kind)) in columns.iter().enumerate() {
                statement = match cell(row, index, *kind)? {
                    Cell::Int(value) => statement.bind(value),
                    Cell::Flag(value) => statement.bind(value),
                    Cell::Text(value) => statement.bind(value),
                    Cell::Bytes(value) => statement.bind(value),
                };
            }
            statement.execute(&mut *transaction).await?;
        }
        if columns.iter().any(|(name, kind)| name == "id" && *kind == Kind::Int) {
            // The next generated ID follows the copied ones.
            sqlx::query(AssertSqlSafe(format!(
                "SELECT CAST(setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) AS BIGINT) FROM {table}"
            )))
            .execute(&mut *transaction)
            .await?;
        }
        let target = sqlx::query(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *transaction)
            .await?
            .int(0)?;
        copied.push(Copied {
            table,
            source: u64::try_from(rows.len()).unwrap_or(u64::MAX),
            target: target.max(0).unsigned_abs(),
        });
    }
    if let Some(wrong) = copied.iter().find(|c| c.source != c.target) {
        return Err(StorageError::Database(format!(
            "{}: {} rows in SQLite but {} in PostgreSQL; nothing was copied",
            wrong.table, wrong.source, wrong.target
        )));
    }
    transaction.commit().await?;
    Ok(copied)
}

/// The SQLite database, read-only, checked to be at this server's schema.
async fn open_source(file: &Path) -> Result<AnyConnection, StorageError> {
    Sql::install_drivers();
    let mut source = AnyConnection::connect(&format!("sqlite://{}?mode=ro", file.display())).await?;
    let version = sqlx::query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut source)
        .await
        .map_err(|_| {
            StorageError::Incompatible(format!(
                "{} is not a database of this server, or an older one's: open it with this server first",
                file.display()
            ))
        })?
        .int(0)?;
    if version != SCHEMA_VERSION {
        return Err(StorageError::Incompatible(format!(
            "{} is at schema version {version}, this server's PostgreSQL schema at {SCHEMA_VERSION}: open it with this server first",
            file.display()
        )));
    }
    Ok(source)
}

/// A SQLite value as PostgreSQL's column of `kind` holds it (flags are 0/1 in SQLite).
fn cell(row: &sqlx::any::AnyRow, index: usize, kind: Kind) -> Result<Cell, StorageError> {
    Ok(match kind {
        Kind::Int => Cell::Int(row.opt_int(index)?),
        Kind::Flag => Cell::Flag(row.opt_int(index)?.map(|n| n != 0)),
        Kind::Text => Cell::Text(row.opt_text(index)?),
        Kind::Bytes => Cell::Bytes(sqlx::Row::try_get(row, index)?),
    })
}
