//! The shop server's HTTP surface driven in-process through the real router (no sockets): a
//! shop's folders and settings, its database, and a browser that keeps the session cookie and
//! the CSRF token the API hands out.
//!
//! Amazon itself is a dead port here, so that no test can reach whatever listens on the demo's
//! default simulator address; the flows through the simulator are in `member_flows.rs` and the
//! `checkout_*` tests.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use url::Url;

use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::signature::string_to_sign;
use amazonpay2::core::platform::CartId;
use amazonpay2::core::{Core, Retry};
use amazonpay2::server::config::Config;
use amazonpay2::server::shops::Shops;
use amazonpay2::server::{self, app};
use amazonpay2::storage::{Database, SessionChange};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

pub const TEST_KEY_PEM: &str = include_str!("../fixtures/test_key_pkcs8.pem");
pub const ALGORITHM: &str = "AMZN-PAY-RSASSA-PSS-V2";
/// The demo's shop origin: `http://` + the default `AMAZONPAY2_LISTEN`.
pub const DEMO_ORIGIN: &str = "http://127.0.0.1:8080";
pub const PRODUCTION_ORIGIN: &str = "https://shop.example";
pub const FOREIGN_ORIGIN: &str = "https://evil.example";
pub const CSRF_HEADER: &str = "x-amazonpay2-csrf";
pub const SESSION_COOKIE: &str = "amazonpay2_sid";
/// The session cookie's name on an https shop.
pub const SECURE_SESSION_COOKIE: &str = "__Host-amazonpay2_sid";
pub const SIGNIN_RETURN: &str = "/api/amazonpay2/signin/return";
pub const CHECKOUT_REVIEW: &str = "/api/amazonpay2/checkout/review";
pub const CHECKOUT_PLACE: &str = "/api/amazonpay2/checkout/place";
pub const CART: &str = "/api/amazonpay2/demo/cart";
/// Where Amazon's returns send a shopper whose cart no longer matches (or who has none).
pub const CART_CHANGED: &str = "/shopping/cart.html?amazonpay2=cart_changed";
/// The demo catalogue's first product, a one-time purchase (益子焼 マグカップ).
pub const MUG: i64 = 1;
pub const SIGNUP: &str = "/api/amazonpay2/demo/signup";
pub const LOGIN: &str = "/api/amazonpay2/demo/login";
pub const LOGOUT: &str = "/api/amazonpay2/demo/logout";
pub const PREFILL: &str = "/api/amazonpay2/signup/prefill";
/// Every demo member's password in these tests.
pub const PASSWORD: &str = "correct horse battery";
pub const DEMO_KEY_FILE: &str = "demo-private-key.pem";
/// Marker text of the file placed beside (not inside) the served folders.
pub const SECRET: &str = "TOP-SECRET-OUTSIDE-WWW";

/// A page with one block of each kind, in this order.
pub const EVERY_KIND: &[(&str, &str, &str)] =
    &[("checkout", "Cart", "Gold"), ("login", "Home", "LightGray"), ("mypage", "Other", "DarkGray")];

/// A temporary folder tree `www/`, `widget/`, `data/`, removed when dropped.
pub struct Dirs {
    pub root: PathBuf,
}

impl Dirs {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "amazonpay2-server-api-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let dirs = Self { root };
        write(&dirs.www().join("index.html"), b"<!doctype html><title>shop top</title>TOP-PAGE");
        write(&dirs.www().join("mypage/index.html"), b"<!doctype html><title>mypage</title>MY-PAGE");
        write(&dirs.widget().join("widget.js"), b"/* widget loader */");
        write(&dirs.widget().join("amazonpay2_bg.wasm"), b"\0asm\x01\0\0\0");
        write(&dirs.data().join(DEMO_KEY_FILE), TEST_KEY_PEM.as_bytes());
        write(&dirs.root.join("secret.txt"), SECRET.as_bytes());
        dirs
    }

    pub fn www(&self) -> PathBuf {
        self.root.join("www")
    }

    pub fn widget(&self) -> PathBuf {
        self.root.join("widget")
    }

    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The folder settings every shop gets, before its own.
    pub fn vars(&self) -> Vec<(String, String)> {
        [("AMAZONPAY2_WWW", self.www()), ("AMAZONPAY2_WIDGET", self.widget()), ("AMAZONPAY2_DATA", self.data())]
            .into_iter()
            .map(|(name, path)| (name.to_owned(), path.display().to_string()))
            .chain([("AMAZONPAY2_API_BASE".to_owned(), dead_amazon().to_owned())])
            .collect()
    }
}

