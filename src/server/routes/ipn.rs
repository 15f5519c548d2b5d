//! `POST /api/amazonpay2/ipn.php`: Amazon's instant payment notifications.
//!
//! Amazon (through SNS) retries a delivery until it gets a 2xx, so the answers say what a retry
//! would do: 200 when the notification was acted on or was already seen, 4xx when it is not a
//! genuine notification for this shop (a retry would not change that), 503 when this shop could
//! not act on it now (the certificate or Amazon's API could not be reached, or the database
//! failed): the retry comes later and finds the notification unrecorded.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::super::AppState;
use super::super::error::ApiError;
use crate::amazon::sns::{MAX_ENVELOPE_BYTES, ObjectType, SnsError};
use crate::core::notifications::{Handled, NotificationError, Verified};

/// Takes one notification.
pub async fn ipn(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    // SNS is no browser: a request with an Origin is a page trying its luck.
    if headers.contains_key(header::ORIGIN) {
        return ApiError::forbidden("origin_not_allowed", "Notifications come from Amazon, not from web pages.")
            .into_response();
    }
    if body.len() > MAX_ENVELOPE_BYTES {
        return refused(&NotificationError::Refused(SnsError::TooLarge));
    }
    let message = match state.core.verify_notification(&body).await {
        Ok(Verified::Notification(message)) => message,
        Ok(Verified::Confirmation(kind)) => {
            tracing::warn!(
                kind = kind.as_str(),
                "SNS subscription message received and logged; its URL is not followed"
            );
            return done("logged");
        }
        Err(error) => return refused(&error),
    };
    let id = message.notification_id.as_str();
    match state.db.record_notification(id, message.object_type.as_str(), &message.object_id).await {
        Ok(true) => {}
        Ok(false) => return done("duplicate"),
        Err(error) => return unavailable(&error.to_string()),
    }
    match state.core.handle_notification(&message).await {
        Ok(handled) => {
            tracing::info!(
                notification = id,
                kind = message.object_type.as_str(),
                object = %message.object_id,
                moved = matches!(handled, Handled::Moved(_)),
                "notification followed"
            );
            done(if handled == Handled::Unchanged { "unchanged" } else { "moved" })
        }
        Err(error) => {
            // Unrecorded again, so that Amazon's retry is acted on.
            if let Err(forget) = state.db.forget_notification(id).await {
                tracing::error!(%forget, notification = id, "could not forget a notification that failed");
            }
            let unknown_kind = matches!(message.object_type, ObjectType::Other(_));
            tracing::warn!(%error, notification = id, unknown_kind, "could not follow a notification; Amazon retries it");
            unavailable(&error.to_string())
        }
    }
}

fn done(outcome: &'static str) -> Response {
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], axum::Json(serde_json::json!({ "outcome": outcome })))
        .into_response()
}

fn refused(error: &NotificationError) -> Response {
    let (status, code) = match error {
        NotificationError::Refused(SnsError::TooLarge) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        NotificationError::Refused(SnsError::BadSignature) => (StatusCode::FORBIDDEN, "signature_invalid"),
        NotificationError::Refused(SnsError::CertUrlNotAllowed(_)) => {
            (StatusCode::FORBIDDEN, "certificate_not_allowed")
        }
        NotificationError::Refused(_) => (StatusCode::BAD_REQUEST, "notification_invalid"),
        NotificationError::ForeignMerchant(_) => (StatusCode::FORBIDDEN, "merchant_mismatch"),
        NotificationError::CertificateUnavailable(why) => return unavailable(why),
    };
    tracing::warn!(%error, "notification refused");
    ApiError::client(status, code, error.to_string()).into_response()
}

fn unavailable(why: &str) -> Response {
    tracing::warn!(why, "notification not acted on now");
    let body = crate::contract::ApiError {
        error: crate::contract::ApiErrorBody {
            code: "try_again_later".into(),
            message: "The notification could not be acted on now; send it again later.".into(),
        },
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CACHE_CONTROL, "no-store"), (header::RETRY_AFTER, "60")],
        axum::Json(body),
    )
        .into_response()
}
