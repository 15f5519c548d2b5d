#![cfg(not(target_arch = "wasm32"))]
//! The Amazon Pay simulator's hosted pages behave as Amazon's do: checkout.js, the button
//! form checks of `/checkout/initiate` (merchant, key, algorithm, signature, payload, return
//! domains), the single-use `/checkout/continue`, `initiate_auth`, `signout`, and escaping on the
//! error page. The last tests run the shop server and the simulator on real sockets and take the
//! shop's own buttons through the whole round trip.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::pss::Pss;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use url::Url;

use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::signature::string_to_sign;
use amazonpay2::core::signer::ButtonSigner;
use amazonpay2::server::app;
use amazonpay2::server::config::Config;
use amazonpay2::simulator::{Simulator, SimulatorConfig, TEST_BUYERS};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const TEST_KEY_PEM: &str = include_str!("fixtures/test_key_pkcs8.pem");
const SHOP: &str = "https://shop.example";
const MERCHANT_ID: &str = "A1SIMULATORTEST";
const STORE_ID: &str = "amzn1.application-oa2-client.simulatortest000000000000000";
const PUBLIC_KEY_ID: &str = "SANDBOX-SIMULATORTESTKEY00000000";
const V2: &str = "AMZN-PAY-RSASSA-PSS-V2";
const V1: &str = "AMZN-PAY-RSASSA-PSS";
const SIGNIN_RETURN: &str = "https://shop.example/api/amazonpay2/signin/return?intent=login&state=S1";
const REVIEW_RETURN: &str = "https://shop.example/api/amazonpay2/checkout/review?cart=c1";
const HOSTILE: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";

fn shop_key() -> Arc<ShopKey> {
    static KEY: LazyLock<Arc<ShopKey>> =
        LazyLock::new(|| Arc::new(ShopKey::from_pem(TEST_KEY_PEM.as_bytes()).unwrap()));
    KEY.clone()
}

/// A second RSA key that Amazon has never seen, made once per test run.
fn stranger_key() -> Arc<ShopKey> {
    static KEY: LazyLock<Arc<ShopKey>> = LazyLock::new(|| {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        Arc::new(ShopKey::from_pem(pem.as_bytes()).unwrap())
    });
    KEY.clone()
}

/// Signs as the shop's server does (V2), with `key`.
fn sign_v2(key: Arc<ShopKey>, payload: &str) -> String {
    ButtonSigner::new(key, PUBLIC_KEY_ID.into()).sign_uncached(payload).unwrap()
}

/// Signs as Amazon's V1 SDKs do: the V1 label and a 20-byte salt.
fn sign_v1(payload: &str) -> String {
    use base64::Engine;
    let private = RsaPrivateKey::from_pkcs8_pem(TEST_KEY_PEM).unwrap();
    let hashed = Sha256::digest(string_to_sign(V1, payload).as_bytes());
    let signature = private.sign_with_rng(&mut rand::rngs::OsRng, Pss::new_with_salt::<Sha256>(20), &hashed).unwrap();
    base64::engine::general_purpose::STANDARD.encode(signature)
}

fn sign_in_payload(return_url: &str) -> String {
    json!({ "signInReturnUrl": return_url, "storeId": STORE_ID, "signInScopes": ["name", "email"] }).to_string()
}

fn checkout_payload(review_url: &str) -> String {
    json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": review_url },
        "storeId": STORE_ID,
        "scopes": ["name", "email"],
        "chargePermissionType": "OneTime",
    })
    .to_string()
}

/// The hidden form checkout.js posts to `/checkout/initiate` when a button is clicked.
#[derive(Clone)]
struct Button {
    fields: Vec<(String, String)>,
}

impl Button {
    /// A button whose `payload` the shop signed correctly (V2).
    fn signed(product_type: &str, payload: String) -> Self {
        let signature = sign_v2(shop_key(), &payload);
        Self::with_signature(product_type, payload, signature)
    }