/// An address where nothing listens (bound once, then released): Amazon, unreachable.
pub fn dead_amazon() -> &'static str {
    static URL: LazyLock<String> = LazyLock::new(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    });
    &URL
}

/// Retries that cost milliseconds, not the default 1.4 s, against the dead Amazon.
pub const FAST_RETRY: Retry =
    Retry { attempts: 2, first_delay: Duration::from_millis(5), max_delay: Duration::from_millis(20) };

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn write(path: &Path, contents: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// The settings of a production shop (all four Amazon variables, an https origin, a LIVE key).
pub fn production_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AMAZONPAY2_MERCHANT_ID", "A1PRODUCTION0001"),
        ("AMAZONPAY2_STORE_ID", "amzn1.application-oa2-client.production0000000000000000"),
        ("AMAZONPAY2_PUBLIC_KEY_ID", "LIVE-PRODUCTIONKEY0000000000000"),
        ("AMAZONPAY2_PRIVATE_KEY", "/etc/shop/amazonpay2.pem"),
        ("AMAZONPAY2_SHOP_ORIGIN", PRODUCTION_ORIGIN),
    ]
}

/// One server: its router, origin, key, database and folders.
pub struct Shop {
    pub router: Router,
    pub origin: String,
    pub key: Arc<ShopKey>,
    pub db: Database,
    pub dirs: Dirs,
}

impl Shop {
    /// The demo: no Amazon settings, so demo defaults and the demo origin.
    pub async fn demo() -> Self {
        Self::with_vars(&[]).await
    }

    /// A production shop: demo endpoints must not exist.
    pub async fn production() -> Self {
        Self::with_vars(&production_vars()).await
    }

    pub async fn with_vars(vars: &[(&str, &str)]) -> Self {
        let dirs = Dirs::new();
        let config = config_for(&dirs, vars).expect("valid test configuration");
        Self::from_config(config, dirs).await
    }

    /// The shop `config` describes: the demo's catalogue and endpoints in a demo, neither in
    /// production.
    pub async fn from_config(config: Config, dirs: Dirs) -> Self {
        let origin = config.shop_origin.as_str().to_owned();
        let key = Arc::new(ShopKey::from_pem(TEST_KEY_PEM.as_bytes()).unwrap());
        let db = server::open_database(&config).await.expect("the database opens");
        let extra = if config.demo.is_some() {
            let (products, shipping) = amazonpay2::demo::catalogue();
            db.seed_catalogue(&products, &shipping).await.unwrap();
            amazonpay2::demo::routes()
        } else {
            Router::new()
        };
        let core = Core::new(config.core_settings(), key.clone(), &config.api_base, db.clone())
            .unwrap()
            .with_retry(FAST_RETRY);
        let state = server::assemble(config, core, db.clone()).await.expect("the server starts");
        let shops = Arc::new(Shops::new(state).await.expect("the shops are read"));
        Self { router: app(shops, extra), origin, key, db, dirs }
    }

    /// Whether the member with `email` exists, and the Amazon buyer linked to them.
    pub async fn member_link(&self, email: &str) -> Option<Option<String>> {
        self.db.member_by_email(email).await.unwrap().map(|member| member.buyer_id)
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Reply { status, headers, body }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(request(Method::GET, uri).body(Body::empty()).unwrap()).await
    }

    /// `POST /buttons` from the shop's page, without a session.
    pub async fn post_buttons(&self, content_type: &str, body: impl Into<Body>) -> Reply {
        let request = request(Method::POST, "/api/amazonpay2/buttons")
            .header(header::ORIGIN, &self.origin)
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap();
        self.send(request).await
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser { shop: self, cookie: None, csrf: None }
    }

    /// A shopper with a mug in the cart: their checkout block shows a button.
    pub async fn shopper(&self) -> Browser<'_> {
        let mut browser = self.browser();
        browser.fill_cart().await;
        browser
    }

    /// The checkout session bound to the cart of the session `cookie` (`name=s.<id>`).
    pub async fn bound_checkout_session(&self, cookie: &str) -> Option<String> {
        let id = cookie.split_once("=s.").map(|(_, id)| id)?;
        let cart = self.db.session(id).await.unwrap().and_then(|session| session.cart)?;
        self.db.cart(&cart).await.unwrap().and_then(|cart| cart.checkout.checkout_session_id)
    }

    /// How many rows `table` holds, read from the database file as an operator would.
    pub fn rows(&self, table: &str) -> i64 {
        let connection = super::sockets::sqlite_beside_server(&self.dirs.data());
        connection.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0)).unwrap()
    }
}

