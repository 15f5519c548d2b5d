//! The shop owner's operations after the order (`Core::operate`, `Core::capture_many`) against
//! the Amazon Pay simulator: 実売上, 減額, 返金 in part and in full, キャンセル, double submits and two
//! owners at once, 「エラーを無視して変更する」 after a change in Seller Central, lapsed
//! authorizations re-authorized, late captures Amazon completes later, and bulk capture. After
//! each step, what Amazon holds is read through its API and must agree with the shop.

use std::sync::Mutex;

use serde_json::{Value, json};

use reqwest::Method;

use crate::common::checkout::*;
use crate::common::hold::{CaptureGate, Hold};
use amazonpay2::amazon::types::Money;
use amazonpay2::core::idempotency::Keyed;
use amazonpay2::core::operations::{BulkOutcome, MAX_CHARGE_YEN, Operation, Refusal, authorization_deadline};
use amazonpay2::core::orders::{Actor, Authorization, OrderState, Transition};
use amazonpay2::core::platform::{Order, OrderLine, Refund, RefundState};
use amazonpay2::storage::{BulkOrder, ItemOutcome, OrderEdit, OrderFilter};

const DAY: u64 = 24 * HOUR;

/// A member's purchase of a mug by 宅配便 with Visa, authorized (仮売上).
async fn bought(world: &World) -> Order {
    let (_, session) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    let order = world.db.order_by_checkout_session(&session).await.unwrap().expect("the order");
    assert_eq!((order.state, order.total), (OrderState::Authorized, MUG_ORDER));
    order
}

async fn current(world: &World, order: &Order) -> Order {
    world.db.order(order.id).await.unwrap().unwrap()
}

async fn operate(world: &World, order: &Order, operation: Operation, force: bool) -> Result<Order, Refusal> {
    let current = current(world, order).await;
    world.state.core.operate(order.id, current.version, operation, "owner", force).await.expect("no internal error")
}

/// What Amazon holds of the order's charge.
async fn charge_of(world: &World, order: &Order) -> Value {
    let order = current(world, order).await;
    world.charge(order.charge_id.as_deref().expect("a charge")).await
}

async fn permission_of(world: &World, order: &Order) -> Value {
    world.charge_permission(order.charge_permission_id.as_deref().expect("a permission")).await
}

async fn seller_central(world: &World, body: Value) {
    world.amazon_control("seller-central", body).await;
}

/// Edits the order's lines as the owner does on 受注編集.
async fn edit_total(world: &World, order: &Order, unit_price: u64, shipping_fee: u64, discount: u64) -> Order {
    let current = current(world, order).await;
    let edit = OrderEdit {
        lines: vec![OrderLine { name: "益子焼 マグカップ".into(), unit_price, quantity: 1 }],
        shipping_fee,
        discount,
        fulfilment: "new".into(),
    };
    world.db.edit_order(order.id, current.version, &edit).await.unwrap().expect("the edit applies")
}

/// The order with 注文番号 `number`, from the order list.
async fn numbered(world: &World, number: &str) -> Order {
    let filter = OrderFilter { per_page: 500, ..OrderFilter::default() };
    let row = world.db.list_orders(&filter).await.unwrap().rows.into_iter().find(|r| r.number == number).unwrap();
    world.db.order(row.id).await.unwrap().unwrap()
}

async fn history(world: &World, order: &Order) -> Vec<(String, Option<OrderState>, OrderState, String)> {
    let detail = world.db.order_detail(order.id).await.unwrap().unwrap();
    detail.events.into_iter().map(|e| (e.actor, e.from, e.to, e.detail)).collect()
}

// ---------------------------------------------------------------------------------------------
// 実売上 and 減額
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_capture_takes_the_order_total_and_amazon_agrees() {
    let world = World::start().await;
    let order = bought(&world).await;
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    assert_eq!((captured.state, captured.captured), (OrderState::Captured, MUG_ORDER));
    let charge = charge_of(&world, &order).await;
    assert_eq!(charge["statusDetails"]["state"], "Captured");
    assert_eq!(charge["captureAmount"], yen(MUG_ORDER));
    let last = history(&world, &order).await.pop().unwrap();
    assert_eq!((last.0.as_str(), last.1, last.2), ("owner:owner", Some(OrderState::Capturing), OrderState::Captured));
    assert!(last.3.contains("Captured") && last.3.contains(order.charge_id.as_deref().unwrap()), "{}", last.3);
    // Nothing more to capture: refused, and Amazon still holds one capture.
    assert_eq!(
        operate(&world, &order, Operation::Capture(None), false).await,
        Err(Refusal::WrongState(OrderState::Captured))
    );
}

#[tokio::test]
async fn a_lower_total_after_an_edit_is_captured_as_the_lower_amount() {
    let world = World::start().await;
    let order = bought(&world).await;
    let edited = edit_total(&world, &order, 2_750, 880, 500).await;
    assert_eq!(edited.total, MUG_ORDER - 500);
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    assert_eq!(captured.captured, MUG_ORDER - 500);
    assert_eq!(charge_of(&world, &order).await["captureAmount"], yen(MUG_ORDER - 500));
    assert_eq!(charge_of(&world, &order).await["chargeAmount"], yen(MUG_ORDER), "authorized as bought");
}

#[tokio::test]
async fn a_higher_total_is_refused_in_the_manuals_words_and_changes_nothing() {
    let world = World::start().await;
    let order = bought(&world).await;
    let edited = edit_total(&world, &order, 2_750, 1_100, 0).await;
    for amount in [None, Some(1_000)] {
        let refusal = operate(&world, &order, Operation::Capture(amount), false).await.unwrap_err();
        assert_eq!(refusal, Refusal::AboveAuthorized { total: edited.total, authorized: MUG_ORDER });
        assert!(refusal.message_ja().contains("AmazonPay は利用できません"), "{}", refusal.message_ja());
        assert!(refusal.message_ja().contains("他の支払方法に変更するなどご対応ください"));
        assert!(!refusal.can_force());
    }
    let after = current(&world, &order).await;
    assert_eq!((after.state, after.version), (OrderState::Authorized, edited.version), "nothing written");
    assert_eq!(charge_of(&world, &order).await["statusDetails"]["state"], "Authorized");
}

