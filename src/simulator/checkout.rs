//! Amazon's payment objects, as the simulator keeps them: checkout sessions, charge permissions
//! and charges, with the rules Amazon applies to them in Japan (reference §3, §5, §7).
//!
//! Everything here is plain data and rules; the HTTP side is in `payments.rs` (the API) and
//! `hosted.rs` (the buyer's pages). Every read first *settles* an object at the simulator clock,
//! so that lifetimes (24 h sessions, 30-day authorizations, 180-day one-time permissions) and
//! the Japanese calendar month of the recurring cap all follow `Simulator::now()`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use url::Url;

use super::Simulator;
use super::api::ApiFailure;
use super::buyers::{TEST_BUYERS, TestBuyer};

/// The largest charge in Japan (reference §5.2: "日本:10,000,000円").
pub(super) const MAX_CHARGE_YEN: u64 = 10_000_000;
/// What a Recurring charge permission may charge per calendar month (reference §7).
pub(super) const RECURRING_MONTHLY_LIMIT_YEN: u64 = 100_000;
/// Amazon's words for the monthly cap (reference §7).
pub(super) const PERIODIC_AMOUNT_EXCEEDED_MESSAGE: &str = "You've exceeded the monthly limit for the Charge Permission and must wait until the next month to charge this buyer.";

const HOUR: u64 = 60 * 60;
const DAY: u64 = 24 * HOUR;
/// Open sessions not completed within 24 hours are canceled (reference §3.2).
pub(super) const SESSION_LIFETIME: u64 = 24 * HOUR;
/// Sessions are deleted 30 days after creation (reference §3.3).
const SESSION_RETENTION: u64 = 30 * DAY;
/// An authorization is valid for 30 days (reference §5.2).
pub(super) const AUTHORIZATION_LIFETIME: u64 = 30 * DAY;
/// A OneTime charge permission lives 180 days (13 months with `extendExpiration`).
const ONE_TIME_PERMISSION_LIFETIME: u64 = 180 * DAY;
/// Create Charge works up to 25 times per OneTime charge permission (reference §5.2).
const MAX_CHARGES_PER_ONE_TIME_PERMISSION: usize = 25;
/// Japan Standard Time, for the recurring calendar month.
const JST_OFFSET: i64 = 9 * 3600;

// ---------------------------------------------------------------------------------------------
// Test cards
// ---------------------------------------------------------------------------------------------

/// The payment methods in every test buyer's wallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Card {
    /// `Visa ****1111`: authorizes.
    Visa,
    /// `Mastercard ****4444`: declines (`HardDeclined`).
    Mastercard,
    /// `JCB ****0000`: goes pending when the merchant can handle it, otherwise declines
    /// (`ProcessingFailure`).
    Jcb,
}

/// What an authorization attempt gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Authorized,
    Pending,
    Declined(&'static str),
}

impl Card {
    pub(super) const ALL: [Card; 3] = [Card::Visa, Card::Mastercard, Card::Jcb];

    /// The form value on the hosted pages.
    pub(super) fn key(self) -> &'static str {
        match self {
            Card::Visa => "visa",
            Card::Mastercard => "mastercard",
            Card::Jcb => "jcb",
        }
    }

    /// `paymentPreferences[].paymentDescriptor`.
    pub(super) fn descriptor(self) -> &'static str {
        match self {
            Card::Visa => "Visa ****1111",
            Card::Mastercard => "Mastercard ****4444",
            Card::Jcb => "JCB ****0000",
        }
    }

    /// What the hosted pages say the card does.
    pub(super) fn behaviour(self) -> &'static str {
        match self {
            Card::Visa => "承認されます",
            Card::Mastercard => "拒否されます (HardDeclined)",
            Card::Jcb => "保留になります (canHandlePendingAuthorization: true のとき。それ以外は拒否)",
        }
    }

    /// A card by its form value (`visa`, `mastercard`, `jcb`) or its test-control name
    /// (`visa`, `decline`, `pending`).
    pub(super) fn parse(value: &str) -> Option<Card> {
        match value {
            "visa" => Some(Card::Visa),
            "mastercard" | "decline" => Some(Card::Mastercard),
            "jcb" | "pending" => Some(Card::Jcb),
            _ => None,
        }
    }

    /// The authorization outcome for this card.
    pub(super) fn authorize(self, can_handle_pending: bool) -> Outcome {
        match self {
            Card::Visa => Outcome::Authorized,
            Card::Mastercard => Outcome::Declined("HardDeclined"),
            Card::Jcb if can_handle_pending => Outcome::Pending,
            Card::Jcb => Outcome::Declined("ProcessingFailure"),
        }
    }
}

fn decline_description(code: &str) -> &'static str {
    match code {
        "HardDeclined" => "The payment method was declined. Retrying will not succeed; ask the buyer for another payment method.",
        _ => "The authorization could not be processed synchronously and the merchant cannot handle pending authorizations.",
    }
}

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------

/// `releaseEnvironment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Environment {
    Sandbox,
    Live,
}

