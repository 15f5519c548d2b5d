//! After the order: what the merchant does to charges, refunds and charge permissions (through
//! the API or in Seller Central), with Amazon's rules in Japan.
//!
//! - Capture: only an `Authorized` charge, once; at most its authorized amount, down to ¥1 (a
//!   smaller capture is how a Japanese merchant reduces an order, 減額). More than 7 days after
//!   the authorization Amazon captures asynchronously (`CaptureInitiated`, then `Captured`).
//! - Cancel: an `Authorized` or `AuthorizationInitiated` charge becomes `Canceled`
//!   (`MerchantCanceled`).
//! - Refund: only a `Captured` charge; all its refunds together at most the captured amount
//!   plus 15 % of it or ¥8,400, whichever is less; at most ¥10,000,000 each; asynchronous
//!   (`RefundInitiated`, then `Refunded` or `Declined`); no time limit.
//! - Charge permissions: `merchantMetadata` and (Recurring) `recurringMetadata` can be updated;
//!   closing makes it `Closed` (`MerchantClosed`) and, with `cancelPendingCharges`, cancels its
//!   open authorizations.

use serde_json::Value;

use super::details::recurring_metadata;
use super::ledger::{ChangedObject, Ledger, not_found};
use super::objects::{ChargeState, Closure, PendingCapture, PermissionType, Reason, Refund, RefundState};
use super::rules::{
    MAX_REASON_LENGTH, SYNCHRONOUS_CAPTURE_WINDOW, bad, bool_member, invalid, member, object, parse_price,
    refund_ceiling, string_member, unprocessable,
};
use crate::simulator::Simulator;
use crate::simulator::api::ApiFailure;

/// What a settlement control decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Settlement {
    /// `Captured` / `Refunded`.
    Done,
    /// `Declined`.
    Declined,
}

fn invalid_charge_status(doing: &str, state: ChargeState, allowed: &str) -> ApiFailure {
    unprocessable(
        "InvalidChargeStatus",
        format!("You tried to {doing} a Charge in state {}; this requires state {allowed}.", state.name()),
    )
}

