//! A shop's database made before the migrator (schema version 6, `tests/fixtures/legacy/`: made
//! by the server binary of 2026-12-06, then filled) opened by today's server, on SQLite and on
//! PostgreSQL: adopted by the migrator without running a migration twice, every row still there
//! and read the same way, and new rows numbered after the old ones.

use amazonpay2::core::orders::{Authorization, OrderState};
use amazonpay2::core::platform::{CartId, MemberId, NewOrder, Opened, OrderId, OrderLine, RefundState};
use amazonpay2::storage::{IDEMPOTENCY_SECRET, ItemOutcome, LoginAttempts, NewMember, SCHEMA_VERSION};
use base64::Engine;

use crate::common::databases::{Target, connect};

/// The legacy database, put where `target` opens it.
async fn legacy(target: &Target) {
    match target {
        Target::Sqlite(dir) => {
            std::fs::create_dir_all(&dir.0).unwrap();
            let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/legacy/v6.sqlite3");
            std::fs::copy(fixture, dir.0.join("amazonpay2.sqlite3")).unwrap();
        }
        Target::Postgres { url, .. } => {
            let dump = include_str!("../fixtures/legacy/v6-postgres.sql");
            connect(url).await.batch_execute(dump).await.expect("the dump loads");
        }
    }
}

