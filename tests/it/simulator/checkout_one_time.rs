//! A one-time checkout on the simulator, over real HTTP, from the button to the charge: the
//! consent page's buyers and cards, the session the review page reads, its update and
//! completion, Authorize, AuthorizeWithCapture and Confirm, PayOnly and ProcessOrder, declines
//! and pending authorizations, completing early, twice or for another amount, unknown IDs, and
//! the API's environment paths and public origin.

use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::common::simulator_checkout::*;
use crate::common::text::{between, query_value};
use amazonpay2::amazon::types::Money;
use amazonpay2::core::signer::ButtonSigner;
use amazonpay2::simulator::TEST_BUYERS;

fn assert_permission_id(id: &str) {
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(parts.len(), 3, "{id}");
    assert_eq!(parts[0], "S03", "{id}");
    assert!(parts[1..].iter().all(|p| p.len() == 7 && p.bytes().all(|b| b.is_ascii_digit())), "{id}");
}

fn yen(value: &Value) -> Value {
    json!({ "amount": value.as_str().unwrap(), "currencyCode": "JPY" })
}

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
    for (card, pending, cause) in [(MASTERCARD, true, "HardDeclined"), (JCB, false, "TransactionTimedOut")] {
        let id = sim.checkout(card).await;
        sim.update(&id, &ready("Authorize", "2750", pending)).await.unwrap();
        sim.pay(&id).await;
        let session = sim.session(&id).await;
        assert_eq!(session["statusDetails"]["state"], "Canceled", "{card}");
        assert_eq!(session["statusDetails"]["reasonCode"], "Declined", "{card}");
        assert!(session["statusDetails"]["reasonDescription"].as_str().unwrap().contains(cause), "{session}");
        assert_eq!(session["shippingAddress"], Value::Null);
        // Completing a session Amazon canceled answers as Amazon does.
        assert_rejected(sim.complete(&id, "2750").await, 400, "CheckoutSessionCanceled");
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
    assert_rejected(sim.complete(&id, "2751").await, 409, "AmountMismatch");
    assert_rejected(sim.complete(&id, "2749").await, 409, "AmountMismatch");
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
