//! Checkout with Amazon Pay through to an order over real HTTP: a purchase, the same order placed
//! twice, declined, pending, changed and expired checkouts, and Amazon unreachable (see
//! `crate::common::checkout` for the harness).

use reqwest::header;
use serde_json::{Value, json};

use crate::common::checkout::*;
use crate::common::sockets::RETRY;
use crate::common::text::{between, query_value};
use amazonpay2::simulator::TEST_BUYERS;
use url::Url;

// ---------------------------------------------------------------------------------------------
// A one-time purchase
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_review_block_shows_amazons_shipping_address_and_payment_method() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    assert_eq!(browser.view("review").await, json!({ "view": "nothing" }), "no Amazon checkout yet");
    let id = browser.to_confirmation(VISA).await;
    let buyer = &TEST_BUYERS[0];
    assert_eq!(
        browser.view("review").await,
        json!({
            "view": "review",
            "amazonCheckoutSessionId": id,
            "shippingAddress": [
                buyer.name,
                format!("〒{}", buyer.postal_code),
                format!("{}{}", buyer.prefecture, buyer.line1),
                buyer.line2,
                buyer.phone,
            ],
            "paymentDescriptor": "Visa ****1111",
        })
    );
}

#[tokio::test]
async fn a_payment_method_changed_on_amazon_shows_in_the_review_and_is_the_one_charged() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    // 「お支払い方法の変更」 (amazon.Pay.bindChangeAction): Amazon's chooser, then back to review.
    let chooser =
        format!("{}/checkout/initiate_auth?amazonCheckoutSessionId={id}&changeAction=changePayment", world.amazon);
    let html = browser.http.get(chooser).send().await.unwrap().text().await.unwrap();
    let flow = between(&html, "name=\"flow\" value=\"", "\"").expect("Amazon's chooser");
    let form = [("flow", flow.as_str()), ("card", JCB)];
    let back = browser.http.post(format!("{}/checkout/continue", world.amazon)).form(&form).send().await.unwrap();
    let review = Url::parse(back.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(browser.arrive(&review).await, CONFIRM_PAGE);
    assert_eq!(browser.view("review").await["paymentDescriptor"], "JCB ****0000");
    completed_order(&browser.place_and_finish().await, "payment_pending");
}

#[tokio::test]
async fn a_one_time_purchase_becomes_an_authorized_order_and_empties_the_cart() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let redirect = browser.place().await.redirect();
    let result = browser.pay(&redirect).await;
    assert_eq!(query_value(&result, "amazonCheckoutSessionId").as_deref(), Some(id.as_str()));
    let number = completed_order(&browser.arrive(&result).await, "order_placed");
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    let order = &orders[0];
    assert_eq!(order["orderNumber"], number);
    assert_eq!(order["creditStatus"], "仮売上");
    assert_eq!((order["total"].as_u64(), order["recurring"].as_bool()), (Some(MUG_ORDER), Some(false)));
    assert_eq!(browser.subscriptions().await, Vec::<Value>::new());
    assert_eq!(browser.cart().await["lines"], json!([]));
    assert_eq!(browser.view("checkout").await["reason"], "cartEmpty");
    assert_eq!(browser.view("review").await["view"], "nothing", "the checkout is over");
}

