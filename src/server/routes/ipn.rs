//! `POST /api/amazonpay2/ipn.php`: Amazon's instant payment notifications.
//!
//! Amazon (through SNS) retries a delivery until it gets a 2xx, so the answers say what a retry
//! would do: 200 when the notification was acted on or was already handled, 4xx when it is not a
//! genuine notification for this shop (a retry would not change that), 503 when this shop could
//! not act on it now (a certificate or Amazon's API could not be reached, the minute's reads of
//! Amazon are used up, another instance is handling it, or the database failed): the retry comes
//! later and finds the notification unhandled.
//!
//! A notification is recorded handled only once it was: it is first claimed (one instance
//! handles a given `NotificationId`, the others answer 503 meanwhile), then followed, and only
//! then marked handled; a failure gives the claim up, and a claim left by a stopped instance
//! lapses after [`CLAIM_LEASE`].

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::super::AppState;
use super::super::error::ApiError;
use crate::amazon::sns::{MAX_ENVELOPE_BYTES, SnsError};
use crate::core::notifications::{FollowError, Notification, NotificationError, TopicCheck, Verified, topic_check};
use crate::core::now;
use crate::storage::{Claimed, NotificationClaim};

/// How long a claim keeps other instances off a notification: longer than following one takes
/// (Amazon's API with its retries, a few database writes).
pub const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// How long handled notifications are remembered, so that Amazon's repeats are recognised: twice
/// the 14 days over which Amazon's (MWS-era) IPN documentation says failed deliveries are retried
/// (Checkout v2's own retry policy is not published).
pub const REMEMBERED: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Takes one notification.
pub async fn ipn(Extension(state): Extension<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    // SNS is no browser: a request with an Origin is a page trying its luck.
    if headers.contains_key(header::ORIGIN) {
        return ApiError::forbidden("origin_not_allowed", "Notifications come from Amazon, not from web pages.")
            .into_response();
    }
    if body.len() > MAX_ENVELOPE_BYTES {
        return refused(&NotificationError::Refused(SnsError::TooLarge));
    }
    let topic_header = headers.get("x-amz-sns-topic-arn").map(|value| value.to_str().unwrap_or("(not text)"));
    let notification = match state.core.verify_notification(&body, topic_header).await {
        Ok(Verified::Notification(notification)) => notification,
        Ok(Verified::Confirmation(kind)) => {
            tracing::warn!(
                kind = kind.as_str(),
                "SNS subscription message received and logged; its URL is not followed"
            );
            return done("logged");
        }
        Err(error) => return refused(&error),
    };
    let topic = &notification.topic_arn;
    if topic_check(&state.core.settings().ipn_topic_arns, topic) == TopicCheck::Refused {
        if record_topic(&state, topic, false).await {
            tracing::warn!(%topic, "notifications from an SNS topic not in AMAZONPAY2_IPN_TOPIC_ARNS are refused");
        }
        return ApiError::client(
            StatusCode::FORBIDDEN,
            "topic_not_allowed",
            "Notifications for this shop come from another SNS topic.",
        )
        .into_response();
    }
    if record_topic(&state, topic, false).await {
        tracing::warn!(
            %topic,
            "notifications arrive from an SNS topic not seen before; every topic is followed while AMAZONPAY2_IPN_TOPIC_ARNS is unset (管理画面 > AmazonPay 設定 lists them)"
        );
    }
    follow(&state, &notification).await
}

