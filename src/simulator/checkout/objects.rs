//! The objects Amazon keeps (checkout sessions, charge permissions, charges), their
//! enumerations, and how each settles at the simulator clock.

use serde_json::Value;
use url::Url;

use super::cards::{Card, Outcome, decline_description};
use super::details::{Details, MerchantMetadata};
use super::rules::{AUTHORIZATION_LIFETIME, SESSION_LIFETIME, unprocessable};
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

/// `statusDetails.state` of a charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum ChargeState {
    AuthorizationInitiated,
    Authorized,
    Captured,
    Canceled,
    Declined,
}

impl ChargeState {
    pub(super) fn name(self) -> &'static str {
        match self {
            ChargeState::AuthorizationInitiated => "AuthorizationInitiated",
            ChargeState::Authorized => "Authorized",
            ChargeState::Captured => "Captured",
            ChargeState::Canceled => "Canceled",
            ChargeState::Declined => "Declined",
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

/// A checkout session.
pub(in crate::simulator) struct Session {
    pub id: String,
    pub product_type: ProductType,
    pub environment: Environment,
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
        (self.state == SessionState::Open && self.details.constraints().is_empty())
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

/// A charge permission.
pub(in crate::simulator) struct ChargePermission {
    pub id: String,
    pub kind: PermissionType,
    pub environment: Environment,
    pub buyer: usize,
    pub address: Option<usize>,
    pub card: Card,
    pub scopes: Vec<String>,
    /// `limits.amountLimit`.
    pub amount_limit: u64,
    pub recurring_metadata: Option<Value>,
    pub merchant_metadata: MerchantMetadata,
    pub platform_id: Option<String>,
    pub created: u64,
    pub expires: Option<u64>,
    pub charges: Vec<String>,
}

/// A charge.
pub(in crate::simulator) struct Charge {
    pub id: String,
    pub permission_id: String,
    pub environment: Environment,
    pub amount: u64,
    pub captured: Option<u64>,
    pub capture_now: bool,
    pub can_handle_pending: bool,
    pub merchant_metadata: Option<MerchantMetadata>,
    pub state: ChargeState,
    pub reason: Option<Reason>,
    pub created: u64,
    pub updated: u64,
}

impl Charge {
    /// The state at `now`: an authorization unused for 30 days has been canceled.
    pub(super) fn settle(&mut self, now: u64) {
        let deadline = self.created + AUTHORIZATION_LIFETIME;
        if self.state == ChargeState::Authorized && now >= deadline {
            self.state = ChargeState::Canceled;
            self.reason =
                Some(Reason::new("ExpiredUnused", "The authorization expired after 30 days without capture."));
            self.updated = deadline;
        }
    }

    /// Sets the outcome of an authorization.
    pub(super) fn apply(&mut self, outcome: Outcome, now: u64) {
        self.updated = now;
        match outcome {
            Outcome::Authorized if self.capture_now => {
                self.state = ChargeState::Captured;
                self.captured = Some(self.amount);
                self.reason = None;
            }
            Outcome::Authorized => {
                self.state = ChargeState::Authorized;
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
