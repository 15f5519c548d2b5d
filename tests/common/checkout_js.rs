//! The simulator's checkout.js on plain test pages in headless Chromium, without the widget: a
//! page server for the shop, whose origin `http://127.0.0.1:PORT` the simulator has registered
//! (Seller Central's JavaScript origin), and the simulator on its own origin. The same page
//! server answers as `http://localhost:PORT` too: an origin the simulator does not know.
//!
//! The test page only watches what checkout.js does: every XMLHttpRequest it opens (and when the
//! request has ended, after checkout.js's own handlers), what it logs, the errors it leaves
//! uncaught, alerts, and the forms it submits. Forms are held (recorded, not sent) unless the
//! test sets `window.__send = true`.

#![allow(dead_code)] // each test binary uses its own part of this module

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::{Value, json};

use super::page::{WAIT, desktop};
use super::sim::serve;
use super::simulator_pages::{self, V2, shop_key};
use super::webdriver::{Browser, Chromedriver};
use amazonpay2::simulator::{Simulator, SimulatorConfig};

pub use super::simulator_pages::{MERCHANT_ID, PUBLIC_KEY_ID, STORE_ID};

/// Amazon's sandbox aria-label of a Japanese button.
pub const SANDBOX_LABEL: &str = "Amazon Pay - Amazon Payテストアカウントをお使いください";
/// Amazon's live aria-label of a Japanese button.
pub const LIVE_LABEL: &str = "Amazon Pay - Amazonアカウントをお使いください";
/// The aria-label of a button Amazon Pay is not available for.
pub const UNAVAILABLE_LABEL: &str =
    "現在、AmazonPayはこのサイトではご利用いただけません。別の支払い方法をお試しください。";

/// What the test page records, installed before checkout.js loads.
const WATCHERS: &str = r#"
window.__opened = [];
const open = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url) {
  const record = { method: method, url: String(url), done: false, status: 0 };
  window.__opened.push(record);
  this.addEventListener('loadend', () => { record.done = true; record.status = this.status; });
  return open.apply(this, arguments);
};
window.__errors = [];
window.addEventListener('error', (e) => window.__errors.push(e.error == null ? e.message : e.error));
window.__logged = { error: [], log: [] };
['error', 'log'].forEach((level) => {
  const original = console[level];
  console[level] = function () {
    window.__logged[level].push([...arguments].map(String).join(' '));
    return original.apply(console, arguments);
  };
});
window.__alerts = [];
window.alert = (message) => window.__alerts.push(String(message));
window.__forms = [];
window.__send = false;
const submit = HTMLFormElement.prototype.submit;
HTMLFormElement.prototype.submit = function () {
  window.__forms.push({ action: this.action, method: this.method, name: this.name,
    acceptCharset: this.getAttribute('accept-charset'), style: this.getAttribute('style'),
    inBody: this.parentNode === document.body,
    fields: [...this.elements].map((input) => [input.name, input.value]) });
  if (window.__send) submit.call(this);
};
window.thrown = (f) => {
  try { f(); return null; }
  catch (e) { return typeof e === 'string' ? e : { name: e && e.name, message: e && e.message }; }
};
"#;

/// A shop page server and the simulator, with a browser.
pub struct Stage {
    /// `http://127.0.0.1:PORT`: the registered shop origin.
    pub shop: String,
    /// `http://localhost:PORT`: the same pages on an origin the simulator does not know.
    pub stranger: String,
    /// The simulator's origin.
    pub amazon: String,
    pub browser: Browser,
    _driver: Chromedriver,
    _serving: [Serving; 2],
}

/// A serving task, stopped with the stage.
struct Serving(tokio::task::JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Clone)]
struct Pages {
    amazon: String,
    script: String,
}

impl Stage {
    pub async fn start() -> Stage {
        amazonpay2::core::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shop = format!("http://127.0.0.1:{port}");
        let simulator = Simulator::new(SimulatorConfig {
            merchant_id: MERCHANT_ID.into(),
            store_id: STORE_ID.into(),
            public_key_id: PUBLIC_KEY_ID.into(),
            public_key_der: shop_key().public_key_der().to_vec(),
            shop_origin: shop.clone(),
        });
        let (amazon, amazon_task) = serve(simulator.router()).await;
        let amazon = amazon.as_str().trim_end_matches('/').to_owned();
        let script = reqwest::get(format!("{amazon}/checkout.js")).await.unwrap().text().await.unwrap();
        let pages = Router::new()
            .route("/page.html", get(page))
            .route("/own-amazon.html", get(own_amazon_page))
            .route("/checkout.js", get(script_copy))
            .route("/checkout/signout", get(failed_signout))
            .with_state(Pages { amazon: amazon.clone(), script });
        let shop_task = tokio::spawn(async move { axum::serve(listener, pages).await.unwrap() });
        let (driver, browser) = desktop().await;
        Stage {
            shop,
            stranger: format!("http://localhost:{port}"),
            amazon,
            browser,
            _driver: driver,
            _serving: [Serving(amazon_task), Serving(shop_task)],
        }
    }

