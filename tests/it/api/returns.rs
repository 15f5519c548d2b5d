//! Amazon's returns to the shop in-process, up to the point where Amazon is asked: the sign-in
//! return and the checkout review and result (see `crate::common::api` for the harness).

use axum::http::{Method, header};
use serde_json::{Value, json};
use url::Url;

use crate::common::api::*;

// ---------------------------------------------------------------------------------------------
// Amazon's sign-in return
// ---------------------------------------------------------------------------------------------

/// The sign-in return URI for `state`, with `intent` and `buyerToken` (each omitted when `None`).
fn sign_in_return(intent: Option<&str>, state: Option<&str>, buyer_token: Option<&str>) -> String {
    let pairs: Vec<(&str, &str)> = [("intent", intent), ("state", state), ("buyerToken", buyer_token)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    with_query(SIGNIN_RETURN, &pairs)
}

/// A token of Amazon's shape; this file's Amazon is unreachable, so it is never exchanged.
const BUYER_TOKEN: &str = "amzn1.buyer.token.ABCdef012_-";

#[tokio::test]
async fn sign_in_return_takes_the_sessions_own_state_on_to_amazon() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let state = browser.sign_in_state().await;
    let reply = browser.get(&sign_in_return(Some("login"), Some(&state), Some(BUYER_TOKEN))).await;
    // Accepted: the server asked Amazon (unreachable here) instead of refusing the return.
    reply.assert_notice("/", "amazon_unavailable");
    assert!(reply.header(header::SET_COOKIE).is_some(), "the state is spent: a new session");
    assert_eq!(browser.member_state().await, "guest");
}

#[tokio::test]
async fn https_shops_renew_sessions_with_a_secure_httponly_cookie() {
    let shop = Shop::production().await;
    let mut browser = shop.browser();
    let state = browser.sign_in_state().await;
    let reply = browser.get(&sign_in_return(Some("login"), Some(&state), Some(BUYER_TOKEN))).await;
    let attributes = cookie_attributes(&reply);
    for expected in ["secure", "httponly", "samesite=lax"] {
        assert!(attributes.iter().any(|a| a == expected), "{expected} missing from {attributes:?}");
    }
}

#[tokio::test]
async fn sign_in_return_accepts_the_exact_signed_url_plus_the_buyer_token() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let mut url = browser.sign_in_return_url().await;
    url.query_pairs_mut().append_pair("buyerToken", BUYER_TOKEN);
    let reply = browser.get(&format!("{}?{}", url.path(), url.query().unwrap())).await;
    reply.assert_notice("/", "amazon_unavailable");
}

#[tokio::test]
async fn sign_in_return_state_works_once() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let url = sign_in_return(Some("login"), Some(&browser.sign_in_state().await), Some(BUYER_TOKEN));
    browser.get(&url).await.assert_notice("/", "amazon_unavailable");
    browser.get(&url).await.assert_notice("/", "return_refused");
}

#[tokio::test]
async fn sign_in_return_refuses_a_missing_state() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    browser.sign_in_state().await;
    for state in [None, Some("")] {
        let reply = browser.get(&sign_in_return(Some("login"), state, Some(BUYER_TOKEN))).await;
        reply.assert_notice("/", "return_refused");
        assert!(reply.header(header::SET_COOKIE).is_none(), "a refused return spends nothing");
    }
}

#[tokio::test]
async fn sign_in_return_refuses_another_sessions_state() {
    let shop = Shop::demo().await;
    let mut victim = shop.browser();
    let mut attacker = shop.browser();
    attacker.become_member(false).await;
    let attacker_state = attacker.sign_in_state().await;
    victim.become_member(false).await;
    victim.sign_in_state().await;
    let link = sign_in_return(Some("link"), Some(&attacker_state), Some(BUYER_TOKEN));
    victim.get(&link).await.assert_notice("/", "return_refused");
    assert_eq!(view_name(&victim.view_of("mypage").await), "button", "the victim was not linked");
}

#[tokio::test]
async fn sign_in_return_refuses_a_missing_or_hostile_buyer_token() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let long = "a".repeat(5000);
    for token in [None, Some(""), Some("<script>alert(1)</script>"), Some(long.as_str()), Some("a b"), Some("tok\"en")]
    {
        // Each try spends the state, so each takes the session's current one.
        let state = browser.sign_in_state().await;
        let reply = browser.get(&sign_in_return(Some("login"), Some(&state), token)).await;
        reply.assert_notice("/", "amazon_token_invalid");
        assert!(!reply.text().contains("<script>alert"), "hostile token echoed");
        assert_eq!(browser.member_state().await, "guest");
    }
}

#[tokio::test]
async fn sign_in_return_refuses_an_unknown_intent() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let state = browser.sign_in_state().await;
    for intent in [None, Some(""), Some("admin"), Some("LINK"), Some("<script>")] {
        let reply = browser.get(&sign_in_return(intent, Some(&state), Some(BUYER_TOKEN))).await;
        reply.assert_notice("/", "return_refused");
    }
}

#[tokio::test]
async fn sign_in_return_refuses_a_browser_without_a_session() {
    let shop = Shop::demo().await;
    let state = shop.browser().sign_in_state().await;
    let reply = shop.get(&sign_in_return(Some("login"), Some(&state), Some(BUYER_TOKEN))).await;
    reply.assert_notice("/", "return_refused");
}

/// A guest's click of the login button on the page `referer`.
async fn login_button_from(browser: &mut Browser<'_>, referer: &str) {
    browser.sign("login", Some(referer)).await.assert_status(200);
}

