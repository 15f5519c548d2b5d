//! The simulator's hosted pages for good buttons: checkout.js, the sign-in page and its test
//! buyers, the consent page, continuing back to the shop once per flow with a buyer token or a
//! checkout session ID, `initiate_auth`, `signout`'s CORS, and Amazon's API paths beside them.

use axum::http::{StatusCode, header};
use serde_json::Value;
use url::Url;

use crate::common::simulator_pages::*;
use amazonpay2::simulator::TEST_BUYERS;

// ---------------------------------------------------------------------------------------------
// checkout.js and the hosted pages for good buttons
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn checkout_js_is_javascript() {
    let reply = Amazon::new().get("/checkout.js").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("application/javascript")));
    let script = reply.text();
    assert!(script.contains("renderButton") && script.contains("/checkout/initiate"));
}

#[tokio::test]
async fn a_signed_sign_in_button_shows_the_sign_in_page() {
    let reply = Amazon::new().initiate(&Button::sign_in()).await;
    assert!(!reply.flow_id().is_empty());
    assert!(reply.text().contains("サインイン"));
    assert!(reply.text().contains(SHOP), "the page names the shop");
}

#[tokio::test]
async fn the_sign_in_page_offers_every_test_buyer_with_the_first_chosen() {
    let text = Amazon::new().initiate(&Button::sign_in()).await.text();
    for (index, buyer) in TEST_BUYERS.iter().enumerate() {
        let checked = if index == 0 { " checked" } else { "" };
        let radio = format!("<input type=\"radio\" name=\"buyer\" value=\"{index}\"{checked}>");
        assert!(text.contains(&radio), "{radio} in {text}");
        for shown in [buyer.name, buyer.email, buyer.postal_code, buyer.prefecture, buyer.line1] {
            assert!(text.contains(shown), "{shown} is shown");
        }
    }
    assert_eq!(text.matches("name=\"buyer\"").count(), TEST_BUYERS.len());
}

#[tokio::test]
async fn the_test_buyers_are_distinct_japanese_accounts() {
    let emails: std::collections::HashSet<&str> = TEST_BUYERS.iter().map(|b| b.email).collect();
    assert_eq!(emails.len(), TEST_BUYERS.len());
    for buyer in &TEST_BUYERS {
        assert_eq!(buyer.name.split(' ').count(), 2, "姓 名 with a space: {}", buyer.name);
        let digits: Vec<usize> = buyer.postal_code.split('-').map(str::len).collect();
        assert_eq!(digits, [3, 4], "〒 NNN-NNNN: {}", buyer.postal_code);
        let prefecture = buyer.prefecture;
        assert!(["都", "道", "府", "県"].iter().any(|s| prefecture.ends_with(s)), "{prefecture}");
        assert!(buyer.phone.chars().all(|c| c.is_ascii_digit()) && buyer.phone.len() >= 10);
    }
}

#[tokio::test]
async fn a_signed_checkout_button_shows_the_consent_page() {
    let reply = Amazon::new().initiate(&Button::checkout()).await;
    assert!(!reply.flow_id().is_empty());
    assert!(reply.text().contains("お支払い"));
}

// ---------------------------------------------------------------------------------------------
// Continuing back to the shop
// ---------------------------------------------------------------------------------------------

/// `url` without its query: where the shopper lands.
fn base(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

#[tokio::test]
async fn continuing_a_sign_in_returns_to_the_signed_url_with_a_buyer_token() {
    let location = Amazon::new().round_trip(&Button::sign_in()).await;
    assert_eq!(base(&location), "https://shop.example/api/amazonpay2/signin/return");
    let pairs = query(&location);
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["intent", "state", "buyerToken"], "the return URL's own query is kept, in order");
    assert_eq!(pairs[0].1, "login");
    assert_eq!(pairs[1].1, "S1");
    assert!(pairs[2].1.len() >= 32, "an unguessable token");
}

#[tokio::test]
async fn continuing_a_checkout_returns_to_the_review_url_with_the_session_id() {
    let location = Amazon::new().round_trip(&Button::checkout()).await;
    assert_eq!(base(&location), "https://shop.example/api/amazonpay2/checkout/review");
    let pairs = query(&location);
    assert_eq!(pairs[0], ("cart".to_owned(), "c1".to_owned()), "the review URL's own query is kept");
    assert_eq!(pairs[1].0, "amazonCheckoutSessionId");
    let id = &pairs[1].1;
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "a UUID-shaped id: {id}");
}

