//! The embedded database (SQLite in `AMAZONPAY2_DATA`): the demo shop's members, Amazon account
//! links and shopper sessions. Created and migrated on start; survives restarts.
//!
//! Every statement is short, so a single connection behind a mutex serves all requests; WAL
//! mode keeps readers and the writer from blocking each other on disk.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

mod shop;

use rusqlite::{Connection, OptionalExtension, params};

pub use self::shop::{CartLine, CartView, NewOrder, OrderRecord, Product, ShippingMethod, SubscriptionRecord};

/// The database file inside the data folder.
const FILE_NAME: &str = "amazonpay2.sqlite3";

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: members, links, sessions.
    "CREATE TABLE members (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        family_name TEXT NOT NULL,
        given_name TEXT NOT NULL,
        family_kana TEXT NOT NULL,
        given_kana TEXT NOT NULL,
        postal_code TEXT NOT NULL,
        prefecture TEXT NOT NULL,
        address1 TEXT NOT NULL,
        address2 TEXT NOT NULL,
        phone TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE amazon_links (
        member_id INTEGER PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
        buyer_id TEXT NOT NULL UNIQUE,
        linked_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        csrf_token TEXT NOT NULL,
        signin_state TEXT NOT NULL,
        member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
        pending_buyer TEXT,
        return_to TEXT,
        last_seen INTEGER NOT NULL
    );
    CREATE INDEX sessions_last_seen ON sessions(last_seen);",
    // 2: the demo shop's catalogue, carts, orders and subscriptions.
    "CREATE TABLE products (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        price INTEGER NOT NULL CHECK (price > 0),
        recurring INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE shipping_methods (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        fee INTEGER NOT NULL CHECK (fee >= 0),
        amazon_pay_allowed INTEGER NOT NULL
    );
    CREATE TABLE payment_methods (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        enabled INTEGER NOT NULL
    );
    ALTER TABLE sessions ADD COLUMN cart_id TEXT;
    CREATE TABLE carts (
        id TEXT PRIMARY KEY,
        shipping_method_id INTEGER NOT NULL DEFAULT 1 REFERENCES shipping_methods(id),
        checkout_session_id TEXT
    );
    CREATE TABLE cart_items (
        cart_id TEXT NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
        product_id INTEGER NOT NULL REFERENCES products(id),
        quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
        PRIMARY KEY (cart_id, product_id)
    );
    CREATE TABLE orders (
        id INTEGER PRIMARY KEY,
        order_number TEXT NOT NULL UNIQUE,
        member_id INTEGER REFERENCES members(id),
        checkout_session_id TEXT UNIQUE,
        subscription_id INTEGER REFERENCES subscriptions(id),
        cycle TEXT,
        total INTEGER NOT NULL,
        recurring INTEGER NOT NULL,
        status TEXT NOT NULL,
        charge_permission_id TEXT,
        charge_id TEXT,
        note TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        UNIQUE (subscription_id, cycle)
    );
    CREATE TABLE order_items (
        order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        price INTEGER NOT NULL,
        quantity INTEGER NOT NULL
    );
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        member_id INTEGER REFERENCES members(id),
        charge_permission_id TEXT NOT NULL UNIQUE,
        amount INTEGER NOT NULL,
        next_cycle TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    INSERT INTO products (id, name, price, recurring) VALUES
        (1, '益子焼 マグカップ', 2750, 0),
        (2, '刺し子 ふきん 3枚組', 1980, 0),
        (3, '木のカトラリーセット', 3300, 0),
        (4, '【定期便】季節の器セット（毎月）', 8800, 1),
        (5, '【定期便】職人の大皿（毎月）', 49560, 1);
    INSERT INTO shipping_methods (id, name, fee, amazon_pay_allowed) VALUES
        (1, '宅配便', 880, 1),
        (2, 'ネコポス', 0, 1),
        (3, '店頭受け取り', 0, 0),
        (4, 'クール便', 1100, 1);
    INSERT INTO payment_methods (code, name, enabled) VALUES
        ('amazon_pay', 'Amazon Pay', 1),
        ('bank_transfer', '銀行振込', 1);",
];

/// A database failure. Callers answer 500 and log it; the shopper's input is never the cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The data folder could not be created.
    #[error("data folder: {0}")]
    Folder(#[from] std::io::Error),
}

/// The database.
pub struct Store {
    connection: Mutex<Connection>,
}

/// A member as the Amazon parts see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    /// Row ID.
    pub id: i64,
    /// 姓 名.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// The linked Amazon buyer, if any.
    pub buyer_id: Option<String>,
}

/// What sign-up stores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewMember {
    /// E-mail (unique, case-insensitive).
    pub email: String,
    /// 姓.
    pub family_name: String,
    /// 名.
    pub given_name: String,
    /// セイ.
    pub family_kana: String,
    /// メイ.
    pub given_kana: String,
    /// 郵便番号.
    pub postal_code: String,
    /// 都道府県.
    pub prefecture: String,
    /// 市区町村・番地.
    pub address1: String,
    /// 建物名など.
    pub address2: String,
    /// 電話番号.
    pub phone: String,
}

