//! The shop's IPN endpoint (`POST /api/amazonpay2/ipn.php`) over real HTTP: Amazon's (the
//! simulator's) notifications move orders to what Amazon's API says, and nothing else does —
//! forged, tampered, foreign, replayed, oversized or unsolicited envelopes change nothing, and the
//! shop never fetches a URL that an unverified envelope named.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use serde_json::{Value, json};

use crate::common::checkout::*;
use crate::common::sim::serve;
use amazonpay2::amazon::sns::{Envelope, IpnMessage, MessageType, ObjectType, SignatureVersion};
use amazonpay2::core::notifications::ReadBudget;
use amazonpay2::core::operations::Operation;
use amazonpay2::core::orders::OrderState;
use amazonpay2::core::platform::Order;
use amazonpay2::simulator::SnsSigner;
use amazonpay2::storage::{Claimed, NotificationClaim};
use futures_util::StreamExt;

/// A test stand-in for SNS: its own signing key, its certificate served on loopback, and a
/// count of every request its server received (certificate or not).
struct TestSns {
    signer: SnsSigner,
    origin: String,
    requests: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl TestSns {
    /// Serving its certificate as the simulator does: with the test root that issued it.
    async fn start() -> Self {
        Self::serving(SnsSigner::certificate_pem).await
    }

    /// Serving what `served` makes of its signer at its certificate URL.
    async fn serving(served: impl FnOnce(&SnsSigner) -> String) -> Self {
        let now = amazonpay2::core::now().unsigned_abs();
        let signer = SnsSigner::generate(now - 3600, now + 86_400).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let (pem, file, counter) = (served(&signer), signer.file_name().to_owned(), requests.clone());
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

    /// A notification of `message` on [`TEST_TOPIC`], signed by this stand-in.
    fn notification(&self, message: &IpnMessage) -> String {
        self.notification_on(TEST_TOPIC, message)
    }

    /// A notification of `message` published to `topic`, signed by this stand-in (as SNS signs
    /// whatever any of its customers publishes to a topic of theirs).
    fn notification_on(&self, topic: &str, message: &IpnMessage) -> String {
        let mut envelope = Envelope {
            kind: MessageType::Notification,
            message_id: format!("test-{}", message.notification_id),
            topic_arn: topic.into(),
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

/// The topic [`TestSns`] publishes to unless told otherwise.
const TEST_TOPIC: &str = "arn:aws:sns:ap-northeast-1:000000000000:test";

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
    post_ipn_with(world, body, &[]).await
}

async fn post_ipn_with(world: &World, body: impl Into<reqwest::Body>, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/amazonpay2/ipn.php", world.shop))
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", "Notification");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let reply = request.body(body).send().await.unwrap();
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
    assert_eq!(order.authorized.map(|a| a.amount), Some(MUG_ORDER));
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

/// A member's mug, authorized (仮売上); its checkout session.
async fn authorized_order(world: &World) -> (String, Order) {
    let browser = world.mug_shopper().await;
    let session = browser.to_confirmation(VISA).await;
    completed_order(&browser.place_and_finish().await, "order_placed");
    let order = order_of(world, &session).await;
    assert_eq!(order.state, OrderState::Authorized);
    (session, order)
}

#[tokio::test]
async fn an_attribute_change_is_followed_by_reading_amazon_again() {
    let world = World::start().await;
    let (session, order) = authorized_order(&world).await;
    // Cancelled in Seller Central while no notifications reached the shop.
    world.amazon_control("seller-central", json!({ "action": "cancel", "chargeId": order.charge_id })).await;
    assert_eq!(order_of(&world, &session).await.state, OrderState::Authorized, "the shop has not heard");
    // Then the buyer's new card: an ATTRIBUTE_CHANGE of the charge permission. The shop reads the
    // permission and its orders' charges, and finds the cancellation.
    notify_the_shop(&world).await;
    let permission = order.charge_permission_id.clone().unwrap();
    world.amazon_control("cards", json!({ "chargePermissionId": permission, "card": "mastercard" })).await;
    let sent = delivered(&world, &permission, 1).await;
    let envelope: Value = serde_json::from_str(sent.last().unwrap()["body"].as_str().unwrap()).unwrap();
    let message: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["NotificationType"], "ATTRIBUTE_CHANGE");
    let order = wait_for_state(&world, &session, OrderState::Canceled).await;
    assert_eq!(ipn_events(&world, &order).await, ["canceled"]);
}

#[tokio::test]
async fn a_chargeback_is_followed_by_reading_its_charge_permission_and_charges_again_and_told_in_the_orders_history() {
    let world = World::start().await;
    let (session, order) = authorized_order(&world).await;
    // Captured in Seller Central while no notifications reached the shop.
    world.amazon_control("seller-central", json!({ "action": "capture", "chargeId": order.charge_id })).await;
    notify_the_shop(&world).await;
    let answer = reqwest::Client::new()
        .post(format!("{}/__simulator/chargebacks", world.amazon))
        .json(&json!({ "chargeId": order.charge_id }))
        .send()
        .await
        .unwrap();
    let chargeback = answer.json::<Value>().await.unwrap()["chargebackId"].as_str().unwrap().to_owned();
    let sent = delivered(&world, &chargeback, 1).await;
    assert_eq!(sent[0]["objectType"], "CHARGEBACK");
    let order = wait_for_state(&world, &session, OrderState::Captured).await;
    assert_eq!((order.captured, ipn_events(&world, &order).await), (MUG_ORDER, vec!["captured".to_owned(); 2]));
    // Where the owner looks: the order's payment history says so, its state as it was.
    let line = world.db.order_detail(order.id).await.unwrap().unwrap().events.pop().unwrap();
    assert_eq!((line.from, line.to), (Some(OrderState::Captured), OrderState::Captured));
    assert!(line.detail.contains("チャージバック") && line.detail.contains(&chargeback), "{}", line.detail);
    assert!(line.detail.contains("Seller Central で対応してください"), "{}", line.detail);
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

/// A random source that always fails.
struct NoRandomSource;

impl amazonpay2::core::random::Randomness for NoRandomSource {
    fn fill(&self, _: &mut [u8]) -> Result<(), amazonpay2::core::random::NoRandomness> {
        Err(amazonpay2::core::random::NoRandomness)
    }
}

#[tokio::test]
async fn a_failing_random_source_is_answered_503_and_claims_nothing() {
    let sns = TestSns::start().await;
    let vars = vec![("AMAZONPAY2_IPN_CERT_HOSTS", sns.origin.clone())];
    let world = World::start_adapting(vars, |core| core.with_randomness(Arc::new(NoRandomSource))).await;
    let merchant = world.config.amazon.merchant_id.clone();
    let body = sns.notification(&message(&merchant, ObjectType::Charge, "S03-0000000-0000000-C000001", "n-1"));
    let (status, answer) = post_ipn(&world, body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (503, Some("try_again_later")), "{answer}");
    let at = amazonpay2::core::now();
    let claim = NotificationClaim {
        id: "n-1".into(),
        object_type: "CHARGE".into(),
        object_id: String::new(),
        token: "probe".into(),
        at,
        until: at + 1,
    };
    assert_eq!(world.db.claim_notification(&claim).await.unwrap(), Claimed::Mine, "nothing was claimed");
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

// ---------------------------------------------------------------------------------------------
// A genuine SNS signature is not enough: SNS's certificate, Amazon's topic
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_certificate_that_chains_to_no_trusted_root_is_refused_even_from_an_allowed_origin() {
    // The signing certificate served alone: its signature verifies, but nothing vouches for it.
    let sns = TestSns::serving(|signer| signer.signing_certificate_pem().to_owned()).await;
    let world = world_trusting(&sns).await;
    let (session, charge) = pending_order(&world).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Authorized" })).await;
    let merchant = world.config.amazon.merchant_id.clone();
    let (status, answer) =
        post_ipn(&world, sns.notification(&message(&merchant, ObjectType::Charge, &charge, "n-1"))).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("certificate_untrusted")), "{answer}");
    assert_eq!(order_of(&world, &session).await.state, OrderState::Pending, "nothing moved");
}

/// Amazon's topic in these tests.
const AMAZONS_TOPIC: &str = "arn:aws:sns:ap-northeast-1:111111111111:amazon-pay-ipn";
/// A topic anyone with an AWS account can make and publish to.
const SOMEONE_ELSES_TOPIC: &str = "arn:aws:sns:ap-northeast-1:222222222222:forged";

#[tokio::test]
async fn without_configured_topics_no_sender_can_shut_amazons_notifications_out_and_the_owner_sees_every_topic() {
    let sns = TestSns::start().await;
    let world = world_trusting(&sns).await;
    let merchant = world.config.amazon.merchant_id.clone();
    let (session, charge) = pending_order(&world).await;

    // Someone who knows the shop's charge (its buyer does) publishes about it from a topic of
    // their own, before Amazon says anything: the shop reads the charge from Amazon, which says
    // it is still pending, and nothing moves.
    let first = message(&merchant, ObjectType::Charge, &charge, "n-0");
    let (status, answer) = post_ipn(&world, sns.notification_on(SOMEONE_ELSES_TOPIC, &first)).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("unchanged")), "{answer}");

    // Amazon's own notifications are followed all the same, then and later.
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Authorized" })).await;
    let genuine = message(&merchant, ObjectType::Charge, &charge, "n-1");
    let (status, answer) = post_ipn(&world, sns.notification_on(AMAZONS_TOPIC, &genuine)).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("moved")), "{answer}");
    wait_for_state(&world, &session, OrderState::Authorized).await;
    let again = message(&merchant, ObjectType::Charge, &charge, "n-2");
    let (status, _) = post_ipn(&world, sns.notification_on(AMAZONS_TOPIC, &again)).await;
    assert_eq!(status, 200);

