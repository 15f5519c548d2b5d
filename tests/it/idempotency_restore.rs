//! The shop's idempotency keys at Amazon, which keeps every key for good and answers a repeated
//! key with its first response: the same operation done again on a database restored from a
//! backup (a copy taken before it, then put back) gets the key it had, and Amazon's answer is
//! the object made the first time, not a second one. The shop, its database and Amazon (the
//! simulator) are real; the backup is SQLite's own consistent copy (`VACUUM INTO`), and the
//! restored shop is a new core on the copy, talking to the same Amazon.

use std::sync::Arc;

use serde_json::json;
use time::Date;

use crate::common::checkout::*;
use crate::common::sockets::{DataDir, RETRY};
use amazonpay2::core::Core;
use amazonpay2::core::idempotency::{Keyed, is_valid};
use amazonpay2::core::operations::{Operation, Refusal};
use amazonpay2::core::orders::OrderState;
use amazonpay2::core::platform::{NewOrder, Order, OrderLine};
use amazonpay2::server;
use amazonpay2::storage::{Database, Store};

const SEASONAL_MONTHLY: u64 = 8800 + 880;

/// A consistent copy of the shop's database, as a backup is taken while the shop runs.
fn backup(world: &World) -> DataDir {
    let copy = DataDir::new("backup");
    std::fs::create_dir_all(&copy.0).unwrap();
    let live = rusqlite::Connection::open(world.config.data_dir.join("amazonpay2.sqlite3")).unwrap();
    let target = copy.0.join("amazonpay2.sqlite3");
    live.execute("VACUUM INTO ?1", [target.to_str().unwrap()]).unwrap();
    copy
}

/// The shop restored from `copy`: the backup put back (copied, so that it can be restored
/// again), a core on it, the same Amazon. An empty `copy` is a new installation.
async fn restored(world: &World, copy: &DataDir) -> (Core, Database, DataDir) {
    let put_back = DataDir::new("restored");
    std::fs::create_dir_all(&put_back.0).unwrap();
    let file = copy.0.join("amazonpay2.sqlite3");
    if file.exists() {
        std::fs::copy(&file, put_back.0.join("amazonpay2.sqlite3")).unwrap();
    }
    let db: Database = Arc::new(Store::sqlite(&put_back.0).await.expect("the backup opens"));
    let key = Arc::new(server::load_key(&world.config).unwrap());
    let core =
        Core::new(world.config.core_settings(), key, &world.config.api_base, db.clone()).unwrap().with_retry(RETRY);
    (core, db, put_back)
}

async fn bought(world: &World) -> Order {
    let (_, session) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    world.db.order_by_checkout_session(&session).await.unwrap().expect("the order")
}

async fn operate(core: &Core, db: &Database, order: &Order, operation: Operation) -> Result<Order, Refusal> {
    let current = db.order(order.id).await.unwrap().unwrap();
    core.operate(order.id, current.version, operation, "owner", false).await.expect("no internal error")
}

#[tokio::test]
async fn a_capture_done_again_after_a_restore_is_the_capture_made_before_it() {
    let world = World::start().await;
    let order = bought(&world).await;
    let copy = backup(&world);
    let captured = operate(&world.state.core, &world.db, &order, Operation::Capture(None)).await.unwrap();
    assert_eq!(captured.state, OrderState::Captured);

    // Restored: the shop's record says 仮売上 again; the owner captures again.
    let (core, db, _restored) = restored(&world, &copy).await;
    assert_eq!(db.order(order.id).await.unwrap().unwrap().state, OrderState::Authorized);
    let again = operate(&core, &db, &order, Operation::Capture(None)).await.expect("Amazon's first answer");
    assert_eq!((again.state, again.captured), (OrderState::Captured, MUG_ORDER));
    let charge = world.charge(order.charge_id.as_deref().unwrap()).await;
    assert_eq!(
        (charge["statusDetails"]["state"].as_str(), &charge["captureAmount"]),
        (Some("Captured"), &yen(MUG_ORDER))
    );
}

