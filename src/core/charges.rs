//! Creating a charge on a charge permission (a subscription cycle, a re-authorization), with
//! Amazon's answers as Amazon gives them.
//!
//! Amazon answers createCharge with 201 and the charge when the authorization succeeded or was
//! initiated; a decline is an error answer with its reason code ("If Create Charge returns a
//! different HTTP status code, check the request response reasonCode to determine if you should
//! retry Create Charge or ask your buyer to use a different payment method", Amazon's guide to
//! charging a saved payment method): `HardDeclined`, `PaymentMethodNotAllowed`,
//! `TransactionTimedOut`, `MFANotCompleted`, `AmazonRejected` ask for another payment method;
//! for `SoftDeclined` and `ProcessingFailure` Amazon's Japanese guide (deferred transactions) says
//! to read the charge permission and, while it is `Chargeable`, try again. That one retry is a new
//! operation with a key of its own (the first key's answer is saved at Amazon: asking again with
//! it would only get the same decline).
//!
//! `DuplicateIdempotencyKey` is no decline: Amazon already holds another request under the key
//! (made from a database since restored from a backup, say), and may hold a charge made by it.
//! It is its own answer ([`Charged::HeldAtAmazon`]), so that no caller takes it for a decline and
//! asks again with a new key, which could authorize the buyer's money twice.

use serde_json::Value;

use super::idempotency::Keyed;
use super::{AmazonError, Core, CoreError};
use crate::amazon::types::{Charge, ChargePermissionState};

/// The reason codes after which Amazon allows one more try on a chargeable permission.
const RETRY_AFTER: [&str; 2] = ["SoftDeclined", "ProcessingFailure"];

/// Amazon's answer to a key it holds for another request.
pub(super) const DUPLICATE_KEY: &str = "DuplicateIdempotencyKey";

/// How a createCharge ended.
#[derive(Debug)]
pub(super) enum Charged {
    /// Amazon made the charge (authorized, or authorizing).
    Made(Box<Charge>),
    /// Amazon already holds another request under this key (`DuplicateIdempotencyKey`, with
    /// Amazon's message): a charge may have been made by it. Never to be asked again under a new
    /// key.
    HeldAtAmazon(String),
    /// Amazon declined or refused it: its reason code and message.
    Refused {
        /// Amazon's reason code.
        reason_code: String,
        /// Amazon's message.
        message: String,
    },
    /// Amazon could not be asked (its answer is unknown): the same key asks again later.
    Unreachable(AmazonError),
}

impl Core {
    /// `POST charges` with `body`, keyed `key(attempt)`, retried once with attempt 2 when Amazon
    /// declined softly and the charge permission is still chargeable.
    pub(super) async fn create_charge_once_more<'k>(
        &self,
        body: &Value,
        key: impl Fn(u32) -> Keyed<'k>,
    ) -> Result<Charged, CoreError> {
        let mut attempt = 1;
        loop {
            let idempotency_key = self.idempotency_key(&key(attempt)).await?;
            let error = match self.amazon().create_charge(body, idempotency_key.as_str()).await {
                Ok(charge) => return Ok(Charged::Made(Box::new(charge))),
                Err(error) => error,
            };
            let AmazonError::Rejected { reason_code, message, .. } = error else {
                return Ok(Charged::Unreachable(error));
            };
            if reason_code == DUPLICATE_KEY {
                return Ok(Charged::HeldAtAmazon(message));
            }
            let permission = body.get("chargePermissionId").and_then(Value::as_str).unwrap_or_default();
            if attempt == 1 && RETRY_AFTER.contains(&reason_code.as_str()) && self.chargeable(permission).await {
                tracing::info!(%reason_code, charge_permission = permission, "createCharge declined softly; trying once more");
                attempt += 1;
                continue;
            }
            return Ok(Charged::Refused { reason_code, message });
        }
    }

    /// Whether Amazon says the charge permission can be charged now (unreadable: no).
    async fn chargeable(&self, charge_permission_id: &str) -> bool {
        match self.amazon().get_charge_permission(charge_permission_id).await {
            Ok(permission) => permission.status_details.state == ChargePermissionState::Chargeable,
            Err(error) => {
                tracing::warn!(%error, "the charge permission could not be read; no retry");
                false
            }
        }
    }
}
