//! The simulator's checkout.js, the global `amazon.Pay.initCheckout(options)` as Amazon's script
//! has it: the options are checked as renderButton checks them, but the sandbox is not taken from
//! a "SANDBOX-" key ID and a top-level publicKeyId is not copied into the config; the cookies are
//! set; then the shopper goes to Amazon with the signInConfig (SignIn) or the
//! createCheckoutSessionConfig (otherwise).

use serde_json::{Value, json};

use crate::common::checkout_js::*;
use crate::common::page::WAIT;

const MISSING_REQUIRED: &str = "AmazonPay:\nMissing parameter 'merchantId' in the options object.\n\
     Missing parameter 'ledgerCurrency' in the options object.\nMissing parameter 'placement' in the options object.";

#[tokio::test]
async fn init_checkout_refuses_what_is_not_an_options_object_with_amazons_messages() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let thrown = stage
        .run(
            "return [thrown(() => amazon.Pay.initCheckout()), thrown(() => amazon.Pay.initCheckout('x')),
                     thrown(() => amazon.Pay.initCheckout({}))];",
            vec![],
        )
        .await;
    let no_options = "AmazonPay:\nMissing options parameter for amazon.Pay.initCheckout";
    assert_eq!(thrown, json!([no_options, no_options, MISSING_REQUIRED]));
    assert_eq!(stage.forms().await, Vec::<Value>::new());
    stage.quit().await;
}

#[tokio::test]
async fn init_checkout_takes_neither_the_sandbox_nor_the_config_key_from_a_top_level_key_id() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let config = sign_in_config(&stage.shop);
    let mut keyless = config.clone();
    keyless.as_object_mut().unwrap().remove("publicKeyId");
    let mut options = display("SignIn", true);
    options.as_object_mut().unwrap().remove("sandbox");
    options["publicKeyId"] = json!(PUBLIC_KEY_ID);
    let seen = stage
        .run(
            "const [options, keyless, config] = arguments;
             return {
               keyless: thrown(() => amazon.Pay.initCheckout(Object.assign({}, options, { signInConfig: keyless }))),
               signed: thrown(() => amazon.Pay.initCheckout(Object.assign({}, options, { signInConfig: config }))),
               sandbox: thrown(() => amazon.Pay.initCheckout(Object.assign({}, options,
                 { signInConfig: config, sandbox: true }))),
             };",
            vec![options, keyless, config],
        )
        .await;
    assert_eq!(
        seen,
        json!({ "keyless": "AmazonPay:\nMissing field publicKeyId for signInConfig parameter.",
                "signed": null, "sandbox": null })
    );
    let forms = stage.forms().await;
    let environments: Vec<String> = forms.iter().map(|form| field(form, "environment")).collect();
    assert_eq!(environments, ["LIVE", "SANDBOX"], "a SANDBOX- key ID alone leaves the environment LIVE");
    assert_eq!(stage.opened("/accountStatus").await, Vec::<Value>::new(), "initCheckout asks nothing first");
    stage.quit().await;
}

#[tokio::test]
async fn init_checkout_sets_the_cookies_and_sends_the_sign_in_config_to_amazons_sign_in_page() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    assert_eq!(stage.value("document.cookie").await, json!(""));
    let options = with(display("SignIn", true), "signInConfig", sign_in_config(&stage.shop));
    stage.run("amazon.Pay.initCheckout(arguments[0]);", vec![options.clone()]).await;
    let cookies = stage.value("document.cookie.split('; ').sort()").await;
    assert_eq!(cookies, json!(["language=ja_JP", "ledgerCurrency=JPY"]));
    let form = &stage.forms().await[0];
    let names: Vec<String> = fields(form).into_iter().map(|(name, _)| name).collect();
    assert!(!names.contains(&"estimatedOrderAmount".to_owned()), "{names:?}");
    assert_eq!(field(form, "payloadJSON"), options["signInConfig"]["payloadJSON"].as_str().unwrap());
    assert_eq!(field(form, "productType"), "SignIn");

    stage.run("window.__send = true; amazon.Pay.initCheckout(arguments[0]);", vec![options]).await;
    let page = stage
        .browser
        .wait_for(
            "location.pathname === '/checkout/initiate' && document.getElementById('continue') && document.body.innerText",
            WAIT,
            "Amazon's sign-in page",
        )
        .await
        .unwrap();
    assert!(page.as_str().unwrap().contains("Amazon アカウントでサインイン"), "{page}");
    assert!(stage.browser.current_url().await.unwrap().starts_with(&stage.amazon));
    stage.quit().await;
}

#[tokio::test]
async fn init_checkout_sends_the_checkout_config_with_the_amount() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let mut options = with(display("PayAndShip", true), "createCheckoutSessionConfig", checkout_config(&stage.shop));
    options["estimatedOrderAmount"] = json!({ "amount": "3630", "currencyCode": "JPY" });
    options["signInConfig"] = json!(null);
    stage.run("amazon.Pay.initCheckout(arguments[0]);", vec![options.clone()]).await;
    let form = &stage.forms().await[0];
    assert_eq!(field(form, "payloadJSON"), options["createCheckoutSessionConfig"]["payloadJSON"].as_str().unwrap());
    assert_eq!(field(form, "estimatedOrderAmount"), r#"{"amount":"3630","currencyCode":"JPY"}"#);
    stage.quit().await;
}

/// `options` with `name` set to `value`.
fn with(mut options: Value, name: &str, value: Value) -> Value {
    options[name] = value;
    options
}