/// A bought mug, captured, a backup taken, then ¥1,000 refunded: the backup, and the refund's ID.
async fn refunded_after_a_backup(world: &World) -> (Order, DataDir, String) {
    let order = bought(world).await;
    operate(&world.state.core, &world.db, &order, Operation::Capture(None)).await.unwrap();
    let copy = backup(world);
    operate(&world.state.core, &world.db, &order, Operation::Refund(1_000)).await.unwrap();
    let first = world.db.refunds(order.id).await.unwrap();
    assert_eq!(first.len(), 1);
    (order, copy, first[0].refund_id.clone())
}

#[tokio::test]
async fn a_refund_done_again_after_a_restore_is_the_refund_made_before_it_never_a_second() {
    let world = World::start().await;
    let (order, copy, first) = refunded_after_a_backup(&world).await;

    // Restored: the shop has no refund; the owner refunds the same amount again.
    let (core, db, _restored) = restored(&world, &copy).await;
    assert_eq!(db.refunds(order.id).await.unwrap(), Vec::new());
    let again = operate(&core, &db, &order, Operation::Refund(1_000)).await.expect("Amazon's first answer");
    assert_eq!((again.state, again.refunded), (OrderState::Refunded, 1_000));
    assert_eq!(db.refunds(order.id).await.unwrap()[0].refund_id, first, "the refund made before the restore, found");
    world.amazon_control("settle", json!({})).await;
    let charge = world.charge(order.charge_id.as_deref().unwrap()).await;
    assert_eq!(charge["refundedAmount"], yen(1_000), "one refund at Amazon");
}

#[tokio::test]
async fn another_amount_under_a_refund_key_amazon_keeps_from_before_a_restore_is_refused_by_amazon() {
    let world = World::start().await;
    let (order, copy, _) = refunded_after_a_backup(&world).await;
    // Restored while Amazon still processes the refund (so its charge shows nothing refunded
    // yet); the owner types another amount under the same refund: the key Amazon keeps says no.
    let (core, db, _restored) = restored(&world, &copy).await;
    let refused = operate(&core, &db, &order, Operation::Refund(700)).await.unwrap_err();
    assert!(matches!(refused, Refusal::HeldAtAmazon(_)), "DuplicateIdempotencyKey: {refused:?}");
    assert_eq!(db.order(order.id).await.unwrap().unwrap().refund_requests, 0, "the key is not given up");
    world.amazon_control("settle", json!({})).await;
    let charge = world.charge(order.charge_id.as_deref().unwrap()).await;
    assert_eq!(charge["refundedAmount"], yen(1_000), "one refund at Amazon");
}

#[tokio::test]
async fn a_refund_after_a_restore_is_refused_once_amazon_shows_more_refunded_than_the_shop_recorded() {
    let world = World::start().await;
    let (order, copy, _) = refunded_after_a_backup(&world).await;
    // Amazon has processed the refund made after the backup: the restored shop sees it before
    // asking for another, whatever the key.
    world.amazon_control("settle", json!({})).await;
    let (core, db, _restored) = restored(&world, &copy).await;
    let refused = operate(&core, &db, &order, Operation::Refund(700)).await.unwrap_err();
    assert_eq!(refused, Refusal::RefundedElsewhere { at_amazon: 1_000, recorded: 0 });
    assert!(refused.message_ja().contains("二重の返金を防ぐため"), "{}", refused.message_ja());
    let charge = world.charge(order.charge_id.as_deref().unwrap()).await;
    assert_eq!(charge["refundedAmount"], yen(1_000), "one refund at Amazon");
}