    // The owner sees every topic notifications came from, to choose Amazon's.
    let topics = world.db.ipn_topics(&world.state.core.ipn_topic_scope()).await.unwrap();
    let mut names: Vec<&str> = topics.iter().map(|t| t.topic_arn.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, [AMAZONS_TOPIC, SOMEONE_ELSES_TOPIC]);
    assert!(topics.iter().all(|t| t.last_confirmed.is_some()), "both named the shop's real charge");
    amazonpay2::server::admin::put_account(
        &world.db,
        crate::common::admin::OWNER,
        crate::common::admin::OWNER_PASSWORD,
    )
    .await
    .unwrap();
    let owner = crate::common::admin::AdminBrowser::new(&world.shop);
    owner.log_in().await;
    let page = owner.get("/admin/settings/amazonpay").await;
    for topic in [AMAZONS_TOPIC, SOMEONE_ELSES_TOPIC] {
        assert!(page.shows(&format!("<code>{topic}</code>")), "{topic}");
    }
    assert!(page.shows("AMAZONPAY2_IPN_TOPIC_ARNS"), "how to follow Amazon's alone");

    // The topic header SNS sends must be the envelope's (signed) topic.
    let header = [("x-amz-sns-topic-arn", SOMEONE_ELSES_TOPIC)];
    let relabelled = message(&merchant, ObjectType::Charge, &charge, "n-4");
    let (status, answer) = post_ipn_with(&world, sns.notification_on(AMAZONS_TOPIC, &relabelled), &header).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("topic_mismatch")));
}

