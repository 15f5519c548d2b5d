//! The simulator's checkout.js and its cookies, as Amazon's script has them: renderButton sets
//! `language` and `ledgerCurrency` on the shop's origin for a day; signout does nothing without
//! them, asks Amazon synchronously with credentials and calls back only when Amazon answered
//! with a truthy `result`; bindChangeAction checks its options and sends the buyer to Amazon's
//! change page.

use serde_json::{Value, json};

use crate::common::checkout_js::*;
use crate::common::page::WAIT;

const SIGNOUT_FAILED: &str = "AmazonPay:\namazon.Pay.signout() failed.";

/// Renders a sandbox button on `#b1`, which sets the cookies.
async fn render(stage: &Stage) {
    stage.run("amazon.Pay.renderButton('#b1', arguments[0]);", vec![display("PayAndShip", true)]).await;
}

/// Calls signout with a callback that counts in `window.__signedOut`; returns what it threw.
async fn sign_out(stage: &Stage) -> Value {
    stage
        .run(
            "window.__signedOut = 0;
             return thrown(() => { window.__returned = amazon.Pay.signout(() => window.__signedOut++); });",
            vec![],
        )
        .await
}

#[tokio::test]
async fn render_button_sets_the_language_and_ledger_currency_cookies_for_a_day() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    assert_eq!(stage.value("document.cookie").await, json!(""));
    render(&stage).await;
    let now = stage.value("Date.now() / 1000").await.as_f64().unwrap();
    let found = stage.browser.cdp("Network.getCookies", json!({ "urls": [format!("{}/", stage.shop)] })).await.unwrap();
    let mut cookies: Vec<Value> = found["cookies"].as_array().unwrap().clone();
    cookies.sort_by_key(|c| c["name"].as_str().unwrap().to_owned());
    let seen: Vec<(String, String, String, bool)> = cookies
        .iter()
        .map(|c| {
            let text = |key: &str| c[key].as_str().unwrap().to_owned();
            (text("name"), text("value"), text("path"), c["session"].as_bool().unwrap())
        })
        .collect();
    let cookie = |name: &str, value: &str| (name.to_owned(), value.to_owned(), "/".to_owned(), false);
    assert_eq!(seen, [cookie("language", "ja_JP"), cookie("ledgerCurrency", "JPY")]);
    for c in &cookies {
        let lifetime = c["expires"].as_f64().unwrap() - now;
        assert!((23.0 * 3600.0..25.0 * 3600.0).contains(&lifetime), "a day: {c}");
    }
    stage.quit().await;
}

#[tokio::test]
async fn signout_does_nothing_before_a_button_set_the_cookies() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    assert_eq!(sign_out(&stage).await, Value::Null);
    assert_eq!(stage.opened("/checkout/signout").await, Vec::<Value>::new(), "no request");
    assert_eq!(stage.value("window.__signedOut").await, json!(0), "no callback");
    stage.quit().await;
}

#[tokio::test]
async fn signout_asks_amazon_at_once_and_calls_back_when_it_answered() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    render(&stage).await;
    assert_eq!(sign_out(&stage).await, Value::Null);
    // A synchronous request: the callback has run when signout returns, and it returns nothing.
    assert_eq!(stage.value("[window.__signedOut, window.__returned === undefined]").await, json!([1, true]));
    let asked = stage.opened("/checkout/signout").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["url"], format!("{}/checkout/signout?language=ja_JP", stage.amazon));
    assert_eq!(asked[0]["status"], 200);
    let logged = stage.value("window.__logged.log").await;
    assert!(logged.as_array().unwrap().contains(&json!("AmazonPay:\namazon.Pay.signout() completed successfully.")));
    stage.quit().await;
}

#[tokio::test]
async fn signout_without_a_truthy_result_throws_and_never_calls_back() {
    let stage = Stage::start().await;
    stage.open_with_own_amazon().await;
    render(&stage).await;
    assert_eq!(sign_out(&stage).await, Value::Null, "thrown from the request's handler, not to the caller");
    assert_eq!(stage.value("window.__signedOut").await, json!(0));
    assert_eq!(stage.value("window.__errors").await, json!([SIGNOUT_FAILED]));
    stage.quit().await;
}

#[tokio::test]
async fn signout_from_an_origin_amazon_does_not_answer_throws_at_once_and_never_calls_back() {
    let stage = Stage::start().await;
    stage.open(&stage.stranger).await;
    render(&stage).await;
    let thrown = sign_out(&stage).await;
    assert_eq!(thrown["name"], "NetworkError", "the synchronous request fails: {thrown}");
    assert_eq!(stage.value("window.__signedOut").await, json!(0));
    stage.quit().await;
}

#[tokio::test]
async fn bind_change_action_checks_its_options_and_sends_the_buyer_to_amazons_change_page() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let thrown = stage
        .run(
            "const bind = (selector, options) => thrown(() => amazon.Pay.bindChangeAction(selector, options));
             return [
               bind('#change', { changeAction: 'changeAddress' }),
               bind('#change', { amazonCheckoutSessionId: 'S1', changeAction: '' }),
               bind('#change', { amazonCheckoutSessionId: 'S1', changeAction: 'changeCard' }),
               bind('#nope', { amazonCheckoutSessionId: 'S1', changeAction: 'changeAddress' }),
               bind('', {}),
               bind('#change', { amazonCheckoutSessionId: 'S 1/2', changeAction: 'changeAddress' }),
             ];",
            vec![],
        )
        .await;
    let missing = |name: &str| {
        format!(
            "AmazonPay:\nMissing field {name} in the options object in amazon.Pay.bindChangeAction(selector, options) API."
        )
    };
    assert_eq!(
        thrown,
        json!([
            missing("amazonCheckoutSessionId"),
            missing("changeAction"),
            "AmazonPay:\nInvalid value 'changeCard' for 'changeAction', please use one of the available values: changeAddress, changePayment.",
            "AmazonPay:\nCan not find element #nope for amazon.Pay.bindChangeAction.",
            "AmazonPay:\nMissing 'selector' parameter in amazon.Pay.bindChangeAction(selector, options) API.",
            null,
        ])
    );
    let change = stage.browser.find("#change").await.unwrap();
    stage.browser.click(&change).await.unwrap();
    let expected = format!(
        "{}/checkout/initiate_auth?amazonCheckoutSessionId=S%201%2F2&changeAction=changeAddress&viewType=redirectView",
        stage.amazon
    );
    stage.browser.wait_for(&format!("location.href === {expected:?}"), WAIT, "Amazon's change page").await.unwrap();
    stage.quit().await;
}