/// The settings `vars` (over the folders') describe: the demo (as `--demo` starts it) when they
/// name none of the shop's Amazon settings, else the shop they describe, refused if incomplete.
pub fn config_for(dirs: &Dirs, vars: &[(&str, &str)]) -> Result<Config, amazonpay2::server::config::ConfigError> {
    let mut all = dirs.vars();
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let amazon =
        ["AMAZONPAY2_MERCHANT_ID", "AMAZONPAY2_STORE_ID", "AMAZONPAY2_PUBLIC_KEY_ID", "AMAZONPAY2_PRIVATE_KEY"];
    let demo = !vars.iter().any(|(name, _)| amazon.contains(name));
    // Later entries win, so a test's own folder settings override the defaults above.
    Config::from_vars(demo, move |name| all.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

pub fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

/// A response, fully read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }

    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        self
    }

    /// Asserts the API's JSON error (`{"error":{"code","message"}}`) with `status` and returns its code.
    #[track_caller]
    pub fn api_error(&self, status: u16) -> String {
        self.assert_status(status);
        assert!(
            self.header(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("application/json")),
            "error content type: {:?}",
            self.header(header::CONTENT_TYPE)
        );
        let json = self.json();
        let code = json["error"]["code"].as_str().expect("error.code").to_owned();
        let message = json["error"]["message"].as_str().expect("error.message");
        assert!(
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "code {code:?} is not snake_case"
        );
        assert!(!message.is_empty());
        code
    }

    #[track_caller]
    pub fn assert_redirect_to(&self, expected: &str) {
        assert!(self.status.is_redirection(), "status {}: {}", self.status, self.text());
        assert_eq!(self.header(header::LOCATION), Some(expected));
    }

    /// Asserts a redirect to the shop page `path` carrying the widget notice `code` (Amazon's
    /// returns are top-level navigations: every outcome is a shop page, never an error page).
    #[track_caller]
    pub fn assert_notice(&self, path: &str, code: &str) {
        self.assert_redirect_to(&format!("{path}?amazonpay2={code}"));
    }

    /// The `redirect` of a demo endpoint's success.
    #[track_caller]
    pub fn redirect(&self) -> String {
        self.assert_status(200);
        self.json()["redirect"].as_str().expect("redirect").to_owned()
    }

    /// The views of a buttons answer.
    #[track_caller]
    pub fn views(&self) -> Vec<Value> {
        self.assert_status(200);
        self.json()["blocks"].as_array().expect("blocks").clone()
    }
}

