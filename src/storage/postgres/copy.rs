//! Moving a shop: every row of an existing SQLite database into an empty PostgreSQL one, in one
//! transaction, verified by counting each table on both sides before it commits.

use std::path::{Path, PathBuf};

use rusqlite::OpenFlags;
use rusqlite::types::Value;
use tokio_postgres::types::{ToSql, Type};

use super::schema::{TABLES, migrations};
use super::{Postgres, StorageError};

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

/// A column's value, typed as PostgreSQL wants it.
#[derive(Debug)]
enum Cell {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
}

impl Cell {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Int(v) => v,
            Self::Bool(v) => v,
            Self::Text(v) => v,
        }
    }
}

/// A table's rows read from SQLite.
struct Rows {
    table: &'static str,
    columns: Vec<(String, Type)>,
    rows: Vec<Vec<Cell>>,
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
    let db = Postgres::open(to).await?;
    let mut client = db.client().await?;
    let transaction = client.transaction().await?;

    let mut holding = Vec::new();
    for table in TABLES.iter().filter(|t| **t != "payment_methods") {
        if transaction.query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[]).await?.is_some() {
            holding.push(*table);
        }
    }
    if !holding.is_empty() && !replace {
        return Err(StorageError::Database(format!(
            "the PostgreSQL database already holds data ({}); copy into an empty one, or pass --replace to overwrite it",
            holding.join(", ")
        )));
    }
    // Emptied as one statement, so that no foreign key stands in the way; the migration's own
    // rows (the payment methods) are replaced by the shop's.
    transaction.batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", TABLES.join(", "))).await?;

    let mut columns = Vec::new();
    for table in TABLES {
        let rows = transaction
            .query(
                "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .await?;
        let mut typed = Vec::new();
        for row in rows {
            let (name, kind): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            let kind = match kind.as_str() {
                "bigint" => Type::INT8,
                "boolean" => Type::BOOL,
                "text" => Type::TEXT,
                other => return Err(StorageError::Database(format!("{table}.{name}: unexpected type {other}"))),
            };
            typed.push((name, kind));
        }
        columns.push((table, typed));
    }

    let tables = read_sqlite(file, columns).await?;
    let mut copied = Vec::new();
    for table in &tables {
        let names = table.columns.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ");
        let places = (1..=table.columns.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
        let types: Vec<Type> = table.columns.iter().map(|(_, kind)| kind.clone()).collect();
        let insert = transaction
            .prepare_typed(&format!("INSERT INTO {} ({names}) VALUES ({places})", table.table), &types)
            .await?;
        for row in &table.rows {
            let values: Vec<&(dyn ToSql + Sync)> = row.iter().map(Cell::as_sql).collect();
            transaction.execute(&insert, &values).await?;
        }
        let has_id = table.columns.iter().any(|(name, kind)| name == "id" && *kind == Type::INT8);
        if has_id {
            // The next generated ID follows the copied ones.
            transaction
                .execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {0}",
                        table.table
                    ),
                    &[],
                )
                .await?;
        }
        let target: i64 =
            transaction.query_one(&format!("SELECT count(*) FROM {}", table.table), &[]).await?.try_get(0)?;
        copied.push(Copied {
            table: table.table,
            source: u64::try_from(table.rows.len()).unwrap_or(u64::MAX),
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

/// Every table's rows, read in one SQLite transaction (one consistent snapshot), typed for
/// PostgreSQL's columns.
async fn read_sqlite(
    file: PathBuf,
    columns: Vec<(&'static str, Vec<(String, Type)>)>,
) -> Result<Vec<Rows>, StorageError> {
    tokio::task::spawn_blocking(move || {
        let mut connection = rusqlite::Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let snapshot = connection.transaction()?;
        let newest = migrations().last().map_or(0, |m| m.0);
        let version: i64 = snapshot
            .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |row| row.get(0))
            .map_err(|_| StorageError::Incompatible(format!("{} is not a database of this server", file.display())))?;
        if version != newest {
            return Err(StorageError::Incompatible(format!(
                "{} is at schema version {version}, this server's PostgreSQL schema at {newest}: open it with this server first",
                file.display()
            )));
        }
        let mut tables = Vec::new();
        for (table, typed) in columns {
            let names = typed.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ");
            let mut statement = snapshot.prepare(&format!("SELECT {names} FROM {table}"))?;
            let mut found = statement.query([])?;
            let mut rows = Vec::new();
            while let Some(row) = found.next()? {
                let mut cells = Vec::with_capacity(typed.len());
                for (index, (name, kind)) in typed.iter().enumerate() {
                    let value: Value = row.get(index)?;
                    let bad = || StorageError::Database(format!("{table}.{name}: a value PostgreSQL's column cannot hold"));
                    cells.push(match (kind, value) {
                        (kind, Value::Null) if *kind == Type::INT8 => Cell::Int(None),
                        (kind, Value::Null) if *kind == Type::BOOL => Cell::Bool(None),
                        (_, Value::Null) => Cell::Text(None),
                        (kind, Value::Integer(n)) if *kind == Type::INT8 => Cell::Int(Some(n)),
                        (kind, Value::Integer(n)) if *kind == Type::BOOL => Cell::Bool(Some(n != 0)),
                        (kind, Value::Text(text)) if *kind == Type::TEXT => Cell::Text(Some(text)),
                        (kind, Value::Integer(n)) if *kind == Type::TEXT => Cell::Text(Some(n.to_string())),
                        _ => return Err(bad()),
                    });
                }
                rows.push(cells);
            }
            tables.push(Rows { table, columns: typed, rows });
        }
        Ok(tables)
    })
    .await
    .map_err(|e| StorageError::Database(format!("reading SQLite: {e}")))?
}
