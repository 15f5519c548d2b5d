//! The checkout harness: the shop server and the Amazon Pay simulator each on their own
//! loopback port (two origins, as in production), the shop's database in a folder of its own, and
//! one cookie-keeping client per browser that does not follow redirects, so that every hop can be
//! checked.
//!
//! A shopper fills the cart through the demo shop's cart API, clicks the checkout button as the
//! widget and checkout.js do (the payload signed at the click, the form posted to the simulator's
//! `/checkout/initiate`), chooses a test card on the simulator's consent page, comes back through
//! the review return, places the order, is sent to Amazon's payment page (`amazonPayRedirectUrl`)
//! and from there to the result return. What Amazon holds afterwards (checkout sessions, charge
//! permissions, charges) is read with the shop's own signed API client.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, header};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime, UtcOffset};
use url::Url;

use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::core::AmazonPayClient;
use amazonpay2::core::subscriptions::Cycle;
use amazonpay2::server;
use amazonpay2::server::config::Config;
use amazonpay2::storage::Database;

use super::sockets::{
    Answer, Browser, DataDir, ShopServer, TwoOrigins, button_form, cookie_client, shop_client, simulator_control,
};
use super::text::{between, query_value};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

pub const KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_key_pkcs8.pem");
pub const PASSWORD: &str = "correct horse battery";

/// The demo catalogue: one-time products…
pub const MUG: i64 = 1; // 益子焼 マグカップ, ¥2,750
pub const FUKIN: i64 = 2; // 刺し子 ふきん 3枚組, ¥1,980
/// …and subscriptions (定期便), delivered and charged every month.
pub const SEASONAL_BOX: i64 = 4; // 【定期便】季節の器セット, ¥8,800 a month
pub const PLATTER: i64 = 5; // 【定期便】職人の大皿, ¥49,560 a month

/// The demo shipping methods, and whether Amazon Pay may be used with them.
pub const TAKKYUBIN: i64 = 1; // 宅配便 ¥880, allowed
pub const NEKOPOS: i64 = 2; // ネコポス ¥0, allowed
pub const PICKUP: i64 = 3; // 店頭受け取り ¥0, not allowed
pub const COOL: i64 = 4; // クール便 ¥1,100, allowed

/// The test cards on the simulator's consent page (radio `card`).
pub const VISA: &str = "visa"; // authorizes
pub const MASTERCARD: &str = "mastercard"; // declines
pub const JCB: &str = "jcb"; // goes pending

/// A mug by 宅配便: the one-time order most tests place.
pub const MUG_ORDER: u64 = 2750 + 880;

pub const HOUR: u64 = 60 * 60;
pub const CONFIRM_PAGE: &str = "/shopping/confirm.html";
pub const STORE_NAME: &str = "クラフト雑貨店";
/// What the shop owner is told to do for a subscription cycle Amazon Pay could not charge.
pub const OFFER_ANOTHER_METHOD: &str = "お客様には他の決済方法をご案内ください";

/// The cart page with a widget notice.
pub fn cart_page(notice: &str) -> String {
    format!("/shopping/cart.html?amazonpay2={notice}")
}

/// Today in Japan, where subscription cycles are dated.
pub fn today_in_japan() -> Date {
    OffsetDateTime::now_utc().to_offset(UtcOffset::from_hms(9, 0, 0).unwrap()).date()
}

/// The same day a month later, or that month's last day.
pub fn a_month_after(date: Date) -> Date {
    let (year, month) = match date.month() {
        time::Month::December => (date.year() + 1, time::Month::January),
        month => (date.year(), month.next()),
    };
    Date::from_calendar_date(year, month, date.day().min(month.length(year))).unwrap()
}

/// Another day of the same calendar month.
pub fn another_day_of_the_month(date: Date) -> Date {
    date.replace_day(if date.day() == 1 { 2 } else { 1 }).unwrap()
}

/// Seconds from now until one hour into the next calendar month in Japan.
pub fn seconds_into_next_japanese_month() -> u64 {
    let now = OffsetDateTime::now_utc().to_offset(UtcOffset::from_hms(9, 0, 0).unwrap());
    let first = a_month_after(now.date().replace_day(1).unwrap());
    let target = first.with_hms(1, 0, 0).unwrap().assume_offset(now.offset());
    u64::try_from((target - now).whole_seconds()).unwrap()
}

