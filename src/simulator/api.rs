//! Amazon Pay's API, as the simulator serves it at Amazon's paths (`/v2/…`, `/live/v2/…`,
//! `/sandbox/v2/…`).
//!
//! Every request's signature is checked the way Amazon must check it to accept every official
//! SDK: whatever `SignedHeaders` list the client declares, either algorithm, either date format,
//! and the raw path as sent, with the key registered under the `PublicKeyId` it names. A bad one,
//! or a key ID no merchant registered, gets Amazon's 401 `InvalidRequestSignature` (the answer the
//! reference records for a signature that does not verify; what Amazon answers an unknown key ID
//! is not documented, and the project's onboarding reads this code as "the key does not belong
//! to this public key ID"). The verified key names the calling merchant ([`Caller`]): handlers
//! act for that merchant only.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::buyers::TEST_BUYERS;
use super::{Simulator, lock};
use crate::amazon::canonical::{canonical_request, parse_authorization, sha256_hex};
use crate::amazon::signature::string_to_sign;
use crate::amazon::types::AmazonErrorBody;

/// How far `x-amz-pay-date` may be from the simulator's clock.
const ALLOWED_SKEW: Duration = Duration::from_secs(15 * 60);

/// How long a buyer token can be exchanged for the buyer.
pub(super) const BUYER_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The largest request body read.
const BODY_LIMIT: usize = 64 * 1024;

/// The merchant whose registered key verified a request's signature.
#[derive(Clone, Debug)]
pub(super) struct Caller {
    pub merchant_id: String,
    pub public_key_id: String,
}

/// A buyer token minted by the sign-in page.
pub(super) struct BuyerToken {
    /// The merchant whose sign-in button made it: only that merchant can exchange it.
    pub merchant_id: String,
    /// Index into [`TEST_BUYERS`].
    pub buyer: usize,
    /// The sign-in scopes of the button.
    pub scopes: Vec<String>,
    /// When it was issued (simulator clock, seconds).
    pub issued: u64,
    /// Tokens work once.
    pub used: bool,
}

/// An Amazon error answer.
#[derive(Debug)]
pub(super) struct ApiFailure {
    pub status: StatusCode,
    pub reason_code: &'static str,
    pub message: String,
}

impl ApiFailure {
    pub(super) fn new(status: StatusCode, reason_code: &'static str, message: impl Into<String>) -> Self {
        Self { status, reason_code, message: message.into() }
    }
}

