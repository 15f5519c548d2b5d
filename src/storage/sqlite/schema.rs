//! The schema and its migrations: applied in order at start, each in its own transaction, and
//! recorded in `schema_migrations` so that each runs once.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StorageError, now};
use crate::core::orders::OrderState;

/// The migrations, in order: a version and the SQL that makes it.
pub(super) fn migrations() -> Vec<(i64, &'static str, String)> {
    let states = OrderState::ALL.iter().map(|s| format!("'{}'", s.name())).collect::<Vec<_>>().join(", ");
    vec![
        (
            1,
            "shop, orders, sessions",
            format!(
                "CREATE TABLE secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE members (
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
        CREATE TABLE products (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            price INTEGER NOT NULL CHECK (price > 0),
            recurring INTEGER NOT NULL DEFAULT 0 CHECK (recurring IN (0, 1))
        );
        CREATE TABLE shipping_methods (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            fee INTEGER NOT NULL CHECK (fee >= 0),
            amazon_pay_allowed INTEGER NOT NULL CHECK (amazon_pay_allowed IN (0, 1))
        );
        CREATE TABLE payment_methods (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
        );
        -- The manual: with the option, Amazon Pay appears among the payment methods
        -- (基本設定＞支払方法).
        INSERT INTO payment_methods (code, name, enabled) VALUES ('amazon_pay', 'Amazon Pay', 1);
        CREATE TABLE carts (
            id TEXT PRIMARY KEY,
            shipping_method_id INTEGER NOT NULL REFERENCES shipping_methods(id),
            review_ref TEXT,
            checkout_session_id TEXT,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX carts_updated_at ON carts(updated_at);
        CREATE TABLE cart_items (
            cart_id TEXT NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
            product_id INTEGER NOT NULL REFERENCES products(id),
            quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
            PRIMARY KEY (cart_id, product_id)
        );
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
            cart_id TEXT,
            pending_buyer TEXT,
            pending_until INTEGER,
            return_to TEXT,
            last_seen INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX sessions_last_seen ON sessions(last_seen);
        CREATE INDEX sessions_cart ON sessions(cart_id);
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            member_id INTEGER REFERENCES members(id),
            charge_permission_id TEXT NOT NULL UNIQUE,
            amount INTEGER NOT NULL CHECK (amount > 0),
            next_cycle TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'canceled')),
            created_at INTEGER NOT NULL
        );
        CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            order_number TEXT UNIQUE,
            member_id INTEGER REFERENCES members(id),
            checkout_session_id TEXT UNIQUE,
            cart_id TEXT,
            subscription_id INTEGER REFERENCES subscriptions(id),
            cycle TEXT,
            total INTEGER NOT NULL CHECK (total >= 0),
            shipping_fee INTEGER NOT NULL CHECK (shipping_fee >= 0),
            discount INTEGER NOT NULL DEFAULT 0 CHECK (discount >= 0),
            recurring INTEGER NOT NULL CHECK (recurring IN (0, 1)),
            state TEXT NOT NULL CHECK (state IN ({states})),
            charge_permission_id TEXT,
            charge_id TEXT,
            authorized_amount INTEGER CHECK (authorized_amount > 0),
            authorized_at INTEGER,
            captured_amount INTEGER NOT NULL DEFAULT 0 CHECK (captured_amount >= 0),
            refunded_amount INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
            note TEXT NOT NULL DEFAULT '',
            buyer_name TEXT NOT NULL DEFAULT '',
            fulfilment TEXT NOT NULL DEFAULT 'new' CHECK (fulfilment IN ('new', 'shipped', 'canceled')),
            version INTEGER NOT NULL DEFAULT 0,
            locked_by TEXT,
            locked_until INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            UNIQUE (subscription_id, cycle)
        );
        CREATE INDEX orders_state ON orders(state, updated_at);
        CREATE INDEX orders_listed ON orders(state, id);
        CREATE INDEX orders_charge ON orders(charge_id);
        CREATE INDEX orders_permission ON orders(charge_permission_id);
        CREATE INDEX orders_member ON orders(member_id, id);
        CREATE INDEX orders_authorized ON orders(state, authorized_at);
        CREATE TABLE order_items (
            order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            price INTEGER NOT NULL CHECK (price >= 0),
            quantity INTEGER NOT NULL CHECK (quantity > 0),
            PRIMARY KEY (order_id, position)
        );
        CREATE TABLE order_events (
            id INTEGER PRIMARY KEY,
            order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL CHECK (to_state IN ({states})),
            detail TEXT NOT NULL
        );
        CREATE INDEX order_events_order ON order_events(order_id, id);
        CREATE TABLE refunds (
            refund_id TEXT PRIMARY KEY,
            order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            amount INTEGER NOT NULL CHECK (amount > 0),
            state TEXT NOT NULL CHECK (state IN ('initiated', 'refunded', 'declined')),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX refunds_order ON refunds(order_id, created_at);
        CREATE TABLE notifications (
            notification_id TEXT PRIMARY KEY,
            object_type TEXT NOT NULL,
            object_id TEXT NOT NULL,
            received_at INTEGER NOT NULL
        );
        CREATE TABLE admin_accounts (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE admin_sessions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL REFERENCES admin_accounts(name) ON DELETE CASCADE,
            last_seen INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE admin_login_failures (
            name TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            since INTEGER NOT NULL
        );
        CREATE TABLE bulk_jobs (
            id INTEGER PRIMARY KEY,
            owner TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE bulk_items (
            bulk_id INTEGER NOT NULL REFERENCES bulk_jobs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            order_id INTEGER NOT NULL,
            order_number TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('waiting', 'done', 'refused')),
            message TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (bulk_id, order_id)
        );"
            ),
        ),
        (
            2,
            "bulk outcome skipped",
            // SQLite cannot change a CHECK in place: the (small) table is made again.
            "CREATE TABLE bulk_items_2 (
            bulk_id INTEGER NOT NULL REFERENCES bulk_jobs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            order_id INTEGER NOT NULL,
            order_number TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('waiting', 'done', 'skipped', 'refused')),
            message TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (bulk_id, order_id)
        );
        INSERT INTO bulk_items_2 SELECT bulk_id, position, order_id, order_number, outcome, message FROM bulk_items;
        DROP TABLE bulk_items;
        ALTER TABLE bulk_items_2 RENAME TO bulk_items;"
                .to_owned(),
        ),
        (3, "buyer e-mail, subscription plans, bulk jobs claimed in the database", VERSION_3.to_owned()),
        (
            4,
            "safeguards: notifications claimed, IPN topic, login attempts",
            // Notifications recorded before were handled (or given up): they stay as handled.
            // The owners' failed logins become the first login attempts, under the owner's name.
            "ALTER TABLE notifications ADD COLUMN state TEXT NOT NULL DEFAULT 'handled'
            CHECK (state IN ('handling', 'handled'));
        ALTER TABLE notifications ADD COLUMN claim_token TEXT;
        ALTER TABLE notifications ADD COLUMN claimed_until INTEGER;
        ALTER TABLE notifications ADD COLUMN handled_at INTEGER;
        UPDATE notifications SET handled_at = received_at;
        CREATE INDEX notifications_age ON notifications(handled_at);
        CREATE TABLE ipn_topics (
            scope TEXT PRIMARY KEY,
            topic_arn TEXT NOT NULL,
            pinned_at INTEGER NOT NULL
        );
        CREATE TABLE login_attempts (
            subject TEXT PRIMARY KEY,
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            since INTEGER NOT NULL
        );
        CREATE INDEX login_attempts_since ON login_attempts(since);
        INSERT INTO login_attempts (subject, attempts, since)
            SELECT 'admin:' || name, failures, since FROM admin_login_failures;
        DROP TABLE admin_login_failures;"
                .to_owned(),
        ),
        (5, "refund requests answered per order", VERSION_5.to_owned()),
        (
            6,
            "IPN topics seen, none pinned",
            // The topic pinned before is kept as one seen (and confirmed then); nothing is pinned.
            "CREATE TABLE ipn_topics_5 (
            scope TEXT NOT NULL,
            topic_arn TEXT NOT NULL,
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            last_confirmed INTEGER,
            PRIMARY KEY (scope, topic_arn)
        );
        INSERT INTO ipn_topics_5 (scope, topic_arn, first_seen, last_seen, last_confirmed)
            SELECT scope, topic_arn, pinned_at, pinned_at, pinned_at FROM ipn_topics;
        DROP TABLE ipn_topics;
        ALTER TABLE ipn_topics_5 RENAME TO ipn_topics;
        CREATE INDEX ipn_topics_seen ON ipn_topics(scope, last_seen);"
                .to_owned(),
        ),
        (7, "forced history lines", VERSION_7.to_owned()),
    ]
}

