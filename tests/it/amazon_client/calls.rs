//! The client's calls against the simulator: getBuyer for each Japanese test buyer signed in on
//! the hosted pages, stable buyer IDs, the environment path each kind of public key ID selects,
//! single-use buyer tokens that expire after ten minutes, and the back-office calls' methods,
//! paths and idempotency keys (IDs that are no IDs never sent).

use serde_json::json;

use crate::common::client::*;
use amazonpay2::amazon::types::Money;
use amazonpay2::core::AmazonError;
use amazonpay2::simulator::TEST_BUYERS;

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
async fn advancing_the_simulator_clock_does_not_make_signed_requests_stale() {
    let sim = Sim::sandbox().await;
    sim.advance_clock(20 * 60).await;
    let token = sim.buyer_token(0).await;
    assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 0);
}

#[tokio::test]
async fn keys_amazon_would_refuse_and_a_failing_random_source_are_errors_and_nothing_is_sent() {
    struct Broken;
    impl amazonpay2::core::random::Randomness for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), amazonpay2::core::random::NoRandomness> {
            Err(amazonpay2::core::random::NoRandomness)
        }
    }
    let sim = Sim::sandbox().await;
    let client = sim.client();
    let yen = Money::yen(1);
    let charge = "S03-1234567-1234567-C123456";
    // The capture key this shop once built (`capture-<order>-<chargeId>`): 41 characters.
    let old_key = format!("capture-10001-{charge}");
    for key in [old_key.as_str(), &"k".repeat(33), "refund 1", ""] {
        let refused = client.capture_charge(charge, &yen, key).await;
        assert!(matches!(refused, Err(AmazonError::InvalidIdempotencyKey(_))), "{key:?}: {refused:?}");
    }
    let broken = sim.client().with_randomness(std::sync::Arc::new(Broken));
    let body = json!({ "chargeAmount": yen });
    let answer =
        broken.call::<serde_json::Value>(reqwest::Method::POST, "checkoutSessions/x/complete", Some(&body)).await;
    assert!(matches!(answer, Err(AmazonError::InvalidIdempotencyKey(_))), "never a zero key: {answer:?}");
    assert!(sim.api_requests().is_empty());
    // A GET needs no key, so no randomness.
    assert_rejected(broken.get_refund("S03-1234567-1234567-R123456").await, 404, "ResourceNotFound");
}