impl Environment {
    fn name(self) -> &'static str {
        match self {
            Environment::Sandbox => "Sandbox",
            Environment::Live => "Live",
        }
    }

    /// The first letter of Amazon's object IDs.
    fn id_prefix(self) -> char {
        match self {
            Environment::Sandbox => 'S',
            Environment::Live => 'P',
        }
    }
}

/// `productType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ProductType {
    PayAndShip,
    PayOnly,
}

impl ProductType {
    fn name(self) -> &'static str {
        match self {
            ProductType::PayAndShip => "PayAndShip",
            ProductType::PayOnly => "PayOnly",
        }
    }

    pub(super) fn ships(self) -> bool {
        self == ProductType::PayAndShip
    }
}

/// `paymentDetails.paymentIntent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Intent {
    Confirm,
    Authorize,
    AuthorizeWithCapture,
}

impl Intent {
    fn name(self) -> &'static str {
        match self {
            Intent::Confirm => "Confirm",
            Intent::Authorize => "Authorize",
            Intent::AuthorizeWithCapture => "AuthorizeWithCapture",
        }
    }
}

/// `chargePermissionType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PermissionType {
    OneTime,
    Recurring,
}

impl PermissionType {
    fn name(self) -> &'static str {
        match self {
            PermissionType::OneTime => "OneTime",
            PermissionType::Recurring => "Recurring",
        }
    }
}

/// `statusDetails.state` of a checkout session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SessionState {
    Open,
    Completed,
    Canceled,
}

impl SessionState {
    fn name(self) -> &'static str {
        match self {
            SessionState::Open => "Open",
            SessionState::Completed => "Completed",
            SessionState::Canceled => "Canceled",
        }
    }
}

/// `statusDetails.state` of a charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ChargeState {
    AuthorizationInitiated,
    Authorized,
    Captured,
    Canceled,
    Declined,
}

impl ChargeState {
    fn name(self) -> &'static str {
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
pub(super) struct Reason {
    pub code: &'static str,
    pub description: String,
}

impl Reason {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }
}

// ---------------------------------------------------------------------------------------------
// Request parsing: Amazon's rules for amounts, URLs and fields
// ---------------------------------------------------------------------------------------------

fn bad(reason_code: &'static str, message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(axum::http::StatusCode::BAD_REQUEST, reason_code, message)
}

fn invalid(message: impl Into<String>) -> ApiFailure {
    bad("InvalidParameterValue", message)
}

fn unprocessable(reason_code: &'static str, message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, reason_code, message)
}

/// The request body as JSON (an empty body reads as `{}`).
pub(super) fn parse_body(body: &[u8]) -> Result<Value, ApiFailure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad("InvalidRequestFormat", format!("The request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(bad("InvalidRequestFormat", "The request body must be a JSON object."));
    }
    Ok(value)
}

/// The fields of an object, refusing unknown ones when `strict` (Amazon's `UnrecognizedField`).
fn object<'a>(
    value: &'a Value,
    name: &str,
    allowed: &[&str],
    strict: bool,
) -> Result<&'a Map<String, Value>, ApiFailure> {
    let map = value.as_object().ok_or_else(|| invalid(format!("{name} must be a JSON object.")))?;
    if strict {
        if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            let field = if name.is_empty() { unknown.clone() } else { format!("{name}.{unknown}") };
            return Err(bad("UnrecognizedField", format!("The field '{field}' is not recognized.")));
        }
    }
    Ok(map)
}

/// A present, non-null member.
fn member<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

fn string_member(map: &Map<String, Value>, key: &str, name: &str) -> Result<Option<String>, ApiFailure> {
    match member(map, key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(invalid(format!("{name}.{key} must be a string."))),
    }
}

fn bool_member(map: &Map<String, Value>, key: &str, name: &str) -> Result<Option<bool>, ApiFailure> {
    match member(map, key) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(invalid(format!("{name}.{key} must be true or false."))),
    }
}

/// A price (`{"amount":"2750","currencyCode":"JPY"}`): JPY only, whole yen, 1..=¥10,000,000.
pub(super) fn parse_price(value: &Value, name: &str) -> Result<u64, ApiFailure> {
    let map = value
        .as_object()
        .ok_or_else(|| invalid(format!("{name} must be an object with amount and currencyCode.")))?;
    if let Some(unknown) = map.keys().find(|key| *key != "amount" && *key != "currencyCode") {
        return Err(bad("UnrecognizedField", format!("The field '{name}.{unknown}' is not recognized.")));
    }
    let currency = match member(map, "currencyCode") {
        None => return Err(bad("MissingParameterValue", format!("{name}.currencyCode is missing."))),
        Some(Value::String(code)) => code.as_str(),
        Some(_) => return Err(invalid(format!("{name}.currencyCode must be a string."))),
    };
    if currency != "JPY" {
        return Err(bad(
            "CurrencyMismatch",
            format!("The currencyCode '{currency}' of {name} does not match the merchant's ledger currency JPY."),
        ));
    }
    let amount = match member(map, "amount") {
        None => return Err(bad("MissingParameterValue", format!("{name}.amount is missing."))),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(_) => return Err(invalid(format!("{name}.amount must be a string."))),
    };
    parse_yen(&amount, name)
}

