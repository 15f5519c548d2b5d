#![cfg(not(target_arch = "wasm32"))]
//! The simulator's checkout, over real HTTP: the hosted consent page (test buyers and cards),
//! checkout sessions (get, update, complete) through the shop's own Amazon Pay client, the
//! buyer's payment at `amazonPayRedirectUrl`, charge permissions and charges, Japan's money rules
//! (whole yen, JPY, ¥10,000,000), lifetimes on the simulator clock (24 h sessions, 30-day
//! authorizations), change address/payment, and recurring charges under the ¥100,000 monthly cap
//! of the Japanese calendar month.

mod common;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use serde_json::{Value, json};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};
use url::Url;

use amazonpay2::amazon::canonical;
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::signature::string_to_sign;
use amazonpay2::amazon::types::Money;
use amazonpay2::core::signer::ButtonSigner;
use amazonpay2::core::{AmazonError, AmazonPayClient, Retry};
use amazonpay2::simulator::TEST_BUYERS;
use common::sim::{Serving, SimSocket, account, advance_clock, post_control, shop_key};
use common::text::{between, query_value};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const MERCHANT_ID: &str = "A1CHECKOUTSIMTEST";
const STORE_ID: &str = "amzn1.application-oa2-client.checkoutsimtest000000000000";
const KEY_ID: &str = "SANDBOX-AMAZONPAY2CHECKOUTTESTKEY";
const ALGORITHM: &str = "AMZN-PAY-RSASSA-PSS-V2";
const REVIEW: &str = "https://shop.example/api/amazonpay2/checkout/review?cart=c1";
const RESULT: &str = "https://shop.example/api/amazonpay2/checkout/result";
const PERIODIC_MESSAGE: &str = "You've exceeded the monthly limit for the Charge Permission and must wait until the next month to charge this buyer.";
const DAY: u64 = 24 * 60 * 60;

const VISA: &str = "visa";
const MASTERCARD: &str = "mastercard";
const JCB: &str = "jcb";

/// A one-time PayAndShip button payload.
fn one_time_payload() -> Value {
    json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW },
        "storeId": STORE_ID,
        "scopes": ["name", "email", "phoneNumber", "billingAddress"],
    })
}

/// A monthly subscription's button payload.
fn recurring_payload() -> Value {
    json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW },
        "storeId": STORE_ID,
        "scopes": ["name", "email"],
        "chargePermissionType": "Recurring",
        "recurringMetadata": {
            "frequency": { "unit": "Month", "value": "1" },
            "amount": { "amount": "30000", "currencyCode": "JPY" },
        },
    })
}

/// The update that readies a session for payment.
fn ready(intent: &str, yen: &str, pending: bool) -> Value {
    json!({
        "webCheckoutDetails": { "checkoutResultReturnUrl": RESULT },
        "paymentDetails": {
            "paymentIntent": intent,
            "canHandlePendingAuthorization": pending,
            "chargeAmount": { "amount": yen, "currencyCode": "JPY" },
        },
        "merchantMetadata": {
            "merchantReferenceId": "ORDER-100",
            "merchantStoreName": "Craft Cart",
            "noteToBuyer": "ご注文ありがとうございます",
            "customInformation": "internal",
        },
    })
}

