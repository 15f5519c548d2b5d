//! Amazon Pay API objects, as far as the shop reads them. Every member the shop may do without
//! is optional, so that an answer with fewer (or more) members still reads.

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

/// Declares one of Amazon's state enums: the states Amazon documents for the object, and `Other`
/// for a state it adds later, kept as Amazon sent it (read, shown and logged, never lost). It
/// reads from and writes to Amazon's string.
macro_rules! amazon_state {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$variant_doc])* $variant,)+
            /// A state Amazon did not document when this was written, as Amazon sent it.
            Other(String),
        }

        impl $name {
            /// Amazon's name of the state.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => stringify!($variant),)+
                    Self::Other(state) => state,
                }
            }
        }

        impl From<String> for $name {
            fn from(state: String) -> Self {
                match state.as_str() {
                    $(stringify!($variant) => Self::$variant,)+
                    _ => Self::Other(state),
                }
            }
        }

        impl From<&str> for $name {
            fn from(state: &str) -> Self {
                Self::from(state.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(state: $name) -> Self {
                match state {
                    $name::Other(state) => state,
                    known => known.as_str().to_owned(),
                }
            }
        }

        /// Compared with Amazon's name of a state (tests and logs read as Amazon writes them).
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        /// No state read (an object made by hand).
        impl Default for $name {
            fn default() -> Self {
                Self::Other(String::new())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

amazon_state! {
    /// A checkout session's state.
    CheckoutSessionState {
        /// The buyer is on the way (or back on the review page).
        Open,
        /// Completed: a charge permission (and charge) exist.
        Completed,
        /// Canceled, expired or declined: see the reason code.
        Canceled,
    }
}

amazon_state! {
    /// A charge's state.
    ChargeState {
        /// Authorization under way (asynchronous).
        AuthorizationInitiated,
        /// Authorized: the amount is held.
        Authorized,
        /// Capture under way (asynchronous).
        CaptureInitiated,
        /// Captured.
        Captured,
        /// Canceled (or the authorization expired): see the reason code.
        Canceled,
        /// Declined: see the reason code.
        Declined,
    }
}

amazon_state! {
    /// A refund's state.
    RefundState {
        /// Under way.
        RefundInitiated,
        /// Refunded.
        Refunded,
        /// Declined: see the reason code.
        Declined,
    }
}

amazon_state! {
    /// A charge permission's state.
    ChargePermissionState {
        /// Charges can be made.
        Chargeable,
        /// No charge can be made for now: see the reasons.
        NonChargeable,
        /// Closed for good.
        Closed,
    }
}

/// A state and why (checkout sessions, charges, refunds), `S` being the object's state enum.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails<S> {
    /// The object's state.
    pub state: S,
    /// Why, when Amazon says.
    #[serde(default)]
    pub reason_code: Option<String>,
    /// Amazon's sentence for the reason.
    #[serde(default)]
    pub reason_description: Option<String>,
    /// When the state last changed (`20261128T101414Z`).
    #[serde(default)]
    pub last_updated_timestamp: Option<String>,
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
    pub status_details: StatusDetails<CheckoutSessionState>,
    /// Set when completed.
    #[serde(default)]
    pub charge_permission_id: Option<String>,
    /// Set when completed.
    #[serde(default)]
    pub charge_id: Option<String>,
    /// `Sandbox` or `Live`.
    #[serde(default)]
    pub release_environment: Option<String>,
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

/// A charge: one authorization (仮売上) and its capture (実売上).
///
/// States: `AuthorizationInitiated` (pending), `Authorized`, `CaptureInitiated` (a capture
/// Amazon processes later: requested more than 7 days after the authorization), `Captured`,
/// `Canceled` (`MerchantCanceled`, `ExpiredUnused` after 30 days uncaptured,
/// `ChargePermissionCanceled`, …), `Declined`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// Charge ID.
    pub charge_id: String,
    /// Its permission.
    #[serde(default)]
    pub charge_permission_id: Option<String>,
    /// The authorized amount.
    #[serde(default)]
    pub charge_amount: Option<Money>,
    /// What has been captured (at most `charge_amount`; less when the order was reduced).
    #[serde(default)]
    pub capture_amount: Option<Money>,
    /// What its refunds have returned.
    #[serde(default)]
    pub refunded_amount: Option<Money>,
    /// Whether it was captured at authorization.
    #[serde(default)]
    pub capture_now: Option<bool>,
    /// When it was created (`20261128T101414Z`).
    #[serde(default)]
    pub creation_timestamp: Option<String>,
    /// When an uncaptured authorization expires (30 days after it was made).
    #[serde(default)]
    pub expiration_timestamp: Option<String>,
    /// `Authorized`, `AuthorizationInitiated`, `Declined`, …
    pub status_details: StatusDetails<ChargeState>,
    /// `Sandbox` or `Live`.
    #[serde(default)]
    pub release_environment: Option<String>,
}

/// A refund (返金) of a captured charge: `RefundInitiated`, then `Refunded` or `Declined`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// Refund ID (`S01-5105180-3221187-R022311`).
    pub refund_id: String,
    /// The refunded charge.
    #[serde(default)]
    pub charge_id: Option<String>,
    /// The amount.
    #[serde(default)]
    pub refund_amount: Option<Money>,
    /// When it was requested.
    #[serde(default)]
    pub creation_timestamp: Option<String>,
    /// Its state.
    pub status_details: StatusDetails<RefundState>,
    /// `Sandbox` or `Live`.
    #[serde(default)]
    pub release_environment: Option<String>,
}

/// A charge permission: the buyer's consent to be charged (one order, or a subscription).
///
/// States: `Chargeable`, `NonChargeable`, `Closed` (`MerchantClosed`, `BuyerClosed`,
/// `Expired`, `AmazonClosed`, …; a OneTime permission closes when its amount has been captured
/// in full).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargePermission {
    /// Charge permission ID.
    pub charge_permission_id: String,
    /// `OneTime` or `Recurring`.
    #[serde(default)]
    pub charge_permission_type: Option<String>,
    /// What may still be charged.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// Its state; unlike the other objects, with a list of reasons.
    pub status_details: PermissionStatusDetails,
    /// The merchant's references.
    #[serde(default)]
    pub merchant_metadata: Option<MerchantMetadata>,
    /// A subscription's frequency and amount, as the merchant set them.
    #[serde(default)]
    pub recurring_metadata: Option<serde_json::Value>,
    /// The buyer.
    #[serde(default)]
    pub buyer: Option<SessionBuyer>,
    /// The shipping address.
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// The payment method, as the buyer sees it.
    #[serde(default)]
    pub payment_preferences: Option<Vec<PaymentPreference>>,
    /// When it was created.
    #[serde(default)]
    pub creation_timestamp: Option<String>,
    /// When it expires (OneTime: 180 days, or 13 months with `extendExpiration`).
    #[serde(default)]
    pub expiration_timestamp: Option<String>,
    /// `Sandbox` or `Live`.
    #[serde(default)]
    pub release_environment: Option<String>,
}

/// `limits` of a charge permission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// OneTime: the checkout amount; Recurring: the monthly cap (¥100,000 in Japan).
    #[serde(default)]
    pub amount_limit: Option<Money>,
    /// What is left (this month, for Recurring).
    #[serde(default)]
    pub amount_balance: Option<Money>,
}

