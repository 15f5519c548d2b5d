//! The widget in a real browser (headless Chromium): what happens at a click (the Amazon button
//! signed at click, the review block's order button), and the server's notices.
#![cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod browser;

use amazonpay2::contract::Notice;
use amazonpay2::widget::Settings;
use amazonpay2::widget::texts::Lang;
use browser::*;
use js_sys::Reflect;
use serde_json::{Value, json};
use wasm_bindgen_test::wasm_bindgen_test;

// ---------------------------------------------------------------------------------------------
// Notices from the server (`?amazonpay2=<code>` after an Amazon sign-in)
// ---------------------------------------------------------------------------------------------

fn with_notice(notice: Notice, lang: Lang) -> Settings {
    Settings { notice: Some(notice), lang, ..settings(false) }
}

#[wasm_bindgen_test]
async fn a_notice_shows_in_the_notice_block_as_status_or_alert() {
    let server = FakeServer::answering(json!({ "login": button() }));
    let _amazon = FakeAmazon::install();
    let html = r#"<div id="notice" data-amazonpay="notice"></div><div id="login" data-amazonpay="login"></div>"#;
    let page = Page::start(html, with_notice(Notice::EmailExists, Lang::Ja));
    wait_until("the notice", WAIT_MS, || page.count_in("notice", ".amazonpay2-notice") == 1).await;
    assert_eq!(page.text("notice"), Lang::Ja.texts().notice(Notice::EmailExists));
    assert_eq!(page.count_in("login", ".amazonpay2-notice"), 0, "shown once");
    assert_eq!(page.count("[role=status].amazonpay2-notice"), 1);
    wait_until("one request", WAIT_MS, || server.count() == 1).await;
    let blocks = server.requested(0);
    assert_eq!(blocks.as_array().unwrap().len(), 1, "notice blocks are not sent: {blocks}");
}