#[tokio::test]
async fn amazon_holds_one_authorized_charge_with_the_order_number_and_store_name() {
    let world = World::start().await;
    let (browser, id) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    let order = browser.orders().await.remove(0);
    let session = world.checkout_session(&id).await;
    assert_eq!(session["statusDetails"]["state"], "Completed");
    assert_eq!(session["paymentDetails"]["paymentIntent"], "Authorize");
    assert_eq!(session["paymentDetails"]["chargeAmount"], yen(MUG_ORDER));
    assert_eq!(session["merchantMetadata"]["merchantReferenceId"], order["orderNumber"]);
    assert_eq!(session["merchantMetadata"]["merchantStoreName"], STORE_NAME);
    assert_eq!(session["chargeId"], order["chargeId"]);
    let permission = world.charge_permission(session["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(permission["chargePermissionType"], "OneTime");
    world.assert_one_charge(&id, MUG_ORDER).await;
}

#[tokio::test]
async fn a_guest_can_buy_but_has_no_order_history() {
    let world = World::start().await;
    let browser = world.browser();
    browser.fill_cart(&[(FUKIN, 1)], NEKOPOS).await;
    completed_order(&browser.buy(VISA).await, "order_placed");
    assert_eq!(browser.get_api("/demo/orders").await.error(401), "login_required");
}

// ---------------------------------------------------------------------------------------------
// Placing the same order twice
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_double_click_on_place_makes_one_order_and_one_charge() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let (first, second) = tokio::join!(browser.place(), browser.place());
    let (first, second) = (first.redirect(), second.redirect());
    assert_eq!(first, second, "both clicks continue the same checkout");
    let result = browser.pay(&first).await;
    completed_order(&browser.arrive(&result).await, "order_placed");
    assert_eq!(browser.orders().await.len(), 1);
    world.assert_one_charge(&id, MUG_ORDER).await;
}

#[tokio::test]
async fn reloading_the_result_shows_the_same_order_and_makes_no_second() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    let number = completed_order(&browser.arrive(&result).await, "order_placed");
    assert_eq!(completed_order(&browser.arrive(&result).await, "order_placed"), number);
    assert_eq!(browser.orders().await.len(), 1);
    world.assert_one_charge(&id, MUG_ORDER).await;
}

#[tokio::test]
async fn placing_again_after_the_order_sends_nobody_to_amazon_again() {
    let world = World::start().await;
    let (browser, id) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    // The back button to the confirmation page, and 注文を確定する once more.
    let again = browser.place().await.redirect();
    assert!(!again.starts_with(&world.amazon), "{again}");
    assert_eq!(again, cart_page("cart_changed"));
    assert_eq!(browser.orders().await.len(), 1);
    world.assert_one_charge(&id, MUG_ORDER).await;
}

#[tokio::test]
async fn a_result_whose_completion_amazon_already_recorded_finishes_the_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    // Amazon completed the session, but its answer never reached the shop (a timeout, or a
    // second tab's request overtaking this one): the charge is authorized at Amazon.
    let amount = amazonpay2::amazon::types::Money::yen(MUG_ORDER);
    world.client.complete_checkout_session(&id, &amount, "completed-elsewhere").await.expect("Amazon completes");
    completed_order(&browser.arrive(&result).await, "order_placed");
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["creditStatus"], "仮売上");
}

#[tokio::test]
async fn two_results_at_once_make_one_authorized_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    let (first, second) = tokio::join!(browser.arrive(&result), browser.arrive(&result));
    assert_eq!(completed_order(&first, "order_placed"), completed_order(&second, "order_placed"));
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["creditStatus"], "仮売上");
}

// ---------------------------------------------------------------------------------------------
// Declined, pending, changed, expired
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_declined_card_ends_in_payment_declined_without_an_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(MASTERCARD).await;
    assert_eq!(browser.view("review").await["paymentDescriptor"], "Mastercard ****4444");
    assert_eq!(browser.place_and_finish().await, cart_page("payment_declined"));
    browser.assert_no_orders().await;
    assert_eq!(browser.cart().await["lines"][0]["productId"], MUG, "the cart stays for another payment");
    world.assert_no_charge(&id).await;
}

#[tokio::test]
async fn a_pending_authorization_ends_in_payment_pending_and_決済保留() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(JCB).await;
    let number = completed_order(&browser.place_and_finish().await, "payment_pending");
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (orders[0]["orderNumber"].as_str(), orders[0]["creditStatus"].as_str()),
        (Some(&*number), Some("決済保留"))
    );
    assert_eq!(browser.cart().await["lines"], json!([]));
    let session = world.checkout_session(&id).await;
    assert_eq!(
        world.charge(session["chargeId"].as_str().unwrap()).await["statusDetails"]["state"],
        "AuthorizationInitiated"
    );
}