/// Claims, follows and records one verified notification.
async fn follow(state: &AppState, notification: &Notification) -> Response {
    let message = &notification.message;
    let id = message.notification_id.as_str();
    let at = now();
    let lease = i64::try_from(CLAIM_LEASE.as_secs()).unwrap_or(i64::MAX);
    // A random token tells this request's claim from another's.
    let Ok(token) = state.core.random_token() else {
        return unavailable("try_again_later", "the system's random source failed: nothing can be claimed");
    };
    let claim = NotificationClaim {
        id: id.to_owned(),
        object_type: message.object_type.as_str().to_owned(),
        object_id: message.object_id.clone(),
        token,
        at,
        until: at + lease,
    };
    match state.db.claim_notification(&claim).await {
        Ok(Claimed::Mine) => {}
        Ok(Claimed::Handled) => return done("duplicate"),
        Ok(Claimed::Busy) => return unavailable("try_again_later", "another request is handling this notification"),
        Err(error) => return unavailable("try_again_later", &error.to_string()),
    }
    let handled = match state.core.handle_notification(message).await {
        Ok(handled) => handled,
        Err(error) => {
            // Given up, so that Amazon's retry (or the reconciler) acts on it.
            if let Err(release) = state.db.release_notification(id, &claim.token).await {
                tracing::error!(%release, notification = id, "could not give up a notification that failed");
            }
            tracing::warn!(%error, notification = id, kind = message.object_type.as_str(), "could not follow a notification; Amazon retries it");
            let code = if matches!(error, FollowError::Throttled) { "busy" } else { "try_again_later" };
            return unavailable(code, &error.to_string());
        }
    };
    if !handled.confirmed {
        // It named nothing Amazon had to be asked about (a charge the shop has not recorded, a
        // chargeback without a charge permission, a kind left to Seller Central): following it
        // again costs nothing, so it is not remembered, and a flood of such notifications leaves
        // no rows behind. (A chargeback with its charge permission is followed and remembered.)
        if let Err(release) = state.db.release_notification(id, &claim.token).await {
            tracing::error!(%release, notification = id, "could not give up a notification");
        }
        return done("unchanged");
    }
    if let Err(error) = state.db.finish_notification(id, &claim.token, now()).await {
        // Followed, but not recorded: Amazon's retry follows it again, which moves nothing twice.
        return unavailable("try_again_later", &error.to_string());
    }
    record_topic(state, &notification.topic_arn, true).await;
    tracing::info!(
        notification = id,
        kind = message.object_type.as_str(),
        object = %message.object_id,
        moved = handled.moved,
        "notification followed"
    );
    done(if handled.moved == 0 { "unchanged" } else { "moved" })
}

/// Records a sighting of `topic` for the owner (at most once a minute per instance, a first one
/// and a first confirmed one at once); answers whether the topic was new. A failure to record
/// is logged and changes nothing else.
async fn record_topic(state: &AppState, topic: &str, confirmed: bool) -> bool {
    if !state.core.topic_sighting_due(topic, confirmed) {
        return false;
    }
    match state.db.see_ipn_topic(&state.core.ipn_topic_scope(), topic, now(), confirmed).await {
        Ok(new) => new,
        Err(error) => {
            tracing::error!(%error, %topic, "could not record the SNS topic of a notification");
            false
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
        NotificationError::Refused(
            SnsError::UntrustedCertificate(_) | SnsError::UnknownIssuer | SnsError::CertificateNotValidNow,
        ) => (StatusCode::FORBIDDEN, "certificate_untrusted"),
        NotificationError::Refused(_) => (StatusCode::BAD_REQUEST, "notification_invalid"),
        NotificationError::ForeignMerchant(_) => (StatusCode::FORBIDDEN, "merchant_mismatch"),
        NotificationError::TopicMismatch => (StatusCode::BAD_REQUEST, "topic_mismatch"),
        NotificationError::CertificateUnavailable(why) => return unavailable("try_again_later", why),
    };
    tracing::warn!(%error, "notification refused");
    ApiError::client(status, code, error.to_string()).into_response()
}

/// 503: Amazon sends it again later. `busy` when the minute's reads of Amazon are used up.
fn unavailable(code: &'static str, why: &str) -> Response {
    tracing::warn!(why, "notification not acted on now");
    let body = crate::contract::ApiError {
        error: crate::contract::ApiErrorBody {
            code: code.into(),
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
