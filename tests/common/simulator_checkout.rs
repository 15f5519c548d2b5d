//! The Amazon Pay simulator on a real socket for its checkout tests: the buyer's side (a
//! button's click, the choice on the consent page, the payment at `amazonPayRedirectUrl`), the
//! shop's side through its own Amazon Pay client, requests signed by hand, and the simulator's
//! test controls (clock, cards).

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use serde_json::{Value, json};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use url::Url;

use amazonpay2::amazon::canonical;
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::signature::string_to_sign;
use amazonpay2::amazon::types::Money;
use amazonpay2::core::signer::ButtonSigner;
use amazonpay2::core::{AmazonError, AmazonPayClient, Retry};

use super::sim::{Serving, SimSocket, account, advance_clock, post_control, shop_key};
use super::text::{between, query_value};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

pub const MERCHANT_ID: &str = "A1CHECKOUTSIMTEST";
pub const STORE_ID: &str = "amzn1.application-oa2-client.checkoutsimtest000000000000";
pub const KEY_ID: &str = "SANDBOX-AMAZONPAY2CHECKOUTTESTKEY";
pub const ALGORITHM: &str = "AMZN-PAY-RSASSA-PSS-V2";
pub const REVIEW: &str = "https://shop.example/api/amazonpay2/checkout/review?cart=c1";
pub const RESULT: &str = "https://shop.example/api/amazonpay2/checkout/result";
pub const DAY: u64 = 24 * 60 * 60;

pub const VISA: &str = "visa";
pub const MASTERCARD: &str = "mastercard";
pub const JCB: &str = "jcb";

/// A one-time PayAndShip button payload.
pub fn one_time_payload() -> Value {
    json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW },
        "storeId": STORE_ID,
        "scopes": ["name", "email", "phoneNumber", "billingAddress"],
    })
}