#[tokio::test]
async fn configured_topics_are_the_only_ones_followed() {
    let sns = TestSns::start().await;
    let world = World::start_with(vec![
        ("AMAZONPAY2_IPN_CERT_HOSTS", sns.origin.clone()),
        ("AMAZONPAY2_IPN_TOPIC_ARNS", AMAZONS_TOPIC.to_owned()),
    ])
    .await;
    let merchant = world.config.amazon.merchant_id.clone();
    let (session, charge) = pending_order(&world).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Authorized" })).await;
    let forged = message(&merchant, ObjectType::Charge, &charge, "n-1");
    let (status, answer) = post_ipn(&world, sns.notification_on(SOMEONE_ELSES_TOPIC, &forged)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("topic_not_allowed")));
    assert_eq!(order_of(&world, &session).await.state, OrderState::Pending);
    let seen = world.db.ipn_topics(&world.state.core.ipn_topic_scope()).await.unwrap();
    assert_eq!(seen.len(), 1, "a refused topic is listed for the owner too");
    assert_eq!((seen[0].topic_arn.as_str(), seen[0].last_confirmed), (SOMEONE_ELSES_TOPIC, None));
    let genuine = message(&merchant, ObjectType::Charge, &charge, "n-2");
    let (status, answer) = post_ipn(&world, sns.notification_on(AMAZONS_TOPIC, &genuine)).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("moved")));
}

// ---------------------------------------------------------------------------------------------
// Recorded only once handled; a flood is not a flood of Amazon calls
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_notification_another_instance_is_handling_is_not_taken_for_handled() {
    let sns = TestSns::start().await;
    let world = world_trusting(&sns).await;
    let merchant = world.config.amazon.merchant_id.clone();
    let (session, charge) = pending_order(&world).await;
    world.amazon_control("authorizations", json!({ "chargeId": charge, "outcome": "Authorized" })).await;
    // Another instance took the same notification a moment ago and is still at it.
    let at = amazonpay2::core::now();
    let theirs = NotificationClaim {
        id: "n-1".into(),
        object_type: "CHARGE".into(),
        object_id: charge.clone(),
        token: "other-instance".into(),
        at,
        until: at + 120,
    };
    assert_eq!(world.db.claim_notification(&theirs).await.unwrap(), Claimed::Mine);
    let body = sns.notification(&message(&merchant, ObjectType::Charge, &charge, "n-1"));
    let (status, answer) = post_ipn(&world, body.clone()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (503, Some("try_again_later")), "not 'duplicate'");
    assert_eq!(order_of(&world, &session).await.state, OrderState::Pending);

    // It failed and gave the notification up: Amazon's retry is followed, then is a repeat.
    world.db.release_notification("n-1", "other-instance").await.unwrap();
    let (status, answer) = post_ipn(&world, body.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("moved")));
    assert_eq!(order_of(&world, &session).await.state, OrderState::Authorized);
    let (status, answer) = post_ipn(&world, body).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("duplicate")));
}

