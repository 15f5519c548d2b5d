//! Whether Amazon Pay can serve a cart, and the calendar of subscriptions: Japan's rules.
//!
//! Amazon Pay in Japan charges whole yen, at most ¥10,000,000 per charge; a recurring charge
//! permission may be charged at most ¥100,000 per calendar month (Japan time), the sum resetting
//! on the 1st.

use time::{Date, Month};

use super::platform::Cart;
use crate::contract::UnavailableReason;

/// Amazon Pay Japan charges a recurring charge permission at most ¥100,000 a calendar month.
pub const RECURRING_MONTHLY_LIMIT: u64 = 100_000;

/// Why Amazon Pay cannot serve `cart`, if it cannot: said on the page instead of a button that
/// would fail later.
pub fn unavailable(cart: Option<&Cart>) -> Option<UnavailableReason> {
    let Some(cart) = cart.filter(|cart| !cart.is_empty()) else {
        return Some(UnavailableReason::CartEmpty);
    };
    if !cart.shipping.amazon_pay_allowed {
        return Some(UnavailableReason::ShippingMethodNotAllowed);
    }
    // The checkout's charge (the whole cart, one-time lines too) is the first charge on the
    // recurring permission in its month; later months charge only what recurs, which is less.
    if cart.is_recurring() && cart.total() > RECURRING_MONTHLY_LIMIT {
        return Some(UnavailableReason::RecurringMonthlyLimit);
    }
    None
}

/// The same day next month, or that month's last day (31 January → 28/29 February).
pub fn next_month(date: Date) -> Date {
    let (year, month) = match date.month() {
        Month::December => (date.year() + 1, Month::January),
        month => (date.year(), month.next()),
    };
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

/// Today in Japan (UTC+9): subscription cycles and Amazon's monthly limit follow the Japanese
/// calendar.
pub fn today_in_japan() -> Date {
    let offset = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::now_utc().to_offset(offset).date()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::core::platform::{CartCheckout, CartId, CartLine, ShippingMethod};

    fn cart(price: u64, recurring: bool, fee: u64, allowed: bool) -> Cart {
        Cart {
            id: CartId("c".into()),
            lines: vec![CartLine { product_id: 1, name: "器".into(), unit_price: price, quantity: 1, recurring }],
            shipping: ShippingMethod { id: 1, name: "宅配便".into(), fee, amazon_pay_allowed: allowed },
            checkout: CartCheckout::default(),
        }
    }

    #[test]
    fn a_subscription_of_exactly_100000_a_month_is_allowed_and_100001_is_not() {
        assert_eq!(unavailable(Some(&cart(99_120, true, 880, true))), None);
        assert_eq!(unavailable(Some(&cart(99_121, true, 880, true))), Some(UnavailableReason::RecurringMonthlyLimit));
        assert_eq!(
            unavailable(Some(&cart(500_000, false, 880, true))),
            None,
            "one-time purchases have no monthly limit"
        );
    }

    #[test]
    fn empty_carts_and_shipping_methods_without_amazon_pay_are_refused() {
        assert_eq!(unavailable(None), Some(UnavailableReason::CartEmpty));
        let mut empty = cart(1, false, 0, true);
        empty.lines.clear();
        assert_eq!(unavailable(Some(&empty)), Some(UnavailableReason::CartEmpty));
        assert_eq!(unavailable(Some(&cart(2_750, false, 0, false))), Some(UnavailableReason::ShippingMethodNotAllowed));
    }

    #[test]
    fn next_month_keeps_the_day_or_takes_the_months_last() {
        assert_eq!(next_month(date!(2026 - 11 - 28)), date!(2026 - 12 - 28));
        assert_eq!(next_month(date!(2026 - 12 - 15)), date!(2027 - 01 - 15));
        assert_eq!(next_month(date!(2027 - 01 - 31)), date!(2027 - 02 - 28));
        assert_eq!(next_month(date!(2028 - 01 - 31)), date!(2028 - 02 - 29));
    }
}