fn free_text(map: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, ApiFailure> {
    let text = string_member(map, key, "")?;
    if let Some(text) = &text
        && text.chars().count() > MAX_REASON_LENGTH
    {
        return Err(invalid(format!("{key} is longer than {MAX_REASON_LENGTH} characters.")));
    }
    Ok(text)
}

impl Ledger {
    /// `POST charges/{id}/capture` (through the API or Seller Central).
    pub(in crate::simulator) fn capture(
        &mut self,
        charge_id: &str,
        body: &Value,
        now: u64,
    ) -> Result<Value, ApiFailure> {
        let map = object(body, "", &["captureAmount", "softDescriptor"], true)?;
        let amount = member(map, "captureAmount")
            .ok_or_else(|| bad("MissingParameterValue", "captureAmount is missing."))
            .and_then(|amount| parse_price(amount, "captureAmount"))?;
        // softDescriptor: not available in Japan, where Amazon shows a fixed value.
        string_member(map, "softDescriptor", "")?;
        let charge = self.charges.get_mut(charge_id).ok_or_else(|| not_found("Charge", charge_id))?;
        if charge.state != ChargeState::Authorized {
            // Captured or CaptureInitiated included: a charge is captured once. (Amazon does not
            // say whether one charge can be captured twice; its Japanese guides capture the rest
            // of an order with a new charge, and so must a shop here.)
            return Err(invalid_charge_status("capture", charge.state, "Authorized"));
        }
        if amount > charge.amount {
            return Err(bad(
                "TransactionAmountExceeded",
                format!("captureAmount {amount} JPY exceeds the Charge's authorized amount of {} JPY.", charge.amount),
            ));
        }
        let authorized = charge.authorized_at.unwrap_or(charge.created);
        if now.saturating_sub(authorized) > SYNCHRONOUS_CAPTURE_WINDOW {
            charge.state = ChargeState::CaptureInitiated;
            charge.pending_capture = Some(PendingCapture { amount, requested: now });
        } else {
            charge.state = ChargeState::Captured;
            charge.captured = Some(amount);
        }
        charge.reason = None;
        charge.updated = now;
        let permission_id = charge.permission_id.clone();
        self.changed(ChangedObject::Charge, charge_id, &permission_id);
        self.close_if_fully_captured(&permission_id, now);
        Ok(self.charge_json(self.charge(charge_id)?))
    }

    /// Completes a `CaptureInitiated` charge (the clock, or the settlement control).
    pub(super) fn finish_capture(&mut self, charge_id: &str, outcome: Settlement, at: u64) -> Result<(), ApiFailure> {
        let charge = self.charges.get_mut(charge_id).ok_or_else(|| not_found("Charge", charge_id))?;
        let Some(pending) = charge.pending_capture.filter(|_| charge.state == ChargeState::CaptureInitiated) else {
            return Err(ApiFailure::new(
                axum::http::StatusCode::CONFLICT,
                "InvalidChargeStatus",
                format!("The Charge is {}, not CaptureInitiated.", charge.state.name()),
            ));
        };
        charge.pending_capture = None;
        charge.updated = at;
        match outcome {
            Settlement::Done => {
                charge.state = ChargeState::Captured;
                charge.captured = Some(pending.amount);
                charge.reason = None;
            }
            Settlement::Declined => {
                charge.state = ChargeState::Declined;
                charge.reason = Some(Reason::new("ProcessingFailure", "Amazon could not process the capture."));
            }
        }
        let permission_id = charge.permission_id.clone();
        self.changed(ChangedObject::Charge, charge_id, &permission_id);
        self.close_if_fully_captured(&permission_id, at);
        Ok(())
    }

    /// `DELETE charges/{id}/cancel`: an open authorization is `Canceled` with `reason_code`
    /// (`MerchantCanceled` for the merchant, through the API or Seller Central).
    pub(in crate::simulator) fn cancel_charge(
        &mut self,
        charge_id: &str,
        body: &Value,
        reason_code: &'static str,
        now: u64,
    ) -> Result<Value, ApiFailure> {
        let map = object(body, "", &["cancellationReason"], true)?;
        let why = free_text(map, "cancellationReason")?;
        let charge = self.charges.get_mut(charge_id).ok_or_else(|| not_found("Charge", charge_id))?;
        if !matches!(charge.state, ChargeState::Authorized | ChargeState::AuthorizationInitiated) {
            return Err(invalid_charge_status("cancel", charge.state, "Authorized or AuthorizationInitiated"));
        }
        charge.state = ChargeState::Canceled;
        charge.reason =
            Some(Reason::new(reason_code, why.unwrap_or_else(|| "The merchant canceled the Charge.".into())));
        charge.updated = now;
        let permission_id = charge.permission_id.clone();
        self.changed(ChangedObject::Charge, charge_id, &permission_id);
        Ok(self.charge_json(self.charge(charge_id)?))
    }

    /// `POST refunds`: a `RefundInitiated` refund of a `Captured` charge (answered 201).
    pub(in crate::simulator) fn create_refund(
        &mut self,
        simulator: &Simulator,
        body: &Value,
        now: u64,
    ) -> Result<Value, ApiFailure> {
        let map = object(body, "", &["chargeId", "refundAmount", "softDescriptor"], true)?;
        let charge_id =
            string_member(map, "chargeId", "")?.ok_or_else(|| bad("MissingParameterValue", "chargeId is missing."))?;
        let amount = member(map, "refundAmount")
            .ok_or_else(|| bad("MissingParameterValue", "refundAmount is missing."))
            .and_then(|amount| parse_price(amount, "refundAmount"))?;
        // softDescriptor: not available in Japan, where Amazon shows a fixed value.
        string_member(map, "softDescriptor", "")?;
        let charge = self.charge(&charge_id)?;
        let captured = match (charge.state, charge.captured) {
            (ChargeState::Captured, Some(captured)) => captured,
            (state, _) => return Err(invalid_charge_status("refund", state, "Captured")),
        };
        let refunded: u64 = charge
            .refunds
            .iter()
            .filter_map(|id| self.refunds.get(id))
            .filter(|r| r.state != RefundState::Declined)
            .map(|r| r.amount)
            .sum();
        let ceiling = refund_ceiling(captured);
        if refunded + amount > ceiling {
            return Err(bad(
                "TransactionAmountExceeded",
                format!(
                    "refundAmount {amount} JPY would bring this Charge's refunds to {} JPY, above the {ceiling} JPY allowed (the captured {captured} JPY plus 15 % or 8,400 JPY, whichever is less).",
                    refunded + amount
                ),
            ));
        }
        let (permission_id, environment) = (charge.permission_id.clone(), charge.environment);
        let id = self.new_refund_id(simulator, &permission_id);
        self.refunds.insert(
            id.clone(),
            Refund {
                id: id.clone(),
                charge_id: charge_id.clone(),
                permission_id: permission_id.clone(),
                environment,
                amount,
                state: RefundState::RefundInitiated,
                reason: None,
                created: now,
                updated: now,
            },
        );
        if let Some(charge) = self.charges.get_mut(&charge_id) {
            charge.refunds.push(id.clone());
        }
        self.changed(ChangedObject::Refund, &id, &permission_id);
        Ok(self.refund_json(self.refund(&id)?))
    }

    /// What is left to refund of a charge's captured amount (Seller Central's default refund).
    pub(in crate::simulator) fn refundable(&self, charge_id: &str) -> Result<u64, ApiFailure> {
        let charge = self.charge(charge_id)?;
        let captured = match (charge.state, charge.captured) {
            (ChargeState::Captured, Some(captured)) => captured,
            (state, _) => return Err(invalid_charge_status("refund", state, "Captured")),
        };
        let refunded: u64 = charge
            .refunds
            .iter()
            .filter_map(|id| self.refunds.get(id))
            .filter(|r| r.state != RefundState::Declined)
            .map(|r| r.amount)
            .sum();
        match captured.saturating_sub(refunded) {
            0 => Err(bad("TransactionAmountExceeded", "The captured amount of this Charge has been refunded in full.")),
            left => Ok(left),
        }
    }

    /// Completes a `RefundInitiated` refund (the clock, or the settlement control).
    pub(super) fn finish_refund(&mut self, refund_id: &str, outcome: Settlement, at: u64) -> Result<(), ApiFailure> {
        let refund = self.refunds.get_mut(refund_id).ok_or_else(|| not_found("Refund", refund_id))?;
        if refund.state != RefundState::RefundInitiated {
            return Err(ApiFailure::new(
                axum::http::StatusCode::CONFLICT,
                "InvalidRefundStatus",
                format!("The Refund is {}, not RefundInitiated.", refund.state.name()),
            ));
        }
        refund.updated = at;
        match outcome {
            Settlement::Done => refund.state = RefundState::Refunded,
            Settlement::Declined => {
                refund.state = RefundState::Declined;
                refund.reason = Some(Reason::new("AmazonRejected", "Amazon declined the refund."));
            }
        }
        let permission_id = refund.permission_id.clone();
        self.changed(ChangedObject::Refund, refund_id, &permission_id);
        Ok(())
    }

    /// Test control: decides a capture in progress.
    pub(in crate::simulator) fn settle_capture(
        &mut self,
        charge_id: &str,
        outcome: Settlement,
        now: u64,
    ) -> Result<(), ApiFailure> {
        self.finish_capture(charge_id, outcome, now)
    }

    /// Test control: decides a refund in progress.
    pub(in crate::simulator) fn settle_refund(
        &mut self,
        refund_id: &str,
        outcome: Settlement,
        now: u64,
    ) -> Result<(), ApiFailure> {
        self.finish_refund(refund_id, outcome, now)
    }

    /// Test control: every capture and refund in progress succeeds now. Answers how many of each.
    pub(in crate::simulator) fn settle_all(&mut self, now: u64) -> (usize, usize) {
        let mut captures: Vec<String> =
            self.charges.values().filter(|c| c.state == ChargeState::CaptureInitiated).map(|c| c.id.clone()).collect();
        let mut refunds: Vec<String> =
            self.refunds.values().filter(|r| r.state == RefundState::RefundInitiated).map(|r| r.id.clone()).collect();
        // In the order they were requested, so notifications come in that order too.
        captures.sort_by_key(|id| self.charges.get(id).map(|c| c.updated));
        refunds.sort_by_key(|id| self.refunds.get(id).map(|r| (r.created, r.id.clone())));
        for id in &captures {
            let _ = self.finish_capture(id, Settlement::Done, now);
        }
        for id in &refunds {
            let _ = self.finish_refund(id, Settlement::Done, now);
        }
        (captures.len(), refunds.len())
    }

    /// `PATCH chargePermissions/{id}`: `merchantMetadata` and, on a Recurring permission,
    /// `recurringMetadata`. Nothing changes unless all of it is valid.
    pub(in crate::simulator) fn update_permission(
        &mut self,
        id: &str,
        body: &Value,
        now: u64,
    ) -> Result<(), ApiFailure> {
        let map = object(body, "", &["merchantMetadata", "recurringMetadata"], true)?;
        let permission = self.permission(id)?;
        if let Some(closed) = &permission.closed {
            return Err(unprocessable(
                "InvalidChargePermissionStatus",
                format!("The Charge Permission is Closed ({}); it cannot be updated.", closed.reason.code),
            ));
        }
        let metadata = member(map, "merchantMetadata")
            .map(|value| permission.merchant_metadata.updated(value, true))
            .transpose()?;
        let recurring = match member(map, "recurringMetadata") {
            None => None,
            Some(_) if permission.kind != PermissionType::Recurring => {
                return Err(bad(
                    "InvalidParameterCombination",
                    "recurringMetadata can only be set on a Recurring Charge Permission.",
                ));
            }
            Some(value) => Some(recurring_metadata(value, true)?),
        };
        let permission = self.permission_mut(id)?;
        if let Some(metadata) = metadata {
            permission.merchant_metadata = metadata;
        }
        if let Some(recurring) = recurring {
            permission.recurring_metadata = Some(recurring);
        }
        permission.updated = now;
        Ok(())
    }

    /// `DELETE chargePermissions/{id}/close`: `Closed` (`MerchantClosed`, with the
    /// `closureReason`); with `cancelPendingCharges`, its open authorizations are canceled
    /// (`ChargePermissionCanceled`), otherwise they can still be captured.
    pub(in crate::simulator) fn close_permission(
        &mut self,
        id: &str,
        body: &Value,
        now: u64,
    ) -> Result<(), ApiFailure> {
        let map = object(body, "", &["closureReason", "cancelPendingCharges"], true)?;
        let why = free_text(map, "closureReason")?
            .ok_or_else(|| bad("MissingParameterValue", "closureReason is missing."))?;
        let cancel_pending = bool_member(map, "cancelPendingCharges", "")?.unwrap_or(false);
        let permission = self.permission_mut(id)?;
        if let Some(closed) = &permission.closed {
            return Err(unprocessable(
                "InvalidChargePermissionStatus",
                format!("The Charge Permission is already Closed ({}).", closed.reason.code),
            ));
        }
        permission.closed = Some(Closure { reason: Reason::new("MerchantClosed", why), at: now });
        permission.updated = now;
        let charges = permission.charges.clone();
        self.changed(ChangedObject::ChargePermission, id, id);
        if cancel_pending {
            for charge_id in charges {
                let Some(charge) = self.charges.get_mut(&charge_id) else {
                    continue;
                };
                if matches!(charge.state, ChargeState::Authorized | ChargeState::AuthorizationInitiated) {
                    charge.state = ChargeState::Canceled;
                    charge.reason = Some(Reason::new(
                        "ChargePermissionCanceled",
                        "The Charge was canceled because its Charge Permission was closed.",
                    ));
                    charge.updated = now;
                    self.changed(ChangedObject::Charge, &charge_id, id);
                }
            }
        }
        Ok(())
    }
}
