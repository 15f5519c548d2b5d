//! Amazon Pay's published throttling quotas: how many requests of each API operation a merchant
//! may send at once, and how fast that allowance comes back.
//!
//! Amazon keeps a leaky bucket per merchant and operation: each request adds one, the bucket
//! drains at the restore rate, and a request that would overflow the largest quota is refused
//! with `429 TooManyRequests`. The figures are those of Amazon's Japanese page "API スロットリング
//! 制限" (developer.amazon.com/ja/docs/amazon-pay-api-v2/api-throttling-limits.html), whose
//! tables (US, EU and JP tabs, as far as the stored copy shows them) carry the same numbers.
//! Get Buyer and the unsigned requests are not in the table: what Amazon allows them is not
//! published, so nothing here limits them.

/// An API operation Amazon throttles by its own quota (named as Amazon names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiOperation {
    CancelCharge,
    CaptureCharge,
    CloseChargePermission,
    CompleteCheckoutSession,
    CreateCharge,
    CreateCheckoutSession,
    CreateRefund,
    GetCharge,
    GetChargePermission,
    GetCheckoutSession,
    GetRefund,
    UpdateChargePermission,
    UpdateCheckoutSession,
}

/// One operation's quota in one environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// 最大クォータ (burst): requests at once.
    pub burst: u32,
    /// 復元率 (restore rate): requests per second the allowance regains.
    pub per_second: u32,
}

impl ApiOperation {
    /// The throttled operation a request is, from its method and path as Amazon's API routes them
    /// (any environment prefix, `/v2/`, an optional trailing slash).
    pub fn of(method: &str, path: &str) -> Option<ApiOperation> {
        use ApiOperation::*;
        let path = path.strip_prefix("/live").or_else(|| path.strip_prefix("/sandbox")).unwrap_or(path);
        let path = path.strip_prefix("/v2/")?;
        let segments: Vec<&str> = path.strip_suffix('/').unwrap_or(path).split('/').collect();
        Some(match (method, segments.as_slice()) {
            ("POST", ["checkoutSessions"]) => CreateCheckoutSession,
            ("GET", ["checkoutSessions", _]) => GetCheckoutSession,
            ("PATCH", ["checkoutSessions", _]) => UpdateCheckoutSession,
            ("POST", ["checkoutSessions", _, "complete"]) => CompleteCheckoutSession,
            ("GET", ["chargePermissions", _]) => GetChargePermission,
            ("PATCH", ["chargePermissions", _]) => UpdateChargePermission,
            ("DELETE", ["chargePermissions", _, "close"]) => CloseChargePermission,
            ("POST", ["charges"]) => CreateCharge,
            ("GET", ["charges", _]) => GetCharge,
            ("POST", ["charges", _, "capture"]) => CaptureCharge,
            ("DELETE", ["charges", _, "cancel"]) => CancelCharge,
            ("POST", ["refunds"]) => CreateRefund,
            ("GET", ["refunds", _]) => GetRefund,
            _ => return None,
        })
    }

    /// Amazon's quota for this operation, in the sandbox or in production.
    pub fn quota(self, sandbox: bool) -> Quota {
        use ApiOperation::*;
        let (production, sandboxed) = match self {
            CancelCharge => ((10, 2), (2, 1)),
            CaptureCharge => ((20, 4), (2, 1)),
            CloseChargePermission => ((10, 2), (2, 1)),
            CompleteCheckoutSession => ((20, 4), (2, 1)),
            CreateCharge => ((10, 4), (2, 1)),
            CreateCheckoutSession => ((40, 16), (5, 1)),
            CreateRefund => ((10, 4), (2, 1)),
            GetCharge => ((20, 4), (5, 1)),
            GetChargePermission => ((20, 4), (10, 1)),
            GetCheckoutSession => ((40, 8), (10, 1)),
            GetRefund => ((20, 4), (5, 1)),
            UpdateChargePermission => ((10, 2), (5, 1)),
            UpdateCheckoutSession => ((20, 8), (5, 1)),
        };
        let (burst, per_second) = if sandbox { sandboxed } else { production };
        Quota { burst, per_second }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_named_as_amazon_routes_them_in_every_environment() {
        assert_eq!(ApiOperation::of("POST", "/v2/charges/C01-1/capture"), Some(ApiOperation::CaptureCharge));
        assert_eq!(ApiOperation::of("POST", "/sandbox/v2/charges/C01-1/capture/"), Some(ApiOperation::CaptureCharge));
        assert_eq!(ApiOperation::of("GET", "/live/v2/refunds/R01"), Some(ApiOperation::GetRefund));
        assert_eq!(ApiOperation::of("GET", "/v2/buyers/token"), None, "Get Buyer has no published quota");
    }

    #[test]
    fn capture_allows_twenty_at_once_and_four_a_second_in_production_two_and_one_in_the_sandbox() {
        assert_eq!(ApiOperation::CaptureCharge.quota(false), Quota { burst: 20, per_second: 4 });
        assert_eq!(ApiOperation::CaptureCharge.quota(true), Quota { burst: 2, per_second: 1 });
    }
}
