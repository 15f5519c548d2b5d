//! The widget in a real browser (headless Chromium) taking over what the loader started while
//! the wasm was on its way: the page's API request, the answer remembered from the tab's last view
//! of the same blocks, and the load of checkout.js.
#![cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod browser;

use amazonpay2::widget::texts::Lang;
use serde_json::json;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use browser::*;

const LOGIN_BODY: &str = r#"{"blocks":[{"kind":"login","placement":"Other","buttonColor":"Gold"}]}"#;
const LOGIN_BLOCK: &str = r#"<div id="login" data-amazonpay="login"></div>"#;

/// The loader's settings object with a request it sent for `body` through the page's `fetch`
/// (the fake server), held back until `release()` is called, and the answer it remembered (the
/// JSON text, as the loader stores it).
fn loader_settings(body: &str, remembered: Option<&str>) -> JsValue {
    js(
        "const [body, remembered] = JSON.parse(argument);
         let release;
         const gate = new Promise(resolve => { release = resolve; });
         const response = gate.then(() => fetch('/api/amazonpay2/buttons', { method: 'POST', credentials: 'include',
           headers: { 'Content-Type': 'application/json' }, body }));
         return { prefetch: { body, response, remembered }, release: () => release() };",
        &json!([body, remembered]).to_string().into(),
    )
}

fn release(loader: &JsValue) {
    js("argument.release();", loader);
}

#[wasm_bindgen_test]
async fn the_loaders_request_is_taken_over_when_it_describes_the_same_blocks() {
    let server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    let loader = loader_settings(LOGIN_BODY, None);
    let page = Page::start_after_loader(LOGIN_BLOCK, settings(false), &loader);
    settle().await;
    assert_eq!(server.count(), 0, "the widget waits for the loader's request instead of sending its own");
    release(&loader);
    wait_for_button(&page, &amazon, 1, "login").await;
    settle().await;
    assert_eq!(server.count(), 1, "one request for the page");
}

#[wasm_bindgen_test]
async fn a_loader_request_for_other_blocks_is_not_used() {
    let server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    let other = r#"{"blocks":[{"kind":"login","placement":"Home","buttonColor":"Gold"}]}"#;
    let loader = loader_settings(other, None);
    let page = Page::start_after_loader(LOGIN_BLOCK, settings(false), &loader);
    wait_for_button(&page, &amazon, 1, "login").await;
    assert_eq!(server.requested(0), json!([spec("login", "Other", "Gold")]), "its own description");
    release(&loader);
}

#[wasm_bindgen_test]
async fn a_remembered_answer_shows_at_once_and_the_fresh_one_corrects_it() {
    let server = FakeServer::answering(json!({ "login": nothing() }));
    let amazon = FakeAmazon::install();
    let remembered = json!({ "blocks": [{ "view": "button", "options": { "merchantId": "REMEMBERED",
        "ledgerCurrency": "JPY", "placement": "Other", "productType": "SignIn" } }],
        "checkoutJs": "http://127.0.0.1:9/checkout.js" });
    let loader = loader_settings(LOGIN_BODY, Some(&remembered.to_string()));
    let page = Page::start_after_loader(LOGIN_BLOCK, settings(false), &loader);
    wait_for_button(&page, &amazon, 1, "login").await;
    assert_eq!(server.count(), 0, "drawn before any answer came");
    assert_eq!(amazon.calls()[0]["options"]["merchantId"], "REMEMBERED");
    // The shopper logged in meanwhile: the fresh answer has no button for them.
    release(&loader);
    wait_until("the button is gone", WAIT_MS, || page.count(".amazonpay2-button") == 0).await;
    assert_eq!(page.text("login"), "");
}