/// Unix seconds of Amazon's basic timestamp (`20261128T101414Z`).
fn parse_timestamp(value: &Value) -> i64 {
    let text = value.as_str().unwrap_or_else(|| panic!("a timestamp, got {value}"));
    PrimitiveDateTime::parse(text, format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .assume_utc()
        .unix_timestamp()
}

fn assert_rejected<T: std::fmt::Debug>(result: Result<T, AmazonError>, status: u16, reason_code: &str) -> String {
    match result {
        Err(AmazonError::Rejected { status: got, reason_code: code, message }) => {
            assert_eq!((got, code.as_str()), (status, reason_code), "{message}");
            assert!(!message.is_empty());
            message
        }
        other => panic!("expected Rejected {{ {status}, {reason_code} }}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator on a real socket
// ---------------------------------------------------------------------------------------------

struct Sim {
    base: Url,
    key: Arc<ShopKey>,
    /// The shop's Amazon Pay client.
    client: AmazonPayClient,
    /// The buyer's browser (and the test controls): redirects are looked at, not followed.
    http: reqwest::Client,
    _task: Serving,
}

/// A hand-signed API answer: status and JSON.
#[derive(Debug)]
struct Raw {
    status: u16,
    body: Value,
}

impl Sim {
    async fn start() -> Sim {
        Self::start_with(None).await
    }

    /// A simulator that browsers reach at `public_origin` (behind a proxy, say).
    async fn start_with(public_origin: Option<&str>) -> Sim {
        let key = shop_key();
        let account = account(MERCHANT_ID, STORE_ID, KEY_ID, true);
        let SimSocket { base, account, http, task } =
            SimSocket::start(account, &key, |simulator| match public_origin {
                Some(origin) => simulator.with_public_origin(origin).router(),
                None => simulator.router(),
            })
            .await;
        let fast = Retry {
            attempts: 2,
            first_delay: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(20),
        };
        let client = AmazonPayClient::new(&base, &account, key.clone()).unwrap().with_retry(fast);
        Sim { base, key, client, http, _task: task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    fn origin(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    // -- the buyer's side ---------------------------------------------------------------------

    /// Clicks a checkout button with `payload`: Amazon's consent page.
    async fn click(&self, payload: &Value) -> String {
        self.click_as(payload, "PayAndShip").await
    }

    /// Clicks a checkout button of `product_type`.
    async fn click_as(&self, payload: &Value, product_type: &str) -> String {
        let payload = payload.to_string();
        let signature = ButtonSigner::new(self.key.clone(), KEY_ID.into()).sign_uncached(&payload).unwrap();
        let page = self
            .http
            .post(self.url("/checkout/initiate"))
            .form(&[
                ("merchantId", MERCHANT_ID),
                ("payloadJSON", &payload),
                ("signature", &signature),
                ("publicKeyId", KEY_ID),
                ("algorithm", ALGORITHM),
                ("productType", product_type),
                ("environment", "SANDBOX"),
                ("checkoutLanguage", "ja_JP"),
                ("ledgerCurrency", "JPY"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "the consent page");
        page.text().await.unwrap()
    }

    /// Posts a hosted form; answers the redirect's location.
    async fn post_choice(&self, fields: &[(&str, &str)]) -> Url {
        let answer = self.http.post(self.url("/checkout/continue")).form(fields).send().await.unwrap();
        let status = answer.status();
        let location = answer.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        assert_eq!(status, 303, "a redirect back to the shop: {}", answer.text().await.unwrap());
        Url::parse(&location.unwrap()).unwrap()
    }

    /// Button → consent page → the buyer's choice → the review URL. Answers the session ID.
    async fn checkout_with(&self, payload: &Value, buyer: usize, card: &str) -> String {
        let page = self.click(payload).await;
        let flow = between(&page, "name=\"flow\" value=\"", "\"").expect("a flow field");
        let back = self.post_choice(&[("flow", &flow), ("buyer", &buyer.to_string()), ("card", card)]).await;
        assert!(back.as_str().starts_with(&format!("{REVIEW}&amazonCheckoutSessionId=")), "{back}");
        let id = query_value(&back, "amazonCheckoutSessionId").unwrap();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "a UUID-shaped id: {id}");
        id
    }

    async fn checkout(&self, card: &str) -> String {
        self.checkout_with(&one_time_payload(), 0, card).await
    }

    /// The buyer at `amazonPayRedirectUrl`; answers where Amazon sends them.
    async fn pay(&self, id: &str) -> Url {
        let session = self.session(id).await;
        let redirect = session["webCheckoutDetails"]["amazonPayRedirectUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no amazonPayRedirectUrl: {session}"))
            .to_owned();
        assert_eq!(redirect, format!("{}/checkout/process/{id}", self.origin()));
        let answer = self.http.get(&redirect).send().await.unwrap();
        assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
        let location = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(location.as_str(), format!("{RESULT}?amazonCheckoutSessionId={id}"));
        location
    }

    /// A hosted page that must be Amazon's error page; answers its error code.
    async fn error_page(&self, response: reqwest::Response) -> String {
        assert_eq!(response.status(), 400);
        assert!(response.headers().get("location").is_none());
        let text = response.text().await.unwrap();
        between(&text, "id=\"error-code\">", "<").unwrap_or_else(|| panic!("an error page: {text}"))
    }

    // -- the shop's side (its Amazon Pay client) -----------------------------------------------

    async fn session(&self, id: &str) -> Value {
        self.client.call(Method::GET, &format!("checkoutSessions/{id}"), None::<&()>).await.unwrap()
    }

    async fn update(&self, id: &str, body: &Value) -> Result<Value, AmazonError> {
        self.client.call(Method::PATCH, &format!("checkoutSessions/{id}"), Some(body)).await
    }

    async fn complete(&self, id: &str, yen: &str) -> Result<Value, AmazonError> {
        let body = json!({ "chargeAmount": { "amount": yen, "currencyCode": "JPY" } });
        self.client.call(Method::POST, &format!("checkoutSessions/{id}/complete"), Some(&body)).await
    }

    async fn charge(&self, id: &str) -> Value {
        self.client.call(Method::GET, &format!("charges/{id}"), None::<&()>).await.unwrap()
    }

    async fn permission(&self, id: &str) -> Value {
        self.client.call(Method::GET, &format!("chargePermissions/{id}"), None::<&()>).await.unwrap()
    }

    /// `POST charges` with `key` as the idempotency key.
    async fn create_charge(&self, body: &Value, key: &str) -> Result<Value, AmazonError> {
        let charge = self.client.create_charge(body, key).await?;
        Ok(self.charge(&charge.charge_id).await)
    }

    /// A cycle of a subscription: `yen` on `permission`, with a fresh idempotency key.
    async fn cycle(&self, permission: &str, yen: u64) -> Result<Value, AmazonError> {
        let body = json!({
            "chargePermissionId": permission,
            "chargeAmount": Money::yen(yen),
            "captureNow": true,
            "canHandlePendingAuthorization": false,
        });
        self.create_charge(&body, &format!("cycle-{permission}-{yen}-{}", rand_suffix())).await
    }

    /// A request signed as the shop's client signs it, with full control over the idempotency
    /// key and the path; answers the status too.
    async fn raw(&self, method: Method, path: &str, body: Option<&Value>, key: Option<&str>) -> Raw {
        let body = body.map(Value::to_string).unwrap_or_default();
        let date = OffsetDateTime::now_utc()
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .unwrap();
        let host = format!("{}:{}", self.base.host_str().unwrap(), self.base.port().unwrap());
        let mut headers = vec![
            ("accept".to_owned(), "application/json".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-amz-pay-date".to_owned(), date),
            ("x-amz-pay-host".to_owned(), host),
        ];
        if let Some(key) = key {
            headers.push(("x-amz-pay-idempotency-key".to_owned(), key.to_owned()));
        }
        headers.push(("x-amz-pay-region".to_owned(), "jp".to_owned()));
        let canonical =
            canonical::canonical_request(method.as_str(), path, "", &headers, &canonical::sha256_hex(body.as_bytes()));
        let signature = self.key.sign(string_to_sign(ALGORITHM, &canonical).as_bytes()).unwrap();
        let authorization = canonical::authorization(
            ALGORITHM,
            KEY_ID,
            &canonical::signed_headers(&headers),
            &BASE64.encode(signature),
        );
        let mut request = self.http.request(method, self.url(path)).header("authorization", authorization);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap();
        Raw { status, body }
    }

    // -- test controls -------------------------------------------------------------------------

    async fn advance_clock(&self, seconds: u64) {
        advance_clock(&self.http, &self.base, seconds).await;
    }

    async fn set_card(&self, permission: &str, card: &str) {
        let body = json!({ "chargePermissionId": permission, "card": card });
        let answer = post_control(&self.http, &self.base, "cards", body).await;
        assert_eq!(answer.status(), 204, "{}", answer.text().await.unwrap());
    }

    /// Button to Completed with `intent` and `yen`; answers the completed session.
    async fn paid(&self, payload: &Value, card: &str, intent: &str, yen: &str) -> Value {
        let id = self.checkout_with(payload, 0, card).await;
        self.update(&id, &ready(intent, yen, false)).await.unwrap();
        self.pay(&id).await;
        let completed = self.complete(&id, yen).await.unwrap();
        assert_eq!(completed["statusDetails"]["state"], "Completed", "{completed}");
        completed
    }
}

fn rand_suffix() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos().unsigned_abs();
    nanos * 1000 + u128::from(COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn assert_permission_id(id: &str) {
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(parts.len(), 3, "{id}");
    assert_eq!(parts[0], "S03", "{id}");
    assert!(parts[1..].iter().all(|p| p.len() == 7 && p.bytes().all(|b| b.is_ascii_digit())), "{id}");
}

fn assert_charge_id(id: &str, permission: &str) {
    let suffix = id.strip_prefix(&format!("{permission}-C")).unwrap_or_else(|| panic!("{id} on {permission}"));
    assert!(suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_digit()), "{id}");
}

fn yen(value: &Value) -> Value {
    json!({ "amount": value.as_str().unwrap(), "currencyCode": "JPY" })
}

// ---------------------------------------------------------------------------------------------
// One-time checkout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn one_time_authorize_end_to_end() {
    let sim = Sim::start().await;
    let page = sim.click(&one_time_payload()).await;
    assert!(page.contains("<form method=\"post\" action=\"/checkout/continue\">"), "{page}");
    for index in 0..TEST_BUYERS.len() {
        assert!(page.contains(&format!("name=\"buyer\" value=\"{index}\"")), "buyer {index} offered");
    }
    for (card, descriptor) in [(VISA, "Visa ****1111"), (MASTERCARD, "Mastercard ****4444"), (JCB, "JCB ****0000")] {
        assert!(page.contains(&format!("name=\"card\" value=\"{card}\"")), "{card} offered");
        assert!(page.contains(descriptor), "{descriptor} shown");
    }
    let flow = between(&page, "name=\"flow\" value=\"", "\"").unwrap();
    let back = sim.post_choice(&[("flow", &flow), ("buyer", "1"), ("card", VISA)]).await;
    assert!(back.as_str().starts_with(&format!("{REVIEW}&amazonCheckoutSessionId=")), "{back}");
    let id = query_value(&back, "amazonCheckoutSessionId").unwrap();

    // The review page reads the session: the buyer's address and card, and what is missing.
    let session = sim.session(&id).await;
    let hanako = &TEST_BUYERS[1];
    assert_eq!(session["checkoutSessionId"], id.as_str());
    assert_eq!(session["statusDetails"]["state"], "Open");
    assert_eq!(session["productType"], "PayAndShip");
    assert_eq!(session["chargePermissionType"], "OneTime");
    assert_eq!(session["releaseEnvironment"], "Sandbox");
    assert_eq!(session["storeId"], STORE_ID);
    assert_eq!(session["buyer"]["name"], hanako.name);
    assert_eq!(session["buyer"]["email"], hanako.email);
    assert_eq!(session["buyer"]["phoneNumber"], hanako.phone);
    assert!(session["buyer"]["buyerId"].as_str().unwrap().starts_with("amzn1.account."));
    let address = &session["shippingAddress"];
    assert_eq!(address["name"], hanako.name);
    assert_eq!(address["postalCode"], hanako.postal_code);
    assert_eq!(address["stateOrRegion"], hanako.prefecture);
    assert_eq!(address["addressLine1"], hanako.line1);
    assert_eq!(address["countryCode"], "JP");
    assert_eq!(session["billingAddress"]["postalCode"], hanako.postal_code);
    assert_eq!(session["paymentPreferences"][0]["paymentDescriptor"], "Visa ****1111");
    assert_eq!(session["webCheckoutDetails"]["checkoutReviewReturnUrl"], REVIEW);
    assert_eq!(session["webCheckoutDetails"]["amazonPayRedirectUrl"], Value::Null);
    let constraints: Vec<&str> =
        session["constraints"].as_array().unwrap().iter().map(|c| c["constraintId"].as_str().unwrap()).collect();
    assert_eq!(constraints, ["ChargeAmountNotSet", "CheckoutResultReturnUrlNotSet", "PaymentIntentNotSet"]);
    let created = parse_timestamp(&session["creationTimestamp"]);
    assert!((created - OffsetDateTime::now_utc().unix_timestamp()).abs() < 60);
    assert_eq!(parse_timestamp(&session["expirationTimestamp"]) - created, 24 * 3600);

    // The typed view the shop's server uses reads the same object.
    let typed = sim.client.get_checkout_session(&id).await.unwrap();
    assert_eq!(typed.status_details.state, "Open");
    assert_eq!(typed.shipping_address.unwrap().postal_code.as_deref(), Some(hanako.postal_code));

    // The shop sets the amount, the intent and the result URL: nothing is missing any more.
    let updated = sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    assert_eq!(updated["constraints"], json!([]));
    assert_eq!(updated["paymentDetails"]["paymentIntent"], "Authorize");
    assert_eq!(updated["paymentDetails"]["chargeAmount"], json!({ "amount": "2750", "currencyCode": "JPY" }));
    assert_eq!(updated["merchantMetadata"]["merchantReferenceId"], "ORDER-100");
    assert_eq!(updated["merchantMetadata"]["noteToBuyer"], "ご注文ありがとうございます");
    assert_eq!(updated["webCheckoutDetails"]["checkoutResultReturnUrl"], RESULT);
    assert_eq!(
        updated["webCheckoutDetails"]["amazonPayRedirectUrl"],
        format!("{}/checkout/process/{id}", sim.origin()).as_str()
    );

    // The buyer pays at Amazon and comes back to the result URL; the session waits for completion.
    sim.pay(&id).await;
    assert_eq!(sim.session(&id).await["statusDetails"]["state"], "Open");

    let completed = sim.complete(&id, "2750").await.unwrap();
    assert_eq!(completed["statusDetails"]["state"], "Completed");
    assert_eq!(completed["shippingAddress"], Value::Null, "the address is shown only while Open");
    let permission_id = completed["chargePermissionId"].as_str().unwrap().to_owned();
    let charge_id = completed["chargeId"].as_str().unwrap().to_owned();
    assert_permission_id(&permission_id);
    assert_charge_id(&charge_id, &permission_id);
    assert_eq!(sim.session(&id).await["chargeId"], charge_id.as_str());

    let charge = sim.charge(&charge_id).await;
    assert_eq!(charge["statusDetails"]["state"], "Authorized");
    assert_eq!(charge["chargePermissionId"], permission_id.as_str());
    assert_eq!(charge["chargeAmount"], json!({ "amount": "2750", "currencyCode": "JPY" }));
    assert_eq!(charge["captureAmount"], Value::Null);
    assert_eq!(charge["captureNow"], false);
    let authorized = parse_timestamp(&charge["creationTimestamp"]);
    assert_eq!(parse_timestamp(&charge["expirationTimestamp"]) - authorized, 30 * DAY as i64);

    let permission = sim.permission(&permission_id).await;
    assert_eq!(permission["statusDetails"]["state"], "Chargeable");
    assert_eq!(permission["chargePermissionType"], "OneTime");
    assert_eq!(permission["limits"]["amountLimit"], json!({ "amount": "2750", "currencyCode": "JPY" }));
    assert_eq!(permission["shippingAddress"]["postalCode"], hanako.postal_code);
    assert_eq!(permission["buyer"]["name"], hanako.name);
    assert_eq!(permission["paymentPreferences"][0]["paymentDescriptor"], "Visa ****1111");
    assert_eq!(permission["merchantMetadata"]["merchantReferenceId"], "ORDER-100");
    let permission_created = parse_timestamp(&permission["creationTimestamp"]);
    assert_eq!(parse_timestamp(&permission["expirationTimestamp"]) - permission_created, 180 * DAY as i64);
}

#[tokio::test]
async fn authorize_with_capture_captures_at_completion() {
    let sim = Sim::start().await;
    let completed = sim.paid(&one_time_payload(), VISA, "AuthorizeWithCapture", "12800").await;
    let charge = sim.charge(completed["chargeId"].as_str().unwrap()).await;
    assert_eq!(charge["statusDetails"]["state"], "Captured");
    assert_eq!(charge["captureNow"], true);
    assert_eq!(charge["captureAmount"], json!({ "amount": "12800", "currencyCode": "JPY" }));
    // Captured in full, a one-time permission's balance is used up: Amazon closes it.
    let permission = sim.permission(completed["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(permission["statusDetails"]["state"], "Closed");
    assert_eq!(permission["statusDetails"]["reasons"][0]["reasonCode"], "AmazonClosed");
    assert_eq!(permission["limits"]["amountLimit"], yen(&json!("12800")));
    assert_eq!(permission["limits"]["amountBalance"], yen(&json!("0")));
}

#[tokio::test]
async fn confirm_completes_without_a_charge() {
    let sim = Sim::start().await;
    let completed = sim.paid(&one_time_payload(), VISA, "Confirm", "5000").await;
    assert_eq!(completed["chargeId"], Value::Null);
    let permission_id = completed["chargePermissionId"].as_str().unwrap();
    // The merchant charges later on the permission.
    let body = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(5000) });
    let charge = sim.create_charge(&body, "confirm-later").await.unwrap();
    assert_eq!(charge["statusDetails"]["state"], "Authorized");
    // A one-time permission's limit is the checkout amount.
    let more = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(1) });
    assert_rejected(sim.create_charge(&more, "confirm-more").await, 400, "TransactionAmountExceeded");
}

#[tokio::test]
async fn a_pay_only_checkout_has_no_shipping_address() {
    let sim = Sim::start().await;
    let page = sim.click_as(&one_time_payload(), "PayOnly").await;
    let flow = between(&page, "name=\"flow\" value=\"", "\"").unwrap();
    let back = sim.post_choice(&[("flow", &flow), ("buyer", "2"), ("card", VISA)]).await;
    let id = query_value(&back, "amazonCheckoutSessionId").unwrap();
    let session = sim.session(&id).await;
    assert_eq!(session["productType"], "PayOnly");
    assert_eq!(session["shippingAddress"], Value::Null);
    assert_eq!(session["buyer"]["name"], TEST_BUYERS[2].name);
    let url = sim.url(&format!("/checkout/initiate_auth?amazonCheckoutSessionId={id}&changeAction=changeAddress"));
    assert_eq!(sim.error_page(sim.http.get(url).send().await.unwrap()).await, "InvalidParameterValue");
    sim.update(&id, &ready("Authorize", "500", false)).await.unwrap();
    sim.pay(&id).await;
    let completed = sim.complete(&id, "500").await.unwrap();
    let permission = sim.permission(completed["chargePermissionId"].as_str().unwrap()).await;
    assert_eq!(permission["shippingAddress"], Value::Null);
}

#[tokio::test]
async fn process_order_mode_pays_on_the_amazon_page() {
    let sim = Sim::start().await;
    let mut payload = one_time_payload();
    payload["webCheckoutDetails"]["checkoutMode"] = json!("ProcessOrder");
    payload["webCheckoutDetails"]["checkoutResultReturnUrl"] = json!(RESULT);
    payload["paymentDetails"] = json!({ "paymentIntent": "Authorize", "chargeAmount": Money::yen(1200) });
    let page = sim.click(&payload).await;
    let flow = between(&page, "name=\"flow\" value=\"", "\"").unwrap();
    let back = sim.post_choice(&[("flow", &flow), ("buyer", "0"), ("card", VISA)]).await;
    assert!(back.as_str().starts_with(&format!("{RESULT}?amazonCheckoutSessionId=")), "straight to the result: {back}");
    let id = query_value(&back, "amazonCheckoutSessionId").unwrap();
    let completed = sim.complete(&id, "1200").await.unwrap();
    assert_eq!(sim.charge(completed["chargeId"].as_str().unwrap()).await["statusDetails"]["state"], "Authorized");
}

#[tokio::test]
async fn an_invalid_button_payload_shows_amazons_error_page() {
    let sim = Sim::start().await;
    let mut payload = one_time_payload();
    payload["paymentDetails"] = json!({ "chargeAmount": { "amount": "10.50", "currencyCode": "JPY" } });
    let signed = payload.to_string();
    let signature = ButtonSigner::new(sim.key.clone(), KEY_ID.into()).sign_uncached(&signed).unwrap();
    let page = sim
        .http
        .post(sim.url("/checkout/initiate"))
        .form(&[
            ("merchantId", MERCHANT_ID),
            ("payloadJSON", signed.as_str()),
            ("signature", &signature),
            ("publicKeyId", KEY_ID),
            ("algorithm", ALGORITHM),
            ("productType", "PayAndShip"),
            ("environment", "SANDBOX"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sim.error_page(page).await, "InvalidParameterValue");
    let page = sim.click(&one_time_payload()).await;
    let flow = between(&page, "name=\"flow\" value=\"", "\"").unwrap();
    let refused = sim.http.post(sim.url("/checkout/continue")).form(&[("flow", flow.as_str()), ("card", "amex")]);
    assert_eq!(sim.error_page(refused.send().await.unwrap()).await, "InvalidParameterValue");
}

#[tokio::test]
async fn a_declining_card_cancels_the_session() {
    let sim = Sim::start().await;
    for (card, pending, cause) in [(MASTERCARD, true, "HardDeclined"), (JCB, false, "ProcessingFailure")] {
        let id = sim.checkout(card).await;
        sim.update(&id, &ready("Authorize", "2750", pending)).await.unwrap();
        sim.pay(&id).await;
        let session = sim.session(&id).await;
        assert_eq!(session["statusDetails"]["state"], "Canceled", "{card}");
        assert_eq!(session["statusDetails"]["reasonCode"], "Declined", "{card}");
        assert!(session["statusDetails"]["reasonDescription"].as_str().unwrap().contains(cause), "{session}");
        assert_eq!(session["shippingAddress"], Value::Null);
        // Completing a session Amazon canceled answers as Amazon does.
        assert_rejected(sim.complete(&id, "2750").await, 422, "CheckoutSessionCanceled");
        assert_rejected(
            sim.update(&id, &ready("Authorize", "2750", pending)).await,
            422,
            "InvalidCheckoutSessionStatus",
        );
        // Back at amazonPayRedirectUrl: nothing more to pay.
        let again = sim.http.get(sim.url(&format!("/checkout/process/{id}"))).send().await.unwrap();
        assert_eq!(sim.error_page(again).await, "InvalidCheckoutSessionStatus");
    }
}

#[tokio::test]
async fn a_pending_authorization_completes_with_202() {
    let sim = Sim::start().await;
    let id = sim.checkout(JCB).await;
    sim.update(&id, &ready("Authorize", "8800", true)).await.unwrap();
    sim.pay(&id).await;
    assert_eq!(sim.session(&id).await["statusDetails"]["state"], "Open");
    let body = json!({ "chargeAmount": Money::yen(8800) });
    let completed =
        sim.raw(Method::POST, &format!("/v2/checkoutSessions/{id}/complete"), Some(&body), Some("k1")).await;
    assert_eq!(completed.status, 202, "{:?}", completed.body);
    assert_eq!(completed.body["statusDetails"]["state"], "Completed");
    let charge_id = completed.body["chargeId"].as_str().unwrap().to_owned();
    let charge = sim.charge(&charge_id).await;
    assert_eq!(charge["statusDetails"]["state"], "AuthorizationInitiated");
    assert_eq!(charge["canHandlePendingAuthorization"], true);

    // Amazon decides later (test control).
    let decided = sim
        .http
        .post(sim.url("/__simulator/authorizations"))
        .json(&json!({ "chargeId": charge_id, "outcome": "Authorized" }))
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 204);
    assert_eq!(sim.charge(&charge_id).await["statusDetails"]["state"], "Authorized");
}

#[tokio::test]
async fn a_visa_completion_answers_200() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    sim.update(&id, &ready("Authorize", "100", false)).await.unwrap();
    sim.pay(&id).await;
    let body = json!({ "chargeAmount": Money::yen(100) });
    let completed = sim.raw(Method::POST, &format!("/v2/checkoutSessions/{id}/complete"), Some(&body), Some("k")).await;
    assert_eq!(completed.status, 200);
}

#[tokio::test]
async fn completing_with_another_amount_is_an_amount_mismatch() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    sim.pay(&id).await;
    assert_rejected(sim.complete(&id, "2751").await, 400, "AmountMismatch");
    assert_rejected(sim.complete(&id, "2749").await, 400, "AmountMismatch");
    assert_eq!(sim.session(&id).await["statusDetails"]["state"], "Open", "unchanged");
    sim.complete(&id, "2750").await.unwrap();
}

#[tokio::test]
async fn completing_before_the_buyer_paid_is_refused() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    assert_rejected(sim.complete(&id, "2750").await, 422, "InvalidCheckoutSessionStatus");
    assert_eq!(sim.session(&id).await["statusDetails"]["state"], "Open");
}

#[tokio::test]
async fn an_open_session_expires_after_24_hours() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    sim.advance_clock(23 * 3600).await;
    assert_eq!(sim.session(&id).await["statusDetails"]["state"], "Open");
    sim.advance_clock(2 * 3600).await;
    let session = sim.session(&id).await;
    assert_eq!(session["statusDetails"]["state"], "Canceled");
    assert_eq!(session["statusDetails"]["reasonCode"], "Expired");
    assert_eq!(session["webCheckoutDetails"]["amazonPayRedirectUrl"], Value::Null);
    assert_eq!(session["shippingAddress"], Value::Null);
    assert_eq!(
        parse_timestamp(&session["statusDetails"]["lastUpdatedTimestamp"]),
        parse_timestamp(&session["expirationTimestamp"])
    );
    assert_rejected(sim.update(&id, &ready("Authorize", "2750", false)).await, 422, "InvalidCheckoutSessionStatus");
    assert_rejected(sim.complete(&id, "2750").await, 422, "CheckoutSessionCanceled");
    let late = sim.http.get(sim.url(&format!("/checkout/process/{id}"))).send().await.unwrap();
    assert_eq!(sim.error_page(late).await, "InvalidCheckoutSessionStatus");
}

#[tokio::test]
async fn a_completed_session_can_be_neither_completed_nor_updated_again() {
    let sim = Sim::start().await;
    let completed = sim.paid(&one_time_payload(), VISA, "Authorize", "2750").await;
    let id = completed["checkoutSessionId"].as_str().unwrap();
    assert_rejected(sim.complete(id, "2750").await, 422, "InvalidCheckoutSessionStatus");
    assert_rejected(sim.update(id, &ready("Authorize", "2750", false)).await, 422, "InvalidCheckoutSessionStatus");
    let session = sim.session(id).await;
    assert_eq!(session["statusDetails"]["state"], "Completed");
    assert_eq!(session["chargeId"], completed["chargeId"], "still the one charge");
}

#[tokio::test]
async fn an_unknown_session_charge_or_permission_is_not_found() {
    let sim = Sim::start().await;
    for resource in [
        "checkoutSessions/00000000-0000-0000-0000-000000000000",
        "chargePermissions/S03-0000000-0000000",
        "charges/S03-0000000-0000000-C000000",
    ] {
        let result: Result<Value, _> = sim.client.call(Method::GET, resource, None::<&()>).await;
        assert_rejected(result, 404, "ResourceNotFound");
    }
    let body = json!({ "chargePermissionId": "S03-0000000-0000000", "chargeAmount": Money::yen(100) });
    assert_rejected(sim.create_charge(&body, "unknown").await, 404, "ResourceNotFound");
    let page = sim.http.get(sim.url("/checkout/process/unknown")).send().await.unwrap();
    assert_eq!(sim.error_page(page).await, "ResourceNotFound");
}

// ---------------------------------------------------------------------------------------------
// Japan's money rules and the update's checks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ten_million_yen_is_the_maximum() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    let top = sim.update(&id, &ready("Authorize", "10000000", false)).await.unwrap();
    assert_eq!(top["paymentDetails"]["chargeAmount"]["amount"], "10000000");
    let message =
        assert_rejected(sim.update(&id, &ready("Authorize", "10000001", false)).await, 400, "InvalidParameterValue");
    assert!(message.contains("10,000,000"), "{message}");
    let session = sim.session(&id).await;
    assert_eq!(session["paymentDetails"]["chargeAmount"]["amount"], "10000000", "a refused update changes nothing");
    sim.pay(&id).await;
    sim.complete(&id, "10000000").await.unwrap();
}

#[tokio::test]
async fn amounts_are_whole_yen() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    for amount in [json!("2750.5"), json!("2750.00"), json!(2750.5), json!("abc"), json!("0"), json!("-1"), json!("")] {
        let mut body = ready("Authorize", "1", false);
        body["paymentDetails"]["chargeAmount"]["amount"] = amount.clone();
        assert_rejected(sim.update(&id, &body).await, 400, "InvalidParameterValue");
        let session = sim.session(&id).await;
        assert_eq!(session["paymentDetails"]["chargeAmount"], Value::Null, "{amount}: nothing changed");
    }
    // A JSON number of whole yen is a price too.
    let mut body = ready("Authorize", "1", false);
    body["paymentDetails"]["chargeAmount"]["amount"] = json!(2750);
    let session = sim.update(&id, &body).await.unwrap();
    assert_eq!(session["paymentDetails"]["chargeAmount"]["amount"], "2750");
}