    fn with_signature(product_type: &str, payload: String, signature: String) -> Self {
        let fields = [
            ("payloadJSON", payload.as_str()),
            ("signature", &signature),
            ("publicKeyId", PUBLIC_KEY_ID),
            ("publicKeyIdMismatch", "false"),
            ("algorithm", V2),
            ("checkoutLanguage", "ja_JP"),
            ("ledgerCurrency", "JPY"),
            ("merchantId", MERCHANT_ID),
            ("productType", product_type),
            ("placement", "Cart"),
            ("buttonColor", "Gold"),
            ("environment", "SANDBOX"),
            ("estimatedOrderAmount", ""),
            ("merchantDomain", SHOP),
            ("origin_url", "https://shop.example/cart/"),
            ("viewType", "redirectView"),
        ];
        Self { fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect() }
    }

    fn sign_in() -> Self {
        Self::signed("SignIn", sign_in_payload(SIGNIN_RETURN))
    }

    fn checkout() -> Self {
        Self::signed("PayAndShip", checkout_payload(REVIEW_RETURN))
    }

    fn field(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    /// The same form with `name` set to `value`.
    fn with(mut self, name: &str, value: &str) -> Self {
        self.fields.retain(|(k, _)| k != name);
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same form without `name`.
    fn without(mut self, name: &str) -> Self {
        self.fields.retain(|(k, _)| k != name);
        self
    }

    fn encoded(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.fields).finish()
    }
}

/// Amazon as the simulator plays it, for one registered merchant.
struct Amazon {
    router: Router,
}

impl Amazon {
    fn new() -> Self {
        Self::for_shop(SHOP)
    }

    fn for_shop(shop_origin: &str) -> Self {
        let simulator = Simulator::new(SimulatorConfig {
            merchant_id: MERCHANT_ID.into(),
            store_id: STORE_ID.into(),
            public_key_id: PUBLIC_KEY_ID.into(),
            public_key_der: shop_key().public_key_der().to_vec(),
            shop_origin: shop_origin.into(),
        });
        Self { router: simulator.router() }
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Reply { status, headers, body }
    }

    async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, path: &str, form: String) -> Reply {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        self.send(request).await
    }

    /// The shopper clicks `button`.
    async fn initiate(&self, button: &Button) -> Reply {
        self.post_form("/checkout/initiate", button.encoded()).await
    }

    /// The shopper presses 続行 on a hosted page.
    async fn continue_flow(&self, flow: &str) -> Reply {
        let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("flow", flow).finish();
        self.post_form("/checkout/continue", form).await
    }

    /// Clicks `button`, continues, and returns where Amazon sends the shopper.
    async fn round_trip(&self, button: &Button) -> Url {
        let flow = self.initiate(button).await.flow_id();
        self.continue_flow(&flow).await.see_other()
    }

    /// Checks that `button` is refused and returns the error code Amazon's page shows.
    async fn refusal(&self, button: &Button) -> String {
        self.initiate(button).await.error_code()
    }

    async fn signout(&self, origin: Option<&str>) -> Reply {
        let mut request = Request::get("/checkout/signout");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }
}

/// A response, fully read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }

    #[track_caller]
    fn assert_html(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert!(self.header(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html")));
    }

    /// Asserts Amazon's error page (400, no redirect) and returns its `id="error-code"`.
    #[track_caller]
    fn error_code(&self) -> String {
        self.assert_html(400);
        assert!(self.header(header::LOCATION).is_none(), "an error never redirects");
        assert!(!self.text().contains("/checkout/continue"), "an error page offers no way on");
        between(&self.text(), "id=\"error-code\">", "<").expect("an error code on the page")
    }

    /// Asserts a hosted page with the 続行 form and returns its flow id.
    #[track_caller]
    fn flow_id(&self) -> String {
        self.assert_html(200);
        let text = self.text();
        assert!(text.contains("<form method=\"post\" action=\"/checkout/continue\">"), "{text}");
        between(&text, "name=\"flow\" value=\"", "\"").expect("a flow field")
    }

    /// Asserts a 303 and returns its absolute `Location`.
    #[track_caller]
    fn see_other(&self) -> Url {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "body: {}", self.text());
        Url::parse(self.header(header::LOCATION).expect("Location")).expect("an absolute URL")
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some(text[from..to].to_owned())
}

fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// `url` without its query: where the shopper lands.
fn base(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

// ---------------------------------------------------------------------------------------------
// checkout.js and the hosted pages for good buttons
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn checkout_js_is_javascript() {
    let reply = Amazon::new().get("/checkout.js").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("application/javascript")));
    let script = reply.text();
    assert!(script.contains("renderButton") && script.contains("/checkout/initiate"));
}

