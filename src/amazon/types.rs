//! Amazon Pay API objects, as far as the shop reads them.

use serde::{Deserialize, Serialize};

/// Amazon's error envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmazonErrorBody {
    /// E.g. `InvalidRequestSignature`.
    pub reason_code: String,
    /// A sentence.
    pub message: String,
}

/// `GET buyers/{buyerToken}`: who signed in, with what the sign-in scopes allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    /// Unique per merchant: the key of an account link.
    pub buyer_id: String,
    /// Full name, e.g. `山田 太郎`.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Postal code of the default shipping address.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Country of the default shipping address.
    #[serde(default)]
    pub country_code: Option<String>,
    /// Phone of the default billing address.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// The default shipping address.
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// The default billing address.
    #[serde(default)]
    pub billing_address: Option<Address>,
}

/// An address. In Japan Amazon fills the prefecture (`stateOrRegion`) and the address lines;
/// city, county and district stay empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Addressee.
    #[serde(default)]
    pub name: Option<String>,
    /// First line (municipality and street in Japan).
    #[serde(default)]
    pub address_line1: Option<String>,
    /// Second line (building).
    #[serde(default)]
    pub address_line2: Option<String>,
    /// Third line.
    #[serde(default)]
    pub address_line3: Option<String>,
    /// Not used in Japan.
    #[serde(default)]
    pub city: Option<String>,
    /// Prefecture, e.g. `東京都`.
    #[serde(default)]
    pub state_or_region: Option<String>,
    /// Postal code, e.g. `153-0064`.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// `JP`.
    #[serde(default)]
    pub country_code: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone_number: Option<String>,
}

/// Money as Amazon writes it. In Japan, whole yen in a string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    /// `"2750"`.
    pub amount: String,
    /// `"JPY"`.
    pub currency_code: String,
}

impl Money {
    /// Whole yen.
    pub fn yen(amount: u64) -> Self {
        Self { amount: amount.to_string(), currency_code: "JPY".to_owned() }
    }

    /// The amount in whole yen, if it is one.
    pub fn as_yen(&self) -> Option<u64> {
        (self.currency_code == "JPY").then(|| self.amount.parse().ok()).flatten()
    }
}

/// A state and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    /// E.g. `Open`, `Completed`, `Canceled`, `Authorized`, `Declined`.
    pub state: String,
    /// Why, when Amazon says.
    #[serde(default)]
    pub reason_code: Option<String>,
}

/// The parts of a checkout session the shop reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSession {
    /// The session ID.
    pub checkout_session_id: String,
    /// The store (Login with Amazon client ID) the session belongs to.
    #[serde(default)]
    pub store_id: Option<String>,
    /// Where Amazon sends the shopper (after an update).
    #[serde(default)]
    pub web_checkout_details: Option<WebCheckoutDetails>,
    /// `OneTime` or `Recurring`.
    #[serde(default)]
    pub charge_permission_type: Option<String>,
    /// What the shop set with update.
    #[serde(default)]
    pub payment_details: Option<PaymentDetails>,
    /// The buyer.
    #[serde(default)]
    pub buyer: Option<SessionBuyer>,
    /// The chosen shipping address (only while the session is open).
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// The chosen payment method, as the buyer sees it.
    #[serde(default)]
    pub payment_preferences: Option<Vec<PaymentPreference>>,
    /// The session's state.
    pub status_details: StatusDetails,
    /// Set when completed.
    #[serde(default)]
    pub charge_permission_id: Option<String>,
    /// Set when completed.
    #[serde(default)]
    pub charge_id: Option<String>,
}

/// Redirect URLs of a checkout session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebCheckoutDetails {
    /// Where the shopper goes to authorize (after a complete update).
    #[serde(default)]
    pub amazon_pay_redirect_url: Option<String>,
    /// Where Amazon returns the shopper after processing.
    #[serde(default)]
    pub checkout_result_return_url: Option<String>,
    /// The review return URL of the payload the session was created from.
    #[serde(default)]
    pub checkout_review_return_url: Option<String>,
}

/// The payment part of a checkout session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDetails {
    /// `Authorize`.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// Whether a pending authorization is acceptable.
    #[serde(default)]
    pub can_handle_pending_authorization: Option<bool>,
    /// The amount to charge.
    #[serde(default)]
    pub charge_amount: Option<Money>,
}

/// Who pays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionBuyer {
    /// Buyer ID.
    #[serde(default)]
    pub buyer_id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
}

/// A payment method as shown to the buyer, e.g. `Visa ****1111`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPreference {
    /// The descriptor.
    #[serde(default)]
    pub payment_descriptor: Option<String>,
}

/// A charge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// Charge ID.
    pub charge_id: String,
    /// Its permission.
    #[serde(default)]
    pub charge_permission_id: Option<String>,
    /// Amount.
    #[serde(default)]
    pub charge_amount: Option<Money>,
    /// `Authorized`, `AuthorizationInitiated`, `Declined`, …
    pub status_details: StatusDetails,
}