async fn a_legacy_database_is_adopted_and_keeps_every_row(target: Target) {
    legacy(&target).await;
    let db = target.open().await;
    assert_eq!(target.count("SELECT count(*) FROM _sqlx_migrations").await, SCHEMA_VERSION, "adopted, none run");
    assert_eq!(target.count("SELECT count(*) FROM schema_migrations").await, 6, "the old record stays");

    let member = db.member_by_email("hanako@example.jp").await.unwrap().expect("the member");
    assert_eq!((member.id, member.buyer_id.as_deref()), (MemberId(1), Some("amzn1.account.LEGACYBUYER")));
    let session = db.session("session-legacy").await.unwrap().expect("the session");
    assert_eq!((session.member, session.cart.clone()), (Some(MemberId(1)), Some(CartId("cart-legacy".into()))));
    let cart = db.cart(&CartId("cart-legacy".into())).await.unwrap().expect("the cart");
    assert_eq!((cart.lines.len(), cart.checkout.review_ref.as_deref()), (1, Some("review-legacy")));
    assert_eq!(db.products().await.unwrap().len(), 5, "the demo catalogue");
    assert!(db.admin_password_hash("admin").await.unwrap().is_some(), "the owner");
    assert_eq!(db.admin_session("digest-legacy").await.unwrap().map(|s| s.name), Some("admin".into()));

    let authorized = db.order(OrderId(1)).await.unwrap().expect("order 10001");
    assert_eq!(
        (authorized.state, authorized.authorized, authorized.total),
        (OrderState::Authorized, Some(Authorization { amount: 6_380, at: 1_796_000_400 }), 6_380)
    );
    let refunded = db.order(OrderId(2)).await.unwrap().expect("order 10002");
    assert_eq!(
        (refunded.state, refunded.captured, refunded.refunded, refunded.version),
        (OrderState::Refunded, 3_630, 1_500, 5)
    );
    let refunds = db.refunds(OrderId(2)).await.unwrap();
    assert_eq!(
        refunds.iter().map(|r| (r.refund_id.as_str(), r.amount, r.state)).collect::<Vec<_>>(),
        [("S01-LEGACY-2-R1", 500, RefundState::Refunded), ("S01-LEGACY-2-R2", 1_000, RefundState::Initiated)]
    );
    let detail = db.order_detail(OrderId(2)).await.unwrap().expect("its page");
    let forced = &detail.events[2];
    assert!(forced.forced, "a line forced before is read as forced");
    assert_eq!(forced.detail, "refund 1000 yen recorded", "without the prefix that said so");
    assert_eq!(
        (detail.email.as_deref(), detail.fulfilment.as_str(), detail.events.len()),
        (Some("guest@example.jp"), "shipped", 3)
    );
    let cycle = db.order(OrderId(3)).await.unwrap().expect("a subscription's cycle");
    assert_eq!(cycle.cycle.map(|c| (c.subscription.0, c.day.to_string())), Some((1, "2026-12-06".into())));
    let subscription = db.subscription_by_permission("B01-LEGACY-RECURRING").await.unwrap().expect("the subscription");
    assert_eq!(
        (subscription.amount, subscription.next_cycle.as_str(), subscription.active),
        (8_800, "2027-01-06", true)
    );

    let outcomes: Vec<ItemOutcome> = db.bulk(1).await.unwrap().into_iter().map(|item| item.outcome).collect();
    assert_eq!(outcomes, [ItemOutcome::Done, ItemOutcome::Skipped]);
    assert_eq!(db.bulk_job(1).await.unwrap().and_then(|job| job.finished_at), Some(1_796_000_620));
    assert_eq!(db.login_attempts("admin:admin").await.unwrap(), LoginAttempts { count: 2, since: 1_796_000_000 });
    let topics = db.ipn_topics("A2CRAFTCARTDEMO:sandbox").await.unwrap();
    assert_eq!(topics.iter().map(|t| t.last_confirmed).collect::<Vec<_>>(), [Some(1_796_000_450)]);
    // The idempotency keys of operations already asked of Amazon stay the same (each fixture's
    // server made its own secret).
    let kept = if target.is_postgres() {
        "yKc3tVCy0z7lBgVu4sMvkPaHeuOCceRVnT/ffF26kMM="
    } else {
        "7OYQDM/qq9OWgPzp/xrzMWfEarYA+BrpGs/P5GPwDFM="
    };
    let secret = base64::engine::general_purpose::STANDARD.decode(kept).unwrap();
    assert_eq!(db.secret(IDEMPOTENCY_SECRET).await.unwrap(), secret);

    // New rows are numbered after the old ones.
    let new_member = NewMember { email: "jiro@example.jp".into(), ..NewMember::default() };
    assert_eq!(db.create_member(&new_member, "hash").await.unwrap(), Some(MemberId(2)));
    let new = NewOrder {
        member: Some(MemberId(2)),
        checkout_session_id: Some("S01-AFTER".into()),
        cart: None,
        buyer_name: "次郎".into(),
        buyer_email: String::new(),
        cycle: None,
        lines: vec![OrderLine { name: "益子焼 マグカップ".into(), unit_price: 2_750, quantity: 1 }],
        shipping_fee: 880,
        total: 3_630,
        recurring: false,
        plan: None,
    };
    let Opened::New(order) = db.open_order(&new).await.unwrap() else { panic!("a new order") };
    assert_eq!(order.id, OrderId(4));

    // Opened again (a restart): nothing more to do.
    drop(db);
    target.open().await;
    assert_eq!(target.count("SELECT count(*) FROM _sqlx_migrations").await, SCHEMA_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_sqlite_database_is_adopted_and_keeps_every_row() {
    a_legacy_database_is_adopted_and_keeps_every_row(Target::sqlite("legacy")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_postgresql_database_is_adopted_and_keeps_every_row() {
    let Some(target) = Target::postgres("legacy").await else {
        eprintln!("not run on PostgreSQL: {} is not set", crate::common::databases::TEST_DATABASE_URL);
        return;
    };
    a_legacy_database_is_adopted_and_keeps_every_row(target).await;
}

/// The migrations as files, per database: `(version, SQL)`.
fn migration_files(target: &Target) -> [(i64, &'static str); 7] {
    macro_rules! files {
        ($dir:literal) => {
            [
                (1, include_str!(concat!("../../src/storage/migrations/", $dir, "/0001_shop_orders_sessions.sql"))),
                (2, include_str!(concat!("../../src/storage/migrations/", $dir, "/0002_bulk_outcome_skipped.sql"))),
                (
                    3,
                    include_str!(concat!(
                        "../../src/storage/migrations/",
                        $dir,
                        "/0003_buyer_email_plans_bulk_claims.sql"
                    )),
                ),
                (4, include_str!(concat!("../../src/storage/migrations/", $dir, "/0004_safeguards.sql"))),
                (5, include_str!(concat!("../../src/storage/migrations/", $dir, "/0005_refund_requests.sql"))),
                (6, include_str!(concat!("../../src/storage/migrations/", $dir, "/0006_ipn_topics_seen.sql"))),
                (7, include_str!(concat!("../../src/storage/migrations/", $dir, "/0007_forced_history_lines.sql"))),
            ]
        };
    }
    if target.is_postgres() { files!("postgres") } else { files!("sqlite") }
}

/// A database holding what the first `version` migrations made, as an older server left it
/// (its versions in `schema_migrations`), with `rows` added.
async fn at_version(target: &Target, version: i64, rows: &str) {
    target
        .execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        .await
        .unwrap();
    for (number, sql) in migration_files(target).into_iter().take_while(|(number, _)| *number <= version) {
        target.execute(sql).await.unwrap();
        target
            .execute(&format!("INSERT INTO schema_migrations VALUES ({number}, 'version {number}', 0)"))
            .await
            .unwrap();
    }
    target.execute(rows).await.unwrap();
}

/// Each upgrade, once per database.
macro_rules! upgrades {
    ($($name:ident),* $(,)?) => {
        mod upgrade_on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Target::sqlite(stringify!($name))).await;
                }
            )*
        }
        mod upgrade_on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(target) = super::Target::postgres(stringify!($name)).await else { return };
                    super::$name(target).await;
                }
            )*
        }
    };
}

