//! The simulator's checkout.js in live mode, as Amazon's script behaves: renderButton without
//! sandbox asks `merchantAccount/<id>/accountStatus` for the page's origin; a button on an origin
//! not registered for the merchant is drawn disabled (greyed, renamed "not available", clicks and
//! Enter swallowed, nothing thrown, no handler run); a sandbox button asks nothing.

use serde_json::{Value, json};

use crate::common::checkout_js::*;
use crate::common::page::WAIT;

/// Renders a decoupled live checkout button on `#b1` (clicks counted in `window.__calls`) and a
/// live checkout button with its config on `#b2`.
async fn render_live_buttons(stage: &Stage) {
    let mut configured = display("PayAndShip", false);
    configured["createCheckoutSessionConfig"] = checkout_config(&stage.shop);
    stage
        .run(
            "window.__calls = 0;
             amazon.Pay.renderButton('#b1', arguments[0]).onClick(() => window.__calls++);
             amazon.Pay.renderButton('#b2', arguments[1]);",
            vec![display("PayAndShip", false), configured],
        )
        .await;
}

/// The shadow root's view of the button in `#id`: container classes, the button's tabIndex.
async fn drawn(stage: &Stage, id: &str) -> Value {
    stage
        .run(
            "const host = document.getElementById(arguments[0]);
             const root = host.shadowRoot;
             return { label: host.getAttribute('aria-label'), title: host.title,
                      hostClasses: [...host.classList],
                      classes: [...root.querySelector('.amazonpay-button-container').classList],
                      tabIndex: root.querySelector('.amazonpay-button-view1').tabIndex };",
            vec![json!(id)],
        )
        .await
}

#[tokio::test]
async fn a_live_button_on_the_registered_origin_asks_amazon_and_stays_enabled() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    render_live_buttons(&stage).await;
    let asked = stage.settled("/accountStatus").await;
    let status = format!(
        "{}/merchantAccount/{MERCHANT_ID}/accountStatus?ledgerCurrency=JPY&originDomain={}",
        stage.amazon, stage.shop
    );
    let with_payload = format!("{status}&storeId={STORE_ID}&returnDomain={}", stage.shop);
    let urls: Vec<&str> = asked.iter().map(|r| r["url"].as_str().unwrap()).collect();
    assert_eq!(urls, [status.as_str(), with_payload.as_str()]);
    assert!(asked.iter().all(|r| r["status"] == 200), "{asked:?}");
    let b1 = drawn(&stage, "b1").await;
    assert_eq!(b1["label"], LIVE_LABEL);
    assert_eq!(
        b1["classes"],
        json!(["amazonpay-button-container", "amazonpay-button-enabled", "amazonpay-button-container-rows"])
    );
    let container = stage.browser.find("#b1").await.unwrap();
    stage.browser.click(&container).await.unwrap();
    assert_eq!(stage.value("window.__calls").await, json!(1));
    stage.quit().await;
}

#[tokio::test]
async fn a_live_button_on_an_origin_not_registered_is_drawn_disabled_and_swallows_clicks_and_enter() {
    let stage = Stage::start().await;
    stage.open(&stage.stranger).await;
    render_live_buttons(&stage).await;
    stage.settled("/accountStatus").await;
    for id in ["b1", "b2"] {
        let button = drawn(&stage, id).await;
        assert_eq!(button["label"], UNAVAILABLE_LABEL, "{id}");
        assert_eq!(button["title"], "", "{id}");
        assert_eq!(button["hostClasses"], json!([]), "{id}: Amazon's container class is removed");
        assert_eq!(
            button["classes"],
            json!(["amazonpay-button-container", "amazonpay-button-container-rows", "amazonpay-button-disabled"]),
            "{id}"
        );
        assert_eq!(button["tabIndex"], -1, "{id}: out of the tab order");
    }
    for id in ["#b1", "#b2"] {
        let container = stage.browser.find(id).await.unwrap();
        stage.browser.click(&container).await.unwrap();
        stage
            .run("arguments[0].shadowRoot.querySelector('.amazonpay-button-view1').focus();", vec![container.to_json()])
            .await;
        for kind in ["keyDown", "keyUp"] {
            let key = json!({ "type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13 });
            stage.browser.cdp("Input.dispatchKeyEvent", key).await.unwrap();
        }
    }
    // The key events were dispatched synchronously; a last script runs after them.
    assert_eq!(stage.value("window.__calls").await, json!(0), "no handler runs");
    assert_eq!(stage.forms().await, Vec::<Value>::new(), "nothing is sent to Amazon");
    assert_eq!(stage.value("window.__errors").await, json!([]), "nothing is thrown");
    assert_eq!(stage.value("window.__alerts").await, json!([]), "the alert belongs to an experiment not simulated");
    stage.quit().await;
}

#[tokio::test]
async fn a_sandbox_button_asks_nothing_even_on_an_origin_not_registered() {
    let stage = Stage::start().await;
    stage.open(&stage.stranger).await;
    let mut inferred = display("PayAndShip", true);
    inferred.as_object_mut().unwrap().remove("sandbox");
    inferred["createCheckoutSessionConfig"] = checkout_config(&stage.shop);
    stage
        .run(
            "amazon.Pay.renderButton('#b1', arguments[0]); amazon.Pay.renderButton('#b2', arguments[1]);",
            vec![display("SignIn", true), inferred],
        )
        .await;
    // The request would have been opened inside renderButton.
    assert_eq!(stage.opened("/accountStatus").await, Vec::<Value>::new());
    let labels = stage.value("['b1', 'b2'].map(id => document.getElementById(id).getAttribute('aria-label'))").await;
    assert_eq!(labels, json!([SANDBOX_LABEL, SANDBOX_LABEL]), "a SANDBOX- key ID alone makes a sandbox button");
    let container = stage.browser.find("#b2").await.unwrap();
    stage.browser.click(&container).await.unwrap();
    stage.browser.wait_for("window.__forms.length === 1", WAIT, "the click's form").await.unwrap();
    assert_eq!(field(&stage.forms().await[0], "environment"), "SANDBOX");
    stage.quit().await;
}
