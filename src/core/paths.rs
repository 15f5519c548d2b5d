//! The API's paths. Return URLs in signed payloads are built from these, so they live with the
//! core that signs them; the HTTP layer mounts its handlers at them.

/// Where the API lives.
pub const API: &str = "/api/amazonpay2";
/// Amazon's sign-in return (signed into `signInReturnUrl`).
pub const SIGNIN_RETURN: &str = "/api/amazonpay2/signin/return";
/// Where Amazon sends a shopper who cancels the sign-in (signed into `signInCancelUrl`).
pub const SIGNIN_CANCEL: &str = "/api/amazonpay2/signin/cancel";
/// Where Amazon sends a shopper who cancels the checkout (signed into `checkoutCancelUrl`).
pub const CHECKOUT_CANCEL: &str = "/api/amazonpay2/checkout/cancel";
/// Amazon's checkout review return (signed into `checkoutReviewReturnUrl`).
pub const CHECKOUT_REVIEW: &str = "/api/amazonpay2/checkout/review";
/// Amazon's checkout result return (sent in updateCheckoutSession).
pub const CHECKOUT_RESULT: &str = "/api/amazonpay2/checkout/result";
/// Amazon's instant notifications (registered in Seller Central, manual step ⑨).
pub const IPN: &str = "/api/amazonpay2/ipn.php";