#[wasm_bindgen_test]
async fn a_refusal_notice_is_an_alert_in_english_with_data_lang_en() {
    let _server = FakeServer::answering(json!({}));
    let page =
        Page::start(r#"<div id="notice" data-amazonpay="notice"></div>"#, with_notice(Notice::BuyerTaken, Lang::En));
    wait_until("the notice", WAIT_MS, || page.count(".amazonpay2-notice--problem[role=alert]") == 1).await;
    assert_eq!(page.text("notice"), "This Amazon account is already linked to another member and cannot be linked.");
}

#[wasm_bindgen_test]
async fn without_a_notice_block_the_first_block_shows_the_notice() {
    let _server = FakeServer::answering(json!({ "mypage": linked() }));
    let html =
        r#"<p>text</p><div id="first" data-amazonpay="mypage"></div><div id="second" data-amazonpay="mypage"></div>"#;
    let page = Page::start(html, with_notice(Notice::Linked, Lang::Ja));
    wait_until("the notice", WAIT_MS, || page.count(".amazonpay2-notice") == 1).await;
    assert_eq!(page.count_in("first", ".amazonpay2-notice"), 1);
}

#[wasm_bindgen_test]
async fn a_page_with_only_a_notice_block_sends_no_request() {
    let server = FakeServer::answering(json!({}));
    let page =
        Page::start(r#"<div id="notice" data-amazonpay="notice"></div>"#, with_notice(Notice::SignedIn, Lang::Ja));
    wait_until("the notice", WAIT_MS, || page.count(".amazonpay2-notice") == 1).await;
    settle().await;
    assert_eq!(server.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Review block (order confirmation)
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn the_review_block_shows_amazons_details_and_binds_both_change_actions() {
    let review = json!({ "view": "review", "amazonCheckoutSessionId": "S-1",
        "shippingAddress": ["山田 太郎", "〒153-0064", "東京都目黒区下目黒1-8-1"], "paymentDescriptor": "Visa ****1111" });
    let _server = FakeServer::answering(json!({ "review": review }));
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="review" data-amazonpay="review"></div>"#, settings(false));
    wait_until("the review", WAIT_MS, || page.count(".amazonpay2-change") == 2).await;
    let text = page.text("review");
    assert!(text.contains("東京都目黒区下目黒1-8-1") && text.contains("Visa ****1111"), "{text}");
    assert_eq!(page.count(".amazonpay2-button"), 0, "the review block is no Amazon button");
    let bound = to_json(&Reflect::get(&amazon.fake, &"bound".into()).unwrap());
    let actions: Vec<Value> = bound.as_array().unwrap().iter().map(|b| b["options"].clone()).collect();
    assert_eq!(
        actions,
        [
            json!({ "amazonCheckoutSessionId": "S-1", "changeAction": "changeAddress" }),
            json!({ "amazonCheckoutSessionId": "S-1", "changeAction": "changePayment" }),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The Amazon button: signed at click, handed to checkout.js's initCheckout
// ---------------------------------------------------------------------------------------------

/// A page with one login button drawn (and its server and checkout.js fakes).
async fn login_button(debug: bool) -> (FakeServer, FakeAmazon, Page) {
    let server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="login" data-amazonpay="login"></div>"#, settings(debug));
    wait_for_button(&page, &amazon, 1, "login").await;
    (server, amazon, page)
}

fn the_button(page: &Page) -> web_sys::Element {
    page.section.query_selector(".amazonpay2-button").unwrap().expect("a button container")
}

#[wasm_bindgen_test]
async fn the_button_is_drawn_without_a_signed_payload_and_signed_at_click() {
    let (server, amazon, page) = login_button(false).await;
    let options = &amazon.calls()[0]["options"];
    assert!(options.get("signInConfig").is_none() && options.get("createCheckoutSessionConfig").is_none(), "{options}");
    assert_eq!(server.calls_to("/buttons/sign").len(), 0, "nothing is signed on a page view");

    click(&the_button(&page));
    wait_until("initCheckout", WAIT_MS, || amazon.inits().len() == 1).await;
    let sign = server.calls_to("/buttons/sign");
    assert_eq!(sign.len(), 1);
    assert_eq!(sign[0]["method"], "POST");
    assert_eq!(sign[0]["body"], json!({ "kind": "login" }));
    assert_eq!(sign[0]["headers"]["x-amazonpay2-csrf"], "t", "the CSRF token of the answer");
    assert_eq!(sign[0]["credentials"], "include");
    // Amazon's decoupled button cannot start a sign-in: the global initCheckout does, with the
    // server's answer as it came (every option: the global call infers none).
    let init = &amazon.inits()[0];
    assert_eq!(init["block"], Value::Null, "the global amazon.Pay.initCheckout, not the button's");
    assert_eq!(
        init["config"],
        json!({ "merchantId": "TESTMERCHANT", "ledgerCurrency": "JPY", "checkoutLanguage": "ja_JP", "sandbox": true,
                "productType": "SignIn", "placement": "Other", "buttonColor": "Gold",
                "signInConfig": { "payloadJSON": "{\"kind\":\"login\"}", "signature": "c2ln",
                "publicKeyId": "SANDBOX-TEST", "algorithm": "AMZN-PAY-RSASSA-PSS-V2" } }),
        "the server's answer reaches the global initCheckout as it came"
    );
    page.assert_button_only_in("login");
}

#[wasm_bindgen_test]
async fn a_my_page_link_click_starts_the_sign_in_with_the_global_init_checkout() {
    let server = FakeServer::answering(json!({ "mypage": button() }));
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="mypage" data-amazonpay="mypage"></div>"#, settings(false));
    wait_for_button(&page, &amazon, 1, "mypage").await;
    click(&the_button(&page));
    wait_until("initCheckout", WAIT_MS, || amazon.inits().len() == 1).await;
    assert_eq!(server.calls_to("/buttons/sign")[0]["body"], json!({ "kind": "mypage" }));
    let init = &amazon.inits()[0];
    assert_eq!(init["block"], Value::Null);
    assert_eq!(init["config"]["productType"], "SignIn");
    assert_eq!(init["config"]["sandbox"], true);
    assert_eq!(init["config"]["signInConfig"]["publicKeyId"], "SANDBOX-TEST");
    assert_eq!(page.count(".amazonpay2-message"), 0, "no failure shown");
}

#[wasm_bindgen_test]
async fn a_checkout_click_signs_the_checkout_kind() {
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    click(&the_button(&page));
    wait_until("initCheckout", WAIT_MS, || amazon.inits().len() == 1).await;
    assert_eq!(server.calls_to("/buttons/sign")[0]["body"], json!({ "kind": "checkout" }));
    let init = &amazon.inits()[0];
    assert_eq!(init["block"], "checkout", "the checkout button's own initCheckout");
    let config = &init["config"];
    assert_eq!(config["productType"], "PayAndShip");
    assert_eq!(config["estimatedOrderAmount"], json!({ "amount": "3630", "currencyCode": "JPY" }));
}

#[wasm_bindgen_test]
async fn clicks_while_signing_are_ignored() {
    let (server, amazon, page) = login_button(false).await;
    server.set("delayMs", json!(300));
    for _ in 0..3 {
        click(&the_button(&page));
    }
    wait_until("initCheckout", WAIT_MS, || amazon.inits().len() == 1).await;
    settle().await;
    assert_eq!(server.calls_to("/buttons/sign").len(), 1, "one request for three quick clicks");
    assert_eq!(amazon.inits().len(), 1);
    // Once it is done, a new click signs again (the shopper came back from Amazon's page).
    click(&the_button(&page));
    wait_until("a second initCheckout", WAIT_MS, || amazon.inits().len() == 2).await;
}

#[wasm_bindgen_test]
async fn a_click_refused_for_a_session_changed_since_the_answer_asks_again_and_signs_with_the_new_token() {
    let (server, amazon, page) = login_button(false).await;
    // Another request of the page (or another tab) gave the browser another session.
    server.set("csrfToken", json!("t2"));
    click(&the_button(&page));
    wait_until("initCheckout", WAIT_MS, || amazon.inits().len() == 1).await;
    let tokens: Vec<Value> =
        server.calls_to("/buttons/sign").iter().map(|call| call["headers"]["x-amazonpay2-csrf"].clone()).collect();
    assert_eq!(tokens, [json!("t"), json!("t2")], "refused once, then signed with the new session's token");
    assert_eq!(server.calls_to("/buttons").len(), 2, "the views were asked for again");
    assert_eq!(amazon.count(), 1, "the button stayed as it was drawn");
    assert_eq!(page.count(".amazonpay2-message"), 0, "no failure shown");
}

#[wasm_bindgen_test]
async fn a_token_refused_again_after_asking_again_shows_the_blocks_message() {
    let (server, amazon, page) = login_button(true).await;
    server.set("signMode", json!("staleToken"));
    click(&the_button(&page));
    let messages = wait_for_message(&page, WAIT_MS).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert!(page.texts_of("login", ".amazonpay2-debug").join("\n").contains("403 csrf_token_invalid"));
    settle().await;
    assert_eq!(server.calls_to("/buttons/sign").len(), 2, "asked again once, not in a loop");
    assert_eq!(amazon.inits().len(), 0);
}

/// Clicks the login button with the server or checkout.js failing; returns the block's message
/// and its reasons.
async fn failing_click(server: &FakeServer, amazon: &FakeAmazon, page: &Page) -> (Vec<String>, String) {
    click(&the_button(page));
    let messages = wait_for_message(page, WAIT_MS).await;
    let reasons = page.texts_of("login", ".amazonpay2-debug").join("\n");
    assert_eq!(page.count(".amazonpay2-button"), 0, "the button gave way to the message");
    assert!(server.calls_to("/buttons/sign").len() <= 1);
    let _ = amazon;
    (messages, reasons)
}

#[wasm_bindgen_test]
async fn a_refused_signing_shows_the_blocks_message_and_its_reason() {
    let (server, amazon, page) = login_button(true).await;
    server.set("signMode", json!("conflict"));
    let (messages, reasons) = failing_click(&server, &amazon, &page).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert!(reasons.contains("409 no_button"), "{reasons}");
    assert_eq!(amazon.inits().len(), 0, "nothing reached checkout.js");
}

#[wasm_bindgen_test]
async fn an_unreachable_server_at_click_shows_the_blocks_message_without_debug() {
    let (server, amazon, page) = login_button(false).await;
    server.set("signMode", json!("reject"));
    let (messages, reasons) = failing_click(&server, &amazon, &page).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert_eq!(reasons, "", "reasons only with data-debug");
}

#[wasm_bindgen_test]
async fn init_checkout_refusing_the_config_shows_the_blocks_message() {
    let (server, amazon, page) = login_button(true).await;
    amazon.set("initThrows", &"AmazonPay:\nMissing field payloadJSON for signInConfig parameter.".into());
    let (messages, reasons) = failing_click(&server, &amazon, &page).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert!(reasons.contains("Missing field payloadJSON for signInConfig parameter."), "{reasons}");
}

#[wasm_bindgen_test]
async fn a_checkout_js_without_decoupled_buttons_is_reported() {
    let _server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    amazon.set("legacy", &true.into());
    let page = Page::start(r#"<div id="login" data-amazonpay="login"></div>"#, settings(true));
    let messages = wait_for_message(&page, WAIT_MS).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    let reasons = page.texts_of("login", ".amazonpay2-debug").join("\n");
    assert!(reasons.contains("decoupled"), "{reasons}");
}

// ---------------------------------------------------------------------------------------------
// The review block's order button
// ---------------------------------------------------------------------------------------------

fn review() -> Value {
    json!({ "view": "review", "amazonCheckoutSessionId": "S-1",
        "shippingAddress": ["山田 太郎", "〒153-0064", "東京都目黒区下目黒1-8-1"], "paymentDescriptor": "Visa ****1111" })
}

async fn review_page(lang: Lang, debug: bool) -> (FakeServer, FakeAmazon, Page) {
    let server = FakeServer::answering(json!({ "review": review() }));
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="review" data-amazonpay="review"></div>"#, Settings { lang, ..settings(debug) });
    wait_until("the order button", WAIT_MS, || page.count(".amazonpay2-place") == 1).await;
    (server, amazon, page)
}

fn place_button(page: &Page) -> web_sys::Element {
    page.section.query_selector(".amazonpay2-place").unwrap().expect("the order button")
}

fn disabled(element: &web_sys::Element) -> bool {
    element.has_attribute("disabled")
}

#[wasm_bindgen_test]
async fn the_order_button_places_the_order_once_and_follows_the_answer() {
    let (server, _amazon, page) = review_page(Lang::Ja, false).await;
    let button = place_button(&page);
    assert_eq!(button.text_content().unwrap().trim(), "注文を確定する");
    assert!(!disabled(&button));
    server.set("delayMs", json!(300));
    click(&button);
    wait_until("the button disabled", WAIT_MS, || disabled(&place_button(&page))).await;
    click(&place_button(&page));
    wait_until("the redirect", WAIT_MS, || window().location().hash().unwrap() == "#placed").await;
    let place = server.calls_to("/checkout/place");
    assert_eq!(place.len(), 1, "one click, one order");
    assert_eq!(place[0]["method"], "POST");
    assert_eq!(place[0]["body"], json!({}));
    assert_eq!(place[0]["headers"]["x-amazonpay2-csrf"], "t");
    assert_eq!(place[0]["credentials"], "include");
    let path = window().location().pathname().unwrap() + &window().location().search().unwrap();
    window().history().unwrap().replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path)).unwrap();
}

#[wasm_bindgen_test]
async fn the_order_button_is_in_english_with_data_lang_en() {
    let (_server, _amazon, page) = review_page(Lang::En, false).await;
    assert_eq!(place_button(&page).text_content().unwrap().trim(), "Place your order");
}

#[wasm_bindgen_test]
async fn a_failed_order_is_explained_in_the_block_and_the_button_works_again() {
    let texts = Lang::Ja.texts();
    for (mode, expected, reason) in [
        ("unavailable", texts.cart_empty, "409 amazon_pay_unavailable"),
        ("amazonDown", texts.notice(Notice::AmazonUnavailable), "502 amazon_unavailable"),
        ("status500", texts.place_failed, "500 internal"),
    ] {
        let (server, _amazon, page) = review_page(Lang::Ja, true).await;
        server.set("placeMode", json!(mode));
        click(&place_button(&page));
        wait_until("the failure", WAIT_MS, || page.count(".amazonpay2-review [role=alert]") == 1).await;
        assert_eq!(page.texts_of("review", "[role=alert]"), [expected], "{mode}");
        let reasons = page.texts_of("review", ".amazonpay2-debug").join("\n");
        assert!(reasons.contains(reason), "{mode}: {reasons}");
        assert!(!disabled(&place_button(&page)), "{mode}: the shopper may try again");
        assert_eq!(window().location().hash().unwrap(), "", "{mode}: the page stays");
    }
}

// ---------------------------------------------------------------------------------------------
// The button's accessible name
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn the_buttons_name_contains_the_label_it_shows() {
    let _server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    amazon.set("label", &"Amazon アカウントでログイン".into());
    let page = Page::start(r#"<div id="login" data-amazonpay="login"></div>"#, settings(false));
    wait_for_button(&page, &amazon, 1, "login").await;
    let name = the_button(&page).get_attribute("aria-label").unwrap();
    assert_eq!(name, "Amazon アカウントでログインSANDBOX", "what the shadow root shows, style left out");
}

#[wasm_bindgen_test]
async fn a_page_back_from_the_back_forward_cache_has_its_order_button_enabled_again() {
    let (server, _amazon, page) = review_page(Lang::Ja, false).await;
    // The request never ends here (the page left for Amazon and was kept in the cache).
    server.set("delayMs", json!(60_000));
    click(&place_button(&page));
    wait_until("the button disabled", WAIT_MS, || disabled(&place_button(&page))).await;
    window().dispatch_event(&web_sys::Event::new("pageshow").unwrap()).unwrap();
    wait_until("the button enabled again", WAIT_MS, || !disabled(&place_button(&page))).await;
}
