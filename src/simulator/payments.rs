//! Amazon Pay's checkout API on the simulator: checkout sessions (create, get, update,
//! complete) and charges (create, get), at Amazon's paths under every environment prefix and
//! behind the signature check of `api.rs`. Also the test controls for cards and pending
//! authorizations.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::Simulator;
use super::api::{ApiFailure, Caller};
use super::checkout::{Card, Environment, Outcome, Rules, View, parse_body};
use super::idempotency::{Answer, optional_key, required_key};
use super::merchants::Merchant;

/// The payment routes under each environment prefix, with and without the trailing slash the
/// .NET SDK sends.
pub(super) fn routes() -> Router<Simulator> {
    let mut router = Router::new();
    for prefix in ["", "/live", "/sandbox"] {
        for slash in ["", "/"] {
            router = router
                .route(&format!("{prefix}/v2/checkoutSessions{slash}"), post(create_session))
                .route(&format!("{prefix}/v2/checkoutSessions/{{id}}{slash}"), get(get_session).patch(update_session))
                .route(&format!("{prefix}/v2/checkoutSessions/{{id}}/complete{slash}"), post(complete_session))
                .route(&format!("{prefix}/v2/charges{slash}"), post(create_charge))
                .route(&format!("{prefix}/v2/charges/{{id}}{slash}"), get(get_charge));
        }
    }
    router
}

impl Simulator {
    /// The simulator's origin as browsers reach it: the configured one, else the host the
    /// request was sent to (the shop's API base, which in the demo is the simulator's address).
    pub(super) fn public_origin(&self, headers: &HeaderMap) -> String {
        if let Some(origin) = self.inner.public_origin.get() {
            return origin.clone();
        }
        let host = headers
            .get(header::HOST)
            .or_else(|| headers.get("x-amz-pay-host"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    }

    /// The environment of an API request: an environment-specific key ID (`LIVE-…`,
    /// `SANDBOX-…`) decides; otherwise the path's `/live` or `/sandbox`, as Amazon's SDKs build it.
    pub(super) fn environment_of(&self, uri: &Uri, caller: &Caller) -> Environment {
        let sandbox = crate::amazon::key_id_sandbox(&caller.public_key_id).unwrap_or(!uri.path().starts_with("/live/"));
        if sandbox { Environment::Sandbox } else { Environment::Live }
    }

    /// The calling merchant's registration, as it is now.
    pub(super) fn caller_merchant(&self, caller: &Caller) -> Result<Merchant, ApiFailure> {
        self.merchant(&caller.merchant_id).ok_or_else(|| {
            ApiFailure::new(
                StatusCode::UNAUTHORIZED,
                "InvalidRequestSignature",
                "Unable to verify signature: unknown merchant",
            )
        })
    }
}

pub(super) fn view<'a>(origin: &'a str, now: u64) -> View<'a> {
    View { origin, now }
}

pub(super) type ApiResult = Result<Response, ApiFailure>;

