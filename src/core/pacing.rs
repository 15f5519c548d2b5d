//! Keeping to Amazon's throttling quotas ([`crate::amazon::quotas`]) so that Amazon need not
//! refuse: each call waits for its operation's turn before it is signed and sent.
//!
//! Retrying Amazon's `429` is not enough on its own: a bulk capture sends hundreds of captures,
//! Amazon takes 4 a second (1 in the sandbox), and a few backoffs of under a second each would give
//! most orders up. Paced, every capture waits its turn and succeeds at Amazon's rate.
//!
//! Every client of one public key ID (at one Amazon) in this process shares one pacer, because
//! Amazon counts per merchant, not per connection. Instances of a deployment pace each on its own; together they can
//! go over, and Amazon's `429` then empties the pacer ([`Pacer::refused`]) before the retry.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use crate::amazon::quotas::{ApiOperation, Quota};

/// The turns of one merchant's calls, per operation.
pub(crate) struct Pacer {
    sandbox: bool,
    buckets: Mutex<HashMap<ApiOperation, Allowance>>,
}

/// What is left of an operation's quota: requests that may go now (below zero: turns already
/// promised to calls that are waiting), as of `at`.
struct Allowance {
    left: f64,
    at: Instant,
}

impl Pacer {
    /// The pacer of the merchant whose public key is `public_key_id` at the Amazon reached at
    /// `api_base`, shared with every other client of that key there in this process (a test's
    /// simulators are separate Amazons).
    pub(crate) fn of(api_base: &str, public_key_id: &str, sandbox: bool) -> Arc<Pacer> {
        type Pacers = HashMap<(String, String, bool), Weak<Pacer>>;
        static PACERS: LazyLock<Mutex<Pacers>> = LazyLock::new(Mutex::default);
        let mut pacers = PACERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (api_base.to_owned(), public_key_id.to_owned(), sandbox);
        if let Some(pacer) = pacers.get(&key).and_then(Weak::upgrade) {
            return pacer;
        }
        // Keys whose clients are gone are forgotten now and then, not at every new client.
        if pacers.len() % 1024 == 1023 {
            pacers.retain(|_, pacer| pacer.strong_count() > 0);
        }
        let pacer = Arc::new(Pacer { sandbox, buckets: Mutex::new(HashMap::new()) });
        pacers.insert(key, Arc::downgrade(&pacer));
        pacer
    }

    /// How long a call of `operation` waits for its turn, which is taken now; or, when that would
    /// be longer than [`LONGEST_WAIT`], how long, and no turn is taken.
    pub(crate) fn turn(&self, operation: ApiOperation) -> Result<Duration, Duration> {
        self.turn_at(operation, Instant::now())
    }

    fn turn_at(&self, operation: ApiOperation, now: Instant) -> Result<Duration, Duration> {
        let quota = operation.quota(self.sandbox);
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let allowance = buckets.entry(operation).or_insert(Allowance { left: capacity(quota), at: now });
        let rate = f64::from(quota.per_second);
        allowance.left =
            (allowance.left + now.saturating_duration_since(allowance.at).as_secs_f64() * rate).min(capacity(quota));
        allowance.at = now;
        let wait =
            if allowance.left >= 1.0 { Duration::ZERO } else { Duration::from_secs_f64((1.0 - allowance.left) / rate) };
        if wait > LONGEST_WAIT {
            return Err(wait);
        }
        allowance.left -= 1.0;
        Ok(wait)
    }

    /// Amazon refused a call of `operation` as over its quota (another instance, or another
    /// program with the same keys, spent it): nothing is left now, so the next turn waits for
    /// Amazon's restore rate.
    pub(crate) fn refused(&self, operation: ApiOperation) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(allowance) = buckets.get_mut(&operation) {
            allowance.left = allowance.left.min(0.0);
        }
    }
}

/// The longest a call waits for its turn. Past it the call fails at once, as Amazon would refuse
/// it: a shopper's page must not hang behind a crowd, and a job's few workers never wait this long.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(15);

