//! Subscriptions (定期購入) over real HTTP: the recurring checkout, and its next cycles charged by
//! the job the shop schedules, on the same data (see `crate::common::checkout` for the harness).

use serde_json::{Value, json};
use time::Date;

use crate::common::checkout::*;
use crate::common::sockets::{Browser, RETRY};

// ---------------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------------

/// The monthly charge of a ¥8,800 定期便 delivered by 宅配便.
const SEASONAL_MONTHLY: u64 = 8800 + 880;

/// A member who started the ¥9,680 monthly subscription; their browser and its one
/// subscription (as My Page lists it).
async fn subscriber(world: &World) -> (Browser, Value) {
    let (browser, _) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let subscription = browser.subscriptions().await.remove(0);
    (browser, subscription)
}

fn next_cycle(subscription: &Value) -> Date {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(subscription["nextCycle"].as_str().expect("nextCycle"), format).unwrap()
}

#[tokio::test]
async fn a_subscription_checkout_makes_an_authorized_order_and_a_monthly_subscription() {
    let world = World::start().await;
    let (browser, id) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["creditStatus"], "仮売上");
    assert_eq!((orders[0]["total"].as_u64(), orders[0]["recurring"].as_bool()), (Some(SEASONAL_MONTHLY), Some(true)));
    let subscriptions = browser.subscriptions().await;
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    assert_eq!(subscriptions[0]["amount"], SEASONAL_MONTHLY);
    assert_eq!(next_cycle(&subscriptions[0]), a_month_after(today_in_japan()));
    let session = world.checkout_session(&id).await;
    assert_eq!(subscriptions[0]["chargePermissionId"], session["chargePermissionId"]);
    let permission = world.charge_permission(session["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(permission["chargePermissionType"], "Recurring");
    assert_eq!(permission["recurringMetadata"]["frequency"], json!({ "unit": "Month", "value": "1" }));
}

/// What the shop owner sees of the order numbered `number`: its lines and shipping fee.
async fn lines_of(world: &World, number: &str) -> (Vec<(String, u64, u64)>, u64) {
    let filter = amazonpay2::storage::OrderFilter { per_page: 50, ..Default::default() };
    let row = world.db.list_orders(&filter).await.unwrap().rows.into_iter().find(|r| r.number == number).unwrap();
    let detail = world.db.order_detail(row.id).await.unwrap().unwrap();
    (detail.lines.into_iter().map(|l| (l.name, l.unit_price, l.quantity)).collect(), detail.shipping_fee)
}

#[tokio::test]
async fn a_mixed_cart_pays_its_one_time_lines_once_and_its_cycles_only_what_recurs() {
    let world = World::start().await;
    let (browser, id) = world.customer(&[(MUG, 1), (SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let first = browser.orders().await.remove(0);
    assert_eq!(first["total"].as_u64(), Some(2_750 + SEASONAL_MONTHLY), "the checkout charges the whole cart");
    let session = world.checkout_session(&id).await;
    let charge = world.charge(session["chargeId"].as_str().unwrap()).await;
    assert_eq!(charge["chargeAmount"], yen(2_750 + SEASONAL_MONTHLY));
    let permission = world.charge_permission(session["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(
        permission["recurringMetadata"]["amount"],
        yen(SEASONAL_MONTHLY),
        "Amazon shows the buyer the monthly amount"
    );
    let subscription = browser.subscriptions().await.remove(0);
    assert_eq!(subscription["amount"], SEASONAL_MONTHLY, "the mug is not bought every month");
    let cycles = world.run_subscriptions(next_cycle(&subscription)).await;
    assert_eq!(cycles[0].state.name(), "authorized", "{cycles:?}");
    let newest = browser.orders().await.remove(0);
    assert_eq!((newest["total"].as_u64(), newest["recurring"].as_bool()), (Some(SEASONAL_MONTHLY), Some(true)));
    let cycle_charge = world.charge(newest["chargeId"].as_str().unwrap()).await;
    assert_eq!(cycle_charge["chargeAmount"], yen(SEASONAL_MONTHLY));
    let (lines, shipping) = lines_of(&world, newest["orderNumber"].as_str().unwrap()).await;
    assert_eq!(lines, [("【定期便】季節の器セット（毎月）".to_owned(), 8_800, 1)], "the cycle delivers what recurs");
    assert_eq!(shipping, 880, "and one delivery's shipping");
}

#[tokio::test]
async fn a_subscription_cycle_before_its_date_charges_nothing() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    assert_eq!(world.run_subscriptions(today_in_japan()).await, Vec::new());
    assert_eq!(browser.orders().await.len(), 1);
    assert_eq!(browser.subscriptions().await, vec![subscription]);
}

#[tokio::test]
async fn the_next_cycle_makes_a_second_authorized_order_and_moves_on_a_month() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    let date = next_cycle(&subscription);
    let cycles = world.run_subscriptions(date).await;
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!((cycles[0].date.to_string().as_str(), cycles[0].state.name()), (&*date.to_string(), "authorized"));
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 2, "{orders:?}");
    let newest = &orders[0];
    assert_eq!(newest["orderNumber"], cycles[0].order_number);
    assert_eq!(newest["creditStatus"], "仮売上");
    assert_eq!((newest["total"].as_u64(), newest["recurring"].as_bool()), (Some(SEASONAL_MONTHLY), Some(true)));
    let charge = world.charge(newest["chargeId"].as_str().expect("the cycle's charge")).await;
    assert_eq!(charge["chargePermissionId"], subscription["chargePermissionId"]);
    assert_eq!(charge["statusDetails"]["state"], "Authorized");
    assert_eq!(next_cycle(&browser.subscriptions().await[0]), a_month_after(date));
}

#[tokio::test]
async fn running_the_same_cycle_twice_charges_once() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    let date = next_cycle(&subscription);
    assert_eq!(world.run_subscriptions(date).await.len(), 1);
    assert_eq!(world.run_subscriptions(date).await, Vec::new(), "nothing is due any more");
    assert_eq!(browser.orders().await.len(), 2);
    let permission = world.charge_permission(subscription["chargePermissionId"].as_str().unwrap()).await;
    let charged = 100_000 - 2 * SEASONAL_MONTHLY; // the checkout's charge and one cycle's
    assert_eq!(permission["limits"]["amountBalance"], yen(charged));
}

#[tokio::test]
async fn a_declined_cycle_becomes_カード未決済_with_the_instruction_to_offer_another_method() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    let permission = subscription["chargePermissionId"].as_str().unwrap();
    world.amazon_control("cards", json!({ "chargePermissionId": permission, "card": "decline" })).await;
    let date = next_cycle(&subscription);
    let cycles = world.run_subscriptions(date).await;
    assert_eq!(cycles[0].state.name(), "card_unsettled");
    let newest = browser.orders().await.remove(0);
    assert_eq!(newest["orderNumber"], cycles[0].order_number);
    assert_eq!(newest["creditStatus"], "カード未決済");
    let note = newest["note"].as_str().unwrap();
    assert!(note.contains(OFFER_ANOTHER_METHOD), "{note}");
    assert_eq!(next_cycle(&browser.subscriptions().await[0]), a_month_after(date), "the next month is tried again");
}

