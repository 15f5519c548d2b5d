//! Amazon's returns to the shop that are not this browser's, hostile input and forged requests
//! (see `crate::common::checkout` for the harness).

use reqwest::header;
use serde_json::{Value, json};
use url::Url;

use crate::common::text::query_value;

use crate::common::checkout::*;

// ---------------------------------------------------------------------------------------------
// Returns that are not this browser's, hostile input, forged requests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_result_url_opened_in_another_browser_completes_nothing() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    let id = buyer.to_confirmation(VISA).await;
    let result = buyer.place_and_pay().await;
    let stranger = world.mug_shopper().await;
    assert_eq!(stranger.arrive(&result).await, cart_page("cart_changed"));
    world.assert_no_charge(&id).await;
    stranger.assert_no_orders().await;
    buyer.assert_no_orders().await;
    assert_eq!(stranger.cart().await["lines"][0]["quantity"], 1, "the stranger's cart is untouched");
    // The buyer's own return still completes their order.
    completed_order(&buyer.arrive(&result).await, "order_placed");
    assert_eq!(buyer.orders().await.len(), 1);
}

#[tokio::test]
async fn a_review_return_opened_in_a_browser_without_a_cart_binds_nothing() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    let flow = buyer.open_amazon().await;
    let review = buyer.consent(&flow, VISA).await;
    let stranger = world.browser();
    assert_eq!(stranger.arrive(&review).await, cart_page("return_refused"));
    assert_eq!(stranger.view("review").await["view"], "nothing");
    assert_eq!(stranger.place().await.redirect(), cart_page("cart_changed"));
}

/// IDs no Amazon return carries.
fn hostile_ids() -> Vec<String> {
    [
        "",
        "<script>alert(1)</script>",
        "x&next=https://evil.example",
        "../../admin",
        "a b",
        "x\r\nSet-Cookie: a=b",
        "%00",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(["a".repeat(5000)])
    .collect()
}

#[tokio::test]
async fn review_and_result_send_missing_and_hostile_ids_to_the_cart() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    for (path, notice) in [("/checkout/review", "return_refused"), ("/checkout/result", "cart_changed")] {
        let mut url = Url::parse(&browser.api(path)).unwrap();
        assert_eq!(browser.arrive(&url).await, cart_page(notice), "{path} without an ID");
        for id in hostile_ids() {
            url.query_pairs_mut().clear().append_pair("amazonCheckoutSessionId", &id).append_pair("ref", &id);
            assert_eq!(browser.arrive(&url).await, cart_page(notice), "{path} {id:?}");
        }
    }
    // Nothing was bound to the cart: there is no checkout to place.
    assert_eq!(browser.place().await.redirect(), cart_page("cart_changed"));
    browser.assert_no_orders().await;
}

#[tokio::test]
async fn a_result_for_a_checkout_amazon_never_issued_completes_nothing() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    browser.place_and_pay().await;
    let mut forged = Url::parse(&browser.api("/checkout/result")).unwrap();
    forged.query_pairs_mut().append_pair("amazonCheckoutSessionId", "00000000-0000-0000-0000-000000000000");
    assert_eq!(browser.arrive(&forged).await, cart_page("cart_changed"));
    browser.assert_no_orders().await;
}

#[tokio::test]
async fn place_refuses_forged_requests_and_asks_nothing_of_amazon() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    for forgery in Forgery::ALL {
        let answer = browser.post_forged("/checkout/place", json!({}), Some(forgery)).await;
        assert_eq!(answer.error(403), forgery.code(), "{forgery:?}");
    }
    let session = world.checkout_session(&id).await;
    assert_eq!(session["paymentDetails"]["chargeAmount"], Value::Null, "Amazon was not updated");
    assert_eq!(session["webCheckoutDetails"]["amazonPayRedirectUrl"], Value::Null);
    // The real page still places the one order.
    completed_order(&browser.place_and_finish().await, "order_placed");
    assert_eq!(browser.orders().await.len(), 1);
}

#[tokio::test]
async fn cart_updates_refuse_forged_requests_and_change_nothing() {
    let world = World::start().await;
    let browser = world.browser();
    let before = browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
    for forgery in Forgery::ALL {
        for change in [json!({ "productId": FUKIN, "quantity": 3 }), json!({ "shippingMethodId": PICKUP })] {
            let answer = browser.post_forged("/demo/cart", change.clone(), Some(forgery)).await;
            assert_eq!(answer.error(403), forgery.code(), "{forgery:?} {change}");
        }
    }
    assert_eq!(browser.cart().await, before);
}

#[tokio::test]
async fn cart_updates_refuse_unknown_products_shipping_methods_and_quantities() {
    let world = World::start().await;
    let browser = world.browser();
    let before = browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
    let cases = [
        (json!({ "productId": 999, "quantity": 1 }), 404, "unknown_product"),
        (json!({ "shippingMethodId": 999 }), 404, "unknown_shipping_method"),
        (json!({ "productId": MUG, "quantity": 100 }), 400, "invalid_quantity"),
        (json!({ "productId": MUG, "quantity": -1 }), 400, "invalid_request"),
        (json!({ "productId": MUG, "price": 1 }), 400, "invalid_request"),
    ];
    for (change, status, code) in cases {
        assert_eq!(browser.post("/demo/cart", change.clone()).await.error(status), code, "{change}");
    }
    assert_eq!(browser.cart().await, before);
}

#[tokio::test]
async fn reading_the_cart_of_a_shopper_who_only_looks_makes_nothing() {
    let world = World::start().await;
    let reply = reqwest::Client::new().get(format!("{}/api/amazonpay2/demo/cart", world.shop)).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    assert!(reply.headers().get(header::SET_COOKIE).is_none(), "no session for a shopper who only looks");
    let cart: Value = reply.json().await.unwrap();
    assert_eq!((cart["lines"].clone(), cart["total"].clone()), (json!([]), json!(0)));
}

