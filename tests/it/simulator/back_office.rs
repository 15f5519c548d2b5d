//! After the order, against the simulator on a socket through the shop's own Amazon Pay client:
//! capture (実売上, 減額), cancel (キャンセル), refunds (返金), charge permissions (get, update,
//! close), createCheckoutSession through the API, and the Seller Central and settlement
//! controls, with Amazon's rules in Japan: whole yen up to the authorized amount, one capture per
//! charge, idempotency replay and mismatch, asynchronous captures after 7 days, the refund
//! ceiling (captured + min(15 %, ¥8,400)), closure when a one-time permission is captured in full.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::common::sim::{SHOP, SimSocket, account, advance_clock, ready, shop_key};
use amazonpay2::amazon::canonical;
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::signature::string_to_sign;
use amazonpay2::amazon::types::Money;
use amazonpay2::core::{AmazonError, AmazonPayClient};

const MERCHANT_ID: &str = "A1BACKOFFICETEST";
const STORE_ID: &str = "amzn1.application-oa2-client.backofficetest0000000000000";
const KEY_ID: &str = "SANDBOX-AMAZONPAY2BACKOFFICEKEY";
const REVIEW: &str = "https://shop.example/api/amazonpay2/checkout/review";
const DAY: u64 = 24 * 60 * 60;

fn one_time() -> Value {
    json!({ "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW }, "storeId": STORE_ID, "scopes": ["name", "email"] })
}

fn recurring() -> Value {
    json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW },
        "storeId": STORE_ID,
        "chargePermissionType": "Recurring",
        "recurringMetadata": { "frequency": { "unit": "Month", "value": "1" } },
    })
}

#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(result: Result<T, AmazonError>, status: u16, reason_code: &str) -> String {
    match result {
        Err(AmazonError::Rejected { status: got, reason_code: code, message }) => {
            assert_eq!((got, code.as_str()), (status, reason_code), "{message}");
            message
        }
        other => panic!("expected Rejected {{ {status}, {reason_code} }}, got {other:?}"),
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", OffsetDateTime::now_utc().unix_timestamp_nanos(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The simulator, the shop's key and client.
struct Amazon {
    sim: SimSocket,
    key: Arc<ShopKey>,
    client: AmazonPayClient,
}

/// A completed checkout.
struct Order {
    permission: String,
    charge: String,
}

/// A raw answer.
struct Raw {
    status: u16,
    body: Value,
}

impl Amazon {
    async fn start() -> Self {
        let key = shop_key();
        let sim = SimSocket::start(account(MERCHANT_ID, STORE_ID, KEY_ID, true), &key, |s| s.router()).await;
        let client = sim.client(&key);
        Self { sim, key, client }
    }

    /// Button to Completed: `intent` for `yen` with `card` on `payload`.
    async fn order_with(&self, payload: &Value, card: &str, intent: &str, yen: u64) -> Order {
        let id = self.sim.choose(&self.key, payload, card).await;
        let session = self.client.update_checkout_session(&id, &ready(intent, yen)).await.unwrap();
        self.sim.pay(session.web_checkout_details.unwrap().amazon_pay_redirect_url.as_deref().unwrap()).await;
        let completed = self.client.complete_checkout_session(&id, &Money::yen(yen), &unique()).await.unwrap();
        Order { permission: completed.charge_permission_id.unwrap(), charge: completed.charge_id.unwrap_or_default() }
    }

    /// An authorized one-time order of `yen`.
    async fn order(&self, yen: u64) -> Order {
        self.order_with(&one_time(), "visa", "Authorize", yen).await
    }

    async fn capture(&self, charge: &str, yen: u64) -> Result<amazonpay2::amazon::types::Charge, AmazonError> {
        self.client.capture_charge(charge, &Money::yen(yen), &unique()).await
    }

    async fn refund(&self, charge: &str, yen: u64) -> Result<amazonpay2::amazon::types::Refund, AmazonError> {
        self.client.create_refund(charge, &Money::yen(yen), &unique()).await
    }

    async fn state(&self, charge: &str) -> String {
        self.client.get_charge(charge).await.unwrap().status_details.state.into()
    }

    async fn advance(&self, seconds: u64) {
        advance_clock(&self.sim.http, &self.sim.base, seconds).await;
    }

    async fn control(&self, control: &str, body: Value) -> (u16, Value) {
        let answer = self.sim.control(control, body).await;
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    /// A request signed as an SDK signs it, at `path` as given (any environment prefix, the .NET
    /// SDK's trailing slash), with the idempotency key `key`.
    async fn raw(&self, method: Method, path: &str, body: Option<&Value>, key: Option<&str>) -> Raw {
        let body = body.map(Value::to_string).unwrap_or_default();
        let date = OffsetDateTime::now_utc()
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .unwrap();
        let host = format!("{}:{}", self.sim.base.host_str().unwrap(), self.sim.base.port().unwrap());
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
        let algorithm = "AMZN-PAY-RSASSA-PSS-V2";
        let signature = self.key.sign(string_to_sign(algorithm, &canonical).as_bytes()).unwrap();
        let authorization = canonical::authorization(
            algorithm,
            KEY_ID,
            &canonical::signed_headers(&headers),
            &BASE64.encode(signature),
        );
        let mut request = self.sim.http.request(method, self.sim.url(path)).header("authorization", authorization);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        Raw { status, body: response.json().await.unwrap_or(Value::Null) }
    }
}

// ---------------------------------------------------------------------------------------------
// Capture (実売上) and reduction (減額)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_capture_of_the_authorized_amount_captures_and_closes_the_one_time_permission() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2750).await;
    let charge = amazon.capture(&order.charge, 2750).await.unwrap();
    assert_eq!(charge.status_details.state, "Captured");
    assert_eq!(charge.capture_amount, Some(Money::yen(2750)));
    assert_eq!(charge.charge_amount, Some(Money::yen(2750)));
    assert_eq!(charge.refunded_amount, Some(Money::yen(0)));
    assert_eq!(amazon.client.get_charge(&order.charge).await.unwrap(), charge, "getCharge says the same");
    let permission = amazon.client.get_charge_permission(&order.permission).await.unwrap();
    assert_eq!(permission.status_details.state, "Closed", "its balance is used up");
    assert_eq!(permission.status_details.reasons.unwrap()[0].reason_code, "AmazonClosed");
    assert_eq!(permission.limits.unwrap().amount_balance, Some(Money::yen(0)));
}

#[tokio::test]
async fn a_smaller_capture_reduces_the_order_down_to_one_yen_and_leaves_the_rest_chargeable() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2750).await;
    let charge = amazon.capture(&order.charge, 1).await.unwrap();
    assert_eq!((charge.status_details.state.as_str(), charge.capture_amount), ("Captured", Some(Money::yen(1))));
    let permission = amazon.client.get_charge_permission(&order.permission).await.unwrap();
    assert_eq!(permission.status_details.state, "Chargeable");
    assert_eq!(permission.limits.as_ref().unwrap().amount_balance, Some(Money::yen(2749)));
    // The rest can be charged and captured with a new charge; then the permission closes.
    let body = json!({ "chargePermissionId": order.permission, "chargeAmount": Money::yen(2749) });
    let second = amazon.client.create_charge(&body, &unique()).await.unwrap();
    amazon.capture(&second.charge_id, 2749).await.unwrap();
    let permission = amazon.client.get_charge_permission(&order.permission).await.unwrap();
    assert_eq!(permission.status_details.state, "Closed");
    let more = json!({ "chargePermissionId": order.permission, "chargeAmount": Money::yen(1) });
    assert_rejected(amazon.client.create_charge(&more, &unique()).await, 422, "InvalidChargePermissionStatus");
}

