//! The simulator's Seller Central for a new shop, over a socket: the pages that do the manual's
//! steps ③–⑨ (a key pair whose private half the browser downloads, the JSON of IDs, JavaScript
//! origins, the IPN URL), their refusal of cross-site posts; the merchant test controls'
//! refusal of malformed and hostile input; and `accountStatus`, which makes a live button active
//! only on an origin registered for its store.

use std::sync::Arc;

use reqwest::header::{CONTENT_DISPOSITION, LOCATION};
use serde_json::{Value, json};

use crate::common::sim::{SHOP, SimSocket, account, shop_key};
use crate::common::text::between;
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::core::{AmazonPayClient, signer};

const A_MERCHANT: &str = "A1FIRSTMERCHANT";
const A_STORE: &str = "amzn1.application-oa2-client.firstmerchant00000000000000";
const A_KEY_ID: &str = "SANDBOX-AFIRSTMERCHANTKEY0000000";
const PUBLIC_PEM: &str = include_str!("../../fixtures/test_key_public.pem");
const PRIVATE_PEM: &str = include_str!("../../fixtures/test_key_pkcs8.pem");

async fn start() -> SimSocket {
    SimSocket::start(account(A_MERCHANT, A_STORE, A_KEY_ID, true), &shop_key(), |s| s.router()).await
}

/// Posts a Seller Central form as the browser does from the simulator's own page.
async fn post_form(sim: &SimSocket, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    sim.http.post(sim.url(path)).header("origin", sim.origin()).form(form).send().await.unwrap()
}

#[tokio::test]
async fn a_new_shop_walks_through_seller_central_and_its_downloaded_keys_are_accepted() {
    let sim = start().await;
    // ①–②: an account.
    let opened = post_form(&sim, "/seller-central/merchants", &[]).await;
    assert_eq!(opened.status(), 303);
    let page_path = opened.headers()[LOCATION].to_str().unwrap().to_owned();
    let merchant_id = page_path.strip_prefix("/seller-central/").unwrap().to_owned();
    let page = sim.http.get(sim.url(&page_path)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<html lang=\"ja\">") && page.contains("インテグレーションセントラル"), "{page}");
    assert!(page.contains(&merchant_id));

    // ③–④: キーの作成 downloads the private key.
    let created = post_form(&sim, &format!("{page_path}/keys"), &[("environment", "sandbox")]).await;
    assert_eq!(created.status(), 200);
    let disposition = created.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    let public_key_id = between(&disposition, "attachment; filename=AmazonPay_", ".pem").expect(&disposition);
    assert!(public_key_id.starts_with("SANDBOX-") && public_key_id.len() == 32, "{public_key_id}");
    assert_eq!(created.headers()["cache-control"], "no-store");
    let private_pem = created.text().await.unwrap();
    assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS #8, as Seller Central's");
    let key = Arc::new(ShopKey::from_pem(private_pem.as_bytes()).unwrap());
    assert_eq!(key.bits(), 2048);

    // ⑤: the JSON of IDs, linked from the page.
    let page = sim.http.get(sim.url(&page_path)).send().await.unwrap().text().await.unwrap();
    let json_path = format!("{page_path}/keys/{public_key_id}.json");
    assert!(page.contains(&format!("href=\"{json_path}\"")), "{page}");
    let download = sim.http.get(sim.url(&json_path)).send().await.unwrap();
    assert_eq!(
        download.headers()[CONTENT_DISPOSITION].to_str().unwrap(),
        format!("attachment; filename=AmazonPay_{public_key_id}.json")
    );
    let ids: Value = download.json().await.unwrap();
    assert_eq!(ids["merchantId"], json!(merchant_id));
    assert_eq!(ids["publicKeyId"], json!(public_key_id));
    let store_id = ids["storeId"].as_str().unwrap().to_owned();

    // ⑧ and ⑨.
    let origin = "https://shop2.example";
    let added = post_form(
        &sim,
        &format!("{page_path}/origins"),
        &[("storeId", &store_id), ("origin", "https://shop2.example/")],
    )
    .await;
    assert_eq!((added.status().as_u16(), added.headers()[LOCATION].to_str().unwrap()), (303, page_path.as_str()));
    let ipn = "https://shop2.example/api/amazonpay2/ipn.php";
    assert_eq!(post_form(&sim, &format!("{page_path}/ipn"), &[("url", ipn)]).await.status(), 303);
    let registered = sim.read_control(&format!("merchants/{merchant_id}")).await;
    assert_eq!(registered["stores"], json!([{ "storeId": store_id, "javaScriptOrigins": [origin] }]));
    assert_eq!(registered["ipnUrl"], json!(ipn));

    // The downloaded key and IDs sign requests Amazon accepts.
    let account = account(&merchant_id, &store_id, &public_key_id, true);
    let client = AmazonPayClient::new(&sim.base, &account, key.clone()).unwrap();
    let payload =
        json!({ "webCheckoutDetails": { "checkoutReviewReturnUrl": format!("{origin}/review") }, "storeId": store_id });
    let session = client.create_checkout_session(&payload, "walkthrough1").await.unwrap();
    assert_eq!(session.release_environment.as_deref(), Some("Sandbox"));
    // And its button: signed with the same key, on the registered origin.
    let payload = payload.to_string();
    let signature = signer::ButtonSigner::new(key, public_key_id.clone()).sign_uncached(&payload).unwrap();
    let form = [
        ("merchantId", merchant_id.as_str()),
        ("payloadJSON", &payload),
        ("signature", &signature),
        ("publicKeyId", &public_key_id),
        ("algorithm", "AMZN-PAY-RSASSA-PSS-V2"),
        ("productType", "PayAndShip"),
        ("environment", "SANDBOX"),
    ];
    let consent = sim.http.post(sim.url("/checkout/initiate")).form(&form).send().await.unwrap();
    assert_eq!(consent.status(), 200, "{}", consent.text().await.unwrap());
}

