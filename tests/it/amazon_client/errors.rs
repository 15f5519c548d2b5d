//! Errors the client reports as they are: an untrusted key's 401 (not retried), a success that
//! is not Amazon's JSON, an error without Amazon's envelope (its status and text), and Amazon's
//! envelope for a wrong method on an API route.

use std::sync::atomic::Ordering;

use reqwest::Method;
use serde_json::Value;

use crate::common::client::*;
use amazonpay2::core::AmazonError;

#[tokio::test]
async fn a_key_the_simulator_does_not_trust_is_refused_without_retrying() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    let client = sim.client_with(stranger(), FAST);
    assert_rejected(client.get_buyer(&token).await, 401, "InvalidRequestSignature");
    assert_eq!(sim.api_statuses(), [401]);
}

#[tokio::test]
async fn a_success_that_is_not_amazons_json_is_a_decode_error() {
    let portal = (200, vec![("content-type", "text/html")], "<html>captive portal</html>");
    let (base, task, calls) = canned_api(vec![portal]).await;
    let result = client_at(&base, FAST).get_buyer("token").await;
    task.abort();
    assert!(matches!(result, Err(AmazonError::Decode(_))), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
}

#[tokio::test]
async fn an_error_without_amazons_envelope_is_rejected_with_its_status_and_text() {
    let (base, task, _) = canned_api(vec![(403, vec![("content-type", "text/plain")], "Forbidden by proxy")]).await;
    let result = client_at(&base, FAST).get_buyer("token").await;
    task.abort();
    assert_eq!(
        result,
        Err(AmazonError::Rejected { status: 403, reason_code: "Unknown".into(), message: "Forbidden by proxy".into() })
    );
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_answers_amazons_envelope() {
    let sim = Sim::sandbox().await;
    let request = php_style(&sim, sdk_path(&sim.account, "buyers/x"), Alg::V2);
    let answer = HandRequest { method: Method::DELETE, ..request }.send(&sim).await;
    assert!(matches!(answer.status, 404 | 405), "{answer:?}");
    assert!(answer.content_type.starts_with("application/json"), "{answer:?}");
    let body: Value = serde_json::from_str(&answer.text).expect("a JSON error body");
    assert!(body["reasonCode"].as_str().is_some_and(|code| !code.is_empty()), "{body}");
    assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
}
