//! The widget's runtime in a real browser (headless Chromium) against a fake widget API and a fake
//! checkout.js: the one request, the one Amazon button per page, views other than a button,
//! failures, settings and bad input.
#![cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod browser;

use amazonpay2::widget::Settings;
use amazonpay2::widget::texts::{Lang, Texts};
use browser::*;
use js_sys::Reflect;
use serde_json::{Value, json};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::HtmlElement;

// ---------------------------------------------------------------------------------------------
// Runtime: requests
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn one_request_carries_every_distinct_block_description() {
    let server = FakeServer::answering(all_buttons());
    let _amazon = FakeAmazon::install();
    let _page = Page::start(
        r#"<div id="a" data-amazonpay="checkout"></div>
           <div id="b" data-amazonpay="checkout"></div>
           <div id="c" data-amazonpay="login"></div>
           <div id="d" data-amazonpay="login" data-button-color="DarkGray"></div>
           <div id="e" data-amazonpay="mypage" data-device="sp"></div>
           <div id="f" data-amazonpay="checkout" data-placement=" Checkout " data-device="pc"></div>
           <div id="g" data-amazonpay="nonsense"></div>"#,
        settings(false),
    );
    wait_until("the request is sent", WAIT_MS, || server.count() == 1).await;
    settle().await;
    assert_eq!(server.count(), 1, "requests: {:?}", server.calls());
    let call = &server.calls()[0];
    assert_eq!(call["method"], "POST");
    assert!(call["url"].as_str().unwrap().ends_with("/api/amazonpay2/buttons"), "{}", call["url"]);
    assert!(call["headers"]["content-type"].as_str().unwrap_or_default().starts_with("application/json"));
    assert_eq!(
        call["body"],
        json!({ "blocks": [
            spec("checkout", "Checkout", "Gold"),
            spec("login", "Other", "Gold"),
            spec("login", "Other", "DarkGray"),
            spec("mypage", "Other", "Gold"),
        ] }),
        "device is not sent, duplicates and unknown kinds are not asked for"
    );
}

#[wasm_bindgen_test]
async fn a_page_without_known_blocks_asks_nothing() {
    let server = FakeServer::answering(all_buttons());
    let _amazon = FakeAmazon::install();
    let page =
        Page::start(&format!(r#"{SHOP_CONTENT}<div id="typo" data-amazonpay="chekout"></div>"#), settings(false));
    settle().await;
    assert_eq!(server.count(), 0);
    assert!(page.block("typo").has_attribute("data-amazonpay2-block"), "claimed, to show its diagnostic");
    assert_eq!(page.text("typo"), "", "diagnostics only with debug");
}

#[wasm_bindgen_test]
async fn data_device_chooses_the_layout() {
    let _server = FakeServer::answering(json!({ "checkout": button(), "login": nothing() }));
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div id="pc" data-amazonpay="checkout" data-device="pc"></div>
           <div id="sp" data-amazonpay="login" data-device="sp"></div>"#,
        settings(false),
    );
    wait_for_button(&page, &amazon, 1, "pc").await;
    assert_eq!(page.count_in("pc", ".amazonpay2.amazonpay2--pc"), 1);
    assert_eq!(page.count_in("sp", ".amazonpay2.amazonpay2--sp"), 1);
}

// ---------------------------------------------------------------------------------------------
// Runtime: one Amazon button per page
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn checkout_wins_and_losers_render_nothing() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    settle().await;

    assert_eq!(amazon.count(), 1, "renderButton calls: {:?}", amazon.calls());
    page.assert_button_only_in("checkout");
    let options = &amazon.calls()[0]["options"];
    assert_eq!(options["productType"], "PayAndShip");
    assert_eq!(options["placement"], "Checkout");
    assert_eq!(options["merchantId"], "TESTMERCHANT", "the server's options reach renderButton as sent");
    for loser in ["login", "mypage"] {
        assert_eq!(page.text(loser), "", "#{loser} shows something");
        assert_eq!(page.count_in(loser, ".amazonpay2-debug, .amazonpay2-message, button"), 0);
    }
}

