//! Many merchants on one simulator, through the shop's own signed client over a socket: merchant A
//! is the shop the simulator was made for, merchant B one registered with
//! `POST /__simulator/merchants` with its own RSA key. Each request is verified with the key its
//! public key ID names; B's key cannot sign as A, B's store cannot be used with A's key, and B
//! naming A's checkout session, charge, charge permission, refund or buyer token is told it does
//! not exist. Idempotency keys are each merchant's own, and each merchant's notifications reach
//! its own IPN URL naming its own 出品者ID.

use std::sync::{Arc, LazyLock};

use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use url::Url;

use crate::common::sim::{FAST_RETRY, IpnReceiver, SHOP, SimSocket, account, ready, shop_key};
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::types::Money;
use amazonpay2::core::signer::ButtonSigner;
use amazonpay2::core::{AmazonError, AmazonPayClient};

const A_MERCHANT: &str = "A1FIRSTMERCHANT";
const A_STORE: &str = "amzn1.application-oa2-client.firstmerchant00000000000000";
const A_KEY_ID: &str = "SANDBOX-AFIRSTMERCHANTKEY0000000";
/// Merchant B's shop.
const SHOP2: &str = "https://shop2.example";

/// Merchant B's key pair: a fresh RSA-2048 key (made once per test binary), as PKCS #8 for its
/// client and as the SubjectPublicKeyInfo PEM it registers.
static B_KEY: LazyLock<(Arc<ShopKey>, String)> = LazyLock::new(|| {
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
    let public = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
    (Arc::new(ShopKey::from_pem(pem.as_bytes()).unwrap()), public)
});