impl ApiFailure {
    /// Amazon's error envelope: `{"reasonCode", "message"}`.
    pub(super) fn body(&self) -> serde_json::Value {
        let body = AmazonErrorBody { reason_code: self.reason_code.to_owned(), message: self.message.clone() };
        serde_json::to_value(body).unwrap_or_default()
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// The API routes under each environment prefix, behind the signature check.
pub(super) fn routes(simulator: &Simulator) -> Router<Simulator> {
    let mut router = Router::new();
    for prefix in ["", "/live", "/sandbox"] {
        // The .NET SDK sends (and signs) paths with a trailing slash; Amazon serves both.
        router = router
            .route(&format!("{prefix}/v2/buyers/{{token}}"), get(get_buyer))
            .route(&format!("{prefix}/v2/buyers/{{token}}/"), get(get_buyer));
    }
    router
        .merge(super::payments::routes())
        .merge(super::back_office::routes())
        .fallback(|| async {
            ApiFailure::new(StatusCode::NOT_FOUND, "ResourceNotFound", "The requested resource does not exist.")
        })
        .method_not_allowed_fallback(|| async {
            ApiFailure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "InvalidRequest",
                "The method is not allowed for this resource.",
            )
        })
        .layer(middleware::from_fn_with_state(simulator.clone(), verify_signature))
}

/// Refuses any request whose signature does not verify with the merchant's registered key, or
/// that is over the merchant's quota for its operation.
async fn verify_signature(State(simulator): State<Simulator>, request: Request, next: Next) -> Response {
    if let Some(failure) = simulator.take_fault() {
        return failure.into_response();
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            return ApiFailure::new(StatusCode::BAD_REQUEST, "InvalidRequestFormat", "The request body is too large.")
                .into_response();
        }
    };
    let caller = match check(&simulator, &parts.method, &parts.uri, &parts.headers, &body) {
        Ok(caller) => caller,
        Err(failure) => return failure.into_response(),
    };
    if let Some(host) = parts.headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()) {
        simulator.saw_host(host, true);
    }
    // Counted per merchant, so after the signature names it.
    let environment = simulator.environment_of(&parts.uri, &caller);
    if let Err(failure) = lock(&simulator.inner.throttling).take(&caller, environment, &parts.method, parts.uri.path())
    {
        return failure.into_response();
    }
    let mut request = Request::from_parts(parts, Body::from(body));
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn check(
    simulator: &Simulator,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Caller, ApiFailure> {
    let unverified = |why: &str| {
        ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "InvalidRequestSignature",
            format!("Unable to verify signature: {why}"),
        )
    };
    let value = headers
        .get("authorization")
        .ok_or_else(|| {
            ApiFailure::new(StatusCode::BAD_REQUEST, "MissingHeader", "The authorization header is missing.")
        })?
        .to_str()
        .map_err(|_| unverified("the authorization header is not text"))?;
    let authorization = parse_authorization(value).ok_or_else(|| unverified("malformed authorization header"))?;
    let Some(owner) = simulator.key_owner(authorization.public_key_id) else {
        return Err(unverified("unknown public key ID"));
    };
    if !authorization.signed_headers.contains(&"x-amz-pay-date") {
        return Err(unverified("x-amz-pay-date must be signed"));
    }
    let mut signed = Vec::with_capacity(authorization.signed_headers.len());
    for name in &authorization.signed_headers {
        let value = headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unverified(&format!("signed header '{name}' is missing")))?;
        signed.push(((*name).to_owned(), value.to_owned()));
    }
    let date = headers.get("x-amz-pay-date").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let sent = parse_date(date).ok_or_else(|| {
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "InvalidHeaderValue",
            format!("x-amz-pay-date '{date}' is not a date."),
        )
    })?;
    // Real time, not the test clock: moving the clock forward ages tokens, not requests.
    if sent.abs_diff(real_now()) > ALLOWED_SKEW.as_secs() {
        return Err(ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "InvalidHeaderValue",
            "x-amz-pay-date is too far from the current time.",
        ));
    }
    let canonical =
        canonical_request(method.as_str(), uri.path(), uri.query().unwrap_or_default(), &signed, &sha256_hex(body));
    // Amazon's own words for a signature that does not verify, as its answers show them (the
    // string to sign with its newline, then the signature); the other refusals' texts are ours.
    owner.key.verify(authorization.algorithm, &canonical, authorization.signature).map_err(|_| {
        let to_sign = string_to_sign(authorization.algorithm, &canonical);
        ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "InvalidRequestSignature",
            format!("Unable to verify signature, signing String [{to_sign}] , signature [{}]", authorization.signature),
        )
    })?;
    Ok(Caller { merchant_id: owner.merchant_id, public_key_id: owner.public_key_id })
}

/// Unix seconds from the basic (`20261128T025228Z`, PHP/Java/.NET) or extended
/// (`2026-11-28T02:52:28Z`, Node) ISO 8601 format.
fn parse_date(value: &str) -> Option<u64> {
    let basic = format_description!("[year][month][day]T[hour][minute][second]Z");
    let extended = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let parsed = time::PrimitiveDateTime::parse(value, basic)
        .or_else(|_| time::PrimitiveDateTime::parse(value, extended))
        .ok()?;
    u64::try_from(parsed.assume_utc().unix_timestamp()).ok()
}