#[tokio::test]
async fn a_signed_sign_in_button_shows_the_sign_in_page() {
    let reply = Amazon::new().initiate(&Button::sign_in()).await;
    assert!(!reply.flow_id().is_empty());
    assert!(reply.text().contains("サインイン"));
    assert!(reply.text().contains(SHOP), "the page names the shop");
}

#[tokio::test]
async fn the_sign_in_page_offers_every_test_buyer_with_the_first_chosen() {
    let text = Amazon::new().initiate(&Button::sign_in()).await.text();
    for (index, buyer) in TEST_BUYERS.iter().enumerate() {
        let checked = if index == 0 { " checked" } else { "" };
        let radio = format!("<input type=\"radio\" name=\"buyer\" value=\"{index}\"{checked}>");
        assert!(text.contains(&radio), "{radio} in {text}");
        for shown in [buyer.name, buyer.email, buyer.postal_code, buyer.prefecture, buyer.line1] {
            assert!(text.contains(shown), "{shown} is shown");
        }
    }
    assert_eq!(text.matches("name=\"buyer\"").count(), TEST_BUYERS.len());
}

#[tokio::test]
async fn the_test_buyers_are_distinct_japanese_accounts() {
    let emails: std::collections::HashSet<&str> = TEST_BUYERS.iter().map(|b| b.email).collect();
    assert_eq!(emails.len(), TEST_BUYERS.len());
    for buyer in &TEST_BUYERS {
        assert_eq!(buyer.name.split(' ').count(), 2, "姓 名 with a space: {}", buyer.name);
        let digits: Vec<usize> = buyer.postal_code.split('-').map(str::len).collect();
        assert_eq!(digits, [3, 4], "〒 NNN-NNNN: {}", buyer.postal_code);
        let prefecture = buyer.prefecture;
        assert!(["都", "道", "府", "県"].iter().any(|s| prefecture.ends_with(s)), "{prefecture}");
        assert!(buyer.phone.chars().all(|c| c.is_ascii_digit()) && buyer.phone.len() >= 10);
    }
}

#[tokio::test]
async fn a_signed_checkout_button_shows_the_consent_page() {
    let reply = Amazon::new().initiate(&Button::checkout()).await;
    assert!(!reply.flow_id().is_empty());
    assert!(reply.text().contains("お支払い"));
}

#[tokio::test]
async fn a_genuine_v1_signature_is_accepted() {
    let payload = sign_in_payload(SIGNIN_RETURN);
    let signature = sign_v1(&payload);
    let button = Button::with_signature("SignIn", payload, signature).with("algorithm", V1);
    Amazon::new().initiate(&button).await.flow_id();
    let unlabeled = button.without("algorithm");
    Amazon::new().initiate(&unlabeled).await.flow_id();
}

// ---------------------------------------------------------------------------------------------
// Buttons Amazon refuses
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_payload_changed_after_signing_is_an_invalid_signature() {
    let amazon = Amazon::new();
    let button = Button::sign_in();
    let payload = button.field("payloadJSON").to_owned();
    let tampered = [
        payload.replace("S1", "S2"),
        payload.replace("shop.example", "shop.exampl3"),
        payload.replacen(':', ": ", 1),
        format!("{payload} "),
        format!(" {payload}"),
        payload.replace("\"name\",", "\"name\",\"postalCode\","),
    ];
    for payload in tampered {
        let button = button.clone().with("payloadJSON", &payload);
        assert_eq!(amazon.refusal(&button).await, "InvalidSignatureError", "{payload}");
    }
}

#[tokio::test]
async fn a_signature_from_another_key_is_an_invalid_signature() {
    let payload = sign_in_payload(SIGNIN_RETURN);
    let signature = sign_v2(stranger_key(), &payload);
    let button = Button::with_signature("SignIn", payload, signature);
    assert_eq!(Amazon::new().refusal(&button).await, "InvalidSignatureError");
}

