#![cfg(not(target_arch = "wasm32"))]
//! The shop's IPN endpoint (`POST /api/amazonpay2/ipn.php`) over real HTTP: Amazon's (the
//! simulator's) notifications move orders to what Amazon's API says, and nothing else does —
//! forged, tampered, foreign, replayed, oversized or unsolicited envelopes change nothing, and the
//! shop never fetches a URL that an unverified envelope named.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use serde_json::{Value, json};

use amazonpay2::amazon::sns::{Envelope, IpnMessage, MessageType, ObjectType, SignatureVersion};
use amazonpay2::core::orders::OrderState;
use amazonpay2::core::platform::Order;
use amazonpay2::simulator::SnsSigner;
use common::checkout::*;
use common::sim::serve;

/// A test stand-in for SNS: its own signing key, its certificate served on loopback, and a
/// count of every request its server received (certificate or not).
struct TestSns {
    signer: SnsSigner,
    origin: String,
    requests: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl TestSns {
    async fn start() -> Self {
        let now = amazonpay2::core::now().unsigned_abs();
        let signer = SnsSigner::generate(now - 3600, now + 86_400).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let (pem, file, counter) =
            (signer.certificate_pem().to_owned(), signer.file_name().to_owned(), requests.clone());
        let router = Router::new().fallback(move |uri: axum::http::Uri| {
            let (pem, file, counter) = (pem.clone(), file.clone(), counter.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if uri.path() == format!("/{file}") {
                    (axum::http::StatusCode::OK, pem)
                } else {
                    (axum::http::StatusCode::NOT_FOUND, String::new())
                }
            }
        });
        let (base, task) = serve(router).await;
        Self { signer, origin: base.as_str().trim_end_matches('/').to_owned(), requests, _task: task }
    }

    fn cert_url(&self) -> String {
        format!("{}/{}", self.origin, self.signer.file_name())
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// A notification of `message`, signed by this stand-in.
    fn notification(&self, message: &IpnMessage) -> String {
        let mut envelope = Envelope {
            kind: MessageType::Notification,
            message_id: format!("test-{}", message.notification_id),
            topic_arn: "arn:aws:sns:ap-northeast-1:000000000000:test".into(),
            subject: None,
            message: message.to_json(),
            timestamp: "2026-11-30T00:00:00.000Z".into(),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: self.cert_url(),
            unsubscribe_url: None,
            subscribe_url: None,
            token: None,
        };
        self.signer.sign(&mut envelope, SignatureVersion::V1).unwrap();
        envelope.to_json()
    }
}

fn message(merchant: &str, kind: ObjectType, object: &str, notification: &str) -> IpnMessage {
    IpnMessage {
        merchant_id: merchant.into(),
        object_type: kind,
        object_id: object.into(),
        charge_permission_id: None,
        notification_type: "STATE_CHANGE".into(),
        notification_id: notification.into(),
        notification_version: "V2".into(),
    }
}

/// A shop that trusts `sns`'s certificates (instead of the simulator's), as
/// `AMAZONPAY2_IPN_CERT_HOSTS` allows.
async fn world_trusting(sns: &TestSns) -> World {
    World::start_with(vec![("AMAZONPAY2_IPN_CERT_HOSTS", sns.origin.clone())]).await
}

async fn post_ipn(world: &World, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{}/api/amazonpay2/ipn.php", world.shop))
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", "Notification")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn order_of(world: &World, session: &str) -> Order {
    world.db.order_by_checkout_session(session).await.unwrap().expect("an order")
}

/// Waits (at most 10 s) until the order of `session` is in `state`.
async fn wait_for_state(world: &World, session: &str, state: OrderState) -> Order {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let order = order_of(world, session).await;
        if order.state == state {
            return order;
        }
        assert!(tokio::time::Instant::now() < deadline, "order {} stayed {:?}", order.number, order.state);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Turns Amazon's notifications to the shop on, retrying quickly.
async fn notify_the_shop(world: &World) {
    world.amazon_control("ipn", json!({ "enabled": true, "firstDelayMs": 50, "maxDelayMs": 200 })).await;
}

/// A shopper's order left 決済保留 (JCB: Amazon authorizes it later); its checkout session
/// and its charge.
async fn pending_order(world: &World) -> (String, String) {
    let browser = world.mug_shopper().await;
    let session = browser.to_confirmation(JCB).await;
    completed_order(&browser.place_and_finish().await, "payment_pending");
    let order = order_of(world, &session).await;
    assert_eq!(order.state, OrderState::Pending);
    (session, order.charge_id.expect("the pending charge"))
}

async fn deliveries(world: &World) -> Vec<Value> {
    let reply = reqwest::get(format!("{}/__simulator/ipn/deliveries", world.amazon)).await.unwrap();
    reply.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

/// Waits until at least `count` deliveries about `object` were all delivered (answered 2xx).
async fn delivered(world: &World, object: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let about: Vec<Value> = deliveries(world).await.into_iter().filter(|d| d["objectId"] == object).collect();
        if about.len() >= count && about.iter().all(|d| d["status"] == "delivered") {
            return about;
        }
        assert!(tokio::time::Instant::now() < deadline, "deliveries about {object}: {about:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ipn_events(world: &World, order: &Order) -> Vec<String> {
    let detail = world.db.order_detail(order.id).await.unwrap().unwrap();
    detail.events.iter().filter(|e| e.actor == "ipn").map(|e| e.to.name().to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Amazon's notifications move orders
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_pending_authorization_becomes_仮売上_when_amazon_notifies_that_it_was_authorized() {
    let world = World::start().await;
    notify_the_shop(&world).await;
    let (session, charge) = pending_order(&world).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Authorized" })).await;
    let order = wait_for_state(&world, &session, OrderState::Authorized).await;
    assert_eq!(order.authorized.map(|(amount, _)| amount), Some(MUG_ORDER));
    assert_eq!(ipn_events(&world, &order).await, ["authorized"]);
    let shopper_sees = world.mug_shopper().await; // another member: nothing of theirs moved
    assert!(shopper_sees.orders().await.is_empty());
}

#[tokio::test]
async fn a_pending_authorization_declined_later_becomes_カード未決済() {
    let world = World::start().await;
    notify_the_shop(&world).await;
    let (session, charge) = pending_order(&world).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Declined" })).await;
    let order = wait_for_state(&world, &session, OrderState::CardUnsettled).await;
    assert_eq!(order.state.credit_status(), "カード未決済");
}

#[tokio::test]
async fn a_notification_delivered_twice_moves_the_order_once() {
    let world = World::start().await;
    notify_the_shop(&world).await;
    let (session, charge) = pending_order(&world).await;
    world.amazon_control("ipn/duplicate", json!({ "count": 1 })).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Authorized" })).await;
    let sent = delivered(&world, &charge, 2).await;
    let last_two = &sent[sent.len() - 2..];
    assert_eq!(last_two[0]["notificationId"], last_two[1]["notificationId"], "the same notification twice");
    let order = wait_for_state(&world, &session, OrderState::Authorized).await;
    assert_eq!(ipn_events(&world, &order).await, ["authorized"]);

    // Replayed by anyone, byte for byte: acknowledged, and nothing moves.
    let (status, answer) = post_ipn(&world, last_two[1]["body"].as_str().unwrap().to_owned()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("duplicate")));
    assert_eq!(order_of(&world, &session).await.version, order.version);
}

#[tokio::test]
async fn a_notification_that_cannot_be_followed_now_is_answered_503_and_followed_when_amazon_sends_it_again() {
    let world = World::start().await;
    let (session, charge) = pending_order(&world).await;
    world.amazon_control("ipn", json!({ "enabled": true, "attempts": 1 })).await;
    // Amazon's API fails while the shop asks about the charge the notification names.
    world.amazon_control("faults", json!({ "status": 503, "count": 100 })).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Authorized" })).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let about: Vec<Value> = deliveries(&world).await.into_iter().filter(|d| d["objectId"] == charge).collect();
        if let Some(done) = about.iter().find(|d| d["status"] == "failed") {
            break done.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{about:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed["responses"], json!([503]));
    assert_eq!(order_of(&world, &session).await.state, OrderState::Pending, "nothing moved");

    // Amazon is back and sends the notification again: it is followed (not taken for a duplicate).
    world.amazon_control("faults", json!({ "status": 503, "count": 0 })).await;
    world.amazon_control(&format!("ipn/deliveries/{}/redeliver", failed["id"]), json!({})).await;
    let order = wait_for_state(&world, &session, OrderState::Authorized).await;
    assert_eq!(ipn_events(&world, &order).await, ["authorized"]);
}

// ---------------------------------------------------------------------------------------------
// Nothing else does
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_tampered_notification_is_refused_and_changes_nothing() {
    let world = World::start().await;
    notify_the_shop(&world).await;
    let (session, charge) = pending_order(&world).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Authorized" })).await;
    let genuine = delivered(&world, &charge, 1).await.pop().unwrap()["body"].as_str().unwrap().to_owned();
    let order = wait_for_state(&world, &session, OrderState::Authorized).await;

    let mut envelope: Value = serde_json::from_str(&genuine).unwrap();
    let inner = envelope["Message"].as_str().unwrap().replace(&charge, "S03-0000000-0000000-C000000");
    envelope["Message"] = Value::String(inner.replace("NotificationId\":\"", "NotificationId\":\"x"));
    let (status, answer) = post_ipn(&world, envelope.to_string()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("signature_invalid")));

    let mut unsigned: Value = serde_json::from_str(&genuine).unwrap();
    unsigned["Signature"] = Value::String(String::new());
    let (status, _) = post_ipn(&world, unsigned.to_string()).await;
    assert!(status == 403 || status == 400, "{status}");
    assert_eq!(order_of(&world, &session).await.version, order.version, "nothing moved");
}

#[tokio::test]
async fn an_envelope_signed_elsewhere_is_refused_without_fetching_its_certificate() {
    let world = World::start().await; // trusts Amazon (here the simulator) only
    let sns = TestSns::start().await;
    let merchant = world.config.amazon.merchant_id.clone();
    let body = sns.notification(&message(&merchant, ObjectType::Charge, "S03-1", "n-1"));
    let (status, answer) = post_ipn(&world, body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("certificate_not_allowed")));
    assert_eq!(sns.requests(), 0, "the shop never fetched from an address the envelope chose");

    // The certificate URL is checked before anything is fetched: other schemes, hosts that only
    // look like SNS, queries and paths that are not certificates.
    let mut envelope: Value =
        serde_json::from_str(&sns.notification(&message(&merchant, ObjectType::Charge, "S03-1", "n-2"))).unwrap();
    for url in [
        "https://sns.ap-northeast-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.ap-northeast-1.amazonaws.com/cert.pem",
        "http://sns.ap-northeast-1.amazonaws.com/cert.pem",
        "https://sns.ap-northeast-1.amazonaws.com/cert.pem?x=1",
        "https://sns.ap-northeast-1.amazonaws.com:8443/cert.pem",
        "file:///etc/passwd",
        &format!("{}/{}", sns.origin, "other.pem"),
    ] {
        envelope["SigningCertURL"] = Value::String(url.to_owned());
        let (status, answer) = post_ipn(&world, envelope.to_string()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("certificate_not_allowed")), "{url}");
    }
    assert_eq!(sns.requests(), 0);
}

#[tokio::test]
async fn a_genuine_notification_for_another_merchant_is_refused() {
    let sns = TestSns::start().await;
    let world = world_trusting(&sns).await;
    let body = sns.notification(&message("AOTHERMERCHANT", ObjectType::Charge, "S03-1", "n-1"));
    let (status, answer) = post_ipn(&world, body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("merchant_mismatch")));
    assert_eq!(sns.requests(), 1, "the certificate was fetched once, after its URL was allowed");

    // For this merchant, but about a charge no order has: acknowledged, nothing moves, and the
    // certificate is not fetched again.
    let merchant = world.config.amazon.merchant_id.clone();
    let body = sns.notification(&message(&merchant, ObjectType::Charge, "S03-0000000-0000000-C000001", "n-2"));
    let (status, answer) = post_ipn(&world, body).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("unchanged")));
    assert_eq!(sns.requests(), 1);
}

#[tokio::test]
async fn a_subscription_confirmation_is_logged_and_its_url_never_followed() {
    let sns = TestSns::start().await;
    let world = world_trusting(&sns).await;
    let mut envelope = Envelope {
        kind: MessageType::SubscriptionConfirmation,
        message_id: "m-1".into(),
        topic_arn: "arn:aws:sns:ap-northeast-1:000000000000:test".into(),
        subject: None,
        message: "You have chosen to subscribe to the topic.".into(),
        timestamp: "2026-11-30T00:00:00.000Z".into(),
        signature_version: String::new(),
        signature: String::new(),
        signing_cert_url: sns.cert_url(),
        unsubscribe_url: None,
        subscribe_url: Some(format!("{}/subscribe?token=1", sns.origin)),
        token: Some("token".into()),
    };
    sns.signer.sign(&mut envelope, SignatureVersion::V2).unwrap();
    let (status, answer) = post_ipn(&world, envelope.to_json()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("logged")));
    // The endpoint does its work within the request (it starts no task of its own): by its
    // answer, a follow of the URL would have been made.
    assert_eq!(sns.requests(), 1, "only the certificate, never the SubscribeURL");
}