#[tokio::test]
async fn a_cart_changed_after_place_ends_in_cart_changed_without_an_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    browser.set_quantity(MUG, 2).await; // another tab, while Amazon authorized ¥3,630
    assert_eq!(browser.arrive(&result).await, cart_page("cart_changed"));
    browser.assert_no_orders().await;
    world.assert_no_charge(&id).await;
}

#[tokio::test]
async fn returning_to_the_review_after_a_cart_change_does_not_charge_the_old_amount() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let flow = browser.open_amazon().await;
    let review = browser.consent(&flow, VISA).await;
    assert_eq!(browser.arrive(&review).await, CONFIRM_PAGE);
    browser.place().await.redirect(); // Amazon now expects ¥3,630
    browser.set_quantity(MUG, 2).await;
    // The old review URL, from the history: the changed cart forgot that checkout.
    assert_eq!(browser.arrive(&review).await, cart_page("cart_changed"));
    assert_eq!(browser.place_and_finish().await, cart_page("cart_changed"));
    browser.assert_no_orders().await;
}

#[tokio::test]
async fn a_subscription_added_while_on_amazons_page_is_not_paid_with_a_one_time_checkout() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let flow = browser.open_amazon().await; // a OneTime button
    browser.set_quantity(SEASONAL_BOX, 1).await; // another tab: the cart becomes a subscription
    let review = browser.consent(&flow, VISA).await;
    assert_eq!(browser.arrive(&review).await, cart_page("cart_changed"), "the changed cart forgot the checkout");
    assert_eq!(browser.place_and_finish().await, cart_page("cart_changed"));
    assert_eq!(browser.history().await, json!({ "orders": [], "subscriptions": [] }));
}

#[tokio::test]
async fn a_checkout_expired_before_place_is_refused_without_an_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    world.advance_amazon_clock(25 * HOUR).await;
    assert_eq!(browser.view("review").await["view"], "nothing", "no details of an expired checkout");
    let placed = browser.place().await;
    // A clear refusal (the page shows it), or the cart with the expiry notice.
    match placed.status {
        200 => assert_eq!(placed.redirect(), cart_page("checkout_expired")),
        _ => assert_eq!(placed.error(409), "amazon_refused"),
    }
    browser.assert_no_orders().await;
}

#[tokio::test]
async fn a_checkout_expired_before_the_result_ends_in_checkout_expired_without_an_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    world.advance_amazon_clock(25 * HOUR).await;
    assert_eq!(browser.arrive(&result).await, cart_page("checkout_expired"));
    browser.assert_no_orders().await;
    assert_eq!(browser.cart().await["lines"][0]["productId"], MUG, "the shopper can check out again");
    assert_eq!(world.checkout_session(&id).await["statusDetails"]["reasonCode"], "Expired");
}

#[tokio::test]
async fn reloading_the_result_of_an_expired_checkout_still_says_it_expired() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    world.advance_amazon_clock(25 * HOUR).await;
    assert_eq!(browser.arrive(&result).await, cart_page("checkout_expired"));
    assert_eq!(browser.arrive(&result).await, cart_page("checkout_expired"));
}

// ---------------------------------------------------------------------------------------------
// Amazon unreachable
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn amazon_unreachable_at_place_is_reported_and_the_order_can_be_placed_later() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    world.amazon_control("faults", json!({ "status": 503, "count": RETRY.attempts })).await;
    assert_eq!(browser.place().await.error(502), "amazon_unavailable");
    browser.assert_no_orders().await;
    completed_order(&browser.place_and_finish().await, "order_placed");
    assert_eq!(browser.orders().await.len(), 1);
}

#[tokio::test]
async fn amazon_unreachable_at_the_result_keeps_the_order_for_another_try() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    world.amazon_control("faults", json!({ "status": 503, "count": RETRY.attempts })).await;
    assert_eq!(browser.arrive(&result).await, format!("{CONFIRM_PAGE}?amazonpay2=amazon_unavailable"));
    browser.assert_no_orders().await;
    completed_order(&browser.arrive(&result).await, "order_placed");
    assert_eq!(browser.orders().await.len(), 1);
}