// ---------------------------------------------------------------------------------------------
// The review return is bound to the cart, and the session follows who the shopper is
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_review_return_carrying_this_carts_reference_but_another_checkout_binds_nothing() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    // An earlier click made a checkout session; a later click gave the cart a new reference.
    let first = buyer.open_amazon().await;
    let second = buyer.open_amazon().await;
    let stale = buyer.consent(&first, VISA).await;
    let current = buyer.consent(&second, VISA).await;
    let reference = query_value(&current, "ref").unwrap();
    let mut forged = stale.clone();
    forged
        .query_pairs_mut()
        .clear()
        .append_pair("ref", &reference)
        .append_pair("amazonCheckoutSessionId", &query_value(&stale, "amazonCheckoutSessionId").unwrap());
    assert_eq!(buyer.arrive(&forged).await, cart_page("return_refused"), "Amazon made it for another click");
    assert_eq!(buyer.arrive(&stale).await, cart_page("return_refused"), "the old click's reference");
    assert_eq!(buyer.view("review").await["view"], "nothing");
    assert_eq!(buyer.arrive(&current).await, CONFIRM_PAGE);
}

#[tokio::test]
async fn another_sites_checkout_sent_to_the_shoppers_browser_shows_nothing_of_its_address() {
    let world = World::start().await;
    let attacker = world.mug_shopper().await;
    let flow = attacker.open_amazon().await;
    let review = attacker.consent(&flow, VISA).await;
    // The attacker sends the victim, who has a cart of their own, to their review return.
    let victim = world.mug_shopper().await;
    victim.open_amazon().await;
    assert_eq!(victim.arrive(&review).await, cart_page("return_refused"));
    assert_eq!(victim.view("review").await["view"], "nothing", "no attacker's address on the victim's page");
}

#[tokio::test]
async fn the_review_return_renews_the_session() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    let flow = buyer.open_amazon().await;
    let review = buyer.consent(&flow, VISA).await;
    let before = buyer.csrf_token().await;
    let reply = buyer.http.get(review).send().await.unwrap();
    assert!(reply.headers().get(header::SET_COOKIE).is_some(), "a new session cookie");
    assert_ne!(buyer.csrf_token().await, before, "a token of the old session is worthless");
    assert_eq!(buyer.view("review").await["view"], "review", "the renewed session keeps the cart");
}

#[tokio::test]
async fn logging_out_drops_the_cart_and_its_amazon_checkout() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    buyer.to_confirmation(VISA).await;
    assert_eq!(buyer.view("review").await["view"], "review");
    assert_eq!(buyer.post("/demo/logout", json!({})).await.redirect(), "/");
    // The next person at the same device sees no address, phone or card, and an empty cart.
    assert_eq!(buyer.view("review").await["view"], "nothing");
    assert_eq!(buyer.cart().await["lines"], json!([]));
    assert_eq!(buyer.view("checkout").await, json!({ "view": "unavailable", "reason": "cartEmpty" }));
}

#[tokio::test]
async fn the_review_block_reuses_amazons_details_instead_of_asking_on_every_page_view() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    buyer.to_confirmation(VISA).await;
    let shown = buyer.view("review").await;
    assert_eq!(shown["view"], "review");
    // Amazon fails now; the details read a moment ago are shown all the same.
    world.amazon_control("faults", json!({ "status": 503, "count": 50 })).await;
    assert_eq!(buyer.view("review").await, shown);
    world.amazon_control("faults", json!({ "status": 503, "count": 0 })).await;
}

// ---------------------------------------------------------------------------------------------
// A checkout cancelled on Amazon's page
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_cancel_url_opened_from_another_site_changes_nothing() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    let session = buyer.to_confirmation(VISA).await;
    let review = buyer.view("review").await;
    assert_eq!(review["amazonCheckoutSessionId"], session.as_str(), "the confirmation shows Amazon's: {review}");

    // Any page can send a browser to a URL by GET (a link, an image, a redirect): the shopper's
    // checkout stays as it was, and 注文を確定する still goes on to Amazon.
    let cancel = Url::parse(&format!("{}/api/amazonpay2/checkout/cancel", world.shop)).unwrap();
    assert_eq!(buyer.arrive(&cancel).await, cart_page("checkout_canceled"));
    assert_eq!(buyer.view("review").await, review, "the checkout is still the cart's");
    let redirect = buyer.place().await.redirect();
    assert!(redirect.starts_with(&format!("{}/checkout/process/", world.amazon)), "{redirect}");
}

#[tokio::test]
async fn a_checkout_the_buyer_cancels_on_amazons_page_ends_on_the_cart_with_the_notice() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    let flow = buyer.open_amazon().await;
    let back = buyer.http.get(format!("{}/checkout/cancel?flow={flow}", world.amazon)).send().await.unwrap();
    assert_eq!(back.status().as_u16(), 303, "Amazon sends the buyer back");
    let cancel_url = Url::parse(back.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(cancel_url.as_str(), format!("{}/api/amazonpay2/checkout/cancel", world.shop), "checkoutCancelUrl");
    assert_eq!(buyer.arrive(&cancel_url).await, cart_page("checkout_canceled"));

    // Back on the cart the button starts a new checkout, which completes as any other.
    let session = buyer.to_confirmation(VISA).await;
    completed_order(&buyer.place_and_finish().await, "order_placed");
    world.assert_one_charge(&session, MUG_ORDER).await;
}
