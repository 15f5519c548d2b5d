//! Amazon sign-in, sign-up prefill, My Page link and unlink, end to end over real HTTP: the shop
//! server and the Amazon Pay simulator each on their own loopback port (two origins, as in
//! production), the shop's database in a folder of its own, and one cookie-keeping client per
//! browser that does not follow redirects, so that every hop can be checked.
//!
//! Buttons are clicked as checkout.js does (the signed form posted to the simulator's
//! `/checkout/initiate`), a test buyer is chosen on the simulator's sign-in page, and the
//! simulator's redirect back to the shop is followed by hand. The shop asks the simulator's API
//! (getBuyer) who signed in, with signed requests, as it asks Amazon in production.

use std::sync::Arc;

use axum::http::header;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use url::Url;

use crate::common::sim::TEST_KEY_PEM;
use crate::common::sockets::{
    Answer, Browser, DataDir, RETRY, ShopServer, TwoOrigins, button_form, cookie_client, simulator_control,
};
use crate::common::text::between;
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::server::config::Config;
use amazonpay2::storage::Database;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const PASSWORD: &str = "correct horse battery";

/// The simulator's test buyers, by their radio value on its sign-in page.
const TARO: usize = 0;
const HANAKO: usize = 1;
const ICHIRO: usize = 2;
const TARO_EMAIL: &str = "taro.yamada@example.jp";

/// Where a new shopper lands after an Amazon sign-in.
const SIGNUP_PREFILLED: &str = "/member/signup.html?amazonpay2=signup_prefilled";

/// What the sign-up form gets from each test buyer's Amazon account: the name split into 姓 and
/// 名, 〒 as `NNN-NNNN`, the building line as it is, and no フリガナ (Amazon has none).
fn expected_prefill(buyer: usize) -> Value {
    let [family, given, email, postal, prefecture, line1, line2, phone] = [
        ["山田", "太郎", TARO_EMAIL, "153-0064", "東京都", "目黒区下目黒1-8-1", "アルコタワー 5F", "0312345678"],
        ["佐藤", "花子", "hanako.sato@example.jp", "530-0001", "大阪府", "大阪市北区梅田3-1-1", "", "0612345678"],
        [
            "鈴木",
            "一郎",
            "ichiro.suzuki@example.jp",
            "060-0001",
            "北海道",
            "札幌市中央区北一条西2-1",
            "時計台ビル 3F",
            "0111234567",
        ],
    ][buyer];
    json!({
        "familyName": family, "givenName": given, "email": email, "postalCode": postal,
        "prefecture": prefecture, "address1": line1, "address2": line2, "phone": phone,
    })
}

/// The sign-up form as the shopper sends it after the prefill: the prefill, their フリガナ and a
/// password.
fn completed(prefill: &Value) -> Value {
    let mut form = prefill.clone();
    let map = form.as_object_mut().expect("a prefill object");
    for (field, value) in [("familyKana", "ヤマダ"), ("givenKana", "タロウ"), ("password", PASSWORD)] {
        map.insert(field.to_owned(), json!(value));
    }
    form
}

/// A sign-up form of someone who never used Amazon here.
fn own_form(email: &str) -> Value {
    let mut form = completed(&expected_prefill(HANAKO));
    form["email"] = json!(email);
    form
}

/// A loopback address nobody listens on (bound, then released).
fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// The shop and Amazon (the simulator, trusting the shop's key), on two loopback ports.
struct World {
    shop: String,
    amazon: String,
    config: Config,
    key: Arc<ShopKey>,
    server: Option<ShopServer>,
    _data: DataDir,
}

impl World {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Amazon's pages work but its API is unreachable: the shop's API base is a dead port.
    async fn without_amazon_api() -> Self {
        Self::start_with(Some(format!("http://{}", dead_address()))).await
    }

    async fn start_with(api_base: Option<String>) -> Self {
        let vars = api_base.map(|base| ("AMAZONPAY2_API_BASE", base)).into_iter().collect();
        let TwoOrigins { shop, amazon, config, key, shop_listener, data } =
            TwoOrigins::start(DataDir::new("member-flows"), vars, |_| {
                ShopKey::from_pem(TEST_KEY_PEM.as_bytes()).unwrap()
            })
            .await;
        let server = ShopServer::start(&config, &key, shop_listener).await;
        Self { shop, amazon, config, key, server: Some(server), _data: data }
    }

