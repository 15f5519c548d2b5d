#![cfg(not(target_arch = "wasm32"))]
//! The Amazon Pay API client against the simulator, over real HTTP: getBuyer for buyers signed in
//! through the hosted sign-in flow, the environment paths each kind of public key ID selects,
//! single-use and expiring buyer tokens, untrusted keys, retries (faults, backoff, Retry-After,
//! unreachable hosts, idempotency keys), and the simulator's signature check against requests
//! signed the way each official SDK signs them and against tampered ones.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

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
use amazonpay2::amazon::types::{Buyer, Money};
use amazonpay2::core::signer::ButtonSigner;
use amazonpay2::core::{AmazonError, AmazonPayClient, Retry};
use amazonpay2::server::config::AmazonAccount;
use amazonpay2::simulator::{RegisteredKey, SignatureProblem, TEST_BUYERS};
use common::sim::{SHOP, Serving, SimSocket, TEST_KEY_PEM, account, advance_clock, post_control, serve};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const MERCHANT_ID: &str = "A1AMAZONCLIENTTEST";
const STORE_ID: &str = "amzn1.application-oa2-client.amazonclienttest00000000000";
const SANDBOX_KEY: &str = "SANDBOX-AMAZONPAY2CLIENTTESTKEY00";
const LIVE_KEY: &str = "LIVE-AMAZONPAY2CLIENTTESTKEY00000";
const UNPREFIXED_KEY: &str = "AMAZONPAY2CLIENTTESTKEY0000000000";
const SCOPES: [&str; 5] = ["name", "email", "postalCode", "shippingAddress", "phoneNumber"];
const BUTTON_ALGORITHM: &str = "AMZN-PAY-RSASSA-PSS-V2";

/// Short waits, so that retry tests take milliseconds.
const FAST: Retry = Retry { attempts: 4, first_delay: Duration::from_millis(5), max_delay: Duration::from_millis(20) };

fn sign_in_return_url() -> String {
    format!("{SHOP}/api/amazonpay2/signin/return?intent=login&state=x")
}

/// The two request-signing algorithms, with their PSS salt lengths (20 and 32).
#[derive(Clone, Copy, Debug)]
enum Alg {
    V1,
    V2,
}

impl Alg {
    const ALL: [Alg; 2] = [Alg::V1, Alg::V2];

    fn name(self) -> &'static str {
        match self {
            Alg::V1 => "AMZN-PAY-RSASSA-PSS",
            Alg::V2 => "AMZN-PAY-RSASSA-PSS-V2",
        }
    }
}

/// A key pair, usable both by our client (`ShopKey`) and for salt-20 signatures (`rsa`).
struct Signer {
    shop: Arc<ShopKey>,
    private: RsaPrivateKey,
}

impl Signer {
    fn from_pem(pem: &str) -> Self {
        Self {
            shop: Arc::new(ShopKey::from_pem(pem.as_bytes()).unwrap()),
            private: RsaPrivateKey::from_pkcs8_pem(pem).unwrap(),
        }
    }

    /// base64(RSASSA-PSS(`algorithm + "\n" + hex(sha256(text))`)), with the algorithm's salt.
    fn sign(&self, algorithm: Alg, text: &str) -> String {
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
fn ours() -> &'static Signer {
    static KEY: LazyLock<Signer> = LazyLock::new(|| Signer::from_pem(TEST_KEY_PEM));
    &KEY
}

/// A second RSA key that the simulator has never seen, made once per test run.
fn stranger() -> &'static Signer {
    static KEY: LazyLock<Signer> = LazyLock::new(|| {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        Signer::from_pem(&key.to_pkcs8_pem(LineEnding::LF).unwrap())
    });
    &KEY
}

/// `x-amz-pay-date` in the basic ISO 8601 format (PHP, Java, .NET), `offset` from now.
fn basic_date(offset: time::Duration) -> String {
    (OffsetDateTime::now_utc() + offset)
        .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap()
}

/// `x-amz-pay-date` in the extended ISO 8601 format (Node), `offset` from now.
fn extended_date(offset: time::Duration) -> String {
    (OffsetDateTime::now_utc() + offset)
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .unwrap()
}

/// The path Amazon's SDKs build: `/v2/…` for an environment-prefixed key ID, else
/// `/sandbox/v2/…` or `/live/v2/…` (reference §4.4).
fn sdk_path(account: &AmazonAccount, resource: &str) -> String {
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
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    status: u16,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map(ToString::to_string).unwrap_or_default();
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    log.lock().unwrap().push(Seen { method, path, headers, status });
    response
}

/// A running simulator that trusts the shop's key under `account.public_key_id`.
struct Sim {
    base: Url,
    account: AmazonAccount,
    /// For the hosted pages, the test controls and hand-made API requests: redirects are looked
    /// at, not followed.
    http: reqwest::Client,
    log: Log,
    _task: Serving,
}