#[tokio::test]
async fn a_return_sends_the_guest_back_to_the_page_of_the_login_button() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    login_button_from(&mut browser, &format!("{DEMO_ORIGIN}/shopping/login.html?item=3")).await;
    let forged = sign_in_return(Some("login"), Some("forged"), Some(BUYER_TOKEN));
    browser.get(&forged).await.assert_redirect_to("/shopping/login.html?item=3&amazonpay2=return_refused");
}

#[tokio::test]
async fn only_a_same_origin_page_is_remembered_to_return_to() {
    for referer in [
        format!("{FOREIGN_ORIGIN}/phishing.html"),
        format!("{DEMO_ORIGIN}.evil.example/x"),
        format!("{DEMO_ORIGIN}//evil.example/x"),
        format!("{DEMO_ORIGIN}/\\evil.example/x"),
        format!("{DEMO_ORIGIN}{SIGNIN_RETURN}?intent=login"),
        "javascript:alert(1)".to_owned(),
    ] {
        let shop = Shop::demo().await;
        let mut browser = shop.browser();
        login_button_from(&mut browser, &referer).await;
        let forged = sign_in_return(Some("login"), Some("forged"), Some(BUYER_TOKEN));
        browser.get(&forged).await.assert_notice("/", "return_refused");
    }
}

// ---------------------------------------------------------------------------------------------
// Amazon's checkout review return
// ---------------------------------------------------------------------------------------------

/// A checkout session ID of Amazon's shape; this file's Amazon is unreachable.
const CHECKOUT_SESSION_ID: &str = "a1b2c3d4-e5f6-a7b8-c9d0-e1f2a3b4c5d6";

const CART_PAGE: &str = "/shopping/cart.html";

fn review_return(review_ref: &str, id: &str) -> String {
    with_query(CHECKOUT_REVIEW, &[("ref", review_ref), ("amazonCheckoutSessionId", id)])
}

/// The review reference a click of the checkout button signed for this shopper's cart.
async fn review_ref(browser: &mut Browser<'_>) -> String {
    let config = browser.signed("checkout").await;
    let payload: Value = serde_json::from_str(config["payloadJSON"].as_str().unwrap()).unwrap();
    let url = Url::parse(payload["webCheckoutDetails"]["checkoutReviewReturnUrl"].as_str().unwrap()).unwrap();
    query_value(&url, "ref").expect("a review reference")
}

#[tokio::test]
async fn checkout_review_asks_amazon_before_binding_and_binds_nothing_while_it_is_unreachable() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    let reference = review_ref(&mut browser).await;
    browser.get(&review_return(&reference, CHECKOUT_SESSION_ID)).await.assert_notice(CART_PAGE, "amazon_unavailable");
    assert_eq!(shop.bound_checkout_session(browser.cookie.as_deref().unwrap()).await, None);
}

#[tokio::test]
async fn checkout_review_without_this_carts_reference_binds_nothing() {
    let shop = Shop::demo().await;
    shop.get(&review_return("r", CHECKOUT_SESSION_ID)).await.assert_notice(CART_PAGE, "return_refused");
    let mut browser = shop.browser();
    browser.open_session().await; // a session, but it never had a cart
    browser.get(&review_return("r", CHECKOUT_SESSION_ID)).await.assert_notice(CART_PAGE, "return_refused");
    let mut shopper = shop.shopper().await;
    let reference = review_ref(&mut shopper).await;
    // Another site sends the shopper here with its own checkout session and a made-up reference.
    let forged = review_ref(&mut shop.shopper().await).await;
    assert_ne!(forged, reference);
    shopper.get(&review_return(&forged, CHECKOUT_SESSION_ID)).await.assert_notice(CART_PAGE, "return_refused");
    assert_eq!(shop.bound_checkout_session(shopper.cookie.as_deref().unwrap()).await, None);
}

#[tokio::test]
async fn checkout_review_sends_missing_and_hostile_ids_to_the_cart_and_binds_nothing() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    let reference = review_ref(&mut browser).await;
    let long = "a".repeat(5000);
    for id in [
        "",
        "..",
        "<script>alert(1)</script>",
        "x&next=https://evil.example",
        "../../admin",
        "a b",
        "x\r\nSet-Cookie: a=b",
        long.as_str(),
    ] {
        for url in [review_return(&reference, id), review_return(id, CHECKOUT_SESSION_ID)] {
            let reply = browser.get(&url).await;
            reply.assert_notice(CART_PAGE, "return_refused");
            assert!(!reply.text().contains("<script>alert"));
            assert!(reply.header(header::SET_COOKIE).is_none(), "{id:?}");
        }
        assert_eq!(shop.bound_checkout_session(browser.cookie.as_deref().unwrap()).await, None, "{id:?}");
    }
    browser.get(CHECKOUT_REVIEW).await.assert_notice(CART_PAGE, "return_refused");
}

#[tokio::test]
async fn placing_an_order_while_amazon_is_unreachable_answers_502_and_lists_no_order() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    browser.become_member(false).await;
    browser.bind_checkout(CHECKOUT_SESSION_ID).await;
    let request = browser.guarded(Method::POST, CHECKOUT_PLACE, Some(json!({})));
    assert_eq!(browser.send(request).await.api_error(502), "amazon_unavailable");
    let history = browser.get("/api/amazonpay2/demo/orders").await;
    history.assert_status(200);
    assert_eq!(history.json()["orders"], json!([]), "no order without Amazon's authorization");
    let bound = shop.bound_checkout_session(browser.cookie.as_deref().unwrap()).await;
    assert_eq!(bound.as_deref(), Some(CHECKOUT_SESSION_ID), "the shopper can try again");
}