    /// Stops the shop server and starts a new one on the same address and data folder.
    async fn restart_shop(&mut self) {
        self.server.take().expect("running").stop().await;
        let listener = TcpListener::bind(self.config.listen).await.expect("the address is free again");
        self.server = Some(ShopServer::start(&self.config, &self.key, listener).await);
    }

    fn db(&self) -> &Database {
        &self.server.as_ref().expect("running").db
    }

    /// The Amazon buyer linked to the member with `email` (`None`: no link, or no member).
    async fn link_of(&self, email: &str) -> Option<String> {
        self.db().member_by_email(email).await.unwrap().and_then(|member| member.buyer_id)
    }

    /// The e-mail of the member linked to `buyer_id`.
    async fn member_of(&self, buyer_id: &str) -> Option<String> {
        self.db().member_by_buyer(buyer_id).await.unwrap().map(|member| member.email)
    }

    /// A test control of the simulator (`faults`, `clock`).
    async fn amazon_control(&self, control: &str, body: Value) {
        simulator_control(&self.amazon, control, body).await;
    }

    /// A new browser with no cookies.
    fn browser(&self) -> Browser {
        let http = cookie_client()
            // A new connection per request, so that a restarted server is reached at once.
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Browser { shop: self.shop.clone(), amazon: self.amazon.clone(), http }
    }
}

/// What this file's shoppers do in their browser.
impl Browser {
    async fn get_json(&self, path: &str) -> Value {
        let reply = self.http.get(self.api(path)).header(header::ORIGIN, &self.shop).send().await.unwrap();
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.unwrap()
    }

    /// Who the shop thinks this browser is: `guest`, or `member linked=…`.
    async fn member(&self) -> String {
        let member = self.get_json("/session").await["member"].clone();
        match member["state"].as_str() {
            Some("member") => format!("member linked={}", member["linked"]),
            other => other.unwrap_or_default().to_owned(),
        }
    }

    /// The Amazon details waiting for sign-up, or `null`.
    async fn prefill(&self) -> Value {
        self.get_json("/signup/prefill").await
    }