#[tokio::test]
async fn only_yen_is_accepted() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    let mut body = ready("Authorize", "2750", false);
    body["paymentDetails"]["chargeAmount"]["currencyCode"] = json!("USD");
    assert_rejected(sim.update(&id, &body).await, 400, "CurrencyMismatch");
    sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    sim.pay(&id).await;
    let usd = json!({ "chargeAmount": { "amount": "2750", "currencyCode": "USD" } });
    let result: Result<Value, _> =
        sim.client.call(Method::POST, &format!("checkoutSessions/{id}/complete"), Some(&usd)).await;
    assert_rejected(result, 400, "CurrencyMismatch");
}

#[tokio::test]
async fn the_result_url_must_lie_on_the_shop() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    for url in [
        "https://evil.example/api/amazonpay2/checkout/result",
        "https://shop.example.evil.example/result",
        "http://shop.example/result",
        "https://shop.example:8443/result",
        "/api/amazonpay2/checkout/result",
    ] {
        let mut body = ready("Authorize", "2750", false);
        body["webCheckoutDetails"]["checkoutResultReturnUrl"] = json!(url);
        assert_rejected(sim.update(&id, &body).await, 400, "InvalidParameterValue");
    }
    let session = sim.session(&id).await;
    assert_eq!(session["webCheckoutDetails"]["checkoutResultReturnUrl"], Value::Null);
}