upgrades!(
    a_first_version_database_keeps_its_bulk_jobs_and_learns_the_skipped_outcome,
    a_second_version_database_keeps_its_orders_and_jobs_and_learns_emails_plans_and_claims,
    a_version_two_database_keeps_its_notifications_and_its_owners_failed_logins,
    a_version_four_database_counts_each_orders_refunds_as_its_refund_requests,
    a_version_four_database_keeps_its_pinned_topic_as_one_seen_and_pins_nothing,
    a_version_six_database_reads_its_forced_history_lines_as_forced,
    a_database_this_server_did_not_make_is_refused_untouched,
    a_database_a_newer_server_migrated_is_refused,
    a_version_seven_database_becomes_the_first_shop_whose_names_another_shop_may_take_again,
);

async fn a_version_seven_database_becomes_the_first_shop_whose_names_another_shop_may_take_again(target: Target) {
    use amazonpay2::core::platform::Members;
    use amazonpay2::core::settings::ShopHost;
    use amazonpay2::storage::{BackOffice, Shop, ShopId, Store};
    at_version(
        &target,
        7,
        "INSERT INTO members (id, email, password_hash, family_name, given_name, family_kana, given_kana, postal_code,
             prefecture, address1, address2, phone, created_at)
             VALUES (3, 'Hanako@Example.jp', 'x', '山田', '花子', 'ヤマダ', 'ハナコ', '1500001', '東京都', '渋谷区', '', '0312345678', 0);
         INSERT INTO amazon_links (member_id, buyer_id, linked_at) VALUES (3, 'amzn1.account.B', 0);
         INSERT INTO admin_accounts (name, password_hash, created_at) VALUES ('admin', 'h', 0);
         INSERT INTO admin_sessions (id, name, last_seen, created_at) VALUES ('owner-session', 'admin', 9999999999, 0);
         INSERT INTO notifications (notification_id, object_type, object_id, received_at) VALUES ('n-1', 'CHARGE', 'C', 0);",
    )
    .await;
    let (_, setting) = target.setting();
    let first = Store::open(&setting).await.unwrap();
    assert_eq!(first.shop(), ShopId::FIRST);
    let hanako = first.member_by_email("hanako@example.jp").await.unwrap().expect("the first shop's member");
    assert_eq!(hanako.buyer_id.as_deref(), Some("amzn1.account.B"));
    assert!(first.admin_session("owner-session").await.unwrap().is_some());
    assert_eq!(target.count("SELECT count(*) FROM shops WHERE id = 1").await, 1);

    // Another shop: none of it is the first shop's, and the first shop's names are free in it.
    let added = first.add_shop(&[ShopHost::parse("shop2.example.jp").unwrap()], "admin", "h2").await.unwrap().unwrap();
    assert!(added.adopted, "the first shop added is the one served so far");
    let second_host = ShopHost::parse("shop3.example.jp").unwrap();
    let other = first.add_shop(&[second_host], "admin", "h3").await.unwrap().unwrap();
    assert!(!other.adopted);
    let other = first.for_shop(other.id);
    assert!(other.member_by_email("hanako@example.jp").await.unwrap().is_none());
    assert!(other.member_by_buyer("amzn1.account.B").await.unwrap().is_none());
    assert!(other.admin_session("owner-session").await.unwrap().is_none());
    assert_eq!(other.admin_password_hash("admin").await.unwrap().as_deref(), Some("h3"));
    assert_eq!(first.admin_password_hash("admin").await.unwrap().as_deref(), Some("h2"));
    let member = amazonpay2::storage::NewMember { email: "HANAKO@example.jp".into(), ..Default::default() };
    let again = other.create_member(&member, "p").await.unwrap().expect("the same e-mail in another shop");
    assert!(other.link(again, "amzn1.account.B").await.unwrap().is_ok(), "the same buyer in another shop");
    assert!(first.create_member(&member, "p").await.unwrap().is_none(), "still unique within a shop");
    // The rebuilt tables kept their foreign keys: a member's link goes with it.
    // (SQLite checks foreign keys only where a connection asks it to, as the server's do.)
    let delete = "DELETE FROM members WHERE id = 3";
    target
        .execute(&if target.is_postgres() { delete.to_owned() } else { format!("PRAGMA foreign_keys = ON; {delete}") })
        .await
        .unwrap();
    assert_eq!(target.count("SELECT count(*) FROM amazon_links WHERE member_id = 3").await, 0);
}

