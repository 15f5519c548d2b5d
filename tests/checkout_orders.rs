#![cfg(not(target_arch = "wasm32"))]
//! Checkout with Amazon Pay through to an order, over real HTTP: the shop server and the Amazon
//! Pay simulator each on their own loopback port (two origins, as in production), the shop's
//! database in a folder of its own, and one cookie-keeping client per browser that does not
//! follow redirects, so that every hop can be checked.
//!
//! A shopper fills the cart through the demo shop's cart API, clicks the checkout button as
//! checkout.js does (the signed form posted to the simulator's `/checkout/initiate`), chooses a
//! test card on the simulator's consent page, comes back through the review return, places the
//! order, is sent to Amazon's payment page (`amazonPayRedirectUrl`) and from there to the result
//! return. What Amazon holds afterwards (checkout sessions, charge permissions, charges) is read
//! with the shop's own signed API client. Subscriptions are charged by
//! `amazonpay2::core::subscriptions::run`, the command the shop schedules, on the same data.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, header};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime, UtcOffset};
use url::Url;

use amazonpay2::core::subscriptions::{self, Cycle};
use amazonpay2::core::{AmazonPayClient, Retry};
use amazonpay2::server;
use amazonpay2::server::config::Config;
use amazonpay2::server::store::Store;
use amazonpay2::simulator::TEST_BUYERS;
use common::sockets::{
    Answer, Browser, DataDir, RETRY, ShopServer, TwoOrigins, button_form, cookie_client, shop_client, simulator_control,
};
use common::text::{between, query_value};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_key_pkcs8.pem");
const PASSWORD: &str = "correct horse battery";

/// The demo catalogue: one-time products…
const MUG: i64 = 1; // 益子焼 マグカップ, ¥2,750
const FUKIN: i64 = 2; // 刺し子 ふきん 3枚組, ¥1,980
/// …and subscriptions (定期便), delivered and charged every month.
const SEASONAL_BOX: i64 = 4; // 【定期便】季節の器セット, ¥8,800 a month
const PLATTER: i64 = 5; // 【定期便】職人の大皿, ¥49,560 a month

/// The demo shipping methods, and whether Amazon Pay may be used with them.
const TAKKYUBIN: i64 = 1; // 宅配便 ¥880, allowed
const NEKOPOS: i64 = 2; // ネコポス ¥0, allowed
const PICKUP: i64 = 3; // 店頭受け取り ¥0, not allowed
const COOL: i64 = 4; // クール便 ¥1,100, allowed

/// The test cards on the simulator's consent page (radio `card`).
const VISA: &str = "visa"; // authorizes
const MASTERCARD: &str = "mastercard"; // declines
const JCB: &str = "jcb"; // goes pending

/// A mug by 宅配便: the one-time order most tests place.
const MUG_ORDER: u64 = 2750 + 880;

const HOUR: u64 = 60 * 60;
const CONFIRM_PAGE: &str = "/shopping/confirm.html";
const STORE_NAME: &str = "クラフト雑貨店";
/// What the shop owner is told to do for a subscription cycle Amazon Pay could not charge.
const OFFER_ANOTHER_METHOD: &str = "お客様には他の決済方法をご案内ください";

/// The cart page with a widget notice.
fn cart_page(notice: &str) -> String {
    format!("/shopping/cart.html?amazonpay2={notice}")
}

/// Today in Japan, where subscription cycles are dated.
fn today_in_japan() -> Date {
    OffsetDateTime::now_utc().to_offset(UtcOffset::from_hms(9, 0, 0).unwrap()).date()
}

/// The same day a month later, or that month's last day.
fn a_month_after(date: Date) -> Date {
    let (year, month) = match date.month() {
        time::Month::December => (date.year() + 1, time::Month::January),
        month => (date.year(), month.next()),
    };
    Date::from_calendar_date(year, month, date.day().min(month.length(year))).unwrap()
}

/// Another day of the same calendar month.
fn another_day_of_the_month(date: Date) -> Date {
    date.replace_day(if date.day() == 1 { 2 } else { 1 }).unwrap()
}

/// Seconds from now until one hour into the next calendar month in Japan.
fn seconds_into_next_japanese_month() -> u64 {
    let now = OffsetDateTime::now_utc().to_offset(UtcOffset::from_hms(9, 0, 0).unwrap());
    let first = a_month_after(now.date().replace_day(1).unwrap());
    let target = first.with_hms(1, 0, 0).unwrap().assume_offset(now.offset());
    u64::try_from((target - now).whole_seconds()).unwrap()
}

/// The order number of a completion page location with `notice`
/// (`/shopping/complete.html?order=N&amazonpay2=notice`).
#[track_caller]
fn completed_order(location: &str, notice: &str) -> String {
    let url = Url::parse("http://shop.invalid").unwrap().join(location).unwrap();
    assert_eq!(url.path(), "/shopping/complete.html", "{location}");
    assert_eq!(query_value(&url, "amazonpay2").as_deref(), Some(notice), "{location}");
    let order = query_value(&url, "order").expect("an order number");
    assert!(!order.is_empty() && order.bytes().all(|b| b.is_ascii_digit()), "{location}");
    order
}

/// `{"amount":"…","currencyCode":"JPY"}`.
fn yen(amount: u64) -> Value {
    json!({ "amount": amount.to_string(), "currencyCode": "JPY" })
}

// ---------------------------------------------------------------------------------------------
// The shop and Amazon
// ---------------------------------------------------------------------------------------------

/// The shop and Amazon (the simulator, trusting the shop's key), on two loopback ports.
struct World {
    shop: String,
    amazon: String,
    config: Config,
    /// The shop's database, as a command beside the server would open it.
    store: Store,
    /// The shop's signed client, to read what Amazon holds.
    client: AmazonPayClient,
    _server: ShopServer,
    _data: DataDir,
}