/// One request fewer than Amazon's burst: our clock and the moment Amazon counts a request differ
/// by the network's jitter, and one request of room absorbs a pair that arrives closer together
/// than they were sent.
fn capacity(quota: Quota) -> f64 {
    f64::from(quota.burst.saturating_sub(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(sandbox: bool) -> Pacer {
        Pacer { sandbox, buckets: Mutex::new(HashMap::new()) }
    }

    fn millis(wait: Duration) -> u128 {
        wait.as_millis()
    }

    #[test]
    fn production_captures_go_at_once_up_to_one_below_the_burst_then_four_a_second() {
        let pacer = pacer(false);
        let now = Instant::now();
        let waits: Vec<u128> =
            (0..22).map(|_| millis(pacer.turn_at(ApiOperation::CaptureCharge, now).unwrap())).collect();
        assert!(waits[..19].iter().all(|&wait| wait == 0), "{waits:?}");
        assert_eq!(waits[19..], [250, 500, 750]);
    }

    #[test]
    fn sandbox_captures_go_one_a_second_and_the_allowance_comes_back_with_time() {
        let pacer = pacer(true);
        let start = Instant::now();
        assert_eq!(millis(pacer.turn_at(ApiOperation::CaptureCharge, start).unwrap()), 0);
        assert_eq!(millis(pacer.turn_at(ApiOperation::CaptureCharge, start).unwrap()), 1000);
        // Two seconds on, the promised turn is past and one more has come back.
        let later = start + Duration::from_secs(2);
        assert_eq!(millis(pacer.turn_at(ApiOperation::CaptureCharge, later).unwrap()), 0);
        // Operations keep their own quotas.
        assert_eq!(millis(pacer.turn_at(ApiOperation::GetCharge, start).unwrap()), 0);
    }

    #[test]
    fn a_refusal_by_amazon_makes_the_next_turn_wait_for_the_restore_rate() {
        let pacer = pacer(false);
        let now = Instant::now();
        assert_eq!(millis(pacer.turn_at(ApiOperation::CreateRefund, now).unwrap()), 0);
        pacer.refused(ApiOperation::CreateRefund);
        assert_eq!(millis(pacer.turn_at(ApiOperation::CreateRefund, now).unwrap()), 250);
    }

    #[test]
    fn a_turn_further_off_than_the_longest_wait_is_refused_and_not_taken() {
        let pacer = pacer(true);
        let now = Instant::now();
        // The sandbox's captures: one at once, then one a second; the 17th would wait 16 s.
        let waits: Vec<_> = (0..17).map(|_| pacer.turn_at(ApiOperation::CaptureCharge, now)).collect();
        assert_eq!(waits[15], Ok(LONGEST_WAIT));
        assert_eq!(waits[16], Err(Duration::from_secs(16)));
        assert_eq!(
            pacer.turn_at(ApiOperation::CaptureCharge, now),
            Err(Duration::from_secs(16)),
            "still 16: none taken"
        );
    }

    #[test]
    fn clients_of_one_key_at_one_amazon_share_a_pacer_and_other_keys_amazons_or_modes_do_not() {
        let amazon = "https://pay-api.amazon.jp/v2";
        let first = Pacer::of(amazon, "LIVE-PACING-TEST-ONE", false);
        assert!(Arc::ptr_eq(&first, &Pacer::of(amazon, "LIVE-PACING-TEST-ONE", false)));
        assert!(!Arc::ptr_eq(&first, &Pacer::of(amazon, "LIVE-PACING-TEST-TWO", false)));
        assert!(!Arc::ptr_eq(&first, &Pacer::of(amazon, "LIVE-PACING-TEST-ONE", true)));
        assert!(!Arc::ptr_eq(&first, &Pacer::of("http://127.0.0.1:8081/v2", "LIVE-PACING-TEST-ONE", false)));
    }
}
