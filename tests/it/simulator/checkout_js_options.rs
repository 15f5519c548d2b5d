//! The simulator's checkout.js checks renderButton's options as Amazon's script does: missing
//! means null or undefined (an empty string is a value, checked against its list), sandbox is a
//! boolean, buttonColor is never refused (anything unknown draws Gold), and every refusal is
//! thrown as Amazon's string.

use serde_json::{Value, json};

use crate::common::checkout_js::*;

/// What `renderButton(selector, display(PayAndShip, sandbox) + changes)` throws (null if nothing).
async fn thrown_by(stage: &Stage, selector: &str, changes: Value) -> Value {
    stage
        .run(
            "const [selector, base, changes] = arguments;
             const options = Object.assign({}, base, changes);
             Object.keys(changes).filter((name) => changes[name] === '__undefined__')
               .forEach((name) => { options[name] = undefined; });
             const host = document.createElement('div');
             host.id = 'fresh' + document.querySelectorAll('div').length;
             document.body.appendChild(host);
             return thrown(() => amazon.Pay.renderButton(selector === '' ? '#' + host.id : selector, options));",
            vec![json!(selector), display("PayAndShip", true), changes],
        )
        .await
}

#[tokio::test]
async fn missing_means_null_or_undefined_and_an_empty_string_is_checked_as_a_value() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let all_missing = json!({ "merchantId": null, "ledgerCurrency": "__undefined__", "placement": null });
    assert_eq!(
        thrown_by(&stage, "", all_missing).await,
        "AmazonPay:\nMissing parameter 'merchantId' in the options object.\n\
         Missing parameter 'ledgerCurrency' in the options object.\nMissing parameter 'placement' in the options object."
    );
    assert_eq!(thrown_by(&stage, "", json!({ "merchantId": "" })).await, Value::Null, "\"\" is a merchant ID here");
    assert_eq!(
        thrown_by(&stage, "", json!({ "ledgerCurrency": "", "productType": "" })).await,
        "AmazonPay:\nInvalid value '' for 'ledgerCurrency', please use one of the available values: JPY.\n\
         Invalid value '' for 'productType', please use one of the available values: PayAndShip, PayOnly, SignIn, Donation."
    );
    assert_eq!(
        thrown_by(&stage, "", json!({ "publicKeyId": "" })).await,
        "AmazonPay:\nInvalid value '' for 'publicKeyId', please check again."
    );
    stage.quit().await;
}

#[tokio::test]
async fn sandbox_must_be_a_boolean_and_agree_with_a_top_level_key_id() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    for text in ["true", "false"] {
        assert_eq!(
            thrown_by(&stage, "", json!({ "sandbox": text })).await,
            format!(
                "AmazonPay:\nInvalid value '{text}' for 'sandbox', please use one of the available values: true, false."
            ),
        );
    }
    assert_eq!(
        thrown_by(&stage, "", json!({ "sandbox": false, "publicKeyId": PUBLIC_KEY_ID })).await,
        format!("AmazonPay:\nPublicKeyId '{PUBLIC_KEY_ID}' does not match 'sandbox: false'. Please check again. ")
    );
    assert_eq!(
        thrown_by(&stage, "", json!({ "sandbox": true, "publicKeyId": "LIVE-ABC" })).await,
        "AmazonPay:\nPublicKeyId 'LIVE-ABC' does not match 'sandbox: true'. Please check again. "
    );
    stage.quit().await;
}

#[tokio::test]
async fn an_unknown_button_color_draws_gold_without_throwing() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let drawn = stage
        .run(
            "const [base] = arguments;
             const colors = [['b1', { buttonColor: 'Pink' }], ['b2', { buttonColor: 'DarkGray' }],
                             ['b3', { buttonColor: 'DarkGray', design: 'C0001' }]];
             return colors.map(([id, changes]) => {
               const error = thrown(() => amazon.Pay.renderButton('#' + id, Object.assign({}, base, changes)));
               const button = document.getElementById(id).shadowRoot.querySelector('.amazonpay-button-view1');
               return [error, [...button.classList].pop()];
             });",
            vec![display("PayAndShip", true)],
        )
        .await;
    assert_eq!(
        drawn,
        json!([
            [null, "amazonpay-button-view1-gold"],
            [null, "amazonpay-button-view1-ink"],
            [null, "amazonpay-button-view1-gold"]
        ])
    );
    stage.quit().await;
}

#[tokio::test]
async fn selector_and_container_refusals_are_amazons() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    assert_eq!(
        thrown_by(&stage, "#nope", json!({})).await,
        "AmazonPay:\nCan not find element #nope for amazon.Pay.renderButton."
    );
    let thrown = stage
        .run(
            "return [thrown(() => amazon.Pay.renderButton()), thrown(() => amazon.Pay.renderButton('#b1')),
                     thrown(() => amazon.Pay.renderButton('#b1', arguments[0])),
                     thrown(() => amazon.Pay.renderButton('#b1', arguments[0]))];",
            vec![display("PayAndShip", true)],
        )
        .await;
    assert_eq!(
        thrown[0],
        "AmazonPay:\nMissing 'selector' parameter in amazon.Pay.renderButton(selector, options) API."
    );
    assert_eq!(thrown[1], "AmazonPay:\nMissing 'options' parameter in amazon.Pay.renderButton(selector, options) API.");
    assert_eq!(thrown[2], Value::Null);
    assert_eq!(thrown[3]["name"], "NotSupportedError", "a second render on one container: {}", thrown[3]);
    stage.quit().await;
}

#[tokio::test]
async fn a_config_is_checked_when_the_shopper_clicks_not_at_render() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let mut unsigned = checkout_config(&stage.shop);
    unsigned.as_object_mut().unwrap().remove("signature");
    let mut options = display("SignIn", true);
    options["createCheckoutSessionConfig"] = checkout_config(&stage.shop);
    let seen = stage
        .run(
            "const [options, unsigned, base] = arguments;
             const rendered = thrown(() => amazon.Pay.renderButton('#b1', options));
             const button = amazon.Pay.renderButton('#b2', base);
             return [rendered, thrown(() => button.initCheckout({ createCheckoutSessionConfig: unsigned }))];",
            vec![options, unsigned, display("PayAndShip", true)],
        )
        .await;
    assert_eq!(seen, json!([null, "AmazonPay:\nMissing field signature for createCheckoutSessionConfig parameter."]));
    let container = stage.browser.find("#b1").await.unwrap();
    stage.browser.click(&container).await.unwrap();
    assert_eq!(
        stage.uncaught().await,
        ["AmazonPay:\nInvalid button definition, productType SignIn and configName do not match.\n"]
    );
    assert_eq!(stage.forms().await, Vec::<Value>::new());
    stage.quit().await;
}