impl World {
    async fn start() -> Self {
        let TwoOrigins { shop, amazon, config, key, shop_listener, data } = TwoOrigins::start(
            DataDir::new("checkout-orders"),
            vec![("AMAZONPAY2_PRIVATE_KEY", KEY_FILE.to_owned())],
            |config| server::load_key(config).expect("the test key"),
        )
        .await;
        let server = ShopServer::start(&config, &key, shop_listener);
        Self {
            shop,
            amazon,
            store: Store::open(&config.data_dir).unwrap(),
            client: shop_client(&config, &key),
            config,
            _server: server,
            _data: data,
        }
    }

    /// A new browser with no cookies.
    fn browser(&self) -> Browser {
        let http = cookie_client().build().unwrap();
        Browser { shop: self.shop.clone(), amazon: self.amazon.clone(), http }
    }

    /// A new member, logged in, with `lines` (product, quantity) in the cart and `shipping`.
    async fn member_with_cart(&self, lines: &[(i64, u64)], shipping: i64) -> Browser {
        let browser = self.browser();
        browser.become_member().await;
        browser.fill_cart(lines, shipping).await;
        browser
    }

    /// A new member with a mug in the cart, to be sent by 宅配便.
    async fn mug_shopper(&self) -> Browser {
        self.member_with_cart(&[(MUG, 1)], TAKKYUBIN).await
    }

    /// A test control of the simulator (`clock`, `cards`, `faults`).
    async fn amazon_control(&self, control: &str, body: Value) {
        simulator_control(&self.amazon, control, body).await;
    }

    async fn advance_amazon_clock(&self, seconds: u64) {
        self.amazon_control("clock", json!({ "advanceSeconds": seconds })).await;
    }

    /// What Amazon answers for `GET resource`.
    async fn amazon_get(&self, resource: &str) -> Value {
        self.client
            .call::<Value>(Method::GET, resource, None::<&()>)
            .await
            .unwrap_or_else(|e| panic!("{resource}: {e}"))
    }

    async fn checkout_session(&self, id: &str) -> Value {
        self.amazon_get(&format!("checkoutSessions/{id}")).await
    }

    async fn charge(&self, id: &str) -> Value {
        self.amazon_get(&format!("charges/{id}")).await
    }

    async fn charge_permission(&self, id: &str) -> Value {
        self.amazon_get(&format!("chargePermissions/{id}")).await
    }

    /// Asserts that Amazon charged checkout session `id` once, `amount` authorized: the session's
    /// one charge, which used up its one-time charge permission.
    async fn assert_one_charge(&self, id: &str, amount: u64) {
        let session = self.checkout_session(id).await;
        assert_eq!(session["statusDetails"]["state"], "Completed");
        let charge = self.charge(session["chargeId"].as_str().expect("a charge")).await;
        assert_eq!(charge["statusDetails"]["state"], "Authorized");
        assert_eq!(charge["chargeAmount"], yen(amount));
        let permission = self.charge_permission(session["chargePermissionId"].as_str().unwrap()).await;
        assert_eq!(permission["limits"]["amountBalance"], yen(0), "no room for a second charge");
    }

    /// Asserts that Amazon charged nothing for checkout session `id`.
    async fn assert_no_charge(&self, id: &str) {
        let session = self.checkout_session(id).await;
        assert_ne!(session["statusDetails"]["state"], "Completed", "{session}");
        assert_eq!(session["chargeId"], Value::Null);
    }

    /// Runs the subscriptions command for `date`, as the shop's scheduler would: its own
    /// application state on the same database.
    async fn run_subscriptions(&self, date: Date) -> Vec<Cycle> {
        let state = server::state_for_command(self.config.clone()).expect("the command's state");
        subscriptions::run(&state, date).await.expect("the subscriptions run")
    }

    /// A member who bought `lines` with `shipping` and a Visa card; their browser, and the
    /// checkout session.
    async fn customer(&self, lines: &[(i64, u64)], shipping: i64) -> (Browser, String) {
        let browser = self.member_with_cart(lines, shipping).await;
        let id = browser.to_confirmation(VISA).await;
        completed_order(&browser.place_and_finish().await, "order_placed");
        (browser, id)
    }
}

/// How a state-changing request is forged.
#[derive(Clone, Copy, Debug)]
enum Forgery {
    NoCsrfToken,
    WrongCsrfToken,
    ForeignOrigin,
    NoOrigin,
    NoSessionCookie,
}

impl Forgery {
    const ALL: [Forgery; 5] =
        [Self::NoCsrfToken, Self::WrongCsrfToken, Self::ForeignOrigin, Self::NoOrigin, Self::NoSessionCookie];

    /// The refusal's error code (all are 403).
    fn code(self) -> &'static str {
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
    async fn csrf_token(&self) -> String {
        let reply = self.http.get(self.api("/session")).send().await.unwrap();
        reply.json::<Value>().await.unwrap()["csrfToken"].as_str().unwrap().to_owned()
    }

    async fn get_api(&self, path: &str) -> Answer {
        Answer::read(self.http.get(self.api(path)).send().await.unwrap()).await
    }

    /// A state-changing request as the shop's pages send it: shop origin, session, CSRF token.
    async fn post(&self, path: &str, body: Value) -> Answer {
        self.post_forged(path, body, None).await
    }