    /// The widget on the shop page `page` asks for one block of each of `kinds`.
    async fn views(&self, page: &str, kinds: &[&str]) -> Vec<Value> {
        let block = |kind: &&str| json!({ "kind": kind, "placement": "Other", "buttonColor": "Gold" });
        let blocks: Vec<Value> = kinds.iter().map(block).collect();
        let reply = self
            .http
            .post(self.api("/buttons"))
            .header(header::ORIGIN, &self.shop)
            .header(header::REFERER, format!("{}{page}", self.shop))
            .json(&json!({ "blocks": blocks }))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "buttons: {}", reply.status());
        reply.json::<Value>().await.unwrap()["blocks"].as_array().unwrap().clone()
    }

    /// What the login and mypage blocks show, e.g. `["nothing", "linked"]`.
    async fn login_and_mypage(&self) -> [String; 2] {
        let views = self.views("/mypage/", &["login", "mypage"]).await;
        [0, 1].map(|i| views[i]["view"].as_str().unwrap().to_owned())
    }

    /// Posts to a demo member endpoint as the shop's pages do: shop origin, session, CSRF token.
    async fn demo(&self, action: &str, body: Value) -> Answer {
        let token = self.get_json("/session").await["csrfToken"].as_str().unwrap().to_owned();
        let reply = self
            .http
            .post(self.api(&format!("/demo/{action}")))
            .header(header::ORIGIN, &self.shop)
            .header("x-amazonpay2-csrf", token)
            .json(&body)
            .send()
            .await
            .unwrap();
        Answer { status: reply.status().as_u16(), json: reply.json().await.unwrap() }
    }

    async fn sign_up(&self, form: Value) -> Answer {
        self.demo("signup", form).await
    }

    async fn log_in(&self, email: &str, password: &str) -> Answer {
        self.demo("login", json!({ "email": email, "password": password })).await
    }

    async fn log_out(&self) {
        assert_eq!(self.demo("logout", json!({})).await.redirect(), "/");
        assert_eq!(self.member().await, "guest");
    }

    async fn unlink(&self) -> Answer {
        let token = self.get_json("/session").await["csrfToken"].as_str().unwrap().to_owned();
        let reply = self
            .http
            .delete(self.api("/link"))
            .header(header::ORIGIN, &self.shop)
            .header("x-amazonpay2-csrf", token)
            .send()
            .await
            .unwrap();
        Answer { status: reply.status().as_u16(), json: reply.json().await.unwrap() }
    }

    /// On the shop page `page`, clicks the Amazon button of the `kind` block as checkout.js
    /// does, picks `buyer` on Amazon's sign-in page and presses 続行; returns where Amazon sends
    /// the browser back to (not yet followed).
    async fn through_amazon(&self, page: &str, kind: &str, buyer: usize) -> Url {
        let (options, config) = self.signed_button(page, kind).await;
        assert_eq!(options["productType"], "SignIn", "{kind} shows a sign-in button: {options}");
        let form = button_form(&options, &config, "SignIn");
        let page = self.post_to_amazon("/checkout/initiate", &form).await;
        assert!(page.status().is_success(), "Amazon refused the button: {}", page.text().await.unwrap());
        let html = page.text().await.unwrap();
        let flow = between(&html, "name=\"flow\" value=\"", "\"").expect("Amazon's sign-in page");
        let choice = [("flow", flow), ("buyer", buyer.to_string())];
        let back = self.post_to_amazon("/checkout/continue", &choice).await;
        assert_eq!(back.status().as_u16(), 303);
        let location = back.headers()[header::LOCATION].to_str().unwrap();
        let url = Url::parse(location).unwrap();
        assert!(url.as_str().starts_with(&self.api("/signin/return?")), "{url}");
        url
    }

    async fn post_to_amazon(&self, path: &str, form: &[(&str, String)]) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.amazon)).form(form).send().await.unwrap()
    }

    /// Signs in with Amazon as `buyer` through the `kind` block on `page`; returns where the
    /// shop sends the browser.
    async fn sign_in_with_amazon(&self, page: &str, kind: &str, buyer: usize) -> String {
        let url = self.through_amazon(page, kind, buyer).await;
        self.arrive(&url).await
    }

    /// This browser's current sign-in return URL (the login or link button's), with `token` as
    /// Amazon's buyer token.
    async fn return_url_with(&self, kind: &str, token: &str) -> Url {
        let (_, config) = self.signed_button("/", kind).await;
        let payload: Value = serde_json::from_str(config["payloadJSON"].as_str().unwrap()).unwrap();
        let mut url = Url::parse(payload["signInReturnUrl"].as_str().unwrap()).unwrap();
        url.query_pairs_mut().append_pair("buyerToken", token);
        url
    }
}

