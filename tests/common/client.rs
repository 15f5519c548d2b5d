//! The shop's Amazon Pay API client against the simulator on a real socket that logs what
//! reaches it: the shop's key and a stranger's, buyer tokens from the hosted sign-in pages, the
//! simulator's test controls, API requests built and signed by hand as an SDK signs them, and a
//! stand-in API with canned answers.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::pss::Pss;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;
use url::Url;

use amazonpay2::amazon::canonical;
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::signature::string_to_sign;
use amazonpay2::amazon::types::Buyer;
use amazonpay2::core::signer::ButtonSigner;
use amazonpay2::core::{AmazonError, AmazonPayClient, Retry};
use amazonpay2::server::config::AmazonAccount;
use amazonpay2::simulator::TEST_BUYERS;

use super::sim::{SHOP, Serving, SimSocket, TEST_KEY_PEM, account, advance_clock, post_control, serve};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

pub const MERCHANT_ID: &str = "A1AMAZONCLIENTTEST";
pub const STORE_ID: &str = "amzn1.application-oa2-client.amazonclienttest00000000000";
pub const SANDBOX_KEY: &str = "SANDBOX-AMAZONPAY2CLIENTTESTKEY00";
pub const LIVE_KEY: &str = "LIVE-AMAZONPAY2CLIENTTESTKEY00000";
pub const UNPREFIXED_KEY: &str = "AMAZONPAY2CLIENTTESTKEY0000000000";
pub const SCOPES: [&str; 5] = ["name", "email", "postalCode", "shippingAddress", "phoneNumber"];
pub const BUTTON_ALGORITHM: &str = "AMZN-PAY-RSASSA-PSS-V2";

/// Short waits, so that retry tests take milliseconds.
pub const FAST: Retry =
    Retry { attempts: 4, first_delay: Duration::from_millis(5), max_delay: Duration::from_millis(20) };

pub fn sign_in_return_url() -> String {
    format!("{SHOP}/api/amazonpay2/signin/return?intent=login&state=x")
}

/// The two request-signing algorithms, with their PSS salt lengths (20 and 32).
#[derive(Clone, Copy, Debug)]
pub enum Alg {
    V1,
    V2,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::V1, Alg::V2];

    pub fn name(self) -> &'static str {
        match self {
            Alg::V1 => "AMZN-PAY-RSASSA-PSS",
            Alg::V2 => "AMZN-PAY-RSASSA-PSS-V2",
        }
    }
}

/// A key pair, usable both by our client (`ShopKey`) and for salt-20 signatures (`rsa`).
pub struct Signer {
    pub shop: Arc<ShopKey>,
    pub private: RsaPrivateKey,
}

impl Signer {
    pub fn from_pem(pem: &str) -> Self {
        Self {
            shop: Arc::new(ShopKey::from_pem(pem.as_bytes()).unwrap()),
            private: RsaPrivateKey::from_pkcs8_pem(pem).unwrap(),
        }
    }

    /// base64(RSASSA-PSS(`algorithm + "\n" + hex(sha256(text))`)), with the algorithm's salt.
    pub fn sign(&self, algorithm: Alg, text: &str) -> String {
        let to_sign = string_to_sign(algorithm.name(), text);
        let signature = match algorithm {
            Alg::V2 => self.shop.sign(to_sign.as_bytes()).unwrap(),
            Alg::V1 => {
                let hashed = Sha256::digest(to_sign.as_bytes());
                self.private.sign_with_rng(&mut rand::rngs::OsRng, Pss::new_with_salt::<Sha256>(20), &hashed).unwrap()
            }
        };
        BASE64.encode(signature)
    }
}

/// The shop's key: the one the simulator trusts.
pub fn ours() -> &'static Signer {
    static KEY: LazyLock<Signer> = LazyLock::new(|| Signer::from_pem(TEST_KEY_PEM));
    &KEY
}

/// A second RSA key that the simulator has never seen, made once per test run.
pub fn stranger() -> &'static Signer {
    static KEY: LazyLock<Signer> = LazyLock::new(|| {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        Signer::from_pem(&key.to_pkcs8_pem(LineEnding::LF).unwrap())
    });
    &KEY
}

/// `x-amz-pay-date` in the basic ISO 8601 format (PHP, Java, .NET), `offset` from now.
pub fn basic_date(offset: time::Duration) -> String {
    (OffsetDateTime::now_utc() + offset)
        .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap()
}

