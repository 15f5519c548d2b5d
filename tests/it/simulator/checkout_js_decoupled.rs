//! The simulator's checkout.js, decoupled buttons (renderButton with none of
//! createCheckoutSession, createCheckoutSessionConfig or signInConfig), as Amazon's script has
//! them: `{onClick, initCheckout, updateButtonInfo}`, a click that calls the onClick callback with
//! no argument, and an initCheckout that takes only createCheckoutSession(Config) from its
//! argument, so a sign-in button cannot be started from it.

use serde_json::{Value, json};

use crate::common::checkout_js::*;

const MISMATCH_AT_CLICK: &str =
    "AmazonPay:\nInvalid button definition, productType SignIn and configName do not match.";

#[tokio::test]
async fn a_decoupled_button_calls_on_click_with_no_argument_and_sends_nothing() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let keys = stage
        .run(
            "const button = amazon.Pay.renderButton('#b1', arguments[0]);
             window.__calls = [];
             button.onClick(function () { window.__calls.push(arguments.length); });
             return Object.keys(button).sort();",
            vec![display("PayAndShip", true)],
        )
        .await;
    assert_eq!(keys, json!(["initCheckout", "onClick", "updateButtonInfo"]));
    let container = stage.browser.find("#b1").await.unwrap();
    stage.browser.click(&container).await.unwrap();
    assert_eq!(stage.value("window.__calls").await, json!([0]), "one call, with no argument");
    assert_eq!(stage.forms().await, Vec::<Value>::new(), "a click only tells the shop");
    assert_eq!(stage.value("window.__errors").await, json!([]));
    stage.quit().await;
}

#[tokio::test]
async fn buttons_with_a_config_return_update_button_info_or_nothing() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let returned = stage
        .run(
            "const [payOptions, signInOptions] = arguments;
             return {
               pay: Object.keys(amazon.Pay.renderButton('#b1', payOptions)),
               signIn: String(amazon.Pay.renderButton('#b2', signInOptions)),
             };",
            vec![
                with(display("PayAndShip", true), "createCheckoutSessionConfig", checkout_config(&stage.shop)),
                with(display("SignIn", true), "signInConfig", sign_in_config(&stage.shop)),
            ],
        )
        .await;
    assert_eq!(returned, json!({ "pay": ["updateButtonInfo"], "signIn": "undefined" }));
    stage.quit().await;
}

#[tokio::test]
async fn the_buttons_init_checkout_never_reads_a_sign_in_config() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let seen = stage
        .run(
            "const button = amazon.Pay.renderButton('#b1', arguments[0]);
             return {
               withSignInConfig: thrown(() => button.initCheckout({ signInConfig: arguments[1] })),
               checkouts: amazon.Pay._simulator.checkouts.length,
             };",
            vec![display("SignIn", true), sign_in_config(&stage.shop)],
        )
        .await;
    assert_eq!(
        seen,
        json!({ "withSignInConfig": format!("{MISMATCH_AT_CLICK}\n"), "checkouts": 0 }),
        "Amazon's click path ends its message with a line break"
    );
    assert_eq!(stage.forms().await, Vec::<Value>::new());
    stage.quit().await;
}

#[tokio::test]
async fn a_sign_in_button_clicked_without_on_click_throws_and_a_checkout_one_does_nothing() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    stage
        .run(
            "amazon.Pay.renderButton('#b1', arguments[0]); amazon.Pay.renderButton('#b2', arguments[1]);",
            vec![display("SignIn", true), display("PayAndShip", true)],
        )
        .await;
    for id in ["#b1", "#b2"] {
        let container = stage.browser.find(id).await.unwrap();
        stage.browser.click(&container).await.unwrap();
    }
    // The throw happens in checkout.js's click listener: an uncaught error, which the page sees
    // only as "Script error." (checkout.js is another origin's script).
    assert_eq!(stage.value("window.__errors").await, json!(["Script error."]));
    assert_eq!(stage.uncaught().await, vec![MISMATCH_AT_CLICK.to_owned()]);
    assert_eq!(stage.forms().await, Vec::<Value>::new());
    stage.quit().await;
}

#[tokio::test]
async fn the_buttons_init_checkout_sends_the_config_it_is_given_with_the_rendered_options() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let mut config = checkout_config(&stage.shop);
    config.as_object_mut().unwrap().remove("publicKeyId");
    let mut options = display("PayAndShip", true);
    options["publicKeyId"] = json!(PUBLIC_KEY_ID);
    stage
        .run(
            "const button = amazon.Pay.renderButton('#b1', arguments[0]);
             button.onClick(() => button.initCheckout({ createCheckoutSessionConfig: arguments[1],
               productType: 'PayOnly', sandbox: false, signInConfig: arguments[2] }));",
            vec![options, config.clone(), sign_in_config(&stage.shop)],
        )
        .await;
    let container = stage.browser.find("#b1").await.unwrap();
    stage.browser.click(&container).await.unwrap();
    let forms = stage.forms().await;
    assert_eq!(forms.len(), 1, "{forms:?}");
    let form = &forms[0];
    assert_eq!(field(form, "payloadJSON"), config["payloadJSON"].as_str().unwrap());
    assert_eq!(field(form, "publicKeyId"), PUBLIC_KEY_ID, "the render's top-level key ID fills the config");
    assert_eq!(field(form, "productType"), "PayAndShip", "the render's product type, not the argument's");
    assert_eq!(field(form, "environment"), "SANDBOX", "the render's sandbox, not the argument's");
    stage.quit().await;
}

/// `options` with `name` set to `value`.
fn with(mut options: Value, name: &str, value: Value) -> Value {
    options[name] = value;
    options
}