#[tokio::test]
async fn a_cycle_declined_softly_is_tried_once_more_with_a_new_key_and_a_hard_decline_is_not() {
    for (decline, tried_again) in [("SoftDeclined", true), ("ProcessingFailure", true), ("HardDeclined", false)] {
        let world = World::start().await;
        let (browser, subscription) = subscriber(&world).await;
        let permission = subscription["chargePermissionId"].as_str().unwrap();
        // The card declines once; the buyer's next one would authorize.
        let card = json!({ "chargePermissionId": permission, "card": decline, "times": 1 });
        world.amazon_control("cards", card).await;
        let date = next_cycle(&subscription);
        let cycles = world.run_subscriptions(date).await;
        let newest = browser.orders().await.remove(0);
        if tried_again {
            assert_eq!(cycles[0].state.name(), "authorized", "{decline}: retried after the charge permission was read");
            let charge = world.charge(newest["chargeId"].as_str().expect("the retry's charge")).await;
            assert_eq!(charge["statusDetails"]["state"], "Authorized");
            let permission = world.charge_permission(permission).await;
            let charged = 100_000 - 2 * SEASONAL_MONTHLY; // the checkout's charge and the retry's
            assert_eq!(permission["limits"]["amountBalance"], yen(charged), "{decline}: one charge for the cycle");
        } else {
            assert_eq!(cycles[0].state.name(), "card_unsettled", "{decline}: not retried");
            let note = newest["note"].as_str().unwrap();
            assert!(note.contains(decline) && note.contains(OFFER_ANOTHER_METHOD), "{note}");
        }
        assert_eq!(next_cycle(&browser.subscriptions().await[0]), a_month_after(date), "{decline}");
    }
}

