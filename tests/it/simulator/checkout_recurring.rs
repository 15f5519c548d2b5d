//! Recurring charges on the simulator: a subscription's cycles under the ¥100,000 cap of the
//! Japanese calendar month, `POST charges` idempotent per key, and cards that decline, stay pending
//! or recover.

use reqwest::Method;
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};

use crate::common::simulator_checkout::*;
use amazonpay2::amazon::types::Money;

const PERIODIC_MESSAGE: &str = "You've exceeded the monthly limit for the Charge Permission and must wait until the next month to charge this buyer.";

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
async fn a_decline_is_an_error_answer_and_makes_no_charge() {
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
    assert_eq!(declined.status, 422, "{:?}", declined.body);
    assert_eq!(declined.body["reasonCode"], "HardDeclined");
    assert_eq!(declined.body.as_object().unwrap().len(), 2, "Amazon's error envelope, no charge: {:?}", declined.body);
    let balance = sim.permission(&permission_id).await["limits"]["amountBalance"]["amount"].clone();
    assert_eq!(balance, "97000", "a decline does not use the monthly limit");

    // Every decline reason code createCharge answers, each as its own error.
    for (code, status) in [
        ("SoftDeclined", 422),
        ("HardDeclined", 422),
        ("PaymentMethodNotAllowed", 422),
        ("TransactionTimedOut", 422),
        ("MFANotCompleted", 422),
        ("AmazonRejected", 422),
        ("ProcessingFailure", 500),
    ] {
        sim.set_card(&permission_id, code).await;
        let answer = sim.raw(Method::POST, "/v2/charges", Some(&body), Some(&format!("decline-{code}"))).await;
        assert_eq!((answer.status, answer.body["reasonCode"].as_str()), (status, Some(code)), "{:?}", answer.body);
    }

    // A decline is Amazon's answer to that request: the same key gets it again (a 5xx is not
    // kept: the same key may succeed later, as Amazon's SDKs retry 5xx with it).
    sim.set_card(&permission_id, "visa").await;
    let again = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("decline-SoftDeclined")).await;
    assert_eq!((again.status, again.body["reasonCode"].as_str()), (422, Some("SoftDeclined")));
    let retried = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("decline-ProcessingFailure")).await;
    assert_eq!(retried.status, 201, "{:?}", retried.body);

    sim.set_card(&permission_id, "pending").await;
    let mut pending = body.clone();
    pending["canHandlePendingAuthorization"] = json!(true);
    let charge = sim.create_charge(&pending, "pending-cycle").await.unwrap();
    assert_eq!(charge["statusDetails"]["state"], "AuthorizationInitiated");
    let unhandled = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("pending-unhandled")).await;
    assert_eq!((unhandled.status, unhandled.body["reasonCode"].as_str()), (422, Some("TransactionTimedOut")));

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

#[tokio::test]
async fn an_expired_card_makes_the_charge_permission_non_chargeable() {
    let sim = Sim::start().await;
    let completed = sim.paid(&recurring_payload(), VISA, "Confirm", "1000").await;
    let permission_id = completed["chargePermissionId"].as_str().unwrap().to_owned();
    sim.set_card(&permission_id, "expired").await;
    let permission = sim.permission(&permission_id).await;
    assert_eq!(permission["statusDetails"]["state"], "NonChargeable");
    assert_eq!(permission["statusDetails"]["reasons"][0]["reasonCode"], "PaymentMethodExpired");
    let body = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(1000) });
    assert_rejected(sim.create_charge(&body, "on-expired").await, 422, "InvalidChargePermissionStatus");
    // The buyer chooses another card: chargeable again.
    sim.set_card(&permission_id, "visa").await;
    assert_eq!(sim.permission(&permission_id).await["statusDetails"]["state"], "Chargeable");
    assert_eq!(sim.create_charge(&body, "on-renewed").await.unwrap()["statusDetails"]["state"], "Authorized");
}

#[tokio::test]
async fn a_repeated_key_answers_the_saved_first_response_not_the_charge_as_it_is_now() {
    let sim = Sim::start().await;
    let completed = sim.paid(&recurring_payload(), VISA, "Confirm", "1000").await;
    let permission_id = completed["chargePermissionId"].as_str().unwrap();
    let body = json!({ "chargePermissionId": permission_id, "chargeAmount": Money::yen(1000) });
    let first = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("saved-first")).await;
    assert_eq!((first.status, first.body["statusDetails"]["state"].as_str()), (201, Some("Authorized")));
    let charge_id = first.body["chargeId"].as_str().unwrap();
    let capture = json!({ "captureAmount": Money::yen(1000) });
    let captured =
        sim.raw(Method::POST, &format!("/v2/charges/{charge_id}/capture"), Some(&capture), Some("cap")).await;
    assert_eq!(captured.body["statusDetails"]["state"], "Captured");

    let again = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("saved-first")).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the first answer, as it was given");
    assert_eq!(sim.charge(charge_id).await["statusDetails"]["state"], "Captured", "while the charge moved on");
}
