//! The simulator's checkout.js draws the button as Amazon's script does: images (no text) in an
//! open shadow root; the container named with Amazon's own aria-label and title and given
//! role="button"; Enter (not Space) on the focused button clicks it; a click sends Amazon's form.

use serde_json::{Value, json};

use crate::common::checkout_js::*;
use crate::common::page::WAIT;

/// What the button in `#id` shows and how its container is named.
async fn drawn(stage: &Stage, id: &str) -> Value {
    stage
        .run(
            "const host = document.getElementById(arguments[0]);
             const parts = [...host.shadowRoot.children].filter((child) => child.tagName !== 'STYLE');
             return { role: host.getAttribute('role'), label: host.getAttribute('aria-label'),
                      title: host.getAttribute('title'), tabindex: host.getAttribute('tabindex'),
                      classes: [...host.classList], shadowMode: host.shadowRoot.mode,
                      text: parts.map((part) => part.textContent).join('').trim(),
                      images: parts.reduce((n, part) => n + part.querySelectorAll('img').length, 0),
                      focusable: host.shadowRoot.querySelector('.amazonpay-button-view1').tabIndex };",
            vec![json!(id)],
        )
        .await
}

#[tokio::test]
async fn a_japanese_sandbox_button_is_images_named_with_amazons_label() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let mut sign_in = display("SignIn", true);
    sign_in["signInConfig"] = sign_in_config(&stage.shop);
    stage
        .run(
            "amazon.Pay.renderButton('#b1', arguments[0]); amazon.Pay.renderButton('#b2', arguments[1]);",
            vec![display("PayAndShip", true), sign_in],
        )
        .await;
    assert_eq!(
        drawn(&stage, "b1").await,
        json!({ "role": "button", "label": SANDBOX_LABEL, "title": "Amazonアカウントに登録されている情報を利用してお支払い",
                "tabindex": null, "classes": [format!("amazonpay-button-parent-container-checkout-{MERCHANT_ID}")],
                "shadowMode": "open", "text": "", "images": 4, "focusable": 0 })
    );
    assert_eq!(
        drawn(&stage, "b2").await,
        json!({ "role": "button", "label": SANDBOX_LABEL, "title": "Amazon アカウントでログイン", "tabindex": null,
                "classes": [], "shadowMode": "open", "text": "", "images": 2, "focusable": 0 })
    );
    stage.quit().await;
}

/// Amazon's artwork comes from its image host, fetched and decoded as images are, never inlined
/// into the script that draws the button (a `data:` picture is decoded inside that script, a cost
/// that would be charged to the shop's code).
#[tokio::test]
async fn the_buttons_artwork_is_fetched_from_the_image_host_not_inlined() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    stage.run("amazon.Pay.renderButton('#b1', arguments[0]);", vec![display("PayAndShip", true)]).await;
    let loaded = stage
        .browser
        .wait_for(
            "(imgs => imgs.length && imgs.every(i => i.complete) && imgs.map(i => [i.src, i.naturalWidth]))
             ([...document.getElementById('b1').shadowRoot.querySelectorAll('img')])",
            WAIT,
            "the artwork",
        )
        .await
        .unwrap();
    for image in loaded.as_array().unwrap() {
        let src = image[0].as_str().unwrap();
        assert!(src.starts_with(&format!("{}/images/", stage.amazon)) && src.ends_with(".svg"), "{src}");
        assert!(image[1].as_u64().unwrap() > 0, "drawn: {image}");
    }
    stage.quit().await;
}

#[tokio::test]
async fn enter_on_the_focused_button_clicks_it_and_space_does_not() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    stage
        .run(
            "window.__calls = 0;
             amazon.Pay.renderButton('#b1', arguments[0]).onClick(() => window.__calls++);
             document.getElementById('b1').shadowRoot.querySelector('.amazonpay-button-view1').focus();",
            vec![display("PayAndShip", true)],
        )
        .await;
    for (key, code, number) in [(" ", "Space", 32), ("Enter", "Enter", 13)] {
        for kind in ["keyDown", "keyUp"] {
            let event = json!({ "type": kind, "key": key, "code": code, "windowsVirtualKeyCode": number });
            stage.browser.cdp("Input.dispatchKeyEvent", event).await.unwrap();
        }
        let expected = if code == "Enter" { 1 } else { 0 };
        assert_eq!(stage.value("window.__calls").await, json!(expected), "after {code}");
    }
    stage.quit().await;
}

#[tokio::test]
async fn a_click_sends_amazons_form_to_the_hosted_checkout_page() {
    let stage = Stage::start().await;
    stage.open(&stage.shop).await;
    let mut options = display("PayAndShip", true);
    let config = checkout_config(&stage.shop);
    options["createCheckoutSessionConfig"] = config.clone();
    stage.run("amazon.Pay.renderButton('#b1', arguments[0]);", vec![options]).await;
    let container = stage.browser.find("#b1").await.unwrap();
    stage.browser.click(&container).await.unwrap();
    stage.browser.click(&container).await.unwrap();
    let forms = stage.forms().await;
    assert_eq!(forms.len(), 2);
    assert_eq!(
        stage.value("document.querySelectorAll('form').length").await,
        json!(1),
        "the last form replaces the first"
    );
    let form = &forms[1];
    assert_eq!(form["name"], "amazonpay-checkout-signature-data-form");
    assert_eq!(form["method"], "post");
    assert_eq!(form["action"], format!("{}/checkout/initiate", stage.amazon));
    assert_eq!(form["acceptCharset"], Value::Null, "the page's own encoding");
    assert_eq!(form["style"], "display: none !important;");
    assert_eq!(form["inBody"], true);
    let page = format!("{}/page.html", stage.shop);
    let expected: Vec<(String, String)> = [
        ("payloadJSON", config["payloadJSON"].as_str().unwrap()),
        ("signature", config["signature"].as_str().unwrap()),
        ("publicKeyId", PUBLIC_KEY_ID),
        ("publicKeyIdMismatch", "false"),
        ("algorithm", "AMZN-PAY-RSASSA-PSS-V2"),
        ("checkoutLanguage", "ja_JP"),
        ("ledgerCurrency", "JPY"),
        ("merchantId", MERCHANT_ID),
        ("productType", "PayAndShip"),
        ("environment", "SANDBOX"),
        ("scopes", ""),
        ("merchantDomain", "127.0.0.1"),
        ("origin_url", &page),
        ("viewType", "redirectView"),
        ("weblabData", ""),
        ("apaySessionSet", ""),
        ("estimatedOrderAmount", "{}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(fields(form), expected);

    stage.run("window.__send = true;", vec![]).await;
    stage.browser.click(&container).await.unwrap();
    let page = stage
        .browser
        .wait_for(
            "location.pathname === '/checkout/initiate' && document.getElementById('continue') && document.body.innerText",
            WAIT,
            "Amazon's checkout page",
        )
        .await
        .unwrap();
    assert!(page.as_str().unwrap().contains("お支払い方法"), "{page}");
    stage.quit().await;
}