#[tokio::test]
async fn a_cycle_on_a_non_chargeable_permission_becomes_カード未決済_with_amazons_reason() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    let permission = subscription["chargePermissionId"].as_str().unwrap();
    world.amazon_control("cards", json!({ "chargePermissionId": permission, "card": "expired" })).await;
    let cycles = world.run_subscriptions(next_cycle(&subscription)).await;
    assert_eq!(cycles[0].state.name(), "card_unsettled");
    let note = browser.orders().await.remove(0)["note"].as_str().unwrap().to_owned();
    assert!(note.contains("InvalidChargePermissionStatus") && note.contains(OFFER_ANOTHER_METHOD), "{note}");
}

/// A member with the ¥100,000 monthly subscription (two 大皿 by 宅配便).
async fn subscriber_at_the_limit(world: &World) -> (Browser, Value) {
    let (browser, _) = world.customer(&[(PLATTER, 2)], TAKKYUBIN).await;
    let subscription = browser.subscriptions().await.remove(0);
    assert_eq!(subscription["amount"], 100_000);
    (browser, subscription)
}

#[tokio::test]
async fn a_cycle_amazon_refuses_for_the_monthly_limit_becomes_カード未決済() {
    let world = World::start().await;
    let (browser, subscription) = subscriber_at_the_limit(&world).await;
    // Amazon's calendar month already holds the checkout's ¥100,000.
    let cycles = world.run_subscriptions(next_cycle(&subscription)).await;
    assert_eq!(cycles[0].state.name(), "card_unsettled");
    let newest = browser.orders().await.remove(0);
    assert_eq!(newest["creditStatus"], "カード未決済");
    let note = newest["note"].as_str().unwrap();
    assert!(note.contains("PeriodicAmountExceeded") && note.contains(OFFER_ANOTHER_METHOD), "{note}");
    let permission = world.charge_permission(subscription["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(permission["limits"]["amountBalance"], yen(0), "no second charge this month");
}

#[tokio::test]
async fn a_cycle_in_a_month_already_at_the_limit_is_refused_before_asking_amazon() {
    let world = World::start().await;
    let (browser, subscription) = subscriber_at_the_limit(&world).await;
    world.advance_amazon_clock(seconds_into_next_japanese_month()).await;
    let date = next_cycle(&subscription);
    assert_eq!(world.run_subscriptions(date).await[0].state.name(), "authorized");
    // A second cycle dated in the same month (the schedule moved by the shop owner).
    let far = time::macros::date!(9999 - 12 - 31);
    let active = world.db.due_subscriptions(far).await.unwrap();
    let id = active.iter().find(|s| s.charge_permission_id == subscription["chargePermissionId"]).unwrap().id;
    let again = another_day_of_the_month(date);
    world.db.reschedule_subscription(id, again).await.unwrap();
    // Had the shop asked Amazon, every attempt of the command's client would fail and the cycle
    // would stay `processing`, to be retried.
    let attempts = RETRY.attempts;
    world.amazon_control("faults", json!({ "status": 503, "count": attempts })).await;
    let cycles = world.run_subscriptions(again).await;
    world.amazon_control("faults", json!({ "status": 503, "count": 0 })).await;
    assert_eq!(cycles[0].state.name(), "card_unsettled", "{cycles:?}");
    let newest = browser.orders().await.remove(0);
    assert_eq!(newest["creditStatus"], "カード未決済");
    assert!(newest["note"].as_str().unwrap().contains(OFFER_ANOTHER_METHOD));
}
