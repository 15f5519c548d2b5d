//! What a merchant does in Seller Central, without the shop, and the controls for Amazon's
//! asynchronous work.
//!
//! - `POST /__simulator/seller-central`: `{"action": "capture", "chargeId", "amount"?}` (the
//!   authorized amount unless a smaller one is given), `{"action": "cancel", "chargeId"}`,
//!   `{"action": "refund", "chargeId", "amount"?}` (what is left of the captured amount unless
//!   given), `{"action": "close", "chargePermissionId", "cancelPendingCharges"?, "reason"?}`.
//!   Amazon's rules apply exactly as through the API, the object is answered as the API shows
//!   it, and the merchant's IPN endpoint is notified as Amazon would notify it. The shop only
//!   learns of it through the IPN or its next API call, and Amazon then refuses the shop's own
//!   operation on that order (what the shop's 「エラーを無視して変更する」 is for).
//! - `POST /__simulator/captures`: `{"chargeId", "outcome": "Captured" | "Declined"}` decides a
//!   capture in progress (`CaptureInitiated`) now.
//! - `POST /__simulator/refunds`: `{"refundId", "outcome": "Refunded" | "Declined"}` decides a
//!   refund in progress (`RefundInitiated`) now.
//! - `POST /__simulator/settle`: every capture and refund in progress succeeds now; answers
//!   `{"captures": n, "refunds": n}`.
//! - `POST /__simulator/chargebacks`: `{"chargeId"}`: the buyer's card issuer disputes a captured
//!   charge; Amazon notifies the merchant with an IPN whose `ObjectType` is `CHARGEBACK` (a type
//!   its IPN documentation names). What else a chargeback changes at Amazon, and the format of
//!   its ID, are not documented: nothing else changes here, and the ID is the charge's with
//!   `-D` and six digits. Answers `{"chargebackId"}`.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Simulator;
use super::api::ApiFailure;
use super::checkout::{ChangeKind, ChangedObject, Settlement};
use super::payments::{answer, view};

pub(super) fn controls() -> Router<Simulator> {
    Router::new()
        .route("/__simulator/seller-central", post(seller_central))
        .route("/__simulator/captures", post(decide_capture))
        .route("/__simulator/refunds", post(decide_refund))
        .route("/__simulator/settle", post(settle))
        .route("/__simulator/chargebacks", post(chargeback))
}

fn bad_request(message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, "InvalidParameterValue", message)
}

/// A merchant's action in Seller Central.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Action {
    action: String,
    charge_id: Option<String>,
    charge_permission_id: Option<String>,
    /// Whole yen, as a number or a string.
    amount: Option<Value>,
    cancel_pending_charges: Option<bool>,
    reason: Option<String>,
}

impl Action {
    fn charge_id(&self) -> Result<&str, ApiFailure> {
        self.charge_id.as_deref().ok_or_else(|| bad_request(format!("{} needs chargeId.", self.action)))
    }

    /// `{"amount": "…", "currencyCode": "JPY"}` for the amount given, if any.
    fn price(&self) -> Result<Option<Value>, ApiFailure> {
        match &self.amount {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(Some(json!({ "amount": n.to_string(), "currencyCode": "JPY" }))),
            Some(Value::String(s)) => Ok(Some(json!({ "amount": s, "currencyCode": "JPY" }))),
            Some(_) => Err(bad_request("amount must be a number of yen.")),
        }
    }
}

