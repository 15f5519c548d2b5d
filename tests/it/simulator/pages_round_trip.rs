//! The whole round trip on real sockets: the shop server's own sign-in, link and checkout
//! buttons pass the simulator's checks, and the shop accepts their returns (in the browser that
//! clicked, not in another one).

use std::collections::HashMap;

use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use url::Url;

use crate::common::simulator_pages::*;
use amazonpay2::server::app;
use amazonpay2::server::config::Config;
use amazonpay2::simulator::{Simulator, SimulatorConfig};

/// The demo on two real sockets (shop and simulator, two origins), and a browser with cookies
/// that does not follow redirects, so that every hop can be checked.
struct Demo {
    shop: String,
    amazon: String,
    browser: reqwest::Client,
    csrf: String,
}

impl Demo {
    async fn start() -> Self {
        let shop_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let amazon_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let data = std::env::temp_dir().join(format!(
            "amazonpay2-pages-{}-{}",
            std::process::id(),
            shop_listener.local_addr().unwrap().port()
        ));
        let vars = HashMap::from([
            ("AMAZONPAY2_LISTEN", shop_listener.local_addr().unwrap().to_string()),
            ("AMAZONPAY2_SIMULATOR_LISTEN", amazon_listener.local_addr().unwrap().to_string()),
            ("AMAZONPAY2_WWW", concat!(env!("CARGO_MANIFEST_DIR"), "/www").to_owned()),
            ("AMAZONPAY2_DATA", data.display().to_string()),
        ]);
        let config = Config::from_vars(true, |name| vars.get(name).cloned()).unwrap();
        let simulator = Simulator::new(SimulatorConfig {
            merchant_id: config.amazon.merchant_id.clone(),
            store_id: config.amazon.store_id.clone(),
            public_key_id: config.amazon.public_key_id.clone(),
            public_key_der: shop_key().public_key_der().to_vec(),
            shop_origin: config.shop_origin.as_str().to_owned(),
        });
        let shop = config.shop_origin.as_str().to_owned();
        let amazon = format!("http://{}", amazon_listener.local_addr().unwrap());
        assert_eq!(config.checkout_js.as_str(), format!("{amazon}/checkout.js"));
        let db = amazonpay2::server::open_database(&config).await.unwrap();
        let (products, shipping) = amazonpay2::demo::catalogue();
        db.seed_catalogue(&products, &shipping).await.unwrap();
        let state = amazonpay2::server::start_with(config, shop_key(), db).await.unwrap();
        let shops = std::sync::Arc::new(amazonpay2::server::shops::Shops::new(state).await.unwrap());
        tokio::spawn(async move { axum::serve(shop_listener, app(shops, amazonpay2::demo::routes())).await });
        tokio::spawn(async move { axum::serve(amazon_listener, simulator.router()).await });
        Self { shop, amazon, browser: browser(), csrf: String::new() }
    }

