//! The ledger: every session, charge permission and charge, and the transitions between
//! their states.

use std::collections::HashMap;

use serde_json::Value;

use super::cards::{Outcome, decline_description};
use super::details::MerchantMetadata;
use super::objects::{
    Charge, ChargePermission, ChargeState, Environment, Intent, PermissionType, Processed, Reason, Session,
    SessionState,
};
use super::rules::{
    MAX_CHARGES_PER_ONE_TIME_PERMISSION, ONE_TIME_PERMISSION_LIFETIME, PERIODIC_AMOUNT_EXCEEDED_MESSAGE,
    RECURRING_MONTHLY_LIMIT_YEN, Rules, SESSION_RETENTION, add_months, bad, bool_member, jst_month, member, object,
    parse_price, string_member, unprocessable,
};
use crate::simulator::Simulator;
use crate::simulator::api::ApiFailure;

/// What a reused idempotency key answers.
struct Idempotent {
    body: Value,
    charge_id: String,
}

/// Everything the simulator's Amazon knows about payments.
#[derive(Default)]
pub(in crate::simulator) struct Ledger {
    sessions: HashMap<String, Session>,
    permissions: HashMap<String, ChargePermission>,
    charges: HashMap<String, Charge>,
    idempotency: HashMap<String, Idempotent>,
}

fn not_found(kind: &str, id: &str) -> ApiFailure {
    ApiFailure::new(axum::http::StatusCode::NOT_FOUND, "ResourceNotFound", format!("The {kind} '{id}' does not exist."))
}

impl Ledger {
    // -- sessions ------------------------------------------------------------------------------

    /// Stores a new session.
    pub(in crate::simulator) fn insert_session(&mut self, session: Session, now: u64) {
        self.sessions.retain(|_, s| now.saturating_sub(s.created) < SESSION_RETENTION);
        self.sessions.insert(session.id.clone(), session);
    }

    /// A session, settled at `now`.
    pub(in crate::simulator) fn session(&mut self, id: &str, now: u64) -> Result<&mut Session, ApiFailure> {
        let session = self
            .sessions
            .get_mut(id)
            .filter(|s| now.saturating_sub(s.created) < SESSION_RETENTION)
            .ok_or_else(|| not_found("Checkout Session", id))?;
        session.settle(now);
        Ok(session)
    }

    /// `PATCH checkoutSessions/{id}`.
    pub(in crate::simulator) fn update_session(
        &mut self,
        id: &str,
        body: &Value,
        rules: &Rules<'_>,
        now: u64,
    ) -> Result<&Session, ApiFailure> {
        let session = self.session(id, now)?;
        session.ensure_open("update")?;
        if session.processed.is_some() {
            return Err(unprocessable(
                "InvalidCheckoutSessionStatus",
                "The buyer has already been redirected to amazonPayRedirectUrl; the Checkout Session can only be completed now.",
            ));
        }
        session.details = session.details.updated(body, rules)?;
        session.updated = now;
        Ok(session)
    }

    /// The buyer at `amazonPayRedirectUrl`: authorizes with the chosen card. On success (or
    /// pending, or with `Confirm`) the session stays Open for completion; a decline cancels it.
    pub(in crate::simulator) fn process(&mut self, id: &str, now: u64) -> Result<&Session, ApiFailure> {
        let session = self.session(id, now)?;
        session.ensure_open("process")?;
        if session.processed.is_some() {
            return Ok(session);
        }
        if let Some((constraint, _)) = session.details.constraints().first() {
            return Err(unprocessable(
                "InvalidCheckoutSessionStatus",
                format!("The Checkout Session cannot be processed yet: {constraint}."),
            ));
        }
        let processed = match session.details.intent {
            Some(Intent::Confirm) | None => Processed::Confirmed,
            Some(_) => match session.card.authorize(session.details.can_handle_pending) {
                Outcome::Authorized => Processed::Authorized,
                Outcome::Pending => Processed::Pending,
                Outcome::Declined(code) => {
                    session.state = SessionState::Canceled;
                    session.reason = Some(Reason::new("Declined", format!("{code}: {}", decline_description(code))));
                    session.updated = now;
                    return Ok(session);
                }
            },
        };
        session.processed = Some(processed);
        session.updated = now;
        Ok(session)
    }