#[tokio::test]
async fn a_capture_above_the_authorized_amount_or_not_in_whole_yen_is_refused_and_changes_nothing() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2750).await;
    assert_rejected(amazon.capture(&order.charge, 2751).await, 400, "TransactionAmountExceeded");
    for (amount, code) in [
        (json!({ "amount": "0", "currencyCode": "JPY" }), "InvalidParameterValue"),
        (json!({ "amount": "100.5", "currencyCode": "JPY" }), "InvalidParameterValue"),
        (json!({ "amount": "-1", "currencyCode": "JPY" }), "InvalidParameterValue"),
        (json!({ "amount": "10", "currencyCode": "USD" }), "CurrencyMismatch"),
        (json!({ "amount": "10000001", "currencyCode": "JPY" }), "InvalidParameterValue"),
        (json!({ "amount": "10" }), "MissingParameterValue"),
        (json!("2750"), "InvalidParameterValue"),
    ] {
        let path = format!("/v2/charges/{}/capture", order.charge);
        let answer = amazon.raw(Method::POST, &path, Some(&json!({ "captureAmount": amount })), Some(&unique())).await;
        assert_eq!((answer.status, answer.body["reasonCode"].as_str().unwrap()), (400, code), "{amount}");
    }
    let path = format!("/v2/charges/{}/capture", order.charge);
    let missing = amazon.raw(Method::POST, &path, Some(&json!({})), Some(&unique())).await;
    assert_eq!(missing.body["reasonCode"], "MissingParameterValue");
    let unknown = amazon
        .raw(Method::POST, &path, Some(&json!({ "captureAmount": Money::yen(1), "x": 1 })), Some(&unique()))
        .await;
    assert_eq!(unknown.body["reasonCode"], "UnrecognizedField");
    let keyless = amazon.raw(Method::POST, &path, Some(&json!({ "captureAmount": Money::yen(1) })), None).await;
    assert_eq!((keyless.status, keyless.body["reasonCode"].as_str()), (400, Some("MissingHeaderValue")));
    assert_eq!(amazon.state(&order.charge).await, "Authorized", "nothing changed");
}

