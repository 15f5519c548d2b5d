//! A bare Amazon Pay simulator on a real loopback socket, trusting the shop's key, for the
//! shop's own `AmazonPayClient` and for a buyer's browser on its hosted pages.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::Arc;

use axum::Router;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::core::install_crypto_provider;
use amazonpay2::server::config::AmazonAccount;
use amazonpay2::simulator::{Simulator, SimulatorConfig};

/// The shop's private key (PKCS #8 PEM).
pub const TEST_KEY_PEM: &str = include_str!("../fixtures/test_key_pkcs8.pem");
/// The shop's origin, as the simulator knows it.
pub const SHOP: &str = "https://shop.example";

/// The shop's key pair.
pub fn shop_key() -> Arc<ShopKey> {
    Arc::new(ShopKey::from_pem(TEST_KEY_PEM.as_bytes()).unwrap())
}

/// A sandbox or live Amazon Pay account.
pub fn account(merchant_id: &str, store_id: &str, public_key_id: &str, sandbox: bool) -> AmazonAccount {
    AmazonAccount {
        merchant_id: merchant_id.into(),
        store_id: store_id.into(),
        public_key_id: public_key_id.into(),
        sandbox,
    }
}

/// Serves `router` on a free loopback port.
pub async fn serve(router: Router) -> (Url, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (Url::parse(&format!("http://{address}")).unwrap(), task)
}

/// Posts `body` to the test control `control` (`clock`, `faults`, `cards`, …) of the simulator
/// at `base`; returns the answer.
pub async fn post_control(http: &reqwest::Client, base: &Url, control: &str, body: Value) -> reqwest::Response {
    let url = format!("{}/__simulator/{control}", base.as_str().trim_end_matches('/'));
    http.post(url).json(&body).send().await.unwrap()
}

/// Moves the simulator's clock at `base` forward (simulator test control).
pub async fn advance_clock(http: &reqwest::Client, base: &Url, seconds: u64) {
    let answer = post_control(http, base, "clock", json!({ "advanceSeconds": seconds })).await;
    assert_eq!(answer.status(), 204);
}

/// A serving task, stopped when dropped.
pub struct Serving(JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running simulator.
pub struct SimSocket {
    pub base: Url,
    pub account: AmazonAccount,
    /// For the hosted pages, the test controls and hand-made API requests: redirects are looked
    /// at, not followed.
    pub http: reqwest::Client,
    pub task: Serving,
}

impl SimSocket {
    /// Starts the simulator of `account` for the shop at [`SHOP`], trusting `key` under the
    /// account's public key ID; `router` makes the simulator's router (with layers, say).
    pub async fn start(account: AmazonAccount, key: &ShopKey, router: impl FnOnce(Simulator) -> Router) -> Self {
        let simulator = Simulator::new(SimulatorConfig {
            merchant_id: account.merchant_id.clone(),
            store_id: account.store_id.clone(),
            public_key_id: account.public_key_id.clone(),
            public_key_der: key.public_key_der().to_vec(),
            shop_origin: SHOP.into(),
        });
        let (base, task) = serve(router(simulator)).await;
        install_crypto_provider();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base, account, http, task: Serving(task) }
    }
}
