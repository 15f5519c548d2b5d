//! The API under `/api/amazonpay2/`.

mod account;
mod buttons;
mod checkout;
mod demo_shop;
mod returns;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

use super::AppState;
use super::error::ApiError;
use super::session::Session;
use crate::contract::MemberState;

/// The API's paths; return URLs in signed payloads are built from these.
pub mod paths {
    /// Where the API lives.
    pub const API: &str = "/api/amazonpay2";
    /// Amazon's sign-in return (signed into `signInReturnUrl`).
    pub const SIGNIN_RETURN: &str = "/api/amazonpay2/signin/return";
    /// Amazon's checkout review return (signed into `checkoutReviewReturnUrl`).
    pub const CHECKOUT_REVIEW: &str = "/api/amazonpay2/checkout/review";
    /// Amazon's checkout result return (sent in updateCheckoutSession).
    pub const CHECKOUT_RESULT: &str = "/api/amazonpay2/checkout/result";
}

/// The largest request body the API reads; the biggest real one (32 blocks) is under 3 KiB.
const BODY_LIMIT: usize = 16 * 1024;

/// The API router (mounted at [`paths::API`]).
pub fn api(demo: bool) -> Router<Arc<AppState>> {
    let mut router = Router::new()
        .route("/buttons", post(buttons::buttons))
        .route("/buttons/sign", post(buttons::sign))
        .route("/session", get(account::session))
        .route("/link", delete(account::unlink))
        .route("/signup/prefill", get(account::prefill))
        .route("/signin/return", get(returns::signin_return))
        .route("/checkout/review", get(checkout::review))
        .route("/checkout/place", post(checkout::place))
        .route("/checkout/result", get(checkout::result));
    if demo {
        router = router
            .route("/demo/signup", post(demo_shop::sign_up))
            .route("/demo/login", post(demo_shop::log_in))
            .route("/demo/logout", post(demo_shop::log_out))
            .route("/demo/catalogue", get(demo_shop::catalogue))
            .route("/demo/cart", get(demo_shop::cart).post(demo_shop::update_cart))
            .route("/demo/orders", get(demo_shop::orders));
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::client(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This endpoint does not accept that method.",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Unknown API paths: JSON, as every API answer.
pub async fn not_found() -> ApiError {
    ApiError::client(StatusCode::NOT_FOUND, "not_found", "No such API endpoint.")
}

fn member_state(session: &Session) -> MemberState {
    match &session.member {
        None => MemberState::Guest,
        Some(member) => MemberState::Member { name: member.name.clone(), linked: member.linked },
    }
}

/// Per-shopper answers must never be cached by a proxy or the browser.
fn no_store() -> [(&'static str, &'static str); 1] {
    [("cache-control", "no-store")]
}
