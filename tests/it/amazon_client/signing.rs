//! Request signing: the client signs the headers Amazon expects (and a POST's idempotency key),
//! the simulator verifies requests signed the way each official SDK signs them (Node, PHP, Java,
//! .NET), and the documented canonical request verifies under both algorithms with our key.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::client::*;
use amazonpay2::amazon::canonical;
use amazonpay2::simulator::{RegisteredKey, SignatureProblem};

// ---------------------------------------------------------------------------------------------
// The client's own signed requests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn our_get_requests_sign_the_headers_amazon_expects() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.client().get_buyer(&token).await.unwrap();
    let seen = sim.api_requests().remove(0);
    assert_eq!(seen.method, "GET");
    let header = |name: &str| seen.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let authorization = header("authorization").unwrap();
    let parsed = canonical::parse_authorization(&authorization).unwrap();
    assert_eq!(parsed.algorithm, "AMZN-PAY-RSASSA-PSS-V2");
    assert_eq!(parsed.public_key_id, SANDBOX_KEY);
    assert_eq!(
        parsed.signed_headers,
        ["accept", "content-type", "x-amz-pay-date", "x-amz-pay-host", "x-amz-pay-region"]
    );
    assert_eq!(header("accept").as_deref(), Some("application/json"));
    assert_eq!(header("x-amz-pay-host"), Some(sim.authority()));
    assert_eq!(header("x-amz-pay-region").as_deref(), Some("jp"));
    let date = header("x-amz-pay-date").unwrap();
    assert!(date.len() == 16 && date.ends_with('Z') && date.as_bytes()[8] == b'T', "basic format: {date}");
    assert_eq!(header("x-amz-pay-idempotency-key"), None, "only POSTs carry one");
}

#[tokio::test]
async fn our_signed_post_with_a_body_verifies_and_carries_a_signed_idempotency_key() {
    let sim = Sim::sandbox().await;
    let body = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": "https://shop.example/review" },
        "storeId": STORE_ID,
        "chargePermissionType": "OneTime",
    });
    // createCheckoutSession: a verified request creates the session (a bad signature would stop
    // at 401), with the key the client made for it.
    let session = sim.client().call::<Value>(Method::POST, "checkoutSessions", Some(&body)).await.unwrap();
    assert_eq!(session["statusDetails"]["state"], "Open", "{session}");
    let seen = sim.api_requests().remove(0);
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("POST", "/v2/checkoutSessions"));
    let authorization = seen.headers["authorization"].to_str().unwrap();
    let parsed = canonical::parse_authorization(authorization).unwrap();
    assert!(parsed.signed_headers.contains(&"x-amz-pay-idempotency-key"), "{authorization}");
    assert!(!seen.headers["x-amz-pay-idempotency-key"].is_empty());
}

// ---------------------------------------------------------------------------------------------
// Requests signed the way the official SDKs sign them
// ---------------------------------------------------------------------------------------------

/// Node SDK: extended date, every header it sends signed, `user-agent` included.
fn node_style(sim: &Sim, path: String, algorithm: Alg) -> HandRequest {
    HandRequest::new(sim, Method::GET, path, algorithm, extended_date(time::Duration::ZERO), "jp")
        .signed_header("user-agent", "amazon-pay-api-sdk-nodejs/2.3.4 (JS/v20.11.1; linux)")
}

/// Java SDK: basic date, region as the enum's name (`JP`), `user-agent` added after signing.
fn java_style(sim: &Sim, path: String, algorithm: Alg) -> HandRequest {
    HandRequest::new(sim, Method::GET, path, algorithm, basic_date(time::Duration::ZERO), "JP")
        .unsigned_header("user-agent", "amazon-pay-api-sdk-java/2.6.5 (Java/17.0.10; Linux)")
}

/// .NET SDK: basic date, a trailing slash on the path, signed as sent.
fn dotnet_style(sim: &Sim, path: String, algorithm: Alg) -> HandRequest {
    HandRequest::new(sim, Method::GET, format!("{path}/"), algorithm, basic_date(time::Duration::ZERO), "jp")
        .unsigned_header("user-agent", "amazon-pay-api-sdk-dotnet/2.7.3 (.NET 8.0; Linux)")
}

