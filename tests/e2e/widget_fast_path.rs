//! The loader's fast path, end to end (the real server and simulator, the built widget, headless
//! Chromium): on a page with one visible block to show an Amazon button, the loader draws that
//! button before the wasm starts, and the wasm adopts it (no second `renderButton`), signing a
//! click the shopper made meanwhile once it is ready. Anything else is left to the wasm.
//!
//! The pages hold back the wasm's download (a `fetch` wrapper installed before the loader) until
//! the test releases it, so that "before the wasm" is a state the test can look at.

use serde_json::{Value, json};

use crate::common::page::{WAIT, desktop, request_done, widget_settled};
use crate::common::shop::Shop;
use crate::common::webdriver::Browser;

/// A page whose wasm download waits for `__releaseWasm()` (or fails, after `__failWasm()`);
/// `__wasmAsked` counts its requests; `__answerSeenAt` is when the page's scripts could first see
/// the API's answer.
const PAGE: &str = r#"<!doctype html><html lang="ja"><head><meta charset="utf-8">
<script>
  window.__wasmAsked = 0;
  const held = [], realFetch = window.fetch;
  let failing = false;
  window.fetch = function (input, init) {
    const url = String(input && input.url || input);
    if (url.includes('/buttons')) {
      return realFetch.apply(this, arguments).then(answer => {
        window.__answerSeenAt = window.__answerSeenAt || performance.now();
        return answer;
      });
    }
    if (!url.endsWith('.wasm')) return realFetch.apply(this, arguments);
    window.__wasmAsked++;
    window.__wasmAskedAt = performance.now();
    return new Promise(resolve =>
      held.push(() => resolve(failing ? new Response('', { status: 404 }) : realFetch(input, init))));
  };
  window.__releaseWasm = () => held.splice(0).forEach(release => release());
  window.__failWasm = () => { failing = true; window.__releaseWasm(); };
</script>
<script src="/amazonpay2/widget.js" ENDPOINT></script></head>
<body><p>ページ本文</p>BLOCKS</body></html>"#;

const LOGIN: &str = r#"<div id="login" data-amazonpay="login"></div>"#;

async fn shop_with(blocks: &str, endpoint: &str) -> Shop {
    let page = PAGE.replace("BLOCKS", blocks).replace("ENDPOINT", endpoint);
    Shop::start_with(&[], &[("page.html", &page)]).await
}

async fn value(browser: &Browser, expression: &str) -> Value {
    browser.execute(&format!("return {expression}"), vec![]).await.unwrap()
}

const RENDERS: &str = "(window.amazon && amazon.Pay._simulator ? amazon.Pay._simulator.renders.length : 0)";
const BOOTED: &str = "!!window[Symbol.for('amazonpay2.widget')].settings.booted";

/// Waits until the loader asked for the wasm: it has drawn the button or decided not to.
async fn wasm_asked(browser: &Browser) {
    browser.wait_for("window.__wasmAsked > 0", WAIT, "the loader asking for the wasm").await.unwrap();
}

/// Lets the wasm come and waits until it has started.
async fn release_wasm(browser: &Browser) {
    browser.execute("window.__releaseWasm()", vec![]).await.unwrap();
    browser.wait_for(BOOTED, WAIT, "the wasm started").await.unwrap();
}