    /// The request of [`Browser::post`], forged as `forgery` says.
    async fn post_forged(&self, path: &str, body: Value, forgery: Option<Forgery>) -> Answer {
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
    async fn become_member(&self) {
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

    async fn cart(&self) -> Value {
        self.get_api("/demo/cart").await.ok()
    }

    async fn set_quantity(&self, product: i64, quantity: u64) -> Value {
        self.post("/demo/cart", json!({ "productId": product, "quantity": quantity })).await.ok()
    }

    async fn choose_shipping(&self, method: i64) -> Value {
        self.post("/demo/cart", json!({ "shippingMethodId": method })).await.ok()
    }

    /// Puts `lines` (product, quantity) in the cart and chooses `shipping`; returns the cart.
    async fn fill_cart(&self, lines: &[(i64, u64)], shipping: i64) -> Value {
        for (product, quantity) in lines {
            self.set_quantity(*product, *quantity).await;
        }
        self.choose_shipping(shipping).await
    }

    // -- the widget ----------------------------------------------------------------------------

    /// The view of one block of `kind` on a shop page.
    async fn view(&self, kind: &str) -> Value {
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

    /// The checkout button's signed payload.
    async fn checkout_payload(&self) -> Value {
        let view = self.view("checkout").await;
        let payload = view["options"]["createCheckoutSessionConfig"]["payloadJSON"].as_str();
        serde_json::from_str(payload.unwrap_or_else(|| panic!("no checkout button: {view}"))).unwrap()
    }

    // -- Amazon --------------------------------------------------------------------------------

    /// Clicks the checkout button as checkout.js does; returns the flow of Amazon's consent page.
    async fn open_amazon(&self) -> String {
        let view = self.view("checkout").await;
        let options = &view["options"];
        assert_eq!(options["productType"], "PayAndShip", "a checkout button: {view}");
        let form = button_form(options, &options["createCheckoutSessionConfig"], "PayAndShip");
        let page = self.http.post(format!("{}/checkout/initiate", self.amazon)).form(&form).send().await.unwrap();
        let status = page.status();
        let html = page.text().await.unwrap();
        assert!(status.is_success(), "Amazon refused the button: {html}");
        between(&html, "name=\"flow\" value=\"", "\"").expect("Amazon's consent page")
    }

    /// On Amazon's consent page, keeps the first test buyer, chooses `card` and presses 続行;
    /// returns the review URL Amazon sends the browser back to (not yet followed).
    async fn consent(&self, flow: &str, card: &str) -> Url {
        let form = [("flow", flow), ("buyer", "0"), ("card", card)];
        let back = self.http.post(format!("{}/checkout/continue", self.amazon)).form(&form).send().await.unwrap();
        assert_eq!(back.status().as_u16(), 303, "{}", back.text().await.unwrap());
        let url = Url::parse(back.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        assert!(url.as_str().starts_with(&self.api("/checkout/review?")), "{url}");
        url
    }

    /// Follows Amazon's redirect back to the shop; returns the shop page it sends the browser to.
    async fn arrive(&self, url: &Url) -> String {
        let reply = self.http.get(url.clone()).send().await.unwrap();
        assert!(reply.status().is_redirection(), "the return answers a redirect: {}", reply.status());
        assert!(reply.headers().get(header::SET_COOKIE).is_none(), "the shopper's own session");
        reply.headers()[header::LOCATION].to_str().unwrap().to_owned()
    }

    /// Checks out with `card` up to the shop's confirmation page; returns the checkout session.
    async fn to_confirmation(&self, card: &str) -> String {
        let flow = self.open_amazon().await;
        let review = self.consent(&flow, card).await;
        assert_eq!(self.arrive(&review).await, CONFIRM_PAGE);
        query_value(&review, "amazonCheckoutSessionId").expect("the checkout session")
    }

    /// Presses 注文を確定する on the confirmation page.
    async fn place(&self) -> Answer {
        self.post("/checkout/place", json!({})).await
    }

    /// Goes where `place` sent the browser, Amazon's payment page; returns the result URL
    /// Amazon sends the browser back to (not yet followed).
    async fn pay(&self, redirect: &str) -> Url {
        assert!(redirect.starts_with(&format!("{}/checkout/process/", self.amazon)), "Amazon's page: {redirect}");
        let reply = self.http.get(redirect).send().await.unwrap();
        assert_eq!(reply.status().as_u16(), 303, "{}", reply.text().await.unwrap());
        let url = Url::parse(reply.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        assert!(url.as_str().starts_with(&self.api("/checkout/result?")), "{url}");
        url
    }

    /// Places the order and pays on Amazon's page; returns the result URL (not yet followed).
    async fn place_and_pay(&self) -> Url {
        let redirect = self.place().await.redirect();
        self.pay(&redirect).await
    }

    /// Places the order and follows it to its end: the shop page the browser lands on.
    async fn place_and_finish(&self) -> String {
        let redirect = self.place().await.redirect();
        if redirect.starts_with(&self.amazon) {
            let result = self.pay(&redirect).await;
            self.arrive(&result).await
        } else {
            redirect
        }
    }

    /// The whole purchase with `card`: the shop page the browser lands on at the end.
    async fn buy(&self, card: &str) -> String {
        self.to_confirmation(card).await;
        self.place_and_finish().await
    }

    /// The member's orders and subscriptions (My Page).
    async fn history(&self) -> Value {
        self.get_api("/demo/orders").await.ok()
    }

    async fn orders(&self) -> Vec<Value> {
        self.history().await["orders"].as_array().unwrap().clone()
    }

    async fn subscriptions(&self) -> Vec<Value> {
        self.history().await["subscriptions"].as_array().unwrap().clone()
    }

    async fn assert_no_orders(&self) {
        assert_eq!(self.orders().await, Vec::<Value>::new(), "no order without Amazon's authorization");
    }
}

// ---------------------------------------------------------------------------------------------
// The checkout block: why not, or a button for this cart
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_empty_cart_says_so_instead_of_a_button() {
    let world = World::start().await;
    let browser = world.browser();
    assert_eq!(browser.view("checkout").await, json!({ "view": "unavailable", "reason": "cartEmpty" }));
    browser.set_quantity(MUG, 1).await;
    assert_eq!(browser.view("checkout").await["view"], "button");
    let cart = browser.set_quantity(MUG, 0).await;
    assert_eq!(cart["lines"], json!([]), "quantity 0 removes the product");
    assert_eq!(browser.view("checkout").await, json!({ "view": "unavailable", "reason": "cartEmpty" }));
}

#[tokio::test]
async fn a_shipping_method_without_amazon_pay_says_so_instead_of_a_button() {
    let world = World::start().await;
    let browser = world.browser();
    browser.fill_cart(&[(MUG, 1)], PICKUP).await;
    let refused = json!({ "view": "unavailable", "reason": "shippingMethodNotAllowed" });
    assert_eq!(browser.view("checkout").await, refused);
    for allowed in [TAKKYUBIN, NEKOPOS, COOL] {
        browser.choose_shipping(allowed).await;
        assert_eq!(browser.view("checkout").await["view"], "button", "shipping method {allowed}");
    }
}

#[tokio::test]
async fn a_one_time_cart_gets_a_one_time_button_estimating_the_total_with_shipping() {
    let world = World::start().await;
    let browser = world.browser();
    let cart = browser.fill_cart(&[(MUG, 2), (FUKIN, 1)], COOL).await;
    assert_eq!(cart["total"], 2 * 2750 + 1980 + 1100);
    let view = browser.view("checkout").await;
    assert_eq!(view["options"]["estimatedOrderAmount"], yen(8580));
    let payload = browser.checkout_payload().await;
    assert_eq!(payload["chargePermissionType"], "OneTime");
    assert!(payload.get("recurringMetadata").is_none(), "{payload}");
    assert_eq!(
        payload["webCheckoutDetails"]["checkoutReviewReturnUrl"],
        format!("{}/api/amazonpay2/checkout/review", world.shop)
    );
}

#[tokio::test]
async fn a_subscription_of_exactly_100000_yen_a_month_gets_a_recurring_button() {
    let world = World::start().await;
    let browser = world.browser();
    let cart = browser.fill_cart(&[(PLATTER, 2)], TAKKYUBIN).await;
    assert_eq!((cart["total"].as_u64(), cart["recurring"].as_bool()), (Some(100_000), Some(true)));
    assert_eq!(browser.view("checkout").await["options"]["estimatedOrderAmount"], yen(100_000));
    let payload = browser.checkout_payload().await;
    assert_eq!(payload["chargePermissionType"], "Recurring");
    assert_eq!(
        payload["recurringMetadata"],
        json!({ "frequency": { "unit": "Month", "value": "1" }, "amount": yen(100_000) })
    );
}

#[tokio::test]
async fn a_subscription_of_100220_yen_a_month_is_refused_for_the_monthly_limit() {
    let world = World::start().await;
    let browser = world.browser();
    let cart = browser.fill_cart(&[(PLATTER, 2)], COOL).await;
    assert_eq!(cart["total"], 100_220);
    assert_eq!(browser.view("checkout").await, json!({ "view": "unavailable", "reason": "recurringMonthlyLimit" }));
}

#[tokio::test]
async fn a_subscription_cart_charges_the_whole_cart_every_month() {
    let world = World::start().await;
    let browser = world.browser();
    browser.fill_cart(&[(SEASONAL_BOX, 1), (MUG, 1)], TAKKYUBIN).await;
    let monthly = 8800 + 2750 + 880;
    assert_eq!(browser.view("checkout").await["options"]["estimatedOrderAmount"], yen(monthly));
    let payload = browser.checkout_payload().await;
    assert_eq!(payload["chargePermissionType"], "Recurring");
    assert_eq!(payload["recurringMetadata"]["amount"], yen(monthly));
}

#[tokio::test]
async fn one_time_purchases_have_no_monthly_limit() {
    let world = World::start().await;
    let browser = world.browser();
    browser.fill_cart(&[(MUG, 99)], TAKKYUBIN).await;
    let view = browser.view("checkout").await;
    assert_eq!(view["options"]["estimatedOrderAmount"], yen(99 * 2750 + 880), "{view}");
}

// ---------------------------------------------------------------------------------------------
// A one-time purchase
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_review_block_shows_amazons_shipping_address_and_payment_method() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    assert_eq!(browser.view("review").await, json!({ "view": "nothing" }), "no Amazon checkout yet");
    let id = browser.to_confirmation(VISA).await;
    let buyer = &TEST_BUYERS[0];
    assert_eq!(
        browser.view("review").await,
        json!({
            "view": "review",
            "amazonCheckoutSessionId": id,
            "shippingAddress": [
                buyer.name,
                format!("〒{}", buyer.postal_code),
                format!("{}{}", buyer.prefecture, buyer.line1),
                buyer.line2,
                buyer.phone,
            ],
            "paymentDescriptor": "Visa ****1111",
        })
    );
}

#[tokio::test]
async fn a_payment_method_changed_on_amazon_shows_in_the_review_and_is_the_one_charged() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    // 「お支払い方法の変更」 (amazon.Pay.bindChangeAction): Amazon's chooser, then back to review.
    let chooser =
        format!("{}/checkout/initiate_auth?amazonCheckoutSessionId={id}&changeAction=changePayment", world.amazon);
    let html = browser.http.get(chooser).send().await.unwrap().text().await.unwrap();
    let flow = between(&html, "name=\"flow\" value=\"", "\"").expect("Amazon's chooser");
    let form = [("flow", flow.as_str()), ("card", JCB)];
    let back = browser.http.post(format!("{}/checkout/continue", world.amazon)).form(&form).send().await.unwrap();
    let review = Url::parse(back.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(browser.arrive(&review).await, CONFIRM_PAGE);
    assert_eq!(browser.view("review").await["paymentDescriptor"], "JCB ****0000");
    completed_order(&browser.place_and_finish().await, "payment_pending");
}

#[tokio::test]
async fn a_one_time_purchase_becomes_an_authorized_order_and_empties_the_cart() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let redirect = browser.place().await.redirect();
    let result = browser.pay(&redirect).await;
    assert_eq!(query_value(&result, "amazonCheckoutSessionId").as_deref(), Some(id.as_str()));
    let number = completed_order(&browser.arrive(&result).await, "order_placed");
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    let order = &orders[0];
    assert_eq!(order["orderNumber"], number);
    assert_eq!(order["creditStatus"], "仮売上");
    assert_eq!((order["total"].as_u64(), order["recurring"].as_bool()), (Some(MUG_ORDER), Some(false)));
    assert_eq!(browser.subscriptions().await, Vec::<Value>::new());
    assert_eq!(browser.cart().await["lines"], json!([]));
    assert_eq!(browser.view("checkout").await["reason"], "cartEmpty");
    assert_eq!(browser.view("review").await["view"], "nothing", "the checkout is over");
}

#[tokio::test]
async fn amazon_holds_one_authorized_charge_with_the_order_number_and_store_name() {
    let world = World::start().await;
    let (browser, id) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    let order = browser.orders().await.remove(0);
    let session = world.checkout_session(&id).await;
    assert_eq!(session["statusDetails"]["state"], "Completed");
    assert_eq!(session["paymentDetails"]["paymentIntent"], "Authorize");
    assert_eq!(session["paymentDetails"]["chargeAmount"], yen(MUG_ORDER));
    assert_eq!(session["merchantMetadata"]["merchantReferenceId"], order["orderNumber"]);
    assert_eq!(session["merchantMetadata"]["merchantStoreName"], STORE_NAME);
    assert_eq!(session["chargeId"], order["chargeId"]);
    let permission = world.charge_permission(session["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(permission["chargePermissionType"], "OneTime");
    world.assert_one_charge(&id, MUG_ORDER).await;
}

#[tokio::test]
async fn a_guest_can_buy_but_has_no_order_history() {
    let world = World::start().await;
    let browser = world.browser();
    browser.fill_cart(&[(FUKIN, 1)], NEKOPOS).await;
    completed_order(&browser.buy(VISA).await, "order_placed");
    assert_eq!(browser.get_api("/demo/orders").await.error(401), "login_required");
}

// ---------------------------------------------------------------------------------------------
// Placing the same order twice
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_double_click_on_place_makes_one_order_and_one_charge() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let (first, second) = tokio::join!(browser.place(), browser.place());
    let (first, second) = (first.redirect(), second.redirect());
    assert_eq!(first, second, "both clicks continue the same checkout");
    let result = browser.pay(&first).await;
    completed_order(&browser.arrive(&result).await, "order_placed");
    assert_eq!(browser.orders().await.len(), 1);
    world.assert_one_charge(&id, MUG_ORDER).await;
}

#[tokio::test]
async fn reloading_the_result_shows_the_same_order_and_makes_no_second() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    let number = completed_order(&browser.arrive(&result).await, "order_placed");
    assert_eq!(completed_order(&browser.arrive(&result).await, "order_placed"), number);
    assert_eq!(browser.orders().await.len(), 1);
    world.assert_one_charge(&id, MUG_ORDER).await;
}

#[tokio::test]
async fn placing_again_after_the_order_sends_nobody_to_amazon_again() {
    let world = World::start().await;
    let (browser, id) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    // The back button to the confirmation page, and 注文を確定する once more.
    let again = browser.place().await.redirect();
    assert!(!again.starts_with(&world.amazon), "{again}");
    assert_eq!(again, cart_page("cart_changed"));
    assert_eq!(browser.orders().await.len(), 1);
    world.assert_one_charge(&id, MUG_ORDER).await;
}

#[tokio::test]
async fn a_result_whose_completion_amazon_already_recorded_finishes_the_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    // Amazon completed the session, but its answer never reached the shop (a timeout, or a
    // second tab's request overtaking this one): the charge is authorized at Amazon.
    let amount = amazonpay2::amazon::types::Money::yen(MUG_ORDER);
    world.client.complete_checkout_session(&id, &amount).await.expect("Amazon completes");
    completed_order(&browser.arrive(&result).await, "order_placed");
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["creditStatus"], "仮売上");
}

#[tokio::test]
async fn two_results_at_once_make_one_authorized_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    let (first, second) = tokio::join!(browser.arrive(&result), browser.arrive(&result));
    assert_eq!(completed_order(&first, "order_placed"), completed_order(&second, "order_placed"));
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["creditStatus"], "仮売上");
}

