//! The objects Amazon keeps (checkout sessions, charge permissions, charges), their
//! enumerations, and how each settles at the simulator clock.

use serde_json::Value;
use url::Url;

use super::cards::{Card, Outcome, decline_description};
use super::details::{Details, MerchantMetadata};
use super::rules::{SESSION_LIFETIME, bad, unprocessable};
use crate::simulator::api::ApiFailure;

/// `releaseEnvironment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Environment {
    Sandbox,
    Live,
}

impl Environment {
    pub(super) fn name(self) -> &'static str {
        match self {
            Environment::Sandbox => "Sandbox",
            Environment::Live => "Live",
        }
    }

    /// The first letter of Amazon's object IDs.
    pub(super) fn id_prefix(self) -> char {
        match self {
            Environment::Sandbox => 'S',
            Environment::Live => 'P',
        }
    }
}

/// `productType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum ProductType {
    PayAndShip,
    PayOnly,
}

impl ProductType {
    pub(super) fn name(self) -> &'static str {
        match self {
            ProductType::PayAndShip => "PayAndShip",
            ProductType::PayOnly => "PayOnly",
        }
    }

    pub(in crate::simulator) fn ships(self) -> bool {
        self == ProductType::PayAndShip
    }
}

/// `paymentDetails.paymentIntent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Intent {
    Confirm,
    Authorize,
    AuthorizeWithCapture,
}

impl Intent {
    pub(super) fn name(self) -> &'static str {
        match self {
            Intent::Confirm => "Confirm",
            Intent::Authorize => "Authorize",
            Intent::AuthorizeWithCapture => "AuthorizeWithCapture",
        }
    }
}

/// `chargePermissionType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum PermissionType {
    OneTime,
    Recurring,
}

impl PermissionType {
    pub(super) fn name(self) -> &'static str {
        match self {
            PermissionType::OneTime => "OneTime",
            PermissionType::Recurring => "Recurring",
        }
    }
}

/// `statusDetails.state` of a checkout session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum SessionState {
    Open,
    Completed,
    Canceled,
}

impl SessionState {
    pub(super) fn name(self) -> &'static str {
        match self {
            SessionState::Open => "Open",
            SessionState::Completed => "Completed",
            SessionState::Canceled => "Canceled",
        }
    }
}

/// `statusDetails.state` of a charge: `AuthorizationInitiated` (a pending authorization) or
/// `Authorized`, then `CaptureInitiated` (a capture Amazon processes later) and `Captured`, or
/// `Canceled` / `Declined`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum ChargeState {
    AuthorizationInitiated,
    Authorized,
    CaptureInitiated,
    Captured,
    Canceled,
    Declined,
}

impl ChargeState {
    pub(super) fn name(self) -> &'static str {
        match self {
            ChargeState::AuthorizationInitiated => "AuthorizationInitiated",
            ChargeState::Authorized => "Authorized",
            ChargeState::CaptureInitiated => "CaptureInitiated",
            ChargeState::Captured => "Captured",
            ChargeState::Canceled => "Canceled",
            ChargeState::Declined => "Declined",
        }
    }
}

/// `statusDetails.state` of a refund: `RefundInitiated` first, then `Refunded` or `Declined`
/// (Amazon processes every refund asynchronously).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum RefundState {
    RefundInitiated,
    Refunded,
    Declined,
}

impl RefundState {
    pub(super) fn name(self) -> &'static str {
        match self {
            RefundState::RefundInitiated => "RefundInitiated",
            RefundState::Refunded => "Refunded",
            RefundState::Declined => "Declined",
        }
    }
}

/// A reason code with its description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::simulator) struct Reason {
    pub code: &'static str,
    pub description: String,
}

impl Reason {
    pub(super) fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }
}

/// How the buyer's authorization at `/checkout/process` went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Processed {
    /// `Confirm`: nothing to authorize yet.
    Confirmed,
    Authorized,
    Pending,
}

/// The merchant and store an object belongs to: the merchant whose key signed the request (or
/// whose signed button was clicked) that made it, and the store its payload named. Charges and
/// refunds belong to the owner of their charge permission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::simulator) struct Owner {
    pub merchant_id: String,
    pub store_id: String,
}