#[tokio::test]
async fn a_garbled_signature_is_an_invalid_signature() {
    let amazon = Amazon::new();
    let good = Button::sign_in();
    let signature = good.field("signature").to_owned();
    let flipped = format!("{}{}", if signature.starts_with('A') { 'B' } else { 'A' }, &signature[1..]);
    for garbled in [flipped.as_str(), "%%%not-base64%%%", "AAAA", &signature[..signature.len() / 2]] {
        let button = good.clone().with("signature", garbled);
        assert_eq!(amazon.refusal(&button).await, "InvalidSignatureError", "{garbled}");
    }
}

#[tokio::test]
async fn a_v1_label_on_a_v2_signature_is_an_invalid_signature() {
    let amazon = Amazon::new();
    assert_eq!(amazon.refusal(&Button::sign_in().with("algorithm", V1)).await, "InvalidSignatureError");
    // checkout.js sends the V1 default when a config names no algorithm.
    assert_eq!(amazon.refusal(&Button::sign_in().without("algorithm")).await, "InvalidSignatureError");
}

#[tokio::test]
async fn an_unknown_algorithm_is_refused() {
    let amazon = Amazon::new();
    for algorithm in ["RS256", "AMZN-PAY-RSASSA-PSS-V3", "amzn-pay-rsassa-pss-v2", "none"] {
        let code = amazon.refusal(&Button::sign_in().with("algorithm", algorithm)).await;
        assert_eq!(code, "InvalidParameterValue", "{algorithm}");
    }
}

#[tokio::test]
async fn a_wrong_merchant_id_is_refused() {
    let amazon = Amazon::new();
    for merchant in ["A1OTHERMERCHANT", "a1simulatortest", "A1SIMULATORTEST "] {
        let code = amazon.refusal(&Button::sign_in().with("merchantId", merchant)).await;
        assert_eq!(code, "InvalidParameterValue", "{merchant:?}");
    }
}

#[tokio::test]
async fn an_unknown_public_key_id_is_refused() {
    let button = Button::checkout().with("publicKeyId", "SANDBOX-SOMEONEELSESKEY");
    assert_eq!(Amazon::new().refusal(&button).await, "InvalidParameterValue");
}

#[tokio::test]
async fn a_store_id_of_another_merchant_is_refused() {
    let amazon = Amazon::new();
    let other_store = sign_in_payload(SIGNIN_RETURN).replace(STORE_ID, "amzn1.application-oa2-client.other");
    assert_eq!(amazon.refusal(&Button::signed("SignIn", other_store)).await, "InvalidParameterValue");
    let no_store = json!({ "signInReturnUrl": SIGNIN_RETURN, "signInScopes": ["name"] }).to_string();
    assert_eq!(amazon.refusal(&Button::signed("SignIn", no_store)).await, "InvalidParameterValue");
}

#[tokio::test]
async fn a_missing_return_url_is_refused() {
    let amazon = Amazon::new();
    let sign_in = json!({ "storeId": STORE_ID, "signInScopes": ["name"] }).to_string();
    assert_eq!(amazon.refusal(&Button::signed("SignIn", sign_in)).await, "MissingParameterValue");
    let checkout = json!({ "webCheckoutDetails": {}, "storeId": STORE_ID }).to_string();
    assert_eq!(amazon.refusal(&Button::signed("PayAndShip", checkout)).await, "MissingParameterValue");
    let not_a_string = json!({ "signInReturnUrl": 1, "storeId": STORE_ID }).to_string();
    assert_eq!(amazon.refusal(&Button::signed("SignIn", not_a_string)).await, "MissingParameterValue");
}

/// Return URLs that are not on the registered shop origin, each signed correctly by the shop.
const OFF_DOMAIN: &[&str] = &[
    "https://evil.example/api/amazonpay2/signin/return",
    "http://shop.example/api/amazonpay2/signin/return",
    "https://shop.example:8443/return",
    "https://sub.shop.example/return",
    "https://shop.example.evil.example/return",
    "https://shop.example@evil.example/return",
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/return",
    "/api/amazonpay2/signin/return",
    "",
];