#[wasm_bindgen_test]
async fn a_remembered_button_is_kept_when_the_fresh_answer_agrees() {
    let server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    // What the fake server answers for this block, as the loader would have remembered it.
    let remembered = r#"{"blocks":[{"view":"button","options":{"merchantId":"TESTMERCHANT","ledgerCurrency":"JPY",
        "checkoutLanguage":"ja_JP","sandbox":true,"productType":"SignIn","placement":"Other","buttonColor":"Gold"}}],
        "checkoutJs":"http://127.0.0.1:9/checkout.js"}"#;
    let loader = loader_settings(LOGIN_BODY, Some(remembered));
    let page = Page::start_after_loader(LOGIN_BLOCK, settings(false), &loader);
    wait_for_button(&page, &amazon, 1, "login").await;
    release(&loader);
    wait_until("the fresh answer", WAIT_MS, || server.count() == 1).await;
    settle().await;
    assert_eq!(amazon.count(), 1, "not drawn again: {:?}", amazon.calls());
    page.assert_button_only_in("login");
}

#[wasm_bindgen_test]
async fn a_broken_remembered_answer_is_ignored() {
    let server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    let loader = loader_settings(LOGIN_BODY, Some(r#"{"blocks":"<img src=x>"}"#));
    let page = Page::start_after_loader(LOGIN_BLOCK, settings(false), &loader);
    settle().await;
    assert_eq!(amazon.count(), 0);
    release(&loader);
    wait_for_button(&page, &amazon, 1, "login").await;
    assert_eq!(server.count(), 1);
}

#[wasm_bindgen_test]
async fn the_loaders_checkout_js_is_taken_over_not_loaded_again() {
    let amazon = FakeAmazon::as_script();
    let src = amazon.script_url.clone().unwrap();
    let _server = FakeServer::install(json!({ "views": { "login": button() }, "checkoutJs": src }));
    // The loader started checkout.js itself, as it does with the API request.
    let loader = js(
        "const tag = document.createElement('script');
         tag.src = argument;
         const loaded = new Promise((resolve, reject) => { tag.onload = resolve; tag.onerror = reject; });
         document.head.appendChild(tag);
         return { checkoutJs: { url: argument, loaded } };",
        &src.clone().into(),
    );
    let page = Page::start_after_loader(LOGIN_BLOCK, settings(false), &loader);
    wait_for_button(&page, &amazon, 1, "login").await;
    assert_eq!(scripts_loading(&src), 1, "checkout.js loaded once");
}

#[wasm_bindgen_test]
async fn a_failed_loader_request_shows_the_message() {
    let _server = FakeServer::failing("status500");
    let _amazon = FakeAmazon::install();
    let loader = loader_settings(LOGIN_BODY, None);
    let page = Page::start_after_loader(LOGIN_BLOCK, settings(true), &loader);
    release(&loader);
    let messages = wait_for_message(&page, WAIT_MS).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert!(page.texts_of("login", ".amazonpay2-debug").join("").contains("500 internal"));
}

// ---------------------------------------------------------------------------------------------
// The space the loader reserves: held until the widget settles each block
// ---------------------------------------------------------------------------------------------

fn settled(page: &Page, id: &str) -> bool {
    page.block(id).has_attribute("data-amazonpay2-settled")
}

#[wasm_bindgen_test]
async fn blocks_are_settled_once_their_display_is_final_and_not_before() {
    let server =
        FakeServer::install(json!({ "views": { "checkout": button(), "login": button(), "mypage": nothing() } }));
    // The answer is held until every block has been looked at without it.
    server.hold();
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(false));
    wait_until("the widget's request", WAIT_MS, || server.count() == 1).await;
    for id in ["login", "mypage", "checkout"] {
        assert!(!settled(&page, id), "#{id} settled before the answer");
    }
    server.release();
    wait_for_button(&page, &amazon, 1, "checkout").await;
    for id in ["login", "mypage", "checkout"] {
        assert!(settled(&page, id), "#{id}: the winner drawn, the loser and the empty block final");
    }
}

#[wasm_bindgen_test]
async fn the_winner_stays_unsettled_while_checkout_js_loads() {
    let amazon = FakeAmazon::as_script();
    let src = amazon.script_url.clone().unwrap();
    let _server = FakeServer::install(json!({ "views": { "login": button() }, "checkoutJs": src }));
    // The loader's load of checkout.js, held back until released.
    let loader = js(
        "let release;
         const loaded = new Promise(resolve => { release = resolve; }).then(() => new Promise((resolve, reject) => {
           const tag = document.createElement('script');
           tag.src = argument; tag.onload = resolve; tag.onerror = reject;
           document.head.appendChild(tag);
         }));
         return { checkoutJs: { url: argument, loaded }, release: () => release() };",
        &src.into(),
    );
    let page = Page::start_after_loader(LOGIN_BLOCK, settings(false), &loader);
    settle().await;
    assert!(!settled(&page, "login"), "no button yet: the reserved space holds");
    release(&loader);
    wait_for_button(&page, &amazon, 1, "login").await;
    assert!(settled(&page, "login"));
}

#[wasm_bindgen_test]
async fn a_hidden_only_button_block_keeps_waiting_until_it_can_be_seen() {
    let _server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div id="wrap" style="display:none"><div id="login" data-amazonpay="login"></div></div>"#,
        settings(false),
    );
    settle().await;
    assert_eq!(amazon.count(), 0);
    assert!(!settled(&page, "login"));
    page.block("wrap").remove_attribute("style").unwrap();
    wait_for_button(&page, &amazon, 1, "login").await;
    assert!(settled(&page, "login"));
}

