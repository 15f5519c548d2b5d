//! End to end: buying with Amazon Pay through to an authorized order (仮売上), and
//! subscriptions, with the real server, the simulator and the built widget in headless Chromium.

use serde_json::{Value, json};

use crate::common::page::{WAIT, api, desktop, request_done, signup_form};
use crate::common::shop::Shop;
use crate::common::webdriver::Browser;

async fn sign_up(browser: &Browser, email: &str) {
    let answer = api(browser, "demo/signup", signup_form(email)).await;
    assert!(answer["redirect"].is_string(), "{answer}");
}

/// The checkout block's button on the cart page: its renderButton options, and the config
/// checkout.js received when it was clicked (signed at that click; the form to Amazon held back).
async fn cart_button(browser: &Browser, shop: &Shop) -> (Value, Value) {
    browser.goto(&shop.url("/shopping/cart.html")).await.unwrap();
    browser
        .wait_for(
            "window.amazon && amazon.Pay._simulator && amazon.Pay._simulator.renders.length \
             && document.querySelector('.amazonpay2-button')",
            WAIT,
            "the checkout button",
        )
        .await
        .unwrap();
    let options = browser.execute("return amazon.Pay._simulator.renders[0].options", vec![]).await.unwrap();
    browser
        .execute(
            "window.__sent = HTMLFormElement.prototype.submit;
             HTMLFormElement.prototype.submit = function () { window.__held = this; };",
            vec![],
        )
        .await
        .unwrap();
    browser.click(&browser.find(".amazonpay2-button").await.unwrap()).await.unwrap();
    let signed = browser
        .wait_for("amazon.Pay._simulator.checkouts.length && amazon.Pay._simulator.checkouts[0]", WAIT, "initCheckout")
        .await
        .unwrap();
    browser.execute("HTMLFormElement.prototype.submit = window.__sent;", vec![]).await.unwrap();
    (options, signed)
}

/// The checkout block's message on the cart page.
async fn cart_message(browser: &Browser, shop: &Shop) -> String {
    browser.goto(&shop.url("/shopping/cart.html")).await.unwrap();
    let text = browser
        .wait_for("document.querySelector('[data-amazonpay=checkout] .amazonpay2-message') && document.querySelector('[data-amazonpay=checkout] .amazonpay2-message').textContent", WAIT, "the block's message")
        .await
        .unwrap();
    text.as_str().unwrap_or_default().to_owned()
}

/// Clicks the Amazon button, picks `card` on the simulator's page, and comes back to the
/// order confirmation page.
async fn choose_on_amazon(browser: &Browser, shop: &Shop, card: &str) {
    browser.wait_for("document.querySelector('.amazonpay2-button')", WAIT, "the button").await.unwrap();
    let button = browser.find(".amazonpay2-button").await.unwrap();
    browser.click(&button).await.unwrap();
    browser
        .wait_for(
            &format!("location.origin === '{}' && document.getElementById('continue')", shop.simulator),
            WAIT,
            "Amazon's page",
        )
        .await
        .unwrap();
    browser
        .execute(&format!("document.querySelector('input[name=card][value={card}]').click()"), vec![])
        .await
        .unwrap();
    let proceed = browser.find("#continue").await.unwrap();
    browser.click(&proceed).await.unwrap();
    browser
        .wait_for(&format!("location.href === '{}'", shop.url("/shopping/confirm.html")), WAIT, "the confirmation page")
        .await
        .unwrap();
}