#[tokio::test]
async fn a_charge_is_captured_once() {
    let amazon = Amazon::start().await;
    let order = amazon.order(5000).await;
    amazon.capture(&order.charge, 3000).await.unwrap();
    let message = assert_rejected(amazon.capture(&order.charge, 2000).await, 422, "InvalidChargeStatus");
    assert!(message.contains("Captured"), "{message}");
    let charge = amazon.client.get_charge(&order.charge).await.unwrap();
    assert_eq!(charge.capture_amount, Some(Money::yen(3000)), "the first capture stands");
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_capture_and_another_request_with_it_is_refused() {
    let amazon = Amazon::start().await;
    let order = amazon.order(5000).await;
    let first = amazon.client.capture_charge(&order.charge, &Money::yen(4000), "capture-order-1").await.unwrap();
    let again = amazon.client.capture_charge(&order.charge, &Money::yen(4000), "capture-order-1").await.unwrap();
    assert_eq!(again, first, "the same answer, not a second capture");
    assert_rejected(
        amazon.client.capture_charge(&order.charge, &Money::yen(3000), "capture-order-1").await,
        400,
        "DuplicateIdempotencyKey",
    );
    let other = amazon.order(100).await;
    assert_rejected(
        amazon.client.capture_charge(&other.charge, &Money::yen(4000), "capture-order-1").await,
        400,
        "DuplicateIdempotencyKey",
    );
    assert_eq!(amazon.state(&other.charge).await, "Authorized");
}

#[tokio::test]
async fn declined_canceled_and_expired_charges_cannot_be_captured() {
    let amazon = Amazon::start().await;
    let subscription = amazon.order_with(&recurring(), "visa", "Confirm", 1000).await;
    // A pending authorization Amazon declines later is a Declined charge.
    amazon.sim.control("cards", json!({ "chargePermissionId": subscription.permission, "card": "pending" })).await;
    let body = json!({
        "chargePermissionId": subscription.permission,
        "chargeAmount": Money::yen(1000),
        "canHandlePendingAuthorization": true,
    });
    let pending = amazon.client.create_charge(&body, &unique()).await.unwrap();
    let decided = json!({ "chargeId": pending.charge_id, "outcome": "Declined" });
    assert_eq!(amazon.control("authorizations", decided).await.0, 204);
    let declined = amazon.client.get_charge(&pending.charge_id).await.unwrap();
    assert_eq!(declined.status_details.state, "Declined");
    assert_rejected(amazon.capture(&declined.charge_id, 1000).await, 422, "InvalidChargeStatus");

    let canceled = amazon.order(1000).await;
    amazon.client.cancel_charge(&canceled.charge, "out of stock").await.unwrap();
    assert_rejected(amazon.capture(&canceled.charge, 1000).await, 422, "InvalidChargeStatus");

    let expired = amazon.order(1000).await;
    amazon.advance(30 * DAY + 1).await;
    let charge = amazon.client.get_charge(&expired.charge).await.unwrap();
    assert_eq!(charge.status_details.reason_code.as_deref(), Some("ExpiredUnused"));
    assert_rejected(amazon.capture(&expired.charge, 1000).await, 422, "InvalidChargeStatus");
    assert_rejected(amazon.capture("S03-0000000-0000000-C000000", 1).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn a_capture_more_than_seven_days_after_authorization_is_asynchronous() {
    let amazon = Amazon::start().await;
    let within = amazon.order(3000).await;
    let late = amazon.order(3000).await;
    amazon.advance(7 * DAY - 60).await;
    assert_eq!(amazon.capture(&within.charge, 3000).await.unwrap().status_details.state, "Captured");
    amazon.advance(120).await;
    let initiated = amazon.capture(&late.charge, 2000).await.unwrap();
    assert_eq!(initiated.status_details.state, "CaptureInitiated");
    assert_eq!(initiated.capture_amount, None, "nothing captured yet");
    assert_rejected(amazon.capture(&late.charge, 2000).await, 422, "InvalidChargeStatus");
    assert_eq!(amazon.state(&late.charge).await, "CaptureInitiated");
    // Amazon processes it later, on the simulator clock.
    amazon.advance(61).await;
    let captured = amazon.client.get_charge(&late.charge).await.unwrap();
    assert_eq!((captured.status_details.state.as_str(), captured.capture_amount), ("Captured", Some(Money::yen(2000))));
    let permission = amazon.client.get_charge_permission(&late.permission).await.unwrap();
    assert_eq!(permission.limits.unwrap().amount_balance, Some(Money::yen(1000)));
}

#[tokio::test]
async fn the_capture_control_completes_or_declines_a_capture_in_progress() {
    let amazon = Amazon::start().await;
    let done = amazon.order(3000).await;
    let declined = amazon.order(3000).await;
    amazon.advance(8 * DAY).await;
    amazon.capture(&done.charge, 3000).await.unwrap();
    amazon.capture(&declined.charge, 3000).await.unwrap();
    assert_eq!(amazon.control("captures", json!({ "chargeId": done.charge, "outcome": "Captured" })).await.0, 204);
    assert_eq!(amazon.state(&done.charge).await, "Captured");
    assert_eq!(amazon.control("captures", json!({ "chargeId": declined.charge, "outcome": "Declined" })).await.0, 204);
    let charge = amazon.client.get_charge(&declined.charge).await.unwrap();
    assert_eq!(charge.status_details.state, "Declined");
    assert_eq!(charge.status_details.reason_code.as_deref(), Some("ProcessingFailure"));
    let (status, body) = amazon.control("captures", json!({ "chargeId": done.charge, "outcome": "Captured" })).await;
    assert_eq!((status, body["reasonCode"].as_str()), (409, Some("InvalidChargeStatus")), "nothing in progress");
    assert_eq!(amazon.control("captures", json!({ "chargeId": done.charge, "outcome": "Maybe" })).await.0, 400);
}

// ---------------------------------------------------------------------------------------------
// Cancel (キャンセル)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_authorization_is_canceled_by_the_merchant_and_frees_the_balance() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2750).await;
    let charge = amazon.client.cancel_charge(&order.charge, "在庫切れ").await.unwrap();
    assert_eq!(charge.status_details.state, "Canceled");
    assert_eq!(charge.status_details.reason_code.as_deref(), Some("MerchantCanceled"));
    assert_eq!(charge.status_details.reason_description.as_deref(), Some("在庫切れ"));
    let permission = amazon.client.get_charge_permission(&order.permission).await.unwrap();
    assert_eq!(permission.status_details.state, "Chargeable");
    assert_eq!(permission.limits.unwrap().amount_balance, Some(Money::yen(2750)));
    assert_rejected(amazon.client.cancel_charge(&order.charge, "again").await, 422, "InvalidChargeStatus");
}

#[tokio::test]
async fn a_pending_authorization_can_be_canceled_but_a_captured_charge_cannot() {
    let amazon = Amazon::start().await;
    let pending = amazon.order_with(&one_time(), "jcb", "Authorize", 1200).await;
    assert_eq!(amazon.state(&pending.charge).await, "AuthorizationInitiated");
    assert_eq!(amazon.client.cancel_charge(&pending.charge, "").await.unwrap().status_details.state, "Canceled");
    let captured = amazon.order_with(&one_time(), "visa", "AuthorizeWithCapture", 1200).await;
    assert_rejected(amazon.client.cancel_charge(&captured.charge, "too late").await, 422, "InvalidChargeStatus");
}

#[tokio::test]
async fn a_cancellation_reason_is_checked_like_any_field() {
    let amazon = Amazon::start().await;
    let order = amazon.order(1000).await;
    assert_rejected(amazon.client.cancel_charge(&order.charge, &"長".repeat(256)).await, 400, "InvalidParameterValue");
    let path = format!("/sandbox/v2/charges/{}/cancel/", order.charge);
    let wrong = amazon.raw(Method::DELETE, &path, Some(&json!({ "cancellationReason": 1 })), None).await;
    assert_eq!(wrong.body["reasonCode"], "InvalidParameterValue");
    let unknown = amazon.raw(Method::DELETE, &path, Some(&json!({ "reason": "x" })), None).await;
    assert_eq!(unknown.body["reasonCode"], "UnrecognizedField");
    assert_eq!(amazon.state(&order.charge).await, "Authorized");
    // The .NET SDK's path, with a trailing slash and the environment prefix.
    let canceled = amazon.raw(Method::DELETE, &path, Some(&json!({ "cancellationReason": "x" })), None).await;
    assert_eq!((canceled.status, canceled.body["statusDetails"]["state"].as_str()), (200, Some("Canceled")));
}

// ---------------------------------------------------------------------------------------------
// Refunds (返金)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_refund_is_initiated_then_refunded_on_the_clock() {
    let amazon = Amazon::start().await;
    let order = amazon.order(10_000).await;
    amazon.capture(&order.charge, 10_000).await.unwrap();
    let refund = amazon.refund(&order.charge, 4000).await.unwrap();
    assert_eq!(refund.status_details.state, "RefundInitiated");
    assert_eq!(refund.charge_id.as_deref(), Some(order.charge.as_str()));
    assert_eq!(refund.refund_amount, Some(Money::yen(4000)));
    assert!(refund.refund_id.starts_with(&format!("{}-R", order.permission)), "{}", refund.refund_id);
    assert_eq!(amazon.client.get_refund(&refund.refund_id).await.unwrap(), refund);
    let charge = amazon.client.get_charge(&order.charge).await.unwrap();
    assert_eq!(charge.refunded_amount, Some(Money::yen(0)), "not refunded yet");
    amazon.advance(61).await;
    let refunded = amazon.client.get_refund(&refund.refund_id).await.unwrap();
    assert_eq!(refunded.status_details.state, "Refunded");
    let charge = amazon.client.get_charge(&order.charge).await.unwrap();
    assert_eq!(charge.refunded_amount, Some(Money::yen(4000)));
    assert_eq!(charge.status_details.state, "Captured", "a refund leaves the charge Captured");
}

#[tokio::test]
async fn refunds_of_a_charge_add_up_to_the_captured_amount_plus_fifteen_percent() {
    let amazon = Amazon::start().await;
    // ¥10,000 captured: 15 % (¥1,500) is less than ¥8,400.
    let order = amazon.order(10_000).await;
    amazon.capture(&order.charge, 10_000).await.unwrap();
    amazon.refund(&order.charge, 6000).await.unwrap();
    amazon.refund(&order.charge, 5500).await.unwrap();
    let message = assert_rejected(amazon.refund(&order.charge, 1).await, 400, "TransactionAmountExceeded");
    assert!(message.contains("11500"), "{message}");
}

#[tokio::test]
async fn above_56000_yen_the_refund_allowance_is_8400_yen() {
    let amazon = Amazon::start().await;
    let order = amazon.order(100_000).await;
    amazon.capture(&order.charge, 100_000).await.unwrap();
    assert_rejected(amazon.refund(&order.charge, 108_401).await, 400, "TransactionAmountExceeded");
    amazon.refund(&order.charge, 108_400).await.unwrap();
}

#[tokio::test]
async fn a_declined_refund_frees_its_amount_and_the_refund_control_decides() {
    let amazon = Amazon::start().await;
    let order = amazon.order(1000).await;
    amazon.capture(&order.charge, 1000).await.unwrap();
    let first = amazon.refund(&order.charge, 1150).await.unwrap();
    assert_rejected(amazon.refund(&order.charge, 1).await, 400, "TransactionAmountExceeded");
    let (status, _) = amazon.control("refunds", json!({ "refundId": first.refund_id, "outcome": "Declined" })).await;
    assert_eq!(status, 204);
    let declined = amazon.client.get_refund(&first.refund_id).await.unwrap();
    assert_eq!(declined.status_details.state, "Declined");
    assert_eq!(declined.status_details.reason_code.as_deref(), Some("AmazonRejected"));
    let second = amazon.refund(&order.charge, 1000).await.unwrap();
    assert_eq!(amazon.control("refunds", json!({ "refundId": second.refund_id, "outcome": "Refunded" })).await.0, 204);
    let charge = amazon.client.get_charge(&order.charge).await.unwrap();
    assert_eq!(charge.refunded_amount, Some(Money::yen(1000)), "the declined refund returned nothing");
    let (status, body) =
        amazon.control("refunds", json!({ "refundId": second.refund_id, "outcome": "Refunded" })).await;
    assert_eq!((status, body["reasonCode"].as_str()), (409, Some("InvalidRefundStatus")));
}

#[tokio::test]
async fn only_a_captured_charge_can_be_refunded() {
    let amazon = Amazon::start().await;
    let order = amazon.order(1000).await;
    assert_rejected(amazon.refund(&order.charge, 1000).await, 422, "InvalidChargeStatus");
    amazon.advance(8 * DAY).await;
    amazon.capture(&order.charge, 1000).await.unwrap();
    assert_rejected(amazon.refund(&order.charge, 1000).await, 422, "InvalidChargeStatus");
    assert_rejected(amazon.refund("S03-0000000-0000000-C000000", 1).await, 404, "ResourceNotFound");
    assert_rejected(amazon.client.get_refund("S03-0000000-0000000-R000000").await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn refund_amounts_follow_the_money_rules_and_refunds_are_idempotent() {
    let amazon = Amazon::start().await;
    let order = amazon.order(5000).await;
    amazon.capture(&order.charge, 5000).await.unwrap();
    for (amount, code) in
        [("0", "InvalidParameterValue"), ("1.5", "InvalidParameterValue"), ("10000001", "InvalidParameterValue")]
    {
        let body = json!({ "chargeId": order.charge, "refundAmount": { "amount": amount, "currencyCode": "JPY" } });
        let answer = amazon.raw(Method::POST, "/v2/refunds", Some(&body), Some(&unique())).await;
        assert_eq!(answer.body["reasonCode"], code, "{amount}");
    }
    let body = json!({ "chargeId": order.charge, "refundAmount": Money::yen(500) });
    let first = amazon.raw(Method::POST, "/v2/refunds/", Some(&body), Some("refund-1")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = amazon.raw(Method::POST, "/sandbox/v2/refunds", Some(&body), Some("refund-1")).await;
    assert_eq!((again.status, &again.body), (201, &first.body), "replayed, not a second refund");
    let other = json!({ "chargeId": order.charge, "refundAmount": Money::yen(600) });
    let reused = amazon.raw(Method::POST, "/v2/refunds", Some(&other), Some("refund-1")).await;
    assert_eq!((reused.status, reused.body["reasonCode"].as_str()), (400, Some("DuplicateIdempotencyKey")));
    let keyless = amazon.raw(Method::POST, "/v2/refunds", Some(&other), None).await;
    assert_eq!(keyless.body["reasonCode"], "MissingHeaderValue");
    let typed = amazon.client.create_refund(&order.charge, &Money::yen(500), "refund-1").await.unwrap();
    assert_eq!(typed.refund_id, first.body["refundId"].as_str().unwrap());
    amazon.advance(61).await;
    assert_eq!(amazon.client.get_charge(&order.charge).await.unwrap().refunded_amount, Some(Money::yen(500)));
}

// ---------------------------------------------------------------------------------------------
// Charge permissions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_charge_permission_reads_with_its_limits_and_status() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2750).await;
    let permission = amazon.client.get_charge_permission(&order.permission).await.unwrap();
    assert_eq!(permission.charge_permission_id, order.permission);
    assert_eq!(permission.charge_permission_type.as_deref(), Some("OneTime"));
    assert_eq!(permission.status_details.state, "Chargeable");
    assert_eq!(permission.status_details.reasons, None);
    let limits = permission.limits.unwrap();
    assert_eq!((limits.amount_limit, limits.amount_balance), (Some(Money::yen(2750)), Some(Money::yen(0))));
    assert_eq!(permission.merchant_metadata.unwrap().merchant_reference_id.as_deref(), Some("ORDER-1"));
    assert_eq!(permission.release_environment.as_deref(), Some("Sandbox"));
}

#[tokio::test]
async fn merchant_metadata_is_updated_and_recurring_metadata_only_on_a_subscription() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2750).await;
    let update = json!({ "merchantMetadata": { "merchantReferenceId": "ORDER-2", "customInformation": "再送" } });
    let permission = amazon.client.update_charge_permission(&order.permission, &update).await.unwrap();
    let metadata = permission.merchant_metadata.unwrap();
    assert_eq!(metadata.merchant_reference_id.as_deref(), Some("ORDER-2"));
    assert_eq!(metadata.merchant_store_name.as_deref(), Some("Craft Cart"), "what is not sent stays");
    assert_eq!(metadata.custom_information.as_deref(), Some("再送"));
    let recurring_update = json!({ "recurringMetadata": { "frequency": { "unit": "Month", "value": "2" } } });
    assert_rejected(
        amazon.client.update_charge_permission(&order.permission, &recurring_update).await,
        400,
        "InvalidParameterCombination",
    );
    for bad in
        [json!({ "chargeAmount": 1 }), json!({ "merchantMetadata": { "x": 1 } }), json!({ "merchantMetadata": 1 })]
    {
        let result = amazon.client.update_charge_permission(&order.permission, &bad).await;
        assert!(matches!(result, Err(AmazonError::Rejected { status: 400, .. })), "{bad}: {result:?}");
    }
    let subscription = amazon.order_with(&recurring(), "visa", "Confirm", 1000).await;
    let permission = amazon.client.update_charge_permission(&subscription.permission, &recurring_update).await.unwrap();
    assert_eq!(permission.recurring_metadata.unwrap()["frequency"]["value"], "2");
    assert_rejected(amazon.client.get_charge_permission("S03-0000000-0000000").await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn closing_a_permission_keeps_its_authorizations_unless_asked_to_cancel_them() {
    let amazon = Amazon::start().await;
    let kept = amazon.order(2000).await;
    let permission = amazon.client.close_charge_permission(&kept.permission, "注文取消", false).await.unwrap();
    assert_eq!(permission.status_details.state, "Closed");
    let reason = &permission.status_details.reasons.unwrap()[0];
    assert_eq!(
        (reason.reason_code.as_str(), reason.reason_description.as_deref()),
        ("MerchantClosed", Some("注文取消"))
    );
    assert_eq!(amazon.state(&kept.charge).await, "Authorized");
    amazon.capture(&kept.charge, 2000).await.unwrap();
    let body = json!({ "chargePermissionId": kept.permission, "chargeAmount": Money::yen(1) });
    assert_rejected(amazon.client.create_charge(&body, &unique()).await, 422, "InvalidChargePermissionStatus");
    assert_rejected(
        amazon.client.close_charge_permission(&kept.permission, "again", false).await,
        422,
        "InvalidChargePermissionStatus",
    );
    let update = json!({ "merchantMetadata": { "merchantReferenceId": "X" } });
    assert_rejected(
        amazon.client.update_charge_permission(&kept.permission, &update).await,
        422,
        "InvalidChargePermissionStatus",
    );

    let canceled = amazon.order(2000).await;
    amazon.client.close_charge_permission(&canceled.permission, "注文取消", true).await.unwrap();
    let charge = amazon.client.get_charge(&canceled.charge).await.unwrap();
    assert_eq!(charge.status_details.state, "Canceled");
    assert_eq!(charge.status_details.reason_code.as_deref(), Some("ChargePermissionCanceled"));
}

#[tokio::test]
async fn a_close_without_a_reason_is_refused() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2000).await;
    let path = format!("/v2/chargePermissions/{}/close", order.permission);
    let missing = amazon.raw(Method::DELETE, &path, Some(&json!({ "cancelPendingCharges": true })), None).await;
    assert_eq!((missing.status, missing.body["reasonCode"].as_str()), (400, Some("MissingParameterValue")));
    let wrong = amazon
        .raw(Method::DELETE, &path, Some(&json!({ "closureReason": "x", "cancelPendingCharges": "yes" })), None)
        .await;
    assert_eq!(wrong.body["reasonCode"], "InvalidParameterValue");
    let long = amazon.client.close_charge_permission(&order.permission, &"x".repeat(256), false).await;
    assert_rejected(long, 400, "InvalidParameterValue");
    assert_eq!(
        amazon.client.get_charge_permission(&order.permission).await.unwrap().status_details.state,
        "Chargeable"
    );
}

// ---------------------------------------------------------------------------------------------
// createCheckoutSession through the API
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_session_created_through_the_api_waits_for_its_buyer_on_amazons_page() {
    let amazon = Amazon::start().await;
    let payload = one_time();
    let session = amazon.client.create_checkout_session(&payload, "create-1").await.unwrap();
    assert_eq!(session.status_details.state, "Open");
    assert!(session.buyer.is_none() && session.shipping_address.is_none() && session.payment_preferences.is_none());
    let raw =
        amazon.raw(Method::GET, &format!("/v2/checkoutSessions/{}", session.checkout_session_id), None, None).await;
    assert_eq!(raw.body["constraints"][0]["constraintId"], "BuyerNotAssociated");
    assert_eq!(raw.body["webCheckoutDetails"]["amazonPayRedirectUrl"], Value::Null);

    // The buyer continues on Amazon's page with that session.
    let page = amazon
        .sim
        .http
        .get(amazon.sim.url(&format!("/checkout/initiate?amazonCheckoutSessionId={}", session.checkout_session_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let id = amazon.sim.continue_page(&page.text().await.unwrap(), "visa").await;
    assert_eq!(id, session.checkout_session_id, "the same session");
    let read = amazon.client.get_checkout_session(&id).await.unwrap();
    assert!(read.buyer.is_some() && read.shipping_address.is_some());
    let updated = amazon.client.update_checkout_session(&id, &ready("Authorize", 3300)).await.unwrap();
    amazon.sim.pay(updated.web_checkout_details.unwrap().amazon_pay_redirect_url.as_deref().unwrap()).await;
    let completed = amazon.client.complete_checkout_session(&id, &Money::yen(3300), &unique()).await.unwrap();
    assert_eq!(completed.status_details.state, "Completed");
    assert_eq!(amazon.state(completed.charge_id.as_deref().unwrap()).await, "Authorized");
}

#[tokio::test]
async fn create_checkout_session_is_idempotent_per_key() {
    let amazon = Amazon::start().await;
    let first = amazon.raw(Method::POST, "/v2/checkoutSessions", Some(&one_time()), Some("create-2")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    // The .NET SDK's trailing slash and a key order of its own: the same request.
    let reordered: Value = serde_json::from_str(&format!(
        r#"{{"storeId":"{STORE_ID}","scopes":["name","email"],"webCheckoutDetails":{{"checkoutReviewReturnUrl":"{REVIEW}"}}}}"#
    ))
    .unwrap();
    let again = amazon.raw(Method::POST, "/v2/checkoutSessions/", Some(&reordered), Some("create-2")).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["checkoutSessionId"], first.body["checkoutSessionId"]);
    let mut other = one_time();
    other["scopes"] = json!(["name"]);
    let reused = amazon.raw(Method::POST, "/v2/checkoutSessions", Some(&other), Some("create-2")).await;
    assert_eq!((reused.status, reused.body["reasonCode"].as_str()), (400, Some("DuplicateIdempotencyKey")));
    let keyless = amazon.raw(Method::POST, "/v2/checkoutSessions", Some(&one_time()), None).await;
    assert_eq!((keyless.status, keyless.body["reasonCode"].as_str()), (400, Some("MissingHeaderValue")));
    let typed = amazon.client.create_checkout_session(&one_time(), "create-2").await.unwrap();
    assert_eq!(typed.checkout_session_id, first.body["checkoutSessionId"].as_str().unwrap());
}

#[tokio::test]
async fn a_create_payload_is_checked_as_amazon_checks_it() {
    let amazon = Amazon::start().await;
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut payload = one_time();
        edit(&mut payload);
        payload
    };
    for (payload, code) in [
        (with(&|p| p["storeId"] = json!("amzn1.application-oa2-client.other")), "InvalidParameterValue"),
        (
            with(&|p| {
                p.as_object_mut().unwrap().remove("storeId");
            }),
            "MissingParameterValue",
        ),
        (with(&|p| p["webCheckoutDetails"] = json!({})), "MissingParameterValue"),
        (
            with(&|p| p["webCheckoutDetails"]["checkoutReviewReturnUrl"] = json!("https://evil.example/review")),
            "InvalidParameterValue",
        ),
        (
            with(&|p| p["webCheckoutDetails"]["checkoutCancelUrl"] = json!("https://evil.example/")),
            "InvalidParameterValue",
        ),
        (with(&|p| p["scopes"] = json!(["everything"])), "InvalidParameterValue"),
        (with(&|p| p["chargePermissionType"] = json!("Forever")), "InvalidParameterValue"),
        (
            with(&|p| p["paymentDetails"] = json!({ "chargeAmount": { "amount": "1", "currencyCode": "USD" } })),
            "CurrencyMismatch",
        ),
        (with(&|p| p["unknownField"] = json!(1)), "UnrecognizedField"),
    ] {
        let answer = amazon.raw(Method::POST, "/v2/checkoutSessions", Some(&payload), Some(&unique())).await;
        assert_eq!((answer.status, answer.body["reasonCode"].as_str()), (400, Some(code)), "{payload}");
    }
    let not_json = amazon.sim.http.post(amazon.sim.url("/v2/checkoutSessions")).body("{").send().await.unwrap();
    assert!(not_json.status().is_client_error());
}

#[tokio::test]
async fn a_checkout_the_buyer_cancels_on_amazons_page_is_canceled() {
    let amazon = Amazon::start().await;
    let mut payload = one_time();
    payload["webCheckoutDetails"]["checkoutCancelUrl"] = json!(format!("{SHOP}/shopping/cart.html"));
    let session = amazon.client.create_checkout_session(&payload, &unique()).await.unwrap();
    let page = amazon
        .sim
        .http
        .get(amazon.sim.url(&format!("/checkout/initiate?amazonCheckoutSessionId={}", session.checkout_session_id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let href = crate::common::text::between(&page, "id=\"cancel\" href=\"", "\"").expect("a cancel link");
    let back = amazon.sim.http.get(amazon.sim.url(&href.replace("&amp;", "&"))).send().await.unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], format!("{SHOP}/shopping/cart.html").as_str());
    let canceled = amazon.client.get_checkout_session(&session.checkout_session_id).await.unwrap();
    assert_eq!(canceled.status_details.state, "Canceled");
    assert_eq!(canceled.status_details.reason_code.as_deref(), Some("BuyerCanceled"));
    assert_rejected(
        amazon.client.complete_checkout_session(&session.checkout_session_id, &Money::yen(1000), &unique()).await,
        400,
        "CheckoutSessionCanceled",
    );
    let again = amazon
        .sim
        .http
        .get(amazon.sim.url(&format!("/checkout/initiate?amazonCheckoutSessionId={}", session.checkout_session_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "a canceled checkout cannot be continued");
}

// ---------------------------------------------------------------------------------------------
// Seller Central and settlement
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn seller_central_captures_and_the_shops_own_capture_is_then_refused() {
    let amazon = Amazon::start().await;
    let order = amazon.order(5000).await;
    let (status, charge) = amazon
        .control("seller-central", json!({ "action": "capture", "chargeId": order.charge, "amount": 4000 }))
        .await;
    assert_eq!(status, 200, "{charge}");
    assert_eq!(charge["statusDetails"]["state"], "Captured");
    assert_eq!(charge["captureAmount"]["amount"], "4000");
    assert_rejected(amazon.capture(&order.charge, 5000).await, 422, "InvalidChargeStatus");

    let full = amazon.order(5000).await;
    let (_, charge) = amazon.control("seller-central", json!({ "action": "capture", "chargeId": full.charge })).await;
    assert_eq!(charge["captureAmount"]["amount"], "5000", "the authorized amount by default");
}

#[tokio::test]
async fn seller_central_cancels_refunds_and_closes() {
    let amazon = Amazon::start().await;
    let order = amazon.order(5000).await;
    let (_, charge) = amazon.control("seller-central", json!({ "action": "cancel", "chargeId": order.charge })).await;
    assert_eq!(charge["statusDetails"]["reasonCode"], "MerchantCanceled");
    assert_rejected(amazon.client.cancel_charge(&order.charge, "shop").await, 422, "InvalidChargeStatus");

    let refunded = amazon.order(5000).await;
    amazon.capture(&refunded.charge, 5000).await.unwrap();
    let (status, refund) = amazon
        .control("seller-central", json!({ "action": "refund", "chargeId": refunded.charge, "amount": "2000" }))
        .await;
    assert_eq!((status, refund["statusDetails"]["state"].as_str()), (200, Some("RefundInitiated")));
    let (_, rest) = amazon.control("seller-central", json!({ "action": "refund", "chargeId": refunded.charge })).await;
    assert_eq!(rest["refundAmount"]["amount"], "3000", "what is left by default");
    let (status, nothing) =
        amazon.control("seller-central", json!({ "action": "refund", "chargeId": refunded.charge })).await;
    assert_eq!((status, nothing["reasonCode"].as_str()), (400, Some("TransactionAmountExceeded")));

    let closed = amazon.order(5000).await;
    let (_, permission) = amazon
        .control(
            "seller-central",
            json!({ "action": "close", "chargePermissionId": closed.permission, "cancelPendingCharges": true }),
        )
        .await;
    assert_eq!(permission["statusDetails"]["state"], "Closed");
    assert_eq!(amazon.state(&closed.charge).await, "Canceled");
    assert_rejected(
        amazon.client.close_charge_permission(&closed.permission, "shop", false).await,
        422,
        "InvalidChargePermissionStatus",
    );
}

#[tokio::test]
async fn seller_central_refuses_what_amazon_refuses_and_malformed_actions() {
    let amazon = Amazon::start().await;
    let order = amazon.order(1000).await;
    for (body, status, code) in [
        (json!({ "action": "refund", "chargeId": order.charge }), 422, "InvalidChargeStatus"),
        (json!({ "action": "capture", "chargeId": order.charge, "amount": 1001 }), 400, "TransactionAmountExceeded"),
        (json!({ "action": "capture", "chargeId": order.charge, "amount": [1] }), 400, "InvalidParameterValue"),
        (json!({ "action": "capture" }), 400, "InvalidParameterValue"),
        (json!({ "action": "close" }), 400, "InvalidParameterValue"),
        (json!({ "action": "delete", "chargeId": order.charge }), 400, "InvalidParameterValue"),
        (json!({ "action": "capture", "chargeId": "nope" }), 404, "ResourceNotFound"),
        (json!({ "action": "capture", "chargeId": order.charge, "extra": 1 }), 400, "InvalidParameterValue"),
    ] {
        let (got, answer) = amazon.control("seller-central", body.clone()).await;
        assert_eq!((got, answer["reasonCode"].as_str()), (status, Some(code)), "{body}");
    }
    assert_eq!(amazon.state(&order.charge).await, "Authorized");
}

#[tokio::test]
async fn the_settle_control_finishes_every_capture_and_refund_in_progress() {
    let amazon = Amazon::start().await;
    let late = amazon.order(2000).await;
    amazon.advance(8 * DAY).await;
    amazon.capture(&late.charge, 2000).await.unwrap();
    let refunded = amazon.order(2000).await;
    amazon.capture(&refunded.charge, 2000).await.unwrap();
    let refund = amazon.refund(&refunded.charge, 2000).await.unwrap();
    let (status, counts) = amazon.control("settle", json!({})).await;
    assert_eq!((status, counts), (200, json!({ "captures": 1, "refunds": 1 })));
    assert_eq!(amazon.state(&late.charge).await, "Captured");
    assert_eq!(amazon.client.get_refund(&refund.refund_id).await.unwrap().status_details.state, "Refunded");
    assert_eq!(amazon.control("settle", json!({})).await.1, json!({ "captures": 0, "refunds": 0 }));
}