fn parse_yen(text: &str, name: &str) -> Result<u64, ApiFailure> {
    if text.contains(['.', ',']) {
        return Err(invalid(format!(
            "{name}.amount '{text}' is not valid: JPY amounts are whole yen, without decimal places."
        )));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("{name}.amount '{text}' is not a valid amount.")));
    }
    let digits = text.trim_start_matches('0');
    let too_large = || {
        invalid(format!(
            "{name}.amount {text} exceeds the maximum of ¥10,000,000 (10000000 JPY) per charge in Japan."
        ))
    };
    if digits.len() > 12 {
        return Err(too_large());
    }
    let yen: u64 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| too_large())? };
    if yen == 0 {
        return Err(invalid(format!("{name}.amount must be at least 1 JPY.")));
    }
    if yen > MAX_CHARGE_YEN {
        return Err(too_large());
    }
    Ok(yen)
}

/// `{"amount":"2750","currencyCode":"JPY"}`.
pub(super) fn price(yen: u64) -> Value {
    json!({ "amount": yen.to_string(), "currencyCode": "JPY" })
}

/// A merchant URL: absolute, on the registered shop origin, https in live.
fn merchant_url(value: &str, name: &str, rules: &Rules<'_>) -> Result<Url, ApiFailure> {
    let url = Url::parse(value).map_err(|_| invalid(format!("{name} '{value}' is not a valid URL.")))?;
    if rules.live && url.scheme() != "https" {
        return Err(invalid(format!("{name} must use https.")));
    }
    if url.origin().ascii_serialization() != rules.shop_origin {
        return Err(invalid(format!("{name} '{value}' is not on a domain registered for this store.")));
    }
    Ok(url)
}

/// How a payload is checked.
pub(super) struct Rules<'a> {
    /// The registered shop origin: return URLs must lie on it.
    pub shop_origin: &'a str,
    /// Live requires https.
    pub live: bool,
    /// Unknown fields are refused (API requests) or ignored (the button payload).
    pub strict: bool,
}

// ---------------------------------------------------------------------------------------------
// What the merchant sets on a session
// ---------------------------------------------------------------------------------------------

/// `merchantMetadata`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct MerchantMetadata {
    merchant_reference_id: Option<String>,
    merchant_store_name: Option<String>,
    note_to_buyer: Option<String>,
    custom_information: Option<String>,
}

impl MerchantMetadata {
    const FIELDS: [&'static str; 5] =
        ["merchantReferenceId", "merchantStoreName", "noteToBuyer", "customInformation", "merchantStoreReferenceId"];

    /// This metadata with the fields `value` sets.
    fn updated(&self, value: &Value, strict: bool) -> Result<Self, ApiFailure> {
        let name = "merchantMetadata";
        let map = object(value, name, &Self::FIELDS, strict)?;
        let mut next = self.clone();
        let fields = [
            ("merchantReferenceId", &mut next.merchant_reference_id),
            ("merchantStoreName", &mut next.merchant_store_name),
            ("noteToBuyer", &mut next.note_to_buyer),
            ("customInformation", &mut next.custom_information),
        ];
        for (key, slot) in fields {
            if let Some(text) = string_member(map, key, name)? {
                *slot = Some(text);
            }
        }
        Ok(next)
    }

    fn json(&self) -> Value {
        json!({
            "merchantReferenceId": self.merchant_reference_id,
            "merchantStoreName": self.merchant_store_name,
            "noteToBuyer": self.note_to_buyer,
            "customInformation": self.custom_information,
        })
    }

    fn parse(value: &Value) -> Result<Self, ApiFailure> {
        Self::default().updated(value, true)
    }
}

/// The merchant-settable part of a checkout session (create payload and update).
#[derive(Clone, Debug)]
pub(super) struct Details {
    pub review_url: Url,
    pub result_url: Option<Url>,
    pub cancel_url: Option<Url>,
    pub process_order: bool,
    pub intent: Option<Intent>,
    pub can_handle_pending: bool,
    pub charge_amount: Option<u64>,
    pub total_order_amount: Option<u64>,
    pub allow_overcharge: bool,
    pub extend_expiration: bool,
    pub merchant_metadata: MerchantMetadata,
    pub permission_type: PermissionType,
    pub recurring_metadata: Option<Value>,
    pub platform_id: Option<String>,
    pub provider_reference_id: Option<String>,
    pub supplementary_data: Option<String>,
}

const UPDATE_FIELDS: [&str; 9] = [
    "webCheckoutDetails",
    "paymentDetails",
    "merchantMetadata",
    "recurringMetadata",
    "chargePermissionType",
    "platformId",
    "providerMetadata",
    "supplementaryData",
    "multiAddressesCheckoutMetadata",
];
const WEB_CHECKOUT_FIELDS: [&str; 5] = [
    "checkoutReviewReturnUrl",
    "checkoutResultReturnUrl",
    "checkoutCancelUrl",
    "checkoutMode",
    "amazonPayRedirectUrl",
];
const PAYMENT_FIELDS: [&str; 8] = [
    "paymentIntent",
    "canHandlePendingAuthorization",
    "chargeAmount",
    "totalOrderAmount",
    "presentmentCurrency",
    "softDescriptor",
    "allowOvercharge",
    "extendExpiration",
];

impl Details {
    /// A new session's details: only the review URL, which the button check has verified.
    pub(super) fn new(review_url: Url) -> Self {
        Self {
            review_url,
            result_url: None,
            cancel_url: None,
            process_order: false,
            intent: None,
            can_handle_pending: false,
            charge_amount: None,
            total_order_amount: None,
            allow_overcharge: false,
            extend_expiration: false,
            merchant_metadata: MerchantMetadata::default(),
            permission_type: PermissionType::OneTime,
            recurring_metadata: None,
            platform_id: None,
            provider_reference_id: None,
            supplementary_data: None,
        }
    }

