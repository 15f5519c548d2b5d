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