fn query_value(url: &Url, name: &str) -> String {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// `url` with its `name` parameter set to `value`.
fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name { value.to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    let mut changed = url.clone();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

/// A guest who signs in with Amazon as `buyer` on the top page and completes the prefilled
/// sign-up: a member, logged in, linked.
async fn member_via_amazon(world: &World, buyer: usize) -> Browser {
    let browser = world.browser();
    assert_eq!(browser.sign_in_with_amazon("/", "login", buyer).await, SIGNUP_PREFILLED);
    let prefill = browser.prefill().await;
    assert_eq!(browser.sign_up(completed(&prefill)).await.redirect(), "/?amazonpay2=linked");
    browser
}

/// A member who signed up with `email` and a password, without Amazon: logged in, not linked.
async fn member_without_amazon(world: &World, email: &str) -> Browser {
    let browser = world.browser();
    assert_eq!(browser.sign_up(own_form(email)).await.redirect(), "/mypage/");
    assert_eq!(browser.member().await, "member linked=false");
    browser
}

// ---------------------------------------------------------------------------------------------
// A new shopper: Amazon sign-in, prefilled sign-up, linked
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guests_amazon_sign_in_lands_on_sign_up_filled_with_the_amazon_details() {
    let world = World::start().await;
    let browser = world.browser();
    let landing = browser.sign_in_with_amazon("/", "login", TARO).await;
    assert_eq!(landing, SIGNUP_PREFILLED);
    assert_eq!(browser.prefill().await, expected_prefill(TARO), "姓/名 split, 〒 NNN-NNNN, no フリガナ");
    assert_eq!(browser.member().await, "guest", "nobody is logged in before sign-up");
    assert_eq!(world.link_of(TARO_EMAIL).await, None, "no member was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefill_holds_the_buyer_chosen_on_amazons_page() {
    let world = World::start().await;
    for buyer in [HANAKO, ICHIRO] {
        let browser = world.browser();
        browser.sign_in_with_amazon("/", "login", buyer).await;
        assert_eq!(browser.prefill().await, expected_prefill(buyer), "buyer {buyer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_the_prefilled_sign_up_links_the_amazon_account_and_logs_in() {
    let world = World::start().await;
    let browser = member_via_amazon(&world, TARO).await;
    assert_eq!(browser.member().await, "member linked=true");
    assert_eq!(browser.login_and_mypage().await, ["nothing", "linked"]);
    let buyer_id = world.link_of(TARO_EMAIL).await.expect("linked in the database");
    assert!(buyer_id.starts_with("amzn1.account."), "{buyer_id}");
    assert_eq!(browser.prefill().await, Value::Null, "the Amazon details are used up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_with_another_email_links_only_when_the_member_says_so() {
    let world = World::start().await;
    // Amazon verified TARO's e-mail; the shopper signs up with another one and does not tick the link.
    let browser = world.browser();
    browser.sign_in_with_amazon("/", "login", TARO).await;
    let mut form = completed(&browser.prefill().await);
    form["email"] = json!("someone.else@example.jp");
    let redirect = browser.sign_up(form).await.redirect();
    assert!(redirect.ends_with("amazonpay2=link_not_confirmed"), "{redirect}");
    assert_eq!(browser.member().await, "member linked=false");
    assert_eq!(world.link_of("someone.else@example.jp").await, None);
    // Another shopper ticks 「Amazon アカウントと連携する」: the link is theirs.
    let other = world.browser();
    other.sign_in_with_amazon("/", "login", HANAKO).await;
    let mut form = completed(&other.prefill().await);
    form["email"] = json!("hanako.other@example.jp");
    form["linkAmazon"] = json!(true);
    assert!(other.sign_up(form).await.redirect().ends_with("amazonpay2=linked"));
    assert!(world.link_of("hanako.other@example.jp").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amazon_account_waiting_to_be_linked_is_gone_after_logout_and_links_nobody_next() {
    let world = World::start().await;
    let browser = world.browser();
    browser.sign_in_with_amazon("/", "login", TARO).await;
    assert_ne!(browser.prefill().await, Value::Null);
    browser.demo("logout", json!({})).await.redirect();
    assert_eq!(browser.prefill().await, Value::Null, "the next person at this device gets nothing of it");
    // The next person signs up (with TARO's e-mail, even): nothing is linked to them.
    let taro = completed(&expected_prefill(TARO));
    assert!(!browser.sign_up(taro).await.redirect().contains("linked"));
    assert_eq!(world.link_of(TARO_EMAIL).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_member_who_logged_out_signs_in_with_amazon_and_returns_to_the_page() {
    let world = World::start().await;
    let browser = member_via_amazon(&world, TARO).await;
    browser.log_out().await;
    let landing = browser.sign_in_with_amazon("/shopping/login.html", "login", TARO).await;
    assert_eq!(landing, "/shopping/login.html?amazonpay2=signed_in");
    assert_eq!(browser.member().await, "member linked=true");
    assert_eq!(browser.login_and_mypage().await, ["nothing", "linked"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amazon_sign_in_logs_in_the_linked_member_in_any_browser() {
    let world = World::start().await;
    member_via_amazon(&world, TARO).await;
    let elsewhere = world.browser();
    assert_eq!(elsewhere.sign_in_with_amazon("/", "login", TARO).await, "/?amazonpay2=signed_in");
    assert_eq!(elsewhere.member().await, "member linked=true");
    let stranger = world.browser();
    let landing = stranger.sign_in_with_amazon("/", "login", HANAKO).await;
    assert_eq!(landing, SIGNUP_PREFILLED, "another Amazon account is new here");
}

// ---------------------------------------------------------------------------------------------
// A member with the same e-mail: never merged by e-mail alone
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amazon_email_matching_a_member_does_not_log_that_member_in() {
    let world = World::start().await;
    member_without_amazon(&world, TARO_EMAIL).await;
    let browser = world.browser();
    let landing = browser.sign_in_with_amazon("/", "login", TARO).await;
    assert_eq!(landing, "/member/login.html?amazonpay2=email_exists");
    assert_eq!(browser.member().await, "guest");
    assert_eq!(world.link_of(TARO_EMAIL).await, None, "nothing linked by e-mail alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_is_made_only_after_a_correct_password_login() {
    let world = World::start().await;
    let owner = member_without_amazon(&world, TARO_EMAIL).await;
    let browser = world.browser();
    browser.sign_in_with_amazon("/", "login", TARO).await;
    assert_eq!(browser.log_in(TARO_EMAIL, "wrong password").await.error(401), "login_failed");
    assert_eq!(browser.member().await, "guest");
    assert_eq!(world.link_of(TARO_EMAIL).await, None, "a wrong password links nothing");
    let redirect = browser.log_in(TARO_EMAIL, PASSWORD).await.redirect();
    assert!(redirect.ends_with("amazonpay2=linked"), "{redirect}");
    assert_eq!(browser.member().await, "member linked=true");
    assert!(world.link_of(TARO_EMAIL).await.is_some());
    assert_eq!(owner.member().await, "member linked=true", "the member's other session sees it too");
    browser.log_out().await;
    assert_eq!(browser.sign_in_with_amazon("/", "login", TARO).await, "/?amazonpay2=signed_in");
}

// ---------------------------------------------------------------------------------------------
// Where a password login lands
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_login_after_email_exists_does_not_return_to_the_login_page() {
    let world = World::start().await;
    member_without_amazon(&world, TARO_EMAIL).await;
    let browser = world.browser();
    let landing = browser.sign_in_with_amazon("/", "login", TARO).await;
    assert_eq!(landing, "/member/login.html?amazonpay2=email_exists");
    // The login page shows, with its own login block, as the widget renders it.
    browser.views("/member/login.html", &["notice", "login"]).await;
    let redirect = browser.log_in(TARO_EMAIL, PASSWORD).await.redirect();
    assert!(redirect.ends_with("amazonpay2=linked"), "{redirect}");
    // Back where the Amazon sign-in started (`/`), or My Page; not the login form again.
    assert!(!redirect.starts_with("/member/"), "{redirect}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_login_on_the_login_page_does_not_return_to_the_login_page() {
    let world = World::start().await;
    member_without_amazon(&world, "member@example.jp").await;
    let browser = world.browser();
    browser.views("/member/login.html", &["notice", "login"]).await;
    let redirect = browser.log_in("member@example.jp", PASSWORD).await.redirect();
    assert_eq!(redirect, "/mypage/", "a logged-in member is not sent back to the login form");
}

// ---------------------------------------------------------------------------------------------
// My Page: link and unlink
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_page_links_a_member_without_a_link() {
    let world = World::start().await;
    let browser = member_without_amazon(&world, "member@example.jp").await;
    assert_eq!(browser.login_and_mypage().await, ["nothing", "button"]);
    let url = browser.through_amazon("/mypage/", "mypage", HANAKO).await;
    assert_eq!(query_value(&url, "intent"), "link");
    assert_eq!(browser.arrive(&url).await, "/mypage/?amazonpay2=linked");
    assert_eq!(browser.login_and_mypage().await, ["nothing", "linked"]);
    let buyer_id = world.link_of("member@example.jp").await.expect("linked in the database");
    assert_eq!(world.member_of(&buyer_id).await.as_deref(), Some("member@example.jp"));
    browser.log_out().await;
    assert_eq!(browser.sign_in_with_amazon("/", "login", HANAKO).await, "/?amazonpay2=signed_in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_removes_the_link_and_brings_the_link_button_back() {
    let world = World::start().await;
    let browser = member_via_amazon(&world, TARO).await;
    let answer = browser.unlink().await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["member"]["linked"], false);
    assert_eq!(world.link_of(TARO_EMAIL).await, None, "the database link is gone");
    assert_eq!(browser.login_and_mypage().await, ["nothing", "button"]);
    browser.log_out().await;
    let landing = browser.sign_in_with_amazon("/", "login", TARO).await;
    assert_eq!(landing, "/member/login.html?amazonpay2=email_exists", "Amazon no longer logs the member in");
}

// ---------------------------------------------------------------------------------------------
// Links refused
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_an_amazon_account_linked_to_another_member_is_refused() {
    let world = World::start().await;
    member_via_amazon(&world, TARO).await;
    let taro_buyer = world.link_of(TARO_EMAIL).await.unwrap();
    let other = member_without_amazon(&world, "other@example.jp").await;
    assert_eq!(other.sign_in_with_amazon("/mypage/", "mypage", TARO).await, "/mypage/?amazonpay2=buyer_taken");
    assert_eq!(other.member().await, "member linked=false");
    assert_eq!(world.link_of("other@example.jp").await, None);
    assert_eq!(world.member_of(&taro_buyer).await.as_deref(), Some(TARO_EMAIL), "the owner keeps the link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_a_second_amazon_account_is_refused() {
    let world = World::start().await;
    // One member, logged in in two browsers; both show the link button.
    let first = member_without_amazon(&world, "member@example.jp").await;
    let second = world.browser();
    second.log_in("member@example.jp", PASSWORD).await.redirect();
    let pending = second.through_amazon("/mypage/", "mypage", ICHIRO).await;
    assert_eq!(first.sign_in_with_amazon("/mypage/", "mypage", HANAKO).await, "/mypage/?amazonpay2=linked");
    let hanako_buyer = world.link_of("member@example.jp").await.unwrap();
    assert_eq!(second.arrive(&pending).await, "/mypage/?amazonpay2=already_linked");
    assert_eq!(world.link_of("member@example.jp").await, Some(hanako_buyer), "the first link stays");
    let ichiro = world.browser();
    let landing = ichiro.sign_in_with_amazon("/", "login", ICHIRO).await;
    assert_eq!(landing, SIGNUP_PREFILLED, "the second account is nobody's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_return_for_a_guest_asks_to_log_in_first() {
    let world = World::start().await;
    let browser = world.browser();
    let url = browser.through_amazon("/", "login", TARO).await;
    let link = with_param(&url, "intent", "link");
    assert_eq!(browser.arrive(&link).await, "/member/login.html?amazonpay2=login_required");
    assert_eq!(browser.member().await, "guest");
    assert_eq!(browser.prefill().await, Value::Null, "a link return prefills nothing");
}

// ---------------------------------------------------------------------------------------------
// Returns that are not this browser's own
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_state_is_refused_and_does_not_spend_the_real_return() {
    let world = World::start().await;
    member_via_amazon(&world, TARO).await;
    let browser = world.browser();
    let url = browser.through_amazon("/", "login", TARO).await;
    let state_shaped = "A".repeat(43);
    for forged in ["forged", "", state_shaped.as_str()] {
        let landing = browser.arrive(&with_param(&url, "state", forged)).await;
        assert_eq!(landing, "/?amazonpay2=return_refused", "{forged:?}");
        assert_eq!(browser.member().await, "guest");
    }
    assert_eq!(browser.arrive(&url).await, "/?amazonpay2=signed_in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_return_url_is_refused() {
    let world = World::start().await;
    let browser = member_via_amazon(&world, TARO).await;
    browser.log_out().await;
    let url = browser.through_amazon("/", "login", TARO).await;
    assert_eq!(browser.arrive(&url).await, "/?amazonpay2=signed_in");
    browser.log_out().await;
    assert_eq!(browser.arrive(&url).await, "/?amazonpay2=return_refused");
    assert_eq!(browser.member().await, "guest", "the replay logged nobody in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_return_opened_in_another_browser_logs_nobody_in() {
    let world = World::start().await;
    let attacker = member_via_amazon(&world, TARO).await;
    attacker.log_out().await;
    let url = attacker.through_amazon("/", "login", TARO).await;
    let victim = world.browser();
    assert_eq!(victim.member().await, "guest"); // the victim's own session
    assert_eq!(victim.arrive(&url).await, "/?amazonpay2=return_refused");
    assert_eq!(victim.member().await, "guest");
    let no_session = world.browser();
    assert_eq!(no_session.arrive(&url).await, "/?amazonpay2=return_refused");
    assert_eq!(no_session.member().await, "guest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_return_opened_in_another_members_browser_links_nothing() {
    let world = World::start().await;
    let attacker = member_without_amazon(&world, "attacker@example.jp").await;
    let url = attacker.through_amazon("/mypage/", "mypage", ICHIRO).await;
    let victim = member_without_amazon(&world, "victim@example.jp").await;
    assert_eq!(victim.arrive(&url).await, "/?amazonpay2=return_refused");
    assert_eq!(victim.member().await, "member linked=false");
    assert_eq!(world.link_of("victim@example.jp").await, None, "the attacker's Amazon account is not on the victim");
    assert_eq!(world.link_of("attacker@example.jp").await, None);
}

// ---------------------------------------------------------------------------------------------
// Buyer tokens Amazon refuses, and Amazon failing
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_buyer_token_is_refused() {
    let world = World::start().await;
    let browser = world.browser();
    let url = browser.through_amazon("/", "login", TARO).await;
    world.amazon_control("clock", json!({ "advanceSeconds": 660 })).await;
    assert_eq!(browser.arrive(&url).await, "/?amazonpay2=amazon_token_invalid");
    assert_eq!(browser.member().await, "guest");
    assert_eq!(browser.prefill().await, Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_buyer_token_is_refused() {
    let world = World::start().await;
    let browser = world.browser();
    let url = browser.through_amazon("/", "login", TARO).await;
    assert_eq!(browser.arrive(&url).await, SIGNUP_PREFILLED);
    // The same token again, under the session's new state: Amazon's tokens work once.
    let again = browser.return_url_with("login", &query_value(&url, "buyerToken")).await;
    assert_eq!(browser.arrive(&again).await, "/?amazonpay2=amazon_token_invalid");
    assert_eq!(browser.member().await, "guest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_token_amazon_never_issued_is_refused() {
    let world = World::start().await;
    let browser = world.browser();
    let url = browser.return_url_with("login", "amzn1.buyer.token.NEVERISSUED").await;
    assert_eq!(browser.arrive(&url).await, "/?amazonpay2=amazon_token_invalid");
    assert_eq!(browser.member().await, "guest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amazon_unreachable_is_reported_and_changes_nothing() {
    let world = World::without_amazon_api().await;
    let browser = world.browser();
    assert_eq!(browser.sign_in_with_amazon("/", "login", TARO).await, "/?amazonpay2=amazon_unavailable");
    assert_eq!(browser.member().await, "guest");
    assert_eq!(browser.prefill().await, Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amazon_failing_with_503_is_reported_and_the_shopper_can_try_again() {
    let world = World::start().await;
    let browser = world.browser();
    world.amazon_control("faults", json!({ "status": 503, "count": 10 })).await;
    assert_eq!(browser.sign_in_with_amazon("/", "login", TARO).await, "/?amazonpay2=amazon_unavailable");
    assert_eq!(browser.member().await, "guest");
    world.amazon_control("faults", json!({ "status": 503, "count": 0 })).await;
    let landing = browser.sign_in_with_amazon("/", "login", TARO).await;
    assert_eq!(landing, SIGNUP_PREFILLED, "Amazon is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_503_is_retried_and_the_sign_in_succeeds() {
    let world = World::start().await;
    let browser = world.browser();
    world.amazon_control("faults", json!({ "status": 503, "count": RETRY.attempts - 1 })).await;
    let landing = browser.sign_in_with_amazon("/", "login", TARO).await;
    assert_eq!(landing, SIGNUP_PREFILLED, "the last attempt got through");
}

// ---------------------------------------------------------------------------------------------
// The database
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_links_and_sessions_survive_a_restart() {
    let mut world = World::start().await;
    let browser = member_via_amazon(&world, TARO).await;
    world.restart_shop().await;
    assert_eq!(browser.member().await, "member linked=true", "the session is still there");
    assert!(world.link_of(TARO_EMAIL).await.is_some());
    browser.log_out().await;
    browser.log_in(TARO_EMAIL, PASSWORD).await.redirect();
    assert_eq!(browser.member().await, "member linked=true", "the member and the password too");
    browser.log_out().await;
    assert_eq!(browser.sign_in_with_amazon("/", "login", TARO).await, "/?amazonpay2=signed_in", "the link too");
}