/// A session row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Random ID (the cookie).
    pub id: String,
    /// CSRF token.
    pub csrf_token: String,
    /// Sign-in state.
    pub signin_state: String,
    /// Logged-in member.
    pub member_id: Option<i64>,
    /// A verified Amazon buyer (JSON) waiting for sign-up or a password login.
    pub pending_buyer: Option<String>,
    /// Same-origin path to return to after Amazon sign-in.
    pub return_to: Option<String>,
    /// The shopper's cart.
    pub cart_id: Option<String>,
    /// Unix seconds.
    pub last_seen: i64,
}

/// Why a link was not made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// The member already has an Amazon account linked.
    #[error("the member already has a linked Amazon account")]
    MemberLinked,
    /// The Amazon account is linked to another member.
    #[error("the Amazon account is linked to another member")]
    BuyerTaken,
}

impl Store {
    /// Opens (creating and migrating) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let connection = Connection::open(data_dir.join(FILE_NAME))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        Self::prepare(connection)
    }

    /// A database in memory (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut connection: Connection) -> Result<Self, StoreError> {
        connection.pragma_update(None, "foreign_keys", true)?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let done: usize = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        for (version, migration) in MIGRATIONS.iter().enumerate().skip(done) {
            let transaction = connection.transaction()?;
            transaction.execute_batch(migration)?;
            transaction.pragma_update(None, "user_version", version + 1)?;
            transaction.commit()?;
        }
        Ok(Self { connection: Mutex::new(connection) })
    }

    // A poisoned lock means a panic while holding it; SQLite's own transactions kept the data
    // consistent, so keep serving.
    fn db(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ---- members ----

    /// Creates a member; `None` when the e-mail is taken.
    pub fn create_member(&self, member: &NewMember, password_hash: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let db = self.db();
        let inserted = db.execute(
            "INSERT INTO members (email, password_hash, family_name, given_name, family_kana, given_kana,
                postal_code, prefecture, address1, address2, phone, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(email) DO NOTHING",
            params![
                member.email,
                password_hash,
                member.family_name,
                member.given_name,
                member.family_kana,
                member.given_kana,
                member.postal_code,
                member.prefecture,
                member.address1,
                member.address2,
                member.phone,
                now
            ],
        )?;
        Ok((inserted == 1).then(|| db.last_insert_rowid()))
    }

    /// A member by row ID.
    pub fn member(&self, id: i64) -> Result<Option<MemberRecord>, StoreError> {
        self.member_where("m.id = ?1", id)
    }

    /// A member by e-mail (case-insensitive).
    pub fn member_by_email(&self, email: &str) -> Result<Option<MemberRecord>, StoreError> {
        self.member_where("m.email = ?1", email)
    }

    /// The member an Amazon buyer is linked to.
    pub fn member_by_buyer(&self, buyer_id: &str) -> Result<Option<MemberRecord>, StoreError> {
        self.member_where("l.buyer_id = ?1", buyer_id)
    }

    fn member_where(&self, condition: &str, value: impl rusqlite::ToSql) -> Result<Option<MemberRecord>, StoreError> {
        let sql = format!(
            "SELECT m.id, m.family_name || ' ' || m.given_name, m.email, l.buyer_id
             FROM members m LEFT JOIN amazon_links l ON l.member_id = m.id WHERE {condition}"
        );
        Ok(self
            .db()
            .query_row(&sql, [value], |row| {
                Ok(MemberRecord { id: row.get(0)?, name: row.get(1)?, email: row.get(2)?, buyer_id: row.get(3)? })
            })
            .optional()?)
    }

    /// The member's password hash, for a password login.
    pub fn password_hash(&self, member_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .db()
            .query_row("SELECT password_hash FROM members WHERE id = ?1", [member_id], |row| row.get(0))
            .optional()?)
    }

    /// Links an Amazon buyer to a member: one buyer to at most one member and back.
    pub fn link(&self, member_id: i64, buyer_id: &str, now: i64) -> Result<Result<(), LinkRefusal>, StoreError> {
        let mut db = self.db();
        let transaction = db.transaction()?;
        let existing: Option<String> = transaction
            .query_row("SELECT buyer_id FROM amazon_links WHERE member_id = ?1", [member_id], |row| row.get(0))
            .optional()?;
        if existing.is_some() {
            return Ok(Err(LinkRefusal::MemberLinked));
        }
        let taken: Option<i64> = transaction
            .query_row("SELECT member_id FROM amazon_links WHERE buyer_id = ?1", [buyer_id], |row| row.get(0))
            .optional()?;
        if taken.is_some() {
            return Ok(Err(LinkRefusal::BuyerTaken));
        }
        transaction.execute(
            "INSERT INTO amazon_links (member_id, buyer_id, linked_at) VALUES (?1, ?2, ?3)",
            params![member_id, buyer_id, now],
        )?;
        transaction.commit()?;
        Ok(Ok(()))
    }

    /// Removes a member's link; `false` when there was none.
    pub fn unlink(&self, member_id: i64) -> Result<bool, StoreError> {
        Ok(self.db().execute("DELETE FROM amazon_links WHERE member_id = ?1", [member_id])? == 1)
    }

    // ---- sessions ----

    /// A session by ID.
    pub fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .db()
            .query_row(
                "SELECT id, csrf_token, signin_state, member_id, pending_buyer, return_to, last_seen, cart_id
                 FROM sessions WHERE id = ?1",
                [id],
                |row| {
                    Ok(SessionRecord {
                        id: row.get(0)?,
                        csrf_token: row.get(1)?,
                        signin_state: row.get(2)?,
                        member_id: row.get(3)?,
                        pending_buyer: row.get(4)?,
                        return_to: row.get(5)?,
                        last_seen: row.get(6)?,
                        cart_id: row.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores a session (insert or replace).
    pub fn save_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.db().execute(
            "INSERT OR REPLACE INTO sessions (id, csrf_token, signin_state, member_id, pending_buyer, return_to,
                last_seen, cart_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                session.id,
                session.csrf_token,
                session.signin_state,
                session.member_id,
                session.pending_buyer,
                session.return_to,
                session.last_seen,
                session.cart_id
            ],
        )?;
        Ok(())
    }

    /// Marks a session as seen now.
    pub fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.db().execute("UPDATE sessions SET last_seen = ?2 WHERE id = ?1", params![id, now])?;
        Ok(())
    }

    /// Deletes a session.
    pub fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.db().execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Deletes sessions idle since before `cutoff`.
    pub fn delete_sessions_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        Ok(self.db().execute("DELETE FROM sessions WHERE last_seen < ?1", [cutoff])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(email: &str) -> NewMember {
        NewMember {
            email: email.into(), family_name: "山田".into(), given_name: "太郎".into(), ..NewMember::default()
        }
    }

    #[test]
    fn emails_are_unique_regardless_of_case() {
        let store = Store::open_in_memory().unwrap();
        let id = store.create_member(&member("taro@example.jp"), "h", 0).unwrap().unwrap();
        assert_eq!(store.create_member(&member("TARO@example.jp"), "h", 0).unwrap(), None);
        let found = store.member_by_email("Taro@Example.jp").unwrap().unwrap();
        assert_eq!((found.id, found.name.as_str(), found.buyer_id), (id, "山田 太郎", None));
    }

    #[test]
    fn one_buyer_links_to_at_most_one_member_and_back() {
        let store = Store::open_in_memory().unwrap();
        let a = store.create_member(&member("a@example.jp"), "h", 0).unwrap().unwrap();
        let b = store.create_member(&member("b@example.jp"), "h", 0).unwrap().unwrap();
        assert_eq!(store.link(a, "amzn1.account.X", 1).unwrap(), Ok(()));
        assert_eq!(store.link(b, "amzn1.account.X", 1).unwrap(), Err(LinkRefusal::BuyerTaken));
        assert_eq!(store.link(a, "amzn1.account.Y", 1).unwrap(), Err(LinkRefusal::MemberLinked));
        assert_eq!(store.member_by_buyer("amzn1.account.X").unwrap().unwrap().id, a);
        assert!(store.unlink(a).unwrap());
        assert!(!store.unlink(a).unwrap());
        assert_eq!(store.link(b, "amzn1.account.X", 2).unwrap(), Ok(()));
    }

    #[test]
    fn the_database_survives_a_restart_and_migrates_once() {
        let dir = std::env::temp_dir().join(format!("amazonpay2-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let id = Store::open(&dir).unwrap().create_member(&member("c@example.jp"), "h", 0).unwrap().unwrap();
        let reopened = Store::open(&dir).unwrap();
        assert_eq!(reopened.member(id).unwrap().unwrap().email, "c@example.jp");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sessions_are_saved_touched_and_expired() {
        let store = Store::open_in_memory().unwrap();
        let session = SessionRecord {
            id: "s".into(),
            csrf_token: "c".into(),
            signin_state: "t".into(),
            member_id: None,
            pending_buyer: None,
            return_to: Some("/cart".into()),
            cart_id: None,
            last_seen: 10,
        };
        store.save_session(&session).unwrap();
        store.touch_session("s", 20).unwrap();
        assert_eq!(store.session("s").unwrap().unwrap().last_seen, 20);
        assert_eq!(store.delete_sessions_before(15).unwrap(), 0);
        assert_eq!(store.delete_sessions_before(25).unwrap(), 1);
        assert!(store.session("s").unwrap().is_none());
    }
}
