//! The IPN test controls and the signing certificate's URL.
//!
//! - `GET /__simulator/ipn`: the settings (`url` and `enabled`: the first merchant's).
//! - `POST /__simulator/ipn`: `{"url": "<endpoint>" | null, "enabled": bool,
//!   "signatureVersion": "1" | "2", "attempts": 1..=20, "firstDelayMs": 0..=600000,
//!   "maxDelayMs": 0..=3600000}`, every member optional. A `url` turns the first merchant's
//!   notifications on, `null` or `"enabled": false` turns them off, `"enabled": true` without a
//!   URL set uses `<shop origin>/api/amazonpay2/ipn.php`. The other settings apply to every
//!   merchant; other merchants' URLs are set with `POST /__simulator/merchants/{id}/ipn-url`.
//! - `POST /__simulator/ipn/duplicate`: `{"count": n}` (default 1): each of the next n
//!   notifications is published twice, with the same `NotificationId` (a new `MessageId`).
//! - `GET /__simulator/ipn/deliveries`: every delivery, oldest first, with its status.
//! - `POST /__simulator/ipn/deliveries/{id}/redeliver`: sends that envelope again, unchanged.
//! - `GET /SimpleNotificationService-<hex>.pem`: the simulator's SNS certificate.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Delivery, Settings, Status, endpoint_url, sns_timestamp};
use crate::amazon::sns::SignatureVersion;
use crate::simulator::api::ApiFailure;
use crate::simulator::{Simulator, lock};

pub(in crate::simulator) fn routes() -> Router<Simulator> {
    Router::new()
        .route("/__simulator/ipn", get(show).post(configure))
        .route("/__simulator/ipn/duplicate", post(duplicate))
        .route("/__simulator/ipn/deliveries", get(deliveries))
        .route("/__simulator/ipn/deliveries/{id}/redeliver", post(redeliver))
        .route("/{file}", get(certificate))
}

fn refuse(message: impl Into<String>) -> Response {
    ApiFailure::new(StatusCode::BAD_REQUEST, "InvalidParameterValue", message).into_response()
}

fn settings_json(simulator: &Simulator, settings: &Settings, endpoint: Option<&url::Url>) -> Value {
    let certificate = simulator
        .inner
        .notifier
        .signer()
        .ok()
        .map(|signer| format!("{}/{}", simulator.notification_origin(), signer.file_name()));
    json!({
        "url": endpoint.map(url::Url::as_str),
        "enabled": endpoint.is_some(),
        "signatureVersion": settings.version.as_str(),
        "attempts": settings.attempts,
        "firstDelayMs": u64::try_from(settings.first_delay.as_millis()).unwrap_or(u64::MAX),
        "maxDelayMs": u64::try_from(settings.max_delay.as_millis()).unwrap_or(u64::MAX),
        "duplicatesPending": settings.duplicates,
        "signingCertUrl": certificate,
        "topicArn": Simulator::topic_arn(simulator.first_merchant_id()),
    })
}