// ---------------------------------------------------------------------------------------------
// Declined, pending, changed, expired
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_declined_card_ends_in_payment_declined_without_an_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(MASTERCARD).await;
    assert_eq!(browser.view("review").await["paymentDescriptor"], "Mastercard ****4444");
    assert_eq!(browser.place_and_finish().await, cart_page("payment_declined"));
    browser.assert_no_orders().await;
    assert_eq!(browser.cart().await["lines"][0]["productId"], MUG, "the cart stays for another payment");
    world.assert_no_charge(&id).await;
}

#[tokio::test]
async fn a_pending_authorization_ends_in_payment_pending_and_決済保留() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(JCB).await;
    let number = completed_order(&browser.place_and_finish().await, "payment_pending");
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (orders[0]["orderNumber"].as_str(), orders[0]["creditStatus"].as_str()),
        (Some(&*number), Some("決済保留"))
    );
    assert_eq!(browser.cart().await["lines"], json!([]));
    let session = world.checkout_session(&id).await;
    assert_eq!(
        world.charge(session["chargeId"].as_str().unwrap()).await["statusDetails"]["state"],
        "AuthorizationInitiated"
    );
}

#[tokio::test]
async fn a_cart_changed_after_place_ends_in_cart_changed_without_an_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    browser.set_quantity(MUG, 2).await; // another tab, while Amazon authorized ¥3,630
    assert_eq!(browser.arrive(&result).await, cart_page("cart_changed"));
    browser.assert_no_orders().await;
    world.assert_no_charge(&id).await;
}