#[wasm_bindgen_test]
async fn mypage_wins_over_login_without_checkout() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div id="login" data-amazonpay="login"></div><div id="mypage" data-amazonpay="mypage"></div>"#,
        settings(false),
    );
    wait_for_button(&page, &amazon, 1, "mypage").await;
    settle().await;
    assert_eq!(amazon.count(), 1);
    assert_eq!(amazon.calls()[0]["options"]["productType"], "SignIn");
    page.assert_button_only_in("mypage");
}

#[wasm_bindgen_test]
async fn blocks_without_a_button_for_this_shopper_do_not_compete() {
    // A logged-in member: login renders nothing; an empty cart: checkout explains itself.
    let _server = FakeServer::answering(json!({
        "checkout": unavailable("cartEmpty"), "login": nothing(), "mypage": button(),
    }));
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(true));
    wait_for_button(&page, &amazon, 1, "mypage").await;
    settle().await;
    assert_eq!(amazon.count(), 1);
    page.assert_button_only_in("mypage");
    assert_eq!(page.text("login"), "");
    assert_eq!(page.texts_of("checkout", ".amazonpay2-message"), [Lang::Ja.texts().cart_empty]);
}

#[wasm_bindgen_test]
async fn with_debug_losers_name_the_winner_and_warn_once() {
    let warnings = Recorder::console_warn();
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(true));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    settle().await;

    assert_eq!(amazon.count(), 1);
    page.assert_button_only_in("checkout");
    assert_eq!(page.count_in("checkout", ".amazonpay2-debug"), 0, "the winner has no note");
    for loser in ["login", "mypage"] {
        let notes = page.texts_of(loser, ".amazonpay2-debug");
        assert_eq!(notes.len(), 1, "#{loser}: {notes:?}");
        assert!(notes[0].contains("#checkout"), "#{loser}'s note does not name the winner: {}", notes[0]);
        assert_eq!(page.count_in(loser, ".amazonpay2-button, .amazonpay2-message"), 0);
        let warned: Vec<String> = warnings
            .calls()
            .into_iter()
            .filter(|w| w.contains(&format!("#{loser}")) && w.contains("#checkout"))
            .collect();
        assert_eq!(warned.len(), 1, "console.warn about #{loser}: {warned:?}");
    }
}

#[wasm_bindgen_test]
async fn a_hidden_responsive_duplicate_loses_and_the_button_follows_the_css() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    // The SP copy comes first in the document, so only visibility can make the PC copy win.
    let page = Page::start(
        r#"<style>.pc-view .sp-only, .sp-view .pc-only { display: none }</style>
           <div class="sp-only"><div id="sp" data-amazonpay="checkout" data-device="sp"></div></div>
           <div class="pc-only"><div id="pc" data-amazonpay="checkout" data-device="pc"></div></div>"#,
        settings(false),
    );
    page.section.set_class_name("pc-view");
    wait_for_button(&page, &amazon, 1, "pc").await;
    settle().await;
    assert_eq!(amazon.count(), 1);
    page.assert_button_only_in("pc");

    page.section.set_class_name("sp-view");
    wait_for_button(&page, &amazon, 2, "sp").await;
    settle().await;
    assert_eq!(amazon.count(), 2, "renderButton calls: {:?}", amazon.calls());
    page.assert_button_only_in("sp");
    assert_eq!(page.count_in("pc", ".amazonpay2-button"), 0, "the old container is gone");

    page.section.set_class_name("pc-view");
    wait_for_button(&page, &amazon, 3, "pc").await;
    settle().await;
    assert_eq!(amazon.count(), 3);
    page.assert_button_only_in("pc");
    let selectors: Vec<Value> = amazon.calls().iter().map(|c| c["selector"].clone()).collect();
    assert_ne!(selectors[0], selectors[2], "checkout.js needs a fresh container each time");
}