/// A member with the monthly 季節の器セット by 宅配便; the date of its next cycle.
async fn subscriber(world: &World) -> Date {
    let (browser, _) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let subscription = browser.subscriptions().await.remove(0);
    let next = subscription["nextCycle"].as_str().unwrap();
    Date::parse(next, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
}

#[tokio::test]
async fn a_cycle_charged_again_after_a_restore_is_the_charge_made_before_it() {
    let world = World::start().await;
    let date = subscriber(&world).await;
    let copy = backup(&world);
    let cycles = world.run_subscriptions(date).await;
    assert_eq!(cycles[0].state, OrderState::Authorized);
    let first = numbered(&world.db, &cycles[0].order_number).await.charge_id;
    assert!(first.is_some());

    let (core, db, _restored) = restored(&world, &copy).await;
    let again = core.run_subscriptions(date).await.unwrap();
    assert_eq!(again[0].state, OrderState::Authorized, "{again:?}");
    let order = numbered(&db, &again[0].order_number).await;
    assert_eq!(order.charge_id, first, "the charge made before the restore");
    let permission = world.charge_permission(order.charge_permission_id.as_deref().unwrap()).await;
    assert_eq!(permission["limits"]["amountBalance"], yen(100_000 - 2 * SEASONAL_MONTHLY), "one charge for the cycle");
}

#[tokio::test]
async fn a_cycle_whose_order_number_changed_after_a_restore_is_left_to_the_owner_not_charged_twice_and_the_next_is_charged()
 {
    let world = World::start().await;
    let date = subscriber(&world).await;
    let copy = backup(&world);
    assert_eq!(world.run_subscriptions(date).await[0].state, OrderState::Authorized);

    // Restored, and another order taken before the daily job runs: the cycle's order has
    // another number, so the same cycle's request differs from the one Amazon keeps.
    let (core, db, _restored) = restored(&world, &copy).await;
    let other = NewOrder {
        member: None,
        checkout_session_id: Some("another-checkout".into()),
        cart: None,
        buyer_name: String::new(),
        buyer_email: String::new(),
        cycle: None,
        lines: vec![OrderLine { name: "ふきん".into(), unit_price: 1_980, quantity: 1 }],
        shipping_fee: 0,
        total: 1_980,
        recurring: false,
        plan: None,
    };
    db.open_order(&other).await.unwrap();
    let again = core.run_subscriptions(date).await.unwrap();
    assert_eq!(again[0].state, OrderState::Unknown, "確認中, for the owner: {again:?}");
    let order = numbered(&db, &again[0].order_number).await;
    assert!(order.note.contains("二重請求を防ぐため"), "{}", order.note);
    let permission = world.charge_permission(order.charge_permission_id.as_deref().unwrap_or_default()).await;
    assert_eq!(permission["limits"]["amountBalance"], yen(100_000 - 2 * SEASONAL_MONTHLY), "charged once");
    assert!(core.run_subscriptions(date).await.unwrap().is_empty(), "and never again");
    // The subscription goes on: next month is charged as every month is.
    let next = core.run_subscriptions(a_month_after(date)).await.unwrap();
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!((next[0].date, next[0].state), (a_month_after(date), OrderState::Authorized));
}

#[tokio::test]
async fn two_installations_on_one_merchant_account_never_share_a_key() {
    let world = World::start().await;
    let other = DataDir::new("second-installation");
    let (second, _, _installed) = restored(&world, &other).await;
    let charge = "S03-1234567-1234567-C123456";
    let operations = [
        Keyed::Completion { checkout_session_id: "0f3c2d9e-5b7a-4c1e-9d2f-8a6b4c3e2d1f" },
        Keyed::Capture { charge_id: charge, amount: MUG_ORDER },
        Keyed::Refund { charge_id: charge, ordinal: 1 },
        Keyed::Reauthorization { replaced: charge, amount: MUG_ORDER, version: 3, attempt: 1 },
        Keyed::Cycle { charge_permission_id: "S03-1234567-1234567", date: today_in_japan(), attempt: 1 },
    ];
    for operation in operations {
        let (one, two) = (
            world.state.core.idempotency_key(&operation).await.unwrap(),
            second.idempotency_key(&operation).await.unwrap(),
        );
        assert_ne!(one, two, "{operation:?}");
        for key in [&one, &two] {
            assert!(is_valid(key.as_str()) && key.as_str().len() <= 32, "{key}");
        }
        assert_eq!(world.state.core.idempotency_key(&operation).await.unwrap(), one, "stable");
    }
}

/// The order numbered `number` in `db` (from the order list, which shows every placed order).
async fn numbered(db: &Database, number: &str) -> Order {
    let filter = amazonpay2::storage::OrderFilter { per_page: 500, ..Default::default() };
    let row = db.list_orders(&filter).await.unwrap().rows.into_iter().find(|r| r.number == number);
    let row = row.unwrap_or_else(|| panic!("order {number} is not listed"));
    db.order(row.id).await.unwrap().unwrap()
}