/// Version 7: a history line says whether the shop owner forced the move (「エラーを無視して変更
/// する」) instead of its detail beginning with 「エラーを無視して変更: 」; the lines written
/// before are read that way once (the prefix, 12 characters, taken off the detail).
const VERSION_7: &str = "ALTER TABLE order_events ADD COLUMN forced INTEGER NOT NULL DEFAULT 0;
        UPDATE order_events SET forced = TRUE, detail = substr(detail, 13)
            WHERE detail LIKE 'エラーを無視して変更: %';";

/// Version 5: how many of the shop's refund requests for an order Amazon has answered for good
/// (the next request's idempotency key is the one after). An order refunded before counts its
/// recorded refunds, as the keys then did, so that its next refund is asked under the key it
/// would have had.
const VERSION_5: &str = "ALTER TABLE orders ADD COLUMN refund_requests INTEGER NOT NULL DEFAULT 0
            CHECK (refund_requests >= 0);
        UPDATE orders SET refund_requests = (SELECT count(*) FROM refunds r WHERE r.order_id = orders.id);";

/// Version 3: a guest's e-mail as Amazon gave it; what a subscription repeats every cycle (JSON of
/// `Plan`, on the checkout's order and on the subscription; none for those made before, whose
/// whole amount recurs as it did); and which server instance runs a bulk job, when it was last
/// heard of and when it finished, so that every instance behind a load balancer sees the same
/// job. Jobs made before with nothing left waiting are finished; the others show as interrupted.
const VERSION_3: &str = "ALTER TABLE orders ADD COLUMN buyer_email TEXT NOT NULL DEFAULT '';
        ALTER TABLE orders ADD COLUMN plan TEXT;
        ALTER TABLE subscriptions ADD COLUMN plan TEXT;
        ALTER TABLE bulk_jobs ADD COLUMN claimed_by TEXT;
        ALTER TABLE bulk_jobs ADD COLUMN heartbeat_at INTEGER;
        ALTER TABLE bulk_jobs ADD COLUMN finished_at INTEGER;
        UPDATE bulk_jobs SET finished_at = created_at WHERE NOT EXISTS
            (SELECT 1 FROM bulk_items i WHERE i.bulk_id = bulk_jobs.id AND i.outcome = 'waiting');";

