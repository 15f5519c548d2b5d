//! The API under `/api/amazonpay2/`.

mod account;
mod buttons;
mod checkout;
pub mod ipn;
mod signin;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};

pub use self::account::{existing_session, reply};
pub use self::signin::{link_waiting, log_in, log_out};
use super::error::ApiError;
use super::session::Session;
use crate::contract::{MemberState, Notice};
use crate::core::settings::notice_url;

/// The largest request body the API reads; the biggest real one (32 blocks) is under 3 KiB.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Amazon's tokens and IDs are short printable ASCII; anything else is not from Amazon.
const MAX_TOKEN_LEN: usize = 1024;

/// The API router (mounted at [`crate::core::paths::API`]), with `extra` (the demo shop's own
/// endpoints) beside it under the same answers for unknown paths, wrong methods and big bodies.
pub fn api(extra: Router) -> Router {
    Router::new()
        .route("/buttons", post(buttons::buttons))
        .route("/buttons/sign", post(buttons::sign))
        .route("/session", get(account::session))
        .route("/link", delete(account::unlink))
        .route("/signup/prefill", get(account::prefill))
        .route("/signin/return", get(signin::signin_return))
        .route("/signin/cancel", get(signin::signin_cancel))
        .route("/checkout/review", get(checkout::review))
        .route("/checkout/place", post(checkout::place))
        .route("/checkout/result", get(checkout::result))
        .route("/checkout/cancel", get(checkout::cancel))
        .route("/ipn.php", post(ipn::ipn).layer(DefaultBodyLimit::max(crate::amazon::sns::MAX_ENVELOPE_BYTES)))
        .merge(extra)
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

/// The member state the widget and shop scripts see.
pub fn member_state(session: &Session) -> MemberState {
    match &session.member {
        None => MemberState::Guest,
        Some(member) => MemberState::Member { name: member.name.clone(), linked: member.linked },
    }
}

/// Per-shopper answers must never be cached by a proxy or the browser.
pub fn no_store() -> [(&'static str, &'static str); 1] {
    [("cache-control", "no-store")]
}

/// Whether a value could be one of Amazon's tokens or IDs (and is not a path step such as `..`).
pub fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_TOKEN_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !value.bytes().all(|b| b == b'.')
}

/// A redirect to a shop page carrying a notice for the widget to show.
pub fn to_page(path: &str, notice: Notice) -> Response {
    Redirect::to(&notice_url(path, notice)).into_response()
}