async fn a_version_six_database_reads_its_forced_history_lines_as_forced(target: Target) {
    at_version(
        &target,
        6,
        "INSERT INTO orders (id, order_number, total, shipping_fee, recurring, state, created_at, updated_at)
             VALUES (7, '10007', 3630, 880, FALSE, 'canceled', 0, 0);
         INSERT INTO order_events (order_id, at, actor, from_state, to_state, detail) VALUES
             (7, 1, 'owner:admin', 'authorized', 'canceled', 'エラーを無視して変更: Amazon の状態: Canceled'),
             (7, 2, 'ipn', 'canceled', 'canceled', 'エラーを無視して変更は不要');",
    )
    .await;
    let db = target.open().await;
    let events = db.order_detail(amazonpay2::core::platform::OrderId(7)).await.unwrap().unwrap().events;
    assert_eq!(
        events.iter().map(|e| (e.detail.as_str(), e.forced)).collect::<Vec<_>>(),
        [("Amazon の状態: Canceled", true), ("エラーを無視して変更は不要", false)]
    );
}

async fn a_database_this_server_did_not_make_is_refused_untouched(target: Target) {
    target.execute("CREATE TABLE members (id BIGINT PRIMARY KEY)").await.unwrap();
    let (_, setting) = target.setting();
    let error = amazonpay2::storage::open(&setting).await.err().expect("refused");
    assert!(error.to_string().contains("did not make"), "{error}");
    assert_eq!(target.count("SELECT count(*) FROM members").await, 0);
    assert!(target.execute("SELECT 1 FROM _sqlx_migrations").await.is_err(), "nothing was made");
}

async fn a_database_a_newer_server_migrated_is_refused(target: Target) {
    at_version(&target, 6, "INSERT INTO schema_migrations VALUES (99, 'from the future', 0)").await;
    let (_, setting) = target.setting();
    let error = amazonpay2::storage::open(&setting).await.err().expect("refused");
    assert!(error.to_string().contains("newer"), "{error}");
}

async fn a_first_version_database_keeps_its_bulk_jobs_and_learns_the_skipped_outcome(target: Target) {
    at_version(
        &target,
        1,
        "INSERT INTO bulk_jobs (id, owner, created_at) VALUES (1, 'admin', 0);
         INSERT INTO bulk_items VALUES (1, 0, 7, '10007', 'done', '実売上');",
    )
    .await;
    assert!(target.execute("UPDATE bulk_items SET outcome = 'skipped'").await.is_err(), "version 1 refuses it");
    target.open().await;
    assert_eq!(target.texts("SELECT message FROM bulk_items WHERE order_id = 7").await, [Some("実売上".into())]);
    target.execute("UPDATE bulk_items SET outcome = 'skipped'").await.unwrap();
    assert!(target.execute("UPDATE bulk_items SET outcome = 'exploded'").await.is_err());
}