#[tokio::test]
async fn an_off_domain_sign_in_return_url_is_refused() {
    let amazon = Amazon::new();
    for url in OFF_DOMAIN {
        let code = amazon.refusal(&Button::signed("SignIn", sign_in_payload(url))).await;
        assert_eq!(code, "InvalidParameterValue", "{url}");
    }
}

#[tokio::test]
async fn an_off_domain_checkout_review_url_is_refused() {
    let amazon = Amazon::new();
    for url in OFF_DOMAIN {
        let code = amazon.refusal(&Button::signed("PayAndShip", checkout_payload(url))).await;
        assert_eq!(code, "InvalidParameterValue", "{url}");
    }
}

#[tokio::test]
async fn live_buttons_need_https_return_urls() {
    let amazon = Amazon::for_shop("http://127.0.0.1:8080");
    let url = "http://127.0.0.1:8080/api/amazonpay2/signin/return";
    let button = Button::signed("SignIn", sign_in_payload(url));
    amazon.initiate(&button).await.flow_id();
    assert_eq!(amazon.refusal(&button.with("environment", "LIVE")).await, "InvalidParameterValue");
}

#[tokio::test]
async fn malformed_payload_json_is_refused() {
    let amazon = Amazon::new();
    let truncated = sign_in_payload(SIGNIN_RETURN)[..40].to_owned();
    for payload in [truncated.as_str(), "not json", "{\"storeId\":", "[]", "null"] {
        let code = amazon.refusal(&Button::signed("SignIn", payload.to_owned())).await;
        assert!(matches!(code.as_str(), "InvalidRequestFormat" | "InvalidParameterValue"), "{payload}: {code}");
    }
    let broken = Button::signed("SignIn", "{\"storeId\":".to_owned());
    assert_eq!(amazon.refusal(&broken).await, "InvalidRequestFormat");
}

#[tokio::test]
async fn a_missing_field_is_refused() {
    let amazon = Amazon::new();
    for field in ["merchantId", "payloadJSON", "signature", "publicKeyId"] {
        assert_eq!(amazon.refusal(&Button::sign_in().without(field)).await, "MissingParameterValue", "{field}");
        assert_eq!(amazon.refusal(&Button::sign_in().with(field, "")).await, "MissingParameterValue", "{field}");
    }
}

#[tokio::test]
async fn an_unknown_product_type_is_refused() {
    let button = Button::sign_in().with("productType", "PayAndShipAndFly");
    assert_eq!(Amazon::new().refusal(&button).await, "InvalidParameterValue");
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_refused() {
    let amazon = Amazon::new();
    let fields: HashMap<_, _> = Button::sign_in().fields.into_iter().collect();
    let request = Request::post("/checkout/initiate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_string(&fields).unwrap()))
        .unwrap();
    assert_eq!(amazon.send(request).await.error_code(), "InvalidRequestFormat");
}

#[tokio::test]
async fn an_oversized_form_is_refused_without_a_crash() {
    let padding = "x".repeat(100 * 1024);
    let reply = Amazon::new().initiate(&Button::sign_in().with("placement", &padding)).await;
    reply.error_code();
}

// ---------------------------------------------------------------------------------------------
// Continuing back to the shop
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn continuing_a_sign_in_returns_to_the_signed_url_with_a_buyer_token() {
    let location = Amazon::new().round_trip(&Button::sign_in()).await;
    assert_eq!(base(&location), "https://shop.example/api/amazonpay2/signin/return");
    let pairs = query(&location);
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["intent", "state", "buyerToken"], "the return URL's own query is kept, in order");
    assert_eq!(pairs[0].1, "login");
    assert_eq!(pairs[1].1, "S1");
    assert!(pairs[2].1.len() >= 32, "an unguessable token");
}

#[tokio::test]
async fn continuing_a_checkout_returns_to_the_review_url_with_the_session_id() {
    let location = Amazon::new().round_trip(&Button::checkout()).await;
    assert_eq!(base(&location), "https://shop.example/api/amazonpay2/checkout/review");
    let pairs = query(&location);
    assert_eq!(pairs[0], ("cart".to_owned(), "c1".to_owned()), "the review URL's own query is kept");
    assert_eq!(pairs[1].0, "amazonCheckoutSessionId");
    let id = &pairs[1].1;
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "a UUID-shaped id: {id}");
}