#[tokio::test]
async fn updates_are_checked_field_by_field() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    let mut intent = ready("Authorize", "2750", false);
    intent["paymentDetails"]["paymentIntent"] = json!("Capture");
    assert_rejected(sim.update(&id, &intent).await, 400, "InvalidParameterValue");
    assert_rejected(sim.update(&id, &json!({ "paymentDetail": {} })).await, 400, "UnrecognizedField");
    assert_rejected(
        sim.update(&id, &json!({ "merchantMetadata": { "orderId": "1" } })).await,
        400,
        "UnrecognizedField",
    );
    // Updates add up: the amount first, then the rest.
    let amount = json!({ "paymentDetails": { "chargeAmount": Money::yen(990) } });
    let session = sim.update(&id, &amount).await.unwrap();
    let constraints: Vec<&str> =
        session["constraints"].as_array().unwrap().iter().map(|c| c["constraintId"].as_str().unwrap()).collect();
    assert_eq!(constraints, ["CheckoutResultReturnUrlNotSet", "PaymentIntentNotSet"]);
    let rest = json!({
        "webCheckoutDetails": { "checkoutResultReturnUrl": RESULT },
        "paymentDetails": { "paymentIntent": "Authorize" },
    });
    let session = sim.update(&id, &rest).await.unwrap();
    assert_eq!(session["constraints"], json!([]));
    assert_eq!(session["paymentDetails"]["chargeAmount"]["amount"], "990");
    // Once the buyer has paid, only completion is left.
    sim.pay(&id).await;
    assert_rejected(sim.update(&id, &amount).await, 422, "InvalidCheckoutSessionStatus");
    // A session that is not ready has no payment page.
    let other = sim.checkout(VISA).await;
    let page = sim.http.get(sim.url(&format!("/checkout/process/{other}"))).send().await.unwrap();
    assert_eq!(sim.error_page(page).await, "InvalidCheckoutSessionStatus");
}

