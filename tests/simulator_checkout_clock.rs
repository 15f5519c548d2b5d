#![cfg(not(target_arch = "wasm32"))]
//! Lifetimes on the simulator clock: an open checkout session expires after 24 hours, an unused
//! authorization after 30 days (freeing the permission's balance), a one-time charge permission
//! after 180 days.

mod common;

use serde_json::{Value, json};

use amazonpay2::amazon::types::Money;
use common::simulator_checkout::*;

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