/// The update that readies a session for payment.
pub fn ready(intent: &str, yen: &str, pending: bool) -> Value {
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
pub fn parse_timestamp(value: &Value) -> i64 {
    let text = value.as_str().unwrap_or_else(|| panic!("a timestamp, got {value}"));
    PrimitiveDateTime::parse(text, format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .assume_utc()
        .unix_timestamp()
}

pub fn assert_rejected<T: std::fmt::Debug>(result: Result<T, AmazonError>, status: u16, reason_code: &str) -> String {
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

pub struct Sim {
    pub base: Url,
    pub key: Arc<ShopKey>,
    /// The shop's Amazon Pay client.
    pub client: AmazonPayClient,
    /// The buyer's browser (and the test controls): redirects are looked at, not followed.
    pub http: reqwest::Client,
    pub _task: Serving,
}

impl Sim {
    pub async fn start() -> Sim {
        Self::start_with(None).await
    }

    /// A simulator that browsers reach at `public_origin` (behind a proxy, say).
    pub async fn start_with(public_origin: Option<&str>) -> Sim {
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
        let client = AmazonPayClient::new(&base, &account, key.clone()).unwrap().with_retry(fast).without_pacing();
        Sim { base, key, client, http, _task: task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    pub fn origin(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    // -- the buyer's side ---------------------------------------------------------------------

    /// Clicks a checkout button with `payload`: Amazon's consent page.
    pub async fn click(&self, payload: &Value) -> String {
        self.click_as(payload, "PayAndShip").await
    }

    /// Clicks a checkout button of `product_type`.
    pub async fn click_as(&self, payload: &Value, product_type: &str) -> String {
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
    pub async fn post_choice(&self, fields: &[(&str, &str)]) -> Url {
        let answer = self.http.post(self.url("/checkout/continue")).form(fields).send().await.unwrap();
        let status = answer.status();
        let location = answer.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        assert_eq!(status, 303, "a redirect back to the shop: {}", answer.text().await.unwrap());
        Url::parse(&location.unwrap()).unwrap()
    }

    /// Button → consent page → the buyer's choice → the review URL. Answers the session ID.
    pub async fn checkout_with(&self, payload: &Value, buyer: usize, card: &str) -> String {
        let page = self.click(payload).await;
        let flow = between(&page, "name=\"flow\" value=\"", "\"").expect("a flow field");
        let back = self.post_choice(&[("flow", &flow), ("buyer", &buyer.to_string()), ("card", card)]).await;
        assert!(back.as_str().starts_with(&format!("{REVIEW}&amazonCheckoutSessionId=")), "{back}");
        let id = query_value(&back, "amazonCheckoutSessionId").unwrap();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "a UUID-shaped id: {id}");
        id
    }

    pub async fn checkout(&self, card: &str) -> String {
        self.checkout_with(&one_time_payload(), 0, card).await
    }

    /// The buyer at `amazonPayRedirectUrl`; answers where Amazon sends them.
    pub async fn pay(&self, id: &str) -> Url {
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
    pub async fn error_page(&self, response: reqwest::Response) -> String {
        assert_eq!(response.status(), 400);
        assert!(response.headers().get("location").is_none());
        let text = response.text().await.unwrap();
        between(&text, "id=\"error-code\">", "<").unwrap_or_else(|| panic!("an error page: {text}"))
    }

    // -- the shop's side (its Amazon Pay client) -----------------------------------------------

    pub async fn session(&self, id: &str) -> Value {
        self.client.call(Method::GET, &format!("checkoutSessions/{id}"), None::<&()>).await.unwrap()
    }

    pub async fn update(&self, id: &str, body: &Value) -> Result<Value, AmazonError> {
        self.client.call(Method::PATCH, &format!("checkoutSessions/{id}"), Some(body)).await
    }

    pub async fn complete(&self, id: &str, yen: &str) -> Result<Value, AmazonError> {
        let body = json!({ "chargeAmount": { "amount": yen, "currencyCode": "JPY" } });
        self.client.call(Method::POST, &format!("checkoutSessions/{id}/complete"), Some(&body)).await
    }

    pub async fn charge(&self, id: &str) -> Value {
        self.client.call(Method::GET, &format!("charges/{id}"), None::<&()>).await.unwrap()
    }

    pub async fn permission(&self, id: &str) -> Value {
        self.client.call(Method::GET, &format!("chargePermissions/{id}"), None::<&()>).await.unwrap()
    }

    /// `POST charges` with `key` as the idempotency key.
    pub async fn create_charge(&self, body: &Value, key: &str) -> Result<Value, AmazonError> {
        let charge = self.client.create_charge(body, key).await?;
        Ok(self.charge(&charge.charge_id).await)
    }

    /// A cycle of a subscription: `yen` on `permission`, with a fresh idempotency key.
    pub async fn cycle(&self, permission: &str, yen: u64) -> Result<Value, AmazonError> {
        let body = json!({
            "chargePermissionId": permission,
            "chargeAmount": Money::yen(yen),
            "captureNow": true,
            "canHandlePendingAuthorization": false,
        });
        self.create_charge(&body, &format!("cycle-{}", rand_suffix())).await
    }

    /// A request signed as the shop's client signs it, with full control over the idempotency
    /// key and the path; answers the status too.
    pub async fn raw(&self, method: Method, path: &str, body: Option<&Value>, key: Option<&str>) -> Raw {
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

    pub async fn advance_clock(&self, seconds: u64) {
        advance_clock(&self.http, &self.base, seconds).await;
    }

    pub async fn set_card(&self, permission: &str, card: &str) {
        let body = json!({ "chargePermissionId": permission, "card": card });
        let answer = post_control(&self.http, &self.base, "cards", body).await;
        assert_eq!(answer.status(), 204, "{}", answer.text().await.unwrap());
    }

    /// Button to Completed with `intent` and `yen`; answers the completed session.
    pub async fn paid(&self, payload: &Value, card: &str, intent: &str, yen: &str) -> Value {
        let id = self.checkout_with(payload, 0, card).await;
        self.update(&id, &ready(intent, yen, false)).await.unwrap();
        self.pay(&id).await;
        let completed = self.complete(&id, yen).await.unwrap();
        assert_eq!(completed["statusDetails"]["state"], "Completed", "{completed}");
        completed
    }
}

/// A hand-signed API answer: status and JSON.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub body: Value,
}

pub fn rand_suffix() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos().unsigned_abs();
    nanos * 1000 + u128::from(COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub fn assert_charge_id(id: &str, permission: &str) {
    let suffix = id.strip_prefix(&format!("{permission}-C")).unwrap_or_else(|| panic!("{id} on {permission}"));
    assert!(suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_digit()), "{id}");
}
