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
    /// Amazon's throttling quotas are lifted: the tests on this simulator check Amazon's other
    /// rules with many requests apiece, faster than its sandbox quotas allow (the quotas have
    /// tests of their own, on [`Self::start_keeping_quotas`]).
    pub async fn start(account: AmazonAccount, key: &ShopKey, router: impl FnOnce(Simulator) -> Router) -> Self {
        Self::start_keeping_quotas(account, key, |simulator| router(simulator.with_quotas_lifted())).await
    }

    /// [`Self::start`] with Amazon's throttling quotas kept.
    pub async fn start_keeping_quotas(
        account: AmazonAccount,
        key: &ShopKey,
        router: impl FnOnce(Simulator) -> Router,
    ) -> Self {
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

// ---------------------------------------------------------------------------------------------
// The buyer and the shop, against a running simulator
// ---------------------------------------------------------------------------------------------

/// Short waits between retries, so that failing calls cost milliseconds.
pub const FAST_RETRY: amazonpay2::core::Retry = amazonpay2::core::Retry {
    attempts: 2,
    first_delay: std::time::Duration::from_millis(5),
    max_delay: std::time::Duration::from_millis(20),
};

impl SimSocket {
    /// `path` on the simulator.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// The simulator's origin (`http://127.0.0.1:PORT`).
    pub fn origin(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    /// The shop's signed client for this simulator (not paced: see [`Self::start`]).
    pub fn client(&self, key: &Arc<ShopKey>) -> amazonpay2::core::AmazonPayClient {
        amazonpay2::core::AmazonPayClient::new(&self.base, &self.account, key.clone())
            .unwrap()
            .with_retry(FAST_RETRY)
            .without_pacing()
    }

    /// `POST /__simulator/{control}` with `body`.
    pub async fn control(&self, control: &str, body: Value) -> reqwest::Response {
        post_control(&self.http, &self.base, control, body).await
    }

    /// `GET /__simulator/{control}` as JSON.
    pub async fn read_control(&self, control: &str) -> Value {
        let answer = self.http.get(self.url(&format!("/__simulator/{control}"))).send().await.unwrap();
        assert!(answer.status().is_success(), "{control}: {}", answer.status());
        answer.json().await.unwrap()
    }

    /// Clicks a checkout button with `payload` (signed with `key`), chooses the first test buyer
    /// and `card` on Amazon's page, and answers the checkout session ID from the review URL.
    pub async fn choose(&self, key: &Arc<ShopKey>, payload: &Value, card: &str) -> String {
        let payload = payload.to_string();
        let signature = amazonpay2::core::signer::ButtonSigner::new(key.clone(), self.account.public_key_id.clone())
            .sign_uncached(&payload)
            .unwrap();
        let page = self
            .http
            .post(self.url("/checkout/initiate"))
            .form(&[
                ("merchantId", self.account.merchant_id.as_str()),
                ("payloadJSON", &payload),
                ("signature", &signature),
                ("publicKeyId", &self.account.public_key_id),
                ("algorithm", "AMZN-PAY-RSASSA-PSS-V2"),
                ("productType", "PayAndShip"),
                ("environment", "SANDBOX"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "the consent page");
        self.continue_page(&page.text().await.unwrap(), card).await
    }

    /// Presses 続行 on a consent page with the first test buyer and `card`; answers the
    /// checkout session ID from the review URL.
    pub async fn continue_page(&self, page: &str, card: &str) -> String {
        let flow = super::text::between(page, "name=\"flow\" value=\"", "\"").expect("a flow field");
        let back = self
            .http
            .post(self.url("/checkout/continue"))
            .form(&[("flow", flow.as_str()), ("buyer", "0"), ("card", card)])
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 303, "back to the shop");
        let location = Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
        super::text::query_value(&location, "amazonCheckoutSessionId").expect("the session ID")
    }

    /// The buyer at `amazonPayRedirectUrl`.
    pub async fn pay(&self, redirect: &str) {
        let answer = self.http.get(redirect).send().await.unwrap();
        assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
    }
}

/// The update that readies a session for payment (`intent`, `yen`, the result URL).
pub fn ready(intent: &str, yen: u64) -> Value {
    json!({
        "webCheckoutDetails": { "checkoutResultReturnUrl": format!("{SHOP}/api/amazonpay2/checkout/result") },
        "paymentDetails": {
            "paymentIntent": intent,
            "canHandlePendingAuthorization": true,
            "chargeAmount": { "amount": yen.to_string(), "currencyCode": "JPY" },
        },
        "merchantMetadata": { "merchantReferenceId": "ORDER-1", "merchantStoreName": "Craft Cart" },
    })
}

// ---------------------------------------------------------------------------------------------
// An IPN endpoint on a socket
// ---------------------------------------------------------------------------------------------

/// One request the IPN endpoint received.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Endpoint {
    received: std::sync::Mutex<Vec<Received>>,
    /// Statuses to answer next, in order; then `otherwise`.
    next: std::sync::Mutex<std::collections::VecDeque<u16>>,
    otherwise: std::sync::atomic::AtomicU16,
    /// Milliseconds to wait before answering.
    delay_ms: std::sync::atomic::AtomicU64,
    arrived: tokio::sync::Notify,
    /// While set, requests are recorded as they arrive but answered only once it is cleared.
    holding: std::sync::atomic::AtomicBool,
    released: tokio::sync::Notify,
}

/// A tiny shop IPN endpoint (`/api/amazonpay2/ipn.php`) that records what arrives and answers
/// what it is told to (200 unless told otherwise).
pub struct IpnReceiver {
    pub url: String,
    endpoint: Arc<Endpoint>,
    _task: Serving,
}

impl IpnReceiver {
    pub async fn start() -> Self {
        use axum::routing::post;
        let endpoint = Arc::new(Endpoint::default());
        endpoint.otherwise.store(200, std::sync::atomic::Ordering::SeqCst);
        let state = endpoint.clone();
        let router = Router::new().route(
            "/api/amazonpay2/ipn.php",
            post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let endpoint = state.clone();
                async move {
                    let delay = endpoint.delay_ms.load(std::sync::atomic::Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                    }
                    endpoint.received.lock().unwrap().push(Received { headers, body: body.to_vec() });
                    endpoint.arrived.notify_waiters();
                    loop {
                        let released = endpoint.released.notified();
                        if !endpoint.holding.load(std::sync::atomic::Ordering::SeqCst) {
                            break;
                        }
                        released.await;
                    }
                    let status = endpoint
                        .next
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or_else(|| endpoint.otherwise.load(std::sync::atomic::Ordering::SeqCst));
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let (base, task) = serve(router).await;
        let url = format!("{}api/amazonpay2/ipn.php", base.as_str());
        Self { url, endpoint, _task: Serving(task) }
    }

    /// Answers `statuses` to the next requests, then 200.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.endpoint.next.lock().unwrap().extend(statuses);
    }

    /// Answers `status` to every request (after any `answer_next`).
    pub fn always(&self, status: u16) {
        self.endpoint.otherwise.store(status, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits `ms` before answering each request.
    pub fn delay(&self, ms: u64) {
        self.endpoint.delay_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on, answers nothing until [`IpnReceiver::release`]: requests are recorded as
    /// they arrive (see [`IpnReceiver::wait_for`]) and wait for their answer.
    pub fn hold(&self) {
        self.endpoint.holding.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Answers the held requests, and the next ones at once.
    pub fn release(&self) {
        self.endpoint.holding.store(false, std::sync::atomic::Ordering::SeqCst);
        self.endpoint.released.notify_waiters();
    }

    /// What has arrived so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.endpoint.received.lock().unwrap().clone()
    }

    /// Waits (at most 30 s) until at least `count` requests have arrived; answers all of them.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let arrived = self.endpoint.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{count} notification(s) expected, {} arrived", self.received().len());
            }
        }
    }
}