async fn seller_central(
    State(simulator): State<Simulator>,
    headers: HeaderMap,
    body: Result<Json<Action>, JsonRejection>,
) -> Response {
    let Ok(Json(action)) = body else {
        return bad_request(
            "The body must be {\"action\": \"capture\" | \"cancel\" | \"refund\" | \"close\", …} with chargeId or chargePermissionId.",
        )
        .into_response();
    };
    let origin = simulator.public_origin(&headers);
    answer((|| {
        let result = match action.action.as_str() {
            "capture" => {
                let id = action.charge_id()?;
                let price = action.price()?;
                simulator.with_ledger(|ledger, now| {
                    let amount = match price {
                        Some(price) => price,
                        None => json!({ "amount": ledger.charge(id)?.amount.to_string(), "currencyCode": "JPY" }),
                    };
                    ledger.capture(id, &json!({ "captureAmount": amount }), now)
                })?
            }
            "cancel" => {
                let id = action.charge_id()?;
                let body = match &action.reason {
                    Some(reason) => json!({ "cancellationReason": reason }),
                    None => json!({ "cancellationReason": "Canceled in Seller Central." }),
                };
                simulator.with_ledger(|ledger, now| ledger.cancel_charge(id, &body, "MerchantCanceled", now))?
            }
            "refund" => {
                let id = action.charge_id()?;
                let price = action.price()?;
                simulator.with_ledger(|ledger, now| {
                    let amount = match price {
                        Some(price) => price,
                        None => json!({ "amount": ledger.refundable(id)?.to_string(), "currencyCode": "JPY" }),
                    };
                    ledger.create_refund(&simulator, &json!({ "chargeId": id, "refundAmount": amount }), now)
                })?
            }
            "close" => {
                let id = action
                    .charge_permission_id
                    .as_deref()
                    .ok_or_else(|| bad_request("close needs chargePermissionId."))?;
                let body = json!({
                    "closureReason": action.reason.as_deref().unwrap_or("Closed in Seller Central."),
                    "cancelPendingCharges": action.cancel_pending_charges.unwrap_or(false),
                });
                simulator.with_ledger(|ledger, now| {
                    ledger.close_permission(id, &body, now)?;
                    Ok::<_, ApiFailure>(ledger.permission_json(ledger.permission(id)?, &view(&origin, now)))
                })?
            }
            other => {
                return Err(bad_request(format!("action '{other}' is not one of capture, cancel, refund, close.")));
            }
        };
        Ok(Json(result).into_response())
    })())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CaptureDecision {
    charge_id: String,
    /// `Captured` or `Declined`.
    outcome: String,
}

async fn decide_capture(
    State(simulator): State<Simulator>,
    body: Result<Json<CaptureDecision>, JsonRejection>,
) -> Response {
    let Ok(Json(decision)) = body else {
        return bad_request("The body must be {\"chargeId\", \"outcome\": \"Captured\" | \"Declined\"}.")
            .into_response();
    };
    let outcome = match decision.outcome.as_str() {
        "Captured" => Settlement::Done,
        "Declined" => Settlement::Declined,
        other => return bad_request(format!("outcome '{other}' is not one of Captured, Declined.")).into_response(),
    };
    answer(simulator.with_ledger(|ledger, now| {
        ledger.settle_capture(&decision.charge_id, outcome, now)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefundDecision {
    refund_id: String,
    /// `Refunded` or `Declined`.
    outcome: String,
}

async fn decide_refund(
    State(simulator): State<Simulator>,
    body: Result<Json<RefundDecision>, JsonRejection>,
) -> Response {
    let Ok(Json(decision)) = body else {
        return bad_request("The body must be {\"refundId\", \"outcome\": \"Refunded\" | \"Declined\"}.")
            .into_response();
    };
    let outcome = match decision.outcome.as_str() {
        "Refunded" => Settlement::Done,
        "Declined" => Settlement::Declined,
        other => return bad_request(format!("outcome '{other}' is not one of Refunded, Declined.")).into_response(),
    };
    answer(simulator.with_ledger(|ledger, now| {
        ledger.settle_refund(&decision.refund_id, outcome, now)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }))
}

async fn settle(State(simulator): State<Simulator>) -> Response {
    let (captures, refunds) = simulator.with_ledger(|ledger, now| ledger.settle_all(now));
    Json(json!({ "captures": captures, "refunds": refunds })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Chargeback {
    charge_id: String,
}

async fn chargeback(State(simulator): State<Simulator>, body: Result<Json<Chargeback>, JsonRejection>) -> Response {
    let Ok(Json(chargeback)) = body else {
        return bad_request("The body must be {\"chargeId\"}.").into_response();
    };
    answer(simulator.with_ledger(|ledger, _| {
        let permission_id = ledger.charge(&chargeback.charge_id)?.permission_id.clone();
        let id = format!("{}-D{}", chargeback.charge_id, simulator.digits(6));
        ledger.record(ChangedObject::Chargeback, ChangeKind::State, &id, &permission_id);
        Ok(Json(json!({ "chargebackId": id })).into_response())
    }))
}