#[tokio::test]
async fn the_api_answers_under_every_environment_path() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    for path in [
        format!("/v2/checkoutSessions/{id}"),
        format!("/v2/checkoutSessions/{id}/"),
        format!("/sandbox/v2/checkoutSessions/{id}"),
        format!("/live/v2/checkoutSessions/{id}/"),
    ] {
        let answer = sim.raw(Method::GET, &path, None, None).await;
        assert_eq!(answer.status, 200, "{path}: {:?}", answer.body);
        assert_eq!(answer.body["checkoutSessionId"], id.as_str());
    }
}

#[tokio::test]
async fn the_payment_page_lies_on_the_public_origin_when_one_is_set() {
    let sim = Sim::start_with(Some("https://amazon.example:8443/")).await;
    let id = sim.checkout(VISA).await;
    let session = sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    assert_eq!(
        session["webCheckoutDetails"]["amazonPayRedirectUrl"],
        format!("https://amazon.example:8443/checkout/process/{id}").as_str()
    );
}

// ---------------------------------------------------------------------------------------------
// Change address / payment (amazon.Pay.bindChangeAction)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_buyer_changes_address_and_payment_through_initiate_auth() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    let change =
        |action: &str| sim.url(&format!("/checkout/initiate_auth?amazonCheckoutSessionId={id}&changeAction={action}"));

    let page = sim.http.get(change("changeAddress")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("name=\"address\" value=\"0\" checked"), "the current address is chosen: {page}");
    for buyer in &TEST_BUYERS {
        assert!(page.contains(buyer.postal_code), "{} offered", buyer.postal_code);
    }
    let flow = between(&page, "name=\"flow\" value=\"", "\"").unwrap();
    let back = sim.post_choice(&[("flow", &flow), ("address", "2")]).await;
    assert_eq!(back.as_str(), format!("{REVIEW}&amazonCheckoutSessionId={id}"));
    let session = sim.session(&id).await;
    assert_eq!(session["shippingAddress"]["postalCode"], TEST_BUYERS[2].postal_code);
    assert_eq!(session["shippingAddress"]["name"], TEST_BUYERS[2].name);
    assert_eq!(session["buyer"]["name"], TEST_BUYERS[0].name, "the account stays the same");
    // A flow is used once.
    let replay =
        sim.http.post(sim.url("/checkout/continue")).form(&[("flow", flow.as_str()), ("address", "1")]).send().await;
    assert_eq!(sim.error_page(replay.unwrap()).await, "InvalidRequest");

    let page = sim.http.get(change("changePayment")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"card\" value=\"visa\" checked"), "{page}");
    let flow = between(&page, "name=\"flow\" value=\"", "\"").unwrap();
    sim.post_choice(&[("flow", &flow), ("card", MASTERCARD)]).await;
    let session = sim.session(&id).await;
    assert_eq!(session["paymentPreferences"][0]["paymentDescriptor"], "Mastercard ****4444");

    // The new card is the one charged: it declines.
    sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    sim.pay(&id).await;
    assert_eq!(sim.session(&id).await["statusDetails"]["reasonCode"], "Declined");
    // A closed session cannot be changed.
    let late = sim.http.get(change("changePayment")).send().await.unwrap();
    assert_eq!(sim.error_page(late).await, "InvalidCheckoutSessionStatus");
    let bad = sim.http.get(change("changeEverything")).send().await.unwrap();
    assert_eq!(sim.error_page(bad).await, "InvalidParameterValue");
}

