//! The storefront as a shopper meets it: the demo shop's pages with the built widget, Amazon's
//! buttons, sign-in and checkout through the simulator, in headless Chromium.

use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::common::page::{WAIT, api_status, axe_violations, desktop, signup_form, widget_settled};
use crate::common::shop::Shop;
use crate::common::webdriver::Browser;
use amazonpay2::amazon::signature::string_to_sign;

/// The `renderButton` calls the simulator's checkout.js recorded on this page.
async fn renders(browser: &Browser) -> Vec<Value> {
    let value = browser
        .execute("return window.amazon && amazon.Pay._simulator ? amazon.Pay._simulator.renders : []", vec![])
        .await
        .unwrap();
    value.as_array().cloned().unwrap_or_default()
}

/// Clicks the page's Amazon button with the form to Amazon held back, and returns what the
/// simulator's checkout.js received at `initCheckout` (the config the widget had signed at click).
async fn signed_at_click(browser: &Browser) -> Value {
    drawn(browser, ".amazonpay2-button").await;
    browser
        .execute(
            "window.__sent = HTMLFormElement.prototype.submit;
             HTMLFormElement.prototype.submit = function () { window.__held = this; };",
            vec![],
        )
        .await
        .unwrap();
    let button = browser.find(".amazonpay2-button").await.unwrap();
    browser.click(&button).await.unwrap();
    let checkout = browser
        .wait_for("amazon.Pay._simulator.checkouts.length && amazon.Pay._simulator.checkouts[0]", WAIT, "initCheckout")
        .await;
    let checkout = match checkout {
        Ok(checkout) => checkout,
        Err(error) => {
            let block = browser.execute("return document.querySelector('[data-amazonpay]').outerHTML", vec![]).await;
            let log = browser.browser_log().await;
            panic!("{error:?}\nblock: {block:?}\nlog: {log:#?}");
        }
    };
    browser.execute("HTMLFormElement.prototype.submit = window.__sent;", vec![]).await.unwrap();
    checkout
}