#[tokio::test]
async fn a_flow_can_be_continued_only_once() {
    let amazon = Amazon::new();
    let flow = amazon.initiate(&Button::sign_in()).await.flow_id();
    amazon.continue_flow(&flow).await.see_other();
    assert_eq!(amazon.continue_flow(&flow).await.error_code(), "InvalidRequest");
}

#[tokio::test]
async fn each_click_gets_its_own_flow_and_buyer_token() {
    let amazon = Amazon::new();
    let first = query(&amazon.round_trip(&Button::sign_in()).await);
    let second = query(&amazon.round_trip(&Button::sign_in()).await);
    assert_ne!(first[2], second[2]);
}

#[tokio::test]
async fn an_unknown_flow_is_refused() {
    let amazon = Amazon::new();
    amazon.initiate(&Button::sign_in()).await.flow_id();
    for flow in ["", "unknown", HOSTILE] {
        let reply = amazon.continue_flow(flow).await;
        assert_eq!(reply.error_code(), "InvalidRequest", "{flow:?}");
    }
    let no_field = amazon.post_form("/checkout/continue", String::new()).await;
    assert_eq!(no_field.error_code(), "InvalidRequest");
}

#[tokio::test]
async fn initiate_auth_returns_a_known_checkout_session_to_its_review_url() {
    let amazon = Amazon::new();
    let review = amazon.round_trip(&Button::checkout()).await;
    let id = query(&review).into_iter().find(|(k, _)| k == "amazonCheckoutSessionId").unwrap().1;
    let uri = format!("/checkout/initiate_auth?amazonCheckoutSessionId={id}");
    assert_eq!(amazon.get(&uri).await.see_other(), review);
}

#[tokio::test]
async fn initiate_auth_refuses_an_unknown_checkout_session() {
    let amazon = Amazon::new();
    for uri in [
        "/checkout/initiate_auth",
        "/checkout/initiate_auth?amazonCheckoutSessionId=",
        "/checkout/initiate_auth?amazonCheckoutSessionId=00000000-0000-0000-0000-000000000000",
    ] {
        assert_eq!(amazon.get(uri).await.error_code(), "ResourceNotFound", "{uri}");
    }
}

#[tokio::test]
async fn initiate_auth_does_not_accept_a_sign_in_buyer_token() {
    let amazon = Amazon::new();
    let token = query(&amazon.round_trip(&Button::sign_in()).await)[2].1.clone();
    let uri = format!("/checkout/initiate_auth?amazonCheckoutSessionId={token}");
    assert_eq!(amazon.get(&uri).await.error_code(), "ResourceNotFound");
}

// ---------------------------------------------------------------------------------------------
// signout and Amazon's API paths
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signout_grants_cors_with_credentials_to_the_shop_origin_only() {
    let amazon = Amazon::new();
    let shop = amazon.signout(Some(SHOP)).await;
    assert_eq!(shop.status, StatusCode::OK);
    assert_eq!(shop.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(SHOP));
    assert_eq!(shop.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
    let answer: Value = serde_json::from_slice(&shop.body).unwrap();
    assert_eq!(answer["result"], true, "checkout.js calls back only for a truthy result: {answer}");
    for origin in [Some("https://evil.example"), Some("null"), Some("https://shop.example.evil.example"), None] {
        let reply = amazon.signout(origin).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{origin:?}");
        assert!(reply.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none(), "{origin:?}");
    }
}

#[tokio::test]
async fn amazons_api_paths_are_served() {
    let amazon = Amazon::new();
    for uri in ["/v2/buyers/token", "/sandbox/v2/buyers/token", "/live/v2/checkoutSessions/id"] {
        // Unsigned: Amazon answers with its JSON error, not "no such path".
        let reply = amazon.get(uri).await;
        assert!(reply.status.is_client_error() && reply.status != StatusCode::NOT_FOUND, "{uri}: {}", reply.status);
        let error: Value = serde_json::from_slice(&reply.body).expect("a JSON error");
        assert!(error["reasonCode"].is_string(), "{uri}: {error}");
    }
}