#[tokio::test]
async fn a_changed_card_is_used_for_the_payment() {
    let sim = Sim::start().await;
    let id = sim.checkout(MASTERCARD).await;
    let url = sim.url(&format!("/checkout/initiate_auth?amazonCheckoutSessionId={id}&changeAction=changePayment"));
    let page = sim.http.get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"card\" value=\"mastercard\" checked"), "{page}");
    let flow = between(&page, "name=\"flow\" value=\"", "\"").unwrap();
    sim.post_choice(&[("flow", &flow), ("card", VISA)]).await;
    sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    sim.pay(&id).await;
    let completed = sim.complete(&id, "2750").await.unwrap();
    let charge = sim.charge(completed["chargeId"].as_str().unwrap()).await;
    assert_eq!(charge["statusDetails"]["state"], "Authorized");
}

// ---------------------------------------------------------------------------------------------
// Recurring
// ---------------------------------------------------------------------------------------------

/// Seconds from `now` to `seconds` after midnight JST of the next month's 1st (may be negative).
fn to_next_jst_month(now: i64, seconds: i64) -> i64 {
    let jst = OffsetDateTime::from_unix_timestamp(now + 9 * 3600).unwrap();
    let (year, month) = match jst.month() {
        time::Month::December => (jst.year() + 1, time::Month::January),
        month => (jst.year(), month.next()),
    };
    let first = Date::from_calendar_date(year, month, 1).unwrap().midnight().assume_utc().unix_timestamp();
    first - 9 * 3600 + seconds - now
}