#[tokio::test]
async fn seller_central_refuses_posts_from_other_sites_and_wrong_values() {
    let sim = start().await;
    let path = format!("/seller-central/{A_MERCHANT}");
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        for (action, form) in [
            ("/keys", vec![("environment", "sandbox")]),
            ("/origins", vec![("storeId", A_STORE), ("origin", "https://evil.example")]),
            ("/ipn", vec![("url", "https://evil.example/ipn")]),
        ] {
            let answer = sim
                .http
                .post(sim.url(&format!("{path}{action}")))
                .header(header, value)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 403, "{header}: {value} {action}");
        }
    }
    let refused =
        sim.http.post(sim.url("/seller-central/merchants")).header("origin", "https://evil.example").send().await;
    assert_eq!(refused.unwrap().status(), 403);
    let merchant = sim.read_control(&format!("merchants/{A_MERCHANT}")).await;
    assert_eq!(merchant["stores"][0]["javaScriptOrigins"], json!([SHOP]), "nothing was added");
    assert_eq!(merchant["ipnUrl"], Value::Null);

    let bad_origin =
        post_form(&sim, &format!("{path}/origins"), &[("storeId", A_STORE), ("origin", "javascript:alert(1)")]).await;
    assert_eq!(bad_origin.status(), 400);
    let text = bad_origin.text().await.unwrap();
    assert!(text.contains("is not a JavaScript origin") && !text.contains("<script"), "{text}");
    let bad_env = post_form(&sim, &format!("{path}/keys"), &[("environment", "production")]).await;
    assert_eq!(bad_env.status(), 400);
    assert_eq!(sim.http.get(sim.url("/seller-central/A9NOSUCHMERCHANT")).send().await.unwrap().status(), 404);
    let hostile = sim.http.get(sim.url("/seller-central/%3Cscript%3Ealert(1)%3C%2Fscript%3E")).send().await.unwrap();
    assert_eq!(hostile.status(), 404);
    assert!(!hostile.text().await.unwrap().contains("<script>"), "the unknown ID is escaped");
}

