//! The simulator refuses the buttons Amazon refuses, on its error page: another merchant, key
//! or store, a missing or off-domain return URL (and plain http for live buttons), malformed
//! payload JSON, missing fields, an unknown product type, a body that is not a form, an oversized
//! form.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, header};
use serde_json::json;

use crate::common::simulator_pages::*;

#[tokio::test]
async fn a_wrong_merchant_id_is_refused() {
    let amazon = Amazon::new();
    for merchant in ["A1OTHERMERCHANT", "a1simulatortest", "A1SIMULATORTEST "] {
        let code = amazon.refusal(&Button::sign_in().with("merchantId", merchant)).await;
        assert_eq!(code, "InvalidParameterValue", "{merchant:?}");
    }
}

#[tokio::test]
async fn an_unknown_public_key_id_is_refused() {
    let button = Button::checkout().with("publicKeyId", "SANDBOX-SOMEONEELSESKEY");
    assert_eq!(Amazon::new().refusal(&button).await, "InvalidParameterValue");
}

#[tokio::test]
async fn a_store_id_of_another_merchant_is_refused() {
    let amazon = Amazon::new();
    let other_store = sign_in_payload(SIGNIN_RETURN).replace(STORE_ID, "amzn1.application-oa2-client.other");
    assert_eq!(amazon.refusal(&Button::signed("SignIn", other_store)).await, "InvalidParameterValue");
    let no_store = json!({ "signInReturnUrl": SIGNIN_RETURN, "signInScopes": ["name"] }).to_string();
    assert_eq!(amazon.refusal(&Button::signed("SignIn", no_store)).await, "InvalidParameterValue");
}

#[tokio::test]
async fn a_missing_return_url_is_refused() {
    let amazon = Amazon::new();
    let sign_in = json!({ "storeId": STORE_ID, "signInScopes": ["name"] }).to_string();
    assert_eq!(amazon.refusal(&Button::signed("SignIn", sign_in)).await, "MissingParameterValue");
    let checkout = json!({ "webCheckoutDetails": {}, "storeId": STORE_ID }).to_string();
    assert_eq!(amazon.refusal(&Button::signed("PayAndShip", checkout)).await, "MissingParameterValue");
    let not_a_string = json!({ "signInReturnUrl": 1, "storeId": STORE_ID }).to_string();
    assert_eq!(amazon.refusal(&Button::signed("SignIn", not_a_string)).await, "MissingParameterValue");
}

/// Return URLs that are not on the registered shop origin, each signed correctly by the shop.
const OFF_DOMAIN: &[&str] = &[
    "https://evil.example/api/amazonpay2/signin/return",
    "http://shop.example/api/amazonpay2/signin/return",
    "https://shop.example:8443/return",
    "https://sub.shop.example/return",
    "https://shop.example.evil.example/return",
    "https://shop.example@evil.example/return",
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/return",
    "/api/amazonpay2/signin/return",
    "",
];

#[tokio::test]
async fn an_off_domain_sign_in_return_url_is_refused() {
    let amazon = Amazon::new();
    for url in OFF_DOMAIN {
        let code = amazon.refusal(&Button::signed("SignIn", sign_in_payload(url))).await;
        assert_eq!(code, "InvalidParameterValue", "{url}");
    }
}

#[tokio::test]
async fn an_off_domain_checkout_review_url_is_refused() {
    let amazon = Amazon::new();
    for url in OFF_DOMAIN {
        let code = amazon.refusal(&Button::signed("PayAndShip", checkout_payload(url))).await;
        assert_eq!(code, "InvalidParameterValue", "{url}");
    }
}

#[tokio::test]
async fn live_buttons_need_https_return_urls() {
    let amazon = Amazon::for_shop("http://127.0.0.1:8080");
    let url = "http://127.0.0.1:8080/api/amazonpay2/signin/return";
    let button = Button::signed("SignIn", sign_in_payload(url));
    amazon.initiate(&button).await.flow_id();
    assert_eq!(amazon.refusal(&button.with("environment", "LIVE")).await, "InvalidParameterValue");
}

#[tokio::test]
async fn malformed_payload_json_is_refused() {
    let amazon = Amazon::new();
    let truncated = sign_in_payload(SIGNIN_RETURN)[..40].to_owned();
    for payload in [truncated.as_str(), "not json", "{\"storeId\":", "[]", "null"] {
        let code = amazon.refusal(&Button::signed("SignIn", payload.to_owned())).await;
        assert!(matches!(code.as_str(), "InvalidRequestFormat" | "InvalidParameterValue"), "{payload}: {code}");
    }
    let broken = Button::signed("SignIn", "{\"storeId\":".to_owned());
    assert_eq!(amazon.refusal(&broken).await, "InvalidRequestFormat");
}

#[tokio::test]
async fn a_missing_field_is_refused() {
    let amazon = Amazon::new();
    for field in ["merchantId", "payloadJSON", "signature", "publicKeyId"] {
        assert_eq!(amazon.refusal(&Button::sign_in().without(field)).await, "MissingParameterValue", "{field}");
        assert_eq!(amazon.refusal(&Button::sign_in().with(field, "")).await, "MissingParameterValue", "{field}");
    }
}

#[tokio::test]
async fn an_unknown_product_type_is_refused() {
    let button = Button::sign_in().with("productType", "PayAndShipAndFly");
    assert_eq!(Amazon::new().refusal(&button).await, "InvalidParameterValue");
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_refused() {
    let amazon = Amazon::new();
    let fields: HashMap<_, _> = Button::sign_in().fields.into_iter().collect();
    let request = Request::post("/checkout/initiate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_string(&fields).unwrap()))
        .unwrap();
    assert_eq!(amazon.send(request).await.error_code(), "InvalidRequestFormat");
}

#[tokio::test]
async fn an_oversized_form_is_refused_without_a_crash() {
    let padding = "x".repeat(100 * 1024);
    let reply = Amazon::new().initiate(&Button::sign_in().with("placement", &padding)).await;
    reply.error_code();
}
