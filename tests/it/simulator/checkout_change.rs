//! Changing the address or the card of an open checkout session through `initiate_auth`
//! (amazon.Pay.bindChangeAction): each flow used once, no change once the session is closed, and
//! the changed card is the one charged.

use crate::common::simulator_checkout::*;
use crate::common::text::between;
use amazonpay2::simulator::TEST_BUYERS;

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
