//! `GET /merchantAccount/{id}/accountStatus`, which checkout.js asks before it draws a live
//! button: ACTIVE for the registered merchant on the registered shop origin (Seller Central's
//! JavaScript origin), anything else otherwise, readable from any page.

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::common::simulator_pages::*;

async fn status(amazon: &Amazon, merchant: &str, query: &str) -> Value {
    let reply = amazon.get(&format!("/merchantAccount/{merchant}/accountStatus?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"), "checkout.js asks without credentials");
    serde_json::from_slice::<Value>(&reply.body).unwrap()["merchantAccountStatus"].clone()
}

#[tokio::test]
async fn the_registered_merchant_is_active_on_the_registered_origin_only() {
    let amazon = Amazon::new();
    let active = status(&amazon, MERCHANT_ID, &format!("ledgerCurrency=JPY&originDomain={SHOP}")).await;
    assert_eq!(active, json!("ACTIVE"));
    let with_payload = format!("ledgerCurrency=JPY&originDomain={SHOP}&storeId={STORE_ID}&returnDomain={SHOP}");
    assert_eq!(status(&amazon, MERCHANT_ID, &with_payload).await, json!("ACTIVE"));
    for query in [
        "ledgerCurrency=JPY",
        "ledgerCurrency=JPY&originDomain=https://evil.example",
        "ledgerCurrency=JPY&originDomain=http://shop.example",
        "ledgerCurrency=JPY&originDomain=https://shop.example:8443",
        "ledgerCurrency=JPY&originDomain=https://shop.example.evil.example",
        "ledgerCurrency=JPY&originDomain=null",
    ] {
        let answer = status(&amazon, MERCHANT_ID, query).await;
        assert!(answer.is_string() && answer != "ACTIVE", "{query}: {answer}");
    }
    let other = status(&amazon, "A2OTHERMERCHANT", &format!("ledgerCurrency=JPY&originDomain={SHOP}")).await;
    assert!(other.is_string() && other != "ACTIVE", "{other}");
}