/// Places the order on the confirmation page and waits for the page after Amazon.
async fn place_order(browser: &Browser, shop: &Shop) -> String {
    if browser.wait_for("document.querySelector('.amazonpay2-review')", WAIT, "the review block").await.is_err() {
        let html = browser.execute("return document.querySelector('main').innerHTML", vec![]).await.unwrap();
        let log = browser.browser_log().await.unwrap();
        panic!("no review block: {html}\n{log:?}");
    }
    let place = browser.find(".amazonpay2-place").await.unwrap();
    assert_eq!(browser.text(&place).await.unwrap(), "注文を確定する");
    browser.click(&place).await.unwrap();
    let url = browser
        .wait_for(&format!("location.origin === '{}' && !location.pathname.startsWith('/api/') && document.readyState === 'complete' && location.pathname !== '/shopping/confirm.html' && location.href", shop.origin), WAIT, "back at the shop")
        .await
        .unwrap();
    url.as_str().unwrap_or_default().to_owned()
}

/// My Page's orders table, as text.
async fn my_orders(browser: &Browser, shop: &Shop) -> String {
    browser.goto(&shop.url("/mypage/")).await.unwrap();
    let text = browser
        .wait_for("document.querySelector('[data-orders]').textContent.includes('注文番号') && document.querySelector('[data-orders]').textContent", WAIT, "the orders")
        .await
        .unwrap();
    text.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_one_time_purchase_becomes_an_authorized_order() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/")).await.unwrap();
    sign_up(&browser, "buyer@example.jp").await;
    api(&browser, "demo/cart", json!({"productId": 1, "quantity": 2})).await;
    let (options, signed) = cart_button(&browser, &shop).await;
    assert_eq!(options["productType"], "PayAndShip");
    assert_eq!(options["estimatedOrderAmount"], json!({"amount": "6380", "currencyCode": "JPY"}));
    assert_eq!(signed["estimatedOrderAmount"], json!({"amount": "6380", "currencyCode": "JPY"}));
    let payload: Value =
        serde_json::from_str(signed["createCheckoutSessionConfig"]["payloadJSON"].as_str().unwrap()).unwrap();
    assert_eq!(payload["chargePermissionType"], "OneTime");

    choose_on_amazon(&browser, &shop, "visa").await;
    let review = browser
        .wait_for(
            "document.querySelector('.amazonpay2-review') && document.querySelector('.amazonpay2-review').textContent",
            WAIT,
            "the review block",
        )
        .await
        .unwrap();
    let review = review.as_str().unwrap();
    assert!(review.contains("東京都目黒区下目黒1-8-1") && review.contains("Visa ****1111"), "{review}");
    assert_eq!(
        browser.execute("return document.querySelectorAll('.amazonpay2-change').length", vec![]).await.unwrap(),
        2
    );
    // Editing the address in the shop warns about the marketplace guarantee.
    let edit = browser.find("[data-edit-address]").await.unwrap();
    browser.click(&edit).await.unwrap();
    let warning = browser.text(&browser.find("[data-address-warning]").await.unwrap()).await.unwrap();
    assert!(warning.contains("マーケットプレイス保証対象外"), "{warning}");

    let url = place_order(&browser, &shop).await;
    assert!(url.starts_with(&shop.url("/shopping/complete.html?order=")), "{url}");
    let orders = my_orders(&browser, &shop).await;
    assert!(orders.contains("6,380 円") && orders.contains("仮売上"), "{orders}");
    // The cart is empty again.
    assert!(cart_message(&browser, &shop).await.contains("カートに商品がない"));
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn a_declined_card_makes_no_order_and_says_so() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/")).await.unwrap();
    sign_up(&browser, "declined@example.jp").await;
    api(&browser, "demo/cart", json!({"productId": 2, "quantity": 1})).await;
    cart_button(&browser, &shop).await;
    choose_on_amazon(&browser, &shop, "mastercard").await;
    let url = place_order(&browser, &shop).await;
    assert!(url.starts_with(&shop.url("/shopping/cart.html")), "{url}");
    let notice = browser
        .wait_for(
            "document.querySelector('.amazonpay2-notice') && document.querySelector('.amazonpay2-notice').textContent",
            WAIT,
            "the notice",
        )
        .await
        .unwrap();
    assert!(notice.as_str().unwrap().contains("承認されませんでした"), "{notice}");
    // The widget took the notice code out of the address when it showed it.
    assert_eq!(browser.current_url().await.unwrap(), shop.url("/shopping/cart.html"));
    browser.goto(&shop.url("/mypage/")).await.unwrap();
    request_done(&browser, "/api/amazonpay2/demo/orders").await;
    let orders = browser.execute("return document.querySelector('[data-orders]').textContent", vec![]).await.unwrap();
    assert!(orders.as_str().unwrap().contains("ご注文はまだありません"), "{orders}");
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn carts_amazon_pay_cannot_serve_say_why_instead_of_a_button() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/")).await.unwrap();
    assert!(cart_message(&browser, &shop).await.contains("カートに商品がない"));
    api(&browser, "demo/cart", json!({"productId": 1, "quantity": 1})).await;
    api(&browser, "demo/cart", json!({"shippingMethodId": 3})).await;
    assert!(cart_message(&browser, &shop).await.contains("配送方法では Amazon Pay をご利用いただけません"));
    // A subscription of exactly ¥100,000 a month is allowed (2 × 49,560 + 880 shipping) …
    api(&browser, "demo/cart", json!({"productId": 1, "quantity": 0})).await;
    api(&browser, "demo/cart", json!({"productId": 5, "quantity": 2})).await;
    api(&browser, "demo/cart", json!({"shippingMethodId": 1})).await;
    let (options, signed) = cart_button(&browser, &shop).await;
    assert_eq!(options["estimatedOrderAmount"]["amount"], "100000");
    let payload: Value =
        serde_json::from_str(signed["createCheckoutSessionConfig"]["payloadJSON"].as_str().unwrap()).unwrap();
    assert_eq!(payload["chargePermissionType"], "Recurring");
    assert_eq!(
        payload["recurringMetadata"],
        json!({"frequency": {"unit": "Month", "value": "1"}, "amount": {"amount": "100000", "currencyCode": "JPY"}})
    );
    // … and more is refused before Amazon is ever asked (クール便: 100,220 a month).
    api(&browser, "demo/cart", json!({"shippingMethodId": 4})).await;
    assert!(cart_message(&browser, &shop).await.contains("100,000 円まで"));
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn a_subscription_starts_and_its_next_cycles_are_charged_by_the_command() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/")).await.unwrap();
    sign_up(&browser, "subscriber@example.jp").await;
    api(&browser, "demo/cart", json!({"productId": 4, "quantity": 1})).await;
    cart_button(&browser, &shop).await;
    choose_on_amazon(&browser, &shop, "visa").await;
    let url = place_order(&browser, &shop).await;
    assert!(url.starts_with(&shop.url("/shopping/complete.html?order=")), "{url}");
    let orders = my_orders(&browser, &shop).await;
    assert!(orders.contains("9,680 円") && orders.contains("仮売上") && orders.contains("定期購入"), "{orders}");
    let next = browser
        .wait_for("document.querySelector('[data-subscriptions]').textContent.includes('次回') && document.querySelector('[data-subscriptions]').textContent", WAIT, "the subscription")
        .await
        .unwrap();
    assert!(next.as_str().unwrap().contains("毎月 9,680 円"), "{next}");

    // The next cycle, run as the shop would schedule it: a new order, authorized.
    let state = shop.command_state().await;
    let far = time::macros::date!(9999 - 12 - 31);
    let subscription = state.core.platform().due_subscriptions(far).await.unwrap().remove(0);
    let day = subscription.next_cycle;
    let cycles = state.core.run_subscriptions(day).await.unwrap();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].state.name(), "authorized");
    // Running it again the same day charges nothing twice.
    assert!(state.core.run_subscriptions(day).await.unwrap().is_empty());
    let orders = my_orders(&browser, &shop).await;
    assert_eq!(orders.matches("仮売上").count(), 2, "{orders}");
    browser.quit().await.unwrap();
    shop.stop().await;
}
