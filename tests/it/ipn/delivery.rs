//! The simulator notifies a shop's IPN endpoint as Amazon Pay does: an SNS envelope per state
//! change of a charge, refund or charge permission (from the API, the clock or Seller Central),
//! `text/plain` with SNS's headers, signed (SignatureVersion 1 or 2) with a certificate the
//! simulator serves; in the background, in order per object, retried while the endpoint fails,
//! bounded, listed, redeliverable, and duplicated on request. A tiny endpoint on a socket records
//! what arrives, and `amazon::sns` verifies it as the shop will.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::sim::{IpnReceiver, Received, SHOP, SimSocket, account, advance_clock, ready, shop_key};
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::sns::{Envelope, IpnMessage, ObjectType, check_cert_url};
use amazonpay2::amazon::types::Money;
use amazonpay2::core::AmazonPayClient;

const MERCHANT_ID: &str = "A1IPNDELIVERYTEST";
const STORE_ID: &str = "amzn1.application-oa2-client.ipndeliverytest00000000000";
const KEY_ID: &str = "SANDBOX-AMAZONPAY2IPNDELIVERYKEY";
const REVIEW: &str = "https://shop.example/api/amazonpay2/checkout/review";
const DAY: u64 = 24 * 60 * 60;

struct Amazon {
    sim: SimSocket,
    key: Arc<ShopKey>,
    client: AmazonPayClient,
    endpoint: IpnReceiver,
}

struct Order {
    permission: String,
    charge: String,
}

fn key() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("ipn-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Amazon {
    /// The simulator with notifications off, and an endpoint waiting.
    async fn quiet() -> Self {
        let key = shop_key();
        let sim = SimSocket::start(account(MERCHANT_ID, STORE_ID, KEY_ID, true), &key, |s| s.router()).await;
        let client = sim.client(&key);
        let endpoint = IpnReceiver::start().await;
        Self { sim, key, client, endpoint }
    }

    /// Notifications on, to the endpoint, retried after 20 ms, 40 ms, …
    async fn start() -> Self {
        let amazon = Self::quiet().await;
        amazon.configure(json!({ "url": amazon.endpoint.url, "firstDelayMs": 20, "maxDelayMs": 200 })).await;
        amazon
    }

    async fn configure(&self, settings: Value) -> Value {
        let answer = self.sim.control("ipn", settings).await;
        assert_eq!(answer.status(), 200);
        answer.json().await.unwrap()
    }

    async fn order(&self, yen: u64) -> Order {
        let payload = json!({ "webCheckoutDetails": { "checkoutReviewReturnUrl": REVIEW }, "storeId": STORE_ID, "scopes": ["name"] });
        let id = self.sim.choose(&self.key, &payload, "visa").await;
        let session = self.client.update_checkout_session(&id, &ready("Authorize", yen)).await.unwrap();
        self.sim.pay(session.web_checkout_details.unwrap().amazon_pay_redirect_url.as_deref().unwrap()).await;
        let completed = self.client.complete_checkout_session(&id, &Money::yen(yen), &key()).await.unwrap();
        Order { permission: completed.charge_permission_id.unwrap(), charge: completed.charge_id.unwrap() }
    }

    async fn deliveries(&self) -> Vec<Value> {
        self.sim.read_control("ipn/deliveries").await.as_array().unwrap().clone()
    }

    /// Waits until every delivery is delivered or failed; answers them.
    async fn settled_deliveries(&self) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let deliveries = self.deliveries().await;
            if deliveries.iter().all(|d| d["status"] != "pending") {
                return deliveries;
            }
            assert!(Instant::now() < deadline, "deliveries still pending: {deliveries:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Checks an arrival as the shop must: SNS's headers, the envelope, the certificate URL
    /// (the simulator's origin allowed), the certificate fetched from it, the signature.
    async fn verified(&self, received: &Received) -> (Envelope, IpnMessage) {
        let header = |name: &str| received.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header("content-type").as_deref(), Some("text/plain; charset=UTF-8"));
        assert_eq!(header("x-amz-sns-message-type").as_deref(), Some("Notification"));
        assert_eq!(header("user-agent").as_deref(), Some("Amazon Simple Notification Service Agent"));
        let envelope = Envelope::parse(&received.body).expect("an SNS envelope");
        assert_eq!(header("x-amz-sns-message-id"), Some(envelope.message_id.clone()));
        assert_eq!(header("x-amz-sns-topic-arn"), Some(envelope.topic_arn.clone()));
        let origin = self.sim.origin();
        let url = check_cert_url(&envelope.signing_cert_url, &[origin.as_str()]).expect("the simulator's own URL");
        assert!(url.path().starts_with("/SimpleNotificationService-"), "{url}");
        assert!(check_cert_url(&envelope.signing_cert_url, &[]).is_err(), "not an SNS host without the allowance");
        let certificate = self.sim.http.get(url).send().await.unwrap().bytes().await.unwrap();
        envelope.verify(&certificate).expect("a signature that verifies");
        let message = envelope.ipn().expect("Amazon's message");
        assert_eq!(message.merchant_id, MERCHANT_ID);
        assert!(["STATE_CHANGE", "ATTRIBUTE_CHANGE"].contains(&message.notification_type.as_str()), "{message:?}");
        assert_eq!(message.notification_version, "V2");
        (envelope, message)
    }

    async fn messages(&self, count: usize) -> Vec<(Envelope, IpnMessage)> {
        let mut out = Vec::new();
        for received in self.endpoint.wait_for(count).await {
            out.push(self.verified(&received).await);
        }
        out
    }
}