    /// `POST checkoutSessions/{id}/complete`: the charge permission and (unless `Confirm`) the
    /// charge. Answers whether the authorization is still pending (HTTP 202).
    pub(in crate::simulator) fn complete(
        &mut self,
        simulator: &Simulator,
        id: &str,
        body: &Value,
        now: u64,
    ) -> Result<(&Session, bool), ApiFailure> {
        let session = self.session(id, now)?;
        session.ensure_open("complete")?;
        let request = object(body, "", &["chargeAmount", "totalOrderAmount"], true)?;
        let amount = member(request, "chargeAmount")
            .ok_or_else(|| bad("MissingParameterValue", "chargeAmount is missing."))
            .and_then(|amount| parse_price(amount, "chargeAmount"))?;
        if let Some(total) = member(request, "totalOrderAmount") {
            parse_price(total, "totalOrderAmount")?;
        }
        let Some(processed) = session.processed else {
            return Err(unprocessable(
                "InvalidCheckoutSessionStatus",
                "The Checkout Session cannot be completed before the buyer has been redirected to amazonPayRedirectUrl.",
            ));
        };
        let expected = session.details.charge_amount.unwrap_or_default();
        if amount != expected {
            return Err(bad(
                "AmountMismatch",
                format!("chargeAmount {amount} JPY does not match the Checkout Session's chargeAmount {expected} JPY."),
            ));
        }
        let details = session.details.clone();
        let (environment, buyer, card, scopes) =
            (session.environment, session.buyer, session.card, session.scopes.clone());
        let address = session.product_type.ships().then_some(session.address);

        let permission_id = self.new_permission_id(simulator, environment);
        let (amount_limit, expires) = match details.permission_type {
            PermissionType::OneTime => {
                let expires =
                    if details.extend_expiration { add_months(now, 13) } else { now + ONE_TIME_PERMISSION_LIFETIME };
                (amount, Some(expires))
            }
            PermissionType::Recurring => (RECURRING_MONTHLY_LIMIT_YEN, None),
        };
        let mut permission = ChargePermission {
            id: permission_id.clone(),
            kind: details.permission_type,
            environment,
            buyer,
            address,
            card,
            scopes,
            amount_limit,
            recurring_metadata: details.recurring_metadata.clone(),
            merchant_metadata: details.merchant_metadata.clone(),
            platform_id: details.platform_id.clone(),
            created: now,
            expires,
            charges: Vec::new(),
        };
        let charge_id = match (details.intent, processed) {
            (Some(Intent::Confirm) | None, _) | (_, Processed::Confirmed) => None,
            (Some(intent), processed) => {
                let charge_id = self.new_charge_id(simulator, &permission_id);
                let mut charge = Charge {
                    id: charge_id.clone(),
                    permission_id: permission_id.clone(),
                    environment,
                    amount,
                    captured: None,
                    capture_now: intent == Intent::AuthorizeWithCapture,
                    can_handle_pending: details.can_handle_pending,
                    merchant_metadata: Some(details.merchant_metadata.clone()),
                    state: ChargeState::Authorized,
                    reason: None,
                    created: now,
                    updated: now,
                };
                let outcome = if processed == Processed::Pending { Outcome::Pending } else { Outcome::Authorized };
                charge.apply(outcome, now);
                permission.charges.push(charge_id.clone());
                self.charges.insert(charge_id.clone(), charge);
                Some(charge_id)
            }
        };
        self.permissions.insert(permission_id.clone(), permission);
        let session = self.sessions.get_mut(id).expect("the session was found above");
        session.state = SessionState::Completed;
        session.reason = None;
        session.updated = now;
        session.charge_permission_id = Some(permission_id);
        session.charge_id = charge_id;
        Ok((session, processed == Processed::Pending))
    }

