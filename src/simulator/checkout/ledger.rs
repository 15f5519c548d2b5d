//! The ledger: every session, charge permission, charge and refund, and the transitions between
//! their states. Each state a charge, refund or charge permission enters is recorded as a
//! [`Change`], which the simulator turns into an IPN.

use std::collections::HashMap;

use serde_json::Value;

use super::cards::{Card, Outcome, decline_description, declined};
use super::details::{Details, MerchantMetadata};
use super::objects::{
    Charge, ChargePermission, ChargeState, Closure, Environment, Intent, Owner, PermissionType, Processed, ProductType,
    Reason, Refund, Session, SessionState,
};
use super::rules::{
    MAX_CHARGES_PER_ONE_TIME_PERMISSION, ONE_TIME_PERMISSION_LIFETIME, PERIODIC_AMOUNT_EXCEEDED_MESSAGE,
    RECURRING_MONTHLY_LIMIT_YEN, Rules, SESSION_RETENTION, add_months, bad, bool_member, jst_month, member, object,
    parse_price, string_member, unprocessable,
};
use crate::simulator::Simulator;
use crate::simulator::api::ApiFailure;
use crate::simulator::merchants::Merchant;

/// The kind of object a [`Change`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum ChangedObject {
    Charge,
    Refund,
    ChargePermission,
    /// A buyer's chargeback (dispute) of a charge.
    Chargeback,
}

/// What changed: the IPN's `NotificationType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum ChangeKind {
    /// `STATE_CHANGE`: the object entered a state (a new object its first).
    State,
    /// `ATTRIBUTE_CHANGE`: the object changed without changing state.
    Attribute,
}

/// A change of an object, to be notified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::simulator) struct Change {
    /// The merchant the object belongs to: the one notified.
    pub merchant_id: String,
    pub object: ChangedObject,
    pub kind: ChangeKind,
    pub id: String,
    pub permission_id: String,
}

/// Everything the simulator's Amazon knows about payments.
#[derive(Default)]
pub(in crate::simulator) struct Ledger {
    pub(super) sessions: HashMap<String, Session>,
    pub(super) permissions: HashMap<String, ChargePermission>,
    pub(super) charges: HashMap<String, Charge>,
    pub(super) refunds: HashMap<String, Refund>,
    changes: Vec<Change>,
}

/// Amazon's `AmountMismatch` (409).
fn amount_mismatch(message: String) -> ApiFailure {
    ApiFailure::new(axum::http::StatusCode::CONFLICT, "AmountMismatch", message)
}

pub(super) fn not_found(kind: &str, id: &str) -> ApiFailure {
    ApiFailure::new(axum::http::StatusCode::NOT_FOUND, "ResourceNotFound", format!("The {kind} '{id}' does not exist."))
}