#[tokio::test]
async fn the_loader_draws_the_one_visible_button_before_the_wasm_which_adopts_it_and_signs_an_early_click() {
    let shop = shop_with(LOGIN, "").await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/page.html")).await.unwrap();
    wasm_asked(&browser).await;
    // Drawn by the loader alone: the wasm has not even arrived.
    assert_eq!(value(&browser, RENDERS).await, json!(1));
    assert_eq!(value(&browser, BOOTED).await, json!(false));
    assert_eq!(value(&browser, "!!document.querySelector('#login .amazonpay2-button').shadowRoot").await, json!(true));
    let render = value(&browser, "amazon.Pay._simulator.renders[0]").await;
    assert!(render["options"].get("signInConfig").is_none(), "decoupled, nothing signed: {render}");

    // The shopper taps before the wasm is there; nothing is sent to Amazon yet.
    browser.execute("HTMLFormElement.prototype.submit = function () { window.__held = this; };", vec![]).await.unwrap();
    let button = browser.find("#login .amazonpay2-button").await.unwrap();
    browser.click(&button).await.unwrap();
    browser.drain().await.unwrap();
    // (A checkout sent now, before the wasm, would show below as a second one.)
    assert_eq!(value(&browser, "amazon.Pay._simulator.checkouts.length").await, json!(0));

    // The wasm adopts the button (no second one) and signs the tap.
    release_wasm(&browser).await;
    let checkout = browser
        .wait_for("amazon.Pay._simulator.checkouts[0]", WAIT, "the early tap signed and sent to Amazon")
        .await
        .unwrap();
    assert!(checkout.to_string().contains("signInScopes"), "{checkout}");
    browser
        .wait_for("document.querySelector('#login[data-amazonpay2-settled]')", WAIT, "the block settled")
        .await
        .unwrap();
    widget_settled(&browser).await;
    assert_eq!(value(&browser, RENDERS).await, json!(1), "one renderButton in all");
    assert_eq!(value(&browser, "amazon.Pay._simulator.checkouts.length").await, json!(1), "signed once");
    assert_eq!(value(&browser, "document.querySelectorAll('#login .amazonpay2-button').length").await, json!(1));
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn on_a_repeat_view_the_loader_draws_before_the_wasm_and_the_fresh_answer_keeps_its_button() {
    let shop = shop_with(LOGIN, "").await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/page.html")).await.unwrap();
    wasm_asked(&browser).await;
    release_wasm(&browser).await;
    browser
        .wait_for("document.querySelector('#login[data-amazonpay2-settled]')", WAIT, "the block settled")
        .await
        .unwrap();
    // The same page again in this tab: checkout.js and the answer are remembered.
    browser.goto(&shop.url("/page.html")).await.unwrap();
    wasm_asked(&browser).await;
    assert_eq!(value(&browser, RENDERS).await, json!(1));
    assert_eq!(value(&browser, BOOTED).await, json!(false));
    release_wasm(&browser).await;
    browser
        .wait_for("document.querySelector('#login[data-amazonpay2-settled]')", WAIT, "the block settled again")
        .await
        .unwrap();
    // The fresh answer agrees with the remembered one: the loader's button stays, not drawn again.
    request_done(&browser, "/api/amazonpay2/buttons").await;
    widget_settled(&browser).await;
    assert_eq!(value(&browser, RENDERS).await, json!(1), "one renderButton on this view");
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn a_click_on_the_adopted_button_is_signed_by_the_wasm() {
    let shop = shop_with(LOGIN, "").await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/page.html")).await.unwrap();
    wasm_asked(&browser).await;
    release_wasm(&browser).await;
    browser
        .wait_for("document.querySelector('#login[data-amazonpay2-settled]')", WAIT, "the block settled")
        .await
        .unwrap();
    browser.execute("HTMLFormElement.prototype.submit = function () { window.__held = this; };", vec![]).await.unwrap();
    let button = browser.find("#login .amazonpay2-button").await.unwrap();
    browser.click(&button).await.unwrap();
    browser.wait_for("amazon.Pay._simulator.checkouts[0]", WAIT, "the tap signed").await.unwrap();
    assert_eq!(value(&browser, RENDERS).await, json!(1));
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn the_loaders_button_goes_when_the_wasm_cannot_start() {
    let shop = shop_with(LOGIN, "").await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/page.html")).await.unwrap();
    wasm_asked(&browser).await;
    assert_eq!(value(&browser, RENDERS).await, json!(1));
    browser.execute("window.__failWasm()", vec![]).await.unwrap();
    // No button that nobody would sign a click for; the page itself is untouched.
    browser
        .wait_for("!document.querySelector('#login .amazonpay2-button')", WAIT, "the loader's button taken away")
        .await
        .unwrap();
    assert_eq!(value(&browser, "document.querySelector('p').textContent").await, json!("ページ本文"));
    assert_eq!(value(&browser, BOOTED).await, json!(false));
    browser.quit().await.unwrap();
    shop.stop().await;
}

/// Loads a page, checks the loader drew nothing before the wasm, then lets the wasm come.
async fn left_to_the_wasm(blocks: &str, endpoint: &str) -> (Shop, crate::common::webdriver::Chromedriver, Browser) {
    let shop = shop_with(blocks, endpoint).await;
    let (driver, browser) = desktop().await;
    browser.goto(&shop.url("/page.html")).await.unwrap();
    wasm_asked(&browser).await;
    // Whatever the loader could be waiting for has come: the answer, and checkout.js if asked for.
    browser
        .wait_for(
            "window.__answerSeenAt > 0 && (!document.querySelector('script[src*=\"checkout.js\"]') || !!window.amazon)",
            WAIT,
            "the answer and checkout.js",
        )
        .await
        .unwrap();
    browser.drain().await.unwrap();
    assert_eq!(value(&browser, RENDERS).await, json!(0), "{blocks} {endpoint}: the loader drew nothing");
    release_wasm(&browser).await;
    (shop, driver, browser)
}

#[tokio::test]
async fn two_button_blocks_are_left_to_the_wasm_which_draws_one() {
    let blocks = r#"<div id="a" data-amazonpay="login"></div><div id="b" data-amazonpay="login"></div>"#;
    let (shop, _driver, browser) = left_to_the_wasm(blocks, "").await;
    // Asked for at once, not after the answer: the loader could not draw here anyway. (Compared
    // with when scripts could see the answer, not with the network's timing: on loopback the
    // answer can arrive while the loader's task is still running.)
    browser.wait_for("window.__answerSeenAt > 0", WAIT, "the API's answer").await.unwrap();
    let asked_early = value(&browser, "window.__wasmAskedAt < window.__answerSeenAt").await;
    assert_eq!(asked_early, json!(true));
    browser.wait_for(&format!("{RENDERS} === 1"), WAIT, "the wasm's one button").await.unwrap();
    widget_settled(&browser).await;
    assert_eq!(value(&browser, RENDERS).await, json!(1));
    assert_eq!(value(&browser, "!!document.querySelector('#a .amazonpay2-button')").await, json!(true));
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn a_hidden_block_is_left_to_the_wasm_which_draws_once_it_shows() {
    let blocks = r#"<div id="login" data-amazonpay="login" style="display:none"></div>"#;
    let (shop, _driver, browser) = left_to_the_wasm(blocks, "").await;
    // The wasm has taken the block and read the answer; hidden, the block gets no button.
    browser.wait_for("document.querySelector('#login[data-amazonpay2-block]')", WAIT, "the block taken").await.unwrap();
    browser.drain().await.unwrap();
    assert_eq!(value(&browser, RENDERS).await, json!(0));
    browser.execute("document.querySelector('#login').style.display = ''", vec![]).await.unwrap();
    browser.wait_for(&format!("{RENDERS} === 1"), WAIT, "the button once the block shows").await.unwrap();
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn an_error_answer_is_left_to_the_wasm_which_explains() {
    let (shop, _driver, browser) = left_to_the_wasm(LOGIN, r#"data-endpoint="/api/amazonpay2/missing""#).await;
    browser.wait_for("document.querySelector('#login .amazonpay2-message')", WAIT, "the wasm's message").await.unwrap();
    assert_eq!(value(&browser, RENDERS).await, json!(0));
    browser.quit().await.unwrap();
    shop.stop().await;
}
