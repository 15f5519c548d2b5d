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
}
