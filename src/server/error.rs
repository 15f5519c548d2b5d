//! The server's one error type, turned into the API's JSON error (`{"error":{"code","message"}}`)
//! at the edge.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::contract;
use crate::core::platform::PlatformError;
use crate::core::random::NoRandomness;
use crate::core::signer::SignError;
use crate::core::{AmazonError, CoreError};
use crate::server::logins::LoginError;
use crate::storage::StorageError;

/// Everything an API handler can answer besides success.
#[derive(Debug)]
pub enum ApiError {
    /// The client sent something wrong.
    Client {
        /// 4xx status.
        status: StatusCode,
        /// Stable `snake_case` code.
        code: &'static str,
        /// A sentence for people.
        message: String,
    },
    /// Our fault; logged with detail, answered without it.
    Internal(String),
}

impl ApiError {
    /// Any 4xx, with a code and a sentence.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client { status, code, message: message.into() }
    }

    /// A 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }

    /// A 403: the request came from somewhere it must not, or without its CSRF token.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::Client { status, code, message } => (status, code, message),
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "Something went wrong on the server; please try again.".to_owned(),
                )
            }
        };
        let body = contract::ApiError { error: contract::ApiErrorBody { code: code.to_owned(), message } };
        (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
    }
}

impl ApiError {
    /// A 503: the database cannot be reached right now; the same request may work in a moment.
    fn database_unavailable(detail: &str) -> Self {
        tracing::warn!(%detail, "database unavailable");
        Self::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "The shop's database cannot be reached right now; please try again in a moment.",
        )
    }
}

impl ApiError {
    /// A 503: the system's random source failed, so no token or ID can be made now.
    fn no_randomness() -> Self {
        tracing::error!("the system's random source failed");
        Self::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "random_source_unavailable",
            "The server cannot make a secure token right now; please try again in a moment.",
        )
    }
}

impl ApiError {
    /// The shop's Amazon Pay keys are not set up yet: there is no button to show.
    pub fn not_set_up() -> Self {
        Self::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "amazon_pay_not_set_up",
            "Amazon Pay is not set up for this shop yet.",
        )
    }
}

impl From<NoRandomness> for ApiError {
    fn from(_: NoRandomness) -> Self {
        Self::no_randomness()
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        if matches!(error, StorageError::Random(_)) {
            return Self::no_randomness();
        }
        if error.is_unavailable() {
            return Self::database_unavailable(&error.to_string());
        }
        Self::Internal(error.to_string())
    }
}

impl From<PlatformError> for ApiError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::Unavailable(detail) => Self::database_unavailable(&detail),
            PlatformError::Failed(_) => Self::Internal(error.to_string()),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Storage(error) => error.into(),
            LoginError::Check(why) => Self::Internal(format!("password check: {why}")),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::Amazon(AmazonError::NotSetUp) | CoreError::Signing(SignError::NotSetUp) => Self::not_set_up(),
            CoreError::Amazon(AmazonError::Rejected { status, reason_code, message }) if status < 500 => {
                tracing::warn!(%reason_code, %message, "Amazon Pay refused the call");
                Self::client(StatusCode::CONFLICT, "amazon_refused", format!("{reason_code}: {message}"))
            }
            CoreError::Amazon(error) => {
                tracing::error!(%error, "Amazon Pay call failed");
                Self::client(
                    StatusCode::BAD_GATEWAY,
                    "amazon_unavailable",
                    "Amazon Pay could not be reached; please try again.",
                )
            }
            CoreError::Platform(error) => error.into(),
            CoreError::Random(_) => Self::no_randomness(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Self::bad_request("invalid_request", e.body_text()),
            JsonRejection::JsonSyntaxError(e) => Self::bad_request("malformed_json", e.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the request body as application/json.",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than the API accepts.",
            ),
            other => Self::bad_request("unreadable_body", other.body_text()),
        }
    }
}
