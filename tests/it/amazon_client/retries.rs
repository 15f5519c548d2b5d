//! The client's retries: throttling, timeouts and server errors are retried with doubling,
//! capped waits (Retry-After honoured up to the cap, no wait after the last attempt) until the
//! call succeeds or is Unavailable; client errors are not retried; a retried POST keeps its
//! idempotency key.
//!
//! The waits are the ones the client asks its sleeper for, recorded by a test sleeper that does
//! not wait: the tests run on real time (so the client's own connect and request timeouts behave
//! as in production, whatever blocks the runtime for a moment) and read the waits the client
//! computed, their number and order, never a clock.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use crate::common::client::*;
use amazonpay2::core::client::Sleeper;
use amazonpay2::core::{AmazonError, AmazonPayClient, Retry};

/// Records every wait the client asks for, and returns at once.
#[derive(Default)]
struct Waits(Mutex<Vec<Duration>>);

impl Sleeper for Waits {
    fn sleep(&self, wait: Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.0.lock().unwrap().push(wait);
        Box::pin(std::future::ready(()))
    }
}

/// `client` with its waits recorded in what is returned beside it.
fn recording(client: AmazonPayClient) -> (AmazonPayClient, Arc<Waits>) {
    let waits = Arc::new(Waits::default());
    (client.with_sleeper(waits.clone()), waits)
}

fn waits(recorded: &Waits) -> Vec<Duration> {
    recorded.0.lock().unwrap().clone()
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

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

#[tokio::test]
async fn retries_back_off_with_doubling_waits() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.fault(503, 2).await;
    let retry = Retry { attempts: 3, first_delay: ms(100), max_delay: Duration::from_secs(5) };
    let (client, recorded) = recording(sim.client_with(ours(), retry));
    client.get_buyer(&token).await.unwrap();
    // 100 ms then 200 ms, each with at most 20 % jitter off.
    let waited = waits(&recorded);
    assert_eq!(waited.len(), 2, "{waited:?}");
    assert!((ms(80)..=ms(120)).contains(&waited[0]) && (ms(160)..=ms(240)).contains(&waited[1]), "{waited:?}");
}

#[tokio::test]
async fn backoff_waits_are_capped_by_max_delay() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    sim.fault(503, 2).await;
    let retry = Retry { attempts: 3, first_delay: Duration::from_secs(30), max_delay: ms(100) };
    let (client, recorded) = recording(sim.client_with(ours(), retry));
    client.get_buyer(&token).await.unwrap();
    // Two waits of 24 to 36 s each, cut to 100 ms.
    assert_eq!(waits(&recorded), [ms(100), ms(100)]);
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

/// The waits getBuyer asks for when the first answer is a 503 with `Retry-After: <retry_after>`.
async fn waits_after_retry_after(retry_after: &'static str, max_delay: Duration) -> Vec<Duration> {
    let busy = (503, vec![(JSON.0, JSON.1), ("retry-after", retry_after)], BUSY_JSON);
    let (base, task, _) = canned_api(vec![busy, (200, vec![JSON], BUYER_JSON)]).await;
    let retry = Retry { attempts: 2, first_delay: ms(1), max_delay };
    let (client, recorded) = recording(client_at(&base, retry));
    let buyer = client.get_buyer("token").await.unwrap();
    task.abort();
    assert_eq!(buyer.buyer_id, "amzn1.account.ACANNED");
    waits(&recorded)
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_max_delay() {
    assert_eq!(waits_after_retry_after("1", Duration::from_secs(5)).await, [Duration::from_secs(1)]);
    assert_eq!(waits_after_retry_after("120", ms(100)).await, [ms(100)], "capped by max_delay");
}

#[tokio::test]
async fn the_last_failed_attempt_is_not_followed_by_a_wait() {
    let (base, task, calls) = canned_api(vec![(503, vec![JSON], BUSY_JSON)]).await;
    let retry = Retry { attempts: 2, first_delay: Duration::from_secs(1), max_delay: Duration::from_secs(1) };
    let (client, recorded) = recording(client_at(&base, retry));
    let result = client.get_buyer("token").await;
    task.abort();
    assert!(matches!(result, Err(AmazonError::Unavailable { attempts: 2, .. })), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // One wait of 0.8 to 1 s (jitter, then the cap), between the two attempts; none after.
    let waited = waits(&recorded);
    assert_eq!(waited.len(), 1, "{waited:?}");
    assert!((ms(800)..=Duration::from_secs(1)).contains(&waited[0]), "{waited:?}");
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