impl Sim {
    async fn start(public_key_id: &str, sandbox: bool) -> Sim {
        let log = Log::default();
        let account = account(MERCHANT_ID, STORE_ID, public_key_id, sandbox);
        let layer = middleware::from_fn_with_state(log.clone(), record);
        let SimSocket { base, account, http, task } =
            SimSocket::start(account, &ours().shop, |simulator| simulator.router().layer(layer)).await;
        Sim { base, account, http, log, _task: task }
    }

    /// A sandbox simulator for a `SANDBOX-` key ID.
    async fn sandbox() -> Sim {
        Self::start(SANDBOX_KEY, true).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    /// `127.0.0.1:PORT`: what `x-amz-pay-host` carries.
    fn authority(&self) -> String {
        format!("{}:{}", self.base.host_str().unwrap(), self.base.port().unwrap())
    }

    /// Our client, with the shop's key and short retry waits.
    fn client(&self) -> AmazonPayClient {
        self.client_with(ours(), FAST)
    }

    fn client_with(&self, signer: &Signer, retry: Retry) -> AmazonPayClient {
        AmazonPayClient::new(&self.base, &self.account, signer.shop.clone()).unwrap().with_retry(retry)
    }

    /// Signs in as `TEST_BUYERS[buyer]` through the hosted sign-in pages and returns the
    /// `buyerToken` the shop's return URL receives.
    async fn buyer_token(&self, buyer: usize) -> String {
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
    async fn fault(&self, status: u16, count: u32) {
        let answer = post_control(&self.http, &self.base, "faults", json!({ "status": status, "count": count })).await;
        assert_eq!(answer.status(), 204);
    }

    /// Moves the simulator's clock forward (simulator test control).
    async fn advance_clock(&self, seconds: u64) {
        advance_clock(&self.http, &self.base, seconds).await;
    }

    /// The API requests (`…/v2/…`) received so far; hosted pages and controls are left out.
    fn api_requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().iter().filter(|seen| seen.path.contains("/v2/")).cloned().collect()
    }

    fn api_statuses(&self) -> Vec<u16> {
        self.api_requests().iter().map(|seen| seen.status).collect()
    }

    fn forget_requests(&self) {
        self.log.lock().unwrap().clear();
    }
}

fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} field in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

