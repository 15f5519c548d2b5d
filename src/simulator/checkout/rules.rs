//! Amazon's rules in Japan: the limits and lifetimes, how a request's amounts, URLs and
//! fields are checked, and the clock arithmetic behind expiry and the recurring month.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use url::Url;

use crate::simulator::api::ApiFailure;

/// The largest charge, capture or refund in Japan: Amazon's charge documentation says
/// "日本:10,000,000円".
pub(in crate::simulator) const MAX_CHARGE_YEN: u64 = 10_000_000;
/// What a Recurring charge permission may charge per calendar month in Japan (¥100,000; the
/// balance resets on the 1st).
pub(in crate::simulator) const RECURRING_MONTHLY_LIMIT_YEN: u64 = 100_000;
/// Amazon's words for the monthly cap (its `PeriodicAmountExceeded` answer).
pub(in crate::simulator) const PERIODIC_AMOUNT_EXCEEDED_MESSAGE: &str = "You've exceeded the monthly limit for the Charge Permission and must wait until the next month to charge this buyer.";

const HOUR: u64 = 60 * 60;
const DAY: u64 = 24 * HOUR;
/// Open sessions not completed within 24 hours are canceled (Amazon's API FAQ).
pub(in crate::simulator) const SESSION_LIFETIME: u64 = 24 * HOUR;
/// Amazon deletes sessions 30 days after creation.
pub(super) const SESSION_RETENTION: u64 = 30 * DAY;
/// An authorization is valid for 30 days; then the charge is `Canceled` (`ExpiredUnused`).
pub(in crate::simulator) const AUTHORIZATION_LIFETIME: u64 = 30 * DAY;
/// Amazon processes a capture requested more than 7 days after the authorization
/// asynchronously (`CaptureInitiated`, then `Captured`).
pub(super) const SYNCHRONOUS_CAPTURE_WINDOW: u64 = 7 * DAY;
/// How long the simulator takes to process an asynchronous capture, on its clock. Amazon
/// publishes no duration (a shop must wait for the IPN or ask getCharge); a minute keeps the
/// demo moving.
pub(super) const CAPTURE_PROCESSING: u64 = 60;
/// How long the simulator takes to process a refund, on its clock (Amazon: "the outcome
/// arrives by IPN or getRefund", no duration published).
pub(super) const REFUND_PROCESSING: u64 = 60;
/// A OneTime charge permission lives 180 days (13 months with `extendExpiration`).
pub(super) const ONE_TIME_PERMISSION_LIFETIME: u64 = 180 * DAY;
/// Create Charge works up to 25 times per OneTime charge permission (Amazon's Japanese
/// deferred-transactions guide: "作成できる有効なChargeの数は25個").
pub(super) const MAX_CHARGES_PER_ONE_TIME_PERMISSION: usize = 25;
/// The longest free text Amazon takes (`closureReason`, `cancellationReason`).
pub(super) const MAX_REASON_LENGTH: usize = 255;

/// What the refunds of a charge may add up to in Japan: the captured amount plus 15 % of it or
/// ¥8,400, whichever is less (Amazon's Japanese refund guide).
pub(super) fn refund_ceiling(captured: u64) -> u64 {
    captured + (captured * 15 / 100).min(8_400)
}
/// Japan Standard Time, for the recurring calendar month.
const JST_OFFSET: i64 = 9 * 3600;

// ---------------------------------------------------------------------------------------------
// Request parsing: Amazon's rules for amounts, URLs and fields
// ---------------------------------------------------------------------------------------------

pub(super) fn bad(reason_code: &'static str, message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(axum::http::StatusCode::BAD_REQUEST, reason_code, message)
}

pub(super) fn invalid(message: impl Into<String>) -> ApiFailure {
    bad("InvalidParameterValue", message)
}

pub(super) fn unprocessable(reason_code: &'static str, message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, reason_code, message)
}

/// The request body as JSON (an empty body reads as `{}`).
pub(in crate::simulator) fn parse_body(body: &[u8]) -> Result<Value, ApiFailure> {
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
pub(super) fn object<'a>(
    value: &'a Value,
    name: &str,
    allowed: &[&str],
    strict: bool,
) -> Result<&'a Map<String, Value>, ApiFailure> {
    let map = value.as_object().ok_or_else(|| invalid(format!("{name} must be a JSON object.")))?;
    if strict && let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
        let field = if name.is_empty() { unknown.clone() } else { format!("{name}.{unknown}") };
        return Err(bad("UnrecognizedField", format!("The field '{field}' is not recognized.")));
    }
    Ok(map)
}