    /// Opens the test page on `origin` (with the simulator's checkout.js) and waits for amazon.Pay.
    pub async fn open(&self, origin: &str) {
        self.open_page(&format!("{origin}/page.html")).await;
    }

    /// Opens a test page whose checkout.js (a copy of the simulator's) comes from the page's own
    /// server, which answers `/checkout/signout` with `{"result": false}`.
    pub async fn open_with_own_amazon(&self) {
        self.open_page(&format!("{}/own-amazon.html", self.shop)).await;
    }

    async fn open_page(&self, url: &str) {
        self.browser.goto(url).await.unwrap();
        self.browser
            .wait_for(
                "window.amazon && amazon.Pay && typeof amazon.Pay.renderButton === 'function'",
                WAIT,
                "checkout.js",
            )
            .await
            .unwrap();
    }

    /// Runs `script` (a function body) on the page with `args`.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.browser.execute(script, args).await.unwrap()
    }

    /// What `expression` gives on the page.
    pub async fn value(&self, expression: &str) -> Value {
        self.run(&format!("return {expression};"), vec![]).await
    }

    /// The forms checkout.js submitted (held unless `window.__send`).
    pub async fn forms(&self) -> Vec<Value> {
        self.value("window.__forms").await.as_array().cloned().unwrap_or_default()
    }

    /// The requests checkout.js opened whose URL contains `part`.
    pub async fn opened(&self, part: &str) -> Vec<Value> {
        let all = self.value("window.__opened").await;
        all.as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["url"].as_str().unwrap_or_default().contains(part))
            .cloned()
            .collect()
    }

    /// Waits until every request whose URL contains `part` has ended (checkout.js's handlers
    /// have run) and at least one was made; returns them.
    pub async fn settled(&self, part: &str) -> Vec<Value> {
        let expression = format!(
            "(() => {{ const r = window.__opened.filter(o => o.url.includes({part:?})); \
               return r.length > 0 && r.every(o => o.done) && r; }})()"
        );
        let value = self.browser.wait_for(&expression, WAIT, part).await.unwrap();
        value.as_array().cloned().unwrap_or_default()
    }

    /// The values thrown and left uncaught on the page since the last call, as the console shows
    /// them (a page cannot read what another origin's script throws).
    pub async fn uncaught(&self) -> Vec<String> {
        let log = self.browser.browser_log().await.unwrap();
        log.into_iter()
            .filter_map(|entry| entry.message.split_once("Uncaught ").map(|(_, thrown)| thrown.to_owned()))
            .collect()
    }

    /// Ends the browser session.
    pub async fn quit(self) {
        self.browser.quit().await.unwrap();
    }
}

async fn page(State(pages): State<Pages>) -> impl IntoResponse {
    Html(test_page(&format!("{}/checkout.js", pages.amazon)))
}

async fn own_amazon_page() -> impl IntoResponse {
    Html(test_page("/checkout.js"))
}

async fn script_copy(State(pages): State<Pages>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/javascript; charset=utf-8")], pages.script)
}

/// Another Amazon's answer to signout: 200, JSON, but no truthy `result`.
async fn failed_signout() -> impl IntoResponse {
    axum::Json(json!({ "result": false }))
}

fn test_page(script: &str) -> String {
    format!(
        "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\"><title>checkout.js</title>\
         <body><div id=\"b1\"></div><div id=\"b2\"></div><div id=\"b3\"></div>\
         <button type=\"button\" id=\"change\">変更</button>\
         <script>{WATCHERS}</script><script src=\"{script}\"></script></body></html>"
    )
}

/// Display options of a button for the registered merchant (no config: a decoupled button).
pub fn display(product_type: &str, sandbox: bool) -> Value {
    json!({ "merchantId": MERCHANT_ID, "ledgerCurrency": "JPY", "placement": "Cart",
            "checkoutLanguage": "ja_JP", "productType": product_type, "sandbox": sandbox })
}

/// A sign-in config signed by the shop, returning to `shop`.
pub fn sign_in_config(shop: &str) -> Value {
    let payload = simulator_pages::sign_in_payload(&format!("{shop}/signin/return"));
    signed(payload)
}

/// A checkout config signed by the shop, returning to `shop`.
pub fn checkout_config(shop: &str) -> Value {
    let payload = simulator_pages::checkout_payload(&format!("{shop}/review"));
    signed(payload)
}

fn signed(payload: String) -> Value {
    let signature = simulator_pages::sign_v2(shop_key(), &payload);
    json!({ "payloadJSON": payload, "signature": signature, "publicKeyId": PUBLIC_KEY_ID, "algorithm": V2 })
}

/// The fields of a submitted form, as `[name, value]` pairs.
pub fn fields(form: &Value) -> Vec<(String, String)> {
    form["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pair| (pair[0].as_str().unwrap().to_owned(), pair[1].as_str().unwrap().to_owned()))
        .collect()
}

/// One field of a submitted form.
pub fn field(form: &Value, name: &str) -> String {
    fields(form).into_iter().find(|(k, _)| k == name).map(|(_, v)| v).unwrap_or_else(|| panic!("no {name}: {form}"))
}