fn kinds(messages: &[(Envelope, IpnMessage)]) -> Vec<(String, String)> {
    let mut kinds: Vec<(String, String)> =
        messages.iter().map(|(_, m)| (m.object_type.to_string(), m.object_id.clone())).collect();
    kinds.sort();
    kinds
}

// ---------------------------------------------------------------------------------------------
// What is sent
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_state_change_is_a_signed_sns_notification() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2750).await;
    let messages = amazon.messages(2).await;
    assert_eq!(
        kinds(&messages),
        [("CHARGE".into(), order.charge.clone()), ("CHARGE_PERMISSION".into(), order.permission.clone())]
    );
    for (envelope, message) in &messages {
        assert_eq!(envelope.signature_version, "1", "Amazon Pay's IPNs use SignatureVersion 1");
        assert_eq!(message.charge_permission_id.as_deref(), Some(order.permission.as_str()));
        assert!(envelope.topic_arn.starts_with("arn:aws:sns:"));
        assert!(envelope.unsubscribe_url.is_some());
        assert!(envelope.timestamp.ends_with('Z') && envelope.timestamp.contains('.'), "{}", envelope.timestamp);
    }
    // Captured in full: the charge changes, and Amazon closes the one-time permission.
    amazon.client.capture_charge(&order.charge, &Money::yen(2750), &key()).await.unwrap();
    let messages = amazon.messages(4).await;
    assert_eq!(kinds(&messages[2..]), kinds(&messages[..2]));
    let ids: HashSet<&str> = messages.iter().map(|(_, m)| m.notification_id.as_str()).collect();
    assert_eq!(ids.len(), 4, "a notification ID of its own for each");
    let message_ids: HashSet<&str> = messages.iter().map(|(e, _)| e.message_id.as_str()).collect();
    assert_eq!(message_ids.len(), 4);
}

#[tokio::test]
async fn signature_version_2_is_sent_when_chosen() {
    let amazon = Amazon::start().await;
    let settings = amazon.configure(json!({ "signatureVersion": "2" })).await;
    assert_eq!(settings["signatureVersion"], "2");
    amazon.order(1000).await;
    for (envelope, _) in amazon.messages(2).await {
        assert_eq!(envelope.signature_version, "2");
    }
}

#[tokio::test]
async fn refunds_and_what_the_clock_causes_are_notified() {
    let amazon = Amazon::start().await;
    let captured = amazon.order(3000).await;
    let expiring = amazon.order(3000).await;
    amazon.client.capture_charge(&captured.charge, &Money::yen(3000), &key()).await.unwrap();
    let refund = amazon.client.create_refund(&captured.charge, &Money::yen(1000), &key()).await.unwrap();
    // 2 × (permission, charge), the capture, the closure, the refund.
    let before = amazon.messages(7).await;
    assert_eq!(before.iter().filter(|(_, m)| m.object_type == ObjectType::Refund).count(), 1);
    advance_clock(&amazon.sim.http, &amazon.sim.base, 30 * DAY + 1).await;
    let after = amazon.messages(9).await;
    assert_eq!(
        kinds(&after[7..]),
        [("CHARGE".into(), expiring.charge.clone()), ("REFUND".into(), refund.refund_id.clone())],
        "the refund processed and the unused authorization expired"
    );
    assert_eq!(amazon.client.get_refund(&refund.refund_id).await.unwrap().status_details.state, "Refunded");
}