/// A browser: keeps the session cookie and the CSRF token the API hands out.
pub struct Browser<'a> {
    pub shop: &'a Shop,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl Browser<'_> {
    /// Sends with the session cookie; remembers a new cookie and any `csrfToken` answered.
    pub async fn send(&mut self, mut request: Request<Body>) -> Reply {
        if let Some(cookie) = &self.cookie {
            request.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
        }
        let reply = self.shop.send(request).await;
        if let Some(set) = reply.header(header::SET_COOKIE) {
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        if let Some(token) = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|json| json["csrfToken"].as_str().map(str::to_owned))
        {
            self.csrf = Some(token);
        }
        reply
    }

    pub async fn get(&mut self, uri: &str) -> Reply {
        self.send(request(Method::GET, uri).body(Body::empty()).unwrap()).await
    }

    pub async fn buttons(&mut self, specs: &[(&str, &str, &str)]) -> Reply {
        let request = request(Method::POST, "/api/amazonpay2/buttons")
            .header(header::ORIGIN, &self.shop.origin)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(buttons_body(specs).to_string()))
            .unwrap();
        self.send(request).await
    }

    /// A state-changing request as the shop's page makes it: shop `Origin` and the CSRF token.
    /// Tests remove or replace headers on it to forge the refused variants.
    pub fn guarded(&self, method: Method, path: &str, json: Option<Value>) -> Request<Body> {
        let mut builder = request(method, path).header(header::ORIGIN, &self.shop.origin);
        if let Some(csrf) = &self.csrf {
            builder = builder.header(CSRF_HEADER, csrf);
        }
        match json {
            Some(json) => {
                builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(json.to_string())).unwrap()
            }
            None => builder.body(Body::empty()).unwrap(),
        }
    }

    /// Puts a mug in this shopper's cart, so that the checkout block shows a button: through the
    /// demo shop's cart API, or, in a production shop (no demo API: the cart platform fills its
    /// carts), straight into the database.
    pub async fn fill_cart(&mut self) {
        if self.cookie.is_none() {
            self.open_session().await;
        }
        if self.shop.origin == PRODUCTION_ORIGIN {
            let db = &self.shop.db;
            db.seed_catalogue(
                &[amazonpay2::storage::Product {
                    id: MUG, name: "マグカップ".into(), price: 2_750, recurring: false
                }],
                &[amazonpay2::core::platform::ShippingMethod {
                    id: 1,
                    name: "宅配便".into(),
                    fee: 880,
                    amazon_pay_allowed: true,
                }],
            )
            .await
            .unwrap();
            let cart: CartId = db.create_cart().await.unwrap();
            assert!(db.set_cart_item(&cart, MUG, 1).await.unwrap());
            self.store_session(SessionChange::Cart(cart)).await;
        } else {
            let request = self.guarded(Method::POST, CART, Some(json!({ "productId": MUG, "quantity": 1 })));
            let cart = self.send(request).await;
            cart.assert_status(200);
            assert_eq!(cart.json()["lines"][0]["productId"], MUG, "{}", cart.text());
        }
    }

    /// Starts a session (cookie and CSRF token) without rendering any button.
    pub async fn open_session(&mut self) {
        self.get("/api/amazonpay2/session").await.assert_status(200);
    }

    /// Posts to a demo member endpoint as the shop's page does. A success renews the session,
    /// so the page then fetches the new CSRF token, as `demo.js` does on the next page.
    pub async fn demo(&mut self, path: &str, body: Value) -> Reply {
        if self.cookie.is_none() {
            self.open_session().await;
        }
        let request = self.guarded(Method::POST, path, Some(body));
        let reply = self.send(request).await;
        if reply.status.is_success() {
            self.open_session().await;
        }
        reply
    }

    pub async fn sign_up(&mut self, form: Value) -> Reply {
        self.demo(SIGNUP, form).await
    }

    pub async fn log_in(&mut self, email: &str, password: &str) -> Reply {
        self.demo(LOGIN, json!({ "email": email, "password": password })).await
    }

    pub async fn log_out(&mut self) -> Reply {
        self.demo(LOGOUT, json!({})).await
    }

    /// Signs up a new member (which logs them in) and, for `linked`, links an Amazon account to
    /// them in the database, as a completed Amazon sign-in would. Returns the member's e-mail.
    pub async fn become_member(&mut self, linked: bool) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let email = format!("member{n}@example.jp");
        self.sign_up(sign_up_form(&email)).await.redirect();
        if linked {
            let member = self.shop.db.member_by_email(&email).await.unwrap().unwrap();
            let buyer = format!("amzn1.account.TESTBUYER{n}");
            self.shop.db.link(member.id, &buyer).await.unwrap().expect("a fresh member links");
        }
        let state = self.get("/api/amazonpay2/session").await.json()["member"].clone();
        assert_eq!(state["state"], "member");
        assert_eq!(state["linked"], linked);
        email
    }

    /// The session as the page sees it: `guest`, or the member's `linked` flag.
    pub async fn member_state(&mut self) -> String {
        let member = self.get("/api/amazonpay2/session").await.json()["member"].clone();
        match member["state"].as_str() {
            Some("member") => format!("member linked={}", member["linked"]),
            other => other.unwrap_or_default().to_owned(),
        }
    }

    pub async fn unlink(&mut self) -> Reply {
        let request = self.guarded(Method::DELETE, "/api/amazonpay2/link", None);
        self.send(request).await
    }

    /// The view of one block of `kind`.
    pub async fn view_of(&mut self, kind: &str) -> Value {
        self.buttons(&[(kind, "Other", "Gold")]).await.views().remove(0)
    }

    /// The signed config of a click of the `kind` button, from the page `referer` (or none).
    pub async fn sign(&mut self, kind: &str, referer: Option<&str>) -> Reply {
        if self.csrf.is_none() {
            self.buttons(&[(kind, "Other", "Gold")]).await;
        }
        let mut request = self.guarded(Method::POST, "/api/amazonpay2/buttons/sign", Some(json!({ "kind": kind })));
        if let Some(referer) = referer {
            request.headers_mut().insert(header::REFERER, referer.parse().unwrap());
        }
        self.send(request).await
    }

    /// The signed config of a click of the `kind` button (it must sign).
    pub async fn signed(&mut self, kind: &str) -> Value {
        let reply = self.sign(kind, None).await;
        reply.assert_status(200);
        let answer = reply.json();
        match answer["productType"].as_str() {
            Some("PayAndShip") => answer["createCheckoutSessionConfig"].clone(),
            _ => answer["signInConfig"].clone(),
        }
    }

    /// The session's signed sign-in return URL: the login button's for a guest, the link
    /// button's for an unlinked member.
    pub async fn sign_in_return_url(&mut self) -> Url {
        let kind = if self.member_state().await == "guest" { "login" } else { "mypage" };
        let config = self.signed(kind).await;
        let payload: Value = serde_json::from_str(config["payloadJSON"].as_str().expect("a sign-in button")).unwrap();
        Url::parse(payload["signInReturnUrl"].as_str().unwrap()).unwrap()
    }

    /// Binds checkout session `id` to this shopper's cart, as a review return Amazon confirmed
    /// would (this harness's Amazon is unreachable).
    pub async fn bind_checkout(&mut self, id: &str) {
        let cookie = self.cookie.clone().expect("a session");
        let session = cookie.split_once("=s.").map(|(_, id)| id.to_owned()).expect("a stored session");
        let cart = self.shop.db.session(&session).await.unwrap().and_then(|s| s.cart).expect("a cart");
        self.shop.db.begin_checkout(&cart, "test-ref").await.unwrap();
        assert!(self.shop.db.bind_checkout(&cart, "test-ref", id).await.unwrap());
    }

    /// Stores the session (as a cart or a sign-in would) with `change`.
    pub async fn store_session(&mut self, change: SessionChange) {
        let (name, id) = self
            .cookie
            .as_deref()
            .and_then(|c| c.split_once('='))
            .map(|(name, v)| (name.to_owned(), v[2..].to_owned()))
            .expect("a session");
        let session = amazonpay2::storage::SessionRecord {
            id: id.clone(),
            member: None,
            cart: None,
            pending_buyer: None,
            return_to: None,
            last_seen: time::OffsetDateTime::now_utc().unix_timestamp(),
        };
        if !self.shop.db.update_session(&id, &change).await.unwrap() {
            self.shop.db.insert_session(&session).await.unwrap();
            self.shop.db.update_session(&id, &change).await.unwrap();
        }
        self.cookie = Some(format!("{name}=s.{id}"));
    }

    /// This session's sign-in `state`, as signed into its return URL.
    pub async fn sign_in_state(&mut self) -> String {
        query_value(&self.sign_in_return_url().await, "state").expect("state in the return URL")
    }
}