/// Amazon buttons drawn on the page: containers holding checkout.js's shadow root.
async fn drawn_buttons(browser: &Browser) -> u64 {
    browser
        .execute("return [...document.querySelectorAll('*')].filter(e => e.shadowRoot).length", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

/// Waits for `count` renderButton calls, then lets the page settle and checks no more follow.
async fn expect_renders(browser: &Browser, count: usize) -> Vec<Value> {
    browser
        .wait_for(
            &format!("window.amazon && amazon.Pay._simulator && amazon.Pay._simulator.renders.length >= {count}"),
            WAIT,
            &format!("{count} renderButton call(s)"),
        )
        .await
        .unwrap();
    widget_settled(browser).await;
    let renders = renders(browser).await;
    assert_eq!(renders.len(), count, "renderButton calls: {renders:#?}");
    renders
}

/// Requests the page made whose URL contains `part`.
async fn requests(browser: &Browser, part: &str) -> u64 {
    browser
        .execute(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes(arguments[0])).length",
            vec![json!(part)],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

/// Uncaught exceptions and unhandled rejections on the page so far.
async fn uncaught(browser: &Browser) -> Vec<String> {
    let log = browser.browser_log().await.unwrap();
    log.into_iter().filter(|e| e.message.contains("Uncaught")).map(|e| e.message).collect()
}

/// Signs up a demo member with a password (the demo shop's own API, with the session's CSRF
/// token), which also logs them in.
async fn sign_up_with_password(browser: &Browser, email: &str) {
    assert_eq!(api_status(browser, "demo/signup", signup_form(email)).await, json!(200));
}

/// Puts a product in the browser's cart (the checkout button needs something to buy).
async fn fill_cart(browser: &Browser, shop: &Shop) {
    if !browser.current_url().await.unwrap().starts_with(&shop.origin) {
        browser.goto(&shop.url("/api/amazonpay2/session")).await.unwrap();
    }
    let status = api_status(browser, "demo/cart", json!({"productId": 1, "quantity": 1})).await;
    assert_eq!(status, json!(200));
}

/// The text of the page's widget notice, once shown.
async fn notice(browser: &Browser) -> String {
    let value = browser
        .wait_for(
            "document.querySelector('.amazonpay2-notice') && document.querySelector('.amazonpay2-notice').textContent",
            WAIT,
            "a notice",
        )
        .await
        .unwrap();
    value.as_str().unwrap_or_default().to_owned()
}

/// Submits a form of the demo shop with the given fields, then waits for the next page.
async fn submit_form(browser: &Browser, form: &str, fields: Value) {
    browser
        .execute(
            "const form = document.querySelector(`[data-demo-form=\"${arguments[0]}\"]`);
             for (const [name, value] of Object.entries(arguments[1])) form.elements.namedItem(name).value = value;
             window.__leaving = true;
             form.requestSubmit();",
            vec![json!(form), fields],
        )
        .await
        .unwrap();
    browser.wait_for("!window.__leaving && document.readyState === 'complete'", WAIT, "the next page").await.unwrap();
}

/// Logs out with the header's button (shown once the page knows the member).
async fn log_out(browser: &Browser) {
    browser.wait_for("!document.querySelector('[data-logout]').hidden", WAIT, "the logout button").await.unwrap();
    let logout = browser.find("[data-logout]").await.unwrap();
    browser.execute("window.__leaving = true", vec![]).await.unwrap();
    browser.click(&logout).await.unwrap();
    browser.wait_for("!window.__leaving && document.readyState === 'complete'", WAIT, "logged out").await.unwrap();
}

/// The address once the widget has shown the server's notice and taken its code out.
async fn settled_url(browser: &Browser) -> String {
    browser
        .wait_for("!new URLSearchParams(location.search).has('amazonpay2')", WAIT, "the notice code taken out")
        .await
        .unwrap();
    browser.current_url().await.unwrap()
}

/// Finds an element the widget draws once its answer has come (waiting for it).
async fn drawn(browser: &Browser, css: &str) -> crate::common::webdriver::Element {
    browser.wait_for(&format!("document.querySelector({css:?})"), WAIT, &format!("{css} drawn")).await.unwrap();
    browser.find(css).await.unwrap()
}

/// Clicks the page's Amazon button, then "continue" on the simulator's page.
async fn click_through_amazon(browser: &Browser, shop: &Shop) {
    let button = drawn(browser, ".amazonpay2-button").await;
    browser.click(&button).await.unwrap();
    browser
        .wait_for(
            &format!("location.origin === '{}' && document.getElementById('continue')", shop.simulator),
            WAIT,
            "the simulator's page",
        )
        .await
        .unwrap();
    let proceed = browser.find("#continue").await.unwrap();
    browser.click(&proceed).await.unwrap();
    browser
        .wait_for(
            &format!("location.origin === '{}' && document.readyState === 'complete'", shop.origin),
            WAIT,
            "back at the shop",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn every_demo_page_shows_its_one_amazon_button() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    fill_cart(&browser, &shop).await;
    for (page, product_type) in
        [("/", "SignIn"), ("/shopping/login.html", "PayAndShip"), ("/demo/duplicates.html", "PayAndShip")]
    {
        browser.goto(&shop.url(page)).await.unwrap();
        let renders = expect_renders(&browser, 1).await;
        assert_eq!(renders[0]["options"]["productType"], product_type, "{page}");
        assert_eq!(drawn_buttons(&browser).await, 1, "{page}");
        assert_eq!(requests(&browser, "/api/amazonpay2/buttons").await, 1, "{page}: one API request");
        assert!(uncaught(&browser).await.is_empty(), "{page}");
    }
    // My Page has nothing for a guest: no button, and checkout.js is not even loaded.
    browser.goto(&shop.url("/mypage/")).await.unwrap();
    browser
        .wait_for("document.querySelector('[data-amazonpay2-block]') && performance.getEntriesByType('resource').some(e => e.name.includes('/buttons'))", WAIT, "the widget asked")
        .await
        .unwrap();
    widget_settled(&browser).await;
    assert_eq!(requests(&browser, "checkout.js").await, 0, "no checkout.js without a button");
    let asked = browser.execute("return !!document.querySelector('script[src*=\"checkout.js\"]')", vec![]).await;
    assert_eq!(asked.unwrap(), false, "not even asked for");
    assert_eq!(drawn_buttons(&browser).await, 0);
    // For a member without a link, My Page offers the link button.
    sign_up_with_password(&browser, "member@example.jp").await;
    browser.goto(&shop.url("/mypage/")).await.unwrap();
    let renders = expect_renders(&browser, 1).await;
    assert_eq!(renders[0]["options"]["productType"], "SignIn");
    let signed = signed_at_click(&browser).await;
    let payload = signed["signInConfig"]["payloadJSON"].as_str().unwrap();
    assert!(payload.contains("intent=link"), "{payload}");
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn buttons_are_drawn_unsigned_and_signed_by_the_shop_key_at_click() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    fill_cart(&browser, &shop).await;
    browser.goto(&shop.url("/shopping/login.html")).await.unwrap();
    let options = expect_renders(&browser, 1).await.remove(0)["options"].clone();
    assert_eq!(options["estimatedOrderAmount"], json!({"amount": "3630", "currencyCode": "JPY"}));
    assert_eq!(options["merchantId"], "A2CRAFTCARTDEMO");
    assert_eq!(options["ledgerCurrency"], "JPY");
    assert_eq!(options["checkoutLanguage"], "ja_JP");
    assert_eq!(options["sandbox"], true);
    assert_eq!(options["placement"], "Cart");
    assert_eq!(options["buttonColor"], "Gold");
    assert!(options.get("createCheckoutSessionConfig").is_none(), "a page view signs nothing: {options}");
    assert_eq!(requests(&browser, "/buttons/sign").await, 0);

    let signed = signed_at_click(&browser).await;
    assert_eq!(requests(&browser, "/buttons/sign").await, 1, "signed at the click");
    assert_eq!(signed["productType"], "PayAndShip");
    assert_eq!(signed["estimatedOrderAmount"], json!({"amount": "3630", "currencyCode": "JPY"}));
    let config = &signed["createCheckoutSessionConfig"];
    assert_eq!(config["algorithm"], "AMZN-PAY-RSASSA-PSS-V2");
    assert_eq!(config["publicKeyId"], "SANDBOX-AMAZONPAY2DEMOKEY000000000");
    let payload = config["payloadJSON"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(payload).unwrap();
    let review = parsed["webCheckoutDetails"]["checkoutReviewReturnUrl"].as_str().unwrap();
    assert!(review.starts_with(&format!("{}/", shop.origin)), "{review}");
    let signature = BASE64.decode(config["signature"].as_str().unwrap()).unwrap();
    let public = UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, shop.key.public_key_der());
    public
        .verify(string_to_sign("AMZN-PAY-RSASSA-PSS-V2", payload).as_bytes(), &signature)
        .expect("the signature verifies over the exact payloadJSON");
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn checkout_click_goes_through_the_simulator_to_the_review_page() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    fill_cart(&browser, &shop).await;
    browser.goto(&shop.url("/shopping/login.html")).await.unwrap();
    expect_renders(&browser, 1).await;
    click_through_amazon(&browser, &shop).await;
    assert_eq!(browser.current_url().await.unwrap(), shop.url("/shopping/confirm.html"));
    let review = browser.text(&drawn(&browser, ".amazonpay2-review").await).await.unwrap();
    assert!(review.contains("Visa ****1111"), "{review}");
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn amazon_sign_in_prefills_sign_up_links_and_logs_in_again() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    // A guest signs in with Amazon from the top page: sign-up, filled from the Amazon account.
    browser.goto(&shop.url("/")).await.unwrap();
    expect_renders(&browser, 1).await;
    click_through_amazon(&browser, &shop).await;
    assert_eq!(settled_url(&browser).await, shop.url("/member/signup.html"), "notice code removed from the address");
    assert!(notice(&browser).await.contains("Amazon アカウントの情報を入力しました"));
    let filled = browser
        .wait_for(
            "(f => f.familyName.value && [f.familyName.value, f.givenName.value, f.familyKana.value, f.email.value,
              f.postalCode.value, f.prefecture.value, f.address1.value, f.address2.value, f.phone.value])
             (document.querySelector('[data-demo-form=signup]').elements)",
            WAIT,
            "the prefilled form",
        )
        .await
        .unwrap();
    assert_eq!(
        filled,
        json!([
            "山田",
            "太郎",
            "",
            "taro.yamada@example.jp",
            "153-0064",
            "東京都",
            "目黒区下目黒1-8-1",
            "アルコタワー 5F",
            "0312345678"
        ])
    );
    // The shopper adds the furigana and a password: the member is created, linked, logged in.
    submit_form(&browser, "signup", json!({"familyKana": "ヤマダ", "givenKana": "タロウ", "password": "password123"}))
        .await;
    assert_eq!(settled_url(&browser).await, shop.url("/"));
    assert!(notice(&browser).await.contains("連携しました"));
    browser
        .wait_for("document.querySelector('[data-member-name]').textContent.includes('山田 太郎')", WAIT, "logged in")
        .await
        .unwrap();

    // Log out, sign in with Amazon again: logged in, back on the page they came from.
    log_out(&browser).await;
    browser.goto(&shop.url("/shopping/confirm.html")).await.unwrap();
    browser.goto(&shop.url("/member/login.html")).await.unwrap();
    expect_renders(&browser, 1).await;
    click_through_amazon(&browser, &shop).await;
    assert_eq!(settled_url(&browser).await, shop.url("/"), "back where they were before the login page");
    assert_eq!(notice(&browser).await, "Amazon アカウントでログインしました。");
    browser
        .wait_for("document.querySelector('[data-member-name]').textContent.includes('山田 太郎')", WAIT, "logged in")
        .await
        .unwrap();
    assert!(uncaught(&browser).await.is_empty());
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn my_page_links_unlinks_and_refuses_an_account_linked_elsewhere() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    // Member A links test buyer 1 (the default choice) from My Page.
    browser.goto(&shop.url("/")).await.unwrap();
    sign_up_with_password(&browser, "a@example.jp").await;
    browser.goto(&shop.url("/mypage/")).await.unwrap();
    expect_renders(&browser, 1).await;
    click_through_amazon(&browser, &shop).await;
    assert_eq!(settled_url(&browser).await, shop.url("/mypage/"));
    assert!(notice(&browser).await.contains("連携しました"));
    let unlink = drawn(&browser, ".amazonpay2-unlink").await;
    assert_eq!(drawn_buttons(&browser).await, 0, "the unlink button is the shop's, not Amazon's");

    // Unlink, with the confirmation: the link button comes back.
    browser.execute("window.confirm = () => true", vec![]).await.unwrap();
    browser.click(&unlink).await.unwrap();
    expect_renders(&browser, 1).await;
    assert_eq!(drawn_buttons(&browser).await, 1);

    // Link again, then member B tries to link the same Amazon account: refused, clearly.
    click_through_amazon(&browser, &shop).await;
    drawn(&browser, ".amazonpay2-unlink").await;
    log_out(&browser).await;
    sign_up_with_password(&browser, "b@example.jp").await;
    browser.goto(&shop.url("/mypage/")).await.unwrap();
    expect_renders(&browser, 1).await;
    click_through_amazon(&browser, &shop).await;
    let refusal = browser
        .wait_for("document.querySelector('.amazonpay2-notice--problem[role=alert]') && document.querySelector('.amazonpay2-notice').textContent", WAIT, "the refusal")
        .await
        .unwrap();
    assert_eq!(refusal, "この Amazon アカウントは既に別の会員と連携されているため、連携できません。");
    expect_renders(&browser, 1).await; // still the link button: nothing was linked
    assert!(uncaught(&browser).await.is_empty());
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn a_token_amazon_refuses_and_a_replayed_return_are_explained() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/")).await.unwrap();
    expect_renders(&browser, 1).await;
    let signed = signed_at_click(&browser).await;
    let payload: Value = serde_json::from_str(signed["signInConfig"]["payloadJSON"].as_str().unwrap()).unwrap();
    // This browser's own state, but a buyer token Amazon never issued (or one expired or used).
    let url = format!("{}&buyerToken=never-issued", payload["signInReturnUrl"].as_str().unwrap());
    browser.goto(&url).await.unwrap();
    assert_eq!(
        notice(&browser).await,
        "Amazon でのサインインの有効期限が切れたか、既に使われています。もう一度お試しください。"
    );
    // The state worked once: the same return again is refused as a replay.
    browser.goto(&url).await.unwrap();
    assert!(notice(&browser).await.contains("受け付けられませんでした"));
    assert!(uncaught(&browser).await.is_empty());
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn forged_returns_and_an_unreachable_amazon_are_explained() {
    let shop = Shop::start_with(&[("AMAZONPAY2_API_BASE", "http://127.0.0.1:9")], &[]).await;
    let (_driver, browser) = desktop().await;
    browser.goto(&shop.url("/")).await.unwrap();
    expect_renders(&browser, 1).await;
    // A return URL someone else made (or an old one) logs nobody in.
    browser.goto(&shop.url("/api/amazonpay2/signin/return?intent=login&state=forged&buyerToken=abc")).await.unwrap();
    assert!(notice(&browser).await.contains("受け付けられませんでした"));
    // The real flow, with Amazon's API down: the shopper is told, nothing breaks.
    browser.goto(&shop.url("/")).await.unwrap();
    expect_renders(&browser, 1).await;
    click_through_amazon(&browser, &shop).await;
    assert_eq!(notice(&browser).await, "Amazon Pay に接続できませんでした。時間をおいてもう一度お試しください。");
    assert!(uncaught(&browser).await.is_empty());
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn the_simulator_refuses_a_tampered_payload_as_amazon_does() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    fill_cart(&browser, &shop).await;
    browser.goto(&shop.url("/shopping/login.html")).await.unwrap();
    expect_renders(&browser, 1).await;
    signed_at_click(&browser).await;
    browser
        .execute(
            "const c = Object.assign({}, amazon.Pay._simulator.checkouts[0].createCheckoutSessionConfig);
             c.payloadJSON = c.payloadJSON.replace('checkout/review', 'checkout/revieW');
             const o = Object.assign({}, amazon.Pay._simulator.renders[0].options, { createCheckoutSessionConfig: c });
             amazon.Pay.initCheckout(o);",
            vec![],
        )
        .await
        .unwrap();
    let code = browser
        .wait_for(
            "document.getElementById('error-code') && document.getElementById('error-code').textContent",
            WAIT,
            "Amazon's error page",
        )
        .await
        .unwrap();
    assert_eq!(code, "InvalidSignatureError");
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn hidden_duplicates_late_blocks_and_a_second_tag_keep_one_button() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    fill_cart(&browser, &shop).await;
    browser.goto(&shop.url("/demo/duplicates.html")).await.unwrap();
    expect_renders(&browser, 1).await;
    let in_block = |id: &str| format!("!!document.querySelector('#{id} .amazonpay2-button')");
    assert_eq!(browser.execute(&format!("return {}", in_block("checkout-pc")), vec![]).await.unwrap(), true);
    // The second script tag did nothing: one claim per block, one request.
    assert_eq!(requests(&browser, "/api/amazonpay2/buttons").await, 1);
    // Debug diagnostics explain the losers and the bad attributes.
    let notes = browser
        .execute("return [...document.querySelectorAll('.amazonpay2-debug')].map(e => e.textContent)", vec![])
        .await
        .unwrap();
    let notes = notes.to_string();
    assert!(notes.contains("#checkout-pc"), "{notes}");
    assert!(notes.contains("data-amazonpay=\\\"chekout\\\""), "{notes}");
    assert!(notes.contains("data-button-color=\\\"Red\\\""), "{notes}");

    // Smartphone width: the PC block is hidden, so the button moves to the SP block.
    browser.set_window_size(420, 900).await.unwrap();
    browser.wait_for(&in_block("checkout-sp"), WAIT, "the button in the SP block").await.unwrap();
    assert_eq!(drawn_buttons(&browser).await, 1);
    assert_eq!(browser.execute(&format!("return {}", in_block("checkout-pc")), vec![]).await.unwrap(), false);

    // A cart drawer adds a block later: claimed, and the rule still holds.
    let open = browser.find("#open-drawer").await.unwrap();
    browser.click(&open).await.unwrap();
    browser
        .wait_for("document.querySelector('#checkout-drawer[data-amazonpay2-block]')", WAIT, "the late block claimed")
        .await
        .unwrap();
    widget_settled(&browser).await;
    assert_eq!(drawn_buttons(&browser).await, 1);
    assert_eq!(requests(&browser, "/api/amazonpay2/buttons").await, 1, "its answer was already known");
    assert!(uncaught(&browser).await.is_empty());
    browser.quit().await.unwrap();
    shop.stop().await;
}

const SHOP_PAGE: &str = r#"<!doctype html><html lang="ja"><head><meta charset="utf-8">
<script src="/amazonpay2/widget.js" ENDPOINT data-debug></script></head>
<body><p id="content">ページ本文</p><div id="block" data-amazonpay="checkout"></div>
<button id="other" onclick="this.textContent='ok'">ほかのボタン</button></body></html>"#;

/// Opens a one-block page and returns the block's message and debug text.
async fn failing_page(shop: &Shop, browser: &Browser) -> (String, String) {
    fill_cart(browser, shop).await;
    browser.goto(&shop.url("/page.html")).await.unwrap();
    browser
        .wait_for(
            "document.querySelector('#block .amazonpay2-message') && document.querySelector('#block .amazonpay2-debug')",
            WAIT,
            "the block's message and its reason",
        )
        .await
        .unwrap();
    let message = browser.text(&browser.find("#block .amazonpay2-message").await.unwrap()).await.unwrap();
    let debug = browser.text(&browser.find("#block .amazonpay2-debug").await.unwrap()).await.unwrap();
    // The rest of the page is untouched and still works.
    let other = browser.find("#other").await.unwrap();
    browser.click(&other).await.unwrap();
    assert_eq!(browser.text(&other).await.unwrap(), "ok");
    assert_eq!(browser.text(&browser.find("#content").await.unwrap()).await.unwrap(), "ページ本文");
    assert_eq!(drawn_buttons(browser).await, 0);
    assert!(uncaught(browser).await.is_empty());
    (message, debug)
}

#[tokio::test]
async fn an_unreachable_or_failing_api_leaves_the_page_working() {
    for (endpoint, reason) in [
        (r#"data-endpoint="http://127.0.0.1:9/api""#, "unreachable"),
        (r#"data-endpoint="/api/amazonpay2/missing""#, "404 not_found"),
    ] {
        let page = SHOP_PAGE.replace("ENDPOINT", endpoint);
        let shop = Shop::start_with(&[], &[("page.html", &page)]).await;
        let (_driver, browser) = desktop().await;
        let (message, debug) = failing_page(&shop, &browser).await;
        assert!(message.starts_with("ただいま Amazon Pay をご利用いただけません"), "{message}");
        assert!(debug.contains(reason), "{debug}");
        browser.quit().await.unwrap();
        shop.stop().await;
    }
}

#[tokio::test]
async fn a_missing_or_throwing_checkout_js_leaves_the_page_working() {
    let throwing = "window.amazon = {Pay: {renderButton: function () {
        throw \"AmazonPay:\\nMissing parameter 'merchantId' in the options object.\"; }}};";
    let page = SHOP_PAGE.replace("ENDPOINT", "");
    for (checkout_js, reason) in [
        ("http://127.0.0.1:9/checkout.js", "failed to load"),
        ("{shop}/throwing-checkout.js", "Missing parameter 'merchantId'"),
    ] {
        let pages = [("page.html", page.as_str()), ("throwing-checkout.js", throwing)];
        let shop = Shop::start_with(&[("AMAZONPAY2_CHECKOUT_JS", checkout_js)], &pages).await;
        let (_driver, browser) = desktop().await;
        let (message, debug) = failing_page(&shop, &browser).await;
        assert!(message.starts_with("ただいま Amazon Pay をご利用いただけません"), "{message}");
        assert!(debug.contains(reason), "{debug}");
        browser.quit().await.unwrap();
        shop.stop().await;
    }
}

#[tokio::test]
async fn english_texts_with_data_lang_en() {
    let page = SHOP_PAGE.replace("ENDPOINT", r#"data-lang="en" data-endpoint="/api/amazonpay2/missing""#);
    let shop = Shop::start_with(&[], &[("page.html", &page)]).await;
    let (_driver, browser) = desktop().await;
    let (message, _) = failing_page(&shop, &browser).await;
    assert_eq!(message, "Amazon Pay is not available right now. Please reload the page later.");
    browser.quit().await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn amazon_buttons_are_named_with_the_label_they_show() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    fill_cart(&browser, &shop).await;
    for page in ["/", "/shopping/login.html"] {
        browser.goto(&shop.url(page)).await.unwrap();
        expect_renders(&browser, 1).await;
        let violations = axe_violations(&browser, &["label-content-name-mismatch", "button-name"]).await;
        assert_eq!(violations, json!([]), "{page}");
        let name = browser
            .execute("return document.querySelector('.amazonpay2-button').getAttribute('aria-label')", vec![])
            .await
            .unwrap();
        // Amazon's button is images: its name is Amazon's own label, which shows nothing else.
        assert_eq!(name, "Amazon Pay - Amazon Payテストアカウントをお使いください", "{page}");
    }
    browser.quit().await.unwrap();
    shop.stop().await;
}

/// The demo's second shop on its own host (browsers resolve `*.localhost` to this machine): its
/// own name (on every page) and catalogue, and a button of its own merchant, signed at the click with its own key.
#[tokio::test]
async fn the_second_shop_on_its_own_host_shows_its_own_catalogue_and_its_own_merchants_button() {
    let shop = Shop::start().await;
    let (_driver, browser) = desktop().await;
    let port = shop.origin.rsplit(':').next().unwrap();
    browser.goto(&format!("http://shop2.localhost:{port}/")).await.unwrap();
    browser
        .wait_for("document.querySelector('[data-add-product=\"101\"]')", WAIT, "the second shop's catalogue")
        .await
        .unwrap();
    let logo = browser.execute("return document.querySelector('.logo').textContent", vec![]).await.unwrap();
    assert_eq!(logo, "藍染め工房");
    let renders = expect_renders(&browser, 1).await;
    assert_eq!(renders[0]["options"]["merchantId"], "A3CRAFTSHOPTWO");
    let signed = signed_at_click(&browser).await;
    assert_eq!(signed["signInConfig"]["publicKeyId"], "SANDBOX-CRAFTSHOPTWODEMOKEY00000", "{signed}");
    assert!(uncaught(&browser).await.is_empty());
    // A page that fetches no catalogue carries the shop's name as the server sends it.
    browser.goto(&format!("http://shop2.localhost:{port}/member/login.html")).await.unwrap();
    let named =
        browser.execute("return [document.title, document.querySelector('.logo').textContent]", vec![]).await.unwrap();
    assert_eq!(named, json!(["ログイン | 藍染め工房（デモ）", "藍染め工房"]));
    browser.goto(&shop.url("/member/login.html")).await.unwrap();
    let first = browser.execute("return document.title", vec![]).await.unwrap();
    assert_eq!(first, "ログイン | クラフト雑貨店（デモ）");
    browser.quit().await.unwrap();
    shop.stop().await;
}