    /// These details with what `body` (an update request or a button payload) sets; nothing
    /// changes unless all of it is valid.
    pub(super) fn updated(&self, body: &Value, rules: &Rules<'_>) -> Result<Self, ApiFailure> {
        let mut next = self.clone();
        let top = object(body, "", &UPDATE_FIELDS, rules.strict)?;
        if let Some(web) = member(top, "webCheckoutDetails") {
            let name = "webCheckoutDetails";
            let web = object(web, name, &WEB_CHECKOUT_FIELDS, rules.strict)?;
            if let Some(url) = string_member(web, "checkoutReviewReturnUrl", name)? {
                next.review_url = merchant_url(&url, "webCheckoutDetails.checkoutReviewReturnUrl", rules)?;
            }
            if let Some(url) = string_member(web, "checkoutResultReturnUrl", name)? {
                next.result_url = Some(merchant_url(&url, "webCheckoutDetails.checkoutResultReturnUrl", rules)?);
            }
            if let Some(url) = string_member(web, "checkoutCancelUrl", name)? {
                next.cancel_url = Some(merchant_url(&url, "webCheckoutDetails.checkoutCancelUrl", rules)?);
            }
            match string_member(web, "checkoutMode", name)?.as_deref() {
                None => {}
                Some("ProcessOrder") => next.process_order = true,
                Some(other) => {
                    return Err(invalid(format!("webCheckoutDetails.checkoutMode '{other}' is not valid.")));
                }
            }
        }
        if let Some(payment) = member(top, "paymentDetails") {
            let name = "paymentDetails";
            let payment = object(payment, name, &PAYMENT_FIELDS, rules.strict)?;
            if let Some(intent) = string_member(payment, "paymentIntent", name)? {
                next.intent = Some(match intent.as_str() {
                    "Confirm" => Intent::Confirm,
                    "Authorize" => Intent::Authorize,
                    "AuthorizeWithCapture" => Intent::AuthorizeWithCapture,
                    other => {
                        return Err(invalid(format!(
                            "paymentDetails.paymentIntent '{other}' is not valid: use Confirm, Authorize or AuthorizeWithCapture."
                        )));
                    }
                });
            }
            if let Some(flag) = bool_member(payment, "canHandlePendingAuthorization", name)? {
                next.can_handle_pending = flag;
            }
            if let Some(amount) = member(payment, "chargeAmount") {
                next.charge_amount = Some(parse_price(amount, "paymentDetails.chargeAmount")?);
            }
            if let Some(amount) = member(payment, "totalOrderAmount") {
                next.total_order_amount = Some(parse_price(amount, "paymentDetails.totalOrderAmount")?);
            }
            if let Some(currency) = string_member(payment, "presentmentCurrency", name)? {
                if currency != "JPY" {
                    return Err(bad(
                        "CurrencyMismatch",
                        format!("paymentDetails.presentmentCurrency '{currency}' does not match the ledger currency JPY."),
                    ));
                }
            }
            // softDescriptor: not available in Japan, where Amazon shows a fixed value.
            string_member(payment, "softDescriptor", name)?;
            if let Some(flag) = bool_member(payment, "allowOvercharge", name)? {
                next.allow_overcharge = flag;
            }
            if let Some(flag) = bool_member(payment, "extendExpiration", name)? {
                next.extend_expiration = flag;
            }
        }
        if let Some(metadata) = member(top, "merchantMetadata") {
            next.merchant_metadata = next.merchant_metadata.updated(metadata, rules.strict)?;
        }
        match string_member(top, "chargePermissionType", "")?.as_deref() {
            None => {}
            Some("OneTime") => next.permission_type = PermissionType::OneTime,
            Some("Recurring") => next.permission_type = PermissionType::Recurring,
            Some(other) => {
                return Err(invalid(format!(
                    "chargePermissionType '{other}' is not supported: use OneTime or Recurring."
                )));
            }
        }
        if let Some(metadata) = member(top, "recurringMetadata") {
            next.recurring_metadata = Some(recurring_metadata(metadata, rules.strict)?);
        }
        if let Some(platform) = string_member(top, "platformId", "")? {
            next.platform_id = Some(platform);
        }
        if let Some(provider) = member(top, "providerMetadata") {
            let provider = object(provider, "providerMetadata", &["providerReferenceId"], rules.strict)?;
            if let Some(reference) = string_member(provider, "providerReferenceId", "providerMetadata")? {
                next.provider_reference_id = Some(reference);
            }
        }
        if let Some(data) = string_member(top, "supplementaryData", "")? {
            next.supplementary_data = Some(data);
        }
        if next.permission_type == PermissionType::Recurring
            && next.charge_amount.is_some_and(|yen| yen > RECURRING_MONTHLY_LIMIT_YEN)
        {
            return Err(bad("PeriodicAmountExceeded", PERIODIC_AMOUNT_EXCEEDED_MESSAGE));
        }
        Ok(next)
    }