#[tokio::test]
async fn returning_to_the_review_after_a_cart_change_does_not_charge_the_old_amount() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let flow = browser.open_amazon().await;
    let review = browser.consent(&flow, VISA).await;
    assert_eq!(browser.arrive(&review).await, CONFIRM_PAGE);
    browser.place().await.redirect(); // Amazon now expects ¥3,630
    browser.set_quantity(MUG, 2).await;
    assert_eq!(browser.arrive(&review).await, CONFIRM_PAGE, "the old review URL, from the history");
    assert_eq!(browser.place_and_finish().await, cart_page("cart_changed"));
    browser.assert_no_orders().await;
}

#[tokio::test]
async fn a_subscription_added_while_on_amazons_page_is_not_paid_with_a_one_time_checkout() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let flow = browser.open_amazon().await; // a OneTime button
    browser.set_quantity(SEASONAL_BOX, 1).await; // another tab: the cart becomes a subscription
    let review = browser.consent(&flow, VISA).await;
    assert_eq!(browser.arrive(&review).await, CONFIRM_PAGE);
    assert_eq!(browser.place_and_finish().await, cart_page("cart_changed"));
    assert_eq!(browser.history().await, json!({ "orders": [], "subscriptions": [] }));
}

#[tokio::test]
async fn a_checkout_expired_before_place_is_refused_without_an_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    world.advance_amazon_clock(25 * HOUR).await;
    assert_eq!(browser.view("review").await["view"], "nothing", "no details of an expired checkout");
    let placed = browser.place().await;
    // A clear refusal (the page shows it), or the cart with the expiry notice.
    match placed.status {
        200 => assert_eq!(placed.redirect(), cart_page("checkout_expired")),
        _ => assert_eq!(placed.error(409), "amazon_refused"),
    }
    browser.assert_no_orders().await;
}