    // -- charge permissions and charges ----------------------------------------------------------

    pub(in crate::simulator) fn permission(&self, id: &str) -> Result<&ChargePermission, ApiFailure> {
        self.permissions.get(id).ok_or_else(|| not_found("Charge Permission", id))
    }

    pub(in crate::simulator) fn permission_mut(&mut self, id: &str) -> Result<&mut ChargePermission, ApiFailure> {
        self.permissions.get_mut(id).ok_or_else(|| not_found("Charge Permission", id))
    }

    /// A charge, settled at `now`.
    pub(in crate::simulator) fn charge(&mut self, id: &str, now: u64) -> Result<&Charge, ApiFailure> {
        let charge = self.charges.get_mut(id).ok_or_else(|| not_found("Charge", id))?;
        charge.settle(now);
        Ok(charge)
    }

    /// Test control: decides a pending authorization.
    pub(in crate::simulator) fn resolve_pending(
        &mut self,
        id: &str,
        outcome: Outcome,
        now: u64,
    ) -> Result<(), ApiFailure> {
        let charge = self.charges.get_mut(id).ok_or_else(|| not_found("Charge", id))?;
        if charge.state != ChargeState::AuthorizationInitiated {
            return Err(ApiFailure::new(
                axum::http::StatusCode::CONFLICT,
                "InvalidChargeStatus",
                format!("The Charge is {}, not AuthorizationInitiated.", charge.state.name()),
            ));
        }
        charge.apply(outcome, now);
        Ok(())
    }

    /// The sum of this Japanese calendar month's non-declined charges on a permission.
    fn charged_this_month(&self, permission: &ChargePermission, now: u64) -> u64 {
        let month = jst_month(now);
        permission
            .charges
            .iter()
            .filter_map(|id| self.charges.get(id))
            .filter(|c| c.state != ChargeState::Declined && jst_month(c.created) == month)
            .map(|c| c.amount)
            .sum()
    }

    /// What a one-time permission's open and captured charges have used.
    fn charged_in_total(&self, permission: &ChargePermission) -> u64 {
        permission
            .charges
            .iter()
            .filter_map(|id| self.charges.get(id))
            .filter(|c| !matches!(c.state, ChargeState::Declined | ChargeState::Canceled))
            .map(|c| c.captured.unwrap_or(c.amount))
            .sum()
    }

    /// `limits.amountBalance`.
    pub(super) fn balance(&self, permission: &ChargePermission, now: u64) -> u64 {
        let used = match permission.kind {
            PermissionType::OneTime => self.charged_in_total(permission),
            PermissionType::Recurring => self.charged_this_month(permission, now),
        };
        permission.amount_limit.saturating_sub(used)
    }

