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

    /// A statement taking a lock, keyed by the BIGINT `$1`, held until the transaction ends, so
    /// that instances doing the same thing at once (seeding the catalogue, say) take turns:
    /// PostgreSQL's advisory lock. `None` on SQLite, whose write transactions take turns anyway.
    pub(crate) fn transaction_lock(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            // In `FROM`: the function answers `void`, which the Any driver cannot read.
            Self::Postgres => Some("SELECT 1 FROM pg_advisory_xact_lock($1)"),
        }
    }

    /// A statement moving the ID sequence of `table` (a fixed name of the schema, never input)
    /// past the IDs rows were given explicitly, so that the next row without one gets a free ID:
    /// PostgreSQL's identity columns do not look at the rows. `None` on SQLite, whose
    /// `INTEGER PRIMARY KEY` takes the largest ID + 1 anyway.
    pub(crate) fn identity_catch_up(self, table: &'static str) -> Option<String> {
        match self {
            Self::Sqlite => None,
            Self::Postgres => Some(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
            )),
        }
    }

    /// The condition that a member's e-mail `m.email` is `$1`, regardless of case, in the form
    /// the database's unique index on it answers: SQLite's column compares `NOCASE`, PostgreSQL's
    /// index is on `lower(email)`.
    pub(crate) fn member_email_is(self) -> &'static str {
        match self {
            Self::Sqlite => "m.email = $1",
            Self::Postgres => "lower(m.email) = lower($1)",
        }
    }
}
