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