    /// What still keeps the buyer from paying (`constraints`).
    pub(super) fn constraints(&self) -> Vec<(&'static str, &'static str)> {
        let mut constraints = Vec::new();
        if self.charge_amount.is_none() {
            constraints.push(("ChargeAmountNotSet", "chargeAmount is not set."));
        }
        if self.result_url.is_none() {
            constraints.push(("CheckoutResultReturnUrlNotSet", "checkoutResultReturnUrl is not set."));
        }
        if self.intent.is_none() {
            constraints.push(("PaymentIntentNotSet", "paymentIntent is not set."));
        }
        let frequency = self.recurring_metadata.as_ref().and_then(|m| m.get("frequency")).filter(|f| !f.is_null());
        if self.permission_type == PermissionType::Recurring && frequency.is_none() {
            constraints.push(("RecurringFrequencyNotSet", "recurringMetadata.frequency is not set."));
        }
        constraints
    }
}

/// `recurringMetadata`: `frequency{unit, value}` and an optional `amount`, normalised.
fn recurring_metadata(value: &Value, strict: bool) -> Result<Value, ApiFailure> {
    let map = object(value, "recurringMetadata", &["frequency", "amount"], strict)?;
    let frequency = match member(map, "frequency") {
        None => Value::Null,
        Some(frequency) => {
            let name = "recurringMetadata.frequency";
            let frequency = object(frequency, name, &["unit", "value"], strict)?;
            let unit = string_member(frequency, "unit", name)?
                .ok_or_else(|| bad("MissingParameterValue", format!("{name}.unit is missing.")))?;
            if !["Year", "Month", "Week", "Day", "Variable"].contains(&unit.as_str()) {
                return Err(invalid(format!("{name}.unit '{unit}' is not valid.")));
            }
            let count = match member(frequency, "value") {
                None => None,
                Some(Value::String(text)) => Some(text.clone()),
                Some(Value::Number(number)) => Some(number.to_string()),
                Some(_) => return Err(invalid(format!("{name}.value must be a number."))),
            };
            if let Some(count) = &count {
                if count.parse::<u32>().is_err() {
                    return Err(invalid(format!("{name}.value '{count}' is not a whole number.")));
                }
            }
            json!({ "unit": unit, "value": count })
        }
    };
    let amount = match member(map, "amount") {
        None => Value::Null,
        Some(amount) => price(parse_price(amount, "recurringMetadata.amount")?),
    };
    Ok(json!({ "frequency": frequency, "amount": amount }))
}

// ---------------------------------------------------------------------------------------------
// The objects
// ---------------------------------------------------------------------------------------------

/// How the buyer's authorization at `/checkout/process` went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Processed {
    /// `Confirm`: nothing to authorize yet.
    Confirmed,
    Authorized,
    Pending,
}

/// A checkout session.
pub(super) struct Session {
    pub id: String,
    pub product_type: ProductType,
    pub environment: Environment,
    /// The buyer's account (index into [`TEST_BUYERS`]).
    pub buyer: usize,
    /// The chosen shipping address (index into [`TEST_BUYERS`], whose addresses form the
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
    fn settle(&mut self, now: u64) {
        let deadline = self.created + SESSION_LIFETIME;
        if self.state == SessionState::Open && now >= deadline {
            self.state = SessionState::Canceled;
            self.reason = Some(Reason::new(
                "Expired",
                "The checkout session expired: it was not completed within 24 hours.",
            ));
            self.updated = deadline;
        }
    }

    /// The URL to send the buyer to for payment, once nothing is missing.
    pub(super) fn redirect_url(&self, origin: &str) -> Option<String> {
        (self.state == SessionState::Open && self.details.constraints().is_empty())
            .then(|| format!("{origin}/checkout/process/{}", self.id))
    }

    /// The shop's review URL with `amazonCheckoutSessionId`.
    pub(super) fn review_redirect(&self) -> Url {
        let mut url = self.details.review_url.clone();
        url.query_pairs_mut().append_pair("amazonCheckoutSessionId", &self.id);
        url
    }

