#![cfg(not(target_arch = "wasm32"))]
//! The client's retries: throttling, timeouts and server errors are retried with doubling,
//! capped waits (Retry-After honoured up to the cap, no wait after the last attempt) until the
//! call succeeds or is Unavailable; client errors are not retried; a retried POST keeps its
//! idempotency key.
//!
//! The waits are read on tokio's paused clock (`start_paused`): it stands still while requests
//! go over loopback and jumps only when every task sleeps, so the time a call took on it is the
//! sum of the client's waits, exactly, however busy the machine is.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use amazonpay2::core::{AmazonError, Retry};
use common::client::*;

// ---------------------------------------------------------------------------------------------
// Against the simulator
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn transient_503s_are_retried_until_the_call_succeeds() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(1).await;
    sim.fault(503, 2).await;
    assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 1);
    assert_eq!(sim.api_statuses(), [503, 503, 200]);
}

#[tokio::test]
async fn persistent_503s_give_unavailable_after_every_attempt() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.fault(503, 10).await;
    match sim.client().get_buyer(&token).await {
        Err(AmazonError::Unavailable { attempts, last }) => {
            assert_eq!(attempts, 4);
            assert!(last.contains("503"), "{last}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(sim.api_statuses(), [503; 4]);
}

#[tokio::test]
async fn throttling_timeout_and_server_error_statuses_are_retried() {
    let sim = Sim::sandbox().await;
    let client = sim.client();
    for status in [408, 425, 429, 500, 502, 504] {
        let token = sim.buyer_token(0).await;
        sim.fault(status, 1).await;
        sim.forget_requests();
        let buyer = client.get_buyer(&token).await;
        assert!(buyer.is_ok(), "{status}: {buyer:?}");
        assert_eq!(sim.api_statuses(), [status, 200], "{status}");
    }
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let sim = Sim::sandbox().await;
    assert_rejected(sim.client().get_buyer("not-a-token").await, 400, "InvalidParameterValue");
    assert_eq!(sim.api_statuses(), [400]);
}

/// Whether `waited` (on the paused clock) lies within `low..=high`; the clock's timers round
/// each wait up to the next millisecond.
fn within(waited: Duration, low: Duration, high: Duration) -> bool {
    waited >= low && waited <= high + Duration::from_millis(5)
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_with_doubling_waits() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.fault(503, 2).await;
    let retry = Retry { attempts: 3, first_delay: Duration::from_millis(100), max_delay: Duration::from_secs(5) };
    let started = Instant::now();
    sim.client_with(ours(), retry).get_buyer(&token).await.unwrap();
    // 100 ms then 200 ms, each with at most 20 % jitter off.
    let waited = started.elapsed();
    assert!(within(waited, Duration::from_millis(240), Duration::from_millis(360)), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_are_capped_by_max_delay() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.fault(503, 2).await;
    let retry = Retry { attempts: 3, first_delay: Duration::from_secs(30), max_delay: Duration::from_millis(100) };
    let started = Instant::now();
    sim.client_with(ours(), retry).get_buyer(&token).await.unwrap();
    // Two waits of 24 to 36 s each, cut to 100 ms.
    let waited = started.elapsed();
    assert!(within(waited, Duration::from_millis(200), Duration::from_millis(200)), "{waited:?}");
}

#[tokio::test]
async fn a_retried_post_keeps_one_idempotency_key() {
    let sim = Sim::sandbox().await;
    sim.fault(503, 2).await;
    let body = json!({
        "chargePermissionId": "S03-0000000-0000000",
        "chargeAmount": { "amount": "100", "currencyCode": "JPY" },
    });
    let result = sim.client().call::<Value>(Method::POST, "charges", Some(&body)).await;
    assert_rejected(result, 404, "ResourceNotFound");
    let seen = sim.api_requests();
    assert_eq!(seen.iter().map(|s| s.status).collect::<Vec<_>>(), [503, 503, 404]);
    let keys: Vec<&str> = seen.iter().map(|s| s.headers["x-amz-pay-idempotency-key"].to_str().unwrap()).collect();
    assert!(!keys[0].is_empty());
    assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
}

// ---------------------------------------------------------------------------------------------
// Against a stand-in API with canned answers
// ---------------------------------------------------------------------------------------------

const JSON: (&str, &str) = ("content-type", "application/json");
const BUYER_JSON: &str = r#"{"buyerId":"amzn1.account.ACANNED"}"#;
const BUSY_JSON: &str = r#"{"reasonCode":"ServiceUnavailable","message":"busy"}"#;

/// How long getBuyer waits (on the paused clock) when the first answer is a 503 with
/// `Retry-After: <retry_after>`.
async fn time_get_buyer_after_retry_after(retry_after: &'static str, max_delay: Duration) -> Duration {
    let busy = (503, vec![(JSON.0, JSON.1), ("retry-after", retry_after)], BUSY_JSON);
    let (base, task, _) = canned_api(vec![busy, (200, vec![JSON], BUYER_JSON)]).await;
    let retry = Retry { attempts: 2, first_delay: Duration::from_millis(1), max_delay };
    let started = Instant::now();
    let buyer = client_at(&base, retry).get_buyer("token").await.unwrap();
    let elapsed = started.elapsed();
    task.abort();
    assert_eq!(buyer.buyer_id, "amzn1.account.ACANNED");
    elapsed
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_up_to_max_delay() {
    let honoured = time_get_buyer_after_retry_after("1", Duration::from_secs(5)).await;
    assert!(within(honoured, Duration::from_secs(1), Duration::from_secs(1)), "waited {honoured:?} for Retry-After: 1");
    let capped = time_get_buyer_after_retry_after("120", Duration::from_millis(100)).await;
    let limit = Duration::from_millis(100);
    assert!(within(capped, limit, limit), "waited {capped:?} with max_delay 100 ms");
}

#[tokio::test(start_paused = true)]
async fn the_last_failed_attempt_is_not_followed_by_a_wait() {
    let (base, task, calls) = canned_api(vec![(503, vec![JSON], BUSY_JSON)]).await;
    let retry = Retry { attempts: 2, first_delay: Duration::from_secs(1), max_delay: Duration::from_secs(1) };
    let started = Instant::now();
    let result = client_at(&base, retry).get_buyer("token").await;
    let elapsed = started.elapsed();
    task.abort();
    assert!(matches!(result, Err(AmazonError::Unavailable { attempts: 2, .. })), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // One wait of 0.8 to 1 s (jitter, then the cap); a second one would make it at least 1.6 s.
    assert!(within(elapsed, Duration::from_millis(800), Duration::from_secs(1)), "{elapsed:?}");
}

#[tokio::test]
async fn an_unreachable_api_gives_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = Url::parse(&format!("http://{}", closed.local_addr().unwrap())).unwrap();
    drop(closed);
    let retry = Retry { attempts: 2, first_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };
    match client_at(&base, retry).get_buyer("token").await {
        Err(AmazonError::Unavailable { attempts: 2, last }) => assert!(!last.is_empty()),
        other => panic!("expected Unavailable after 2 attempts, got {other:?}"),
    }
}

#[tokio::test]
async fn a_500_with_processing_failure_is_amazons_answer_and_is_not_retried() {
    let failure = (500, vec![JSON], r#"{"reasonCode":"ProcessingFailure","message":"could not process"}"#);
    let (base, task, calls) = canned_api(vec![failure, (201, vec![JSON], r#"{"chargeId":"C"}"#)]).await;
    let retry = Retry { attempts: 4, first_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };
    let body = json!({ "chargePermissionId": "S03-0000000-0000000", "chargeAmount": { "amount": "1", "currencyCode": "JPY" } });
    let result = client_at(&base, retry).create_charge(&body, "cycle-1").await;
    task.abort();
    match result {
        Err(AmazonError::Rejected { status: 500, reason_code, .. }) => assert_eq!(reason_code, "ProcessingFailure"),
        other => panic!("expected Amazon's ProcessingFailure, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the reason code decides, not the status: no retry with the same key");
}