/// Signs in as a different test buyer per algorithm, fetches the buyer with requests `style`
/// builds, and expects the buyer back.
async fn assert_sdk_style_gets_the_buyer(sim: &Sim, style: fn(&Sim, String, Alg) -> HandRequest) {
    for (index, algorithm) in Alg::ALL.into_iter().enumerate() {
        let token = sim.buyer_token(index).await;
        let request = style(sim, sdk_path(&sim.account, &format!("buyers/{token}")), algorithm);
        let answer = request.send(sim).await;
        assert_eq!(answer.status, 200, "{algorithm:?}: {}", answer.text);
        assert_is_test_buyer(&answer.buyer(), index);
    }
}

#[tokio::test]
async fn node_sdk_style_requests_verify() {
    assert_sdk_style_gets_the_buyer(&Sim::sandbox().await, node_style).await;
}

#[tokio::test]
async fn php_sdk_style_requests_verify() {
    assert_sdk_style_gets_the_buyer(&Sim::start(UNPREFIXED_KEY, true).await, php_style).await;
}

#[tokio::test]
async fn java_sdk_style_requests_verify() {
    assert_sdk_style_gets_the_buyer(&Sim::start(UNPREFIXED_KEY, false).await, java_style).await;
}

#[tokio::test]
async fn dotnet_sdk_style_trailing_slash_paths_are_verified_as_sent() {
    let sim = Sim::start(UNPREFIXED_KEY, true).await;
    let token = sim.buyer_token(0).await;
    let request = dotnet_style(&sim, sdk_path(&sim.account, &format!("buyers/{token}")), Alg::V1);
    assert!(request.path.ends_with(&format!("/sandbox/v2/buyers/{token}/")));
    let answer = request.send(&sim).await;
    if answer.status == 200 {
        assert_is_test_buyer(&answer.buyer(), 0);
    } else {
        // Not routed, but verified: a 404 in Amazon's envelope, not a 401.
        assert_amazon_error(&answer, 404, "ResourceNotFound");
        // Signed over the path without its slash, the same request does not verify: the raw path
        // is what is checked.
        let normalised = HandRequest { path: request.path.trim_end_matches('/').to_owned(), ..request.clone() };
        let answer = request.send_as(&sim, Some(&normalised.authorization())).await;
        assert_amazon_error(&answer, 401, "InvalidRequestSignature");
        assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// The documented example
// ---------------------------------------------------------------------------------------------

#[test]
fn the_documented_canonical_request_signed_with_our_key_verifies_under_both_algorithms() {
    let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    let mut headers = vec![
        header("accept", "application/json"),
        header("content-type", "application/json"),
        header("x-amz-pay-date", "20190923T231908Z"),
        header("x-amz-pay-host", "pay-api.amazon.com"),
        header("x-amz-pay-idempotency-key", "cllHyiNvS8cJ8Zas"),
        header("x-amz-pay-region", "us"),
    ];
    let body_hash = "0b6c19dc5bc1883ebd68d3c77ee929922c6b4a59e0a506d96c45e0c024c3295b";
    let example = canonical::canonical_request("POST", "/live/v2/checkoutSessions", "", &headers, body_hash);
    headers[5] = header("x-amz-pay-region", "jp");
    let altered = canonical::canonical_request("POST", "/live/v2/checkoutSessions", "", &headers, body_hash);
    let registered = RegisteredKey::from_pkcs1_der(ours().shop.public_key_der()).unwrap();
    for algorithm in Alg::ALL {
        let other = match algorithm {
            Alg::V1 => Alg::V2,
            Alg::V2 => Alg::V1,
        };
        let signature = ours().sign(algorithm, &example);
        assert_eq!(registered.verify(algorithm.name(), &example, &signature), Ok(()), "{algorithm:?}");
        assert_eq!(
            registered.verify(other.name(), &example, &signature),
            Err(SignatureProblem::Mismatch),
            "{algorithm:?} signature under the {other:?} label"
        );
        assert_eq!(registered.verify(algorithm.name(), &altered, &signature), Err(SignatureProblem::Mismatch));
    }
}