#[tokio::test]
async fn a_checkout_expired_before_the_result_ends_in_checkout_expired_without_an_order() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    world.advance_amazon_clock(25 * HOUR).await;
    assert_eq!(browser.arrive(&result).await, cart_page("checkout_expired"));
    browser.assert_no_orders().await;
    assert_eq!(browser.cart().await["lines"][0]["productId"], MUG, "the shopper can check out again");
    assert_eq!(world.checkout_session(&id).await["statusDetails"]["reasonCode"], "Expired");
}

#[tokio::test]
async fn reloading_the_result_of_an_expired_checkout_still_says_it_expired() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    world.advance_amazon_clock(25 * HOUR).await;
    assert_eq!(browser.arrive(&result).await, cart_page("checkout_expired"));
    assert_eq!(browser.arrive(&result).await, cart_page("checkout_expired"));
}

// ---------------------------------------------------------------------------------------------
// Returns that are not this browser's, hostile input, forged requests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_result_url_opened_in_another_browser_completes_nothing() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    let id = buyer.to_confirmation(VISA).await;
    let result = buyer.place_and_pay().await;
    let stranger = world.mug_shopper().await;
    assert_eq!(stranger.arrive(&result).await, cart_page("cart_changed"));
    world.assert_no_charge(&id).await;
    stranger.assert_no_orders().await;
    buyer.assert_no_orders().await;
    assert_eq!(stranger.cart().await["lines"][0]["quantity"], 1, "the stranger's cart is untouched");
    // The buyer's own return still completes their order.
    completed_order(&buyer.arrive(&result).await, "order_placed");
    assert_eq!(buyer.orders().await.len(), 1);
}

#[tokio::test]
async fn a_review_return_opened_in_a_browser_without_a_cart_binds_nothing() {
    let world = World::start().await;
    let buyer = world.mug_shopper().await;
    let flow = buyer.open_amazon().await;
    let review = buyer.consent(&flow, VISA).await;
    let stranger = world.browser();
    assert_eq!(stranger.arrive(&review).await, cart_page("cart_changed"));
    assert_eq!(stranger.view("review").await["view"], "nothing");
    assert_eq!(stranger.place().await.redirect(), cart_page("cart_changed"));
}

/// IDs no Amazon return carries.
fn hostile_ids() -> Vec<String> {
    [
        "",
        "<script>alert(1)</script>",
        "x&next=https://evil.example",
        "../../admin",
        "a b",
        "x\r\nSet-Cookie: a=b",
        "%00",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(["a".repeat(5000)])
    .collect()
}

#[tokio::test]
async fn review_and_result_send_missing_and_hostile_ids_to_the_cart() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    for path in ["/checkout/review", "/checkout/result"] {
        let mut url = Url::parse(&browser.api(path)).unwrap();
        assert_eq!(browser.arrive(&url).await, cart_page("cart_changed"), "{path} without an ID");
        for id in hostile_ids() {
            url.query_pairs_mut().clear().append_pair("amazonCheckoutSessionId", &id);
            assert_eq!(browser.arrive(&url).await, cart_page("cart_changed"), "{path} {id:?}");
        }
    }
    // Nothing was bound to the cart: there is no checkout to place.
    assert_eq!(browser.place().await.redirect(), cart_page("cart_changed"));
    browser.assert_no_orders().await;
}