async fn a_second_version_database_keeps_its_orders_and_jobs_and_learns_emails_plans_and_claims(target: Target) {
    at_version(
        &target,
        2,
        "INSERT INTO orders (id, order_number, total, shipping_fee, recurring, state, buyer_name, authorized_amount,
             authorized_at, created_at, updated_at)
         VALUES (7, '10007', 3630, 880, FALSE, 'authorized', 'Amazon 太郎', 3630, 1795860854, 0, 0);
         INSERT INTO subscriptions (id, charge_permission_id, amount, next_cycle, status, created_at)
         VALUES (1, 'S03-R', 9680, '2026-12-30', 'active', 0);
         INSERT INTO bulk_jobs (id, owner, created_at) VALUES (1, 'admin', 5), (2, 'admin', 6);
         INSERT INTO bulk_items VALUES (1, 0, 7, '10007', 'done', '実売上'), (2, 0, 7, '10007', 'waiting', '');",
    )
    .await;
    target.open().await;
    assert_eq!(
        target
            .texts("SELECT buyer_name, buyer_email, plan, CAST(authorized_at AS TEXT) FROM orders WHERE id = 7")
            .await,
        [Some("Amazon 太郎".into()), Some(String::new()), None, Some("1795860854".into())],
        "kept; no e-mail known"
    );
    assert_eq!(target.texts("SELECT plan FROM subscriptions WHERE id = 1").await, [None], "its whole amount recurs");
    assert_eq!(
        target.count("SELECT count(*) FROM bulk_jobs WHERE id = 1 AND finished_at = 5 AND claimed_by IS NULL").await,
        1,
        "done: finished"
    );
    assert_eq!(
        target.count("SELECT count(*) FROM bulk_jobs WHERE id = 2 AND finished_at IS NULL").await,
        1,
        "an order waiting: resumable"
    );
    assert_eq!(target.count("SELECT count(*) FROM _sqlx_migrations").await, SCHEMA_VERSION);
}

async fn a_version_two_database_keeps_its_notifications_and_its_owners_failed_logins(target: Target) {
    at_version(
        &target,
        2,
        "INSERT INTO notifications VALUES ('n-1', 'CHARGE', 'C-1', 1000);
         INSERT INTO admin_login_failures VALUES ('admin', 3, 2000);",
    )
    .await;
    let db = target.open().await;
    assert_eq!(
        target
            .texts("SELECT object_id, state, CAST(handled_at AS TEXT) FROM notifications WHERE notification_id = 'n-1'")
            .await,
        [Some("C-1".into()), Some("handled".into()), Some("1000".into())],
        "a notification recorded before stays handled"
    );
    assert_eq!(db.login_attempts("admin:admin").await.unwrap(), LoginAttempts { count: 3, since: 2000 });
    assert!(target.execute("UPDATE notifications SET state = 'lost'").await.is_err(), "a closed set");
}

async fn a_version_four_database_counts_each_orders_refunds_as_its_refund_requests(target: Target) {
    at_version(
        &target,
        4,
        "INSERT INTO orders (id, order_number, total, shipping_fee, recurring, state, captured_amount,
             refunded_amount, created_at, updated_at)
         VALUES (7, '10007', 3630, 880, FALSE, 'refunded', 3630, 1500, 0, 0),
                (8, '10008', 3630, 880, FALSE, 'captured', 3630, 0, 0, 0);
         INSERT INTO refunds VALUES ('R-1', 7, 1000, 'refunded', 1, 1), ('R-2', 7, 500, 'initiated', 2, 2);",
    )
    .await;
    target.open().await;
    assert_eq!(
        target.count("SELECT refund_requests FROM orders WHERE id = 7").await,
        2,
        "the next refund keeps its key"
    );
    assert_eq!(target.count("SELECT refund_requests FROM orders WHERE id = 8").await, 0);
    assert_eq!(target.count("SELECT refunded_amount FROM orders WHERE id = 7").await, 1500);
    assert!(target.execute("UPDATE orders SET refund_requests = -1").await.is_err(), "never below 0");
}

async fn a_version_four_database_keeps_its_pinned_topic_as_one_seen_and_pins_nothing(target: Target) {
    at_version(&target, 4, "INSERT INTO ipn_topics VALUES ('M:live', 'arn:pinned', 1000)").await;
    let db = target.open().await;
    let seen = db.ipn_topics("M:live").await.unwrap();
    assert_eq!(
        seen.iter().map(|t| (t.topic_arn.as_str(), t.first_seen, t.last_seen, t.last_confirmed)).collect::<Vec<_>>(),
        [("arn:pinned", 1000, 1000, Some(1000))]
    );
    target
        .execute(
            "INSERT INTO ipn_topics (scope, topic_arn, first_seen, last_seen, last_confirmed)
             VALUES ('M:live', 'arn:other', 2000, 2000, NULL)",
        )
        .await
        .expect("a second topic");
}