/// A checkout session.
pub(in crate::simulator) struct Session {
    pub id: String,
    pub owner: Owner,
    pub product_type: ProductType,
    pub environment: Environment,
    /// Whether a buyer has signed in and chosen an address and a card on Amazon's page. A
    /// session created through the API, or by a click whose page the buyer has not left yet,
    /// has no buyer (`BuyerNotAssociated`); `buyer`, `address` and `card` are then defaults.
    pub buyer_chosen: bool,
    /// The buyer's account (index into [`TEST_BUYERS`](crate::simulator::buyers::TEST_BUYERS)).
    pub buyer: usize,
    /// The chosen shipping address (index into
    /// [`TEST_BUYERS`](crate::simulator::buyers::TEST_BUYERS), whose addresses form the
    /// simulator's address book).
    pub address: usize,
    pub card: Card,
    pub scopes: Vec<String>,
    pub details: Details,
    pub state: SessionState,
    pub reason: Option<Reason>,
    pub created: u64,
    pub updated: u64,
    pub processed: Option<Processed>,
    pub charge_permission_id: Option<String>,
    pub charge_id: Option<String>,
}

impl Session {
    /// A new Open session without a buyer: created through the API, or by a click on a button
    /// before the buyer has chosen on Amazon's page.
    pub(in crate::simulator) fn without_buyer(
        id: String,
        owner: Owner,
        details: Details,
        product_type: ProductType,
        environment: Environment,
        scopes: Vec<String>,
        now: u64,
    ) -> Self {
        Self {
            id,
            owner,
            product_type,
            environment,
            buyer_chosen: false,
            buyer: 0,
            address: 0,
            card: Card::Visa,
            scopes,
            details,
            state: SessionState::Open,
            reason: None,
            created: now,
            updated: now,
            processed: None,
            charge_permission_id: None,
            charge_id: None,
        }
    }

    /// What still keeps the buyer from paying (`constraints`): no buyer yet, then what the
    /// merchant has not set.
    pub(in crate::simulator) fn constraints(&self) -> Vec<(&'static str, &'static str)> {
        let mut constraints = Vec::new();
        if !self.buyer_chosen {
            constraints.push(("BuyerNotAssociated", "The buyer has not been associated with the Checkout Session."));
        }
        constraints.extend(self.details.constraints());
        constraints
    }

    /// The state at `now`: an Open session past 24 h has been canceled (`Expired`).
    pub(super) fn settle(&mut self, now: u64) {
        let deadline = self.created + SESSION_LIFETIME;
        if self.state == SessionState::Open && now >= deadline {
            self.state = SessionState::Canceled;
            self.reason =
                Some(Reason::new("Expired", "The checkout session expired: it was not completed within 24 hours."));
            self.updated = deadline;
        }
    }

    /// The URL to send the buyer to for payment, once nothing is missing.
    pub(in crate::simulator) fn redirect_url(&self, origin: &str) -> Option<String> {
        (self.state == SessionState::Open && self.constraints().is_empty())
            .then(|| format!("{origin}/checkout/process/{}", self.id))
    }

    /// The shop's review URL with `amazonCheckoutSessionId`.
    pub(in crate::simulator) fn review_redirect(&self) -> Url {
        let mut url = self.details.review_url.clone();
        url.query_pairs_mut().append_pair("amazonCheckoutSessionId", &self.id);
        url
    }

    /// The shop's result URL with `amazonCheckoutSessionId`, if set.
    pub(in crate::simulator) fn result_redirect(&self) -> Option<Url> {
        let mut url = self.details.result_url.clone()?;
        url.query_pairs_mut().append_pair("amazonCheckoutSessionId", &self.id);
        Some(url)
    }

