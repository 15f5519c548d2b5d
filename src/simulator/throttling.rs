//! Amazon's throttling: a leaky bucket per merchant, environment and operation, with the quotas
//! Amazon publishes ([`crate::amazon::quotas`]). Each request the bucket takes adds one; the bucket
//! drains at the restore rate; a request that would overflow the largest quota is refused with
//! `429 TooManyRequests` and adds nothing. Amazon's own message for it is not published; the one
//! here is ours. Whether Amazon sends `Retry-After` with it is not published either, so none is
//! sent.
//!
//! The buckets run on real time, not the simulator's clock: moving Amazon's clock ages objects,
//! not a merchant's allowance.

use std::collections::HashMap;
use std::time::Instant;

use axum::http::{Method, StatusCode};

use super::api::{ApiFailure, Caller};
use super::checkout::Environment;
use crate::amazon::quotas::ApiOperation;

/// Every merchant's buckets, and whether the quotas are kept at all.
#[derive(Default)]
pub(super) struct Buckets {
    /// Lifted: every request is taken (benchmarks of the shop's own cost).
    lifted: bool,
    levels: HashMap<(String, bool, ApiOperation), Level>,
}

/// How full one bucket is, as of `at`.
struct Level {
    requests: f64,
    at: Instant,
}

impl Buckets {
    /// Whether the quotas are kept from now on (lifted: every request is taken).
    pub(super) fn keep(&mut self, kept: bool) {
        self.lifted = !kept;
    }

    /// Takes `caller`'s request to `method path` in `environment` into its bucket, or refuses it.
    pub(super) fn take(
        &mut self,
        caller: &Caller,
        environment: Environment,
        method: &Method,
        path: &str,
    ) -> Result<(), ApiFailure> {
        self.take_at(caller, environment, method, path, Instant::now())
    }

    fn take_at(
        &mut self,
        caller: &Caller,
        environment: Environment,
        method: &Method,
        path: &str,
        now: Instant,
    ) -> Result<(), ApiFailure> {
        let Some(operation) = ApiOperation::of(method.as_str(), path).filter(|_| !self.lifted) else {
            return Ok(());
        };
        let sandbox = environment == Environment::Sandbox;
        let quota = operation.quota(sandbox);
        let level = self
            .levels
            .entry((caller.merchant_id.clone(), sandbox, operation))
            .or_insert(Level { requests: 0.0, at: now });
        let drained = now.duration_since(level.at).as_secs_f64() * f64::from(quota.per_second);
        level.requests = (level.requests - drained).max(0.0);
        level.at = now;
        if level.requests + 1.0 > f64::from(quota.burst) {
            return Err(ApiFailure::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "The request was throttled: too many requests of this operation in a short time.",
            ));
        }
        level.requests += 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(merchant_id: &str) -> Caller {
        Caller { merchant_id: merchant_id.to_owned(), public_key_id: "SANDBOX-KEY".to_owned() }
    }

    #[test]
    fn a_sandbox_merchant_gets_two_captures_at_once_and_the_third_is_refused_with_429() {
        let mut buckets = Buckets::default();
        let start = Instant::now();
        let path = "/sandbox/v2/charges/C01/capture";
        let take_at = |buckets: &mut Buckets, merchant: &str, at: Instant| {
            buckets.take_at(&caller(merchant), Environment::Sandbox, &Method::POST, path, at)
        };
        let take = |buckets: &mut Buckets, merchant: &str| take_at(buckets, merchant, start);
        assert!(take(&mut buckets, "A1").is_ok());
        assert!(take(&mut buckets, "A1").is_ok());
        let refused = take(&mut buckets, "A1").unwrap_err();
        assert_eq!((refused.status, refused.reason_code), (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"));
        // Another merchant's bucket, and another operation's, are their own.
        assert!(take(&mut buckets, "A2").is_ok());
        assert!(buckets.take(&caller("A1"), Environment::Sandbox, &Method::GET, "/sandbox/v2/charges/C01").is_ok());
        // The bucket drains one request a second: one more after a second, not two.
        let later = start + std::time::Duration::from_secs(1);
        assert!(take_at(&mut buckets, "A1", later).is_ok());
        assert!(take_at(&mut buckets, "A1", later).is_err());
        // Lifted, nothing is refused.
        buckets.keep(false);
        assert!((0..100).all(|_| take_at(&mut buckets, "A1", later).is_ok()));
    }
}