    /// The shop page asks for one block of `kind` and gets its view.
    async fn view(&mut self, kind: &str) -> Value {
        let answer: Value = self
            .browser
            .post(format!("{}/api/amazonpay2/buttons", self.shop))
            .header(header::ORIGIN, &self.shop)
            .json(&json!({ "blocks": [{ "kind": kind, "placement": "Other", "buttonColor": "Gold" }] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.csrf = answer["csrfToken"].as_str().unwrap().to_owned();
        answer["blocks"][0].clone()
    }

    /// Puts a product in the cart through the demo shop's cart API (after a view: the session
    /// and its CSRF token), as the shop's product page does.
    async fn add_to_cart(&self, product: i64) {
        let reply = self
            .browser
            .post(format!("{}/api/amazonpay2/demo/cart", self.shop))
            .header(header::ORIGIN, &self.shop)
            .header("x-amazonpay2-csrf", &self.csrf)
            .json(&json!({ "productId": product, "quantity": 1 }))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
    }

    /// Signs up as a new demo member, which logs the browser in.
    async fn sign_up(&mut self) {
        self.view("mypage").await; // the session and its CSRF token
        let form = json!({
            "email": "member@example.jp", "password": "correct horse battery",
            "familyName": "山田", "givenName": "花子", "familyKana": "ヤマダ", "givenKana": "ハナコ",
            "postalCode": "100-0001", "prefecture": "東京都", "address1": "千代田区千代田1-1",
            "phone": "0312345678",
        });
        let reply = self
            .browser
            .post(format!("{}/api/amazonpay2/demo/signup", self.shop))
            .header(header::ORIGIN, &self.shop)
            .header("x-amazonpay2-csrf", &self.csrf)
            .json(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
    }

    /// Clicks the button of the `kind` block whose view is `view` as the widget and checkout.js
    /// do (the signed payload is asked for at the click), presses 続行, and returns where the
    /// simulator sends the shopper.
    async fn click(&self, kind: &str, view: &Value) -> Url {
        let options = &view["options"];
        let signed: Value = self
            .browser
            .post(format!("{}/api/amazonpay2/buttons/sign", self.shop))
            .header(header::ORIGIN, &self.shop)
            .header("x-amazonpay2-csrf", &self.csrf)
            .json(&json!({ "kind": kind }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let config = match signed["productType"].as_str().unwrap() {
            "SignIn" => &signed["signInConfig"],
            _ => &signed["createCheckoutSessionConfig"],
        };
        let form = Button::with_signature(
            signed["productType"].as_str().unwrap(),
            config["payloadJSON"].as_str().unwrap().to_owned(),
            config["signature"].as_str().unwrap().to_owned(),
        )
        .with("merchantId", options["merchantId"].as_str().unwrap())
        .with("publicKeyId", config["publicKeyId"].as_str().unwrap())
        .with("algorithm", config["algorithm"].as_str().unwrap())
        .with("merchantDomain", Url::parse(&self.shop).unwrap().host_str().unwrap());
        let page = self.post_amazon("/checkout/initiate", form.encoded()).await;
        assert_eq!(page.status(), StatusCode::OK);
        let flow = between(&page.text().await.unwrap(), "name=\"flow\" value=\"", "\"").expect("a hosted page");
        let encoded = url::form_urlencoded::Serializer::new(String::new()).append_pair("flow", &flow).finish();
        let back = self.post_amazon("/checkout/continue", encoded).await;
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        Url::parse(back.headers()[header::LOCATION].to_str().unwrap()).unwrap()
    }

    async fn post_amazon(&self, path: &str, form: String) -> reqwest::Response {
        self.browser
            .post(format!("{}{path}", self.amazon))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap()
    }

    /// Follows Amazon's redirect back to the shop, with the shop's cookie.
    async fn arrive(&self, url: &Url) -> reqwest::Response {
        assert!(url.as_str().starts_with(&format!("{}/api/amazonpay2/", self.shop)), "{url}");
        self.browser.get(url.clone()).send().await.unwrap()
    }
}

/// A fresh browser: keeps cookies, does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shops_sign_in_button_passes_the_simulator_and_its_return_is_accepted() {
    let mut demo = Demo::start().await;
    let view = demo.view("login").await;
    let back = demo.click("login", &view).await;
    assert!(query(&back).iter().any(|(k, _)| k == "buyerToken"));
    let landing = demo.arrive(&back).await;
    // The shop accepted its own state, and Amazon's getBuyer the token: a new shopper signs up.
    assert!(landing.status().is_redirection(), "{}", landing.status());
    assert_eq!(landing.headers()[header::LOCATION], "/member/signup.html?amazonpay2=signup_prefilled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shops_link_button_passes_the_simulator_and_links_the_member() {
    let mut demo = Demo::start().await;
    demo.sign_up().await;
    let view = demo.view("mypage").await;
    let back = demo.click("mypage", &view).await;
    let landing = demo.arrive(&back).await;
    assert!(landing.status().is_redirection());
    assert_eq!(landing.headers()[header::LOCATION], "/mypage/?amazonpay2=linked");
    assert_eq!(demo.view("mypage").await["view"], "linked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_return_replayed_in_another_browser_is_refused() {
    let mut demo = Demo::start().await;
    let view = demo.view("login").await;
    let back = demo.click("login", &view).await;
    let mut other = Demo { browser: browser(), ..demo };
    other.view("login").await; // a session of its own, with another state
    let landing = other.arrive(&back).await;
    assert!(landing.status().is_redirection());
    assert_eq!(landing.headers()[header::LOCATION], "/?amazonpay2=return_refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shops_checkout_button_passes_the_simulator_and_reaches_the_confirmation_page() {
    let mut demo = Demo::start().await;
    assert_eq!(demo.view("checkout").await["reason"], "cartEmpty", "no button without a cart");
    demo.add_to_cart(1).await;
    let view = demo.view("checkout").await;
    let back = demo.click("checkout", &view).await;
    assert_eq!(back.path(), "/api/amazonpay2/checkout/review");
    assert!(query(&back).iter().any(|(k, v)| k == "amazonCheckoutSessionId" && !v.is_empty()), "{back}");
    let landing = demo.arrive(&back).await;
    assert!(landing.status().is_redirection());
    // The session is bound to the browser's cart: the confirmation page needs no ID in its URL.
    assert_eq!(landing.headers()[header::LOCATION], "/shopping/confirm.html");
}