    /// Amazon's answer to completing a session it has canceled (declined payment, the buyer
    /// canceled, 24 hours passed): `CheckoutSessionCanceled`, whatever the reason
    /// (`statusDetails.reasonCode` says which). Its status is unconfirmed: 400 in one Amazon Pay
    /// plugin's error table (Solution360's), 422 in another's; a merchant must read the reason
    /// code, which both agree on.
    pub(super) fn ensure_not_canceled(&self) -> Result<(), ApiFailure> {
        if self.state != SessionState::Canceled {
            return Ok(());
        }
        let reason = self.reason.as_ref().map(|r| r.code).unwrap_or("Canceled");
        Err(bad(
            "CheckoutSessionCanceled",
            format!(
                "Checkout was unsuccessful because the buyer canceled the transaction or the payment was declined ({reason})."
            ),
        ))
    }

    pub(super) fn ensure_open(&self, doing: &str) -> Result<(), ApiFailure> {
        if self.state == SessionState::Open {
            return Ok(());
        }
        Err(unprocessable(
            "InvalidCheckoutSessionStatus",
            format!(
                "You tried to {doing} a Checkout Session in state {}{}; this requires state Open.",
                self.state.name(),
                self.reason.as_ref().map(|r| format!(" ({})", r.code)).unwrap_or_default()
            ),
        ))
    }
}

/// Why and when a charge permission was closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::simulator) struct Closure {
    pub reason: Reason,
    pub at: u64,
}

/// A charge permission.
pub(in crate::simulator) struct ChargePermission {
    pub id: String,
    /// The owner of the checkout session it was made from.
    pub owner: Owner,
    pub kind: PermissionType,
    pub environment: Environment,
    pub buyer: usize,
    pub address: Option<usize>,
    pub card: Card,
    pub scopes: Vec<String>,
    /// Test control: how many more charges the card declines before the buyer's next card (a
    /// Visa) authorizes; `None`: the card stays.
    pub declines_left: Option<u32>,
    /// `limits.amountLimit`.
    pub amount_limit: u64,
    pub recurring_metadata: Option<Value>,
    pub merchant_metadata: MerchantMetadata,
    pub platform_id: Option<String>,
    pub created: u64,
    pub expires: Option<u64>,
    pub charges: Vec<String>,
    /// `Closed` (by the merchant, by Amazon when fully captured, or at expiry); else
    /// `Chargeable`.
    pub closed: Option<Closure>,
    pub updated: u64,
}

/// A capture Amazon has accepted but not yet processed (`CaptureInitiated`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) struct PendingCapture {
    pub amount: u64,
    pub requested: u64,
}

/// A charge.
pub(in crate::simulator) struct Charge {
    pub id: String,
    pub permission_id: String,
    pub environment: Environment,
    pub amount: u64,
    /// When the authorization succeeded: captures more than 7 days later are asynchronous.
    pub authorized_at: Option<u64>,
    pub pending_capture: Option<PendingCapture>,
    pub captured: Option<u64>,
    pub refunds: Vec<String>,
    pub capture_now: bool,
    pub can_handle_pending: bool,
    pub merchant_metadata: Option<MerchantMetadata>,
    pub state: ChargeState,
    pub reason: Option<Reason>,
    pub created: u64,
    pub updated: u64,
}

impl Charge {
    /// Sets the outcome of an authorization.
    pub(super) fn apply(&mut self, outcome: Outcome, now: u64) {
        self.updated = now;
        match outcome {
            Outcome::Authorized if self.capture_now => {
                self.state = ChargeState::Captured;
                self.authorized_at = Some(now);
                self.captured = Some(self.amount);
                self.reason = None;
            }
            Outcome::Authorized => {
                self.state = ChargeState::Authorized;
                self.authorized_at = Some(now);
                self.reason = None;
            }
            Outcome::Pending => {
                self.state = ChargeState::AuthorizationInitiated;
                self.reason = None;
            }
            Outcome::Declined(code) => {
                self.state = ChargeState::Declined;
                self.reason = Some(Reason::new(code, decline_description(code)));
            }
        }
    }
}

/// A refund.
pub(in crate::simulator) struct Refund {
    pub id: String,
    pub charge_id: String,
    pub permission_id: String,
    pub environment: Environment,
    pub amount: u64,
    pub state: RefundState,
    pub reason: Option<Reason>,
    pub created: u64,
    pub updated: u64,
}