#[wasm_bindgen_test]
async fn the_button_follows_a_media_query_on_resize() {
    // The shop's style sheet lies outside the widget's part of the page; the viewport changes.
    let style = document().create_element("style").unwrap();
    document().head().unwrap().append_child(&style).unwrap();
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div class="mq-sp"><div id="sp" data-amazonpay="login"></div></div>
           <div class="mq-pc"><div id="pc" data-amazonpay="login"></div></div>"#,
        settings(false),
    );
    style.set_text_content(Some(".mq-sp { display: none }"));
    window().dispatch_event(&web_sys::Event::new("resize").unwrap()).unwrap();
    wait_for_button(&page, &amazon, 1, "pc").await;
    // Nothing else pending: only the resize can tell the widget.
    settle().await;

    style.set_text_content(Some(".mq-pc { display: none }"));
    window().dispatch_event(&web_sys::Event::new("resize").unwrap()).unwrap();
    wait_for_button(&page, &amazon, 2, "sp").await;
    settle().await;
    page.assert_button_only_in("sp");
    style.remove();
}

/// Clearfix wrappers (`overflow: hidden|auto`, auto height) around a still-empty `#target` block:
/// zero-high only because the block is empty, they grow with the button.
const CLEARFIX_LAYOUTS: [&str; 2] = [
    r#"<div style="overflow:hidden"><div id="target" data-amazonpay="checkout"></div></div>"#,
    r#"<div style="overflow:auto"><div id="target" data-amazonpay="checkout"></div></div>"#,
];

/// Shrink-to-fit boxes around a still-empty `#target` block: zero-wide only because it is empty.
const SHRINK_TO_FIT_LAYOUTS: [&str; 5] = [
    r#"<div style="display:flex;gap:8px"><a href="/cart">カートに戻る</a><div id="target" data-amazonpay="checkout"></div></div>"#,
    r#"<div style="float:right"><div id="target" data-amazonpay="checkout"></div></div>"#,
    r#"<div style="display:inline-block"><div id="target" data-amazonpay="checkout"></div></div>"#,
    r#"<table><tr><td>合計 3,000 円</td><td><div id="target" data-amazonpay="checkout"></div></td></tr></table>"#,
    r#"<p>または <span id="target" data-amazonpay="checkout"></span></p>"#,
];

#[wasm_bindgen_test]
async fn a_lone_block_gets_the_button_in_everyday_layouts() {
    // Whether the fix lies in `is_visible` or in giving the widget's own mount a minimal size,
    // each of these pages must show its button.
    let _server = FakeServer::answering(all_buttons());
    let mut without_button = Vec::new();
    for layout in CLEARFIX_LAYOUTS.iter().chain(&SHRINK_TO_FIT_LAYOUTS) {
        let amazon = FakeAmazon::install();
        let page = Page::start(layout, settings(false));
        if !eventually(WAIT_MS, || page.count_in("target", ".amazonpay2-button") == 1).await {
            without_button.push(*layout);
        }
        assert!(amazon.count() <= 1);
    }
    assert_eq!(without_button, Vec::<&str>::new(), "pages that never show their button");
}

#[wasm_bindgen_test]
async fn a_block_in_a_closed_details_does_not_take_the_button_until_opened() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<details id="drawer"><summary>カート</summary><div id="hidden" data-amazonpay="checkout"></div></details>
           <div id="shown" data-amazonpay="checkout"></div>"#,
        settings(false),
    );
    wait_for_button(&page, &amazon, 1, "shown").await;
    page.assert_button_only_in("shown");

    page.block("drawer").set_attribute("open", "").unwrap();
    wait_for_button(&page, &amazon, 2, "hidden").await;
    page.assert_button_only_in("hidden");
}