#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(result: Result<T, AmazonError>, status: u16, reason_code: &str) -> String {
    match result {
        Err(AmazonError::Rejected { status: got, reason_code: code, message }) => {
            assert_eq!((got, code.as_str()), (status, reason_code), "{message}");
            message
        }
        other => panic!("expected Rejected {{ {status}, {reason_code} }}, got {other:?}"),
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("k{}x{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The IDs `POST /__simulator/merchants` answers.
#[derive(Clone, Debug)]
struct Ids {
    merchant_id: String,
    store_id: String,
    public_key_id: String,
}

/// The simulator with merchant A (its first) and merchant B (registered, with `SHOP2` as its
/// store's JavaScript origin), and each one's signed client.
struct Two {
    sim: SimSocket,
    a: AmazonPayClient,
    b: AmazonPayClient,
    b_ids: Ids,
}

impl Two {
    async fn start() -> Self {
        let sim = SimSocket::start(account(A_MERCHANT, A_STORE, A_KEY_ID, true), &shop_key(), |s| s.router()).await;
        let a = sim.client(&shop_key());
        let b_ids = register(&sim, json!({ "publicKeyPem": B_KEY.1, "sandbox": true })).await;
        let added = sim.control(&format!("merchants/{}/origins", b_ids.merchant_id), json!({ "origin": SHOP2 })).await;
        assert_eq!(added.status(), 200);
        let b = client(&sim, &b_ids, B_KEY.0.clone());
        Self { sim, a, b, b_ids }
    }

    /// A's checkout session, with the buyer's choice made on Amazon's page.
    async fn a_session(&self) -> String {
        let payload = json!({
            "webCheckoutDetails": { "checkoutReviewReturnUrl": format!("{SHOP}/review") },
            "storeId": A_STORE,
        });
        self.sim.choose(&shop_key(), &payload, "visa").await
    }

    /// A's authorized order: (charge permission, charge).
    async fn a_order(&self) -> (String, String) {
        let id = self.a_session().await;
        let session = self.a.update_checkout_session(&id, &ready("Authorize", 2750)).await.unwrap();
        self.sim.pay(session.web_checkout_details.unwrap().amazon_pay_redirect_url.as_deref().unwrap()).await;
        let done = self.a.complete_checkout_session(&id, &Money::yen(2750), &unique()).await.unwrap();
        (done.charge_permission_id.unwrap(), done.charge_id.unwrap())
    }

    /// B's authorized order, its session made through the API: (charge permission, charge).
    async fn b_order(&self) -> (String, String) {
        let payload = json!({
            "webCheckoutDetails": { "checkoutReviewReturnUrl": format!("{SHOP2}/review") },
            "storeId": self.b_ids.store_id,
        });
        let created = self.b.create_checkout_session(&payload, &unique()).await.unwrap();
        let page = self
            .sim
            .http
            .get(self.sim.url(&format!("/checkout/initiate?amazonCheckoutSessionId={}", created.checkout_session_id)))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let id = self.sim.continue_page(&page.text().await.unwrap(), "visa").await;
        let update = json!({
            "webCheckoutDetails": { "checkoutResultReturnUrl": format!("{SHOP2}/result") },
            "paymentDetails": { "paymentIntent": "Authorize", "chargeAmount": Money::yen(1980) },
        });
        let session = self.b.update_checkout_session(&id, &update).await.unwrap();
        self.sim.pay(session.web_checkout_details.unwrap().amazon_pay_redirect_url.as_deref().unwrap()).await;
        let done = self.b.complete_checkout_session(&id, &Money::yen(1980), &unique()).await.unwrap();
        (done.charge_permission_id.unwrap(), done.charge_id.unwrap())
    }
}

async fn register(sim: &SimSocket, body: Value) -> Ids {
    let answer = sim.control("merchants", body).await;
    assert_eq!(answer.status(), 201);
    let ids: Value = answer.json().await.unwrap();
    Ids {
        merchant_id: ids["merchantId"].as_str().unwrap().to_owned(),
        store_id: ids["storeId"].as_str().unwrap().to_owned(),
        public_key_id: ids["publicKeyId"].as_str().unwrap().to_owned(),
    }
}

fn client(sim: &SimSocket, ids: &Ids, key: Arc<ShopKey>) -> AmazonPayClient {
    let account = account(&ids.merchant_id, &ids.store_id, &ids.public_key_id, true);
    AmazonPayClient::new(&sim.base, &account, key).unwrap().with_retry(FAST_RETRY).without_pacing()
}

fn upper_alphanumeric(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[tokio::test]
async fn a_registered_merchant_gets_ids_in_amazons_formats_and_its_key_is_served() {
    let two = Two::start().await;
    let ids = &two.b_ids;
    assert!(ids.merchant_id.len() == 14 && ids.merchant_id.starts_with('A') && upper_alphanumeric(&ids.merchant_id));
    let hex = ids.store_id.strip_prefix("amzn1.application-oa2-client.").unwrap();
    assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{hex}");
    let key = ids.public_key_id.strip_prefix("SANDBOX-").unwrap();
    assert!(key.len() == 24 && upper_alphanumeric(key), "{key}");

    let live =
        register(&two.sim, json!({ "publicKeyPem": B_KEY.1, "sandbox": false, "merchantId": ids.merchant_id })).await;
    assert_eq!((live.merchant_id.as_str(), live.store_id.as_str()), (ids.merchant_id.as_str(), ids.store_id.as_str()));
    let key = live.public_key_id.strip_prefix("LIVE-").unwrap();
    assert!(key.len() == 24 && upper_alphanumeric(key), "{key}");

    let (permission, charge) = two.b_order().await;
    let shown = two.b.get_charge_permission(&permission).await.unwrap();
    assert_eq!(shown.status_details.state, "Chargeable");
    assert_eq!(two.b.get_charge(&charge).await.unwrap().status_details.state, "Authorized");
    let merchant = two.sim.read_control(&format!("merchants/{}", ids.merchant_id)).await;
    assert_eq!(merchant["publicKeyIds"], json!([ids.public_key_id, live.public_key_id]));
    assert_eq!(merchant["stores"], json!([{ "storeId": ids.store_id, "javaScriptOrigins": [SHOP2] }]));
}

#[tokio::test]
async fn merchant_b_naming_merchant_a_s_checkout_session_charge_or_charge_permission_is_told_they_do_not_exist() {
    let two = Two::start().await;
    let open = two.a_session().await;
    let (permission, charge) = two.a_order().await;
    let b = &two.b;
    let yen = Money::yen(100);
    assert_rejected(b.get_checkout_session(&open).await, 404, "ResourceNotFound");
    assert_rejected(b.update_checkout_session(&open, &ready("Authorize", 100)).await, 404, "ResourceNotFound");
    assert_rejected(b.complete_checkout_session(&open, &yen, &unique()).await, 404, "ResourceNotFound");
    assert_rejected(b.get_charge_permission(&permission).await, 404, "ResourceNotFound");
    let metadata = json!({ "merchantMetadata": { "merchantReferenceId": "B-1" } });
    assert_rejected(b.update_charge_permission(&permission, &metadata).await, 404, "ResourceNotFound");
    assert_rejected(b.close_charge_permission(&permission, "B", true).await, 404, "ResourceNotFound");
    let charge_body = json!({ "chargePermissionId": permission, "chargeAmount": yen });
    assert_rejected(b.create_charge(&charge_body, &unique()).await, 404, "ResourceNotFound");
    assert_rejected(b.get_charge(&charge).await, 404, "ResourceNotFound");
    assert_rejected(b.capture_charge(&charge, &yen, &unique()).await, 404, "ResourceNotFound");
    assert_rejected(b.cancel_charge(&charge, "B").await, 404, "ResourceNotFound");
    assert_rejected(b.create_refund(&charge, &yen, &unique()).await, 404, "ResourceNotFound");

    // Nothing of A's changed, and A still does what it likes with its own.
    assert_eq!(two.a.get_charge(&charge).await.unwrap().status_details.state, "Authorized");
    assert_eq!(two.a.get_charge_permission(&permission).await.unwrap().status_details.state, "Chargeable");
    two.a.capture_charge(&charge, &Money::yen(2750), &unique()).await.unwrap();
    let refund = two.a.create_refund(&charge, &Money::yen(100), &unique()).await.unwrap();
    assert_rejected(b.get_refund(&refund.refund_id).await, 404, "ResourceNotFound");
    assert_eq!(two.a.get_refund(&refund.refund_id).await.unwrap().refund_id, refund.refund_id);

    // And the other way round.
    let (b_permission, b_charge) = two.b_order().await;
    assert_rejected(two.a.get_charge_permission(&b_permission).await, 404, "ResourceNotFound");
    assert_rejected(two.a.capture_charge(&b_charge, &Money::yen(1980), &unique()).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn a_request_naming_a_s_public_key_id_but_signed_with_b_s_private_key_is_an_invalid_signature() {
    let two = Two::start().await;
    let a_ids = Ids { merchant_id: A_MERCHANT.into(), store_id: A_STORE.into(), public_key_id: A_KEY_ID.into() };
    let forged = client(&two.sim, &a_ids, B_KEY.0.clone());
    let payload =
        json!({ "webCheckoutDetails": { "checkoutReviewReturnUrl": format!("{SHOP}/review") }, "storeId": A_STORE });
    let message =
        assert_rejected(forged.create_checkout_session(&payload, &unique()).await, 401, "InvalidRequestSignature");
    assert!(message.starts_with("Unable to verify signature"), "{message}");
    let (_, charge) = two.a_order().await;
    assert_rejected(forged.get_charge(&charge).await, 401, "InvalidRequestSignature");

    let unknown = Ids { public_key_id: "SANDBOX-AUNKNOWNKEY00000000000000".into(), ..two.b_ids.clone() };
    assert_rejected(
        client(&two.sim, &unknown, B_KEY.0.clone()).get_charge(&charge).await,
        401,
        "InvalidRequestSignature",
    );
}

#[tokio::test]
async fn b_s_store_id_with_a_s_key_is_refused_in_the_api_and_on_the_button() {
    let two = Two::start().await;
    let payload = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": format!("{SHOP}/review") },
        "storeId": two.b_ids.store_id,
    });
    let message =
        assert_rejected(two.a.create_checkout_session(&payload, &unique()).await, 400, "InvalidParameterValue");
    assert!(message.contains("storeId"), "{message}");

    // A button of A's (its merchant ID, its key) naming B's store; then one naming B as the
    // merchant but carrying A's key.
    let button = |merchant_id: &str, payload: &Value| {
        let payload = payload.to_string();
        let signature = ButtonSigner::new(shop_key(), A_KEY_ID.into()).sign_uncached(&payload).unwrap();
        let form = [
            ("merchantId", merchant_id.to_owned()),
            ("payloadJSON", payload),
            ("signature", signature),
            ("publicKeyId", A_KEY_ID.to_owned()),
            ("algorithm", "AMZN-PAY-RSASSA-PSS-V2".to_owned()),
            ("productType", "PayAndShip".to_owned()),
            ("environment", "SANDBOX".to_owned()),
        ];
        two.sim.http.post(two.sim.url("/checkout/initiate")).form(&form).send()
    };
    let page = button(A_MERCHANT, &payload).await.unwrap();
    assert_eq!(page.status(), 400);
    let text = page.text().await.unwrap();
    assert!(text.contains("InvalidParameterValue") && text.contains("does not belong to merchant"), "{text}");
    let own = json!({ "webCheckoutDetails": { "checkoutReviewReturnUrl": format!("{SHOP2}/review") }, "storeId": two.b_ids.store_id });
    let page = button(&two.b_ids.merchant_id, &own).await.unwrap();
    assert_eq!(page.status(), 400);
    let text = page.text().await.unwrap();
    assert!(text.contains("InvalidParameterValue") && text.contains("is not registered for merchant"), "{text}");
}

#[tokio::test]
async fn a_buyer_token_is_exchanged_only_by_the_merchant_whose_sign_in_button_made_it() {
    let two = Two::start().await;
    let payload = json!({
        "signInReturnUrl": format!("{SHOP}/signin"),
        "storeId": A_STORE,
        "signInScopes": ["name", "email"],
    })
    .to_string();
    let signature = ButtonSigner::new(shop_key(), A_KEY_ID.into()).sign_uncached(&payload).unwrap();
    let form = [
        ("merchantId", A_MERCHANT),
        ("payloadJSON", payload.as_str()),
        ("signature", signature.as_str()),
        ("publicKeyId", A_KEY_ID),
        ("algorithm", "AMZN-PAY-RSASSA-PSS-V2"),
        ("productType", "SignIn"),
        ("environment", "SANDBOX"),
    ];
    let page = two.sim.http.post(two.sim.url("/checkout/initiate")).form(&form).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let flow = crate::common::text::between(&page.text().await.unwrap(), "name=\"flow\" value=\"", "\"").unwrap();
    let back =
        two.sim.http.post(two.sim.url("/checkout/continue")).form(&[("flow", flow.as_str())]).send().await.unwrap();
    assert_eq!(back.status(), 303);
    let location = Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    let token = crate::common::text::query_value(&location, "buyerToken").unwrap();
    assert_rejected(two.b.get_buyer(&token).await, 400, "InvalidParameterValue");
    assert!(two.a.get_buyer(&token).await.is_ok(), "B's attempt did not use A's token up");
}

#[tokio::test]
async fn the_same_idempotency_key_is_each_merchant_s_own() {
    let two = Two::start().await;
    let key = unique();
    let a_payload =
        json!({ "webCheckoutDetails": { "checkoutReviewReturnUrl": format!("{SHOP}/review") }, "storeId": A_STORE });
    let b_payload = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": format!("{SHOP2}/review") },
        "storeId": two.b_ids.store_id,
    });
    let a = two.a.create_checkout_session(&a_payload, &key).await.unwrap();
    let b = two.b.create_checkout_session(&b_payload, &key).await.unwrap();
    assert_ne!(a.checkout_session_id, b.checkout_session_id, "B's request is not A's replayed");
    let again = two.a.create_checkout_session(&a_payload, &key).await.unwrap();
    assert_eq!(again.checkout_session_id, a.checkout_session_id, "A's replay is A's first answer");
    assert_rejected(two.b.create_checkout_session(&a_payload, &key).await, 400, "DuplicateIdempotencyKey");
}

/// The inner message and topic header of each notification received.
fn messages(receiver: &IpnReceiver, count: usize) -> Vec<(Value, String)> {
    receiver.received()[..count]
        .iter()
        .map(|received| {
            let envelope: Value = serde_json::from_slice(&received.body).unwrap();
            let message = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
            (message, received.headers["x-amz-sns-topic-arn"].to_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn each_merchant_s_notifications_reach_its_own_ipn_url_naming_its_own_merchant_id() {
    let two = Two::start().await;
    let (a_ipn, b_ipn) = (IpnReceiver::start().await, IpnReceiver::start().await);
    assert_eq!(two.sim.control("ipn", json!({ "url": a_ipn.url })).await.status(), 200);
    let path = format!("merchants/{}/ipn-url", two.b_ids.merchant_id);
    let set = two.sim.control(&path, json!({ "url": b_ipn.url })).await;
    assert_eq!(set.status(), 200);
    assert_eq!(set.json::<Value>().await.unwrap()["ipnUrl"], json!(b_ipn.url));

    let (a_permission, a_charge) = two.a_order().await;
    let (b_permission, b_charge) = two.b_order().await;
    // A charge permission and a charge each.
    a_ipn.wait_for(2).await;
    b_ipn.wait_for(2).await;
    for (receiver, merchant, permission, charge) in [
        (&a_ipn, A_MERCHANT, &a_permission, &a_charge),
        (&b_ipn, two.b_ids.merchant_id.as_str(), &b_permission, &b_charge),
    ] {
        let received = messages(receiver, 2);
        // Each object has its own delivery lane: the two may arrive in either order.
        let mut objects: Vec<&str> = received.iter().map(|(m, _)| m["ObjectId"].as_str().unwrap()).collect();
        objects.sort_unstable();
        let mut expected = [permission.as_str(), charge.as_str()];
        expected.sort_unstable();
        assert_eq!(objects, expected);
        for (message, topic) in &received {
            assert_eq!(message["MerchantID"], json!(merchant));
            assert!(topic.ends_with(&format!("-{merchant}")), "{topic}");
        }
    }
    let deliveries = two.sim.read_control("ipn/deliveries").await;
    let by_merchant =
        |merchant: &str| deliveries.as_array().unwrap().iter().filter(|d| d["merchantId"] == merchant).count();
    assert_eq!((by_merchant(A_MERCHANT), by_merchant(&two.b_ids.merchant_id)), (2, 2));
}