#[tokio::test]
async fn a_flow_can_be_continued_only_once() {
    let amazon = Amazon::new();
    let flow = amazon.initiate(&Button::sign_in()).await.flow_id();
    amazon.continue_flow(&flow).await.see_other();
    assert_eq!(amazon.continue_flow(&flow).await.error_code(), "InvalidRequest");
}

#[tokio::test]
async fn each_click_gets_its_own_flow_and_buyer_token() {
    let amazon = Amazon::new();
    let first = query(&amazon.round_trip(&Button::sign_in()).await);
    let second = query(&amazon.round_trip(&Button::sign_in()).await);
    assert_ne!(first[2], second[2]);
}

#[tokio::test]
async fn an_unknown_flow_is_refused() {
    let amazon = Amazon::new();
    amazon.initiate(&Button::sign_in()).await.flow_id();
    for flow in ["", "unknown", HOSTILE] {
        let reply = amazon.continue_flow(flow).await;
        assert_eq!(reply.error_code(), "InvalidRequest", "{flow:?}");
    }
    let no_field = amazon.post_form("/checkout/continue", String::new()).await;
    assert_eq!(no_field.error_code(), "InvalidRequest");
}

#[tokio::test]
async fn initiate_auth_returns_a_known_checkout_session_to_its_review_url() {
    let amazon = Amazon::new();
    let review = amazon.round_trip(&Button::checkout()).await;
    let id = query(&review).into_iter().find(|(k, _)| k == "amazonCheckoutSessionId").unwrap().1;
    let uri = format!("/checkout/initiate_auth?amazonCheckoutSessionId={id}");
    assert_eq!(amazon.get(&uri).await.see_other(), review);
}

#[tokio::test]
async fn initiate_auth_refuses_an_unknown_checkout_session() {
    let amazon = Amazon::new();
    for uri in [
        "/checkout/initiate_auth",
        "/checkout/initiate_auth?amazonCheckoutSessionId=",
        "/checkout/initiate_auth?amazonCheckoutSessionId=00000000-0000-0000-0000-000000000000",
    ] {
        assert_eq!(amazon.get(uri).await.error_code(), "ResourceNotFound", "{uri}");
    }
}

#[tokio::test]
async fn initiate_auth_does_not_accept_a_sign_in_buyer_token() {
    let amazon = Amazon::new();
    let token = query(&amazon.round_trip(&Button::sign_in()).await)[2].1.clone();
    let uri = format!("/checkout/initiate_auth?amazonCheckoutSessionId={token}");
    assert_eq!(amazon.get(&uri).await.error_code(), "ResourceNotFound");
}