#[tokio::test]
async fn seller_central_changes_are_notified() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2000).await;
    amazon.messages(2).await;
    let answer = amazon
        .sim
        .control(
            "seller-central",
            json!({ "action": "close", "chargePermissionId": order.permission, "cancelPendingCharges": true }),
        )
        .await;
    assert_eq!(answer.status(), 200);
    let messages = amazon.messages(4).await;
    assert_eq!(
        kinds(&messages[2..]),
        [("CHARGE".into(), order.charge), ("CHARGE_PERMISSION".into(), order.permission)]
    );
}

#[tokio::test]
async fn a_new_card_is_an_attribute_change_an_unchargeable_one_a_state_change_and_a_chargeback_its_own_type() {
    let amazon = Amazon::start().await;
    let order = amazon.order(2000).await;
    let first = amazon.messages(2).await;
    assert!(first.iter().all(|(_, m)| m.notification_type == "STATE_CHANGE"));
    let card = |card: &str| json!({ "chargePermissionId": order.permission, "card": card });
    assert_eq!(amazon.sim.control("cards", card("mastercard")).await.status(), 204);
    assert_eq!(amazon.sim.control("cards", card("expired")).await.status(), 204);
    amazon.client.capture_charge(&order.charge, &Money::yen(2000), &key()).await.unwrap();
    let answer = amazon.sim.control("chargebacks", json!({ "chargeId": order.charge })).await;
    assert_eq!(answer.status(), 200);
    let chargeback = answer.json::<Value>().await.unwrap()["chargebackId"].as_str().unwrap().to_owned();
    assert!(chargeback.starts_with(&order.charge), "{chargeback}");
    // A new card, then an expired one, the capture and the permission's closure, the chargeback.
    let messages = amazon.messages(7).await;
    let seen: Vec<(String, String, String)> = messages[2..]
        .iter()
        .map(|(_, m)| (m.object_type.to_string(), m.notification_type.clone(), m.object_id.clone()))
        .collect();
    let expected = [
        ("CHARGE_PERMISSION", "ATTRIBUTE_CHANGE", order.permission.as_str()),
        ("CHARGE_PERMISSION", "STATE_CHANGE", order.permission.as_str()),
        ("CHARGE", "STATE_CHANGE", order.charge.as_str()),
        ("CHARGE_PERMISSION", "STATE_CHANGE", order.permission.as_str()),
        ("CHARGEBACK", "STATE_CHANGE", chargeback.as_str()),
    ];
    for (kind, notification, id) in expected {
        assert!(
            seen.iter().any(|(k, n, i)| (k.as_str(), n.as_str(), i.as_str()) == (kind, notification, id)),
            "{kind} {notification} {id} in {seen:?}"
        );
    }
    let (_, message) = messages.iter().find(|(_, m)| m.object_type == ObjectType::Chargeback).unwrap();
    assert_eq!(message.charge_permission_id.as_deref(), Some(order.permission.as_str()));
    let unknown = amazon.sim.control("chargebacks", json!({ "chargeId": "S03-0000000-0000000-C000000" })).await;
    assert_eq!(unknown.status(), 404);
}