    /// `POST charges`. `key` is the idempotency key, `body` the parsed request.
    pub(in crate::simulator) fn create_charge(
        &mut self,
        simulator: &Simulator,
        key: &str,
        body: &Value,
        now: u64,
    ) -> Result<String, ApiFailure> {
        if let Some(previous) = self.idempotency.get(key) {
            if previous.body == *body {
                return Ok(previous.charge_id.clone());
            }
            return Err(bad(
                "DuplicateIdempotencyKey",
                "The idempotency key was already used for a different request and cannot be reused.",
            ));
        }
        let request = object(
            body,
            "",
            &[
                "chargePermissionId",
                "chargeAmount",
                "captureNow",
                "softDescriptor",
                "canHandlePendingAuthorization",
                "merchantMetadata",
                "providerMetadata",
                "platformId",
                "chargeInitiator",
                "channel",
                "webCheckoutDetails",
            ],
            true,
        )?;
        let permission_id = string_member(request, "chargePermissionId", "")?
            .ok_or_else(|| bad("MissingParameterValue", "chargePermissionId is missing."))?;
        let amount = member(request, "chargeAmount")
            .ok_or_else(|| bad("MissingParameterValue", "chargeAmount is missing."))
            .and_then(|amount| parse_price(amount, "chargeAmount"))?;
        let capture_now = bool_member(request, "captureNow", "")?.unwrap_or(false);
        let can_handle_pending = bool_member(request, "canHandlePendingAuthorization", "")?.unwrap_or(false);
        string_member(request, "softDescriptor", "")?;
        let merchant_metadata = member(request, "merchantMetadata").map(MerchantMetadata::parse).transpose()?;

        let permission = self.permission(&permission_id)?;
        if let Some(closed) = permission_closed(permission, now) {
            return Err(unprocessable(
                "InvalidChargePermissionStatus",
                format!("The Charge Permission is Closed ({}); no charges can be created.", closed.code),
            ));
        }
        match permission.kind {
            PermissionType::Recurring => {
                if self.charged_this_month(permission, now) + amount > RECURRING_MONTHLY_LIMIT_YEN {
                    return Err(bad("PeriodicAmountExceeded", PERIODIC_AMOUNT_EXCEEDED_MESSAGE));
                }
            }
            PermissionType::OneTime => {
                if permission.charges.len() >= MAX_CHARGES_PER_ONE_TIME_PERMISSION {
                    return Err(bad(
                        "TransactionCountExceeded",
                        "You've reached the maximum of 25 Charges for this Charge Permission.",
                    ));
                }
                let balance = self.balance(permission, now);
                if amount > balance {
                    return Err(bad(
                        "TransactionAmountExceeded",
                        format!(
                            "chargeAmount {amount} JPY exceeds the Charge Permission's remaining balance of {balance} JPY."
                        ),
                    ));
                }
            }
        }
        let (environment, card) = (permission.environment, permission.card);
        let charge_id = self.new_charge_id(simulator, &permission_id);
        let mut charge = Charge {
            id: charge_id.clone(),
            permission_id: permission_id.clone(),
            environment,
            amount,
            captured: None,
            capture_now,
            can_handle_pending,
            merchant_metadata,
            state: ChargeState::Authorized,
            reason: None,
            created: now,
            updated: now,
        };
        charge.apply(card.authorize(can_handle_pending), now);
        self.charges.insert(charge_id.clone(), charge);
        self.permission_mut(&permission_id)?.charges.push(charge_id.clone());
        self.idempotency.insert(key.to_owned(), Idempotent { body: body.clone(), charge_id: charge_id.clone() });
        Ok(charge_id)
    }

    // -- IDs ----------------------------------------------------------------------------------

    /// `S03-1234567-1234567`.
    fn new_permission_id(&self, simulator: &Simulator, environment: Environment) -> String {
        loop {
            let id = format!("{}03-{}-{}", environment.id_prefix(), digits(simulator, 7), digits(simulator, 7));
            if !self.permissions.contains_key(&id) {
                return id;
            }
        }
    }

    /// `S03-1234567-1234567-C123456`.
    fn new_charge_id(&self, simulator: &Simulator, permission_id: &str) -> String {
        loop {
            let id = format!("{permission_id}-C{}", digits(simulator, 6));
            if !self.charges.contains_key(&id) {
                return id;
            }
        }
    }
}

/// Why a permission is Closed at `now`, if it is.
pub(super) fn permission_closed(permission: &ChargePermission, now: u64) -> Option<Reason> {
    permission
        .expires
        .is_some_and(|expires| now >= expires)
        .then(|| Reason::new("Expired", "The Charge Permission expired."))
}

/// `n` random decimal digits.
fn digits(simulator: &Simulator, n: usize) -> String {
    simulator.random_bytes::<8>().iter().cycle().take(n).map(|b| char::from(b'0' + b % 10)).collect()
}