// ---------------------------------------------------------------------------------------------
// signout and escaping
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signout_grants_cors_with_credentials_to_the_shop_origin_only() {
    let amazon = Amazon::new();
    let shop = amazon.signout(Some(SHOP)).await;
    assert_eq!(shop.status, StatusCode::OK);
    assert_eq!(shop.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(SHOP));
    assert_eq!(shop.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
    for origin in [Some("https://evil.example"), Some("null"), Some("https://shop.example.evil.example"), None] {
        let reply = amazon.signout(origin).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{origin:?}");
        assert!(reply.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none(), "{origin:?}");
    }
}

/// Asserts that `reply` is an error page that shows `HOSTILE` only escaped.
#[track_caller]
fn assert_escaped(reply: &Reply) {
    reply.error_code();
    let text = reply.text();
    assert!(!text.contains("<script>alert") && !text.contains("<img"), "markup echoed raw: {text}");
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the value is shown escaped: {text}");
}

#[tokio::test]
async fn hostile_form_values_are_escaped_on_the_error_page() {
    let amazon = Amazon::new();
    for field in ["merchantId", "publicKeyId", "algorithm", "signature", "productType"] {
        assert_escaped(&amazon.initiate(&Button::sign_in().with(field, HOSTILE)).await);
    }
}

#[tokio::test]
async fn hostile_signed_payload_values_are_escaped_on_the_error_page() {
    let amazon = Amazon::new();
    let store = sign_in_payload(SIGNIN_RETURN).replace(STORE_ID, &HOSTILE.replace('"', "\\\""));
    assert_escaped(&amazon.initiate(&Button::signed("SignIn", store)).await);
    let url = format!("https://evil.example/{HOSTILE}");
    assert_escaped(&amazon.initiate(&Button::signed("SignIn", sign_in_payload(&url))).await);
}

#[tokio::test]
async fn a_hostile_checkout_session_id_is_escaped_on_the_error_page() {
    let amazon = Amazon::new();
    let uri = format!(
        "/checkout/initiate_auth?{}",
        url::form_urlencoded::Serializer::new(String::new()).append_pair("amazonCheckoutSessionId", HOSTILE).finish()
    );
    assert_escaped(&amazon.get(&uri).await);
}

#[tokio::test]
async fn amazons_api_paths_are_served() {
    let amazon = Amazon::new();
    for uri in ["/v2/buyers/token", "/sandbox/v2/buyers/token", "/live/v2/checkoutSessions/id"] {
        // Unsigned: Amazon answers with its JSON error, not "no such path".
        let reply = amazon.get(uri).await;
        assert!(reply.status.is_client_error() && reply.status != StatusCode::NOT_FOUND, "{uri}: {}", reply.status);
        let error: Value = serde_json::from_slice(&reply.body).expect("a JSON error");
        assert!(error["reasonCode"].is_string(), "{uri}: {error}");
    }
}

// ---------------------------------------------------------------------------------------------
// Cancel links
// ---------------------------------------------------------------------------------------------

const SIGNIN_CANCEL: &str = "https://shop.example/member/login.html?from=amazon";
const CHECKOUT_CANCEL: &str = "https://shop.example/shopping/cart.html?canceled=1";

/// The `href` of a page's cancel link, if it has one.
fn cancel_href(reply: &Reply) -> Option<String> {
    between(&reply.text(), "id=\"cancel\" href=\"", "\"").map(|href| href.replace("&amp;", "&"))
}

fn sign_in_with_cancel(cancel: &str) -> Button {
    let payload = json!({
        "signInReturnUrl": SIGNIN_RETURN,
        "signInCancelUrl": cancel,
        "storeId": STORE_ID,
        "signInScopes": ["name", "email"],
    });
    Button::signed("SignIn", payload.to_string())
}

fn checkout_with_cancel(cancel: &str) -> Button {
    let payload = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW_RETURN, "checkoutCancelUrl": cancel },
        "storeId": STORE_ID,
        "scopes": ["name", "email"],
    });
    Button::signed("PayAndShip", payload.to_string())
}

#[tokio::test]
async fn the_sign_in_cancel_link_goes_to_the_sign_in_cancel_url_and_ends_the_flow() {
    let amazon = Amazon::new();
    let page = amazon.initiate(&sign_in_with_cancel(SIGNIN_CANCEL)).await;
    let flow = page.flow_id();
    let href = cancel_href(&page).expect("a cancel link");
    assert_eq!(href, format!("/checkout/cancel?flow={flow}"));
    let back = amazon.get(&href).await.see_other();
    assert_eq!(back.as_str(), SIGNIN_CANCEL, "no buyer token: the buyer did not sign in");
    assert_eq!(amazon.continue_flow(&flow).await.error_code(), "InvalidRequest", "a canceled flow is over");
    assert_eq!(amazon.get(&href).await.error_code(), "InvalidRequest", "and can be canceled once");
}

#[tokio::test]
async fn the_checkout_cancel_link_goes_to_the_checkout_cancel_url() {
    let amazon = Amazon::new();
    let page = amazon.initiate(&checkout_with_cancel(CHECKOUT_CANCEL)).await;
    let flow = page.flow_id();
    let back = amazon.get(&cancel_href(&page).expect("a cancel link")).await.see_other();
    assert_eq!(back.as_str(), CHECKOUT_CANCEL);
    assert_eq!(amazon.continue_flow(&flow).await.error_code(), "InvalidRequest");
}

