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
}