#[tokio::test]
async fn the_merchant_control_refuses_malformed_and_hostile_input_with_amazons_envelope() {
    let sim = start().await;
    let refused = |status: u16, code: &'static str| {
        move |answer: (u16, Value)| {
            assert_eq!(answer.0, status, "{}", answer.1);
            assert_eq!(answer.1["reasonCode"], code, "{}", answer.1);
            answer.1["message"].as_str().unwrap().to_owned()
        }
    };
    async fn post(sim: &SimSocket, path: &str, body: reqwest::Body) -> (u16, Value) {
        let answer = sim
            .http
            .post(sim.url(&format!("/__simulator/{path}")))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
    }
    let json = |value: Value| reqwest::Body::from(value.to_string());

    let message = refused(400, "InvalidParameterValue")(
        post(&sim, "merchants", json(json!({ "publicKeyPem": "hello", "sandbox": true }))).await,
    );
    assert!(message.contains("not a PEM public key"), "{message}");
    let message = refused(400, "InvalidParameterValue")(
        post(&sim, "merchants", json(json!({ "publicKeyPem": PRIVATE_PEM, "sandbox": true }))).await,
    );
    assert!(message.contains("private key"), "{message}");
    let truncated = PUBLIC_PEM.replacen("MII", "MIX", 1);
    refused(400, "InvalidParameterValue")(
        post(&sim, "merchants", json(json!({ "publicKeyPem": truncated, "sandbox": true }))).await,
    );
    refused(400, "InvalidRequestFormat")(post(&sim, "merchants", "{not json".into()).await);
    refused(400, "InvalidRequestFormat")(post(&sim, "merchants", json(json!({ "publicKeyPem": PUBLIC_PEM }))).await);
    refused(400, "InvalidRequestFormat")(
        post(&sim, "merchants", json(json!({ "publicKeyPem": PUBLIC_PEM, "sandbox": true, "admin": true }))).await,
    );
    let oversized = json!({ "publicKeyPem": "x".repeat(70 * 1024), "sandbox": true });
    assert_eq!(post(&sim, "merchants", json(oversized)).await.0, 413);
    for merchant_id in ["a1lower", "A1<script>", "A1 SPACE"] {
        let body = json!({ "publicKeyPem": PUBLIC_PEM, "sandbox": true, "merchantId": merchant_id });
        refused(400, "InvalidParameterValue")(post(&sim, "merchants", json(body)).await);
    }
    let body = json!({ "publicKeyPem": PUBLIC_PEM, "sandbox": true, "storeId": "store/../x" });
    refused(400, "InvalidParameterValue")(post(&sim, "merchants", json(body)).await);
    // A's store cannot become another merchant's.
    let body = json!({ "publicKeyPem": PUBLIC_PEM, "sandbox": true, "merchantId": "A2OTHER", "storeId": A_STORE });
    let message = refused(409, "InvalidParameterValue")(post(&sim, "merchants", json(body)).await);
    assert!(message.contains("another merchant"), "{message}");

    refused(404, "ResourceNotFound")(
        post(&sim, "merchants/A9NOSUCH/origins", json(json!({ "origin": "https://x.example" }))).await,
    );
    refused(404, "ResourceNotFound")(
        post(&sim, "merchants/A9NOSUCH/ipn-url", json(json!({ "url": "https://x.example/ipn" }))).await,
    );
    let path = format!("merchants/{A_MERCHANT}/origins");
    refused(400, "InvalidParameterValue")(post(&sim, &path, json(json!({ "origin": "https://x.example/path" }))).await);
    let other_store = json!({ "origin": "https://x.example", "storeId": "amzn1.application-oa2-client.nosuch" });
    refused(400, "InvalidParameterValue")(post(&sim, &path, json(other_store)).await);
    let path = format!("merchants/{A_MERCHANT}/ipn-url");
    refused(400, "InvalidParameterValue")(post(&sim, &path, json(json!({ "url": "ftp://x.example/ipn" }))).await);
    let answer = sim.http.get(sim.url("/__simulator/merchants/A9NOSUCH")).send().await.unwrap();
    assert_eq!(answer.status(), 404);
}

async fn status(sim: &SimSocket, merchant_id: &str, origin: &str, store_id: Option<&str>) -> String {
    let mut url =
        sim.url(&format!("/merchantAccount/{merchant_id}/accountStatus?ledgerCurrency=JPY&originDomain={origin}"));
    if let Some(store_id) = store_id {
        url.push_str(&format!("&storeId={store_id}"));
    }
    let answer: Value = sim.http.get(url).send().await.unwrap().json().await.unwrap();
    answer["merchantAccountStatus"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_live_button_is_active_only_on_an_origin_registered_for_its_own_store() {
    let sim = start().await;
    let answer = sim.control("merchants", json!({ "publicKeyPem": PUBLIC_PEM, "sandbox": false })).await;
    let ids: Value = answer.json().await.unwrap();
    let (b, b_store) = (ids["merchantId"].as_str().unwrap(), ids["storeId"].as_str().unwrap());
    let shop2 = "https://shop2.example";
    assert_ne!(status(&sim, b, shop2, Some(b_store)).await, "ACTIVE", "no origin registered yet");
    let added = sim.control(&format!("merchants/{b}/origins"), json!({ "origin": shop2 })).await;
    assert_eq!(added.status(), 200);
    assert_eq!(status(&sim, b, shop2, Some(b_store)).await, "ACTIVE");
    assert_eq!(status(&sim, b, shop2, None).await, "ACTIVE", "a decoupled button names no store");
    assert_ne!(status(&sim, b, SHOP, Some(b_store)).await, "ACTIVE", "A's origin is not B's");
    assert_ne!(status(&sim, b, shop2, Some(A_STORE)).await, "ACTIVE", "A's store with B's merchant ID");
    assert_ne!(status(&sim, A_MERCHANT, shop2, Some(A_STORE)).await, "ACTIVE", "B's origin is not A's");
    assert_ne!(status(&sim, A_MERCHANT, shop2, None).await, "ACTIVE");
    assert_eq!(status(&sim, A_MERCHANT, SHOP, Some(A_STORE)).await, "ACTIVE");
    // A second store of B's has origins of its own.
    let second = "amzn1.application-oa2-client.secondstore";
    let more = sim
        .control(
            "merchants",
            json!({ "publicKeyPem": PUBLIC_PEM, "sandbox": false, "merchantId": b, "storeId": second }),
        )
        .await;
    assert_eq!(more.status(), 201);
    assert_ne!(status(&sim, b, shop2, Some(second)).await, "ACTIVE");
}
