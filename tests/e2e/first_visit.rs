//! End to end: a first visit in a browser with no cookies, on a server that stores nothing for a
//! shopper who only looks.
//!
//! On a first page view two requests of the page start at once without a cookie: the shop page's
//! own (`GET /api/amazonpay2/session`) and the widget's (`POST /api/amazonpay2/buttons`). Each
//! answers a session cookie of its own and the browser keeps the last one. The first click on
//! 「カートに入れる」 must work all the same (the page reads the CSRF token when it needs it), and
//! so must the first click on the Amazon button (the widget, refused for a token of the other
//! session, asks for the page's views again and signs with the new token).

use crate::common::page::{WAIT, desktop, widget_settled};
use crate::common::shop::Shop;

#[tokio::test]
async fn the_first_click_of_a_first_visit_adds_to_the_cart_every_time() {
    let shop = Shop::start().await;
    for attempt in 0..3 {
        // A new browser each time: no cookie, the two first requests racing.
        let (_driver, browser) = desktop().await;
        browser.goto(&shop.url("/")).await.unwrap();
        browser.wait_for("document.querySelector('[data-add-product]')", WAIT, "the products").await.unwrap();
        browser.wait_for("document.readyState === 'complete'", WAIT, "the page").await.unwrap();
        // The losing side of the race, made certain: the cookie the browser keeps is the other
        // first request's (another anonymous session, issued by the server, than the one the
        // page first read).
        let other = another_first_request(&shop).await;
        browser.add_cookie("amazonpay2_sid", &other, true).await.unwrap();
        let add = browser.find("[data-add-product='1']").await.unwrap();
        browser.click(&add).await.unwrap();
        let found = browser
            .wait_for(
                "location.pathname === '/shopping/cart.html' && document.querySelector('[data-cart] tbody') \
                 && document.querySelector('[data-cart] tbody').textContent.includes('益子焼')",
                WAIT,
                "the mug in the cart",
            )
            .await;
        if found.is_err() {
            let log = browser.browser_log().await.unwrap();
            panic!("attempt {attempt}: the first click did not add to the cart: {log:?}");
        }
        browser.quit().await.unwrap();
    }
    shop.stop().await;
}

#[tokio::test]
async fn the_first_amazon_sign_in_click_of_a_first_visit_reaches_amazon() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/")).await.unwrap();
    widget_settled(&browser).await;
    let button = browser.find("[data-amazonpay='login'] .amazonpay2-button").await.unwrap();
    // The widget's request lost the race: the browser keeps another first request's session.
    let other = another_first_request(&shop).await;
    browser.add_cookie("amazonpay2_sid", &other, true).await.unwrap();
    browser.click(&button).await.unwrap();
    let reached = browser
        .wait_for(&format!("location.origin === '{}' && location.href", shop.simulator), WAIT, "Amazon's sign-in")
        .await;
    if reached.is_err() {
        let log = browser.browser_log().await.unwrap();
        panic!("the first Amazon click did not reach Amazon: {log:?}");
    }
    browser.quit().await.unwrap();
    shop.stop().await;
}

/// The anonymous session cookie value (`a.<id>`) the server gives a request without a cookie.
async fn another_first_request(shop: &Shop) -> String {
    let reply = reqwest::get(shop.url("/api/amazonpay2/session")).await.unwrap();
    let cookie = reply.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_owned();
    let value = cookie.split(';').next().and_then(|pair| pair.strip_prefix("amazonpay2_sid=")).unwrap();
    assert!(value.starts_with("a."), "{cookie}");
    value.to_owned()
}