#[tokio::test]
async fn amounts_outside_whole_yen_within_amazons_limit_are_refused() {
    let world = World::start().await;
    let order = bought(&world).await;
    for amount in [0, MAX_CHARGE_YEN + 1] {
        assert_eq!(operate(&world, &order, Operation::Capture(Some(amount)), false).await, Err(Refusal::InvalidAmount));
    }
    assert_eq!(
        operate(&world, &order, Operation::Capture(Some(MUG_ORDER + 1)), false).await,
        Err(Refusal::AboveAuthorized { total: MUG_ORDER + 1, authorized: MUG_ORDER })
    );
    assert_eq!(
        operate(&world, &order, Operation::Refund(100), false).await,
        Err(Refusal::WrongState(OrderState::Authorized)),
        "nothing captured, nothing to refund"
    );
    assert_eq!(current(&world, &order).await.version, order.version);
}

// ---------------------------------------------------------------------------------------------
// 返金
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn refunds_in_part_then_in_full_never_exceed_the_capture_and_show_in_progress_until_amazon_confirms() {
    let world = World::start().await;
    let order = bought(&world).await;
    operate(&world, &order, Operation::Capture(Some(3_000)), false).await.unwrap();
    let part = operate(&world, &order, Operation::Refund(1_000), false).await.unwrap();
    assert_eq!((part.state, part.refunded), (OrderState::Refunded, 1_000));
    let refunds = world.db.refunds(order.id).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!((refunds[0].amount, refunds[0].state), (1_000, RefundState::Initiated), "返金処理中");
    let at_amazon = world.amazon_get(&format!("refunds/{}", refunds[0].refund_id)).await;
    assert_eq!(at_amazon["statusDetails"]["state"], "RefundInitiated");
    assert_eq!(at_amazon["refundAmount"], yen(1_000));
    // More than what is left of the capture: refused before Amazon is asked (Amazon itself would
    // take up to 15 % more).
    assert_eq!(
        operate(&world, &order, Operation::Refund(2_001), false).await,
        Err(Refusal::RefundTooLarge { left: 2_000 })
    );
    world.amazon_control("settle", json!({})).await;
    assert!(world.state.core.sync_order(&current(&world, &order).await, Actor::Reconciler).await.unwrap());
    assert_eq!(world.db.refunds(order.id).await.unwrap()[0].state, RefundState::Refunded);
    let full = operate(&world, &order, Operation::Refund(2_000), false).await.unwrap();
    assert_eq!((full.refunded, full.captured), (3_000, 3_000));
    assert_eq!(
        operate(&world, &order, Operation::Refund(1), false).await,
        Err(Refusal::RefundTooLarge { left: 0 }),
        "everything captured was refunded"
    );
    let charge = charge_of(&world, &order).await;
    assert_eq!(charge["captureAmount"], yen(3_000));
    let mut refunded = 0;
    for refund in world.db.refunds(order.id).await.unwrap() {
        let at_amazon = world.amazon_get(&format!("refunds/{}", refund.refund_id)).await;
        refunded += at_amazon["refundAmount"]["amount"].as_str().unwrap().parse::<u64>().unwrap();
    }
    assert_eq!(refunded, 3_000, "Amazon holds the same refunds");
}

