//! Test controls for merchants, what a test does instead of Seller Central's pages:
//!
//! - `POST /__simulator/merchants`: `{"publicKeyPem": "-----BEGIN PUBLIC KEY-----…",
//!   "sandbox": true, "merchantId"?: "A…", "storeId"?: "amzn1.application-oa2-client.…"}`
//!   registers the public key under a new public key ID (`SANDBOX-…`, or `LIVE-…` with
//!   `"sandbox": false`) for the merchant named (made when new; a new merchant when none is
//!   named) and its store (added when new; its first store, or a new one, when none is named).
//!   Answers 201 `{"merchantId", "storeId", "publicKeyId"}`. A store of another merchant is 409.
//! - `GET /__simulator/merchants/{merchantId}`: `{"merchantId", "stores": [{"storeId",
//!   "javaScriptOrigins"}], "publicKeyIds", "ipnUrl"}`.
//! - `POST /__simulator/merchants/{merchantId}/origins`: `{"origin": "https://shop.example",
//!   "storeId"?}` adds a JavaScript origin to the store (default: the merchant's first store);
//!   answers the merchant as above.
//! - `POST /__simulator/merchants/{merchantId}/ipn-url`: `{"url": "https://…/ipn.php" | null}`
//!   sets (or removes) the merchant's IPN URL; answers the merchant as above.
//!
//! Refusals use Amazon's error envelope: 400 `InvalidRequestFormat` for a body that is not the
//! JSON asked for, 400 `InvalidParameterValue` for a value that is wrong (a bad PEM, a malformed
//! ID or origin), 404 `ResourceNotFound` for an unknown merchant, 409 `InvalidParameterValue` for
//! another merchant's store, 413 for a body over the simulator's 64 KiB limit.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Merchant, Refusal, Registration};
use crate::simulator::api::ApiFailure;
use crate::simulator::signature::RegisteredKey;
use crate::simulator::{Simulator, lock};

pub(in crate::simulator) fn routes() -> Router<Simulator> {
    Router::new()
        .route("/__simulator/merchants", post(register))
        .route("/__simulator/merchants/{merchant_id}", get(show))
        .route("/__simulator/merchants/{merchant_id}/origins", post(add_origin))
        .route("/__simulator/merchants/{merchant_id}/ipn-url", post(set_ipn_url))
}

/// A refusal as the test control answers it.
pub(super) fn refusal(refusal: &Refusal) -> Response {
    let (status, code) = match refusal {
        Refusal::UnknownMerchant(_) => (StatusCode::NOT_FOUND, "ResourceNotFound"),
        Refusal::StoreOfAnother(_) => (StatusCode::CONFLICT, "InvalidParameterValue"),
        Refusal::UnknownStore(_) | Refusal::Malformed(_) => (StatusCode::BAD_REQUEST, "InvalidParameterValue"),
    };
    ApiFailure::new(status, code, refusal.to_string()).into_response()
}

/// A body that is not the JSON asked for: its status as the extractor found it (413 when too
/// large, 415 without a JSON content type, else 400), and what was expected.
fn unreadable(rejection: &JsonRejection, expected: &str) -> Response {
    let status = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => rejection.status(),
        _ => StatusCode::BAD_REQUEST,
    };
    ApiFailure::new(status, "InvalidRequestFormat", format!("{} The body must be {expected}.", rejection.body_text()))
        .into_response()
}

/// The merchant as `GET /__simulator/merchants/{id}` shows it.
pub(super) fn merchant_json(merchant: &Merchant) -> Value {
    json!({
        "merchantId": merchant.id,
        "stores": merchant.stores.iter().map(|store| json!({
            "storeId": store.id,
            "javaScriptOrigins": store.origins,
        })).collect::<Vec<_>>(),
        "publicKeyIds": merchant.public_key_ids,
        "ipnUrl": merchant.ipn_url.as_ref().map(url::Url::as_str),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewKey {
    public_key_pem: String,
    sandbox: bool,
    merchant_id: Option<String>,
    store_id: Option<String>,
}

async fn register(State(simulator): State<Simulator>, body: Result<Json<NewKey>, JsonRejection>) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            return unreadable(
                &rejection,
                "{\"publicKeyPem\": \"-----BEGIN PUBLIC KEY-----…\", \"sandbox\": true|false, \"merchantId\"?, \"storeId\"?}",
            );
        }
    };
    let key = match RegisteredKey::from_pem(&request.public_key_pem) {
        Ok(key) => key,
        Err(why) => {
            return ApiFailure::new(StatusCode::BAD_REQUEST, "InvalidParameterValue", format!("publicKeyPem: {why}"))
                .into_response();
        }
    };
    let registration =
        Registration { key, sandbox: request.sandbox, merchant_id: request.merchant_id, store_id: request.store_id };
    match simulator.register(registration) {
        Ok(registered) => (StatusCode::CREATED, Json(registered)).into_response(),
        Err(why) => refusal(&why),
    }
}

async fn show(State(simulator): State<Simulator>, Path(merchant_id): Path<String>) -> Response {
    match simulator.merchant(&merchant_id) {
        Some(merchant) => Json(merchant_json(&merchant)).into_response(),
        None => refusal(&Refusal::UnknownMerchant(merchant_id)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewOrigin {
    origin: String,
    store_id: Option<String>,
}

async fn add_origin(
    State(simulator): State<Simulator>,
    Path(merchant_id): Path<String>,
    body: Result<Json<NewOrigin>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return unreadable(&rejection, "{\"origin\": \"https://host[:port]\", \"storeId\"?}"),
    };
    let added = {
        let mut registry = lock(&simulator.inner.merchants);
        let store_id = match (&request.store_id, registry.merchant(&merchant_id)) {
            (_, None) => Err(Refusal::UnknownMerchant(merchant_id.clone())),
            (Some(store_id), Some(_)) => Ok(store_id.clone()),
            (None, Some(merchant)) => Ok(merchant.stores.first().map(|s| s.id.clone()).unwrap_or_default()),
        };
        store_id.and_then(|store_id| registry.add_origin(&merchant_id, &store_id, &request.origin))
    };
    match added {
        Ok(_) => show(State(simulator), Path(merchant_id)).await,
        Err(why) => refusal(&why),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IpnUrl {
    /// `null` removes it (no notifications).
    url: Option<String>,
}

async fn set_ipn_url(
    State(simulator): State<Simulator>,
    Path(merchant_id): Path<String>,
    body: Result<Json<IpnUrl>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return unreadable(&rejection, "{\"url\": \"https://…\" | null}"),
    };
    let url = match request.url.as_deref().map(crate::simulator::ipn::endpoint_url).transpose() {
        Ok(url) => url,
        Err(why) => return refusal(&Refusal::Malformed(format!("url: {why}."))),
    };
    let set = lock(&simulator.inner.merchants).set_ipn_url(&merchant_id, url);
    match set {
        Ok(()) => show(State(simulator), Path(merchant_id)).await,
        Err(why) => refusal(&why),
    }
}
