//! Amazon's API rules on the simulator that a lenient double would let a shop get wrong:
//! idempotency keys (at most 32 characters of `a-z A-Z 0-9 - _`, kept for good, a repeat answered
//! with the saved first response), the HTTP statuses of `AmountMismatch` (409) and
//! `TransactionCountExceeded` (422), a session's `totalOrderAmount` carried by Complete, and
//! authorizations lapsing 30 days after they were authorized.

use reqwest::Method;
use serde_json::json;

use crate::common::sim::post_control;
use crate::common::simulator_checkout::*;
use amazonpay2::amazon::types::Money;

/// A monthly subscription's button payload.
fn recurring_payload() -> serde_json::Value {
    json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW },
        "storeId": STORE_ID,
        "chargePermissionType": "Recurring",
        "recurringMetadata": { "frequency": { "unit": "Month", "value": "1" } },
    })
}

#[tokio::test]
async fn keys_amazon_refuses_are_refused_and_nothing_is_made() {
    let sim = Sim::start().await;
    let completed = sim.paid(&one_time_payload(), VISA, "Authorize", "3630").await;
    let charge_id = completed["chargeId"].as_str().unwrap();
    let capture = json!({ "captureAmount": Money::yen(3630) });
    let path = format!("/v2/charges/{charge_id}/capture");
    // The key this shop once built for a capture: `capture-<order>-<chargeId>`, 40 characters.
    let old_key = format!("capture-10001-{charge_id}");
    assert!(old_key.len() > 32);
    for key in [old_key.as_str(), &"k".repeat(33), "capture.10001", "order 10001", "refund+1"] {
        let answer = sim.raw(Method::POST, &path, Some(&capture), Some(key)).await;
        assert_eq!((answer.status, answer.body["reasonCode"].as_str()), (400, Some("InvalidHeaderValue")), "{key}");
    }
    assert_eq!(sim.charge(charge_id).await["statusDetails"]["state"], "Authorized", "nothing captured");
    let permission = completed["chargePermissionId"].as_str().unwrap();
    let refused = sim
        .raw(Method::POST, "/v2/charges", Some(&json!({ "chargePermissionId": permission })), Some(&"c".repeat(33)))
        .await;
    assert_eq!(refused.body["reasonCode"], "InvalidHeaderValue");
    // Exactly 32 characters of Amazon's alphabet is a key.
    let answer = sim.raw(Method::POST, &path, Some(&capture), Some("Ab0-_Ab0-_Ab0-_Ab0-_Ab0-_Ab0-_Ab")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["statusDetails"]["state"], "Captured");
}

#[tokio::test]
async fn a_key_is_kept_for_good_and_answers_with_its_first_response() {
    let sim = Sim::start().await;
    let completed = sim.paid(&one_time_payload(), VISA, "Authorize", "3630").await;
    let charge_id = completed["chargeId"].as_str().unwrap();
    let path = format!("/v2/charges/{charge_id}/capture");
    let capture = json!({ "captureAmount": Money::yen(3000) });
    let first = sim.raw(Method::POST, &path, Some(&capture), Some("kept-for-good")).await;
    assert_eq!(first.body["statusDetails"]["state"], "Captured");
    let refund = json!({ "chargeId": charge_id, "refundAmount": Money::yen(1000) });
    let refunded = sim.raw(Method::POST, "/v2/refunds", Some(&refund), Some("refund-kept")).await;
    assert_eq!((refunded.status, refunded.body["statusDetails"]["state"].as_str()), (201, Some("RefundInitiated")));

    // A year and more later (the refund long processed), the same requests.
    sim.advance_clock(400 * DAY).await;
    let again = sim.raw(Method::POST, &path, Some(&capture), Some("kept-for-good")).await;
    assert_eq!((again.status, &again.body), (200, &first.body), "the saved answer, not InvalidChargeStatus");
    let refund_again = sim.raw(Method::POST, "/v2/refunds", Some(&refund), Some("refund-kept")).await;
    assert_eq!((refund_again.status, &refund_again.body), (201, &refunded.body), "the same refund, as first answered");
    let refund_id = refunded.body["refundId"].as_str().unwrap();
    let now = sim.raw(Method::GET, &format!("/v2/refunds/{refund_id}"), None, None).await;
    assert_eq!(now.body["statusDetails"]["state"], "Refunded", "while the refund itself moved on");
    let other = json!({ "chargeId": charge_id, "refundAmount": Money::yen(999) });
    let reused = sim.raw(Method::POST, "/v2/refunds", Some(&other), Some("refund-kept")).await;
    assert_eq!((reused.status, reused.body["reasonCode"].as_str()), (400, Some("DuplicateIdempotencyKey")));
    assert_eq!(sim.charge(charge_id).await["refundedAmount"], json!(Money::yen(1000)), "one refund");
}