/// The order number of a completion page location with `notice`
/// (`/shopping/complete.html?order=N&amazonpay2=notice`).
#[track_caller]
pub fn completed_order(location: &str, notice: &str) -> String {
    let url = Url::parse("http://shop.invalid").unwrap().join(location).unwrap();
    assert_eq!(url.path(), "/shopping/complete.html", "{location}");
    assert_eq!(query_value(&url, "amazonpay2").as_deref(), Some(notice), "{location}");
    let order = query_value(&url, "order").expect("an order number");
    assert!(!order.is_empty() && order.bytes().all(|b| b.is_ascii_digit()), "{location}");
    order
}

/// `{"amount":"…","currencyCode":"JPY"}`.
pub fn yen(amount: u64) -> Value {
    json!({ "amount": amount.to_string(), "currencyCode": "JPY" })
}

// ---------------------------------------------------------------------------------------------
// The shop and Amazon
// ---------------------------------------------------------------------------------------------

/// The shop and Amazon (the simulator, trusting the shop's key), on two loopback ports.
pub struct World {
    pub shop: String,
    pub amazon: String,
    pub config: Config,
    /// The shop's database.
    pub db: Database,
    /// The server's state (its core runs the jobs a scheduler would).
    pub state: std::sync::Arc<server::AppState>,
    /// The shop's signed client, to read what Amazon holds.
    pub client: AmazonPayClient,
    pub _server: ShopServer,
    pub _data: DataDir,
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// The world with the shop's settings `vars` added.
    pub async fn start_with(vars: Vec<(&'static str, String)>) -> Self {
        Self::start_wrapped(vars, |router| router).await
    }

    /// The world with the shop's settings `vars` added and its core adapted by `adapt`.
    pub async fn start_adapting(
        vars: Vec<(&'static str, String)>,
        adapt: impl FnOnce(amazonpay2::core::Core) -> amazonpay2::core::Core,
    ) -> Self {
        Self::start_wrapped_adapting(vars, |router| router, adapt).await
    }

    /// The world whose Amazon holds the answers `hold` is armed for.
    pub async fn start_holding(hold: &super::hold::Hold) -> Self {
        let hold = hold.clone();
        Self::start_wrapped(Vec::new(), move |router| hold.wrap(router)).await
    }

    /// The world whose Amazon takes captures only when `gate` lets them through.
    pub async fn start_gated(gate: &super::hold::CaptureGate) -> Self {
        let gate = gate.clone();
        Self::start_wrapped(Vec::new(), move |router| gate.wrap(router)).await
    }

    async fn start_wrapped(vars: Vec<(&'static str, String)>, wrap: impl FnOnce(axum::Router) -> axum::Router) -> Self {
        Self::start_wrapped_adapting(vars, wrap, |core| core).await
    }

    /// The world whose Amazon answers through `wrap` and whose core is adapted by `adapt`.
    pub async fn start_wrapped_adapting(
        mut vars: Vec<(&'static str, String)>,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
        adapt: impl FnOnce(amazonpay2::core::Core) -> amazonpay2::core::Core,
    ) -> Self {
        vars.push(("AMAZONPAY2_PRIVATE_KEY", KEY_FILE.to_owned()));
        // Amazon's throttling quotas lifted unless `vars` keep them (`AMAZONPAY2_SIMULATOR_QUOTAS`
        // `on`): these tests place and change many orders apiece, which at the sandbox's pace of
        // one completion or capture a second would take minutes, and what they check is not the
        // pace. The quotas and the shop's pacing to them have tests of their own (the bulk
        // capture's in admin/api.rs, the simulator's in simulator/throttling.rs), and the
        // end-to-end tests run the demo with them kept.
        vars.insert(0, ("AMAZONPAY2_SIMULATOR_QUOTAS", "off".to_owned()));
        let TwoOrigins { shop, amazon, config, key, shop_listener, data } = TwoOrigins::start_wrapped(
            DataDir::new("checkout-orders"),
            vars,
            |config| server::load_key(config).expect("the test key"),
            wrap,
        )
        .await;
        let server = ShopServer::start_adapting(&config, &key, shop_listener, adapt).await;
        Self::around(server, shop, amazon, config, &key, data)
    }

    /// The world of a running `server`.
    fn around(
        server: ShopServer,
        shop: String,
        amazon: String,
        config: Config,
        key: &Arc<ShopKey>,
        data: DataDir,
    ) -> Self {
        Self {
            shop,
            amazon,
            db: server.db.clone(),
            state: server.state.clone(),
            client: shop_client(&config, key),
            config,
            _server: server,
            _data: data,
        }
    }

    /// The world keeping Amazon's throttling quotas from now on: the simulator's, and the shop's
    /// pacing to them (its server restarts on the same address and database, as after a deploy).
    /// A benchmark places its orders first, faster than Amazon would take them.
    pub async fn keeping_amazons_quotas(self) -> Self {
        self.amazon_control("quotas", json!({ "kept": true })).await;
        let Self { shop, amazon, mut config, _server, _data, .. } = self;
        _server.stop().await;
        if let Some(demo) = config.demo.as_mut() {
            demo.quotas_lifted = false;
        }
        let key = Arc::new(server::load_key(&config).expect("the test key"));
        let listener = tokio::net::TcpListener::bind(config.listen).await.expect("the shop's address again");
        let server = ShopServer::start(&config, &key, listener).await;
        Self::around(server, shop, amazon, config, &key, _data)
    }

    /// A new browser with no cookies.
    pub fn browser(&self) -> Browser {
        let http = cookie_client().build().unwrap();
        Browser { shop: self.shop.clone(), amazon: self.amazon.clone(), http }
    }

    /// A new member, logged in, with `lines` (product, quantity) in the cart and `shipping`.
    pub async fn member_with_cart(&self, lines: &[(i64, u64)], shipping: i64) -> Browser {
        let browser = self.browser();
        browser.become_member().await;
        browser.fill_cart(lines, shipping).await;
        browser
    }

    /// A new member with a mug in the cart, to be sent by 宅配便.
    pub async fn mug_shopper(&self) -> Browser {
        self.member_with_cart(&[(MUG, 1)], TAKKYUBIN).await
    }

    /// A test control of the simulator (`clock`, `cards`, `faults`).
    pub async fn amazon_control(&self, control: &str, body: Value) {
        simulator_control(&self.amazon, control, body).await;
    }

    /// A test control of the simulator, and its answer.
    pub async fn amazon_control_answer(&self, control: &str, body: Value) -> Value {
        super::sockets::simulator_control_answer(&self.amazon, control, body).await
    }

    pub async fn advance_amazon_clock(&self, seconds: u64) {
        self.amazon_control("clock", json!({ "advanceSeconds": seconds })).await;
    }

    /// Starts Amazon's clock `seconds` back, before Amazon holds anything: what the test makes
    /// from now on was made that long ago, and moving the clock on brings it to today.
    pub async fn start_amazon_clock_back(&self, seconds: u64) {
        let back = -i64::try_from(seconds).unwrap();
        self.amazon_control("clock", json!({ "advanceSeconds": back })).await;
    }

    /// What Amazon answers for `GET resource`.
    pub async fn amazon_get(&self, resource: &str) -> Value {
        self.client
            .call::<Value>(Method::GET, resource, None::<&()>)
            .await
            .unwrap_or_else(|e| panic!("{resource}: {e}"))
    }

    pub async fn checkout_session(&self, id: &str) -> Value {
        self.amazon_get(&format!("checkoutSessions/{id}")).await
    }

    pub async fn charge(&self, id: &str) -> Value {
        self.amazon_get(&format!("charges/{id}")).await
    }

    pub async fn charge_permission(&self, id: &str) -> Value {
        self.amazon_get(&format!("chargePermissions/{id}")).await
    }

    /// Asserts that Amazon charged checkout session `id` once, `amount` authorized: the session's
    /// one charge, which used up its one-time charge permission.
    pub async fn assert_one_charge(&self, id: &str, amount: u64) {
        let session = self.checkout_session(id).await;
        assert_eq!(session["statusDetails"]["state"], "Completed");
        let charge = self.charge(session["chargeId"].as_str().expect("a charge")).await;
        assert_eq!(charge["statusDetails"]["state"], "Authorized");
        assert_eq!(charge["chargeAmount"], yen(amount));
        let permission = self.charge_permission(session["chargePermissionId"].as_str().unwrap()).await;
        assert_eq!(permission["limits"]["amountBalance"], yen(0), "no room for a second charge");
    }

    /// Asserts that Amazon charged nothing for checkout session `id`.
    pub async fn assert_no_charge(&self, id: &str) {
        let session = self.checkout_session(id).await;
        assert_ne!(session["statusDetails"]["state"], "Completed", "{session}");
        assert_eq!(session["chargeId"], Value::Null);
    }

    /// Runs the subscriptions command for `date`, as the shop's scheduler would: its own
    /// application state on the same database.
    pub async fn run_subscriptions(&self, date: Date) -> Vec<Cycle> {
        self.state.core.run_subscriptions(date).await.expect("the subscriptions run")
    }

    /// A member who bought `lines` with `shipping` and a Visa card; their browser, and the
    /// checkout session.
    pub async fn customer(&self, lines: &[(i64, u64)], shipping: i64) -> (Browser, String) {
        let browser = self.member_with_cart(lines, shipping).await;
        let id = browser.to_confirmation(VISA).await;
        completed_order(&browser.place_and_finish().await, "order_placed");
        (browser, id)
    }
}

/// How a state-changing request is forged.
#[derive(Clone, Copy, Debug)]
pub enum Forgery {
    NoCsrfToken,
    WrongCsrfToken,
    ForeignOrigin,
    NoOrigin,
    NoSessionCookie,
}

impl Forgery {
    pub const ALL: [Forgery; 5] =
        [Self::NoCsrfToken, Self::WrongCsrfToken, Self::ForeignOrigin, Self::NoOrigin, Self::NoSessionCookie];

    /// The refusal's error code (all are 403).
    pub fn code(self) -> &'static str {
        match self {
            Self::NoCsrfToken | Self::WrongCsrfToken => "csrf_token_invalid",
            Self::ForeignOrigin => "origin_not_allowed",
            Self::NoOrigin => "origin_required",
            Self::NoSessionCookie => "session_required",
        }
    }
}

/// What this file's shoppers do in their browser.
impl Browser {
    /// The session's CSRF token (starting the session if there is none).
    pub async fn csrf_token(&self) -> String {
        let reply = self.http.get(self.api("/session")).send().await.unwrap();
        reply.json::<Value>().await.unwrap()["csrfToken"].as_str().unwrap().to_owned()
    }

    pub async fn get_api(&self, path: &str) -> Answer {
        Answer::read(self.http.get(self.api(path)).send().await.unwrap()).await
    }

    /// A state-changing request as the shop's pages send it: shop origin, session, CSRF token.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.post_forged(path, body, None).await
    }

    /// The request of [`Browser::post`], forged as `forgery` says.
    pub async fn post_forged(&self, path: &str, body: Value, forgery: Option<Forgery>) -> Answer {
        let token = self.csrf_token().await;
        let http = match forgery {
            Some(Forgery::NoSessionCookie) => reqwest::Client::new(),
            _ => self.http.clone(),
        };
        let mut request = http.post(self.api(path)).json(&body);
        request = match forgery {
            Some(Forgery::NoOrigin) => request,
            Some(Forgery::ForeignOrigin) => request.header(header::ORIGIN, "https://evil.example"),
            _ => request.header(header::ORIGIN, &self.shop),
        };
        request = match forgery {
            Some(Forgery::NoCsrfToken) => request,
            Some(Forgery::WrongCsrfToken) => request.header("x-amazonpay2-csrf", "guess"),
            _ => request.header("x-amazonpay2-csrf", token),
        };
        Answer::read(request.send().await.unwrap()).await
    }

    /// Signs up as a new demo member, which logs the browser in.
    pub async fn become_member(&self) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let form = json!({
            "email": format!("buyer{n}@example.jp"), "password": PASSWORD,
            "familyName": "山田", "givenName": "花子", "familyKana": "ヤマダ", "givenKana": "ハナコ",
            "postalCode": "100-0001", "prefecture": "東京都", "address1": "千代田区千代田1-1",
            "phone": "0312345678",
        });
        self.post("/demo/signup", form).await.redirect();
    }

    // -- the cart ------------------------------------------------------------------------------

    pub async fn cart(&self) -> Value {
        self.get_api("/demo/cart").await.ok()
    }

    pub async fn set_quantity(&self, product: i64, quantity: u64) -> Value {
        self.post("/demo/cart", json!({ "productId": product, "quantity": quantity })).await.ok()
    }

    pub async fn choose_shipping(&self, method: i64) -> Value {
        self.post("/demo/cart", json!({ "shippingMethodId": method })).await.ok()
    }

    /// Puts `lines` (product, quantity) in the cart and chooses `shipping`; returns the cart.
    pub async fn fill_cart(&self, lines: &[(i64, u64)], shipping: i64) -> Value {
        for (product, quantity) in lines {
            self.set_quantity(*product, *quantity).await;
        }
        self.choose_shipping(shipping).await
    }

    // -- the widget ----------------------------------------------------------------------------

    /// The view of one block of `kind` on a shop page.
    pub async fn view(&self, kind: &str) -> Value {
        let block = json!({ "kind": kind, "placement": "Checkout", "buttonColor": "Gold" });
        let reply = self
            .http
            .post(self.api("/buttons"))
            .header(header::ORIGIN, &self.shop)
            .json(&json!({ "blocks": [block] }))
            .send()
            .await
            .unwrap();
        Answer::read(reply).await.ok()["blocks"][0].clone()
    }

    /// The checkout button's payload, signed for a click of it.
    pub async fn checkout_payload(&self) -> Value {
        let (_, config) = self.signed_button("/shopping/cart.html", "checkout").await;
        serde_json::from_str(config["payloadJSON"].as_str().expect("payloadJSON")).unwrap()
    }

    // -- Amazon --------------------------------------------------------------------------------

    /// Clicks the checkout button as the widget and checkout.js do; returns the flow of Amazon's
    /// consent page.
    pub async fn open_amazon(&self) -> String {
        let (options, config) = self.signed_button("/shopping/cart.html", "checkout").await;
        assert_eq!(options["productType"], "PayAndShip", "a checkout button: {options}");
        let form = button_form(&options, &config, "PayAndShip");
        let page = self.http.post(format!("{}/checkout/initiate", self.amazon)).form(&form).send().await.unwrap();
        let status = page.status();
        let html = page.text().await.unwrap();
        assert!(status.is_success(), "Amazon refused the button: {html}");
        between(&html, "name=\"flow\" value=\"", "\"").expect("Amazon's consent page")
    }

    /// On Amazon's consent page, keeps the first test buyer, chooses `card` and presses 続行;
    /// returns the review URL Amazon sends the browser back to (not yet followed).
    pub async fn consent(&self, flow: &str, card: &str) -> Url {
        let form = [("flow", flow), ("buyer", "0"), ("card", card)];
        let back = self.http.post(format!("{}/checkout/continue", self.amazon)).form(&form).send().await.unwrap();
        assert_eq!(back.status().as_u16(), 303, "{}", back.text().await.unwrap());
        let url = Url::parse(back.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        assert!(url.as_str().starts_with(&self.api("/checkout/review?")), "{url}");
        url
    }

    /// Checks out with `card` up to the shop's confirmation page; returns the checkout session.
    pub async fn to_confirmation(&self, card: &str) -> String {
        let flow = self.open_amazon().await;
        let review = self.consent(&flow, card).await;
        assert_eq!(self.arrive(&review).await, CONFIRM_PAGE);
        query_value(&review, "amazonCheckoutSessionId").expect("the checkout session")
    }

    /// Presses 注文を確定する on the confirmation page.
    pub async fn place(&self) -> Answer {
        self.post("/checkout/place", json!({})).await
    }

    /// Goes where `place` sent the browser, Amazon's payment page; returns the result URL
    /// Amazon sends the browser back to (not yet followed).
    pub async fn pay(&self, redirect: &str) -> Url {
        assert!(redirect.starts_with(&format!("{}/checkout/process/", self.amazon)), "Amazon's page: {redirect}");
        let reply = self.http.get(redirect).send().await.unwrap();
        assert_eq!(reply.status().as_u16(), 303, "{}", reply.text().await.unwrap());
        let url = Url::parse(reply.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        assert!(url.as_str().starts_with(&self.api("/checkout/result?")), "{url}");
        url
    }

    /// Places the order and pays on Amazon's page; returns the result URL (not yet followed).
    pub async fn place_and_pay(&self) -> Url {
        let redirect = self.place().await.redirect();
        self.pay(&redirect).await
    }

    /// Places the order and follows it to its end: the shop page the browser lands on.
    pub async fn place_and_finish(&self) -> String {
        let redirect = self.place().await.redirect();
        if redirect.starts_with(&self.amazon) {
            let result = self.pay(&redirect).await;
            self.arrive(&result).await
        } else {
            redirect
        }
    }

    /// The whole purchase with `card`: the shop page the browser lands on at the end.
    pub async fn buy(&self, card: &str) -> String {
        self.to_confirmation(card).await;
        self.place_and_finish().await
    }

    /// The member's orders and subscriptions (My Page).
    pub async fn history(&self) -> Value {
        self.get_api("/demo/orders").await.ok()
    }

    pub async fn orders(&self) -> Vec<Value> {
        self.history().await["orders"].as_array().unwrap().clone()
    }

    pub async fn subscriptions(&self) -> Vec<Value> {
        self.history().await["subscriptions"].as_array().unwrap().clone()
    }

    pub async fn assert_no_orders(&self) {
        assert_eq!(self.orders().await, Vec::<Value>::new(), "no order without Amazon's authorization");
    }
}