#[wasm_bindgen_test]
async fn an_unlink_makes_the_loader_forget_the_answers_it_remembered() {
    let server = FakeServer::answering(json!({ "mypage": linked() }));
    let _amazon = FakeAmazon::install();
    let loader = js("const forgot = []; return { forgot, forget: () => forgot.push(true) };", &JsValue::UNDEFINED);
    let original_confirm = js_sys::Reflect::get(&window(), &"confirm".into()).unwrap();
    js("window.confirm = () => true;", &JsValue::UNDEFINED);
    let page = Page::start_after_loader(r#"<div id="mypage" data-amazonpay="mypage"></div>"#, settings(false), &loader);
    wait_until("the unlink button", WAIT_MS, || page.count_in("mypage", ".amazonpay2-unlink") == 1).await;
    let forgot = || js("return argument.forgot.length;", &loader).as_f64().unwrap_or(0.0);
    assert_eq!(forgot(), 0.0);
    click(&page.block("mypage").query_selector(".amazonpay2-unlink").unwrap().unwrap());
    wait_until("the unlink request", WAIT_MS, || server.count() >= 2).await;
    wait_until("the loader told", WAIT_MS, || forgot() == 1.0).await;
    js_sys::Reflect::set(&window(), &"confirm".into(), &original_confirm).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The button the loader drew (its fast path), adopted by the wasm
// ---------------------------------------------------------------------------------------------

/// Draws the login button into `#login` as the loader's fast path does (the same markup, in
/// decoupled mode, clicks recorded until the wasm listens) and returns the loader's settings with
/// its record (`drawn`) and a request held back until `release()`.
fn loader_that_drew(page: &Page, answer_options: &str) -> JsValue {
    let loader = loader_settings(LOGIN_BODY, None);
    js(
        "const [loader, block, options] = argument;
         const wrapper = document.createElement('div'), container = document.createElement('div');
         wrapper.className = 'amazonpay2 amazonpay2--pc';
         container.id = 'amazonpay2-button-0';
         container.className = 'amazonpay2-button';
         wrapper.appendChild(container);
         block.replaceChildren(wrapper);
         const drawn = { block, container, options: JSON.parse(options), clicked: false };
         drawn.button = amazon.Pay.renderButton('#' + container.id, drawn.options);
         drawn.button.onClick(() => { if (drawn.onClick) drawn.onClick(); else drawn.clicked = true; });
         loader.drawn = drawn;
         return loader;",
        &js_sys::Array::of3(&loader, &page.block("login"), &answer_options.into()).into(),
    )
}

const LOGIN_OPTIONS: &str = r#"{"merchantId":"TESTMERCHANT","ledgerCurrency":"JPY","checkoutLanguage":"ja_JP",
    "sandbox":true,"productType":"SignIn","placement":"Other","buttonColor":"Gold"}"#;

fn start_with_loader(page: &mut Page, loader: &JsValue) {
    page.runtime =
        Some(amazonpay2::widget::Runtime::start_after_loader(page.section.clone(), settings(false), loader.clone()));
}

#[wasm_bindgen_test]
async fn the_loaders_button_is_adopted_not_drawn_again_and_its_clicks_are_signed() {
    let server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    let mut page = Page::new(LOGIN_BLOCK);
    let loader = loader_that_drew(&page, LOGIN_OPTIONS);
    let container = page.block("login").query_selector(".amazonpay2-button").unwrap().unwrap();
    start_with_loader(&mut page, &loader);
    release(&loader);
    wait_until("the answer", WAIT_MS, || server.count() == 1).await;
    wait_until("the block settled", WAIT_MS, || settled(&page, "login")).await;
    assert_eq!(amazon.count(), 1, "only the loader's renderButton: {:?}", amazon.calls());
    let now = page.block("login").query_selector(".amazonpay2-button").unwrap().unwrap();
    assert!(now == container, "the very container the loader drew stays");
    page.assert_button_only_in("login");

    click(&container);
    wait_until("initCheckout", WAIT_MS, || amazon.inits().len() == 1).await;
    assert_eq!(server.calls_to("/buttons/sign")[0]["body"], json!({ "kind": "login" }));
    assert_eq!(amazon.count(), 1);
}

#[wasm_bindgen_test]
async fn a_click_on_the_loaders_button_before_the_answer_is_signed_once_it_comes() {
    let server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    let mut page = Page::new(LOGIN_BLOCK);
    let loader = loader_that_drew(&page, LOGIN_OPTIONS);
    // Before the wasm even started.
    click(&page.block("login").query_selector(".amazonpay2-button").unwrap().unwrap());
    start_with_loader(&mut page, &loader);
    settle().await;
    assert_eq!(server.calls_to("/buttons/sign").len(), 0, "no token to sign with yet");
    release(&loader);
    wait_until("initCheckout", WAIT_MS, || amazon.inits().len() == 1).await;
    settle().await;
    assert_eq!(server.calls_to("/buttons/sign").len(), 1, "signed once");
    assert_eq!(amazon.inits().len(), 1);
    assert_eq!(amazon.count(), 1);
}

#[wasm_bindgen_test]
async fn the_loaders_button_goes_when_the_fresh_answer_has_none() {
    let server = FakeServer::answering(json!({ "login": nothing() }));
    let amazon = FakeAmazon::install();
    let mut page = Page::new(LOGIN_BLOCK);
    let loader = loader_that_drew(&page, LOGIN_OPTIONS);
    // A tap meanwhile is not signed for a button the answer takes away.
    click(&page.block("login").query_selector(".amazonpay2-button").unwrap().unwrap());
    start_with_loader(&mut page, &loader);
    settle().await;
    assert_eq!(page.count(".amazonpay2-button"), 1, "kept until the answer says otherwise");
    release(&loader);
    wait_until("the button is gone", WAIT_MS, || page.count(".amazonpay2-button") == 0).await;
    settle().await;
    assert_eq!(server.calls_to("/buttons/sign").len(), 0);
    assert_eq!(amazon.count(), 1);
}

#[wasm_bindgen_test]
async fn a_loader_record_for_a_block_no_longer_on_the_page_is_ignored() {
    let _server = FakeServer::answering(json!({ "login": button() }));
    let amazon = FakeAmazon::install();
    let mut page = Page::new(LOGIN_BLOCK);
    let loader = loader_that_drew(&page, LOGIN_OPTIONS);
    // The shop's own script replaced the block's content meanwhile.
    page.block("login").set_inner_html("");
    start_with_loader(&mut page, &loader);
    release(&loader);
    wait_for_button(&page, &amazon, 2, "login").await;
    page.assert_button_only_in("login");
}