/// The buyer getBuyer returns for `TEST_BUYERS[index]` with the sign-in scopes of [`SCOPES`].
fn assert_is_test_buyer(buyer: &Buyer, index: usize) {
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

fn assert_rejected(result: Result<impl std::fmt::Debug, AmazonError>, status: u16, reason_code: &str) {
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
struct HandRequest {
    method: Method,
    /// Raw path (and query) as sent.
    path: String,
    signed: Vec<(String, String)>,
    unsigned: Vec<(String, String)>,
    body: String,
    algorithm: Alg,
    public_key_id: String,
    signer: &'static Signer,
}

impl HandRequest {
    /// The headers every SDK signs: accept, content-type, x-amz-pay-date/-host/-region.
    fn new(sim: &Sim, method: Method, path: String, algorithm: Alg, date: String, region: &str) -> Self {
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

    fn signed_header(mut self, name: &str, value: &str) -> Self {
        set_header(&mut self.signed, name, value);
        self.signed.sort_by(|a, b| a.0.cmp(&b.0));
        self
    }

    fn unsigned_header(mut self, name: &str, value: &str) -> Self {
        set_header(&mut self.unsigned, name, value);
        self
    }

    fn with_body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// The `authorization` header for the request as it stands.
    fn authorization(&self) -> String {
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

    async fn send(&self, sim: &Sim) -> Answer {
        self.send_as(sim, Some(&self.authorization())).await
    }

    /// Sends the request with the given `authorization` (or none), whatever it was signed for.
    async fn send_as(&self, sim: &Sim, authorization: Option<&str>) -> Answer {
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

fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_owned(), value.to_owned()));
}

fn remove_header(headers: &mut Vec<(String, String)>, name: &str) -> String {
    let index = headers.iter().position(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name} header"));
    headers.remove(index).1
}

/// What the simulator answered a hand-made request.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    text: String,
}

impl Answer {
    fn buyer(&self) -> Buyer {
        assert_eq!(self.status, 200, "{}", self.text);
        serde_json::from_str(&self.text).unwrap()
    }
}

/// Amazon's error answer: the status, a JSON body of exactly `{reasonCode, message}`.
fn assert_amazon_error(answer: &Answer, status: u16, reason_code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert!(answer.content_type.starts_with("application/json"), "content type {:?}", answer.content_type);
    let body: Value = serde_json::from_str(&answer.text).expect("a JSON error body");
    let object = body.as_object().expect("a JSON object");
    assert_eq!(object.len(), 2, "only reasonCode and message: {body}");
    assert_eq!(object["reasonCode"], reason_code, "{body}");
    assert!(object["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// Node SDK: extended date, every header it sends signed, `user-agent` included.
fn node_style(sim: &Sim, path: String, algorithm: Alg) -> HandRequest {
    HandRequest::new(sim, Method::GET, path, algorithm, extended_date(time::Duration::ZERO), "jp")
        .signed_header("user-agent", "amazon-pay-api-sdk-nodejs/2.3.4 (JS/v20.11.1; linux)")
}

/// PHP SDK: basic date, five signed headers, SDK identification sent unsigned.
fn php_style(sim: &Sim, path: String, algorithm: Alg) -> HandRequest {
    HandRequest::new(sim, Method::GET, path, algorithm, basic_date(time::Duration::ZERO), "jp")
        .unsigned_header("user-agent", "amazon-pay-api-sdk-php/2.6.7 (PHP/8.2.18; Linux)")
        .unsigned_header("x-amz-pay-sdk-type", "amazon-pay-api-sdk-php")
        .unsigned_header("x-amz-pay-sdk-version", "2.6.7")
        .unsigned_header("x-amz-pay-language-version", "8.2.18")
}

/// Java SDK: basic date, region as the enum's name (`JP`), `user-agent` added after signing.
fn java_style(sim: &Sim, path: String, algorithm: Alg) -> HandRequest {
    HandRequest::new(sim, Method::GET, path, algorithm, basic_date(time::Duration::ZERO), "JP")
        .unsigned_header("user-agent", "amazon-pay-api-sdk-java/2.6.5 (Java/17.0.10; Linux)")
}

/// .NET SDK: basic date, a trailing slash on the path, signed as sent.
fn dotnet_style(sim: &Sim, path: String, algorithm: Alg) -> HandRequest {
    HandRequest::new(sim, Method::GET, format!("{path}/"), algorithm, basic_date(time::Duration::ZERO), "jp")
        .unsigned_header("user-agent", "amazon-pay-api-sdk-dotnet/2.7.3 (.NET 8.0; Linux)")
}

/// Signs in as a different test buyer per algorithm, fetches the buyer with requests `style`
/// builds, and expects the buyer back.
async fn assert_sdk_style_gets_the_buyer(sim: &Sim, style: fn(&Sim, String, Alg) -> HandRequest) {
    for (index, algorithm) in Alg::ALL.into_iter().enumerate() {
        let token = sim.buyer_token(index).await;
        let request = style(sim, sdk_path(&sim.account, &format!("buyers/{token}")), algorithm);
        let answer = request.send(sim).await;
        assert_eq!(answer.status, 200, "{algorithm:?}: {}", answer.text);
        assert_is_test_buyer(&answer.buyer(), index);
    }
}

/// Signs a request, lets `tamper` change it or its `authorization` afterwards, and sends it.
async fn send_tampered(
    sim: &Sim,
    request: HandRequest,
    tamper: impl FnOnce(&mut HandRequest, &mut Option<String>),
) -> Answer {
    let mut authorization = Some(request.authorization());
    let mut request = request;
    tamper(&mut request, &mut authorization);
    request.send_as(sim, authorization.as_deref()).await
}

/// A getBuyer request for a fresh, valid token, tampered with, is refused with `status` and
/// `reason_code` (never the token's own 400), and the refusal does not use the token up.
async fn assert_tampered_get_buyer_refused(
    tamper: impl FnOnce(&mut HandRequest, &mut Option<String>),
    status: u16,
    reason_code: &str,
) {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    let request = php_style(&sim, sdk_path(&sim.account, &format!("buyers/{token}")), Alg::V2);
    let answer = send_tampered(&sim, request, tamper).await;
    assert_amazon_error(&answer, status, reason_code);
    assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// getBuyer through our client
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_buyer_returns_each_japanese_test_buyer_chosen_on_the_sign_in_page() {
    let sim = Sim::sandbox().await;
    let client = sim.client();
    for index in 0..TEST_BUYERS.len() {
        let token = sim.buyer_token(index).await;
        assert_is_test_buyer(&client.get_buyer(&token).await.unwrap(), index);
    }
}

#[tokio::test]
async fn buyer_ids_are_stable_per_buyer_and_differ_between_buyers() {
    let sim = Sim::sandbox().await;
    let client = sim.client();
    let mut ids = Vec::new();
    for index in [0, 1, 0] {
        let token = sim.buyer_token(index).await;
        ids.push(client.get_buyer(&token).await.unwrap().buyer_id);
    }
    assert_eq!(ids[0], ids[2], "the same Amazon account signs in twice");
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn get_buyer_paths_follow_the_public_key_id_and_the_environment() {
    let cases = [
        (SANDBOX_KEY, true, ""),
        (LIVE_KEY, false, ""),
        ("sandbox-amazonpay2lowercaseprefix", true, ""),
        (LIVE_KEY, true, ""), // the key's prefix decides, not the sandbox flag
        (UNPREFIXED_KEY, true, "/sandbox"),
        (UNPREFIXED_KEY, false, "/live"),
    ];
    for (key_id, sandbox, environment) in cases {
        let sim = Sim::start(key_id, sandbox).await;
        let token = sim.buyer_token(1).await;
        let buyer = sim.client().get_buyer(&token).await;
        assert_is_test_buyer(&buyer.unwrap(), 1);
        let paths: Vec<String> = sim.api_requests().into_iter().map(|seen| seen.path).collect();
        assert_eq!(paths, [format!("{environment}/v2/buyers/{token}")], "{key_id}, sandbox {sandbox}");
    }
}

#[tokio::test]
async fn our_get_requests_sign_the_headers_amazon_expects() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.client().get_buyer(&token).await.unwrap();
    let seen = sim.api_requests().remove(0);
    assert_eq!(seen.method, "GET");
    let header = |name: &str| seen.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let authorization = header("authorization").unwrap();
    let parsed = canonical::parse_authorization(&authorization).unwrap();
    assert_eq!(parsed.algorithm, "AMZN-PAY-RSASSA-PSS-V2");
    assert_eq!(parsed.public_key_id, SANDBOX_KEY);
    assert_eq!(
        parsed.signed_headers,
        ["accept", "content-type", "x-amz-pay-date", "x-amz-pay-host", "x-amz-pay-region"]
    );
    assert_eq!(header("accept").as_deref(), Some("application/json"));
    assert_eq!(header("x-amz-pay-host"), Some(sim.authority()));
    assert_eq!(header("x-amz-pay-region").as_deref(), Some("jp"));
    let date = header("x-amz-pay-date").unwrap();
    assert!(date.len() == 16 && date.ends_with('Z') && date.as_bytes()[8] == b'T', "basic format: {date}");
    assert_eq!(header("x-amz-pay-idempotency-key"), None, "only POSTs carry one");
}

/// The calls after the order reach Amazon's paths with Amazon's methods, signed (bodies of
/// DELETE included: a bad signature would answer 401, not 404), with the caller's idempotency
/// key on the creating calls and none on the others.
#[tokio::test]
async fn back_office_calls_use_amazons_methods_paths_and_idempotency_keys() {
    for (key_id, sandbox) in [(SANDBOX_KEY, true), (UNPREFIXED_KEY, true), (UNPREFIXED_KEY, false)] {
        let sim = Sim::start(key_id, sandbox).await;
        let client = sim.client();
        let yen = Money::yen(100);
        let charge = "S03-1/2";
        let permission = "S03-0000000-0000000";
        let refund = "S03-0000000-0000000-R000000";
        assert_rejected(client.capture_charge(charge, &yen, "capture-key").await, 404, "ResourceNotFound");
        assert_rejected(client.cancel_charge(charge, "理由").await, 404, "ResourceNotFound");
        assert_rejected(client.create_refund(charge, &yen, "refund-key").await, 404, "ResourceNotFound");
        assert_rejected(client.get_refund(refund).await, 404, "ResourceNotFound");
        assert_rejected(client.get_charge_permission(permission).await, 404, "ResourceNotFound");
        let update = json!({ "merchantMetadata": { "merchantReferenceId": "X" } });
        assert_rejected(client.update_charge_permission(permission, &update).await, 404, "ResourceNotFound");
        assert_rejected(client.close_charge_permission(permission, "理由", true).await, 404, "ResourceNotFound");
        let payload = json!({ "webCheckoutDetails": { "checkoutReviewReturnUrl": "https://shop.example/r" }, "storeId": STORE_ID });
        let session = client.create_checkout_session(&payload, "create-key").await.unwrap();
        assert_eq!(session.status_details.state, "Open");
        let seen: Vec<(String, String, Option<String>)> = sim
            .api_requests()
            .into_iter()
            .map(|seen| {
                let key = seen.headers.get("x-amz-pay-idempotency-key").map(|v| v.to_str().unwrap().to_owned());
                (seen.method, seen.path, key)
            })
            .collect();
        let path = |resource: &str| sdk_path(&sim.account, resource);
        let some = |key: &str| Some(key.to_owned());
        assert_eq!(
            seen,
            [
                ("POST".into(), path("charges/S03-1%2F2/capture"), some("capture-key")),
                ("DELETE".into(), path("charges/S03-1%2F2/cancel"), None),
                ("POST".into(), path("refunds"), some("refund-key")),
                ("GET".into(), path(&format!("refunds/{refund}")), None),
                ("GET".into(), path(&format!("chargePermissions/{permission}")), None),
                ("PATCH".into(), path(&format!("chargePermissions/{permission}")), None),
                ("DELETE".into(), path(&format!("chargePermissions/{permission}/close")), None),
                ("POST".into(), path("checkoutSessions"), some("create-key")),
            ],
            "{key_id} sandbox={sandbox}"
        );
    }
}

#[tokio::test]
async fn back_office_calls_refuse_ids_that_are_no_ids_without_sending_anything() {
    let sim = Sim::sandbox().await;
    let client = sim.client();
    let yen = Money::yen(1);
    for id in ["", ".", ".."] {
        assert!(matches!(client.capture_charge(id, &yen, "k").await, Err(AmazonError::InvalidId(_))), "{id:?}");
        assert!(matches!(client.cancel_charge(id, "r").await, Err(AmazonError::InvalidId(_))));
        assert!(matches!(client.create_refund(id, &yen, "k").await, Err(AmazonError::InvalidId(_))));
        assert!(matches!(client.get_refund(id).await, Err(AmazonError::InvalidId(_))));
        assert!(matches!(client.get_charge_permission(id).await, Err(AmazonError::InvalidId(_))));
        assert!(matches!(client.update_charge_permission(id, &json!({})).await, Err(AmazonError::InvalidId(_))));
        assert!(matches!(client.close_charge_permission(id, "r", false).await, Err(AmazonError::InvalidId(_))));
    }
    assert!(sim.api_requests().is_empty());
}

#[tokio::test]
async fn a_token_with_reserved_characters_stays_one_signed_path_segment() {
    let sim = Sim::sandbox().await;
    // Verified (not 401) and routed to getBuyer (not 404): only the token is unknown.
    assert_rejected(sim.client().get_buyer("abc/def+ghi=?x#y").await, 400, "InvalidParameterValue");
}

#[tokio::test]
async fn a_used_buyer_token_is_refused() {
    let sim = Sim::sandbox().await;
    let client = sim.client();
    let token = sim.buyer_token(0).await;
    client.get_buyer(&token).await.unwrap();
    assert_rejected(client.get_buyer(&token).await, 400, "InvalidParameterValue");
}

#[tokio::test]
async fn a_buyer_token_expires_ten_minutes_after_sign_in() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.advance_clock(11 * 60).await;
    assert_rejected(sim.client().get_buyer(&token).await, 400, "InvalidParameterValue");
}

#[tokio::test]
async fn a_buyer_token_still_works_nine_minutes_after_sign_in() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(2).await;
    sim.advance_clock(9 * 60).await;
    assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 2);
}

#[tokio::test]
async fn a_key_the_simulator_does_not_trust_is_refused_without_retrying() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    let client = sim.client_with(stranger(), FAST);
    assert_rejected(client.get_buyer(&token).await, 401, "InvalidRequestSignature");
    assert_eq!(sim.api_statuses(), [401]);
}

#[tokio::test]
async fn our_signed_post_with_a_body_verifies_and_carries_a_signed_idempotency_key() {
    let sim = Sim::sandbox().await;
    let body = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": "https://shop.example/review" },
        "storeId": STORE_ID,
        "chargePermissionType": "OneTime",
    });
    // createCheckoutSession: a verified request creates the session (a bad signature would stop
    // at 401), with the key the client made for it.
    let session = sim.client().call::<Value>(Method::POST, "checkoutSessions", Some(&body)).await.unwrap();
    assert_eq!(session["statusDetails"]["state"], "Open", "{session}");
    let seen = sim.api_requests().remove(0);
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("POST", "/v2/checkoutSessions"));
    let authorization = seen.headers["authorization"].to_str().unwrap();
    let parsed = canonical::parse_authorization(authorization).unwrap();
    assert!(parsed.signed_headers.contains(&"x-amz-pay-idempotency-key"), "{authorization}");
    assert!(!seen.headers["x-amz-pay-idempotency-key"].is_empty());
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn transient_503s_are_retried_until_the_call_succeeds() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(1).await;
    sim.fault(503, 2).await;
    assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 1);
    assert_eq!(sim.api_statuses(), [503, 503, 200]);
}