    /// The shop's result URL with `amazonCheckoutSessionId`, if set.
    pub(super) fn result_redirect(&self) -> Option<Url> {
        let mut url = self.details.result_url.clone()?;
        url.query_pairs_mut().append_pair("amazonCheckoutSessionId", &self.id);
        Some(url)
    }

    fn ensure_open(&self, doing: &str) -> Result<(), ApiFailure> {
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
pub(super) struct ChargePermission {
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
pub(super) struct Charge {
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
    fn settle(&mut self, now: u64) {
        let deadline = self.created + AUTHORIZATION_LIFETIME;
        if self.state == ChargeState::Authorized && now >= deadline {
            self.state = ChargeState::Canceled;
            self.reason = Some(Reason::new("ExpiredUnused", "The authorization expired after 30 days without capture."));
            self.updated = deadline;
        }
    }

    /// Sets the outcome of an authorization.
    fn apply(&mut self, outcome: Outcome, now: u64) {
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

/// What a reused idempotency key answers.
struct Idempotent {
    body: Value,
    charge_id: String,
}

/// Everything the simulator's Amazon knows about payments.
#[derive(Default)]
pub(super) struct Ledger {
    sessions: HashMap<String, Session>,
    permissions: HashMap<String, ChargePermission>,
    charges: HashMap<String, Charge>,
    idempotency: HashMap<String, Idempotent>,
}

/// What the JSON of an object needs from the request and the configuration.
pub(super) struct View<'a> {
    pub merchant_id: &'a str,
    pub store_id: &'a str,
    /// The simulator's origin as the buyer's browser reaches it.
    pub origin: &'a str,
    pub now: u64,
}

fn not_found(kind: &str, id: &str) -> ApiFailure {
    ApiFailure::new(
        axum::http::StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("The {kind} '{id}' does not exist."),
    )
}

impl Ledger {
    // -- sessions ------------------------------------------------------------------------------

    /// Stores a new session.
    pub(super) fn insert_session(&mut self, session: Session, now: u64) {
        self.sessions.retain(|_, s| now.saturating_sub(s.created) < SESSION_RETENTION);
        self.sessions.insert(session.id.clone(), session);
    }

    /// A session, settled at `now`.
    pub(super) fn session(&mut self, id: &str, now: u64) -> Result<&mut Session, ApiFailure> {
        let session = self
            .sessions
            .get_mut(id)
            .filter(|s| now.saturating_sub(s.created) < SESSION_RETENTION)
            .ok_or_else(|| not_found("Checkout Session", id))?;
        session.settle(now);
        Ok(session)
    }

    /// `PATCH checkoutSessions/{id}`.
    pub(super) fn update_session(
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
    pub(super) fn process(&mut self, id: &str, now: u64) -> Result<&Session, ApiFailure> {
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
                    session.reason = Some(Reason::new(
                        "Declined",
                        format!("{code}: {}", decline_description(code)),
                    ));
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
    pub(super) fn complete(
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
                let expires = if details.extend_expiration {
                    add_months(now, 13)
                } else {
                    now + ONE_TIME_PERMISSION_LIFETIME
                };
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

    pub(super) fn permission(&self, id: &str) -> Result<&ChargePermission, ApiFailure> {
        self.permissions.get(id).ok_or_else(|| not_found("Charge Permission", id))
    }

    pub(super) fn permission_mut(&mut self, id: &str) -> Result<&mut ChargePermission, ApiFailure> {
        self.permissions.get_mut(id).ok_or_else(|| not_found("Charge Permission", id))
    }

    /// A charge, settled at `now`.
    pub(super) fn charge(&mut self, id: &str, now: u64) -> Result<&Charge, ApiFailure> {
        let charge = self.charges.get_mut(id).ok_or_else(|| not_found("Charge", id))?;
        charge.settle(now);
        Ok(charge)
    }

    /// Test control: decides a pending authorization.
    pub(super) fn resolve_pending(&mut self, id: &str, outcome: Outcome, now: u64) -> Result<(), ApiFailure> {
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
    fn balance(&self, permission: &ChargePermission, now: u64) -> u64 {
        let used = match permission.kind {
            PermissionType::OneTime => self.charged_in_total(permission),
            PermissionType::Recurring => self.charged_this_month(permission, now),
        };
        permission.amount_limit.saturating_sub(used)
    }

    /// `POST charges`. `key` is the idempotency key, `body` the parsed request.
    pub(super) fn create_charge(
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
                        format!("chargeAmount {amount} JPY exceeds the Charge Permission's remaining balance of {balance} JPY."),
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
            let id = format!(
                "{}03-{}-{}",
                environment.id_prefix(),
                digits(simulator, 7),
                digits(simulator, 7)
            );
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

    // -- JSON ---------------------------------------------------------------------------------

    /// The Checkout Session object.
    pub(super) fn session_json(session: &Session, view: &View<'_>) -> Value {
        let buyer = &TEST_BUYERS[session.buyer];
        let details = &session.details;
        let constraints: Vec<Value> = if session.state == SessionState::Open {
            details
                .constraints()
                .into_iter()
                .map(|(id, description)| json!({ "constraintId": id, "description": description }))
                .collect()
        } else {
            Vec::new()
        };
        let shipping = (session.state == SessionState::Open && session.product_type.ships())
            .then(|| address_json(&TEST_BUYERS[session.address]));
        json!({
            "checkoutSessionId": session.id,
            "webCheckoutDetails": {
                "checkoutReviewReturnUrl": details.review_url.as_str(),
                "checkoutResultReturnUrl": details.result_url.as_ref().map(Url::as_str),
                "checkoutCancelUrl": details.cancel_url.as_ref().map(Url::as_str),
                "amazonPayRedirectUrl": session.redirect_url(view.origin),
                "checkoutMode": details.process_order.then_some("ProcessOrder"),
            },
            "productType": session.product_type.name(),
            "paymentDetails": {
                "paymentIntent": details.intent.map(Intent::name),
                "canHandlePendingAuthorization": details.can_handle_pending,
                "chargeAmount": details.charge_amount.map(price),
                "totalOrderAmount": details.total_order_amount.map(price),
                "softDescriptor": null,
                "presentmentCurrency": "JPY",
                "allowOvercharge": details.allow_overcharge,
                "extendExpiration": details.extend_expiration,
            },
            "chargePermissionType": details.permission_type.name(),
            "recurringMetadata": details.recurring_metadata,
            "merchantMetadata": details.merchant_metadata.json(),
            "supplementaryData": details.supplementary_data,
            "buyer": buyer_json(buyer, view.merchant_id, &session.scopes),
            "billingAddress": has_scope(&session.scopes, "billingAddress").then(|| address_json(buyer)),
            "paymentPreferences": [{ "paymentDescriptor": session.card.descriptor() }],
            "statusDetails": {
                "state": session.state.name(),
                "reasonCode": session.reason.as_ref().map(|r| r.code),
                "reasonDescription": session.reason.as_ref().map(|r| r.description.as_str()),
                "lastUpdatedTimestamp": timestamp(session.updated),
            },
            "shippingAddress": shipping,
            "platformId": details.platform_id,
            "chargePermissionId": session.charge_permission_id,
            "chargeId": session.charge_id,
            "constraints": constraints,
            "creationTimestamp": timestamp(session.created),
            "expirationTimestamp": timestamp(session.created + SESSION_LIFETIME),
            "storeId": view.store_id,
            "deliverySpecifications": null,
            "providerMetadata": { "providerReferenceId": details.provider_reference_id },
            "releaseEnvironment": session.environment.name(),
        })
    }

    /// The Charge Permission object.
    pub(super) fn permission_json(&self, permission: &ChargePermission, view: &View<'_>) -> Value {
        let buyer = &TEST_BUYERS[permission.buyer];
        let closed = permission_closed(permission, view.now);
        let (state, reasons, updated) = match &closed {
            Some(reason) => (
                "Closed",
                json!([{ "reasonCode": reason.code, "reasonDescription": reason.description }]),
                permission.expires.unwrap_or(permission.created),
            ),
            None => ("Chargeable", Value::Null, permission.created),
        };
        json!({
            "chargePermissionId": permission.id,
            "chargePermissionReferenceId": null,
            "chargePermissionType": permission.kind.name(),
            "recurringMetadata": permission.recurring_metadata,
            "buyer": buyer_json(buyer, view.merchant_id, &permission.scopes),
            "shippingAddress": permission.address.map(|a| address_json(&TEST_BUYERS[a])),
            "billingAddress": has_scope(&permission.scopes, "billingAddress").then(|| address_json(buyer)),
            "paymentPreferences": [{ "paymentDescriptor": permission.card.descriptor() }],
            "statusDetails": {
                "state": state,
                "reasons": reasons,
                "lastUpdatedTimestamp": timestamp(updated),
            },
            "creationTimestamp": timestamp(permission.created),
            "expirationTimestamp": permission.expires.map(timestamp),
            "merchantMetadata": permission.merchant_metadata.json(),
            "platformId": permission.platform_id,
            "limits": {
                "amountLimit": price(permission.amount_limit),
                "amountBalance": price(self.balance(permission, view.now)),
            },
            "presentmentCurrency": "JPY",
            "releaseEnvironment": permission.environment.name(),
        })
    }

    /// The Charge object.
    pub(super) fn charge_json(charge: &Charge) -> Value {
        json!({
            "chargeId": charge.id,
            "chargePermissionId": charge.permission_id,
            "chargeAmount": price(charge.amount),
            "captureAmount": charge.captured.map(price),
            "refundedAmount": null,
            "convertedAmount": null,
            "conversionRate": null,
            "softDescriptor": null,
            "captureNow": charge.capture_now,
            "canHandlePendingAuthorization": charge.can_handle_pending,
            "providerMetadata": { "providerReferenceId": null },
            "merchantMetadata": charge.merchant_metadata.as_ref().map(MerchantMetadata::json),
            "creationTimestamp": timestamp(charge.created),
            "expirationTimestamp": timestamp(charge.created + AUTHORIZATION_LIFETIME),
            "statusDetails": {
                "state": charge.state.name(),
                "reasonCode": charge.reason.as_ref().map(|r| r.code),
                "reasonDescription": charge.reason.as_ref().map(|r| r.description.as_str()),
                "lastUpdatedTimestamp": timestamp(charge.updated),
            },
            "platformId": null,
            "webCheckoutDetails": null,
            "releaseEnvironment": charge.environment.name(),
        })
    }
}

/// Why a permission is Closed at `now`, if it is.
fn permission_closed(permission: &ChargePermission, now: u64) -> Option<Reason> {
    permission
        .expires
        .is_some_and(|expires| now >= expires)
        .then(|| Reason::new("Expired", "The Charge Permission expired."))
}

/// Checkout scopes: none asked for means everything.
fn has_scope(scopes: &[String], scope: &str) -> bool {
    scopes.is_empty() || scopes.iter().any(|s| s == scope)
}

fn buyer_json(buyer: &TestBuyer, merchant_id: &str, scopes: &[String]) -> Value {
    json!({
        "buyerId": buyer.buyer_id(merchant_id),
        "name": has_scope(scopes, "name").then_some(buyer.name),
        "email": has_scope(scopes, "email").then_some(buyer.email),
        "phoneNumber": has_scope(scopes, "phoneNumber").then_some(buyer.phone),
        "primeMembershipTypes": null,
    })
}

/// An address as Amazon returns it in Japan: prefecture and lines; city, county, district empty.
fn address_json(buyer: &TestBuyer) -> Value {
    json!({
        "name": buyer.name,
        "addressLine1": buyer.line1,
        "addressLine2": buyer.line2,
        "addressLine3": "",
        "city": null,
        "county": null,
        "district": null,
        "stateOrRegion": buyer.prefecture,
        "postalCode": buyer.postal_code,
        "countryCode": "JP",
        "phoneNumber": buyer.phone,
    })
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

fn datetime(unix: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(i64::MAX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Amazon's basic ISO 8601 timestamp: `20261128T101414Z`.
pub(super) fn timestamp(unix: u64) -> String {
    datetime(unix)
        .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_default()
}

/// The Japanese calendar month (UTC+9) of a moment.
fn jst_month(unix: u64) -> (i32, u8) {
    let local = datetime(unix.saturating_add(JST_OFFSET.unsigned_abs()));
    (local.year(), u8::from(local.month()))
}

/// `unix` plus whole calendar months (the day clamped to the month's length).
fn add_months(unix: u64, months: u32) -> u64 {
    let start = datetime(unix);
    let index = start.year() * 12 + i32::from(u8::from(start.month())) - 1 + i32::try_from(months).unwrap_or(0);
    let (year, month) = (index.div_euclid(12), u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1));
    let Ok(month) = time::Month::try_from(month) else { return unix };
    let day = start.day().min(time::util::days_in_month(month, year));
    time::Date::from_calendar_date(year, month, day)
        .map(|date| start.replace_date(date).unix_timestamp().max(0).unsigned_abs())
        .unwrap_or(unix)
}

/// `n` random decimal digits.
fn digits(simulator: &Simulator, n: usize) -> String {
    simulator.random_bytes::<8>().iter().cycle().take(n).map(|b| char::from(b'0' + b % 10)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_amounts_follow_amazons_japanese_rules() {
        assert_eq!(parse_yen("2750", "a").unwrap(), 2750);
        assert_eq!(parse_yen("10000000", "a").unwrap(), MAX_CHARGE_YEN);
        for bad in ["10000001", "0", "", "-1", "27.50", "2750.0", "1e3", "2,750", "999999999999999999999"] {
            let failure = parse_yen(bad, "chargeAmount").unwrap_err();
            assert_eq!(failure.reason_code, "InvalidParameterValue", "{bad}");
        }
        assert!(parse_yen("10000001", "a").unwrap_err().message.contains("10,000,000"));
        let usd = parse_price(&json!({"amount": "10", "currencyCode": "USD"}), "chargeAmount").unwrap_err();
        assert_eq!(usd.reason_code, "CurrencyMismatch");
        assert_eq!(parse_price(&json!({"amount": 2750, "currencyCode": "JPY"}), "a").unwrap(), 2750);
    }

    #[test]
    fn timestamps_and_jst_months() {
        // 2026-11-28T10:14:14Z
        assert_eq!(timestamp(1_795_860_854), "20261128T101414Z");
        // 2026-11-30T15:00:00Z is 2026-12-01 00:00 JST.
        let midnight = 1_796_050_800;
        assert_eq!(timestamp(midnight), "20261130T150000Z");
        assert_eq!(jst_month(midnight - 1), (2026, 11));
        assert_eq!(jst_month(midnight), (2026, 12));
        // 13 months from 2026-01-31 is 2027-02-28.
        let start = 1_769_817_600; // 2026-01-31T00:00:00Z
        assert_eq!(timestamp(add_months(start, 13)), "20270228T000000Z");
    }
}
