//! Lifetimes on the simulator clock: an open checkout session expires after 24 hours, an unused
//! authorization after 30 days (freeing the permission's balance), a one-time charge permission
//! after 180 days.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::simulator_checkout::*;
use amazonpay2::amazon::types::Money;

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
    assert_rejected(sim.complete(&id, "2750").await, 400, "CheckoutSessionCanceled");
    let late = sim.http.get(sim.url(&format!("/checkout/process/{id}"))).send().await.unwrap();
    assert_eq!(sim.error_page(late).await, "InvalidCheckoutSessionStatus");
}

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

/// `POST /__simulator/{control}` with `body`: its status.
async fn control(sim: &Sim, control: &str, body: Value) -> u16 {
    sim.http.post(sim.url(&format!("/__simulator/{control}"))).json(&body).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_pending_authorization_decided_later_expires_30_days_after_it_was_authorized() {
    let sim = Sim::start().await;
    // Amazon's clock starts ten days back (before it holds anything: a purchase placed days ago),
    // and never runs back over what it made.
    assert_eq!(control(&sim, "clock", json!({ "advanceSeconds": -10 * DAY_SECONDS })).await, 204);
    let id = sim.checkout(JCB).await;
    sim.update(&id, &ready("Authorize", "4400", true)).await.unwrap();
    sim.pay(&id).await;
    let body = json!({ "chargeAmount": Money::yen(4400) });
    let completed = sim.raw(Method::POST, &format!("/v2/checkoutSessions/{id}/complete"), Some(&body), Some("k")).await;
    assert_eq!(completed.status, 202, "{:?}", completed.body);
    let charge_id = completed.body["chargeId"].as_str().unwrap().to_owned();
    let made = parse_timestamp(&sim.charge(&charge_id).await["creationTimestamp"]);
    assert_eq!(control(&sim, "clock", json!({ "advanceSeconds": -60 })).await, 409, "never back over a charge");
    sim.advance_clock(5 * DAY).await;
    assert_eq!(control(&sim, "authorizations", json!({ "chargeId": charge_id, "outcome": "Authorized" })).await, 204);
    let charge = sim.charge(&charge_id).await;
    assert_eq!(charge["statusDetails"]["state"], "Authorized");
    let authorized = parse_timestamp(&charge["statusDetails"]["lastUpdatedTimestamp"]);
    assert!(authorized >= made + 5 * DAY_SECONDS, "authorized five days after the charge was made");
    assert_eq!(parse_timestamp(&charge["expirationTimestamp"]), authorized + 30 * DAY_SECONDS, "Amazon's own deadline");
    // 30 days after the charge was made it is still authorized; 30 after its authorization, not.
    sim.advance_clock(26 * DAY).await;
    assert_eq!(sim.charge(&charge_id).await["statusDetails"]["state"], "Authorized");
    sim.advance_clock(5 * DAY).await;
    assert_eq!(sim.charge(&charge_id).await["statusDetails"]["reasonCode"], "ExpiredUnused");
}

const DAY_SECONDS: i64 = 24 * 60 * 60;