/// `x-amz-pay-date` in the extended ISO 8601 format (Node), `offset` from now.
pub fn extended_date(offset: time::Duration) -> String {
    (OffsetDateTime::now_utc() + offset)
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .unwrap()
}

/// The path Amazon's SDKs build: `/v2/…` for a key ID with an environment prefix (`SANDBOX-…`,
/// `LIVE-…`, in any case), which selects the environment itself; for an unprefixed key ID the
/// environment goes in the path, `/sandbox/v2/…` or `/live/v2/…` by the account's sandbox flag.
pub fn sdk_path(account: &AmazonAccount, resource: &str) -> String {
    let upper = account.public_key_id.to_ascii_uppercase();
    let environment = if upper.starts_with("LIVE-") || upper.starts_with("SANDBOX-") {
        ""
    } else if account.sandbox {
        "/sandbox"
    } else {
        "/live"
    };
    format!("{environment}/v2/{resource}")
}

// ---------------------------------------------------------------------------------------------
// The simulator on a real socket, with a log of what reached it
// ---------------------------------------------------------------------------------------------

/// One request the simulator received, with the status it answered.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub status: u16,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

pub async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map(ToString::to_string).unwrap_or_default();
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    log.lock().unwrap().push(Seen { method, path, headers, status });
    response
}

/// A running simulator that trusts the shop's key under `account.public_key_id`.
pub struct Sim {
    pub base: Url,
    pub account: AmazonAccount,
    /// For the hosted pages, the test controls and hand-made API requests: redirects are looked
    /// at, not followed.
    pub http: reqwest::Client,
    pub log: Log,
    pub _task: Serving,
}

impl Sim {
    pub async fn start(public_key_id: &str, sandbox: bool) -> Sim {
        let log = Log::default();
        let account = account(MERCHANT_ID, STORE_ID, public_key_id, sandbox);
        let layer = middleware::from_fn_with_state(log.clone(), record);
        let SimSocket { base, account, http, task } =
            SimSocket::start(account, &ours().shop, |simulator| simulator.router().layer(layer)).await;
        Sim { base, account, http, log, _task: task }
    }

    /// A sandbox simulator for a `SANDBOX-` key ID.
    pub async fn sandbox() -> Sim {
        Self::start(SANDBOX_KEY, true).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    /// `127.0.0.1:PORT`: what `x-amz-pay-host` carries.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.base.host_str().unwrap(), self.base.port().unwrap())
    }

    /// Our client, with the shop's key and short retry waits.
    pub fn client(&self) -> AmazonPayClient {
        self.client_with(ours(), FAST)
    }

    pub fn client_with(&self, signer: &Signer, retry: Retry) -> AmazonPayClient {
        AmazonPayClient::new(&self.base, &self.account, signer.shop.clone()).unwrap().with_retry(retry).without_pacing()
    }

    /// Signs in as `TEST_BUYERS[buyer]` through the hosted sign-in pages and returns the
    /// `buyerToken` the shop's return URL receives.
    pub async fn buyer_token(&self, buyer: usize) -> String {
        let payload = json!({
            "signInReturnUrl": sign_in_return_url(),
            "storeId": STORE_ID,
            "signInScopes": SCOPES,
        })
        .to_string();
        let signature =
            ButtonSigner::new(ours().shop.clone(), self.account.public_key_id.clone()).sign_uncached(&payload).unwrap();
        let environment = if self.account.sandbox { "SANDBOX" } else { "LIVE" };
        let page = self
            .http
            .post(self.url("/checkout/initiate"))
            .form(&[
                ("merchantId", MERCHANT_ID),
                ("payloadJSON", &payload),
                ("signature", &signature),
                ("publicKeyId", &self.account.public_key_id),
                ("algorithm", BUTTON_ALGORITHM),
                ("productType", "SignIn"),
                ("environment", environment),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "the sign-in page");
        let html = page.text().await.unwrap();
        for index in 0..TEST_BUYERS.len() {
            assert!(html.contains(&format!("name=\"buyer\" value=\"{index}\"")), "buyer {index} offered: {html}");
        }
        let flow = hidden_field(&html, "flow");
        let answer = self
            .http
            .post(self.url("/checkout/continue"))
            .form(&[("flow", flow.as_str()), ("buyer", &buyer.to_string())])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "continue redirects back to the shop");
        let location = answer.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with(&format!("{}&buyerToken=", sign_in_return_url())),
            "back to the signed return URL: {location}"
        );
        let url = Url::parse(location).unwrap();
        let token = url.query_pairs().find(|(name, _)| name == "buyerToken").unwrap().1.into_owned();
        assert!(!token.is_empty());
        token
    }

    /// The next `count` API requests answer `status` (simulator test control).
    pub async fn fault(&self, status: u16, count: u32) {
        let answer = post_control(&self.http, &self.base, "faults", json!({ "status": status, "count": count })).await;
        assert_eq!(answer.status(), 204);
    }

    /// Moves the simulator's clock forward (simulator test control).
    pub async fn advance_clock(&self, seconds: u64) {
        advance_clock(&self.http, &self.base, seconds).await;
    }

    /// The API requests (`…/v2/…`) received so far; hosted pages and controls are left out.
    pub fn api_requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().iter().filter(|seen| seen.path.contains("/v2/")).cloned().collect()
    }

    pub fn api_statuses(&self) -> Vec<u16> {
        self.api_requests().iter().map(|seen| seen.status).collect()
    }

    pub fn forget_requests(&self) {
        self.log.lock().unwrap().clear();
    }
}

pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} field in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

/// The buyer getBuyer returns for `TEST_BUYERS[index]` with the sign-in scopes of [`SCOPES`].
pub fn assert_is_test_buyer(buyer: &Buyer, index: usize) {
    let expected = &TEST_BUYERS[index];
    assert!(buyer.buyer_id.starts_with("amzn1.account."), "{}", buyer.buyer_id);
    assert_eq!(buyer.name.as_deref(), Some(expected.name));
    assert_eq!(buyer.email.as_deref(), Some(expected.email));
    assert_eq!(buyer.postal_code, Some(expected.postal_code.replace('-', "")), "top-level postal code, digits only");
    assert_eq!(buyer.country_code.as_deref(), Some("JP"));
    assert_eq!(buyer.phone_number.as_deref(), Some(expected.phone));
    assert_eq!(buyer.billing_address, None, "billingAddress was not asked for");
    let address = buyer.shipping_address.as_ref().expect("shippingAddress was asked for");
    assert_eq!(address.name.as_deref(), Some(expected.name));
    assert_eq!(address.postal_code.as_deref(), Some(expected.postal_code));
    assert_eq!(address.state_or_region.as_deref(), Some(expected.prefecture));
    assert_eq!(address.address_line1.as_deref(), Some(expected.line1));
    assert_eq!(address.address_line2.as_deref(), Some(expected.line2));
    assert_eq!(address.address_line3.as_deref(), Some(""));
    assert_eq!(address.city, None, "city is not used in Japan");
    assert_eq!(address.country_code.as_deref(), Some("JP"));
    assert_eq!(address.phone_number.as_deref(), Some(expected.phone));
}