/// A complete, valid sign-up form for `email`.
pub fn sign_up_form(email: &str) -> Value {
    json!({
        "email": email,
        "password": PASSWORD,
        "familyName": "山田",
        "givenName": "太郎",
        "familyKana": "ヤマダ",
        "givenKana": "タロウ",
        "postalCode": "153-0064",
        "prefecture": "東京都",
        "address1": "目黒区下目黒1-8-1",
        "address2": "アルコタワー 5F",
        "phone": "03-1234-5678",
    })
}

/// `form` with `field` set to `value` (`Value::Null` removes it).
pub fn with_field(mut form: Value, field: &str, value: Value) -> Value {
    let map = form.as_object_mut().unwrap();
    match value {
        Value::Null => map.remove(field),
        value => map.insert(field.to_owned(), value),
    };
    form
}

pub fn buttons_body(specs: &[(&str, &str, &str)]) -> Value {
    let blocks: Vec<Value> = specs
        .iter()
        .map(|(kind, placement, color)| json!({ "kind": kind, "placement": placement, "buttonColor": color }))
        .collect();
    json!({ "blocks": blocks })
}

pub fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `path?k=v&…`, form-encoded.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{path}?{query}")
}

pub fn view_name(view: &Value) -> &str {
    view["view"].as_str().expect("view tag")
}

#[track_caller]
pub fn assert_signature_verifies(config: &Value, key: &ShopKey) {
    assert_eq!(config["algorithm"], ALGORITHM);
    let payload = config["payloadJSON"].as_str().expect("payloadJSON");
    let signature = BASE64.decode(config["signature"].as_str().expect("signature")).expect("base64");
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, key.public_key_der())
        .verify(string_to_sign(ALGORITHM, payload).as_bytes(), &signature)
        .unwrap_or_else(|_| panic!("signature does not verify over {payload}"));
}

/// Every string in `value` that is, or is named as, a URL.
pub fn urls_in(value: &Value, key: &str, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains("://") || s.starts_with('/') || key.to_ascii_lowercase().ends_with("url") => {
            out.push(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|item| urls_in(item, key, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| urls_in(v, k, out)),
        _ => {}
    }
}

/// The `Set-Cookie` attributes, lower-cased.
pub fn cookie_attributes(reply: &Reply) -> Vec<String> {
    let cookie = reply.header(header::SET_COOKIE).expect("a session cookie is set");
    let named = [SESSION_COOKIE, SECURE_SESSION_COOKIE].iter().any(|name| cookie.starts_with(&format!("{name}=")));
    assert!(named, "{cookie}");
    cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}