/// `GET buyers/{buyerToken}`. A token made by another merchant's button is refused as an unknown
/// one (Amazon's answer to that is not documented; an unknown token's is).
async fn get_buyer(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(token): Path<String>,
) -> Response {
    let now = simulator.now();
    let mut tokens = lock(&simulator.inner.buyer_tokens);
    let invalid = |why: &str| {
        ApiFailure::new(StatusCode::BAD_REQUEST, "InvalidParameterValue", format!("The buyerToken {why}."))
            .into_response()
    };
    let Some(entry) = tokens.get_mut(&token).filter(|entry| entry.merchant_id == caller.merchant_id) else {
        return invalid("is not valid");
    };
    if entry.used {
        return invalid("has already been used");
    }
    if now.saturating_sub(entry.issued) > BUYER_TOKEN_LIFETIME.as_secs() {
        return invalid("has expired");
    }
    entry.used = true;
    Json(super::checkout::get_buyer_json(&TEST_BUYERS[entry.buyer], &entry.merchant_id, &entry.scopes)).into_response()
}

/// Test controls: what the next API requests answer instead of being served.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Fault {
    /// The HTTP status to answer (e.g. 503).
    pub status: u16,
    /// How many requests get it.
    pub count: u32,
}

impl Simulator {
    /// The next injected failure, if any is left.
    fn take_fault(&self) -> Option<ApiFailure> {
        let mut faults = lock(&self.inner.faults);
        let fault = faults.as_mut()?;
        fault.count = fault.count.checked_sub(1)?;
        let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        if fault.count == 0 {
            *faults = None;
        }
        let reason_code = match status.as_u16() {
            408 => "RequestTimeout",
            429 => "TooManyRequests",
            500 => "InternalServerError",
            400..=499 => "InvalidRequest",
            _ => "ServiceUnavailable",
        };
        Some(ApiFailure::new(status, reason_code, "Injected failure (simulator test control)."))
    }

    /// The simulator's clock, in Unix seconds (tests can move it forward, or back before
    /// anything was made).
    pub(super) fn now(&self) -> u64 {
        let offset = self.inner.clock_offset.load(std::sync::atomic::Ordering::Relaxed);
        real_now().saturating_add_signed(offset)
    }
}

fn real_now() -> u64 {
    OffsetDateTime::now_utc().unix_timestamp().max(0).unsigned_abs()
}

/// `POST /__simulator/faults`, `POST /__simulator/clock`, `POST /__simulator/quotas`: test
/// controls, as a test double has.
pub(super) fn controls() -> Router<Simulator> {
    Router::new()
        .route("/__simulator/faults", axum::routing::post(set_faults))
        .route("/__simulator/quotas", axum::routing::post(set_quotas))
        .route("/__simulator/clock", axum::routing::post(advance_clock))
        .merge(super::payments::controls())
}

/// `{"kept": bool}`: whether Amazon's throttling quotas are kept from now on (a benchmark places
/// its orders with them lifted, then measures a job at Amazon's pace).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Quotas {
    kept: bool,
}

async fn set_quotas(State(simulator): State<Simulator>, Json(quotas): Json<Quotas>) -> StatusCode {
    lock(&simulator.inner.throttling).keep(quotas.kept);
    StatusCode::NO_CONTENT
}

async fn set_faults(State(simulator): State<Simulator>, Json(fault): Json<Fault>) -> StatusCode {
    *lock(&simulator.inner.faults) = (fault.count > 0).then_some(fault);
    StatusCode::NO_CONTENT
}

/// Moves the simulator's clock by `advanceSeconds`: forward at any time (what the new time makes
/// due happens now, and is notified now), or back only while Amazon holds nothing yet — a test
/// whose orders were placed some days ago starts Amazon's clock that far back, then moves it on;
/// Amazon's clock never runs backwards over objects it made (409 then).
async fn advance_clock(State(simulator): State<Simulator>, Json(body): Json<HashMap<String, i64>>) -> StatusCode {
    let seconds = body.get("advanceSeconds").copied().unwrap_or_default();
    if seconds < 0 && !simulator.with_ledger(|ledger, _| ledger.is_empty()) {
        return StatusCode::CONFLICT;
    }
    simulator.inner.clock_offset.fetch_add(seconds, std::sync::atomic::Ordering::Relaxed);
    // What the new time makes due happens now, and is notified now.
    simulator.with_ledger(|_, _| ());
    StatusCode::NO_CONTENT
}