#[tokio::test]
async fn a_result_for_a_checkout_amazon_never_issued_completes_nothing() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    browser.place_and_pay().await;
    let mut forged = Url::parse(&browser.api("/checkout/result")).unwrap();
    forged.query_pairs_mut().append_pair("amazonCheckoutSessionId", "00000000-0000-0000-0000-000000000000");
    assert_eq!(browser.arrive(&forged).await, cart_page("cart_changed"));
    browser.assert_no_orders().await;
}

#[tokio::test]
async fn place_refuses_forged_requests_and_asks_nothing_of_amazon() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    let id = browser.to_confirmation(VISA).await;
    for forgery in Forgery::ALL {
        let answer = browser.post_forged("/checkout/place", json!({}), Some(forgery)).await;
        assert_eq!(answer.error(403), forgery.code(), "{forgery:?}");
    }
    let session = world.checkout_session(&id).await;
    assert_eq!(session["paymentDetails"]["chargeAmount"], Value::Null, "Amazon was not updated");
    assert_eq!(session["webCheckoutDetails"]["amazonPayRedirectUrl"], Value::Null);
    // The real page still places the one order.
    completed_order(&browser.place_and_finish().await, "order_placed");
    assert_eq!(browser.orders().await.len(), 1);
}

#[tokio::test]
async fn cart_updates_refuse_forged_requests_and_change_nothing() {
    let world = World::start().await;
    let browser = world.browser();
    let before = browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
    for forgery in Forgery::ALL {
        for change in [json!({ "productId": FUKIN, "quantity": 3 }), json!({ "shippingMethodId": PICKUP })] {
            let answer = browser.post_forged("/demo/cart", change.clone(), Some(forgery)).await;
            assert_eq!(answer.error(403), forgery.code(), "{forgery:?} {change}");
        }
    }
    assert_eq!(browser.cart().await, before);
}

#[tokio::test]
async fn cart_updates_refuse_unknown_products_shipping_methods_and_quantities() {
    let world = World::start().await;
    let browser = world.browser();
    let before = browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
    let cases = [
        (json!({ "productId": 999, "quantity": 1 }), 404, "unknown_product"),
        (json!({ "shippingMethodId": 999 }), 404, "unknown_shipping_method"),
        (json!({ "productId": MUG, "quantity": 100 }), 400, "invalid_quantity"),
        (json!({ "productId": MUG, "quantity": -1 }), 400, "invalid_request"),
        (json!({ "productId": MUG, "price": 1 }), 400, "invalid_request"),
    ];
    for (change, status, code) in cases {
        assert_eq!(browser.post("/demo/cart", change.clone()).await.error(status), code, "{change}");
    }
    assert_eq!(browser.cart().await, before);
}

#[tokio::test]
async fn reading_the_cart_without_a_session_hands_out_the_session_it_starts() {
    let world = World::start().await;
    let reply = reqwest::Client::new().get(format!("{}/api/amazonpay2/demo/cart", world.shop)).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    assert!(reply.headers().get(header::SET_COOKIE).is_some(), "the cart it made belongs to nobody");
}

// ---------------------------------------------------------------------------------------------
// Amazon unreachable
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn amazon_unreachable_at_place_is_reported_and_the_order_can_be_placed_later() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    world.amazon_control("faults", json!({ "status": 503, "count": RETRY.attempts })).await;
    assert_eq!(browser.place().await.error(502), "amazon_unavailable");
    browser.assert_no_orders().await;
    completed_order(&browser.place_and_finish().await, "order_placed");
    assert_eq!(browser.orders().await.len(), 1);
}

#[tokio::test]
async fn amazon_unreachable_at_the_result_keeps_the_order_for_another_try() {
    let world = World::start().await;
    let browser = world.mug_shopper().await;
    browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    world.amazon_control("faults", json!({ "status": 503, "count": RETRY.attempts })).await;
    assert_eq!(browser.arrive(&result).await, format!("{CONFIRM_PAGE}?amazonpay2=amazon_unavailable"));
    browser.assert_no_orders().await;
    completed_order(&browser.arrive(&result).await, "order_placed");
    assert_eq!(browser.orders().await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------------

/// The monthly charge of a ¥8,800 定期便 delivered by 宅配便.
const SEASONAL_MONTHLY: u64 = 8800 + 880;

/// A member who started the ¥9,680 monthly subscription; their browser and its one
/// subscription (as My Page lists it).
async fn subscriber(world: &World) -> (Browser, Value) {
    let (browser, _) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let subscription = browser.subscriptions().await.remove(0);
    (browser, subscription)
}

fn next_cycle(subscription: &Value) -> Date {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(subscription["nextCycle"].as_str().expect("nextCycle"), format).unwrap()
}

#[tokio::test]
async fn a_subscription_checkout_makes_an_authorized_order_and_a_monthly_subscription() {
    let world = World::start().await;
    let (browser, id) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["creditStatus"], "仮売上");
    assert_eq!((orders[0]["total"].as_u64(), orders[0]["recurring"].as_bool()), (Some(SEASONAL_MONTHLY), Some(true)));
    let subscriptions = browser.subscriptions().await;
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    assert_eq!(subscriptions[0]["amount"], SEASONAL_MONTHLY);
    assert_eq!(next_cycle(&subscriptions[0]), a_month_after(today_in_japan()));
    let session = world.checkout_session(&id).await;
    assert_eq!(subscriptions[0]["chargePermissionId"], session["chargePermissionId"]);
    let permission = world.charge_permission(session["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(permission["chargePermissionType"], "Recurring");
    assert_eq!(permission["recurringMetadata"]["frequency"], json!({ "unit": "Month", "value": "1" }));
}

#[tokio::test]
async fn a_subscription_cycle_before_its_date_charges_nothing() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    assert_eq!(world.run_subscriptions(today_in_japan()).await, Vec::new());
    assert_eq!(browser.orders().await.len(), 1);
    assert_eq!(browser.subscriptions().await, vec![subscription]);
}

#[tokio::test]
async fn the_next_cycle_makes_a_second_authorized_order_and_moves_on_a_month() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    let date = next_cycle(&subscription);
    let cycles = world.run_subscriptions(date).await;
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!((cycles[0].date.as_str(), cycles[0].status.as_str()), (&*date.to_string(), "authorized"));
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 2, "{orders:?}");
    let newest = &orders[0];
    assert_eq!(newest["orderNumber"], cycles[0].order_number);
    assert_eq!(newest["creditStatus"], "仮売上");
    assert_eq!((newest["total"].as_u64(), newest["recurring"].as_bool()), (Some(SEASONAL_MONTHLY), Some(true)));
    let charge = world.charge(newest["chargeId"].as_str().expect("the cycle's charge")).await;
    assert_eq!(charge["chargePermissionId"], subscription["chargePermissionId"]);
    assert_eq!(charge["statusDetails"]["state"], "Authorized");
    assert_eq!(next_cycle(&browser.subscriptions().await[0]), a_month_after(date));
}

