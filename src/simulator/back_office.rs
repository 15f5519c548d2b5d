//! Amazon Pay's API after the order, on the simulator: capture and cancel a charge, create and
//! get refunds, get, update and close a charge permission; at Amazon's paths under every
//! environment prefix (with and without the .NET SDK's trailing slash), behind the signature
//! check of `api.rs`. The rules themselves are in `checkout::operations`.
//!
//! Answers, as Amazon's API reference shows them: capture 200, cancel 200, create refund 201,
//! get refund 200, get / update / close charge permission 200; a creating call (capture,
//! create refund) needs `x-amz-pay-idempotency-key`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{delete, get, post};

use super::Simulator;
use super::api::Caller;
use super::checkout::parse_body;
use super::idempotency::{Answer, required_key};
use super::payments::{answer, view};

pub(super) fn routes() -> Router<Simulator> {
    let mut router = Router::new();
    for prefix in ["", "/live", "/sandbox"] {
        for slash in ["", "/"] {
            router = router
                .route(&format!("{prefix}/v2/charges/{{id}}/capture{slash}"), post(capture))
                .route(&format!("{prefix}/v2/charges/{{id}}/cancel{slash}"), delete(cancel))
                .route(&format!("{prefix}/v2/refunds{slash}"), post(create_refund))
                .route(&format!("{prefix}/v2/refunds/{{id}}{slash}"), get(get_refund))
                .route(
                    &format!("{prefix}/v2/chargePermissions/{{id}}{slash}"),
                    get(get_permission).patch(update_permission),
                )
                .route(&format!("{prefix}/v2/chargePermissions/{{id}}/close{slash}"), delete(close_permission));
        }
    }
    router
}

/// `POST charges/{id}/capture`.
async fn capture(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer((|| {
        let key = required_key(&headers)?;
        let body = parse_body(&body)?;
        let request = format!("POST charges/{id}/capture");
        let answered = simulator.idempotent(&caller, Some(key), &request, &body, || {
            simulator
                .with_ledger(|ledger, now| {
                    ledger.ensure_visible(&caller.merchant_id, CHARGE, &id)?;
                    ledger.capture(&id, &body, now)
                })
                .map(Answer::ok)
        })?;
        Ok(answered.into_response())
    })())
}

/// `DELETE charges/{id}/cancel` (with a JSON body: `cancellationReason`).
async fn cancel(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer((|| {
        let body = parse_body(&body)?;
        let charge = simulator.with_ledger(|ledger, now| {
            ledger.ensure_visible(&caller.merchant_id, CHARGE, &id)?;
            ledger.cancel_charge(&id, &body, "MerchantCanceled", now)
        })?;
        Ok(Json(charge).into_response())
    })())
}

/// `POST refunds`.
async fn create_refund(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer((|| {
        let key = required_key(&headers)?;
        let body = parse_body(&body)?;
        let answered = simulator.idempotent(&caller, Some(key), "POST refunds", &body, || {
            let refund = simulator.with_ledger(|ledger, now| {
                if let Some(charge_id) = body.get("chargeId").and_then(serde_json::Value::as_str) {
                    ledger.ensure_visible(&caller.merchant_id, CHARGE, charge_id)?;
                }
                ledger.create_refund(&simulator, &body, now)
            })?;
            Ok(Answer::new(StatusCode::CREATED, refund))
        })?;
        Ok(answered.into_response())
    })())
}

/// `GET refunds/{id}`.
async fn get_refund(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    answer(simulator.with_ledger(|ledger, _| {
        ledger.ensure_visible(&caller.merchant_id, "Refund", &id)?;
        Ok(Json(ledger.refund_json(ledger.refund(&id)?)).into_response())
    }))
}

/// The object name of the not-found messages.
const CHARGE: &str = "Charge";

/// The charge permission's JSON, after `work` (for the caller's own permissions only).
fn permission(
    simulator: &Simulator,
    caller: &Caller,
    id: &str,
    headers: &HeaderMap,
    work: impl FnOnce(&mut super::checkout::Ledger, u64) -> Result<(), super::api::ApiFailure>,
) -> Response {
    let origin = simulator.public_origin(headers);
    answer(simulator.with_ledger(|ledger, now| {
        ledger.ensure_visible(&caller.merchant_id, "Charge Permission", id)?;
        work(ledger, now)?;
        let permission = ledger.permission(id)?;
        Ok(Json(ledger.permission_json(permission, &view(&origin, now))).into_response())
    }))
}

/// `GET chargePermissions/{id}`.
async fn get_permission(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    permission(&simulator, &caller, &id, &headers, |_, _| Ok(()))
}

/// `PATCH chargePermissions/{id}`: `merchantMetadata`, `recurringMetadata`.
async fn update_permission(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match parse_body(&body) {
        Ok(body) => {
            permission(&simulator, &caller, &id, &headers, |ledger, now| ledger.update_permission(&id, &body, now))
        }
        Err(failure) => failure.into_response(),
    }
}

/// `DELETE chargePermissions/{id}/close` (with a JSON body: `closureReason`,
/// `cancelPendingCharges`).
async fn close_permission(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match parse_body(&body) {
        Ok(body) => {
            permission(&simulator, &caller, &id, &headers, |ledger, now| ledger.close_permission(&id, &body, now))
        }
        Err(failure) => failure.into_response(),
    }
}