pub(super) fn answer(result: ApiResult) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST checkoutSessions` (what Amazon's SDKs call `createCheckoutSession`): 201 with a session
/// that has no buyer yet. The buyer continues at `/checkout/initiate?amazonCheckoutSessionId=…`
/// (where checkout.js sends a buyer whose button got its session from the merchant's server).
async fn create_session(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let origin = simulator.public_origin(&headers);
    let environment = simulator.environment_of(&uri, &caller);
    answer((|| {
        let key = required_key(&headers)?;
        let body = parse_body(&body)?;
        let merchant = simulator.caller_merchant(&caller)?;
        let answered = simulator.idempotent(&caller, Some(key), "POST checkoutSessions", &body, || {
            simulator.with_ledger(|ledger, now| {
                let id = ledger.create_session(&simulator, &merchant, &body, environment, now)?;
                let session = ledger.session(&id, now)?;
                let json = super::checkout::Ledger::session_json(session, &view(&origin, now));
                Ok(Answer::new(StatusCode::CREATED, json))
            })
        })?;
        Ok(answered.into_response())
    })())
}

/// `GET checkoutSessions/{id}`.
async fn get_session(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let origin = simulator.public_origin(&headers);
    answer(simulator.with_ledger(|ledger, now| {
        ledger.ensure_visible(&caller.merchant_id, SESSION, &id)?;
        let session = ledger.session(&id, now)?;
        Ok(Json(super::checkout::Ledger::session_json(session, &view(&origin, now))).into_response())
    }))
}

/// The object names of the not-found messages.
const SESSION: &str = "Checkout Session";
const PERMISSION: &str = "Charge Permission";
const CHARGE: &str = "Charge";

/// `PATCH checkoutSessions/{id}`.
async fn update_session(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let origin = simulator.public_origin(&headers);
    answer((|| {
        let body = parse_body(&body)?;
        let merchant = simulator.caller_merchant(&caller)?;
        simulator.with_ledger(|ledger, now| {
            ledger.ensure_visible(&caller.merchant_id, SESSION, &id)?;
            let session = ledger.session(&id, now)?;
            let live = session.environment == Environment::Live;
            // The URLs of an update must lie on the session's own store's origins.
            let origins = merchant.origins(Some(&session.owner.store_id));
            let rules = Rules { origins: &origins, live, strict: true };
            let session = ledger.update_session(&id, &body, &rules, now)?;
            Ok(Json(super::checkout::Ledger::session_json(session, &view(&origin, now))).into_response())
        })
    })())
}

/// `POST checkoutSessions/{id}/complete`: 200, or 202 while the authorization is pending. A key
/// (optional here) makes a repeat answer the first completion's answer.
async fn complete_session(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let origin = simulator.public_origin(&headers);
    answer((|| {
        let key = optional_key(&headers)?;
        let body = parse_body(&body)?;
        let request = format!("POST checkoutSessions/{id}/complete");
        let answered = simulator.idempotent(&caller, key, &request, &body, || {
            simulator.with_ledger(|ledger, now| {
                ledger.ensure_visible(&caller.merchant_id, SESSION, &id)?;
                let (session, pending) = ledger.complete(&simulator, &id, &body, now)?;
                let status = if pending { StatusCode::ACCEPTED } else { StatusCode::OK };
                Ok(Answer::new(status, super::checkout::Ledger::session_json(session, &view(&origin, now))))
            })
        })?;
        Ok(answered.into_response())
    })())
}

/// `POST charges`: 201 with the Charge when the authorization succeeded (or, for a merchant who
/// can handle it, is pending); a decline is an error answer, and no charge is made.
async fn create_charge(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer((|| {
        let key = required_key(&headers)?;
        let body = parse_body(&body)?;
        let answered = simulator.idempotent(&caller, Some(key), "POST charges", &body, || {
            simulator.with_ledger(|ledger, now| {
                if let Some(permission_id) = body.get("chargePermissionId").and_then(serde_json::Value::as_str) {
                    ledger.ensure_visible(&caller.merchant_id, PERMISSION, permission_id)?;
                }
                let id = ledger.create_charge(&simulator, &body, now)?;
                Ok(Answer::new(StatusCode::CREATED, ledger.charge_json(ledger.charge(&id)?)))
            })
        })?;
        Ok(answered.into_response())
    })())
}

/// `GET charges/{id}`.
async fn get_charge(
    State(simulator): State<Simulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    answer(simulator.with_ledger(|ledger, _| {
        ledger.ensure_visible(&caller.merchant_id, CHARGE, &id)?;
        Ok(Json(ledger.charge_json(ledger.charge(&id)?)).into_response())
    }))
}

// ---------------------------------------------------------------------------------------------
// Test controls
// ---------------------------------------------------------------------------------------------

/// `POST /__simulator/cards`, `POST /__simulator/authorizations`.
pub(super) fn controls() -> Router<Simulator> {
    Router::new()
        .route("/__simulator/cards", post(set_card))
        .route("/__simulator/authorizations", post(resolve_authorization))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CardChange {
    charge_permission_id: String,
    /// `visa` (authorizes), `decline` (HardDeclined), `pending` (AuthorizationInitiated when the
    /// merchant can handle it, else TransactionTimedOut); `mastercard` and `jcb` are accepted too;
    /// `expired` makes the permission NonChargeable (PaymentMethodExpired); a decline reason code
    /// (`SoftDeclined`, `ProcessingFailure`, …) a card that declines with it.
    card: String,
    /// Declines only this many charges, then the buyer's next card (a Visa) authorizes.
    times: Option<u32>,
}

/// Replaces the payment method of a charge permission, as a buyer does in their Amazon account:
/// the next charges are authorized with the new card.
async fn set_card(State(simulator): State<Simulator>, Json(change): Json<CardChange>) -> Response {
    let Some(card) = Card::parse_control(&change.card) else {
        return ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            format!(
                "card '{}' is not one of visa, decline, pending, expired, or a decline reason code (SoftDeclined, HardDeclined, PaymentMethodNotAllowed, TransactionTimedOut, MFANotCompleted, AmazonRejected, ProcessingFailure).",
                change.card
            ),
        )
        .into_response();
    };
    answer(simulator.with_ledger(|ledger, now| {
        ledger.set_card(&change.charge_permission_id, card, change.times, now)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Resolution {
    charge_id: String,
    /// `Authorized` or `Declined`.
    outcome: String,
}

/// Decides a pending (`AuthorizationInitiated`) authorization, as Amazon does asynchronously.
async fn resolve_authorization(State(simulator): State<Simulator>, Json(resolution): Json<Resolution>) -> Response {
    let outcome = match resolution.outcome.as_str() {
        "Authorized" => Outcome::Authorized,
        "Declined" => Outcome::Declined("HardDeclined"),
        other => {
            return ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                format!("outcome '{other}' is not one of Authorized, Declined."),
            )
            .into_response();
        }
    };
    answer(simulator.with_ledger(|ledger, now| {
        ledger.resolve_pending(&resolution.charge_id, outcome, now)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }))
}