#[tokio::test]
async fn running_the_same_cycle_twice_charges_once() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    let date = next_cycle(&subscription);
    assert_eq!(world.run_subscriptions(date).await.len(), 1);
    assert_eq!(world.run_subscriptions(date).await, Vec::new(), "nothing is due any more");
    assert_eq!(browser.orders().await.len(), 2);
    let permission = world.charge_permission(subscription["chargePermissionId"].as_str().unwrap()).await;
    let charged = 100_000 - 2 * SEASONAL_MONTHLY; // the checkout's charge and one cycle's
    assert_eq!(permission["limits"]["amountBalance"], yen(charged));
}

#[tokio::test]
async fn a_declined_cycle_becomes_カード未決済_with_the_instruction_to_offer_another_method() {
    let world = World::start().await;
    let (browser, subscription) = subscriber(&world).await;
    let permission = subscription["chargePermissionId"].as_str().unwrap();
    world.amazon_control("cards", json!({ "chargePermissionId": permission, "card": "decline" })).await;
    let date = next_cycle(&subscription);
    let cycles = world.run_subscriptions(date).await;
    assert_eq!(cycles[0].status, "card_unsettled");
    let newest = browser.orders().await.remove(0);
    assert_eq!(newest["orderNumber"], cycles[0].order_number);
    assert_eq!(newest["creditStatus"], "カード未決済");
    let note = newest["note"].as_str().unwrap();
    assert!(note.contains(OFFER_ANOTHER_METHOD), "{note}");
    assert_eq!(next_cycle(&browser.subscriptions().await[0]), a_month_after(date), "the next month is tried again");
}

/// A member with the ¥100,000 monthly subscription (two 大皿 by 宅配便).
async fn subscriber_at_the_limit(world: &World) -> (Browser, Value) {
    let (browser, _) = world.customer(&[(PLATTER, 2)], TAKKYUBIN).await;
    let subscription = browser.subscriptions().await.remove(0);
    assert_eq!(subscription["amount"], 100_000);
    (browser, subscription)
}

#[tokio::test]
async fn a_cycle_amazon_refuses_for_the_monthly_limit_becomes_カード未決済() {
    let world = World::start().await;
    let (browser, subscription) = subscriber_at_the_limit(&world).await;
    // Amazon's calendar month already holds the checkout's ¥100,000.
    let cycles = world.run_subscriptions(next_cycle(&subscription)).await;
    assert_eq!(cycles[0].status, "card_unsettled");
    let newest = browser.orders().await.remove(0);
    assert_eq!(newest["creditStatus"], "カード未決済");
    let note = newest["note"].as_str().unwrap();
    assert!(note.contains("PeriodicAmountExceeded") && note.contains(OFFER_ANOTHER_METHOD), "{note}");
    let permission = world.charge_permission(subscription["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(permission["limits"]["amountBalance"], yen(0), "no second charge this month");
}

#[tokio::test]
async fn a_cycle_in_a_month_already_at_the_limit_is_refused_before_asking_amazon() {
    let world = World::start().await;
    let (browser, subscription) = subscriber_at_the_limit(&world).await;
    world.advance_amazon_clock(seconds_into_next_japanese_month()).await;
    let date = next_cycle(&subscription);
    assert_eq!(world.run_subscriptions(date).await[0].status, "authorized");
    // A second cycle dated in the same month (the schedule moved by the shop owner).
    let active = world.store.due_subscriptions("9999-12-31").unwrap();
    let id = active.iter().find(|s| s.charge_permission_id == subscription["chargePermissionId"]).unwrap().id;
    let again = another_day_of_the_month(date);
    world.store.set_next_cycle(id, &again.to_string()).unwrap();
    // Had the shop asked Amazon, every attempt of the command's client would fail and the cycle
    // would stay `processing`, to be retried.
    let attempts = Retry::default().attempts;
    world.amazon_control("faults", json!({ "status": 503, "count": attempts })).await;
    let cycles = world.run_subscriptions(again).await;
    world.amazon_control("faults", json!({ "status": 503, "count": 0 })).await;
    assert_eq!(cycles[0].status, "card_unsettled", "{cycles:?}");
    let newest = browser.orders().await.remove(0);
    assert_eq!(newest["creditStatus"], "カード未決済");
    assert!(newest["note"].as_str().unwrap().contains(OFFER_ANOTHER_METHOD));
}