/// What Amazon holds of each of the order's refunds: (ID, yen).
async fn refunds_at_amazon(world: &World, order: &Order) -> Vec<(String, u64)> {
    let mut held = Vec::new();
    for refund in world.db.refunds(order.id).await.unwrap() {
        let at_amazon = world.amazon_get(&format!("refunds/{}", refund.refund_id)).await;
        held.push((refund.refund_id, at_amazon["refundAmount"]["amount"].as_str().unwrap().parse().unwrap()));
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_amazon_made_is_recorded_though_a_notification_moved_the_order_while_amazon_answered() {
    let hold = Hold::default();
    let world = World::start_holding(&hold).await;
    let order = bought(&world).await;
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    let mut held = hold.next(Method::POST, "/v2/refunds");
    let core = world.state.core.clone();
    let asked = tokio::spawn(async move {
        core.operate(order.id, captured.version, Operation::Refund(1_000), "owner", false).await.unwrap()
    });
    let answer = held.answered().await;
    assert_eq!(answer["refundAmount"], yen(1_000), "Amazon made the owner's refund");
    // Before the shop reads Amazon's answer, a refund made in Seller Central is notified and
    // moves the order (実売上 → 返金).
    let elsewhere = world
        .amazon_control_answer(
            "seller-central",
            json!({ "action": "refund", "chargeId": order.charge_id, "amount": 500 }),
        )
        .await;
    let elsewhere = elsewhere["refundId"].as_str().expect("Seller Central's refund").to_owned();
    assert!(world.state.core.sync_refund(&elsewhere, Actor::Notification).await.unwrap());
    assert_eq!(current(&world, &order).await.state, OrderState::Refunded, "moved while Amazon answered");
    held.release();
    let recorded = asked.await.unwrap().expect("the refund Amazon made is the shop's too");
    assert_eq!((recorded.state, recorded.refunded), (OrderState::Refunded, 1_500));
    let mut at_amazon = refunds_at_amazon(&world, &order).await;
    at_amazon.sort();
    let mut expected = vec![(answer["refundId"].as_str().unwrap().to_owned(), 1_000), (elsewhere, 500)];
    expected.sort();
    assert_eq!(at_amazon, expected, "both refunds recorded, with Amazon's amounts");
    // What is left is what Amazon would still take back: no second refund of the same money.
    assert_eq!(
        operate(&world, &order, Operation::Refund(MUG_ORDER), false).await,
        Err(Refusal::RefundTooLarge { left: MUG_ORDER - 1_500 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_amazon_made_is_recorded_though_an_earlier_refund_was_declined_while_amazon_answered() {
    let hold = Hold::default();
    let world = World::start_holding(&hold).await;
    let order = bought(&world).await;
    operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    let first = operate(&world, &order, Operation::Refund(1_000), false).await.unwrap();
    let declined = world.db.refunds(order.id).await.unwrap()[0].refund_id.clone();
    let mut held = hold.next(Method::POST, "/v2/refunds");
    let core = world.state.core.clone();
    let asked = tokio::spawn(async move {
        core.operate(order.id, first.version, Operation::Refund(500), "owner", false).await.unwrap()
    });
    let answer = held.answered().await;
    // Meanwhile Amazon declines the first refund, and its notification moves the order back
    // (返金 → 実売上: nothing is given back any more).
    world.amazon_control("refunds", json!({ "refundId": declined, "outcome": "Declined" })).await;
    assert!(world.state.core.sync_refund(&declined, Actor::Notification).await.unwrap());
    assert_eq!(current(&world, &order).await.state, OrderState::Captured, "moved while Amazon answered");
    held.release();
    let recorded = asked.await.unwrap().expect("the refund Amazon made is the shop's too");
    assert_eq!((recorded.state, recorded.refunded), (OrderState::Refunded, 500));
    let refunds = world.db.refunds(order.id).await.unwrap();
    let state_of = |id: &str| refunds.iter().find(|r| r.refund_id == id).map(|r| (r.amount, r.state));
    assert_eq!(refunds.len(), 2);
    assert_eq!(state_of(&declined), Some((1_000, RefundState::Declined)));
    assert_eq!(state_of(answer["refundId"].as_str().unwrap()), Some((500, RefundState::Initiated)));
}

#[tokio::test]
async fn a_refund_settles_at_the_amount_amazon_holds() {
    let world = World::start().await;
    let order = bought(&world).await;
    operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    operate(&world, &order, Operation::Refund(1_000), false).await.unwrap();
    let refund = world.db.refunds(order.id).await.unwrap().remove(0);
    assert_eq!(refunds_at_amazon(&world, &order).await, [(refund.refund_id.clone(), refund.amount)]);
    // A row whose amount is not Amazon's (written from the amount typed, as the shop did before):
    // when Amazon settles the refund, its amount is the one kept.
    let file = world._data.0.join("amazonpay2.sqlite3");
    let database = rusqlite::Connection::open(file).unwrap();
    database.execute("UPDATE refunds SET amount = 1200 WHERE refund_id = ?1", [&refund.refund_id]).unwrap();
    database.execute("UPDATE orders SET refunded_amount = 1200 WHERE id = ?1", [order.id.0]).unwrap();
    world.amazon_control("settle", json!({})).await;
    assert!(world.state.core.sync_order(&current(&world, &order).await, Actor::Reconciler).await.unwrap());
    let settled = world.db.refunds(order.id).await.unwrap().remove(0);
    assert_eq!((settled.amount, settled.state), (1_000, RefundState::Refunded));
    assert_eq!(current(&world, &order).await.refunded, 1_000);
}

/// A bought mug, captured, with two refunds recorded (¥1,000 and ¥500) that Amazon has since
/// declined: the shop still counts ¥1,500 given back, in progress. Their refunds, in the order
/// the shop follows them.
async fn two_refunds_amazon_declined(world: &World) -> (Order, Refund, Refund) {
    let order = bought(world).await;
    operate(world, &order, Operation::Capture(None), false).await.unwrap();
    operate(world, &order, Operation::Refund(1_000), false).await.unwrap();
    operate(world, &order, Operation::Refund(500), false).await.unwrap();
    let mut refunds = world.db.refunds(order.id).await.unwrap();
    let (first, second) = (refunds.remove(0), refunds.remove(0));
    for refund in [&first, &second] {
        world.amazon_control("refunds", json!({ "refundId": refund.refund_id, "outcome": "Declined" })).await;
    }
    let order = current(world, &order).await;
    assert_eq!((order.state, order.refunded), (OrderState::Refunded, 1_500));
    (order, first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_settlements_of_declined_refunds_at_once_leave_the_order_captured_with_nothing_refunded_in_either_order() {
    let hold = Hold::default();
    let world = World::start_holding(&hold).await;
    for reconciler_first in [true, false] {
        let (order, first, second) = two_refunds_amazon_declined(&world).await;
        // The reconciler reads the first refund at Amazon; its answer is held.
        let mut reconciler_read = hold.next(Method::GET, &format!("/refunds/{}", first.refund_id));
        let core = world.state.core.clone();
        let stale = order.clone();
        let reconciler = tokio::spawn(async move { core.sync_order(&stale, Actor::Reconciler).await });
        reconciler_read.answered().await;
        // Meanwhile the notification of the second refund settles the first on its way, then
        // reads the second; that answer is held too. Both have read before either writes it all.
        let mut notification_read = hold.next(Method::GET, &format!("/refunds/{}", second.refund_id));
        let core = world.state.core.clone();
        let id = second.refund_id.clone();
        let notification = tokio::spawn(async move { core.sync_refund(&id, Actor::Notification).await });
        notification_read.answered().await;
        let between = current(&world, &order).await;
        assert_eq!(between.refunded, second.amount, "the first refund settled, the second not yet");
        // 返金 exactly while a refund gives money back, after each write.
        let consistent = |order: Order| {
            assert_eq!(
                order.state == OrderState::Refunded,
                order.refunded > 0,
                "{:?} with {} refunded",
                order.state,
                order.refunded
            );
        };
        if reconciler_first {
            reconciler_read.release();
            reconciler.await.unwrap().expect("the reconciler settles");
            consistent(current(&world, &order).await);
            notification_read.release();
            notification.await.unwrap().expect("the notification settles");
        } else {
            notification_read.release();
            notification.await.unwrap().expect("the notification settles");
            consistent(current(&world, &order).await);
            reconciler_read.release();
            reconciler.await.unwrap().expect("the reconciler settles");
        }
        let settled = current(&world, &order).await;
        assert_eq!(
            (settled.state, settled.refunded),
            (OrderState::Captured, 0),
            "nothing was given back: 実売上 (reconciler first: {reconciler_first})"
        );
        let states: Vec<RefundState> = world.db.refunds(order.id).await.unwrap().into_iter().map(|r| r.state).collect();
        assert_eq!(states, [RefundState::Declined, RefundState::Declined]);
    }
}

#[tokio::test]
async fn a_refund_amazon_refused_moves_the_next_refund_to_a_key_of_its_own() {
    let world = World::start().await;
    let order = bought(&world).await;
    operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    // ¥3,000 refunded in Seller Central, still in progress (its notification not in yet): Amazon
    // takes at most the capture plus 15 % back in all, so it refuses ¥2,000 more.
    seller_central(&world, json!({ "action": "refund", "chargeId": order.charge_id, "amount": 3_000 })).await;
    let refused = operate(&world, &order, Operation::Refund(2_000), false).await.unwrap_err();
    assert!(
        matches!(&refused, Refusal::AmazonRefused { code, .. } if code == "TransactionAmountExceeded"),
        "{refused:?}"
    );
    assert_eq!(current(&world, &order).await.refunded, 0, "nothing was made");
    // ¥500 fits: Amazon makes it, under a key of its own (the refused one answers with its
    // refusal, or DuplicateIdempotencyKey for another amount, for good).
    let refunded = operate(&world, &order, Operation::Refund(500), false).await.expect("the next refund is made");
    assert_eq!((refunded.state, refunded.refunded), (OrderState::Refunded, 500));
    assert_eq!(refunds_at_amazon(&world, &order).await.len(), 1);
    assert_eq!(refunded.refund_requests, 2, "the refused request and the refund");
}

#[tokio::test]
async fn a_refund_whose_answer_was_lost_is_never_made_again_under_another_amount_and_the_same_amount_records_it() {
    let world = World::start().await;
    let order = bought(&world).await;
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    let charge_id = captured.charge_id.clone().unwrap();
    // The shop asked Amazon for ¥1,000 and never read the answer (it stopped, or the answer was
    // lost on the way): Amazon made the refund under the order's first refund key.
    let key = world.state.core.idempotency_key(&Keyed::Refund { charge_id: &charge_id, ordinal: 1 }).await.unwrap();
    let lost = world.state.core.amazon().create_refund(&charge_id, &Money::yen(1_000), key.as_str()).await.unwrap();
    assert_eq!(current(&world, &order).await.refund_requests, 0, "the shop has no answer");
    // The owner, seeing no refund, types another amount: Amazon holds the key for the first.
    let refused = operate(&world, &order, Operation::Refund(700), false).await.unwrap_err();
    assert!(matches!(refused, Refusal::HeldAtAmazon(_)), "{refused:?}");
    assert!(refused.message_ja().contains("二重の請求・返金を防ぐため"), "{}", refused.message_ja());
    let again = operate(&world, &order, Operation::Refund(700), false).await.unwrap_err();
    assert!(matches!(again, Refusal::HeldAtAmazon(_)), "still the same key: {again:?}");
    assert_eq!(world.charge(&charge_id).await["refundedAmount"], yen(0), "no second refund at Amazon");
    // The same amount again: Amazon answers with the refund it made, now recorded.
    let recorded = operate(&world, &order, Operation::Refund(1_000), false).await.unwrap();
    assert_eq!((recorded.refunded, recorded.refund_requests), (1_000, 1));
    assert_eq!(world.db.refunds(order.id).await.unwrap()[0].refund_id, lost.refund_id);
}

#[tokio::test]
async fn a_refund_key_amazon_holds_is_given_up_only_when_the_owner_overrides_the_refusal() {
    let world = World::start().await;
    let order = bought(&world).await;
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    let charge_id = captured.charge_id.clone().unwrap();
    // A ¥1,000 refund whose answer the shop never read, then the owner's ¥700 refused for it.
    let key = world.state.core.idempotency_key(&Keyed::Refund { charge_id: &charge_id, ordinal: 1 }).await.unwrap();
    world.state.core.amazon().create_refund(&charge_id, &Money::yen(1_000), key.as_str()).await.unwrap();
    let refused = operate(&world, &order, Operation::Refund(700), false).await.unwrap_err();
    assert!(matches!(refused, Refusal::HeldAtAmazon(_)) && refused.can_force(), "{refused:?}");
    // The owner has looked in Seller Central and overrides: the shop shows 返金, and the next
    // refund is asked under a key of its own.
    let forced = operate(&world, &order, Operation::Refund(700), true).await.unwrap();
    assert_eq!((forced.state, forced.refund_requests), (OrderState::Refunded, 1));
    let next = operate(&world, &order, Operation::Refund(700), false).await.expect("a new request");
    assert_eq!((next.refunded, next.refund_requests), (700, 2));
}

#[tokio::test]
async fn a_refund_is_refused_when_amazons_charge_cannot_be_read() {
    let world = World::start().await;
    let order = bought(&world).await;
    operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    // Every attempt of the shop's read of the charge fails (3 with the tests' retries); Amazon
    // would take the refund itself.
    world.amazon_control("faults", json!({ "status": 503, "count": 3 })).await;
    let refused = operate(&world, &order, Operation::Refund(1_000), false).await.unwrap_err();
    assert_eq!(refused, Refusal::AmazonUnavailable);
    assert_eq!(current(&world, &order).await.refunded, 0);
    assert_eq!(charge_of(&world, &order).await["refundedAmount"], yen(0), "nothing asked of Amazon");
    assert_eq!(operate(&world, &order, Operation::Refund(1_000), false).await.unwrap().refunded, 1_000);
}

// ---------------------------------------------------------------------------------------------
// キャンセル
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_before_capture_cancels_the_charge_and_closes_the_charge_permission() {
    let world = World::start().await;
    let order = bought(&world).await;
    let canceled = operate(&world, &order, Operation::Cancel, false).await.unwrap();
    assert_eq!(canceled.state, OrderState::Canceled);
    assert_eq!(charge_of(&world, &order).await["statusDetails"]["state"], "Canceled");
    assert_eq!(permission_of(&world, &order).await["statusDetails"]["state"], "Closed");
    assert_eq!(operate(&world, &order, Operation::Cancel, false).await, Err(Refusal::WrongState(OrderState::Canceled)));
    assert_eq!(
        operate(&world, &order, Operation::Capture(None), false).await,
        Err(Refusal::WrongState(OrderState::Canceled))
    );
}

#[tokio::test]
async fn after_capture_only_a_refund_gives_money_back() {
    let world = World::start().await;
    let order = bought(&world).await;
    operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    assert_eq!(operate(&world, &order, Operation::Cancel, false).await, Err(Refusal::WrongState(OrderState::Captured)));
}

// ---------------------------------------------------------------------------------------------
// One operation at Amazon, however often it is submitted
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_submit_and_two_owners_at_once_make_one_capture() {
    let world = World::start().await;
    let order = bought(&world).await;
    let core = &world.state.core;
    let (a, b, c) = tokio::join!(
        core.operate(order.id, order.version, Operation::Capture(None), "owner", false),
        core.operate(order.id, order.version, Operation::Capture(None), "owner", false),
        core.operate(order.id, order.version, Operation::Capture(Some(1_000)), "another", false),
    );
    let results = [a.unwrap(), b.unwrap(), c.unwrap()];
    let done: Vec<&Order> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(done.len(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| *e == Refusal::Busy), "{results:?}");
    let charge = charge_of(&world, &order).await;
    assert_eq!(charge["statusDetails"]["state"], "Captured");
    assert_eq!(charge["captureAmount"], yen(done[0].captured));
    // A submit of the page seen before the capture is out of date.
    assert_eq!(
        core.operate(order.id, order.version, Operation::Refund(100), "owner", false).await.unwrap(),
        Err(Refusal::Busy)
    );
    assert!(Refusal::Busy.message_ja().contains("再読み込み"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_submitted_refund_refunds_once() {
    let world = World::start().await;
    let order = bought(&world).await;
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    let core = &world.state.core;
    let (a, b) = tokio::join!(
        core.operate(order.id, captured.version, Operation::Refund(500), "owner", false),
        core.operate(order.id, captured.version, Operation::Refund(500), "owner", false),
    );
    assert_eq!([a.unwrap().is_ok(), b.unwrap().is_ok()].iter().filter(|ok| **ok).count(), 1);
    assert_eq!(world.db.refunds(order.id).await.unwrap().len(), 1);
    assert_eq!(current(&world, &order).await.refunded, 500);
}

#[tokio::test]
async fn amazon_unreachable_changes_nothing_and_the_operation_can_be_retried() {
    let world = World::start().await;
    let order = bought(&world).await;
    world.amazon_control("faults", json!({ "status": 503, "count": 20 })).await;
    let refusal = operate(&world, &order, Operation::Capture(None), false).await.unwrap_err();
    assert_eq!(refusal, Refusal::AmazonUnavailable);
    assert!(refusal.message_ja().contains("何も変更していません"));
    assert!(!refusal.can_force(), "nothing is known of Amazon's record");
    world.amazon_control("faults", json!({ "status": 503, "count": 0 })).await;
    let after = current(&world, &order).await;
    assert_eq!(after.state, OrderState::Authorized);
    assert_eq!(charge_of(&world, &order).await["statusDetails"]["state"], "Authorized");
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    assert_eq!(captured.state, OrderState::Captured);
}

// ---------------------------------------------------------------------------------------------
// 「エラーを無視して変更する」
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_order_cancelled_in_seller_central_is_refused_then_set_with_the_force_option() {
    let world = World::start().await;
    let order = bought(&world).await;
    seller_central(&world, json!({ "action": "cancel", "chargeId": order.charge_id })).await;
    let refusal = operate(&world, &order, Operation::Capture(None), false).await.unwrap_err();
    assert!(matches!(&refusal, Refusal::AmazonRefused { code, .. } if code == "InvalidChargeStatus"), "{refusal:?}");
    assert!(refusal.can_force());
    assert!(refusal.message_ja().contains("エラーを無視して変更する"));
    assert_eq!(current(&world, &order).await.state, OrderState::Authorized, "nothing changed");
    let forced = operate(&world, &order, Operation::Cancel, true).await.unwrap();
    assert_eq!(forced.state, OrderState::Canceled);
    let (actor, from, to, detail) = history(&world, &order).await.pop().unwrap();
    assert_eq!((actor.as_str(), from, to), ("owner:owner", Some(OrderState::Authorized), OrderState::Canceled));
    let last = world.db.order_detail(order.id).await.unwrap().unwrap().events.pop().unwrap();
    assert!(last.forced, "recorded as forced");
    assert!(detail.starts_with("Amazon の状態: "), "the detail is Amazon's record as it is: {detail}");
    assert!(detail.contains("Canceled MerchantCanceled"), "what Amazon holds is recorded: {detail}");
    assert_eq!(permission_of(&world, &order).await["statusDetails"]["state"], "Closed");
}

#[tokio::test]
async fn an_order_captured_in_seller_central_is_forced_to_amazons_captured_amount() {
    let world = World::start().await;
    let order = bought(&world).await;
    seller_central(&world, json!({ "action": "capture", "chargeId": order.charge_id, "amount": 2_000 })).await;
    let refusal = operate(&world, &order, Operation::Capture(None), false).await.unwrap_err();
    assert!(refusal.can_force(), "{refusal:?}");
    let forced = operate(&world, &order, Operation::Capture(None), true).await.unwrap();
    assert_eq!((forced.state, forced.captured), (OrderState::Captured, 2_000));
    let detail = history(&world, &order).await.pop().unwrap().3;
    assert!(detail.contains("Captured") && detail.contains("2,000"), "{detail}");
    // Without a refusal of Amazon's, the option changes nothing: rules of the shop still hold.
    assert_eq!(
        operate(&world, &order, Operation::Refund(5_000), true).await,
        Err(Refusal::RefundTooLarge { left: 2_000 })
    );
}

#[tokio::test]
async fn a_forced_refund_after_amazon_refunded_more_than_recorded_records_amazons_amount() {
    let world = World::start().await;
    let order = bought(&world).await;
    operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    // ¥1,000 refunded in Seller Central and done; its notification never reached the shop.
    seller_central(&world, json!({ "action": "refund", "chargeId": order.charge_id, "amount": 1_000 })).await;
    world.amazon_control("settle", json!({})).await;
    let refused = operate(&world, &order, Operation::Refund(500), false).await.unwrap_err();
    assert_eq!(refused, Refusal::RefundedElsewhere { at_amazon: 1_000, recorded: 0 });
    assert!(refused.can_force());
    let forced = operate(&world, &order, Operation::Refund(500), true).await.unwrap();
    assert_eq!((forced.state, forced.refunded), (OrderState::Refunded, 1_000), "Amazon's refunded amount");
    let adjustment = world.db.refunds(order.id).await.unwrap().remove(0);
    assert_eq!((adjustment.amount, adjustment.state), (1_000, RefundState::Refunded));
    assert!(adjustment.refund_id.starts_with(amazonpay2::core::operations::REFUND_ADJUSTMENT));
    // The next refund is not refused again: the shop holds what Amazon holds.
    let next = operate(&world, &order, Operation::Refund(500), false).await.expect("the refusal does not come back");
    assert_eq!(next.refunded, 1_500);
    assert_eq!(
        operate(&world, &order, Operation::Refund(MUG_ORDER), false).await,
        Err(Refusal::RefundTooLarge { left: MUG_ORDER - 1_500 })
    );
}

// ---------------------------------------------------------------------------------------------
// The 30-day window
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_capture_after_the_authorization_lapsed_authorizes_again_on_the_charge_permission() {
    let world = World::start().await;
    let order = bought(&world).await;
    let first_charge = order.charge_id.clone().unwrap();
    world.advance_amazon_clock(31 * DAY).await;
    assert_eq!(world.charge(&first_charge).await["statusDetails"]["reasonCode"], "ExpiredUnused");
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    assert_eq!((captured.state, captured.captured), (OrderState::Captured, MUG_ORDER));
    let second_charge = captured.charge_id.clone().unwrap();
    assert_ne!(second_charge, first_charge, "a new charge on the same permission");
    let renewed = charge_made_at(&world, &second_charge).await;
    assert!(renewed > charge_made_at(&world, &first_charge).await);
    assert_eq!(
        captured.authorized,
        Some(Authorization { amount: MUG_ORDER, at: renewed }),
        "a new authorization has its own 30 days"
    );
    let charge = world.charge(&second_charge).await;
    assert_eq!(charge["statusDetails"]["state"], "Captured");
    assert_eq!(charge["chargePermissionId"], order.charge_permission_id.clone().unwrap());
    assert_eq!(charge["captureAmount"], yen(MUG_ORDER));
    let steps: Vec<OrderState> = history(&world, &order).await.into_iter().map(|e| e.2).skip(3).collect();
    assert_eq!(
        steps,
        [
            OrderState::Capturing,
            OrderState::Expired,
            OrderState::Authorized,
            OrderState::Capturing,
            OrderState::Captured
        ]
    );
}

#[tokio::test]
async fn a_pending_authorization_decided_days_later_is_captured_within_amazons_window_without_a_second_one() {
    let world = World::start().await;
    // The order was placed 40 days ago; Amazon authorized its card 34 days after that (6 days
    // ago), so Amazon's 30 days run 24 days more, though the charge was made 40 days ago.
    world.start_amazon_clock_back(40 * DAY).await;
    let browser = world.mug_shopper().await;
    let session = browser.to_confirmation(JCB).await;
    completed_order(&browser.place_and_finish().await, "payment_pending");
    let pending = world.db.order_by_checkout_session(&session).await.unwrap().unwrap();
    assert_eq!(pending.state, OrderState::Pending);
    let charge_id = pending.charge_id.clone().unwrap();
    world.advance_amazon_clock(34 * DAY).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge_id, "outcome": "Authorized" })).await;
    assert!(world.state.core.sync_order(&pending, Actor::Reconciler).await.unwrap());
    world.advance_amazon_clock(6 * DAY).await;
    let authorized = current(&world, &pending).await;
    assert_eq!(authorized.state, OrderState::Authorized);
    let expires = world.charge(&charge_id).await["expirationTimestamp"].as_str().unwrap().to_owned();
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let expires = time::PrimitiveDateTime::parse(&expires, format).unwrap().assume_utc().unix_timestamp();
    assert_eq!(authorization_deadline(&authorized), Some(expires), "the shop's deadline is Amazon's");
    let captured = operate(&world, &pending, Operation::Capture(None), false).await.unwrap();
    assert_eq!((captured.state, captured.charge_id.as_deref()), (OrderState::Captured, Some(charge_id.as_str())));
    assert_eq!(world.charge(&charge_id).await["captureAmount"], yen(MUG_ORDER), "the buyer's one authorization");
    let steps: Vec<OrderState> = history(&world, &pending).await.into_iter().map(|e| e.2).collect();
    assert!(!steps.contains(&OrderState::Expired), "never taken for lapsed: {steps:?}");
}

#[tokio::test]
async fn an_order_marked_lapsed_while_amazon_still_holds_its_authorization_is_captured_on_it() {
    let world = World::start().await;
    let order = bought(&world).await;
    let charge_id = order.charge_id.clone().unwrap();
    // Marked オーソリ期限切れ by the shop's own reckoning (as a deadline counted from the charge's
    // creation did), while Amazon still holds the charge authorized.
    let lapsed =
        Transition::new(&order, OrderState::Expired, Actor::Owner("owner".into()), "オーソリ期限切れ").unwrap();
    world.db.apply(&lapsed).await.unwrap().unwrap();
    let captured = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    assert_eq!((captured.state, captured.charge_id.as_deref()), (OrderState::Captured, Some(charge_id.as_str())));
    let permission = permission_of(&world, &order).await;
    assert_eq!(permission["limits"]["amountBalance"], yen(0), "one authorization, captured: no second hold");
    let detail = history(&world, &order).await.into_iter().find(|e| e.1 == Some(OrderState::Expired)).unwrap().3;
    assert!(detail.contains("Authorized"), "{detail}");
}

#[tokio::test]
async fn a_reauthorization_whose_key_amazon_holds_for_another_request_is_never_asked_again_under_a_new_one() {
    let world = World::start().await;
    let order = bought(&world).await;
    let lapsed_charge = order.charge_id.clone().unwrap();
    world.advance_amazon_clock(31 * DAY).await;
    assert!(world.state.core.sync_order(&order, Actor::Reconciler).await.unwrap());
    let expired = current(&world, &order).await;
    assert_eq!(expired.state, OrderState::Expired);
    // Amazon already holds this re-authorization's key for another request (made before the
    // database was restored, when the order had another number): it made a charge by it.
    let key =
        Keyed::Reauthorization { replaced: &lapsed_charge, amount: MUG_ORDER, version: expired.version, attempt: 1 };
    let key = world.state.core.idempotency_key(&key).await.unwrap();
    let body = json!({
        "chargePermissionId": order.charge_permission_id,
        "chargeAmount": yen(MUG_ORDER),
        "captureNow": false,
        "canHandlePendingAuthorization": false,
        "merchantMetadata": { "merchantReferenceId": "99999" },
    });
    let earlier = world.state.core.amazon().create_charge(&body, key.as_str()).await.unwrap();
    for _ in 0..2 {
        let refused = operate(&world, &order, Operation::Capture(None), false).await.unwrap_err();
        assert!(matches!(refused, Refusal::HeldAtAmazon(_)), "no decline, no new request: {refused:?}");
    }
    let after = current(&world, &order).await;
    assert_eq!((after.state, after.version), (OrderState::Expired, expired.version), "the next try asks the same");
    assert_eq!(world.charge(&earlier.charge_id).await["statusDetails"]["state"], "Authorized");
    let permission = permission_of(&world, &order).await;
    assert_eq!(permission["limits"]["amountBalance"], yen(0), "the one charge Amazon made, no second");
}

/// When Amazon made the charge (its `creationTimestamp`), in Unix seconds.
async fn charge_made_at(world: &World, charge_id: &str) -> i64 {
    let made = world.charge(charge_id).await["creationTimestamp"].as_str().unwrap().to_owned();
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(&made, format).unwrap().assume_utc().unix_timestamp()
}

#[tokio::test]
async fn a_move_back_to_authorized_keeps_the_thirty_days_of_the_charge() {
    let world = World::start().await;
    // Amazon's clock a day ahead of the shop's: the charge's own time is never the shop's now.
    world.advance_amazon_clock(DAY).await;
    let order = bought(&world).await;
    let made = charge_made_at(&world, order.charge_id.as_deref().unwrap()).await;
    assert_eq!(
        order.authorized,
        Some(Authorization { amount: MUG_ORDER, at: made }),
        "the 30 days run from the charge's creation"
    );
    // A capture claimed and never sent (the process stopped in between): 実売上処理中 in the shop,
    // still authorized at Amazon; the reconciler moves it back to 仮売上.
    let claim = Transition::new(&order, OrderState::Capturing, Actor::Owner("owner".into()), "実売上を依頼").unwrap();
    world.db.apply(&claim).await.unwrap().unwrap();
    assert!(world.state.core.reconcile().await.unwrap().settled >= 1);
    let back = current(&world, &order).await;
    assert_eq!(back.state, OrderState::Authorized);
    assert_eq!(
        back.authorized,
        Some(Authorization { amount: MUG_ORDER, at: made }),
        "the move back does not restart the 30 days"
    );
}

#[tokio::test]
async fn a_lapsed_authorization_amazon_will_not_renew_is_explained() {
    let world = World::start().await;
    let order = bought(&world).await;
    // A one-time charge permission lives 180 days.
    world.advance_amazon_clock(181 * DAY).await;
    let refusal = operate(&world, &order, Operation::Capture(None), false).await.unwrap_err();
    assert!(matches!(refusal, Refusal::AuthorizationLapsed(_)), "{refusal:?}");
    assert!(refusal.message_ja().contains("他の支払方法をご案内ください"), "{}", refusal.message_ja());
    assert_eq!(current(&world, &order).await.state, OrderState::Expired, "the shop now shows the lapse");
    // キャンセル still works on the lapsed order (nothing left to cancel at Amazon).
    assert_eq!(operate(&world, &order, Operation::Cancel, false).await.unwrap().state, OrderState::Canceled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_capture_of_lapsed_orders_follows_amazons_declines_of_the_new_authorization() {
    let world = World::start().await;
    let (hard, soft, fine) = (bought(&world).await, bought(&world).await, bought(&world).await);
    world.advance_amazon_clock(31 * DAY).await;
    let card = |order: &Order, card: &str| json!({ "chargePermissionId": order.charge_permission_id, "card": card, "times": 1 });
    // The buyers' cards now decline the re-authorization once: hard (no retry) and soft (one
    // retry, after the charge permission was read as chargeable, with a key of its own).
    world.amazon_control("cards", card(&hard, "HardDeclined")).await;
    world.amazon_control("cards", card(&soft, "SoftDeclined")).await;
    let ids = [hard.id, soft.id, fine.id];
    let outcomes = world.state.core.capture_many(&ids, "owner", 3, || async { true }, |_| async {}).await;
    for outcome in &outcomes {
        if outcome.order == hard.id {
            match &outcome.result {
                Err(Refusal::AuthorizationLapsed(why)) => assert!(why.starts_with("HardDeclined"), "{why}"),
                other => panic!("{other:?}"),
            }
        } else {
            assert_eq!(outcome.result, Ok(OrderState::Captured), "{outcome:?}");
        }
    }
    assert_eq!(current(&world, &hard).await.state, OrderState::Expired, "left lapsed, for another payment method");
    let charge = charge_of(&world, &soft).await;
    assert_eq!(
        (charge["statusDetails"]["state"].as_str(), &charge["captureAmount"]),
        (Some("Captured"), &yen(MUG_ORDER))
    );
    let refusal = operate(&world, &hard, Operation::Capture(None), false).await;
    assert_eq!(
        current(&world, &hard).await.state,
        OrderState::Captured,
        "the buyer's next card authorizes: {refusal:?}"
    );
}

#[tokio::test]
async fn a_capture_more_than_seven_days_after_authorization_completes_later() {
    let world = World::start().await;
    let order = bought(&world).await;
    world.advance_amazon_clock(8 * DAY).await;
    let capturing = operate(&world, &order, Operation::Capture(None), false).await.unwrap();
    assert_eq!(capturing.state, OrderState::Capturing);
    assert_eq!(OrderState::Capturing.credit_status(), "実売上処理中");
    assert_eq!(charge_of(&world, &order).await["statusDetails"]["state"], "CaptureInitiated");
    let last = history(&world, &order).await.pop().unwrap();
    assert_eq!((last.1, last.2), (Some(OrderState::Capturing), OrderState::Capturing));
    assert!(last.3.contains("CaptureInitiated"), "{}", last.3);
    // The owner's hold is let go: the reconciler (or Amazon's notification) settles it.
    assert_eq!(
        operate(&world, &order, Operation::Capture(None), false).await,
        Err(Refusal::WrongState(OrderState::Capturing))
    );
    world.amazon_control("settle", json!({})).await;
    let report = world.state.core.reconcile().await.unwrap();
    assert!(report.settled >= 1, "{report:?}");
    let after = current(&world, &order).await;
    assert_eq!((after.state, after.captured), (OrderState::Captured, MUG_ORDER));
}

// ---------------------------------------------------------------------------------------------
// 「AmazonPay クレジット決済状況」: bulk capture
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_capture_goes_on_past_a_refusal_and_a_second_run_changes_nothing() {
    let world = World::start().await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(bought(&world).await);
    }
    seller_central(&world, json!({ "action": "cancel", "chargeId": orders[1].charge_id })).await;
    let ids: Vec<_> = orders.iter().map(|o| o.id).collect();
    let seen = Mutex::new(Vec::new());
    let outcomes = world
        .state
        .core
        .capture_many(
            &ids,
            "owner",
            3,
            || async { true },
            |finished: Vec<BulkOutcome>| {
                seen.lock().unwrap().extend(finished.iter().map(|outcome| outcome.order));
                async {}
            },
        )
        .await;
    assert_eq!(seen.lock().unwrap().len(), 4, "progress for every order");
    for outcome in &outcomes {
        if outcome.order == orders[1].id {
            assert!(matches!(&outcome.result, Err(Refusal::AmazonRefused { .. })), "{outcome:?}");
        } else {
            assert_eq!(outcome.result, Ok(OrderState::Captured), "{outcome:?}");
        }
    }
    for order in [&orders[0], &orders[2], &orders[3]] {
        assert_eq!(charge_of(&world, order).await["statusDetails"]["state"], "Captured");
    }
    let again = world.state.core.capture_many(&ids, "owner", 3, || async { true }, |_| async {}).await;
    for outcome in &again {
        let expected = if outcome.order == orders[1].id { OrderState::Authorized } else { OrderState::Captured };
        match (&outcome.result, expected) {
            (Err(Refusal::WrongState(state)), OrderState::Captured) => assert_eq!(*state, OrderState::Captured),
            (Err(Refusal::AmazonRefused { .. }), OrderState::Authorized) => {}
            other => panic!("{other:?}"),
        }
    }
    for order in &orders {
        let charge = charge_of(&world, order).await;
        if order.id != orders[1].id {
            assert_eq!(charge["captureAmount"], yen(MUG_ORDER), "captured once");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_job_taken_over_while_its_first_instance_runs_on_is_captured_and_recorded_by_the_new_one() {
    use amazonpay2::server::admin::{BULK_CONCURRENCY, STALE_AFTER, run_job};
    let gate = CaptureGate::default();
    let world = World::start_gated(&gate).await;
    let mut orders = Vec::new();
    for _ in 0..BULK_CONCURRENCY + 2 {
        orders.push(bought(&world).await);
    }
    let listed: Vec<_> = orders.iter().map(|o| BulkOrder { order: o.id, number: o.number.clone() }).collect();
    let job = world.db.start_bulk("first", &listed, "instance-a").await.unwrap();
    // Instance A runs the job; its first captures wait at Amazon's door.
    gate.close();
    let (db, core) = (world.db.clone(), world.state.core.clone());
    let first = tokio::spawn(async move { run_job(&db, &core, job, "first", "instance-a").await });
    gate.wait_holding(BULK_CONCURRENCY).await;
    // A stalls long enough to be taken for stopped: instance B resumes the job.
    let file = world._data.0.join("amazonpay2.sqlite3");
    let database = rusqlite::Connection::open(file).unwrap();
    loop {
        database.execute("UPDATE bulk_jobs SET heartbeat_at = heartbeat_at - 3600 WHERE id = ?1", [job]).unwrap();
        let stale_before = amazonpay2::core::now() - STALE_AFTER;
        if world.db.claim_bulk(job, "instance-b", stale_before).await.unwrap() {
            break;
        }
    }
    // A wakes up: its captures in flight end at Amazon, and it starts no more.
    gate.open();
    first.await.unwrap();
    let untouched = &orders[BULK_CONCURRENCY..];
    for order in untouched {
        assert_eq!(
            current(&world, order).await.state,
            OrderState::Authorized,
            "A started no capture after losing the job"
        );
    }
    let items = world.db.bulk(job).await.unwrap();
    assert!(
        items.iter().all(|item| item.outcome == ItemOutcome::Waiting),
        "A recorded nothing once the job was B's: {items:?}"
    );
    // B runs it: what A captured is skipped, the rest captured, each outcome B's.
    run_job(&world.db, &world.state.core, job, "second", "instance-b").await;
    let items = world.db.bulk(job).await.unwrap();
    let outcome = |order: &Order| items.iter().find(|i| i.order == order.id).unwrap().outcome;
    for order in &orders[..BULK_CONCURRENCY] {
        assert_eq!(outcome(order), ItemOutcome::Skipped, "captured by A before the takeover");
        assert_eq!(current(&world, order).await.state, OrderState::Captured);
    }
    for order in untouched {
        assert_eq!(outcome(order), ItemOutcome::Done);
        let last = history(&world, order).await.pop().unwrap();
        assert_eq!((last.0.as_str(), last.2), ("owner:second", OrderState::Captured), "captured by B");
    }
    let record = world.db.bulk_job(job).await.unwrap().unwrap();
    assert!(record.finished_at.is_some() && record.claimed_by.is_none(), "{record:?}");
}

// ---------------------------------------------------------------------------------------------
// Subscriptions (定期購入)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_subscription_order_is_captured_and_cancelled_like_any_and_cancelling_the_subscription_closes_its_permission()
{
    let world = World::start().await;
    let (_, session) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let first = world.db.order_by_checkout_session(&session).await.unwrap().unwrap();
    assert!(first.recurring);
    let captured = operate(&world, &first, Operation::Capture(None), false).await.unwrap();
    assert_eq!(captured.state, OrderState::Captured);
    let cycles = world.run_subscriptions(a_month_after(today_in_japan())).await;
    let cycle = numbered(&world, &cycles[0].order_number).await;
    assert_eq!(cycle.state, OrderState::Authorized);
    let canceled = operate(&world, &cycle, Operation::Cancel, false).await.unwrap();
    assert_eq!(canceled.state, OrderState::Canceled);
    let permission = cycle.charge_permission_id.clone().unwrap();
    assert_eq!(
        world.charge_permission(&permission).await["statusDetails"]["state"],
        "Chargeable",
        "the subscription goes on"
    );
    assert_eq!(world.state.core.close_subscription(&permission).await.unwrap(), Ok(()));
    assert_eq!(world.charge_permission(&permission).await["statusDetails"]["state"], "Closed");
    assert_eq!(world.state.core.close_subscription(&permission).await.unwrap(), Ok(()), "closed already counts");
}