#[tokio::test]
async fn hostile_requests_get_a_clear_4xx() {
    let world = World::start().await;
    let huge = format!("{{\"Type\":\"Notification\",\"Message\":\"{}\"}}", "x".repeat(70 * 1024));
    let cases: Vec<(&str, String, u16)> = vec![
        ("empty", String::new(), 400),
        ("not JSON", "Type=Notification".into(), 400),
        ("an array", "[]".into(), 400),
        ("no signature", json!({ "Type": "Notification", "MessageId": "1" }).to_string(), 400),
        ("an unknown type", json!({ "Type": "Surprise" }).to_string(), 400),
        ("oversized", huge, 413),
    ];
    for (what, body, expected) in cases {
        let (status, answer) = post_ipn(&world, body).await;
        assert_eq!(status, expected, "{what}: {answer}");
    }
    let from_a_page = reqwest::Client::new()
        .post(format!("{}/api/amazonpay2/ipn.php", world.shop))
        .header("origin", "https://evil.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(from_a_page.status(), 403);
    let read = reqwest::get(format!("{}/api/amazonpay2/ipn.php", world.shop)).await.unwrap();
    assert_eq!(read.status(), 405);
}

#[tokio::test]
async fn a_certificate_that_cannot_be_fetched_now_is_answered_503_so_that_amazon_retries() {
    let sns = TestSns::start().await;
    // Trusted, but nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let world = World::start_with(vec![("AMAZONPAY2_IPN_CERT_HOSTS", format!("http://{closed}"))]).await;
    let merchant = world.config.amazon.merchant_id.clone();
    let mut envelope: Value =
        serde_json::from_str(&sns.notification(&message(&merchant, ObjectType::Charge, "S03-1", "n-1"))).unwrap();
    envelope["SigningCertURL"] = Value::String(format!("http://{closed}/{}", sns.signer.file_name()));
    let (status, answer) = post_ipn(&world, envelope.to_string()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (503, Some("try_again_later")));
}

#[tokio::test]
async fn a_charge_permission_closed_in_seller_central_ends_its_subscription() {
    let world = World::start().await;
    notify_the_shop(&world).await;
    let (_browser, session) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let permission = order_of(&world, &session).await.charge_permission_id.expect("a recurring permission");
    let far = a_month_after(a_month_after(today_in_japan()));
    assert_eq!(world.db.due_subscriptions(far).await.unwrap().len(), 1);

    world
        .amazon_control(
            "seller-central",
            json!({ "action": "close", "chargePermissionId": permission, "reason": "定期便の解約 (電話)" }),
        )
        .await;
    delivered(&world, &permission, 1).await;
    assert!(world.db.due_subscriptions(far).await.unwrap().is_empty(), "no cycle is charged on a closed permission");
}