#[wasm_bindgen_test]
async fn a_block_added_later_is_claimed_and_the_rule_still_holds() {
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="login" data-amazonpay="login"></div>"#, settings(false));
    wait_for_button(&page, &amazon, 1, "login").await;
    assert_eq!(server.count(), 1);

    // A cart drawer opens with a checkout block: one more request, for it alone.
    page.append(r#"<div class="drawer"><div id="checkout" data-amazonpay="checkout"></div></div>"#);
    wait_for_button(&page, &amazon, 2, "checkout").await;
    settle().await;
    assert_eq!(server.count(), 2, "requests: {:?}", server.calls());
    assert_eq!(server.requested(1), json!([spec("checkout", "Checkout", "Gold")]));
    assert_eq!(amazon.count(), 2);
    page.assert_button_only_in("checkout");
    assert!(page.block("checkout").has_attribute("data-amazonpay2-block"), "the late block is claimed");

    // Another login block, already answered: no request, and it loses.
    page.append(r#"<div id="login2" data-amazonpay="login"></div>"#);
    wait_until("#login2 is claimed", WAIT_MS, || page.block("login2").has_attribute("data-amazonpay2-block")).await;
    settle().await;
    assert_eq!(server.count(), 2, "requests: {:?}", server.calls());
    assert_eq!(amazon.count(), 2);
    page.assert_button_only_in("checkout");
    assert_eq!(page.text("login2"), "");
}

#[wasm_bindgen_test]
async fn a_block_added_while_its_description_is_being_asked_for_is_not_asked_twice() {
    let server = FakeServer::install(json!({ "views": all_buttons(), "delayMs": 300 }));
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="first" data-amazonpay="login"></div>"#, settings(false));
    wait_until("the request is sent", WAIT_MS, || server.count() == 1).await;
    page.append(r#"<div id="second" data-amazonpay="login"></div>"#);
    wait_for_button(&page, &amazon, 1, "first").await;
    settle().await;
    assert_eq!(server.count(), 1, "requests: {:?}", server.calls());
    assert_eq!(amazon.count(), 1);
    page.assert_button_only_in("first");
}

#[wasm_bindgen_test]
async fn removing_the_winner_hands_the_button_to_the_next_block() {
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;

    page.block("checkout").remove();
    wait_for_button(&page, &amazon, 2, "mypage").await;
    settle().await;
    assert_eq!(amazon.count(), 2);
    page.assert_button_only_in("mypage");
    assert_eq!(server.count(), 1, "no new request is needed");

    page.block("mypage").remove();
    wait_for_button(&page, &amazon, 3, "login").await;
    settle().await;
    page.assert_button_only_in("login");
}

#[wasm_bindgen_test]
async fn stop_unmounts_the_blocks_and_stops_watching() {
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let mut page = Page::start(r#"<div id="checkout" data-amazonpay="checkout"></div>"#, settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    page.runtime.take().unwrap().stop();
    settle().await;
    assert_eq!(page.count(".amazonpay2"), 0, "the blocks are unmounted");
    page.append(r#"<div id="late" data-amazonpay="login"></div>"#);
    settle().await;
    assert_eq!(server.count(), 1);
    assert!(!page.block("late").has_attribute("data-amazonpay2-block"));
}

// ---------------------------------------------------------------------------------------------
// Runtime: views other than a button
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn nothing_renders_nothing_and_loads_no_checkout_js() {
    const NEVER: &str = "http://127.0.0.1:9/nothing-checkout.js";
    let server = FakeServer::install(json!({ "views": { "login": nothing() }, "checkoutJs": NEVER }));
    let _amazon = FakeAmazon::absent();
    let page = Page::start(r#"<div id="login" data-amazonpay="login"></div>"#, settings(true));
    wait_until("the request is answered", WAIT_MS, || server.count() == 1).await;
    settle().await;
    assert_eq!(page.text("login"), "", "with debug too");
    assert_eq!(page.count(".amazonpay2-button"), 0);
    assert_eq!(page.runtime().winner(), None);
    assert_eq!(scripts_loading(NEVER), 0, "checkout.js loaded on a page without a button");
}

#[wasm_bindgen_test]
async fn linked_mypage_shows_the_shops_unlink_button_which_does_not_count() {
    let _server = FakeServer::answering(json!({ "checkout": button(), "mypage": linked() }));
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div id="mypage" data-amazonpay="mypage"></div><div id="checkout" data-amazonpay="checkout"></div>"#,
        settings(false),
    );
    wait_for_button(&page, &amazon, 1, "checkout").await;
    wait_until("the unlink button is shown", WAIT_MS, || page.count_in("mypage", ".amazonpay2-unlink") == 1).await;
    settle().await;

    assert_eq!(amazon.count(), 1, "the linked block draws no Amazon button");
    page.assert_button_only_in("checkout");
    let unlink = page.block("mypage").query_selector(".amazonpay2-unlink").unwrap().unwrap();
    assert_eq!(unlink.tag_name(), "BUTTON");
    assert_eq!(unlink.get_attribute("type").as_deref(), Some("button"), "not a form submit");
    assert_eq!(unlink.text_content().unwrap().trim(), Lang::Ja.texts().unlink);
    assert!(page.text("mypage").contains(Lang::Ja.texts().linked));
}

#[wasm_bindgen_test]
async fn unlinking_asks_first_then_sends_the_csrf_token_and_asks_for_the_views_again() {
    let server = FakeServer::answering(json!({ "mypage": linked() }));
    let amazon = FakeAmazon::install();
    let original_confirm = Reflect::get(&window(), &"confirm".into()).unwrap();
    let answer = js("window.__confirmAnswer = false; return () => window.__confirmAnswer;", &JsValue::UNDEFINED);
    Reflect::set(&window(), &"confirm".into(), &answer).unwrap();
    let page = Page::start(r#"<div id="mypage" data-amazonpay="mypage"></div>"#, settings(false));
    wait_until("the unlink button is shown", WAIT_MS, || page.count_in("mypage", ".amazonpay2-unlink") == 1).await;
    let click = || {
        page.block("mypage")
            .query_selector(".amazonpay2-unlink")
            .unwrap()
            .unwrap()
            .unchecked_into::<HtmlElement>()
            .click()
    };

    click();
    settle().await;
    assert_eq!(server.count(), 1, "declined: nothing sent");

    Reflect::set(&window(), &"__confirmAnswer".into(), &true.into()).unwrap();
    server.set_view("mypage", button());
    click();
    wait_for_button(&page, &amazon, 1, "mypage").await;
    let calls = server.calls();
    assert_eq!(calls.len(), 3, "requests: {calls:?}");
    assert_eq!(calls[1]["method"], "DELETE");
    assert!(calls[1]["url"].as_str().unwrap().ends_with("/api/amazonpay2/link"));
    assert_eq!(calls[1]["headers"]["x-amazonpay2-csrf"], "t");
    assert_eq!(calls[2]["method"], "POST");
    assert_eq!(page.count_in("mypage", ".amazonpay2-unlink"), 0);

    Reflect::set(&window(), &"confirm".into(), &original_confirm).unwrap();
    delete_global("__confirmAnswer");
}

/// Three checkout blocks, one per reason; returns the page once all three messages show.
async fn unavailable_page(lang: Lang) -> (FakeServer, Page) {
    let server = FakeServer::answering(json!({
        "checkout:Cart": unavailable("cartEmpty"),
        "checkout:Checkout": unavailable("shippingMethodNotAllowed"),
        "checkout:Product": unavailable("recurringMonthlyLimit"),
    }));
    let page = Page::start(
        r#"<div id="empty" data-amazonpay="checkout" data-placement="Cart"></div>
           <div id="shipping" data-amazonpay="checkout"></div>
           <div id="recurring" data-amazonpay="checkout" data-placement="Product"></div>"#,
        Settings { lang, ..settings(false) },
    );
    wait_until("three messages", WAIT_MS, || page.count(".amazonpay2-message") == 3).await;
    (server, page)
}

fn assert_reasons(page: &Page, texts: &Texts) {
    assert_eq!(page.texts_of("empty", ".amazonpay2-message"), [texts.cart_empty]);
    assert_eq!(page.texts_of("shipping", ".amazonpay2-message"), [texts.shipping_not_allowed]);
    assert_eq!(page.texts_of("recurring", ".amazonpay2-message"), [texts.recurring_limit]);
    assert_eq!(page.count(".amazonpay2-button"), 0);
}

#[wasm_bindgen_test]
async fn unavailable_checkout_explains_why_in_japanese() {
    let _amazon = FakeAmazon::install();
    let (_server, page) = unavailable_page(Lang::Ja).await;
    assert_reasons(&page, Lang::Ja.texts());
    assert!(page.text("empty").contains("カート"), "{}", page.text("empty"));
    assert!(page.text("shipping").contains("配送方法"), "{}", page.text("shipping"));
    assert!(page.text("recurring").contains("100,000"), "{}", page.text("recurring"));
    assert_eq!(page.count(".amazonpay2[lang=\"ja\"]"), 3);
}

#[wasm_bindgen_test]
async fn unavailable_checkout_explains_why_in_english() {
    let _amazon = FakeAmazon::install();
    let (_server, page) = unavailable_page(Lang::En).await;
    assert_reasons(&page, Lang::En.texts());
    assert!(page.text("empty").contains("cart is empty"), "{}", page.text("empty"));
    assert_eq!(page.count(".amazonpay2[lang=\"en\"]"), 3);
}

// ---------------------------------------------------------------------------------------------
// Runtime: errors
// ---------------------------------------------------------------------------------------------

/// The contract's error shape: a short message in exactly one block (the would-be winner), the
/// reason with debug only, no Amazon button, the shop's content untouched, no uncaught error.
async fn assert_api_failure(mode: &str, debug: bool, reason: &str) {
    let _server = FakeServer::failing(mode);
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(debug));
    let shop_content = page.block("shop-content").outer_html();

    let messages = wait_for_message(&page, WAIT_MS).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now], "{mode}");
    assert_eq!(page.count_in("checkout", ".amazonpay2-message"), 1, "{mode}: the message is in the would-be winner");
    assert!(messages[0].chars().count() < 80, "{mode}: not short");
    let reasons = page.texts_of("checkout", ".amazonpay2-debug");
    if debug {
        assert!(reasons.iter().any(|r| r.contains(reason)), "{mode}: reason {reason:?} not in {reasons:?}");
    } else {
        assert_eq!(reasons, Vec::<String>::new(), "{mode}: reasons shown without debug");
        assert_eq!(page.text("login"), "");
        assert_eq!(page.text("mypage"), "");
    }
    assert_eq!(amazon.count(), 0);
    assert_eq!(page.count(".amazonpay2-button"), 0);
    assert_eq!(page.block("shop-content").outer_html(), shop_content);
}

#[wasm_bindgen_test]
async fn fetch_rejecting_shows_one_short_message() {
    assert_api_failure("reject", false, "").await;
}

#[wasm_bindgen_test]
async fn fetch_rejecting_shows_the_reason_with_debug() {
    assert_api_failure("reject", true, "widget API unreachable").await;
}

#[wasm_bindgen_test]
async fn an_api_error_answer_shows_one_short_message() {
    assert_api_failure("status500", false, "").await;
    assert_api_failure("status500", true, "500 internal: The server failed.").await;
}

#[wasm_bindgen_test]
async fn malformed_json_shows_one_short_message() {
    assert_api_failure("malformed", false, "").await;
    assert_api_failure("malformed", true, "unexpected widget API answer").await;
}

#[wasm_bindgen_test]
async fn the_wrong_number_of_views_shows_one_short_message() {
    assert_api_failure("wrongCount", false, "").await;
    assert_api_failure("wrongCount", true, "views for 3 blocks").await;
}

#[wasm_bindgen_test]
async fn a_hanging_api_ends_in_a_message_after_the_widgets_timeout() {
    // The widget aborts its request after 10 s.
    let server = FakeServer::failing("hang");
    let _amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(true));
    let messages = wait_for_message(&page, 13_000).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert_eq!(page.count_in("checkout", ".amazonpay2-message"), 1);
    let reasons = page.texts_of("checkout", ".amazonpay2-debug").join("\n");
    assert!(reasons.contains("widget API unreachable"), "{reasons}");
    assert_eq!(server.count(), 1);
}

#[wasm_bindgen_test]
async fn render_button_throwing_shows_a_message_in_the_block() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::throwing("AmazonPay:\nMissing parameter 'merchantId' in the options object.");
    let page = Page::start(&three_blocks(), settings(true));
    let messages = wait_for_message(&page, WAIT_MS).await;
    assert_eq!(amazon.count(), 1);
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert_eq!(page.count_in("checkout", ".amazonpay2-message"), 1);
    let reasons = page.texts_of("checkout", ".amazonpay2-debug").join("\n");
    assert!(reasons.contains("Missing parameter 'merchantId'"), "{reasons}");
    assert_eq!(page.count(".amazonpay2-button"), 0);
}

#[wasm_bindgen_test]
async fn unreachable_checkout_js_shows_a_message_in_the_block() {
    const UNREACHABLE: &str = "http://127.0.0.1:9/checkout.js";
    let _server = FakeServer::install(json!({ "views": all_buttons(), "checkoutJs": UNREACHABLE }));
    let _amazon = FakeAmazon::absent();
    let page = Page::start(&three_blocks(), settings(true));
    let shop_content = page.block("shop-content").outer_html();
    // The widget gives checkout.js 10 s before its own timeout; a refused connection is quicker.
    let messages = wait_for_message(&page, 12_000).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert_eq!(page.count_in("checkout", ".amazonpay2-message"), 1);
    let reasons = page.texts_of("checkout", ".amazonpay2-debug").join("\n");
    assert!(reasons.contains("checkout.js"), "{reasons}");
    assert_eq!(page.count(".amazonpay2-button"), 0);
    assert_eq!(page.block("shop-content").outer_html(), shop_content);
}

#[wasm_bindgen_test]
async fn checkout_js_is_loaded_once_from_the_answer_when_amazon_is_absent() {
    let amazon = FakeAmazon::as_script();
    let src = amazon.script_url.clone().unwrap();
    let _server = FakeServer::install(json!({ "views": all_buttons(), "checkoutJs": src }));
    let page = Page::start(&three_blocks(), settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    assert_eq!(scripts_loading(&src), 1);

    page.block("checkout").remove();
    wait_for_button(&page, &amazon, 2, "mypage").await;
    settle().await;
    assert_eq!(scripts_loading(&src), 1, "checkout.js loaded again");
    page.assert_button_only_in("mypage");
}

// ---------------------------------------------------------------------------------------------
// Settings and bad input
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_bad_lang_setting_falls_back_to_japanese_and_changes_nothing_else() {
    let from_loader = to_js(&json!({ "endpoint": "/api/amazonpay2/", "lang": "<b>xx</b>", "debug": false }));
    let settings = Settings::from_js(&from_loader);
    assert_eq!(
        settings,
        Settings { endpoint: "/api/amazonpay2".to_owned(), lang: Lang::Ja, debug: false, notice: None }
    );
    assert_eq!(Settings::from_js(&to_js(&json!({ "lang": " en " }))).lang, Lang::En);
    assert_eq!(
        Settings::from_js(&JsValue::UNDEFINED),
        Settings { endpoint: "/api/amazonpay2".to_owned(), lang: Lang::Ja, debug: false, notice: None }
    );

    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    // A data-lang on a block is no setting at all.
    let page = Page::start(&three_blocks().replace(r#"id="login""#, r#"id="login" data-lang="zz""#), settings);
    wait_for_button(&page, &amazon, 1, "checkout").await;
    settle().await;
    assert_eq!(amazon.count(), 1);
    assert_eq!(server.count(), 1);
    assert!(server.calls()[0]["url"].as_str().unwrap().ends_with("/api/amazonpay2/buttons"));
    page.assert_button_only_in("checkout");
    assert_eq!(page.count(".amazonpay2[lang=\"ja\"]"), 3);
}

#[wasm_bindgen_test]
async fn hostile_attribute_values_show_as_text_in_debug_and_change_nothing_else() {
    let hostile = r#"<img id="injected" src="x" onerror="window.__injected = true">"#.repeat(50);
    let escaped = hostile.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(
        &format!(
            r#"<div id="checkout" data-amazonpay="checkout" data-placement="{escaped}" data-button-color="{escaped}"></div>
               <div id="unknown" data-amazonpay="{escaped}"></div>"#
        ),
        settings(true),
    );
    wait_for_button(&page, &amazon, 1, "checkout").await;
    settle().await;
    assert_eq!(server.requested(0), json!([spec("checkout", "Checkout", "Gold")]));
    let diagnostics = page.texts_of("checkout", ".amazonpay2-debug");
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    assert!(diagnostics.iter().any(|d| d.contains("data-placement=\"<img")));
    assert!(diagnostics.iter().all(|d| d.chars().count() < 200), "{diagnostics:?}");
    let unknown = page.texts_of("unknown", ".amazonpay2-debug");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].contains("data-amazonpay=\"<img"));
    assert_eq!(page.count("img"), 0, "markup from an attribute was rendered");
    assert!(Reflect::get(&window(), &"__injected".into()).unwrap().is_undefined());
    page.assert_button_only_in("checkout");
}