pub fn assert_rejected(result: Result<impl std::fmt::Debug, AmazonError>, status: u16, reason_code: &str) {
    match result {
        Err(AmazonError::Rejected { status: got, reason_code: code, message }) => {
            assert_eq!((got, code.as_str()), (status, reason_code), "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected Rejected {{ {status}, {reason_code} }}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-made API requests, signed the way an SDK signs them
// ---------------------------------------------------------------------------------------------

/// An API request built and signed by hand: `signed` headers (sorted by name) go into the
/// signature, `unsigned` ones are only sent.
#[derive(Clone)]
pub struct HandRequest {
    pub method: Method,
    /// Raw path (and query) as sent.
    pub path: String,
    pub signed: Vec<(String, String)>,
    pub unsigned: Vec<(String, String)>,
    pub body: String,
    pub algorithm: Alg,
    pub public_key_id: String,
    pub signer: &'static Signer,
}

impl HandRequest {
    /// The headers every SDK signs: accept, content-type, x-amz-pay-date/-host/-region.
    pub fn new(sim: &Sim, method: Method, path: String, algorithm: Alg, date: String, region: &str) -> Self {
        Self {
            method,
            path,
            signed: Vec::new(),
            unsigned: Vec::new(),
            body: String::new(),
            algorithm,
            public_key_id: sim.account.public_key_id.clone(),
            signer: ours(),
        }
        .signed_header("accept", "application/json")
        .signed_header("content-type", "application/json")
        .signed_header("x-amz-pay-date", &date)
        .signed_header("x-amz-pay-host", &sim.authority())
        .signed_header("x-amz-pay-region", region)
    }

    pub fn signed_header(mut self, name: &str, value: &str) -> Self {
        set_header(&mut self.signed, name, value);
        self.signed.sort_by(|a, b| a.0.cmp(&b.0));
        self
    }

    pub fn unsigned_header(mut self, name: &str, value: &str) -> Self {
        set_header(&mut self.unsigned, name, value);
        self
    }

    pub fn with_body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// The `authorization` header for the request as it stands.
    pub fn authorization(&self) -> String {
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let canonical = canonical::canonical_request(
            self.method.as_str(),
            path,
            query,
            &self.signed,
            &canonical::sha256_hex(self.body.as_bytes()),
        );
        canonical::authorization(
            self.algorithm.name(),
            &self.public_key_id,
            &canonical::signed_headers(&self.signed),
            &self.signer.sign(self.algorithm, &canonical),
        )
    }

    pub async fn send(&self, sim: &Sim) -> Answer {
        self.send_as(sim, Some(&self.authorization())).await
    }

    /// Sends the request with the given `authorization` (or none), whatever it was signed for.
    pub async fn send_as(&self, sim: &Sim, authorization: Option<&str>) -> Answer {
        let mut request = sim.http.request(self.method.clone(), sim.url(&self.path));
        for (name, value) in self.signed.iter().chain(&self.unsigned) {
            request = request.header(name, value);
        }
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if !self.body.is_empty() {
            request = request.body(self.body.clone());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        Answer { status, content_type, text: response.text().await.unwrap() }
    }
}

pub fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_owned(), value.to_owned()));
}

/// What the simulator answered a hand-made request.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Answer {
    pub fn buyer(&self) -> Buyer {
        assert_eq!(self.status, 200, "{}", self.text);
        serde_json::from_str(&self.text).unwrap()
    }
}

/// Amazon's error answer: the status, a JSON body of exactly `{reasonCode, message}`.
pub fn assert_amazon_error(answer: &Answer, status: u16, reason_code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert!(answer.content_type.starts_with("application/json"), "content type {:?}", answer.content_type);
    let body: Value = serde_json::from_str(&answer.text).expect("a JSON error body");
    let object = body.as_object().expect("a JSON object");
    assert_eq!(object.len(), 2, "only reasonCode and message: {body}");
    assert_eq!(object["reasonCode"], reason_code, "{body}");
    assert!(object["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// PHP SDK: basic date, five signed headers, SDK identification sent unsigned.
pub fn php_style(sim: &Sim, path: String, algorithm: Alg) -> HandRequest {
    HandRequest::new(sim, Method::GET, path, algorithm, basic_date(time::Duration::ZERO), "jp")
        .unsigned_header("user-agent", "amazon-pay-api-sdk-php/2.6.7 (PHP/8.2.18; Linux)")
        .unsigned_header("x-amz-pay-sdk-type", "amazon-pay-api-sdk-php")
        .unsigned_header("x-amz-pay-sdk-version", "2.6.7")
        .unsigned_header("x-amz-pay-language-version", "8.2.18")
}

// ---------------------------------------------------------------------------------------------
// A stand-in API with canned answers
// ---------------------------------------------------------------------------------------------

/// One canned answer: status, headers, body.
pub type Canned = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// A stand-in API that answers its `n`th request with `answers[n]` (the last one repeats) and
/// checks nothing; returns its base URL, the task and the request counter.
pub async fn canned_api(answers: Vec<Canned>) -> (Url, tokio::task::JoinHandle<()>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = Router::new().fallback(move || {
        let call = counter.fetch_add(1, Ordering::SeqCst);
        let (status, headers, body) = answers[call.min(answers.len() - 1)].clone();
        async move {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
    });
    let (base, task) = serve(router).await;
    (base, task, calls)
}

/// Our client for a `SANDBOX-` key at `base`.
pub fn client_at(base: &Url, retry: Retry) -> AmazonPayClient {
    let account = account(MERCHANT_ID, STORE_ID, SANDBOX_KEY, true);
    AmazonPayClient::new(base, &account, ours().shop.clone()).unwrap().with_retry(retry)
}