/// A present, non-null member.
pub(super) fn member<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

pub(super) fn string_member(map: &Map<String, Value>, key: &str, name: &str) -> Result<Option<String>, ApiFailure> {
    match member(map, key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(invalid(format!("{name}.{key} must be a string."))),
    }
}

pub(super) fn bool_member(map: &Map<String, Value>, key: &str, name: &str) -> Result<Option<bool>, ApiFailure> {
    match member(map, key) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(invalid(format!("{name}.{key} must be true or false."))),
    }
}

/// A price (`{"amount":"2750","currencyCode":"JPY"}`): JPY only, whole yen, 1..=¥10,000,000.
pub(in crate::simulator) fn parse_price(value: &Value, name: &str) -> Result<u64, ApiFailure> {
    let map =
        value.as_object().ok_or_else(|| invalid(format!("{name} must be an object with amount and currencyCode.")))?;
    if let Some(unknown) = map.keys().find(|key| *key != "amount" && *key != "currencyCode") {
        return Err(bad("UnrecognizedField", format!("The field '{name}.{unknown}' is not recognized.")));
    }
    let currency = match member(map, "currencyCode") {
        None => {
            return Err(bad("MissingParameterValue", format!("{name}.currencyCode is missing.")));
        }
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
        None => {
            return Err(bad("MissingParameterValue", format!("{name}.amount is missing.")));
        }
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
        invalid(format!("{name}.amount {text} exceeds the maximum of ¥10,000,000 (10000000 JPY) per charge in Japan."))
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
pub(in crate::simulator) fn price(yen: u64) -> Value {
    json!({ "amount": yen.to_string(), "currencyCode": "JPY" })
}

/// A merchant URL: absolute, https in live, and on a domain registered for the store (see
/// [`Rules::allows`]).
pub(super) fn merchant_url(value: &str, name: &str, rules: &Rules<'_>) -> Result<Url, ApiFailure> {
    let url = Url::parse(value).map_err(|_| invalid(format!("{name} '{value}' is not a valid URL.")))?;
    if rules.live && url.scheme() != "https" {
        return Err(invalid(format!("{name} must use https.")));
    }
    if !rules.allows(&url) {
        return Err(invalid(format!("{name} '{value}' is not on a domain registered for this store.")));
    }
    Ok(url)
}

/// How a payload is checked.
pub(in crate::simulator) struct Rules<'a> {
    /// The JavaScript origins registered for the payload's store: return URLs must lie on one.
    pub origins: &'a [String],
    /// Live requires https.
    pub live: bool,
    /// Unknown fields are refused (API requests) or ignored (the button payload).
    pub strict: bool,
}

impl Rules<'_> {
    /// Whether a merchant URL lies on a domain registered for the store. Live: on one of its
    /// JavaScript origins (Amazon: "In Live it must be HTTPS and its domain registered in
    /// Seller Central"). Sandbox: the same once the store has registered any origin (the first
    /// merchant always has its shop's); a store that has registered none takes any, as Amazon's
    /// guide says that domains tested in Sandbox need not be added to the JavaScript origins.
    pub(in crate::simulator) fn allows(&self, url: &Url) -> bool {
        let origin = url.origin().ascii_serialization();
        if self.origins.contains(&origin) {
            return true;
        }
        !self.live && self.origins.is_empty() && origin != "null"
    }
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

fn datetime(unix: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(i64::MAX)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Amazon's basic ISO 8601 timestamp: `20261128T101414Z`.
pub(in crate::simulator) fn timestamp(unix: u64) -> String {
    datetime(unix).format(format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap_or_default()
}

/// The Japanese calendar month (UTC+9) of a moment.
pub(super) fn jst_month(unix: u64) -> (i32, u8) {
    let local = datetime(unix.saturating_add(JST_OFFSET.unsigned_abs()));
    (local.year(), u8::from(local.month()))
}

/// `unix` plus whole calendar months (the day clamped to the month's length).
pub(super) fn add_months(unix: u64, months: u32) -> u64 {
    let start = datetime(unix);
    let index = start.year() * 12 + i32::from(u8::from(start.month())) - 1 + i32::try_from(months).unwrap_or(0);
    let (year, month) = (index.div_euclid(12), u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1));
    let Ok(month) = time::Month::try_from(month) else {
        return unix;
    };
    let day = start.day().min(time::util::days_in_month(month, year));
    time::Date::from_calendar_date(year, month, day)
        .map(|date| start.replace_date(date).unix_timestamp().max(0).unsigned_abs())
        .unwrap_or(unix)
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
