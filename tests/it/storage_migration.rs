//! A shop's database made before the migrator (schema version 6, `tests/fixtures/legacy/`: made
//! by the server binary of 2026-12-06, then filled) opened by today's server, on SQLite and on
//! PostgreSQL: adopted by the migrator without running a migration twice, every row still there
//! and read the same way, and new rows numbered after the old ones.

use amazonpay2::core::orders::OrderState;
use amazonpay2::core::platform::{CartId, MemberId, NewOrder, Opened, OrderId, OrderLine, RefundState};
use amazonpay2::storage::{IDEMPOTENCY_SECRET, NewMember, SCHEMA_VERSION};
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
    assert_eq!(db.admin_session("digest-legacy").await.unwrap().map(|s| s.0), Some("admin".into()));

    let authorized = db.order(OrderId(1)).await.unwrap().expect("order 10001");
    assert_eq!(
        (authorized.state, authorized.authorized, authorized.total),
        (OrderState::Authorized, Some((6_380, 1_796_000_400)), 6_380)
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
    assert_eq!(
        (detail.email.as_deref(), detail.fulfilment.as_str(), detail.events.len()),
        (Some("guest@example.jp"), "shipped", 3)
    );
    let cycle = db.order(OrderId(3)).await.unwrap().expect("a subscription's cycle");
    assert_eq!(cycle.cycle.map(|(id, day)| (id.0, day.to_string())), Some((1, "2026-12-06".into())));
    let subscription = db.subscription_by_permission("B01-LEGACY-RECURRING").await.unwrap().expect("the subscription");
    assert_eq!(
        (subscription.amount, subscription.next_cycle.as_str(), subscription.active),
        (8_800, "2027-01-06", true)
    );

    let outcomes: Vec<String> = db.bulk(1).await.unwrap().into_iter().map(|item| item.outcome).collect();
    assert_eq!(outcomes, ["done", "skipped"]);
    assert_eq!(db.bulk_job(1).await.unwrap().and_then(|job| job.finished_at), Some(1_796_000_620));
    assert_eq!(db.login_attempts("admin:admin").await.unwrap(), (2, 1_796_000_000));
    let topics = db.ipn_topics("A2CRAFTCARTDEMO:sandbox").await.unwrap();
    assert_eq!(topics.iter().map(|t| t.last_confirmed).collect::<Vec<_>>(), [Some(1_796_000_450)]);
    // The idempotency keys of operations already asked of Amazon stay the same.
    let secret =
        base64::engine::general_purpose::STANDARD.decode("7OYQDM/qq9OWgPzp/xrzMWfEarYA+BrpGs/P5GPwDFM=").unwrap();
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
