//! The checkout block over real HTTP: why Amazon Pay cannot serve a cart, or a button for it, and
//! the payload signed when the shopper clicks it (see `crate::common::checkout` for the harness).

use serde_json::json;

use crate::common::checkout::*;

// ---------------------------------------------------------------------------------------------
// The checkout block: why not, or a button for this cart
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_empty_cart_says_so_instead_of_a_button() {
    let world = World::start().await;
    let browser = world.browser();
    assert_eq!(browser.view("checkout").await, json!({ "view": "unavailable", "reason": "cartEmpty" }));
    browser.set_quantity(MUG, 1).await;
    assert_eq!(browser.view("checkout").await["view"], "button");
    let cart = browser.set_quantity(MUG, 0).await;
    assert_eq!(cart["lines"], json!([]), "quantity 0 removes the product");
    assert_eq!(browser.view("checkout").await, json!({ "view": "unavailable", "reason": "cartEmpty" }));
}

#[tokio::test]
async fn a_shipping_method_without_amazon_pay_says_so_instead_of_a_button() {
    let world = World::start().await;
    let browser = world.browser();
    browser.fill_cart(&[(MUG, 1)], PICKUP).await;
    let refused = json!({ "view": "unavailable", "reason": "shippingMethodNotAllowed" });
    assert_eq!(browser.view("checkout").await, refused);
    for allowed in [TAKKYUBIN, NEKOPOS, COOL] {
        browser.choose_shipping(allowed).await;
        assert_eq!(browser.view("checkout").await["view"], "button", "shipping method {allowed}");
    }
}

#[tokio::test]
async fn a_one_time_cart_gets_a_one_time_button_estimating_the_total_with_shipping() {
    let world = World::start().await;
    let browser = world.browser();
    let cart = browser.fill_cart(&[(MUG, 2), (FUKIN, 1)], COOL).await;
    assert_eq!(cart["total"], 2 * 2750 + 1980 + 1100);
    let view = browser.view("checkout").await;
    assert_eq!(view["options"]["estimatedOrderAmount"], yen(8580));
    let payload = browser.checkout_payload().await;
    assert_eq!(payload["chargePermissionType"], "OneTime");
    assert!(payload.get("recurringMetadata").is_none(), "{payload}");
    let review = payload["webCheckoutDetails"]["checkoutReviewReturnUrl"].as_str().unwrap();
    let prefix = format!("{}/api/amazonpay2/checkout/review?ref=", world.shop);
    assert!(review.starts_with(&prefix) && review.len() > prefix.len() + 20, "a reference of the cart's: {review}");
    assert_eq!(
        payload["webCheckoutDetails"]["checkoutCancelUrl"],
        format!("{}/api/amazonpay2/checkout/cancel", world.shop)
    );
}

#[tokio::test]
async fn a_subscription_of_exactly_100000_yen_a_month_gets_a_recurring_button() {
    let world = World::start().await;
    let browser = world.browser();
    let cart = browser.fill_cart(&[(PLATTER, 2)], TAKKYUBIN).await;
    assert_eq!((cart["total"].as_u64(), cart["recurring"].as_bool()), (Some(100_000), Some(true)));
    assert_eq!(browser.view("checkout").await["options"]["estimatedOrderAmount"], yen(100_000));
    let payload = browser.checkout_payload().await;
    assert_eq!(payload["chargePermissionType"], "Recurring");
    assert_eq!(
        payload["recurringMetadata"],
        json!({ "frequency": { "unit": "Month", "value": "1" }, "amount": yen(100_000) })
    );
}

#[tokio::test]
async fn a_subscription_of_100220_yen_a_month_is_refused_for_the_monthly_limit() {
    let world = World::start().await;
    let browser = world.browser();
    let cart = browser.fill_cart(&[(PLATTER, 2)], COOL).await;
    assert_eq!(cart["total"], 100_220);
    assert_eq!(browser.view("checkout").await, json!({ "view": "unavailable", "reason": "recurringMonthlyLimit" }));
}

#[tokio::test]
async fn a_mixed_subscription_cart_pays_the_whole_cart_now_and_tells_amazon_what_recurs_monthly() {
    let world = World::start().await;
    let browser = world.browser();
    browser.fill_cart(&[(SEASONAL_BOX, 1), (MUG, 1)], TAKKYUBIN).await;
    assert_eq!(browser.view("checkout").await["options"]["estimatedOrderAmount"], yen(8800 + 2750 + 880));
    let payload = browser.checkout_payload().await;
    assert_eq!(payload["chargePermissionType"], "Recurring");
    assert_eq!(payload["recurringMetadata"]["amount"], yen(8800 + 880), "the 定期購入 line and one delivery");
}

#[tokio::test]
async fn one_time_purchases_have_no_monthly_limit() {
    let world = World::start().await;
    let browser = world.browser();
    browser.fill_cart(&[(MUG, 99)], TAKKYUBIN).await;
    let view = browser.view("checkout").await;
    assert_eq!(view["options"]["estimatedOrderAmount"], yen(99 * 2750 + 880), "{view}");
}
