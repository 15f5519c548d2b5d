//! Where SQLite and PostgreSQL differ in what they are asked. Everything else is one SQL text
//! run on both (`$1…$n` placeholders, `ON CONFLICT`, `RETURNING`, `TRUE`/`FALSE`).

#![allow(dead_code)] // until every behaviour is ported onto it (issue 15)

/// The database a statement is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite: one writer at a time (`BEGIN IMMEDIATE`), so no row locks.
    Sqlite,
    /// PostgreSQL: concurrent writers, so rows read to be changed are locked.
    Postgres,
}

impl Dialect {
    /// What locks the rows a `SELECT` read to change them in the same transaction.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    /// What serialises instances migrating together, inside the migration's transaction (SQLite:
    /// nothing more than its `BEGIN IMMEDIATE`). The key is the one older versions took.
    pub(crate) fn migration_lock(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            Self::Postgres => Some("SELECT pg_advisory_xact_lock(7020374572623884385)"),
        }
    }

    /// Whether the table named by `$1` exists (PostgreSQL: in the connection's search path).
    pub(crate) fn table_exists(self) -> &'static str {
        match self {
            Self::Sqlite => "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)",
            Self::Postgres => "SELECT to_regclass($1) IS NOT NULL",
        }
    }

    /// `column` as a condition's operand that the database is not to pick an index for: SQLite's
    /// unary plus, so that a list over several states walks the orders newest first and stops at
    /// the page instead of sorting every match; PostgreSQL's planner weighs that itself (and has
    /// no unary plus for text).
    pub(crate) fn not_indexed(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("+{column}"),
            Self::Postgres => column.to_owned(),
        }
    }

    /// What share-locks the rows a subquery reads, so that a concurrent change of them waits for
    /// the statement (SQLite serialises writers instead).
    pub(crate) fn for_share(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR SHARE",
        }
    }
}