// ---------------------------------------------------------------------------------------------
// How it is sent
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn notifications_of_one_object_arrive_in_the_order_of_its_changes() {
    let amazon = Amazon::start().await;
    amazon.endpoint.delay(150);
    let order = amazon.order(3000).await;
    advance_clock(&amazon.sim.http, &amazon.sim.base, 8 * DAY).await;
    amazon.client.capture_charge(&order.charge, &Money::yen(3000), &key()).await.unwrap();
    amazon.sim.control("settle", json!({})).await;
    let messages = amazon.messages(5).await;
    let arrived: Vec<&str> =
        messages.iter().filter(|(_, m)| m.object_id == order.charge).map(|(e, _)| e.message_id.as_str()).collect();
    let deliveries = amazon.settled_deliveries().await;
    let sent: Vec<&str> = deliveries
        .iter()
        .filter(|d| d["objectId"] == order.charge.as_str())
        .map(|d| d["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(arrived.len(), 3, "authorized, capture initiated, captured");
    assert_eq!(arrived, sent, "in the order the charge changed");
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_the_same_envelope_until_it_answers_2xx() {
    let amazon = Amazon::start().await;
    let order = amazon.order(1000).await;
    amazon.messages(2).await;
    amazon.endpoint.answer_next(&[500, 503]);
    amazon.client.cancel_charge(&order.charge, "在庫切れ").await.unwrap();
    let arrived = amazon.endpoint.wait_for(5).await;
    assert_eq!(arrived[2].body, arrived[3].body);
    assert_eq!(arrived[3].body, arrived[4].body, "a retry resends the same signed envelope");
    let deliveries = amazon.settled_deliveries().await;
    let last = deliveries.last().unwrap();
    assert_eq!(last["status"], "delivered");
    assert_eq!(last["attempts"], 3);
    assert_eq!(last["responses"], json!([500, 503, 200]));
    amazon.verified(&arrived[4]).await;
}

#[tokio::test]
async fn attempts_are_bounded() {
    let amazon = Amazon::start().await;
    amazon.configure(json!({ "attempts": 3 })).await;
    amazon.endpoint.always(500);
    amazon.order(1000).await;
    let deliveries = amazon.settled_deliveries().await;
    assert_eq!(deliveries.len(), 2);
    for delivery in &deliveries {
        assert_eq!(delivery["status"], "failed");
        assert_eq!(delivery["attempts"], 3);
        assert_eq!(delivery["maxAttempts"], 3);
        assert_eq!(delivery["lastError"], "HTTP 500");
    }
    // Failed is final: every attempt was answered (and so received) before it was recorded.
    assert_eq!(amazon.endpoint.received().len(), 6, "no attempt beyond the third");
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_after_its_attempts() {
    let amazon = Amazon::start().await;
    amazon.configure(json!({ "url": "http://127.0.0.1:9/api/amazonpay2/ipn.php", "attempts": 2 })).await;
    amazon.order(1000).await;
    let deliveries = amazon.settled_deliveries().await;
    assert!(deliveries.iter().all(|d| d["status"] == "failed" && d["attempts"] == 2), "{deliveries:?}");
    assert!(deliveries.iter().all(|d| d["responses"] == json!([])));
}

#[tokio::test]
async fn a_delivery_can_be_redelivered_unchanged() {
    let amazon = Amazon::start().await;
    amazon.order(1000).await;
    amazon.endpoint.wait_for(2).await;
    let first = amazon.settled_deliveries().await[0].clone();
    let answer = amazon.sim.control(&format!("ipn/deliveries/{}/redeliver", first["id"]), json!({})).await;
    assert_eq!(answer.status(), 200);
    let copy: Value = answer.json().await.unwrap();
    assert_eq!(copy["redeliveryOf"], first["id"]);
    let arrived = amazon.endpoint.wait_for(3).await;
    assert_eq!(String::from_utf8_lossy(&arrived[2].body), first["body"].as_str().unwrap());
    amazon.verified(&arrived[2]).await;
    let missing = amazon.sim.control("ipn/deliveries/999999/redeliver", json!({})).await;
    assert_eq!(missing.status(), 404);
    let garbage = amazon.sim.control("ipn/deliveries/x/redeliver", json!({})).await;
    assert_eq!(garbage.status(), 404);
}

#[tokio::test]
async fn the_duplicate_control_sends_the_next_notification_twice_with_one_notification_id() {
    let amazon = Amazon::start().await;
    let order = amazon.order(1000).await;
    amazon.messages(2).await;
    assert_eq!(amazon.sim.control("ipn/duplicate", json!({ "count": 1 })).await.status(), 204);
    amazon.client.cancel_charge(&order.charge, "").await.unwrap();
    let messages = amazon.messages(4).await;
    let (first, second) = (&messages[2], &messages[3]);
    assert_eq!(first.1, second.1, "the same Amazon notification");
    assert_ne!(first.0.message_id, second.0.message_id, "published twice");
    let deliveries = amazon.settled_deliveries().await;
    assert_eq!(deliveries[3]["duplicateOf"], deliveries[2]["id"]);
    // Only the next one: a duplicate would be logged with the notification it copies, as the
    // API changes the object (before answering).
    amazon.client.close_charge_permission(&order.permission, "x", false).await.unwrap();
    assert_eq!(amazon.settled_deliveries().await.len(), 5);
    assert_eq!(amazon.endpoint.received().len(), 5);
    assert_eq!(amazon.sim.control("ipn/duplicate", json!({ "count": 101 })).await.status(), 400);
}

#[tokio::test]
async fn notifications_are_off_until_an_endpoint_is_set() {
    let amazon = Amazon::quiet().await;
    let settings = amazon.sim.read_control("ipn").await;
    assert_eq!((settings["enabled"].as_bool(), settings["url"].as_str()), (Some(false), None));
    let order = amazon.order(1000).await;
    amazon.client.capture_charge(&order.charge, &Money::yen(1000), &key()).await.unwrap();
    // A notification is logged as the API changes the object, before it answers.
    assert!(amazon.deliveries().await.is_empty());
    assert!(amazon.endpoint.received().is_empty());
    let on = amazon.configure(json!({ "enabled": true })).await;
    assert_eq!(on["url"], format!("{SHOP}/api/amazonpay2/ipn.php"), "the shop's own endpoint by default");
    let other = amazon.configure(json!({ "url": amazon.endpoint.url })).await;
    assert_eq!(other["url"], amazon.endpoint.url.as_str());
    let off = amazon.configure(json!({ "url": null })).await;
    assert_eq!(off["enabled"], false);
}

#[tokio::test]
async fn the_api_answers_without_waiting_for_the_endpoint() {
    let amazon = Amazon::start().await;
    let order = amazon.order(1000).await;
    amazon.settled_deliveries().await;
    let before = amazon.endpoint.received().len();
    // The shop's endpoint takes the capture's notification and does not answer: the capture is
    // answered all the same.
    amazon.endpoint.hold();
    let (amount, key) = (Money::yen(1000), key());
    let capture = amazon.client.capture_charge(&order.charge, &amount, &key);
    let answered = tokio::time::timeout(Duration::from_secs(60), capture).await;
    assert!(answered.is_ok(), "the capture waited for the endpoint's answer");
    answered.unwrap().unwrap();
    amazon.endpoint.wait_for(before + 1).await;
    let pending = amazon.deliveries().await.iter().filter(|d| d["status"] == "pending").count();
    assert!(pending >= 1, "the notification arrived and is still unanswered");
    amazon.endpoint.release();
    let delivered = amazon.settled_deliveries().await;
    assert!(delivered.iter().all(|d| d["status"] == "delivered"), "{delivered:?}");
}

#[tokio::test]
async fn the_signing_certificate_is_served_and_nothing_else_is() {
    let amazon = Amazon::start().await;
    amazon.order(1000).await;
    let (envelope, _) = amazon.messages(1).await.remove(0);
    let settings = amazon.sim.read_control("ipn").await;
    assert_eq!(settings["signingCertUrl"], envelope.signing_cert_url.as_str());
    let answer = amazon.sim.http.get(&envelope.signing_cert_url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    for path in ["/SimpleNotificationService-0000.pem", "/favicon.ico", "/SimpleNotificationService-.pem"] {
        assert_eq!(amazon.sim.http.get(amazon.sim.url(path)).send().await.unwrap().status(), 404, "{path}");
    }
}

#[tokio::test]
async fn bad_ipn_settings_are_refused_and_change_nothing() {
    let amazon = Amazon::start().await;
    for bad in [
        json!({ "url": "ftp://shop.example/ipn" }),
        json!({ "url": "not a url" }),
        json!({ "url": 5 }),
        json!({ "signatureVersion": "3" }),
        json!({ "attempts": 0 }),
        json!({ "attempts": 21 }),
        json!({ "firstDelayMs": 600001 }),
        json!({ "unknown": true }),
        json!([]),
    ] {
        assert_eq!(amazon.sim.control("ipn", bad.clone()).await.status(), 400, "{bad}");
    }
    let settings = amazon.sim.read_control("ipn").await;
    assert_eq!(settings["url"], amazon.endpoint.url.as_str());
    assert_eq!((settings["signatureVersion"].as_str(), settings["attempts"].as_u64()), (Some("1"), Some(6)));
}

#[tokio::test]
async fn the_certificate_url_lies_where_the_shops_api_calls_arrive_not_where_browsers_do() {
    let amazon = Amazon::quiet().await;
    let port = amazon.sim.base.port().unwrap();
    // A browser reaches the simulator under another name first.
    let script = amazon.sim.http.get(format!("http://localhost:{port}/checkout.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    amazon.configure(json!({ "url": amazon.endpoint.url })).await;
    let order = amazon.order(1000).await;
    // And again after the shop's API calls: a Seller Central change made under that name.
    let answer = amazon
        .sim
        .http
        .post(format!("http://localhost:{port}/__simulator/seller-central"))
        .json(&json!({ "action": "cancel", "chargeId": order.charge }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    for (envelope, _) in amazon.messages(3).await {
        let expected = format!("{}/SimpleNotificationService-", amazon.sim.origin());
        assert!(envelope.signing_cert_url.starts_with(&expected), "{}", envelope.signing_cert_url);
    }
}
