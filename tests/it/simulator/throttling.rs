//! Amazon's throttling quotas, as the simulator keeps them: a leaky bucket per merchant and
//! operation, `429 TooManyRequests` past the largest quota (Amazon's page "API スロットリング制限";
//! Get Charge in the sandbox: 5 at once, 1 a second after that). And the shop's client, which
//! waits for its turn instead of being refused.

use amazonpay2::core::{AmazonError, Retry};

use crate::common::sim::{FAST_RETRY, SimSocket, account, shop_key};

const MERCHANT_ID: &str = "A1THROTTLINGTEST";
const STORE_ID: &str = "amzn1.application-oa2-client.throttlingtest000000000000";
const KEY_ID: &str = "SANDBOX-AMAZONPAY2THROTTLINGTESTKEY";

async fn simulator() -> SimSocket {
    SimSocket::start_keeping_quotas(account(MERCHANT_ID, STORE_ID, KEY_ID, true), &shop_key(), |s| s.router()).await
}

fn reason(result: Result<amazonpay2::amazon::types::Charge, AmazonError>) -> String {
    match result {
        Err(AmazonError::Rejected { status, reason_code, .. }) => format!("{status} {reason_code}"),
        Err(AmazonError::Unavailable { last, .. }) => format!("unavailable: {last}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn a_sixth_get_charge_at_once_in_the_sandbox_is_refused_with_429_too_many_requests() {
    let sim = simulator().await;
    // Unpaced and not retried: every request reaches Amazon when it is made.
    let once = Retry { attempts: 1, ..FAST_RETRY };
    let client = sim.client(&shop_key()).with_retry(once);
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(reason(client.get_charge("S01-0000000-0000000-C000001").await));
    }
    // The first five are taken (and find no such charge); the sixth overflows the bucket.
    assert_eq!(answers[..5], vec!["404 ResourceNotFound".to_owned(); 5][..], "{answers:?}");
    assert_eq!(answers[5], "unavailable: HTTP 429", "{answers:?}");
}

#[tokio::test]
async fn the_shops_client_waits_for_its_turns_and_is_never_refused() {
    let sim = simulator().await;
    let once = Retry { attempts: 1, ..FAST_RETRY };
    // Paced, as the shop's client always is against Amazon; not retried, so a 429 would show.
    let client = amazonpay2::core::AmazonPayClient::new(&sim.base, &sim.account, shop_key()).unwrap().with_retry(once);
    for _ in 0..7 {
        assert_eq!(reason(client.get_charge("S01-0000000-0000000-C000001").await), "404 ResourceNotFound");
    }
}

#[tokio::test]
async fn after_another_program_spent_the_quota_the_shops_call_is_refused_once_then_waits_and_succeeds() {
    let sim = simulator().await;
    let once = Retry { attempts: 1, ..FAST_RETRY };
    // Another program with the same keys (another instance, say) spends Get Charge's burst.
    let other = sim.client(&shop_key()).with_retry(once);
    for _ in 0..5 {
        assert_eq!(reason(other.get_charge("S01-0000000-0000000-C000001").await), "404 ResourceNotFound");
    }
    // The shop's paced client thinks it has turns left; Amazon's 429 empties its pacer, and its
    // retry waits for Amazon's restore rate (a second in the sandbox) instead of its short backoff.
    let shop =
        amazonpay2::core::AmazonPayClient::new(&sim.base, &sim.account, shop_key()).unwrap().with_retry(FAST_RETRY);
    assert_eq!(reason(shop.get_charge("S01-0000000-0000000-C000001").await), "404 ResourceNotFound");
}
