//! Where SQLite and PostgreSQL differ in what they are asked. Everything else is one SQL text
//! run on both (`$1…$n` placeholders, `ON CONFLICT`, `RETURNING`, `TRUE`/`FALSE`).

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