#[tokio::test]
async fn persistent_503s_give_unavailable_after_every_attempt() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.fault(503, 10).await;
    match sim.client().get_buyer(&token).await {
        Err(AmazonError::Unavailable { attempts, last }) => {
            assert_eq!(attempts, 4);
            assert!(last.contains("503"), "{last}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(sim.api_statuses(), [503; 4]);
}

#[tokio::test]
async fn throttling_timeout_and_server_error_statuses_are_retried() {
    let sim = Sim::sandbox().await;
    let client = sim.client();
    for status in [408, 425, 429, 500, 502, 504] {
        let token = sim.buyer_token(0).await;
        sim.fault(status, 1).await;
        sim.forget_requests();
        let buyer = client.get_buyer(&token).await;
        assert!(buyer.is_ok(), "{status}: {buyer:?}");
        assert_eq!(sim.api_statuses(), [status, 200], "{status}");
    }
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let sim = Sim::sandbox().await;
    assert_rejected(sim.client().get_buyer("not-a-token").await, 400, "InvalidParameterValue");
    assert_eq!(sim.api_statuses(), [400]);
}

#[tokio::test]
async fn retries_back_off_with_doubling_waits() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.fault(503, 2).await;
    let retry = Retry { attempts: 3, first_delay: Duration::from_millis(100), max_delay: Duration::from_secs(5) };
    let started = Instant::now();
    sim.client_with(ours(), retry).get_buyer(&token).await.unwrap();
    // 100 ms then 200 ms, each with at most 20 % jitter off.
    assert!(started.elapsed() >= Duration::from_millis(240), "{:?}", started.elapsed());
}

#[tokio::test]
async fn backoff_waits_are_capped_by_max_delay() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.fault(503, 2).await;
    let retry = Retry { attempts: 3, first_delay: Duration::from_secs(30), max_delay: Duration::from_millis(100) };
    let started = Instant::now();
    sim.client_with(ours(), retry).get_buyer(&token).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// One canned answer: status, headers, body.
type Canned = (u16, Vec<(&'static str, &'static str)>, &'static str);

const JSON: (&str, &str) = ("content-type", "application/json");
const BUYER_JSON: &str = r#"{"buyerId":"amzn1.account.ACANNED"}"#;
const BUSY_JSON: &str = r#"{"reasonCode":"ServiceUnavailable","message":"busy"}"#;

/// A stand-in API that answers its `n`th request with `answers[n]` (the last one repeats) and
/// checks nothing; returns its base URL, the task and the request counter.
async fn canned_api(answers: Vec<Canned>) -> (Url, tokio::task::JoinHandle<()>, Arc<AtomicUsize>) {
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
fn client_at(base: &Url, retry: Retry) -> AmazonPayClient {
    let account = account(MERCHANT_ID, STORE_ID, SANDBOX_KEY, true);
    AmazonPayClient::new(base, &account, ours().shop.clone()).unwrap().with_retry(retry)
}

/// How long getBuyer takes when the first answer is a 503 with `Retry-After: <retry_after>`.
async fn time_get_buyer_after_retry_after(retry_after: &'static str, max_delay: Duration) -> Duration {
    let busy = (503, vec![(JSON.0, JSON.1), ("retry-after", retry_after)], BUSY_JSON);
    let (base, task, _) = canned_api(vec![busy, (200, vec![JSON], BUYER_JSON)]).await;
    let retry = Retry { attempts: 2, first_delay: Duration::from_millis(1), max_delay };
    let started = Instant::now();
    let buyer = client_at(&base, retry).get_buyer("token").await.unwrap();
    let elapsed = started.elapsed();
    task.abort();
    assert_eq!(buyer.buyer_id, "amzn1.account.ACANNED");
    elapsed
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_max_delay() {
    let honoured = time_get_buyer_after_retry_after("1", Duration::from_secs(5)).await;
    assert!(honoured >= Duration::from_millis(950), "waited {honoured:?} for Retry-After: 1");
    let capped = time_get_buyer_after_retry_after("120", Duration::from_millis(100)).await;
    assert!(capped < Duration::from_secs(5), "waited {capped:?} with max_delay 100 ms");
}

#[tokio::test]
async fn the_last_failed_attempt_is_not_followed_by_a_wait() {
    let (base, task, calls) = canned_api(vec![(503, vec![JSON], BUSY_JSON)]).await;
    let retry = Retry { attempts: 2, first_delay: Duration::from_secs(1), max_delay: Duration::from_secs(1) };
    let started = Instant::now();
    let result = client_at(&base, retry).get_buyer("token").await;
    let elapsed = started.elapsed();
    task.abort();
    assert!(matches!(result, Err(AmazonError::Unavailable { attempts: 2, .. })), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // One wait of 0.8 to 1 s (jitter, then the cap); a second one would make it at least 1.6 s.
    assert!(elapsed >= Duration::from_millis(750) && elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[tokio::test]
async fn an_unreachable_api_gives_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = Url::parse(&format!("http://{}", closed.local_addr().unwrap())).unwrap();
    drop(closed);
    let retry = Retry { attempts: 2, first_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };
    match client_at(&base, retry).get_buyer("token").await {
        Err(AmazonError::Unavailable { attempts: 2, last }) => assert!(!last.is_empty()),
        other => panic!("expected Unavailable after 2 attempts, got {other:?}"),
    }
}

#[tokio::test]
async fn a_success_that_is_not_amazons_json_is_a_decode_error() {
    let portal = (200, vec![("content-type", "text/html")], "<html>captive portal</html>");
    let (base, task, calls) = canned_api(vec![portal]).await;
    let result = client_at(&base, FAST).get_buyer("token").await;
    task.abort();
    assert!(matches!(result, Err(AmazonError::Decode(_))), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
}

#[tokio::test]
async fn an_error_without_amazons_envelope_is_rejected_with_its_status_and_text() {
    let (base, task, _) = canned_api(vec![(403, vec![("content-type", "text/plain")], "Forbidden by proxy")]).await;
    let result = client_at(&base, FAST).get_buyer("token").await;
    task.abort();
    assert_eq!(
        result,
        Err(AmazonError::Rejected { status: 403, reason_code: "Unknown".into(), message: "Forbidden by proxy".into() })
    );
}

#[tokio::test]
async fn a_retried_post_keeps_one_idempotency_key() {
    let sim = Sim::sandbox().await;
    sim.fault(503, 2).await;
    let body = json!({
        "chargePermissionId": "S03-0000000-0000000",
        "chargeAmount": { "amount": "100", "currencyCode": "JPY" },
    });
    let result = sim.client().call::<Value>(Method::POST, "charges", Some(&body)).await;
    assert_rejected(result, 404, "ResourceNotFound");
    let seen = sim.api_requests();
    assert_eq!(seen.iter().map(|s| s.status).collect::<Vec<_>>(), [503, 503, 404]);
    let keys: Vec<&str> = seen.iter().map(|s| s.headers["x-amz-pay-idempotency-key"].to_str().unwrap()).collect();
    assert!(!keys[0].is_empty());
    assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
}

// ---------------------------------------------------------------------------------------------
// Requests signed the way the official SDKs sign them
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn node_sdk_style_requests_verify() {
    assert_sdk_style_gets_the_buyer(&Sim::sandbox().await, node_style).await;
}

#[tokio::test]
async fn php_sdk_style_requests_verify() {
    assert_sdk_style_gets_the_buyer(&Sim::start(UNPREFIXED_KEY, true).await, php_style).await;
}

#[tokio::test]
async fn java_sdk_style_requests_verify() {
    assert_sdk_style_gets_the_buyer(&Sim::start(UNPREFIXED_KEY, false).await, java_style).await;
}

#[tokio::test]
async fn dotnet_sdk_style_trailing_slash_paths_are_verified_as_sent() {
    let sim = Sim::start(UNPREFIXED_KEY, true).await;
    let token = sim.buyer_token(0).await;
    let request = dotnet_style(&sim, sdk_path(&sim.account, &format!("buyers/{token}")), Alg::V1);
    assert!(request.path.ends_with(&format!("/sandbox/v2/buyers/{token}/")));
    let answer = request.send(&sim).await;
    if answer.status == 200 {
        assert_is_test_buyer(&answer.buyer(), 0);
    } else {
        // Not routed, but verified: a 404 in Amazon's envelope, not a 401.
        assert_amazon_error(&answer, 404, "ResourceNotFound");
        // Signed over the path without its slash, the same request does not verify: the raw path
        // is what is checked.
        let normalised = HandRequest { path: request.path.trim_end_matches('/').to_owned(), ..request.clone() };
        let answer = request.send_as(&sim, Some(&normalised.authorization())).await;
        assert_amazon_error(&answer, 401, "InvalidRequestSignature");
        assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Tampered requests
// ---------------------------------------------------------------------------------------------

/// The base request of the tampering tests, sent as signed, gets the buyer.
#[tokio::test]
async fn the_untampered_reference_request_gets_the_buyer() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    let request = php_style(&sim, sdk_path(&sim.account, &format!("buyers/{token}")), Alg::V2);
    assert_is_test_buyer(&send_tampered(&sim, request, |_, _| {}).await.buyer(), 0);
}

#[tokio::test]
async fn a_body_changed_after_signing_is_refused() {
    let sim = Sim::sandbox().await;
    let request = php_style(&sim, sdk_path(&sim.account, "checkoutSessions"), Alg::V2)
        .signed_header("x-amz-pay-idempotency-key", "cllHyiNvS8cJ8Zas")
        .with_body(r#"{"storeId":"a"}"#);
    let request = HandRequest { method: Method::POST, ..request };
    // Verified, the request reaches Amazon's checks of the body (a storeId of another merchant).
    assert_amazon_error(&send_tampered(&sim, request.clone(), |_, _| {}).await, 400, "InvalidParameterValue");
    let answer = send_tampered(&sim, request, |r, _| r.body = r#"{"storeId":"b"}"#.into()).await;
    assert_amazon_error(&answer, 401, "InvalidRequestSignature");
}

#[tokio::test]
async fn a_signed_header_changed_after_signing_is_refused() {
    let tamper = |r: &mut HandRequest, _: &mut Option<String>| set_header(&mut r.signed, "x-amz-pay-region", "us");
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_path_changed_after_signing_is_refused() {
    assert_tampered_get_buyer_refused(|r, _| r.path.push('x'), 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_query_added_after_signing_is_refused() {
    assert_tampered_get_buyer_refused(|r, _| r.path.push_str("?a=1"), 401, "InvalidRequestSignature").await;
}

/// Re-signs the request with another `x-amz-pay-date`.
fn redate(date: String) -> impl FnOnce(&mut HandRequest, &mut Option<String>) {
    move |r, authorization| {
        set_header(&mut r.signed, "x-amz-pay-date", &date);
        r.signed.sort_by(|a, b| a.0.cmp(&b.0));
        *authorization = Some(r.authorization());
    }
}

#[tokio::test]
async fn a_date_twenty_minutes_old_is_refused() {
    let tamper = redate(basic_date(time::Duration::minutes(-20)));
    assert_tampered_get_buyer_refused(tamper, 400, "InvalidHeaderValue").await;
}

#[tokio::test]
async fn a_date_twenty_minutes_ahead_is_refused() {
    let tamper = redate(extended_date(time::Duration::minutes(20)));
    assert_tampered_get_buyer_refused(tamper, 400, "InvalidHeaderValue").await;
}

#[tokio::test]
async fn a_date_that_is_not_a_date_is_refused() {
    assert_tampered_get_buyer_refused(redate("yesterday".into()), 400, "InvalidHeaderValue").await;
}

#[tokio::test]
async fn a_missing_signed_header_is_refused() {
    let tamper = |r: &mut HandRequest, _: &mut Option<String>| {
        remove_header(&mut r.signed, "x-amz-pay-host");
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn an_unsigned_date_is_refused() {
    let tamper = |r: &mut HandRequest, authorization: &mut Option<String>| {
        let date = remove_header(&mut r.signed, "x-amz-pay-date");
        r.unsigned.push(("x-amz-pay-date".into(), date));
        *authorization = Some(r.authorization());
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_malformed_authorization_header_is_refused() {
    let sim = Sim::sandbox().await;
    for malformed in
        ["AMZN-PAY-RSASSA-PSS-V2 Signature", "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=x, Signature=abc", "Bearer abc", ""]
    {
        let request = php_style(&sim, sdk_path(&sim.account, "buyers/x"), Alg::V2);
        let answer = send_tampered(&sim, request, |_, a| *a = Some(malformed.into())).await;
        assert_eq!(answer.status, 401, "{malformed:?}: {}", answer.text);
        assert_amazon_error(&answer, 401, "InvalidRequestSignature");
    }
}

#[tokio::test]
async fn a_garbled_signature_is_refused() {
    let tamper = |_: &mut HandRequest, a: &mut Option<String>| {
        let value = a.take().unwrap();
        let (head, _) = value.split_once("Signature=").unwrap();
        *a = Some(format!("{head}Signature=%%%not-base64%%%"));
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_missing_authorization_header_is_refused() {
    assert_tampered_get_buyer_refused(|_, a| *a = None, 400, "MissingHeader").await;
}

#[tokio::test]
async fn an_unknown_public_key_id_is_refused() {
    let tamper = |r: &mut HandRequest, a: &mut Option<String>| {
        r.public_key_id = "SANDBOX-SOMEONEELSESKEY0000000000".into();
        *a = Some(r.authorization());
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_signature_from_another_key_under_our_key_id_is_refused() {
    let tamper = |r: &mut HandRequest, a: &mut Option<String>| {
        r.signer = stranger();
        *a = Some(r.authorization());
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

/// Replaces the algorithm label at the start of the `authorization` header.
fn relabel(label: &'static str) -> impl FnOnce(&mut HandRequest, &mut Option<String>) {
    move |_, a| {
        let value = a.take().unwrap();
        let (_, rest) = value.split_once(' ').unwrap();
        *a = Some(format!("{label} {rest}"));
    }
}

#[tokio::test]
async fn a_v2_signature_labelled_v1_is_refused() {
    assert_tampered_get_buyer_refused(relabel("AMZN-PAY-RSASSA-PSS"), 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn an_unknown_algorithm_is_refused() {
    assert_tampered_get_buyer_refused(relabel("AMZN-PAY-RSASSA-PKCS1"), 401, "InvalidRequestSignature").await;
}

// ---------------------------------------------------------------------------------------------
// The documented example
// ---------------------------------------------------------------------------------------------

#[test]
fn the_documented_canonical_request_signed_with_our_key_verifies_under_both_algorithms() {
    let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    let mut headers = vec![
        header("accept", "application/json"),
        header("content-type", "application/json"),
        header("x-amz-pay-date", "20190923T231908Z"),
        header("x-amz-pay-host", "pay-api.amazon.com"),
        header("x-amz-pay-idempotency-key", "cllHyiNvS8cJ8Zas"),
        header("x-amz-pay-region", "us"),
    ];
    let body_hash = "0b6c19dc5bc1883ebd68d3c77ee929922c6b4a59e0a506d96c45e0c024c3295b";
    let example = canonical::canonical_request("POST", "/live/v2/checkoutSessions", "", &headers, body_hash);
    headers[5] = header("x-amz-pay-region", "jp");
    let altered = canonical::canonical_request("POST", "/live/v2/checkoutSessions", "", &headers, body_hash);
    let registered = RegisteredKey::from_pkcs1_der(ours().shop.public_key_der()).unwrap();
    for algorithm in Alg::ALL {
        let other = match algorithm {
            Alg::V1 => Alg::V2,
            Alg::V2 => Alg::V1,
        };
        let signature = ours().sign(algorithm, &example);
        assert_eq!(registered.verify(algorithm.name(), &example, &signature), Ok(()), "{algorithm:?}");
        assert_eq!(
            registered.verify(other.name(), &example, &signature),
            Err(SignatureProblem::Mismatch),
            "{algorithm:?} signature under the {other:?} label"
        );
        assert_eq!(registered.verify(algorithm.name(), &altered, &signature), Err(SignatureProblem::Mismatch));
    }
}

// ---------------------------------------------------------------------------------------------
// Test controls and method handling
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn advancing_the_simulator_clock_does_not_make_signed_requests_stale() {
    let sim = Sim::sandbox().await;
    sim.advance_clock(20 * 60).await;
    let token = sim.buyer_token(0).await;
    assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 0);
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_answers_amazons_envelope() {
    let sim = Sim::sandbox().await;
    let request = php_style(&sim, sdk_path(&sim.account, "buyers/x"), Alg::V2);
    let answer = HandRequest { method: Method::DELETE, ..request }.send(&sim).await;
    assert!(matches!(answer.status, 404 | 405), "{answer:?}");
    assert!(answer.content_type.starts_with("application/json"), "{answer:?}");
    let body: Value = serde_json::from_str(&answer.text).expect("a JSON error body");
    assert!(body["reasonCode"].as_str().is_some_and(|code| !code.is_empty()), "{body}");
    assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
}