#[tokio::test]
async fn without_a_cancel_url_the_link_returns_to_the_page_the_button_was_on() {
    let amazon = Amazon::new();
    for button in [Button::sign_in(), Button::checkout()] {
        let page = amazon.initiate(&button.with("origin_url", "https://shop.example/shopping/login.html")).await;
        let back = amazon.get(&cancel_href(&page).expect("a cancel link")).await.see_other();
        assert_eq!(back.as_str(), "https://shop.example/shopping/login.html");
    }
}

#[tokio::test]
async fn without_a_cancel_url_or_a_shop_page_there_is_no_cancel_link() {
    let amazon = Amazon::new();
    for origin_url in ["https://evil.example/phish", "javascript:alert(1)", "", "not a url", "http://shop.example/x"] {
        for button in [Button::sign_in(), Button::checkout()] {
            let page = amazon.initiate(&button.with("origin_url", origin_url)).await;
            page.flow_id();
            assert_eq!(cancel_href(&page), None, "origin_url {origin_url:?}");
        }
    }
    let page = amazon.initiate(&Button::sign_in().without("origin_url")).await;
    assert_eq!(cancel_href(&page), None);
}

#[tokio::test]
async fn the_cancel_url_wins_over_the_page_the_button_was_on() {
    let amazon = Amazon::new();
    let page = amazon.initiate(&sign_in_with_cancel(SIGNIN_CANCEL).with("origin_url", "https://shop.example/")).await;
    assert_eq!(amazon.get(&cancel_href(&page).unwrap()).await.see_other().as_str(), SIGNIN_CANCEL);
}

#[tokio::test]
async fn cancel_urls_off_the_shop_origin_are_refused_like_return_urls() {
    let amazon = Amazon::new();
    for cancel in ["https://evil.example/login", "http://shop.example/login", "not a url", "javascript:alert(1)"] {
        assert_eq!(amazon.refusal(&sign_in_with_cancel(cancel)).await, "InvalidParameterValue", "{cancel}");
        assert_eq!(amazon.refusal(&checkout_with_cancel(cancel)).await, "InvalidParameterValue", "{cancel}");
    }
    let live = sign_in_with_cancel("http://shop.example/login").with("environment", "LIVE");
    assert_eq!(amazon.refusal(&live).await, "InvalidParameterValue");
}

#[tokio::test]
async fn an_unknown_or_hostile_cancel_flow_is_refused() {
    let amazon = Amazon::new();
    for flow in ["", "unknown", HOSTILE] {
        let uri = format!(
            "/checkout/cancel?flow={}",
            url::form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()
        );
        let reply = amazon.get(&uri).await;
        assert_eq!(reply.error_code(), "InvalidRequest", "{flow:?}");
        assert!(!reply.text().contains("<script>"));
    }
}

#[tokio::test]
async fn amazons_page_for_an_unknown_or_hostile_api_session_is_an_error_page() {
    let amazon = Amazon::new();
    for id in ["", "unknown", HOSTILE] {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let reply = amazon.get(&format!("/checkout/initiate?amazonCheckoutSessionId={encoded}")).await;
        assert_eq!(reply.error_code(), "ResourceNotFound", "{id:?}");
        assert!(!reply.text().contains("<script>"));
    }
    assert_eq!(amazon.get("/checkout/initiate").await.error_code(), "ResourceNotFound");
}

#[tokio::test]
async fn the_change_page_cancel_returns_to_the_review_url_unchanged() {
    let amazon = Amazon::new();
    let review = amazon.round_trip(&Button::checkout()).await;
    let id = query(&review).into_iter().find(|(k, _)| k == "amazonCheckoutSessionId").unwrap().1;
    let page =
        amazon.get(&format!("/checkout/initiate_auth?amazonCheckoutSessionId={id}&changeAction=changePayment")).await;
    page.flow_id();
    assert_eq!(between(&page.text(), "id=\"cancel\" href=\"", "\"").unwrap().replace("&amp;", "&"), review.as_str());
}

// ---------------------------------------------------------------------------------------------
// The whole round trip: the shop server's own buttons, on real sockets
// ---------------------------------------------------------------------------------------------

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
        tokio::spawn(async move { axum::serve(shop_listener, app(state, amazonpay2::demo::routes())).await });
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
        .with("merchantDomain", &self.shop);
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
