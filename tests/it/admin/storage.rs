//! The shop owner's side of the database (`BackOffice` on SQLite): the order list (受注一覧) and
//! page (受注編集), order edits, the 「支払方法: AmazonPay」 tick, owner accounts, sessions and
//! login failures, bulk jobs and subscriptions.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use time::macros::date;

use amazonpay2::core::orders::{Actor, AmazonIds, Authorization, OrderState, Outcome, Transition, settle};

/// What Amazon authorized on the tests' charges: ¥3,630, on a charge it made now.
fn authorized_now() -> Authorization {
    Authorization { amount: 3_630, at: time::OffsetDateTime::now_utc().unix_timestamp() }
}
use amazonpay2::core::platform::{
    Members, NewOrder, Opened, Order, OrderId, OrderLine, Orders, ShippingMethod, Subscriptions,
};
use amazonpay2::storage::{
    AdminSession, BackOffice, BulkItem, BulkOrder, ItemOutcome, NewMember, OrderEdit, OrderFilter, Product, Shop,
    Store, SubscriptionRecord,
};

/// A data folder of its own, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(std::env::temp_dir().join(format!("amazonpay2-admin-storage-{}-{n}", std::process::id())))
    }

    fn file(&self) -> PathBuf {
        self.0.join("amazonpay2.sqlite3")
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bulk_order(id: i64, number: &str) -> BulkOrder {
    BulkOrder { order: OrderId(id), number: number.to_owned() }
}

async fn shop() -> (Store, Folder) {
    let folder = Folder::new();
    let db = Store::sqlite(&folder.0).await.unwrap();
    db.seed_catalogue(
        &[Product { id: 1, name: "益子焼 マグカップ".into(), price: 2_750, recurring: false }],
        &[
            ShippingMethod { id: 1, name: "宅配便".into(), fee: 880, amazon_pay_allowed: true },
            ShippingMethod { id: 3, name: "店頭受け取り".into(), fee: 0, amazon_pay_allowed: false },
        ],
    )
    .await
    .unwrap();
    (db, folder)
}

fn mug_order(session: &str) -> NewOrder {
    NewOrder {
        member: None,
        checkout_session_id: Some(session.into()),
        cart: None,
        buyer_name: "Amazon 次郎".into(),
        buyer_email: "jiro@example.jp".into(),
        cycle: None,
        lines: vec![OrderLine { name: "益子焼 マグカップ".into(), unit_price: 2_750, quantity: 1 }],
        shipping_fee: 880,
        total: 3_630,
        recurring: false,
        plan: None,
    }
}

/// An order Amazon authorized (仮売上), as the checkout leaves it.
async fn authorized(db: &Store, new: NewOrder) -> Order {
    let Opened::New(order) = db.open_order(&new).await.unwrap() else { panic!("a new order") };
    let claimed =
        db.apply(&Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap()).await.unwrap();
    let claimed = claimed.unwrap();
    let ids = AmazonIds {
        charge_permission_id: Some(format!("P-{}", order.id.0)),
        charge_id: Some(format!("P-{}-C1", order.id.0)),
    };
    let done =
        settle(&claimed, Outcome::Authorized(authorized_now()), ids, date!(2026 - 12 - 30), Actor::Shopper).unwrap();
    db.apply(&done).await.unwrap().unwrap()
}

async fn moved(db: &Store, order: &Order, to: OrderState) -> Order {
    let transition = Transition::new(order, to, Actor::Owner("admin".into()), format!("to {}", to.name())).unwrap();
    db.apply(&transition).await.unwrap().expect("the move applies")
}

fn all(page: u32, per_page: u32) -> OrderFilter {
    OrderFilter { page, per_page, ..OrderFilter::default() }
}

// ---------------------------------------------------------------------------------------------
// 受注一覧
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_list_shows_placed_orders_newest_first_with_the_buyers_name() {
    let (db, _folder) = shop().await;
    let member = db
        .create_member(
            &NewMember {
                email: "hanako@example.jp".into(),
                family_name: "山田".into(),
                given_name: "花子".into(),
                ..NewMember::default()
            },
            "h",
        )
        .await
        .unwrap()
        .unwrap();
    let guest = authorized(&db, mug_order("cs-guest")).await;
    let of_member = authorized(&db, NewOrder { member: Some(member), ..mug_order("cs-member") }).await;
    // Still on Amazon's pages, and never an order: not listed.
    db.open_order(&mug_order("cs-open")).await.unwrap();
    let page = db.list_orders(&all(0, 50)).await.unwrap();
    assert_eq!(page.total, 2);
    let rows: Vec<(OrderId, &str, &str, u64, OrderState)> =
        page.rows.iter().map(|r| (r.id, r.number.as_str(), r.name.as_str(), r.total, r.state)).collect();
    assert_eq!(
        rows,
        [
            (of_member.id, of_member.number.as_str(), "山田 花子", 3_630, OrderState::Authorized),
            (guest.id, guest.number.as_str(), "Amazon 次郎", 3_630, OrderState::Authorized),
        ]
    );
    assert_eq!(page.rows[0].fulfilment, "new");
    assert!(page.rows[0].authorized_at.is_some(), "the 30-day window starts at the authorization");
    assert!(page.rows[0].created_at > 0);
}

#[tokio::test]
async fn the_list_filters_by_credit_status_and_pages() {
    let (db, _folder) = shop().await;
    let mut captured = Vec::new();
    for n in 0..7 {
        let order = authorized(&db, mug_order(&format!("cs-{n}"))).await;
        if n % 2 == 0 {
            captured.push(moved(&db, &order, OrderState::Captured).await.id);
        }
    }
    let filter = |states: Vec<OrderState>, page, per_page| OrderFilter { states, page, per_page, lapsing_before: None };
    let first = db.list_orders(&filter(vec![OrderState::Captured], 0, 3)).await.unwrap();
    assert_eq!(first.total, 4);
    captured.reverse();
    assert_eq!(first.rows.iter().map(|r| r.id).collect::<Vec<_>>(), captured[..3]);
    let second = db.list_orders(&filter(vec![OrderState::Captured], 1, 3)).await.unwrap();
    assert_eq!(second.rows.iter().map(|r| r.id).collect::<Vec<_>>(), captured[3..]);
    let beyond = db.list_orders(&filter(vec![OrderState::Captured], 9, 3)).await.unwrap();
    assert!(beyond.rows.is_empty());
    assert_eq!(beyond.total, 4);
    let both = db.list_orders(&filter(vec![OrderState::Captured, OrderState::Authorized], 0, 50)).await.unwrap();
    assert_eq!(both.total, 7);
    // Hostile sizes are bounded rather than trusted.
    let huge = db.list_orders(&filter(vec![], u32::MAX, u32::MAX)).await.unwrap();
    assert!(huge.rows.is_empty());
    let zero = db.list_orders(&filter(vec![], 0, 0)).await.unwrap();
    assert_eq!(zero.rows.len(), 1, "at least one row per page");
}

/// Moves an order's authorization `days` into the past, as time would.
fn authorized_days_ago(folder: &Folder, order: OrderId, days: i64) {
    let connection = rusqlite::Connection::open(folder.file()).unwrap();
    connection
        .execute("UPDATE orders SET authorized_at = authorized_at - ?2 * 86400 WHERE id = ?1", [order.0, days])
        .unwrap();
}

#[tokio::test]
async fn authorizations_that_lapse_within_a_window_are_found() {
    let (db, folder) = shop().await;
    let fresh = authorized(&db, mug_order("cs-fresh")).await;
    let old = authorized(&db, mug_order("cs-old")).await;
    let lapsed = authorized(&db, mug_order("cs-lapsed")).await;
    let captured = authorized(&db, mug_order("cs-captured")).await;
    authorized_days_ago(&folder, old.id, 25);
    authorized_days_ago(&folder, lapsed.id, 31);
    authorized_days_ago(&folder, captured.id, 29);
    moved(&db, &captured, OrderState::Captured).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let within_a_week = OrderFilter { lapsing_before: Some(now + 7 * 86_400), per_page: 50, ..OrderFilter::default() };
    let page = db.list_orders(&within_a_week).await.unwrap();
    let mut ids: Vec<OrderId> = page.rows.iter().map(|r| r.id).collect();
    ids.sort_by_key(|id| id.0);
    assert_eq!(ids, [old.id, lapsed.id], "only uncaptured authorizations, lapsed ones included");
    assert_eq!(page.total, 2);
    assert!(!ids.contains(&fresh.id));
}

#[tokio::test]
async fn the_list_query_uses_an_index_and_a_hundred_thousand_orders_list_quickly() {
    let (db, folder) = shop().await;
    authorized(&db, mug_order("cs-first")).await;
    {
        let mut connection = rusqlite::Connection::open(folder.file()).unwrap();
        let tx = connection.transaction().unwrap();
        let mut insert = tx
            .prepare(
                "INSERT INTO orders (order_number, total, shipping_fee, recurring, state, buyer_name,
                     authorized_amount, authorized_at, created_at, updated_at)
                 VALUES (?1, 3630, 880, 0, ?2, 'Amazon 太郎', 3630, ?3, ?3, ?3)",
            )
            .unwrap();
        let states = ["authorized", "captured", "canceled", "refunded", "pending"];
        for n in 0..100_000i64 {
            insert.execute(rusqlite::params![format!("B{n}"), states[(n % 5) as usize], 1_700_000_000 + n]).unwrap();
        }
        drop(insert);
        tx.commit().unwrap();
    }
    let first = db.list_orders(&all(0, 50)).await.unwrap();
    let authorized_page = db
        .list_orders(&OrderFilter {
            states: vec![OrderState::Authorized],
            page: 10,
            per_page: 50,
            lapsing_before: None,
        })
        .await
        .unwrap();
    assert_eq!(first.total, 100_001);
    assert_eq!(first.rows.len(), 50);
    assert_eq!(authorized_page.total, 20_001);
    assert!(authorized_page.rows.iter().all(|r| r.state == OrderState::Authorized));
    // How fast is the bench's to say (tests/bench/admin.rs, release build); here, that the
    // pages come from the indexes, below.
    let connection = rusqlite::Connection::open(folder.file()).unwrap();
    let plan = |sql: &str| -> String {
        let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = statement.query_map([], |row| row.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    let by_state =
        plan("SELECT id FROM orders o WHERE o.shop_id = 1 AND o.state = 'authorized' ORDER BY o.id DESC LIMIT 50");
    assert!(by_state.contains("USING") && !by_state.contains("TEMP B-TREE"), "{by_state}");
    let placed = plan(
        "SELECT id FROM orders o WHERE o.shop_id = 1 AND +o.state IN ('pending', 'authorized', 'capturing', 'captured', 'canceled', \
         'refunded', 'expired', 'card_unsettled', 'unknown') ORDER BY o.id DESC LIMIT 50",
    );
    assert!(!placed.contains("TEMP B-TREE"), "{placed}");
    eprintln!("plans: {by_state} | {placed}");
}

// ---------------------------------------------------------------------------------------------
// 受注編集
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_order_page_has_lines_amounts_buyer_and_history() {
    let (db, _folder) = shop().await;
    let order = authorized(&db, mug_order("cs-detail")).await;
    moved(&db, &order, OrderState::Capturing).await;
    let detail = db.order_detail(order.id).await.unwrap().unwrap();
    assert_eq!(detail.order.state, OrderState::Capturing);
    assert_eq!(detail.lines, mug_order("x").lines);
    assert_eq!((detail.shipping_fee, detail.discount), (880, 0));
    assert_eq!(
        (detail.name.as_str(), detail.email.as_deref()),
        ("Amazon 次郎", Some("jiro@example.jp")),
        "a guest's name and e-mail as Amazon gave them"
    );
    assert_eq!(detail.fulfilment, "new");
    let history: Vec<(Option<OrderState>, OrderState, &str)> =
        detail.events.iter().map(|e| (e.from, e.to, e.actor.as_str())).collect();
    assert_eq!(
        history,
        [
            (None, OrderState::Processing, "shopper"),
            (Some(OrderState::Processing), OrderState::Completing, "shopper"),
            (Some(OrderState::Completing), OrderState::Authorized, "shopper"),
            (Some(OrderState::Authorized), OrderState::Capturing, "owner:admin"),
        ]
    );
    assert!(detail.events.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(db.order_detail(OrderId(999_999)).await.unwrap(), None);
}

fn edit(lines: &[(&str, u64, u64)], shipping_fee: u64, discount: u64) -> OrderEdit {
    OrderEdit {
        lines: lines
            .iter()
            .map(|(name, price, quantity)| OrderLine { name: (*name).into(), unit_price: *price, quantity: *quantity })
            .collect(),
        shipping_fee,
        discount,
        fulfilment: "new".into(),
    }
}

#[tokio::test]
async fn an_edit_recomputes_the_total_and_a_stale_or_held_one_changes_nothing() {
    let (db, _folder) = shop().await;
    let order = authorized(&db, mug_order("cs-edit")).await;
    let lower = edit(&[("益子焼 マグカップ", 2_750, 1), ("刺し子 ふきん", 1_980, 2)], 0, 3_000);
    let edited = db.edit_order(order.id, order.version, &lower).await.unwrap().expect("the edit applies");
    assert_eq!(edited.total, 2_750 + 1_980 * 2 - 3_000);
    assert_eq!(edited.version, order.version + 1);
    assert_eq!(edited.state, OrderState::Authorized, "an edit never moves the payment");
    let detail = db.order_detail(order.id).await.unwrap().unwrap();
    assert_eq!(detail.lines.len(), 2);
    assert_eq!((detail.shipping_fee, detail.discount), (0, 3_000));
    // The page the owner saw is out of date: nothing is written.
    let stale = edit(&[("益子焼 マグカップ", 2_750, 5)], 880, 0);
    assert_eq!(db.edit_order(order.id, order.version, &stale).await.unwrap(), None);
    assert_eq!(db.order_detail(order.id).await.unwrap().unwrap().lines, detail.lines);
    // An operation holds the order at Amazon: no edit meanwhile.
    assert!(db.lock_order(order.id, edited.version, "token", i64::MAX).await.unwrap().is_some());
    assert_eq!(db.edit_order(order.id, edited.version, &stale).await.unwrap(), None);
    db.unlock_order(order.id, "token").await.unwrap();
    let shipped = OrderEdit { fulfilment: "shipped".into(), ..stale };
    let after = db.edit_order(order.id, edited.version, &shipped).await.unwrap().unwrap();
    assert_eq!(after.total, 2_750 * 5 + 880);
    assert_eq!(db.order_detail(order.id).await.unwrap().unwrap().fulfilment, "shipped");
    assert_eq!(db.edit_order(OrderId(999_999), 0, &shipped).await.unwrap(), None);
}

#[tokio::test]
async fn a_discount_above_the_total_makes_it_zero_and_huge_amounts_do_not_overflow() {
    let (db, _folder) = shop().await;
    let order = authorized(&db, mug_order("cs-huge")).await;
    let free = db.edit_order(order.id, order.version, &edit(&[("x", 100, 1)], 0, 500)).await.unwrap().unwrap();
    assert_eq!(free.total, 0);
    let huge = edit(&[("x", u64::MAX / 2, 3), ("y", u64::MAX, u64::MAX)], u64::MAX, 0);
    let stored = db.edit_order(order.id, free.version, &huge).await.unwrap().expect("stored, saturated");
    assert!(stored.total >= 10_000_000, "never a wrapped-around small total");
}

#[tokio::test]
async fn the_amazon_pay_tick_of_a_shipping_method_can_be_set() {
    let (db, _folder) = shop().await;
    assert!(db.set_shipping_amazon_pay(3, true).await.unwrap());
    assert!(db.set_shipping_amazon_pay(1, false).await.unwrap());
    assert!(!db.set_shipping_amazon_pay(99, true).await.unwrap());
    let ticks: Vec<(i64, bool)> =
        db.shipping_methods().await.unwrap().into_iter().map(|m| (m.id, m.amazon_pay_allowed)).collect();
    assert_eq!(ticks, [(1, false), (3, true)]);
}

// ---------------------------------------------------------------------------------------------
// Owner accounts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn owner_accounts_sessions_and_a_new_password_ending_them() {
    let (db, _folder) = shop().await;
    assert!(db.put_admin("admin", "hash-1").await.unwrap(), "new");
    assert_eq!(db.admin_password_hash("admin").await.unwrap().as_deref(), Some("hash-1"));
    assert_eq!(db.admin_password_hash("nobody").await.unwrap(), None);
    db.insert_admin_session("sid-1", "admin").await.unwrap();
    let AdminSession { name, last_seen: seen } = db.admin_session("sid-1").await.unwrap().unwrap();
    assert_eq!(name, "admin");
    db.touch_admin_session("sid-1", seen + 100).await.unwrap();
    assert_eq!(db.admin_session("sid-1").await.unwrap().unwrap().last_seen, seen + 100);
    assert!(!db.put_admin("admin", "hash-2").await.unwrap(), "not new");
    assert_eq!(db.admin_password_hash("admin").await.unwrap().as_deref(), Some("hash-2"));
    assert_eq!(db.admin_session("sid-1").await.unwrap(), None, "a new password ends the sessions");
    db.insert_admin_session("sid-2", "admin").await.unwrap();
    db.delete_admin_session("sid-2").await.unwrap();
    assert_eq!(db.admin_session("sid-2").await.unwrap(), None);
    assert!(db.insert_admin_session("sid-3", "nobody").await.is_err(), "a session belongs to an account");
    // A session forgotten for days is cleared away by the next login.
    db.insert_admin_session("sid-4", "admin").await.unwrap();
    db.touch_admin_session("sid-4", seen - 3 * 86_400).await.unwrap();
    db.insert_admin_session("sid-5", "admin").await.unwrap();
    assert_eq!(db.admin_session("sid-4").await.unwrap(), None);
    assert!(db.admin_session("sid-5").await.unwrap().is_some());
    // A shopper's session is no owner's.
    assert_eq!(db.admin_session("").await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Bulk jobs and subscriptions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_bulk_job_keeps_its_orders_in_order_with_their_outcomes() {
    let (db, _folder) = shop().await;
    let orders = [bulk_order(3, "10003"), bulk_order(1, "10001"), bulk_order(3, "10003")];
    let job = db.start_bulk("admin", &orders, "instance-a").await.unwrap();
    let waiting = db.bulk(job).await.unwrap();
    assert_eq!(
        waiting.iter().map(|i| (i.order, i.outcome.name())).collect::<Vec<_>>(),
        [(OrderId(3), "waiting"), (OrderId(1), "waiting")]
    );
    let item = |order, outcome: ItemOutcome, message: &str| BulkItem {
        order,
        number: String::new(),
        outcome,
        message: message.into(),
    };
    assert!(
        db.record_bulk(
            job,
            "instance-a",
            &item(OrderId(1), ItemOutcome::Refused, "Amazon Pay が操作を受け付けませんでした")
        )
        .await
        .unwrap()
    );
    assert!(
        db.record_bulk(job, "instance-a", &item(OrderId(3), ItemOutcome::Skipped, "既に実売上です")).await.unwrap()
    );
    let done = db.bulk(job).await.unwrap();
    assert_eq!(done[0].number, "10003", "the number is the one shown at the start");
    assert_eq!((done[0].outcome, done[1].outcome), (ItemOutcome::Skipped, ItemOutcome::Refused));
    let empty = db.start_bulk("admin", &[], "instance-a").await.unwrap();
    assert_ne!(empty, job);
    assert!(db.bulk(empty).await.unwrap().is_empty());
    assert!(db.bulk(-1).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_subscription_is_found_by_its_permission_and_ended_once() {
    let (db, _folder) = shop().await;
    let recurring = NewOrder { recurring: true, total: 8_800, ..mug_order("cs-recurring") };
    let order = authorized(&db, recurring).await;
    let permission = order.charge_permission_id.clone().unwrap();
    let found = db.subscription_by_permission(&permission).await.unwrap().expect("the checkout started it");
    assert_eq!(
        found,
        SubscriptionRecord {
            id: found.id,
            member: None,
            amount: 8_800,
            next_cycle: "2026-12-30".into(),
            charge_permission_id: permission.clone(),
            active: true,
        }
    );
    assert!(db.end_subscription(&permission).await.unwrap());
    assert!(!db.end_subscription(&permission).await.unwrap(), "once");
    assert!(!db.subscription_by_permission(&permission).await.unwrap().unwrap().active);
    assert!(db.due_subscriptions(date!(2027 - 12 - 31)).await.unwrap().is_empty(), "no more cycles");
    assert_eq!(db.subscription_by_permission("nothing").await.unwrap(), None);
    assert!(db.member(amazonpay2::core::platform::MemberId(1)).await.unwrap().is_none());
}
