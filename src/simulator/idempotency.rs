//! Idempotency keys, as Amazon keeps them (its API reference, "Idempotency"):
//!
//! - `x-amz-pay-idempotency-key` is at most 32 characters of `a-z A-Z 0-9 - _`;
//! - keys are kept indefinitely per merchant account (here: for the simulator's lifetime, under
//!   the merchant whose key signed the request: two merchants may use the same key);
//! - a repeat with the same key and request gets **the saved response of the first request** (its
//!   status and body as they were then, not the object as it is now); a repeat with another
//!   request gets `400 DuplicateIdempotencyKey`.
//!
//! What is saved: every answer but a server error. Amazon's SDKs retry 5xx answers with the same
//! key, which only works if those are not saved; whether Amazon saves its other error answers
//! (a decline, say) is not documented: "saves the response to the first request" reads as all of
//! them, and a merchant who retries a decline with a new key is right either way.

use std::collections::HashMap;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Simulator;
use super::api::{ApiFailure, Caller};

/// The header.
const HEADER: &str = "x-amz-pay-idempotency-key";

/// The longest key Amazon takes.
const MAX_LENGTH: usize = 32;

/// An API answer as sent: its status and JSON body.
#[derive(Clone, Debug)]
pub(super) struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    pub(super) fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }

    pub(super) fn ok(body: Value) -> Self {
        Self::new(StatusCode::OK, body)
    }

    fn of_failure(failure: &ApiFailure) -> Self {
        Self::new(failure.status, failure.body())
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// A request made with a key, and what it was answered.
struct Saved {
    request: String,
    body: Value,
    answer: Answer,
}

/// Every key each merchant has used (by merchant ID, then key), with the first answer to it.
#[derive(Default)]
pub(super) struct Keys(HashMap<(String, String), Saved>);

impl Simulator {
    /// Answers `request` (`"POST charges"`, with its parsed `body`) made by `caller` with `key`: the saved
    /// answer of the first request with that key, `DuplicateIdempotencyKey` if that request was
    /// another, else what `work` answers (saved unless it is a server error). Without a key,
    /// `work` alone. Requests with keys are answered one at a time.
    pub(super) fn idempotent(
        &self,
        caller: &Caller,
        key: Option<&str>,
        request: &str,
        body: &Value,
        work: impl FnOnce() -> Result<Answer, ApiFailure>,
    ) -> Result<Answer, ApiFailure> {
        let Some(key) = key else { return work() };
        let key = (caller.merchant_id.clone(), key.to_owned());
        let mut keys = super::lock(&self.inner.idempotency);
        if let Some(saved) = keys.0.get(&key) {
            if saved.request == request && saved.body == *body {
                return Ok(saved.answer.clone());
            }
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "DuplicateIdempotencyKey",
                "The idempotency key was already used for a different request and cannot be reused.",
            ));
        }
        let answer = match work() {
            Ok(answer) => answer,
            Err(failure) if failure.status.is_server_error() => return Err(failure),
            Err(failure) => Answer::of_failure(&failure),
        };
        keys.0.insert(key, Saved { request: request.to_owned(), body: body.clone(), answer: answer.clone() });
        Ok(answer)
    }
}

/// The `x-amz-pay-idempotency-key` that Amazon requires on creating calls.
pub(super) fn required_key(headers: &HeaderMap) -> Result<&str, ApiFailure> {
    optional_key(headers)?.ok_or_else(|| {
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "MissingHeaderValue",
            "The x-amz-pay-idempotency-key header is required for this operation.",
        )
    })
}

/// The `x-amz-pay-idempotency-key`, if the request has one (an empty one counts as none).
pub(super) fn optional_key(headers: &HeaderMap) -> Result<Option<&str>, ApiFailure> {
    let Some(value) = headers.get(HEADER) else { return Ok(None) };
    let key = value.to_str().map_err(|_| invalid("(not text)"))?;
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > MAX_LENGTH || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(invalid(key));
    }
    Ok(Some(key))
}

/// Amazon's answer to a key it does not take. The reason code is the one Amazon's error table gives
/// for "an invalid value for at least one of the header parameters" (`InvalidHeaderValue`, 400);
/// the exact message for this header is not published (unconfirmed): this one follows the form of
/// Amazon's messages for invalid values ("The value '…' provided for '…' is invalid. …").
fn invalid(key: &str) -> ApiFailure {
    let shown: String = key.chars().take(64).collect();
    ApiFailure::new(
        StatusCode::BAD_REQUEST,
        "InvalidHeaderValue",
        format!(
            "The value '{shown}' provided for '{HEADER}' is invalid. It must be at most {MAX_LENGTH} characters of a-z, A-Z, 0-9, '-' and '_'."
        ),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(key).unwrap());
        headers
    }

    #[test]
    fn keys_follow_amazons_rule() {
        assert_eq!(required_key(&with("AVLo5tI10BHgEk2jEXAMPLEKEY")).unwrap(), "AVLo5tI10BHgEk2jEXAMPLEKEY");
        assert_eq!(required_key(&with(&"a_-Z9".repeat(6))).unwrap().len(), 30);
        for bad in ["capture-10001-S03-1234567-1234567-C123456", &"k".repeat(33), "a b", "a.b", "a/b", "a+b"] {
            assert_eq!(required_key(&with(bad)).unwrap_err().reason_code, "InvalidHeaderValue", "{bad}");
        }
        assert_eq!(required_key(&HeaderMap::new()).unwrap_err().reason_code, "MissingHeaderValue");
        assert_eq!(required_key(&with("")).unwrap_err().reason_code, "MissingHeaderValue");
        assert_eq!(optional_key(&HeaderMap::new()).unwrap(), None);
    }
}