/// Brings the database up to the newest schema.
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StorageError> {
    // Under the write lock, so that a process starting beside this one (on a new database) is
    // either before it (no tables at all) or after it (schema_migrations made): never between,
    // where its tables without schema_migrations would look like a pre-release database.
    let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let tracked: bool = transaction.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |row| row.get(0),
    )?;
    let tables: i64 =
        transaction.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |row| row.get(0))?;
    if !tracked && tables > 0 {
        return Err(StorageError::Incompatible(format!(
            "{} was made by a pre-release version of this server and cannot be upgraded; move it away to start afresh",
            path.display()
        )));
    }
    transaction.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )?;
    transaction.commit()?;
    for (version, name, sql) in migrations() {
        let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: Option<i64> = transaction
            .query_row("SELECT version FROM schema_migrations WHERE version = ?1", [version], |row| row.get(0))
            .optional()?;
        if done.is_none() {
            transaction.execute_batch(&sql)?;
            transaction.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![version, name, now()],
            )?;
            tracing::info!(version, name, "database migrated");
        }
        transaction.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Sqlite;
    use super::super::tests::TempDir;
    use super::*;

    #[tokio::test]
    async fn a_database_migrates_once_and_survives_a_restart() {
        let dir = TempDir::new("migrate");
        drop(Sqlite::open(&dir.0).await.unwrap());
        let db = Sqlite::open(&dir.0).await.unwrap();
        let applied: i64 =
            db.read(|c| c.query_row("SELECT count(*) FROM schema_migrations", [], |row| row.get(0))).await.unwrap();
        assert_eq!(applied, i64::try_from(migrations().len()).unwrap());
    }

    #[tokio::test]
    async fn a_production_database_holds_no_demo_products_and_offers_amazon_pay() {
        let dir = TempDir::new("empty");
        let db = Sqlite::open(&dir.0).await.unwrap();
        let products: i64 =
            db.read(|c| c.query_row("SELECT count(*) FROM products", [], |row| row.get(0))).await.unwrap();
        assert_eq!(products, 0);
        let enabled: bool = db
            .read(|c| {
                c.query_row("SELECT enabled FROM payment_methods WHERE code = 'amazon_pay'", [], |row| row.get(0))
            })
            .await
            .unwrap();
        assert!(enabled);
    }

    #[tokio::test]
    async fn an_unknown_state_is_refused_by_the_database_itself() {
        let dir = TempDir::new("check");
        let db = Sqlite::open(&dir.0).await.unwrap();
        let refused = db
            .write(|tx| {
                Ok(tx.execute(
                    "INSERT INTO orders (total, shipping_fee, recurring, state, created_at, updated_at)
                     VALUES (1, 0, 0, 'authorised', 0, 0)",
                    [],
                )?)
            })
            .await;
        assert!(refused.is_err());
    }

    /// A database made by the first `version` migrations only, as an older server left it.
    fn at_version(version: usize, name: &str) -> (TempDir, std::path::PathBuf, Connection) {
        let dir = TempDir::new(name);
        std::fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("old.sqlite3");
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .unwrap();
        for (version, name, sql) in migrations().into_iter().take(version) {
            db.execute_batch(&sql).unwrap();
            db.execute("INSERT INTO schema_migrations VALUES (?1, ?2, 0)", params![version, name]).unwrap();
        }
        (dir, path, db)
    }

    #[test]
    fn a_first_version_database_keeps_its_bulk_jobs_and_learns_the_skipped_outcome() {
        let (_dir, path, mut db) = at_version(1, "v1");
        db.execute_batch(
            "INSERT INTO bulk_jobs (id, owner, created_at) VALUES (1, 'admin', 0);
             INSERT INTO bulk_items VALUES (1, 0, 7, '10007', 'done', '実売上');",
        )
        .unwrap();
        assert!(db.execute("UPDATE bulk_items SET outcome = 'skipped'", []).is_err(), "version 1 refuses it");

        migrate(&mut db, &path).unwrap();
        let kept: String = db.query_row("SELECT message FROM bulk_items WHERE order_id = 7", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, "実売上");
        db.execute("UPDATE bulk_items SET outcome = 'skipped'", []).unwrap();
        assert!(db.execute("UPDATE bulk_items SET outcome = 'exploded'", []).is_err());
    }

    #[test]
    fn a_second_version_database_keeps_its_orders_and_jobs_and_learns_emails_plans_and_claims() {
        let (_dir, path, mut db) = at_version(2, "v2");
        db.execute_batch(
            "INSERT INTO orders (id, order_number, total, shipping_fee, recurring, state, buyer_name, authorized_amount,
                 authorized_at, created_at, updated_at)
             VALUES (7, '10007', 3630, 880, 0, 'authorized', 'Amazon 太郎', 3630, 1795860854, 0, 0);
             INSERT INTO subscriptions (id, charge_permission_id, amount, next_cycle, status, created_at)
             VALUES (1, 'S03-R', 9680, '2026-12-30', 'active', 0);
             INSERT INTO bulk_jobs (id, owner, created_at) VALUES (1, 'admin', 5), (2, 'admin', 6);
             INSERT INTO bulk_items VALUES (1, 0, 7, '10007', 'done', '実売上'), (2, 0, 7, '10007', 'waiting', '');",
        )
        .unwrap();

        migrate(&mut db, &path).unwrap();
        let order: (String, String, Option<String>, i64) = db
            .query_row("SELECT buyer_name, buyer_email, plan, authorized_at FROM orders WHERE id = 7", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!(order, ("Amazon 太郎".into(), String::new(), None, 1_795_860_854), "kept; no e-mail known");
        let plan: Option<String> =
            db.query_row("SELECT plan FROM subscriptions WHERE id = 1", [], |r| r.get(0)).unwrap();
        assert_eq!(plan, None, "its whole amount recurs, as before");
        let jobs: Vec<(i64, Option<String>, Option<i64>)> = db
            .prepare("SELECT id, claimed_by, finished_at FROM bulk_jobs ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(jobs, [(1, None, Some(5)), (2, None, None)], "done: finished; an order waiting: resumable");
    }

    #[test]
    fn a_version_two_database_keeps_its_notifications_and_its_owners_failed_logins() {
        let (_dir, path, mut db) = at_version(2, "v2-safeguards");
        db.execute_batch(
            "INSERT INTO notifications VALUES ('n-1', 'CHARGE', 'C-1', 1000);
             INSERT INTO admin_login_failures VALUES ('admin', 3, 2000);",
        )
        .unwrap();

        migrate(&mut db, &path).unwrap();
        let kept: (String, String, i64) = db
            .query_row(
                "SELECT object_id, state, handled_at FROM notifications WHERE notification_id = 'n-1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(kept, ("C-1".into(), "handled".into(), 1000), "a notification recorded before stays handled");
        let attempts: (i64, i64) = db
            .query_row("SELECT attempts, since FROM login_attempts WHERE subject = 'admin:admin'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(attempts, (3, 2000));
        assert!(db.execute("UPDATE notifications SET state = 'lost'", []).is_err(), "states are a closed set");
    }

    #[test]
    fn a_version_four_database_counts_each_orders_refunds_as_its_refund_requests() {
        let (_dir, path, mut db) = at_version(4, "v4");
        db.execute_batch(
            "INSERT INTO orders (id, order_number, total, shipping_fee, recurring, state, captured_amount,
                 refunded_amount, created_at, updated_at)
             VALUES (7, '10007', 3630, 880, 0, 'refunded', 3630, 1500, 0, 0),
                    (8, '10008', 3630, 880, 0, 'captured', 3630, 0, 0, 0);
             INSERT INTO refunds VALUES ('R-1', 7, 1000, 'refunded', 1, 1), ('R-2', 7, 500, 'initiated', 2, 2);",
        )
        .unwrap();

        migrate(&mut db, &path).unwrap();
        let counted: Vec<(i64, i64, i64)> = db
            .prepare("SELECT id, refund_requests, refunded_amount FROM orders ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(counted, [(7, 2, 1500), (8, 0, 0)], "the next refund is asked under the key it had before");
        assert!(db.execute("UPDATE orders SET refund_requests = -1", []).is_err(), "never below 0");
    }

    #[test]
    fn a_version_four_database_keeps_its_pinned_topic_as_one_seen_and_pins_nothing() {
        let (_dir, path, mut db) = at_version(4, "v4-topics");
        db.execute_batch("INSERT INTO ipn_topics VALUES ('M:live', 'arn:pinned', 1000);").unwrap();

        migrate(&mut db, &path).unwrap();
        let seen: (String, i64, i64, Option<i64>) = db
            .query_row(
                "SELECT topic_arn, first_seen, last_seen, last_confirmed FROM ipn_topics WHERE scope = 'M:live'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(seen, ("arn:pinned".into(), 1000, 1000, Some(1000)));
        db.execute_batch("INSERT INTO ipn_topics VALUES ('M:live', 'arn:other', 2000, 2000, NULL);")
            .expect("a second topic of the same scope");
    }

    #[test]
    fn a_version_six_database_reads_its_forced_history_lines_as_forced() {
        let (_dir, path, mut db) = at_version(6, "v6");
        db.execute_batch(
            "INSERT INTO orders (id, total, shipping_fee, recurring, state, created_at, updated_at)
                 VALUES (7, 3630, 880, 0, 'canceled', 0, 0);
             INSERT INTO order_events (order_id, at, actor, from_state, to_state, detail) VALUES
                 (7, 1, 'owner:admin', 'authorized', 'canceled', 'エラーを無視して変更: Amazon の状態: Canceled'),
                 (7, 2, 'ipn', 'canceled', 'canceled', 'エラーを無視して変更は不要');",
        )
        .unwrap();

        migrate(&mut db, &path).unwrap();
        let mut statement = db.prepare("SELECT detail, forced FROM order_events ORDER BY id").unwrap();
        let lines: Vec<(String, bool)> =
            statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        assert_eq!(
            lines,
            [("Amazon の状態: Canceled".to_owned(), true), ("エラーを無視して変更は不要".to_owned(), false)]
        );
    }

    #[test]
    fn a_pre_release_database_is_refused_with_a_clear_message() {
        let dir = TempDir::new("old");
        std::fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("old.sqlite3");
        let mut old = Connection::open(&path).unwrap();
        old.execute_batch("CREATE TABLE members (id INTEGER PRIMARY KEY); PRAGMA user_version = 2;").unwrap();
        let error = migrate(&mut old, &path).unwrap_err();
        assert!(error.to_string().contains("pre-release"), "{error}");
    }
}