#[tokio::test]
async fn a_repeated_completion_answers_the_first_completion() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    sim.update(&id, &ready("Authorize", "2750", false)).await.unwrap();
    sim.pay(&id).await;
    let body = json!({ "chargeAmount": Money::yen(2750) });
    let path = format!("/v2/checkoutSessions/{id}/complete");
    let first = sim.raw(Method::POST, &path, Some(&body), Some("complete-once")).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let again = sim.raw(Method::POST, &path, Some(&body), Some("complete-once")).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    let other_key = sim.raw(Method::POST, &path, Some(&body), Some("complete-twice")).await;
    assert_eq!((other_key.status, other_key.body["reasonCode"].as_str()), (422, Some("InvalidCheckoutSessionStatus")));
}

#[tokio::test]
async fn amount_mismatch_is_409_and_a_total_order_amount_must_be_carried_by_complete() {
    let sim = Sim::start().await;
    let id = sim.checkout(VISA).await;
    let mut update = ready("Authorize", "2750", false);
    update["paymentDetails"]["totalOrderAmount"] = json!(Money::yen(5500));
    sim.update(&id, &update).await.unwrap();
    sim.pay(&id).await;
    let path = format!("/v2/checkoutSessions/{id}/complete");
    let attempts = [
        (json!({ "chargeAmount": Money::yen(2751), "totalOrderAmount": Money::yen(5500) }), 409, "AmountMismatch"),
        (json!({ "chargeAmount": Money::yen(2750) }), 400, "MissingParameterValue"),
        (json!({ "chargeAmount": Money::yen(2750), "totalOrderAmount": Money::yen(5000) }), 409, "AmountMismatch"),
    ];
    for (body, status, code) in attempts {
        let answer = sim.raw(Method::POST, &path, Some(&body), None).await;
        assert_eq!((answer.status, answer.body["reasonCode"].as_str()), (status, Some(code)), "{body}");
    }
    assert_eq!(sim.session(&id).await["statusDetails"]["state"], "Open", "unchanged");
    let body = json!({ "chargeAmount": Money::yen(2750), "totalOrderAmount": Money::yen(5500) });
    let completed = sim.raw(Method::POST, &path, Some(&body), None).await;
    assert_eq!((completed.status, completed.body["statusDetails"]["state"].as_str()), (200, Some("Completed")));
}

#[tokio::test]
async fn the_26th_charge_of_a_one_time_permission_is_a_422() {
    let sim = Sim::start().await;
    let completed = sim.paid(&one_time_payload(), VISA, "Confirm", "100").await;
    let permission = completed["chargePermissionId"].as_str().unwrap();
    let body = json!({ "chargePermissionId": permission, "chargeAmount": Money::yen(1) });
    for n in 0..25 {
        sim.create_charge(&body, &format!("charge-{n}")).await.unwrap();
    }
    let refused = sim.raw(Method::POST, "/v2/charges", Some(&body), Some("charge-26")).await;
    assert_eq!((refused.status, refused.body["reasonCode"].as_str()), (422, Some("TransactionCountExceeded")));
}

#[tokio::test]
async fn an_authorization_lapses_30_days_after_it_was_authorized_not_after_it_was_asked_for() {
    let sim = Sim::start().await;
    let completed = sim.paid(&recurring_payload(), VISA, "Confirm", "1000").await;
    let permission = completed["chargePermissionId"].as_str().unwrap();
    sim.set_card(permission, "pending").await;
    let body = json!({
        "chargePermissionId": permission,
        "chargeAmount": Money::yen(1000),
        "canHandlePendingAuthorization": true,
    });
    let charge = sim.create_charge(&body, "pending-10-days").await.unwrap();
    let charge_id = charge["chargeId"].as_str().unwrap();
    assert_eq!(charge["statusDetails"]["state"], "AuthorizationInitiated");
    sim.advance_clock(10 * DAY).await;
    let decided =
        post_control(&sim.http, &sim.base, "authorizations", json!({ "chargeId": charge_id, "outcome": "Authorized" }))
            .await;
    assert_eq!(decided.status(), 204);
    let authorized = sim.charge(charge_id).await;
    let authorized_at = parse_timestamp(&authorized["statusDetails"]["lastUpdatedTimestamp"]);
    assert_eq!(
        parse_timestamp(&authorized["expirationTimestamp"]),
        authorized_at + i64::try_from(30 * DAY).unwrap(),
        "30 days from the authorization"
    );
    // 35 days after the charge was asked for, 25 after it was authorized: still authorized.
    sim.advance_clock(25 * DAY).await;
    assert_eq!(sim.charge(charge_id).await["statusDetails"]["state"], "Authorized");
    sim.advance_clock(5 * DAY + 60).await;
    let lapsed = sim.charge(charge_id).await;
    assert_eq!(
        (lapsed["statusDetails"]["state"].as_str(), lapsed["statusDetails"]["reasonCode"].as_str()),
        (Some("Canceled"), Some("ExpiredUnused"))
    );
}