async fn show(State(simulator): State<Simulator>) -> Response {
    let settings = lock(&simulator.inner.notifier.settings).clone();
    let endpoint = simulator.ipn_url(simulator.first_merchant_id());
    Json(settings_json(&simulator, &settings, endpoint.as_ref())).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Configure {
    /// Absent: unchanged; null: off; a string: this endpoint, on.
    #[serde(default, deserialize_with = "present")]
    url: Option<Value>,
    enabled: Option<bool>,
    signature_version: Option<String>,
    attempts: Option<u32>,
    first_delay_ms: Option<u64>,
    max_delay_ms: Option<u64>,
}

/// A member that is present, `null` included (plain `Option` reads `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

async fn configure(State(simulator): State<Simulator>, body: Result<Json<Configure>, JsonRejection>) -> Response {
    let Ok(Json(change)) = body else {
        return refuse(
            "The body must be a JSON object with url, enabled, signatureVersion, attempts, firstDelayMs or maxDelayMs.",
        );
    };
    let mut next = lock(&simulator.inner.notifier.settings).clone();
    let mut endpoint = simulator.ipn_url(simulator.first_merchant_id());
    match &change.url {
        None => {}
        Some(Value::Null) => endpoint = None,
        Some(Value::String(url)) => match endpoint_url(url) {
            Ok(url) => endpoint = Some(url),
            Err(problem) => return refuse(problem),
        },
        Some(_) => return refuse("url must be a string or null."),
    }
    match change.enabled {
        Some(false) => endpoint = None,
        Some(true) if endpoint.is_none() => {
            let default = format!("{}/api/amazonpay2/ipn.php", simulator.inner.config.shop_origin);
            match endpoint_url(&default) {
                Ok(url) => endpoint = Some(url),
                Err(problem) => return refuse(problem),
            }
        }
        _ => {}
    }
    if let Some(version) = &change.signature_version {
        match SignatureVersion::parse(version) {
            Ok(version) => next.version = version,
            Err(problem) => return refuse(problem.to_string()),
        }
    }
    if let Some(attempts) = change.attempts {
        if !(1..=20).contains(&attempts) {
            return refuse("attempts must be between 1 and 20.");
        }
        next.attempts = attempts;
    }
    if let Some(ms) = change.first_delay_ms {
        if ms > 600_000 {
            return refuse("firstDelayMs must be at most 600000.");
        }
        next.first_delay = Duration::from_millis(ms);
    }
    if let Some(ms) = change.max_delay_ms {
        if ms > 3_600_000 {
            return refuse("maxDelayMs must be at most 3600000.");
        }
        next.max_delay = Duration::from_millis(ms);
    }
    *lock(&simulator.inner.notifier.settings) = next.clone();
    let first = simulator.first_merchant_id().to_owned();
    if let Err(refusal) = lock(&simulator.inner.merchants).set_ipn_url(&first, endpoint.clone()) {
        return refuse(refusal.to_string());
    }
    Json(settings_json(&simulator, &next, endpoint.as_ref())).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Duplicate {
    count: Option<u32>,
}

async fn duplicate(State(simulator): State<Simulator>, body: Option<Json<Duplicate>>) -> Response {
    let count = body.and_then(|Json(body)| body.count).unwrap_or(1);
    if count > 100 {
        return refuse("count must be at most 100.");
    }
    lock(&simulator.inner.notifier.settings).duplicates = count;
    StatusCode::NO_CONTENT.into_response()
}

async fn deliveries(State(simulator): State<Simulator>) -> Response {
    let log: Vec<Delivery> = lock(&simulator.inner.notifier.log).iter().cloned().collect();
    Json(log).into_response()
}

async fn redeliver(State(simulator): State<Simulator>, Path(id): Path<String>) -> Response {
    let Some(original) =
        id.parse::<u64>().ok().and_then(|id| lock(&simulator.inner.notifier.log).iter().find(|d| d.id == id).cloned())
    else {
        return ApiFailure::new(StatusCode::NOT_FOUND, "ResourceNotFound", format!("No delivery '{id}'."))
            .into_response();
    };
    let id = {
        let mut next = lock(&simulator.inner.notifier.next_id);
        *next += 1;
        *next
    };
    let copy = Delivery {
        id,
        status: Status::Pending,
        attempts: 0,
        responses: Vec::new(),
        last_error: None,
        duplicate_of: None,
        redelivery_of: Some(original.id),
        created: sns_timestamp(),
        ..original
    };
    let answer = Json(copy.clone()).into_response();
    simulator.enqueue(copy);
    answer
}

/// The signing certificate, at the path its `SigningCertURL` names; any other single-segment
/// path is not found.
async fn certificate(State(simulator): State<Simulator>, Path(file): Path<String>) -> Response {
    match simulator.inner.notifier.signer() {
        Ok(signer) if signer.file_name() == file => (
            [(header::CONTENT_TYPE, "application/x-pem-file"), (header::CACHE_CONTROL, "public, max-age=3600")],
            signer.certificate_pem().to_owned(),
        )
            .into_response(),
        _ => ApiFailure::new(StatusCode::NOT_FOUND, "ResourceNotFound", "The requested resource does not exist.")
            .into_response(),
    }
}
