//! Helpers for the demo shop's pages in a WebDriver browser: opening one, and calling the shop's
//! API from the page as its own scripts do.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::time::Duration;

use serde_json::{Value, json};

use super::webdriver::{Browser, BrowserOptions, Chromedriver};

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(15);

/// A browser on a fresh chromedriver (dropped together at the end of a test).
pub async fn browser(width: u32, height: u32) -> (Chromedriver, Browser) {
    let driver = Chromedriver::start().await.expect("chromedriver starts (build.sh test installs it)");
    let browser = Browser::open(&driver, BrowserOptions { width, height, mobile: false }).await.unwrap();
    (driver, browser)
}

pub async fn desktop() -> (Chromedriver, Browser) {
    browser(1280, 900).await
}

/// Waits until the widget has settled every block it claimed (each block's display is final:
/// answer read, button drawn or not) and the page has run what was queued by then. Used before
/// asserting that something did *not* happen (a second button, a second request), in place of
/// sleeping "long enough".
pub async fn widget_settled(browser: &Browser) {
    browser
        .wait_for(
            "document.querySelector('[data-amazonpay2-block]') \
             && !document.querySelector('[data-amazonpay2-block]:not([data-amazonpay2-settled])')",
            WAIT,
            "every block settled",
        )
        .await
        .unwrap();
    browser.drain().await.unwrap();
}

/// Waits until the page has received the answer to its request whose URL contains `part` (a
/// Resource Timing entry, made when the response has ended) and has run what was queued by then.
pub async fn request_done(browser: &Browser, part: &str) {
    let done = format!("performance.getEntriesByType('resource').some(e => e.name.includes({part:?}))");
    browser.wait_for(&done, WAIT, &format!("the answer to {part}")).await.unwrap();
    browser.drain().await.unwrap();
}

/// The start of a script that POSTs `arguments[1]` as JSON to the demo shop's API path
/// `arguments[0]`, with the session's CSRF token: a promise of the response, for the script to
/// hand to WebDriver's `done`.
const API_CALL: &str = "const done = arguments[arguments.length - 1];
             fetch('/api/amazonpay2/session').then(r => r.json()).then(s =>
               fetch('/api/amazonpay2/' + arguments[0], {method: 'POST',
                 headers: {'Content-Type': 'application/json', 'X-AmazonPay2-CSRF': s.csrfToken},
                 body: JSON.stringify(arguments[1])}))";

/// Calls the demo shop's API from the page (with the session's CSRF token); returns its JSON.
pub async fn api(browser: &Browser, path: &str, body: Value) -> Value {
    let script = format!("{API_CALL}\n             .then(r => r.json()).then(done, e => done(String(e)));");
    browser.execute_async(&script, vec![json!(path), body]).await.unwrap()
}

/// Calls the demo shop's API from the page (with the session's CSRF token); returns its status.
pub async fn api_status(browser: &Browser, path: &str, body: Value) -> Value {
    let script = format!("{API_CALL}\n             .then(r => done(r.status), e => done(String(e)));");
    browser.execute_async(&script, vec![json!(path), body]).await.unwrap()
}

/// The demo sign-up form of a member with a password.
pub fn signup_form(email: &str) -> Value {
    json!({"email": email, "password": "password123", "familyName": "工房", "givenName": "花子",
           "familyKana": "コウボウ", "givenKana": "ハナコ", "postalCode": "100-0001", "prefecture": "東京都",
           "address1": "千代田区千代田1-1", "address2": "", "phone": "03-0000-0000"})
}

/// axe-core's script (`build.sh test` installs it; `AMAZONPAY2_AXE` names the file).
fn axe_script() -> String {
    let path = std::env::var_os("AMAZONPAY2_AXE").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        cache.join("amazonpay2-tools/axe/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("axe-core is not at {} ({e}): run ./build.sh test once", path.display()))
}

/// Runs the axe-core `rules` on the page; returns the violations (`[{id, nodes: [{html, failureSummary}]}]`).
pub async fn axe_violations(browser: &Browser, rules: &[&str]) -> Value {
    browser.execute(&axe_script(), vec![]).await.unwrap();
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'rule', values: arguments[0] } })
               .then(r => done(r.violations.map(v => ({ id: v.id,
                 nodes: v.nodes.map(n => ({ html: n.html, failureSummary: n.failureSummary })) }))),
                     e => done(String(e)));",
            vec![json!(rules)],
        )
        .await
        .unwrap()
}