#[tokio::test]
async fn a_subscription_charges_each_cycle_within_the_monthly_cap() {
    let sim = Sim::start().await;
    let id = sim.checkout_with(&recurring_payload(), 0, VISA).await;
    let session = sim.session(&id).await;
    assert_eq!(session["chargePermissionType"], "Recurring");
    assert_eq!(session["recurringMetadata"]["frequency"], json!({ "unit": "Month", "value": "1" }));
    assert_eq!(session["recurringMetadata"]["amount"], json!({ "amount": "30000", "currencyCode": "JPY" }));
    // A Recurring session over the monthly limit is refused at once.
    let message =
        assert_rejected(sim.update(&id, &ready("Authorize", "100001", false)).await, 400, "PeriodicAmountExceeded");
    assert_eq!(message, PERIODIC_MESSAGE);

    // The first month: the checkout's 30000, then 70000 more makes exactly the cap.
    sim.update(&id, &ready("AuthorizeWithCapture", "30000", false)).await.unwrap();
    sim.pay(&id).await;
    let completed = sim.complete(&id, "30000").await.unwrap();
    let permission_id = completed["chargePermissionId"].as_str().unwrap().to_owned();
    let permission = sim.permission(&permission_id).await;
    assert_eq!(permission["chargePermissionType"], "Recurring");
    assert_eq!(permission["statusDetails"]["state"], "Chargeable");
    assert_eq!(permission["limits"]["amountLimit"], json!({ "amount": "100000", "currencyCode": "JPY" }));
    assert_eq!(permission["limits"]["amountBalance"], json!({ "amount": "70000", "currencyCode": "JPY" }));
    assert_eq!(permission["recurringMetadata"]["frequency"]["unit"], "Month");

    let second = sim.cycle(&permission_id, 70000).await.unwrap();
    assert_eq!(second["statusDetails"]["state"], "Captured");
    assert_charge_id(second["chargeId"].as_str().unwrap(), &permission_id);
    assert_eq!(sim.permission(&permission_id).await["limits"]["amountBalance"]["amount"], "0");
    let message = assert_rejected(sim.cycle(&permission_id, 1).await, 400, "PeriodicAmountExceeded");
    assert_eq!(message, PERIODIC_MESSAGE);

    // The cap is the Japanese calendar month: still refused just before midnight JST of the 1st…
    let now = parse_timestamp(&second["creationTimestamp"]);
    let wait = to_next_jst_month(now, -5);
    sim.advance_clock(u64::try_from(wait).unwrap()).await;
    assert_rejected(sim.cycle(&permission_id, 1).await, 400, "PeriodicAmountExceeded");
    // …and reset just after it.
    sim.advance_clock(10).await;
    assert_eq!(sim.permission(&permission_id).await["limits"]["amountBalance"]["amount"], "100000");
    assert_rejected(sim.cycle(&permission_id, 100001).await, 400, "PeriodicAmountExceeded");
    let renewed = sim.cycle(&permission_id, 100000).await.unwrap();
    assert_eq!(renewed["statusDetails"]["state"], "Captured");
    let created =
        OffsetDateTime::from_unix_timestamp(parse_timestamp(&renewed["creationTimestamp"]) + 9 * 3600).unwrap();
    assert_eq!((created.day(), created.hour()), (1, 0), "charged on the 1st, just after midnight JST");
    assert_rejected(sim.cycle(&permission_id, 1).await, 400, "PeriodicAmountExceeded");
}