/// `statusDetails` of a charge permission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionStatusDetails {
    /// The permission's state.
    pub state: ChargePermissionState,
    /// Why, when not Chargeable.
    #[serde(default)]
    pub reasons: Option<Vec<StatusReason>>,
    /// When the state last changed.
    #[serde(default)]
    pub last_updated_timestamp: Option<String>,
}

/// One reason of a charge permission's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReason {
    /// E.g. `MerchantClosed`.
    pub reason_code: String,
    /// Amazon's sentence (for `MerchantClosed`, the merchant's `closureReason`).
    #[serde(default)]
    pub reason_description: Option<String>,
}

/// `merchantMetadata`: the merchant's references, as set at checkout or by
/// updateChargePermission. Absent members are left out when sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantMetadata {
    /// The shop's order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference_id: Option<String>,
    /// The store name shown to the buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_store_name: Option<String>,
    /// A note shown to the buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_to_buyer: Option<String>,
    /// The merchant's own data, not shown to the buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_information: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documented_state_reads_as_its_variant_and_writes_back_as_amazons_name() {
        let charge: StatusDetails<ChargeState> = serde_json::from_str(r#"{"state":"CaptureInitiated"}"#).unwrap();
        assert_eq!(charge.state, ChargeState::CaptureInitiated);
        assert_eq!(serde_json::to_value(&charge).unwrap()["state"], "CaptureInitiated");
    }

    #[test]
    fn a_state_amazon_adds_later_is_kept_as_sent() {
        let session: StatusDetails<CheckoutSessionState> =
            serde_json::from_str(r#"{"state":"PendingReview","reasonCode":"X"}"#).unwrap();
        assert_eq!(session.state, CheckoutSessionState::Other("PendingReview".into()));
        assert_eq!(session.state.to_string(), "PendingReview");
        assert_eq!(serde_json::to_value(&session).unwrap()["state"], "PendingReview");
    }

    #[test]
    fn states_are_per_object() {
        // The same name is another state of another object: a charge's Canceled is no session's.
        assert_eq!(RefundState::from("Declined"), RefundState::Declined);
        assert_eq!(ChargePermissionState::from("Declined"), ChargePermissionState::Other("Declined".into()));
        assert_eq!(ChargeState::from("Open"), ChargeState::Other("Open".into()));
    }
}