#[tokio::test]
async fn notifications_that_name_nothing_to_read_are_not_remembered() {
    let sns = TestSns::start().await;
    let world = world_trusting(&sns).await;
    let merchant = world.config.amazon.merchant_id.clone();
    for n in 0..20 {
        let unknown = format!("S03-0000000-0000000-C{n:06}");
        let body = sns.notification(&message(&merchant, ObjectType::Charge, &unknown, &format!("unknown-{n}")));
        let (status, answer) = post_ipn(&world, body).await;
        assert_eq!((status, answer["outcome"].as_str()), (200, Some("unchanged")));
    }
    // Nothing was kept of them: each one's ID is free to claim.
    let at = amazonpay2::core::now();
    for n in [0, 19] {
        let claim = NotificationClaim {
            id: format!("unknown-{n}"),
            object_type: "CHARGE".into(),
            object_id: String::new(),
            token: "probe".into(),
            at,
            until: at + 1,
        };
        assert_eq!(world.db.claim_notification(&claim).await.unwrap(), Claimed::Mine);
    }
}

/// A clock that stands still: a read budget on it is exactly its size, however long a test takes.
struct Stopped(std::time::Instant);

impl amazonpay2::core::notifications::Clock for Stopped {
    fn now(&self) -> std::time::Instant {
        self.0
    }
}

/// A shop trusting `sns` whose notifications may read Amazon `reads` times, and no more.
async fn world_with_reads(sns: &TestSns, reads: u32) -> World {
    let budget = ReadBudget::with_clock(reads, Stopped(std::time::Instant::now()));
    let vars = vec![("AMAZONPAY2_IPN_CERT_HOSTS", sns.origin.clone())];
    World::start_adapting(vars, move |core| core.with_notification_reads(budget)).await
}

#[tokio::test]
async fn a_flood_of_genuine_notifications_reads_amazon_at_most_the_budget() {
    let sns = TestSns::start().await;
    let budget = 10;
    let world = world_with_reads(&sns, budget).await;
    let merchant = world.config.amazon.merchant_id.clone();
    let sent = 60;
    let bodies: Vec<String> = (0..sent)
        .map(|n| {
            let unknown = format!("S03-0000000-{n:07}");
            sns.notification(&message(&merchant, ObjectType::ChargePermission, &unknown, &format!("flood-{n}")))
        })
        .collect();
    let answers: Vec<(u16, Value)> = futures_util::stream::iter(bodies.into_iter().map(|body| post_ipn(&world, body)))
        .buffer_unordered(8)
        .collect()
        .await;
    let code = |answer: &(u16, Value)| answer.1["error"]["code"].as_str().map(str::to_owned);
    let codes: Vec<(u16, Option<String>)> = answers.iter().map(|a| (a.0, code(a))).collect();
    // Each notification followed asks Amazon about its charge permission once (Amazon has none
    // of these: 503, for a retry); the others are turned away before Amazon is asked.
    let read = codes.iter().filter(|c| **c == (503, Some("try_again_later".into()))).count();
    let turned_away = codes.iter().filter(|c| **c == (503, Some("busy".into()))).count();
    assert_eq!((read, turned_away), (budget as usize, sent - budget as usize), "{codes:?}");
}

#[tokio::test]
async fn every_amazon_read_a_notification_causes_is_counted_refunds_in_progress_included() {
    let sns = TestSns::start().await;
    let world = world_with_reads(&sns, 2).await;
    let merchant = world.config.amazon.merchant_id.clone();
    let (session, order) = authorized_order(&world).await;
    for operation in [Operation::Capture(None), Operation::Refund(100), Operation::Refund(200)] {
        let current = order_of(&world, &session).await;
        let core = &world.state.core;
        core.operate(current.id, current.version, operation, "owner", false).await.unwrap().unwrap();
    }
    let refunded = order_of(&world, &session).await;
    assert_eq!(refunded.state, OrderState::Refunded, "two refunds in progress at Amazon");
    // A notification about the captured charge reads each refund in progress: two reads, and the
    // budget holds two.
    let charge = order.charge_id.clone().unwrap();
    let first = message(&merchant, ObjectType::Charge, &charge, "n-1");
    let (status, answer) = post_ipn(&world, sns.notification(&first)).await;
    assert_eq!(status, 200, "{answer}");
    // The next one would read them again: the budget is spent at its first read.
    let second = message(&merchant, ObjectType::Charge, &charge, "n-2");
    let (status, answer) = post_ipn(&world, sns.notification(&second)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (503, Some("busy")), "{answer}");
}