#[tokio::test]
async fn create_charge_is_idempotent_per_key() {
    let sim = Sim::start().await;
    let completed = sim.paid(&recurring_payload(), VISA, "Confirm", "1000").await;
    let permission_id = completed["chargePermissionId"].as_str().unwrap();
    let body = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(1000), "captureNow": true });

    let first = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("cycle-2026-11")).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("cycle-2026-11")).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["chargeId"], first.body["chargeId"], "the same charge, not a second one");
    // Through the shop's client too, with its own key.
    let typed = sim.client.create_charge(&body, "cycle-2026-11").await.unwrap();
    assert_eq!(typed.charge_id, first.body["chargeId"].as_str().unwrap());
    let permission = sim.permission(permission_id).await;
    assert_eq!(permission["limits"]["amountBalance"]["amount"], "99000", "charged once");

    let other = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(2000), "captureNow": true });
    let reused = sim.raw(Method::POST, "/v2/charges", Some(&other), Some("cycle-2026-11")).await;
    assert_eq!(reused.status, 400);
    assert_eq!(reused.body["reasonCode"], "DuplicateIdempotencyKey");
    assert_rejected(sim.client.create_charge(&other, "cycle-2026-11").await, 400, "DuplicateIdempotencyKey");

    let keyless = sim.raw(Method::POST, "/v2/charges", Some(&body), None).await;
    assert_eq!(keyless.status, 400);
    assert_eq!(keyless.body["reasonCode"], "MissingHeaderValue");
    assert_eq!(keyless.body.as_object().unwrap().len(), 2, "Amazon's error envelope: {:?}", keyless.body);
}

#[tokio::test]
async fn a_declining_card_gives_a_declined_charge() {
    let sim = Sim::start().await;
    let completed = sim.paid(&recurring_payload(), VISA, "AuthorizeWithCapture", "3000").await;
    let permission_id = completed["chargePermissionId"].as_str().unwrap().to_owned();

    sim.set_card(&permission_id, "decline").await;
    assert_eq!(
        sim.permission(&permission_id).await["paymentPreferences"][0]["paymentDescriptor"],
        "Mastercard ****4444"
    );
    let body = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(3000), "captureNow": true });
    let declined = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("declined-cycle")).await;
    assert_eq!(declined.status, 201, "{:?}", declined.body);
    assert_eq!(declined.body["statusDetails"]["state"], "Declined");
    assert_eq!(declined.body["statusDetails"]["reasonCode"], "HardDeclined");
    assert_eq!(declined.body["captureAmount"], Value::Null);
    let balance = sim.permission(&permission_id).await["limits"]["amountBalance"]["amount"].clone();
    assert_eq!(balance, "97000", "a declined charge does not use the monthly limit");

    sim.set_card(&permission_id, "pending").await;
    let mut pending = body.clone();
    pending["canHandlePendingAuthorization"] = json!(true);
    let charge = sim.create_charge(&pending, "pending-cycle").await.unwrap();
    assert_eq!(charge["statusDetails"]["state"], "AuthorizationInitiated");
    let charge = sim.create_charge(&body, "pending-unhandled").await.unwrap();
    assert_eq!(charge["statusDetails"]["state"], "Declined");
    assert_eq!(charge["statusDetails"]["reasonCode"], "ProcessingFailure");

    sim.set_card(&permission_id, "visa").await;
    let charge = sim.create_charge(&body, "recovered").await.unwrap();
    assert_eq!(charge["statusDetails"]["state"], "Captured");

    let bad = sim
        .http
        .post(sim.url("/__simulator/cards"))
        .json(&json!({ "chargePermissionId": permission_id, "card": "amex" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

// ---------------------------------------------------------------------------------------------
// Lifetimes of authorizations and permissions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unused_authorization_expires_after_30_days() {
    let sim = Sim::start().await;
    let completed = sim.paid(&one_time_payload(), VISA, "Authorize", "4400").await;
    let charge_id = completed["chargeId"].as_str().unwrap();
    sim.advance_clock(29 * DAY).await;
    assert_eq!(sim.charge(charge_id).await["statusDetails"]["state"], "Authorized");
    sim.advance_clock(DAY + 60).await;
    let charge = sim.charge(charge_id).await;
    assert_eq!(charge["statusDetails"]["state"], "Canceled");
    assert_eq!(charge["statusDetails"]["reasonCode"], "ExpiredUnused");
    assert_eq!(
        parse_timestamp(&charge["statusDetails"]["lastUpdatedTimestamp"]),
        parse_timestamp(&charge["expirationTimestamp"])
    );
    // The expired authorization frees the permission's balance for a new one.
    let permission_id = completed["chargePermissionId"].as_str().unwrap();
    let body = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(4400) });
    let renewed = sim.create_charge(&body, "reauthorize").await.unwrap();
    assert_eq!(renewed["statusDetails"]["state"], "Authorized");
}

#[tokio::test]
async fn a_one_time_permission_closes_after_180_days() {
    let sim = Sim::start().await;
    let completed = sim.paid(&one_time_payload(), VISA, "Confirm", "4400").await;
    let permission_id = completed["chargePermissionId"].as_str().unwrap();
    sim.advance_clock(180 * DAY + 1).await;
    let permission = sim.permission(permission_id).await;
    assert_eq!(permission["statusDetails"]["state"], "Closed");
    assert_eq!(permission["statusDetails"]["reasons"][0]["reasonCode"], "Expired");
    let body = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(4400) });
    assert_rejected(sim.create_charge(&body, "too-late").await, 422, "InvalidChargePermissionStatus");
}