impl Ledger {
    /// Whether Amazon holds nothing yet: no checkout session, charge permission, charge or
    /// refund.
    pub(in crate::simulator) fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.permissions.is_empty() && self.charges.is_empty() && self.refunds.is_empty()
    }

    // -- changes and idempotency ----------------------------------------------------------------

    /// Records that an object entered a state.
    pub(super) fn changed(&mut self, object: ChangedObject, id: &str, permission_id: &str) {
        self.record(object, ChangeKind::State, id, permission_id);
    }

    /// Records that an object changed without changing state, or any change of its `kind`.
    pub(in crate::simulator) fn record(
        &mut self,
        object: ChangedObject,
        kind: ChangeKind,
        id: &str,
        permission_id: &str,
    ) {
        // Every change is of a charge permission or of something under one.
        let merchant_id = self.permissions.get(permission_id).map(|p| p.owner.merchant_id.clone()).unwrap_or_default();
        self.changes.push(Change {
            merchant_id,
            object,
            kind,
            id: id.to_owned(),
            permission_id: permission_id.to_owned(),
        });
    }

    /// The changes since the last call, oldest first.
    pub(in crate::simulator) fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    // -- owners ------------------------------------------------------------------------------

    /// The owner of the session, charge permission, charge or refund `id` names (their IDs
    /// never look alike), if there is one.
    pub(in crate::simulator) fn owner_of(&self, id: &str) -> Option<&Owner> {
        if let Some(session) = self.sessions.get(id) {
            return Some(&session.owner);
        }
        let permission_id = match (self.charges.get(id), self.refunds.get(id)) {
            (Some(charge), _) => &charge.permission_id,
            (None, Some(refund)) => &refund.permission_id,
            (None, None) => id,
        };
        self.permissions.get(permission_id).map(|permission| &permission.owner)
    }

    /// Refuses a merchant an object of another merchant exactly as an object that does not exist
    /// (404 `ResourceNotFound`). What Amazon answers a merchant who names another merchant's
    /// object is not documented; answering as for an unknown ID is the documented code that
    /// fits, and tells the caller nothing about the other merchant. `kind` names the object
    /// as the not-found message does (`Charge`, `Checkout Session`, …).
    pub(in crate::simulator) fn ensure_visible(
        &self,
        merchant_id: &str,
        kind: &str,
        id: &str,
    ) -> Result<(), ApiFailure> {
        match self.owner_of(id) {
            Some(owner) if owner.merchant_id != merchant_id => Err(not_found(kind, id)),
            _ => Ok(()),
        }
    }

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

    /// `POST checkoutSessions`: a session made from the create payload (the same payload a button
    /// carries), without a buyer until the buyer signs in on Amazon's page.
    pub(in crate::simulator) fn create_session(
        &mut self,
        simulator: &Simulator,
        merchant: &Merchant,
        body: &Value,
        environment: Environment,
        now: u64,
    ) -> Result<String, ApiFailure> {
        let draft = CreatePayload::parse(body, merchant, environment == Environment::Live)?;
        let id = simulator.checkout_session_id();
        let session = Session::without_buyer(
            id.clone(),
            draft.owner,
            draft.details,
            draft.product_type,
            environment,
            draft.scopes,
            now,
        );
        self.insert_session(session, now);
        Ok(id)
    }

    /// The buyer chose an account (also their address) and a card on Amazon's page.
    pub(in crate::simulator) fn choose_buyer(
        &mut self,
        id: &str,
        buyer: usize,
        card: Card,
        now: u64,
    ) -> Result<&mut Session, ApiFailure> {
        let session = self.session(id, now)?;
        session.ensure_open("continue")?;
        if session.processed.is_some() {
            return Err(unprocessable("InvalidCheckoutSessionStatus", "The buyer has already paid for this checkout."));
        }
        session.buyer = buyer;
        session.address = buyer;
        session.card = card;
        session.buyer_chosen = true;
        session.updated = now;
        Ok(session)
    }

    /// The buyer left Amazon's page through its cancel link: the session is `Canceled`
    /// (`BuyerCanceled`).
    pub(in crate::simulator) fn cancel_by_buyer(&mut self, id: &str, now: u64) -> Result<(), ApiFailure> {
        let session = self.session(id, now)?;
        if session.state == SessionState::Open && session.processed.is_none() {
            session.state = SessionState::Canceled;
            session.reason = Some(Reason::new("BuyerCanceled", "The buyer canceled the checkout on Amazon's page."));
            session.updated = now;
        }
        Ok(())
    }

    /// The buyer at `amazonPayRedirectUrl`: authorizes with the chosen card. On success (or
    /// pending, or with `Confirm`) the session stays Open for completion; a decline cancels it.
    pub(in crate::simulator) fn process(&mut self, id: &str, now: u64) -> Result<&Session, ApiFailure> {
        let session = self.session(id, now)?;
        session.ensure_open("process")?;
        if session.processed.is_some() {
            return Ok(session);
        }
        if let Some((constraint, _)) = session.constraints().first() {
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
        session.ensure_not_canceled()?;
        session.ensure_open("complete")?;
        let request = object(body, "", &["chargeAmount", "totalOrderAmount"], true)?;
        let amount = member(request, "chargeAmount")
            .ok_or_else(|| bad("MissingParameterValue", "chargeAmount is missing."))
            .and_then(|amount| parse_price(amount, "chargeAmount"))?;
        let total =
            member(request, "totalOrderAmount").map(|total| parse_price(total, "totalOrderAmount")).transpose()?;
        let Some(processed) = session.processed else {
            return Err(unprocessable(
                "InvalidCheckoutSessionStatus",
                "The Checkout Session cannot be completed before the buyer has been redirected to amazonPayRedirectUrl.",
            ));
        };
        let expected = session.details.charge_amount.unwrap_or_default();
        if amount != expected {
            return Err(amount_mismatch(format!(
                "chargeAmount {amount} JPY does not match the Checkout Session's chargeAmount {expected} JPY."
            )));
        }
        // A session that has a totalOrderAmount is completed with it (Amazon's Complete Checkout
        // Session request: totalOrderAmount required when the session has one).
        match (session.details.total_order_amount, total) {
            (Some(_), None) => {
                return Err(bad(
                    "MissingParameterValue",
                    "totalOrderAmount is missing: the Checkout Session has a totalOrderAmount.",
                ));
            }
            (Some(expected), Some(total)) if total != expected => {
                return Err(amount_mismatch(format!(
                    "totalOrderAmount {total} JPY does not match the Checkout Session's totalOrderAmount {expected} JPY."
                )));
            }
            _ => {}
        }
        let details = session.details.clone();
        let owner = session.owner.clone();
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
            owner,
            kind: details.permission_type,
            environment,
            buyer,
            address,
            card,
            scopes,
            declines_left: None,
            amount_limit,
            recurring_metadata: details.recurring_metadata.clone(),
            merchant_metadata: details.merchant_metadata.clone(),
            platform_id: details.platform_id.clone(),
            created: now,
            expires,
            charges: Vec::new(),
            closed: None,
            updated: now,
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
                    authorized_at: None,
                    pending_capture: None,
                    captured: None,
                    refunds: Vec::new(),
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
        self.changed(ChangedObject::ChargePermission, &permission_id, &permission_id);
        if let Some(charge_id) = &charge_id {
            self.changed(ChangedObject::Charge, charge_id, &permission_id);
            self.close_if_fully_captured(&permission_id, now);
        }
        let session = self.sessions.get_mut(id).ok_or_else(|| not_found("Checkout Session", id))?;
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

    pub(in crate::simulator) fn charge(&self, id: &str) -> Result<&Charge, ApiFailure> {
        self.charges.get(id).ok_or_else(|| not_found("Charge", id))
    }

    pub(in crate::simulator) fn refund(&self, id: &str) -> Result<&Refund, ApiFailure> {
        self.refunds.get(id).ok_or_else(|| not_found("Refund", id))
    }

    /// The buyer chose another payment method for a charge permission (in their Amazon account):
    /// the next charges are authorized with it. Amazon's documentation names `ATTRIBUTE_CHANGE`
    /// notifications without saying when it sends them; a new payment method on a permission that
    /// stays chargeable is taken to be one [inferred], one that makes it `NonChargeable` or
    /// `Chargeable` again a `STATE_CHANGE`.
    pub(in crate::simulator) fn set_card(
        &mut self,
        permission_id: &str,
        card: Card,
        declines: Option<u32>,
        now: u64,
    ) -> Result<(), ApiFailure> {
        let permission = self.permission_mut(permission_id)?;
        let before = permission.card.non_chargeable();
        permission.card = card;
        permission.declines_left = declines;
        permission.updated = now;
        if permission.closed.is_some() {
            return Ok(());
        }
        let kind = if before == card.non_chargeable() { ChangeKind::Attribute } else { ChangeKind::State };
        self.record(ChangedObject::ChargePermission, kind, permission_id, permission_id);
        Ok(())
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
        let permission_id = charge.permission_id.clone();
        self.changed(ChangedObject::Charge, id, &permission_id);
        self.close_if_fully_captured(&permission_id, now);
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

    /// What a one-time permission's open and captured charges have used: a captured charge its
    /// captured amount (a capture of less than was authorized frees the rest), a capture in
    /// progress its requested amount, an authorization its whole amount.
    fn charged_in_total(&self, permission: &ChargePermission) -> u64 {
        permission
            .charges
            .iter()
            .filter_map(|id| self.charges.get(id))
            .filter(|c| !matches!(c.state, ChargeState::Declined | ChargeState::Canceled))
            .map(|c| c.captured.or(c.pending_capture.map(|p| p.amount)).unwrap_or(c.amount))
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

    /// A OneTime charge permission whose amount has been captured in full is closed by Amazon
    /// (its `amountBalance` is used up).
    pub(super) fn close_if_fully_captured(&mut self, permission_id: &str, at: u64) {
        let Some(permission) = self.permissions.get(permission_id) else {
            return;
        };
        if permission.kind != PermissionType::OneTime || permission.closed.is_some() {
            return;
        }
        let captured: u64 =
            permission.charges.iter().filter_map(|id| self.charges.get(id)).filter_map(|c| c.captured).sum();
        if captured < permission.amount_limit {
            return;
        }
        if let Some(permission) = self.permissions.get_mut(permission_id) {
            // Amazon names no reason for this closure; AmazonClosed ("closed by Amazon") is the
            // reason code that fits.
            permission.closed = Some(Closure {
                reason: Reason::new("AmazonClosed", "The Charge Permission's amount has been captured in full."),
                at,
            });
            permission.updated = at;
        }
        self.changed(ChangedObject::ChargePermission, permission_id, permission_id);
    }

    /// `POST charges` (`body`: the parsed request): the new charge's ID. A decline is an error
    /// answer and makes no charge: `422` with `HardDeclined`, `SoftDeclined`,
    /// `PaymentMethodNotAllowed`, `TransactionTimedOut`, `MFANotCompleted` or `AmazonRejected`,
    /// `500` with `ProcessingFailure`.
    pub(in crate::simulator) fn create_charge(
        &mut self,
        simulator: &Simulator,
        body: &Value,
        now: u64,
    ) -> Result<String, ApiFailure> {
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
        if let Some(closed) = &permission.closed {
            return Err(unprocessable(
                "InvalidChargePermissionStatus",
                format!("The Charge Permission is Closed ({}); no charges can be created.", closed.reason.code),
            ));
        }
        if let Some(reason) = permission.card.non_chargeable() {
            return Err(unprocessable(
                "InvalidChargePermissionStatus",
                format!("The Charge Permission is NonChargeable ({reason}); no charges can be created."),
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
                    return Err(unprocessable(
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
        let outcome = card.authorize(can_handle_pending);
        if let Outcome::Declined(code) = outcome {
            let permission = self.permission_mut(&permission_id)?;
            match permission.declines_left {
                Some(0 | 1) => {
                    permission.card = Card::Visa;
                    permission.declines_left = None;
                }
                Some(left) => permission.declines_left = Some(left - 1),
                None => {}
            }
            return Err(declined(code));
        }
        let charge_id = self.new_charge_id(simulator, &permission_id);
        let mut charge = Charge {
            id: charge_id.clone(),
            permission_id: permission_id.clone(),
            environment,
            amount,
            authorized_at: None,
            pending_capture: None,
            captured: None,
            refunds: Vec::new(),
            capture_now,
            can_handle_pending,
            merchant_metadata,
            state: ChargeState::Authorized,
            reason: None,
            created: now,
            updated: now,
        };
        charge.apply(outcome, now);
        self.charges.insert(charge_id.clone(), charge);
        self.permission_mut(&permission_id)?.charges.push(charge_id.clone());
        self.changed(ChangedObject::Charge, &charge_id, &permission_id);
        self.close_if_fully_captured(&permission_id, now);
        Ok(charge_id)
    }

    // -- IDs ----------------------------------------------------------------------------------

    /// `S03-1234567-1234567`.
    fn new_permission_id(&self, simulator: &Simulator, environment: Environment) -> String {
        loop {
            let id = format!("{}03-{}-{}", environment.id_prefix(), simulator.digits(7), simulator.digits(7));
            if !self.permissions.contains_key(&id) {
                return id;
            }
        }
    }

    /// `S03-1234567-1234567-R123456`: refunds are numbered under their charge permission, as
    /// Amazon's are.
    pub(super) fn new_refund_id(&self, simulator: &Simulator, permission_id: &str) -> String {
        loop {
            let id = format!("{permission_id}-R{}", simulator.digits(6));
            if !self.refunds.contains_key(&id) {
                return id;
            }
        }
    }

    /// `S03-1234567-1234567-C123456`.
    fn new_charge_id(&self, simulator: &Simulator, permission_id: &str) -> String {
        loop {
            let id = format!("{permission_id}-C{}", simulator.digits(6));
            if !self.charges.contains_key(&id) {
                return id;
            }
        }
    }
}

/// The create payload of `POST checkoutSessions`: the button payload's fields, checked as an
/// API request (unknown fields refused).
struct CreatePayload {
    owner: Owner,
    details: Details,
    product_type: ProductType,
    scopes: Vec<String>,
}

impl CreatePayload {
    const FIELDS: [&'static str; 12] = [
        "webCheckoutDetails",
        "storeId",
        "scopes",
        "chargePermissionType",
        "recurringMetadata",
        "paymentDetails",
        "merchantMetadata",
        "deliverySpecifications",
        "addressDetails",
        "platformId",
        "providerMetadata",
        "supplementaryData",
    ];
    const SCOPES: [&'static str; 7] =
        ["name", "email", "postalCode", "shippingAddress", "phoneNumber", "primeStatus", "billingAddress"];

    /// `merchant`'s request (its key signed it): the store must be one of its own.
    fn parse(body: &Value, merchant: &Merchant, live: bool) -> Result<Self, ApiFailure> {
        let top = object(body, "", &Self::FIELDS, true)?;
        let store = match string_member(top, "storeId", "")? {
            None => return Err(bad("MissingParameterValue", "storeId is missing.")),
            Some(id) => merchant.store(&id).ok_or_else(|| {
                super::rules::invalid(format!("The storeId '{id}' does not belong to this merchant."))
            })?,
        };
        let owner = Owner { merchant_id: merchant.id.clone(), store_id: store.id.clone() };
        let rules = &Rules { origins: &store.origins, live, strict: true };
        // The review URL is required, as for a button (a ProcessOrder checkout still names one:
        // it is where a buyer changing their mind returns).
        let review = member(top, "webCheckoutDetails")
            .and_then(Value::as_object)
            .and_then(|web| member(web, "checkoutReviewReturnUrl"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad("MissingParameterValue", "webCheckoutDetails.checkoutReviewReturnUrl is missing."))?;
        let review_url = super::rules::merchant_url(review, "webCheckoutDetails.checkoutReviewReturnUrl", rules)?;
        let mut scopes = Vec::new();
        if let Some(list) = member(top, "scopes") {
            let list = list.as_array().ok_or_else(|| super::rules::invalid("scopes must be an array of strings."))?;
            for scope in list {
                match scope.as_str() {
                    Some(scope) if Self::SCOPES.contains(&scope) => scopes.push(scope.to_owned()),
                    _ => return Err(super::rules::invalid(format!("scopes contains an unknown scope {scope}."))),
                }
            }
        }
        for name in ["deliverySpecifications", "addressDetails"] {
            if let Some(value) = member(top, name)
                && !value.is_object()
            {
                return Err(super::rules::invalid(format!("{name} must be a JSON object.")));
            }
        }
        // What Details knows is checked field by field; the rest was checked above.
        let mut update = top.clone();
        for name in ["storeId", "scopes", "deliverySpecifications", "addressDetails"] {
            update.remove(name);
        }
        let details = Details::new(review_url).updated(&Value::Object(update), rules)?;
        Ok(Self { owner, details, product_type: ProductType::PayAndShip, scopes })
    }
}
