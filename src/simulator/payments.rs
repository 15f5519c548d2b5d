//! Amazon Pay's payment API on the simulator: checkout sessions (get, update, complete), charge
//! permissions (get) and charges (create, get), at Amazon's paths under every environment prefix
//! and behind the signature check of `api.rs`. Also the test controls for payments.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::api::ApiFailure;
use super::checkout::{Card, Ledger, Outcome, Rules, View, parse_body};
use super::{Simulator, lock};

/// The payment routes under each environment prefix, with and without the trailing slash the
/// .NET SDK sends.
pub(super) fn routes() -> Router<Simulator> {
    let mut router = Router::new();
    for prefix in ["", "/live", "/sandbox"] {
        for slash in ["", "/"] {
            router = router
                .route(&format!("{prefix}/v2/checkoutSessions/{{id}}{slash}"), get(get_session).patch(update_session))
                .route(&format!("{prefix}/v2/checkoutSessions/{{id}}/complete{slash}"), post(complete_session))
                .route(&format!("{prefix}/v2/chargePermissions/{{id}}{slash}"), get(get_permission))
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

    /// The rules update payloads follow.
    pub(super) fn rules(&self, live: bool, strict: bool) -> Rules<'_> {
        Rules { shop_origin: &self.inner.config.shop_origin, live, strict }
    }
}

fn view<'a>(simulator: &'a Simulator, origin: &'a str, now: u64) -> View<'a> {
    let config = &simulator.inner.config;
    View { merchant_id: &config.merchant_id, store_id: &config.store_id, origin, now }
}

type ApiResult = Result<Response, ApiFailure>;

fn answer(result: ApiResult) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET checkoutSessions/{id}`.
async fn get_session(State(simulator): State<Simulator>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let now = simulator.now();
    let origin = simulator.public_origin(&headers);
    let mut ledger = lock(&simulator.inner.ledger);
    answer(
        ledger
            .session(&id, now)
            .map(|session| Json(Ledger::session_json(session, &view(&simulator, &origin, now))).into_response()),
    )
}

/// `PATCH checkoutSessions/{id}`.
async fn update_session(
    State(simulator): State<Simulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = simulator.now();
    let origin = simulator.public_origin(&headers);
    answer((|| {
        let body = parse_body(&body)?;
        let mut ledger = lock(&simulator.inner.ledger);
        let live = ledger.session(&id, now)?.environment == super::checkout::Environment::Live;
        let session = ledger.update_session(&id, &body, &simulator.rules(live, true), now)?;
        Ok(Json(Ledger::session_json(session, &view(&simulator, &origin, now))).into_response())
    })())
}

/// `POST checkoutSessions/{id}/complete`: 200, or 202 while the authorization is pending.
async fn complete_session(
    State(simulator): State<Simulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = simulator.now();
    let origin = simulator.public_origin(&headers);
    answer((|| {
        let body = parse_body(&body)?;
        let mut ledger = lock(&simulator.inner.ledger);
        let (session, pending) = ledger.complete(&simulator, &id, &body, now)?;
        let status = if pending { StatusCode::ACCEPTED } else { StatusCode::OK };
        Ok((status, Json(Ledger::session_json(session, &view(&simulator, &origin, now)))).into_response())
    })())
}

/// `GET chargePermissions/{id}`.
async fn get_permission(State(simulator): State<Simulator>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let now = simulator.now();
    let origin = simulator.public_origin(&headers);
    let ledger = lock(&simulator.inner.ledger);
    answer(
        ledger.permission(&id).map(|permission| {
            Json(ledger.permission_json(permission, &view(&simulator, &origin, now))).into_response()
        }),
    )
}

/// `POST charges`: 201 with the Charge, whatever its state (a decline is a `Declined` Charge).
async fn create_charge(State(simulator): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    let now = simulator.now();
    answer((|| {
        let key = headers
            .get("x-amz-pay-idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                ApiFailure::new(
                    StatusCode::BAD_REQUEST,
                    "MissingHeaderValue",
                    "The x-amz-pay-idempotency-key header is required for this operation.",
                )
            })?;
        let body = parse_body(&body)?;
        let mut ledger = lock(&simulator.inner.ledger);
        let id = ledger.create_charge(&simulator, key, &body, now)?;
        let charge = ledger.charge(&id, now)?;
        Ok((StatusCode::CREATED, Json(Ledger::charge_json(charge))).into_response())
    })())
}

/// `GET charges/{id}`.
async fn get_charge(State(simulator): State<Simulator>, Path(id): Path<String>) -> Response {
    let now = simulator.now();
    let mut ledger = lock(&simulator.inner.ledger);
    answer(ledger.charge(&id, now).map(|charge| Json(Ledger::charge_json(charge)).into_response()))
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
    /// merchant can handle it); `mastercard` and `jcb` are accepted too.
    card: String,
}

/// Replaces the payment method of a charge permission, as a buyer does in their Amazon account:
/// the next charges are authorized with the new card.
async fn set_card(State(simulator): State<Simulator>, Json(change): Json<CardChange>) -> Response {
    let Some(card) = Card::parse(&change.card) else {
        return ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            format!("card '{}' is not one of visa, decline, pending.", change.card),
        )
        .into_response();
    };
    let mut ledger = lock(&simulator.inner.ledger);
    answer(ledger.permission_mut(&change.charge_permission_id).map(|permission| {
        permission.card = card;
        StatusCode::NO_CONTENT.into_response()
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
    let now = simulator.now();
    let mut ledger = lock(&simulator.inner.ledger);
    answer(ledger.resolve_pending(&resolution.charge_id, outcome, now).map(|()| StatusCode::NO_CONTENT.into_response()))
}
