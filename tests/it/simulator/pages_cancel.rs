//! The cancel links of the simulator's hosted pages: to the signed cancel URL, else to the shop
//! page the button was on, else none; a canceled flow is over; cancel URLs off the shop origin
//! and unknown flows are refused; the change page's cancel returns to the review URL.

use serde_json::json;

use crate::common::simulator_pages::*;

const SIGNIN_CANCEL: &str = "https://shop.example/member/login.html?from=amazon";
const CHECKOUT_CANCEL: &str = "https://shop.example/shopping/cart.html?canceled=1";

/// The `href` of a page's cancel link, if it has one.
fn cancel_href(reply: &Reply) -> Option<String> {
    between(&reply.text(), "id=\"cancel\" href=\"", "\"").map(|href| href.replace("&amp;", "&"))
}

fn sign_in_with_cancel(cancel: &str) -> Button {
    let payload = json!({
        "signInReturnUrl": SIGNIN_RETURN,
        "signInCancelUrl": cancel,
        "storeId": STORE_ID,
        "signInScopes": ["name", "email"],
    });
    Button::signed("SignIn", payload.to_string())
}

fn checkout_with_cancel(cancel: &str) -> Button {
    let payload = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW_RETURN, "checkoutCancelUrl": cancel },
        "storeId": STORE_ID,
        "scopes": ["name", "email"],
    });
    Button::signed("PayAndShip", payload.to_string())
}

#[tokio::test]
async fn the_sign_in_cancel_link_goes_to_the_sign_in_cancel_url_and_ends_the_flow() {
    let amazon = Amazon::new();
    let page = amazon.initiate(&sign_in_with_cancel(SIGNIN_CANCEL)).await;
    let flow = page.flow_id();
    let href = cancel_href(&page).expect("a cancel link");
    assert_eq!(href, format!("/checkout/cancel?flow={flow}"));
    let back = amazon.get(&href).await.see_other();
    assert_eq!(back.as_str(), SIGNIN_CANCEL, "no buyer token: the buyer did not sign in");
    assert_eq!(amazon.continue_flow(&flow).await.error_code(), "InvalidRequest", "a canceled flow is over");
    assert_eq!(amazon.get(&href).await.error_code(), "InvalidRequest", "and can be canceled once");
}

#[tokio::test]
async fn the_checkout_cancel_link_goes_to_the_checkout_cancel_url() {
    let amazon = Amazon::new();
    let page = amazon.initiate(&checkout_with_cancel(CHECKOUT_CANCEL)).await;
    let flow = page.flow_id();
    let back = amazon.get(&cancel_href(&page).expect("a cancel link")).await.see_other();
    assert_eq!(back.as_str(), CHECKOUT_CANCEL);
    assert_eq!(amazon.continue_flow(&flow).await.error_code(), "InvalidRequest");
}

#[tokio::test]
async fn without_a_cancel_url_the_link_returns_to_the_page_the_button_was_on() {
    let amazon = Amazon::new();
    for button in [Button::sign_in(), Button::checkout()] {
        let page = amazon.initiate(&button.with("origin_url", "https://shop.example/shopping/login.html")).await;
        let back = amazon.get(&cancel_href(&page).expect("a cancel link")).await.see_other();
        assert_eq!(back.as_str(), "https://shop.example/shopping/login.html");
    }
}

#[tokio::test]
async fn without_a_cancel_url_or_a_shop_page_there_is_no_cancel_link() {
    let amazon = Amazon::new();
    for origin_url in ["https://evil.example/phish", "javascript:alert(1)", "", "not a url", "http://shop.example/x"] {
        for button in [Button::sign_in(), Button::checkout()] {
            let page = amazon.initiate(&button.with("origin_url", origin_url)).await;
            page.flow_id();
            assert_eq!(cancel_href(&page), None, "origin_url {origin_url:?}");
        }
    }
    let page = amazon.initiate(&Button::sign_in().without("origin_url")).await;
    assert_eq!(cancel_href(&page), None);
}

#[tokio::test]
async fn the_cancel_url_wins_over_the_page_the_button_was_on() {
    let amazon = Amazon::new();
    let page = amazon.initiate(&sign_in_with_cancel(SIGNIN_CANCEL).with("origin_url", "https://shop.example/")).await;
    assert_eq!(amazon.get(&cancel_href(&page).unwrap()).await.see_other().as_str(), SIGNIN_CANCEL);
}

#[tokio::test]
async fn cancel_urls_off_the_shop_origin_are_refused_like_return_urls() {
    let amazon = Amazon::new();
    for cancel in ["https://evil.example/login", "http://shop.example/login", "not a url", "javascript:alert(1)"] {
        assert_eq!(amazon.refusal(&sign_in_with_cancel(cancel)).await, "InvalidParameterValue", "{cancel}");
        assert_eq!(amazon.refusal(&checkout_with_cancel(cancel)).await, "InvalidParameterValue", "{cancel}");
    }
    let live = sign_in_with_cancel("http://shop.example/login").with("environment", "LIVE");
    assert_eq!(amazon.refusal(&live).await, "InvalidParameterValue");
}

#[tokio::test]
async fn an_unknown_or_hostile_cancel_flow_is_refused() {
    let amazon = Amazon::new();
    for flow in ["", "unknown", HOSTILE] {
        let uri = format!(
            "/checkout/cancel?flow={}",
            url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()
        );
        let reply = amazon.get(&uri).await;
        assert_eq!(reply.error_code(), "InvalidRequest", "{flow:?}");
        assert!(!reply.text().contains("<script>"));
    }
}

#[tokio::test]
async fn the_change_page_cancel_returns_to_the_review_url_unchanged() {
    let amazon = Amazon::new();
    let review = amazon.round_trip(&Button::checkout()).await;
    let id = query(&review).into_iter().find(|(k, _)| k == "amazonCheckoutSessionId").unwrap().1;
    let page =
        amazon.get(&format!("/checkout/initiate_auth?amazonCheckoutSessionId={id}&changeAction=changePayment")).await;
    page.flow_id();
    assert_eq!(between(&page.text(), "id=\"cancel\" href=\"", "\"").unwrap().replace("&amp;", "&"), review.as_str());
}
