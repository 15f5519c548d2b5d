//! Japan's money rules and the checks of a checkout session update on the simulator: whole yen,
//! JPY only, at most ¥10,000,000, a result URL on the shop, known fields and intents only, updates
//! that add up, none after the buyer paid, and nothing changed by a refused one.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::simulator_checkout::*;
use amazonpay2::amazon::types::Money;

#[tokio::test]
async fn ten_million_yen_is_the_maximum() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    let top = sim.update(&id, &ready("Authorize", "10000000", false)).await.unwrap();
    assert_eq!(top["paymentDetails"]["chargeAmount"]["amount"], "10000000");
    let message =
        assert_rejected(sim.update(&id, &ready("Authorize", "10000001", false)).await, 400, "InvalidParameterValue");
    assert!(message.contains("10,000,000"), "{message}");
    let session = sim.session(&id).await;
    assert_eq!(session["paymentDetails"]["chargeAmount"]["amount"], "10000000", "a refused update changes nothing");
    sim.pay(&id).await;
    sim.complete(&id, "10000000").await.unwrap();
}

#[tokio::test]
async fn amounts_are_whole_yen() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    for amount in [json!("2750.5"), json!("2750.00"), json!(2750.5), json!("abc"), json!("0"), json!("-1"), json!("")] {
        let mut body = ready("Authorize", "1", false);
        body["paymentDetails"]["chargeAmount"]["amount"] = amount.clone();
        assert_rejected(sim.update(&id, &body).await, 400, "InvalidParameterValue");
        let session = sim.session(&id).await;
        assert_eq!(session["paymentDetails"]["chargeAmount"], Value::Null, "{amount}: nothing changed");
    }
    // A JSON number of whole yen is a price too.
    let mut body = ready("Authorize", "1", false);
    body["paymentDetails"]["chargeAmount"]["amount"] = json!(2750);
    let session = sim.update(&id, &body).await.unwrap();
    assert_eq!(session["paymentDetails"]["chargeAmount"]["amount"], "2750");
}

#[tokio::test]
async fn only_yen_is_accepted() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    let mut body = ready("Authorize", "2750", false);
    body["paymentDetails"]["chargeAmount"]["currencyCode"] = json!("USD");
    assert_rejected(sim.update(&id, &body).await, 400, "CurrencyMismatch");
    sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    sim.pay(&id).await;
    let usd = json!({ "chargeAmount": { "amount": "2750", "currencyCode": "USD" } });
    let result: Result<Value, _> =
        sim.client.call(Method::POST, &format!("checkoutSessions/{id}/complete"), Some(&usd)).await;
    assert_rejected(result, 400, "CurrencyMismatch");
}

#[tokio::test]
async fn the_result_url_must_lie_on_the_shop() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    for url in [
        "https://evil.example/api/amazonpay2/checkout/result",
        "https://shop.example.evil.example/result",
        "http://shop.example/result",
        "https://shop.example:8443/result",
        "/api/amazonpay2/checkout/result",
    ] {
        let mut body = ready("Authorize", "2750", false);
        body["webCheckoutDetails"]["checkoutResultReturnUrl"] = json!(url);
        assert_rejected(sim.update(&id, &body).await, 400, "InvalidParameterValue");
    }
    let session = sim.session(&id).await;
    assert_eq!(session["webCheckoutDetails"]["checkoutResultReturnUrl"], Value::Null);
}

#[tokio::test]
async fn updates_are_checked_field_by_field() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    let mut intent = ready("Authorize", "2750", false);
    intent["paymentDetails"]["paymentIntent"] = json!("Capture");
    assert_rejected(sim.update(&id, &intent).await, 400, "InvalidParameterValue");
    assert_rejected(sim.update(&id, &json!({ "paymentDetail": {} })).await, 400, "UnrecognizedField");
    assert_rejected(
        sim.update(&id, &json!({ "merchantMetadata": { "orderId": "1" } })).await,
        400,
        "UnrecognizedField",
    );
    // Updates add up: the amount first, then the rest.
    let amount = json!({ "paymentDetails": { "chargeAmount": Money::yen(990) } });
    let session = sim.update(&id, &amount).await.unwrap();
    let constraints: Vec<&str> =
        session["constraints"].as_array().unwrap().iter().map(|c| c["constraintId"].as_str().unwrap()).collect();
    assert_eq!(constraints, ["CheckoutResultReturnUrlNotSet", "PaymentIntentNotSet"]);
    let rest = json!({
        "webCheckoutDetails": { "checkoutResultReturnUrl": RESULT },
        "paymentDetails": { "paymentIntent": "Authorize" },
    });
    let session = sim.update(&id, &rest).await.unwrap();
    assert_eq!(session["constraints"], json!([]));
    assert_eq!(session["paymentDetails"]["chargeAmount"]["amount"], "990");
    // Once the buyer has paid, only completion is left.
    sim.pay(&id).await;
    assert_rejected(sim.update(&id, &amount).await, 422, "InvalidCheckoutSessionStatus");
    // A session that is not ready has no payment page.
    let other = sim.checkout(VISA).await;
    let page = sim.http.get(sim.url(&format!("/checkout/process/{other}"))).send().await.unwrap();
    assert_eq!(sim.error_page(page).await, "InvalidCheckoutSessionStatus");
}
