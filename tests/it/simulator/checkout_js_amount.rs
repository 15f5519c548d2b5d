//! The simulator's checkout.js and `estimatedOrderAmount`, as Amazon's script keeps it: the
//! amount set at render (or by updateButtonInfo) is the one sent; an amount given to the
//! button's initCheckout counts only when none was set; a bad amount is logged and ignored, never
//! thrown; a yen amount has no decimals.

use serde_json::{Value, json};

use crate::common::checkout_js::*;

/// A decoupled checkout button on `#b1` with `amount` at render (none when null), whose click
/// starts checkout with `at_click` as the click-time amount.
async fn rendered_with(stage: &Stage, amount: Value, at_click: Value) {
    let mut options = display("PayAndShip", true);
    if !amount.is_null() {
        options["estimatedOrderAmount"] = amount;
    }
    let thrown = stage
        .run(
            "return thrown(() => {
               window.__button = amazon.Pay.renderButton('#b1', arguments[0]);
               window.__button.onClick(() => window.__button.initCheckout(
                 { createCheckoutSessionConfig: arguments[1], estimatedOrderAmount: arguments[2] }));
             });",
            vec![options, checkout_config(&stage.shop), at_click],
        )
        .await;
    assert_eq!(thrown, Value::Null, "an amount never makes renderButton throw");
}

/// Clicks `#b1` and returns the estimatedOrderAmount of the form it sent.
async fn sent_amount(stage: &Stage) -> String {
    let container = stage.browser.find("#b1").await.unwrap();
    stage.browser.click(&container).await.unwrap();
    let forms = stage.forms().await;
    field(forms.last().expect("a form"), "estimatedOrderAmount")
}

fn yen(amount: &str) -> Value {
    json!({ "amount": amount, "currencyCode": "JPY" })
}

#[tokio::test]
async fn the_amount_set_at_render_is_sent_not_the_one_given_at_click() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    rendered_with(&stage, yen("3630"), yen("9999")).await;
    assert_eq!(sent_amount(&stage).await, r#"{"amount":"3630","currencyCode":"JPY"}"#);
    stage.quit().await;
}

#[tokio::test]
async fn without_an_amount_at_render_the_one_given_at_click_is_sent_unchecked() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    rendered_with(&stage, Value::Null, yen("12.5")).await;
    assert_eq!(sent_amount(&stage).await, r#"{"amount":"12.5","currencyCode":"JPY"}"#);
    assert_eq!(stage.value("window.__logged.error").await, json!([]), "the click-time amount is not checked");
    stage.quit().await;
}

#[tokio::test]
async fn a_bad_amount_at_render_is_logged_and_dropped() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    rendered_with(&stage, yen("100.0"), yen("4000")).await;
    assert_eq!(
        stage.value("window.__logged.error").await,
        json!(["Invalid value '100.0' for 'amount', please pass valid fractional digits for JPY"])
    );
    assert_eq!(
        sent_amount(&stage).await,
        r#"{"amount":"4000","currencyCode":"JPY"}"#,
        "dropped, so the click's counts"
    );
    stage.quit().await;
}

#[tokio::test]
async fn update_button_info_replaces_the_amount_only_with_a_good_one() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    rendered_with(&stage, yen("3630"), yen("9999")).await;
    let thrown = stage
        .run(
            "return thrown(() => [arguments[0], { amount: '5000.5', currencyCode: 'JPY' },
               { amount: '-1', currencyCode: 'JPY' }, { amount: '100', currencyCode: 'USD' },
               'not json', {}, null].forEach((amount) => window.__button.updateButtonInfo(amount)));",
            vec![yen("5000")],
        )
        .await;
    assert_eq!(thrown, Value::Null);
    assert_eq!(
        stage.value("window.__logged.error").await,
        json!([
            "Invalid value '5000.5' for 'amount', please pass valid fractional digits for JPY",
            "Invalid value '-1' for 'amount', please check again as only positive numbers are allowed.",
            "Invalid value 'USD' for 'currencyCode', please use from one of the available values: JPY",
            "Estimated Order Amount in the payload is not in correct Json format.",
        ])
    );
    let logged = stage.value("window.__logged.log").await;
    assert!(
        logged
            .as_array()
            .unwrap()
            .contains(&json!(r#"Estimated order amount for sandbox is {"amount":"5000","currencyCode":"JPY"}"#)),
        "in sandbox the amount is logged: {logged}"
    );
    assert_eq!(sent_amount(&stage).await, r#"{"amount":"5000","currencyCode":"JPY"}"#);
    stage.quit().await;
}
