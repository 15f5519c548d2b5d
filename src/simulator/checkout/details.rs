//! What the merchant sets on a checkout session: the create payload and updates.

use serde_json::{Value, json};
use url::Url;

use super::objects::{Intent, PermissionType};
use super::rules::{
    PERIODIC_AMOUNT_EXCEEDED_MESSAGE, RECURRING_MONTHLY_LIMIT_YEN, Rules, bad, bool_member, invalid, member,
    merchant_url, object, parse_price, price, string_member,
};
use crate::simulator::api::ApiFailure;

/// `merchantMetadata`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::simulator) struct MerchantMetadata {
    merchant_reference_id: Option<String>,
    merchant_store_name: Option<String>,
    note_to_buyer: Option<String>,
    custom_information: Option<String>,
}

impl MerchantMetadata {
    const FIELDS: [&'static str; 5] =
        ["merchantReferenceId", "merchantStoreName", "noteToBuyer", "customInformation", "merchantStoreReferenceId"];

    /// This metadata with the fields `value` sets.
    pub(super) fn updated(&self, value: &Value, strict: bool) -> Result<Self, ApiFailure> {
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

    pub(super) fn json(&self) -> Value {
        json!({
            "merchantReferenceId": self.merchant_reference_id,
            "merchantStoreName": self.merchant_store_name,
            "noteToBuyer": self.note_to_buyer,
            "customInformation": self.custom_information,
        })
    }

    pub(super) fn parse(value: &Value) -> Result<Self, ApiFailure> {
        Self::default().updated(value, true)
    }
}

/// The merchant-settable part of a checkout session (create payload and update).
#[derive(Clone, Debug)]
pub(in crate::simulator) struct Details {
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
const WEB_CHECKOUT_FIELDS: [&str; 5] =
    ["checkoutReviewReturnUrl", "checkoutResultReturnUrl", "checkoutCancelUrl", "checkoutMode", "amazonPayRedirectUrl"];
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
    pub(in crate::simulator) fn new(review_url: Url) -> Self {
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
    pub(in crate::simulator) fn updated(&self, body: &Value, rules: &Rules<'_>) -> Result<Self, ApiFailure> {
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
            if let Some(currency) = string_member(payment, "presentmentCurrency", name)?
                && currency != "JPY"
            {
                return Err(bad(
                    "CurrencyMismatch",
                    format!("paymentDetails.presentmentCurrency '{currency}' does not match the ledger currency JPY."),
                ));
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
    pub(in crate::simulator) fn constraints(&self) -> Vec<(&'static str, &'static str)> {
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
pub(super) fn recurring_metadata(value: &Value, strict: bool) -> Result<Value, ApiFailure> {
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
            if let Some(count) = &count
                && count.parse::<u32>().is_err()
            {
                return Err(invalid(format!("{name}.value '{count}' is not a whole number.")));
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
