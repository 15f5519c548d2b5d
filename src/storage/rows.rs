//! Reading the rows several behaviours share: an order's columns and what they hold.

use sqlx::any::AnyRow;
use time::Date;
use time::macros::format_description;

use super::StorageError;
use super::sql::Fields;
use crate::core::orders::{Authorization, OrderState};
use crate::core::platform::{CartId, MemberId, Order, OrderId, Plan, SubscriptionCycle, SubscriptionId};

/// The columns [`order`] reads, in its order; `(o)`: of the table named `o` (a macro, so that
/// statements are `concat!`-ed into static text).
macro_rules! order_columns {
    () => {
        "id, order_number, member_id, checkout_session_id, subscription_id, cycle, total, recurring, \
            state, charge_permission_id, charge_id, note, created_at, updated_at, cart_id, version, \
            authorized_amount, authorized_at, captured_amount, refunded_amount, plan, refund_requests"
    };
    (o) => {
        "o.id, o.order_number, o.member_id, o.checkout_session_id, o.subscription_id, o.cycle, o.total, \
            o.recurring, o.state, o.charge_permission_id, o.charge_id, o.note, o.created_at, o.updated_at, \
            o.cart_id, o.version, o.authorized_amount, o.authorized_at, o.captured_amount, \
            o.refunded_amount, o.plan, o.refund_requests"
    };
}
pub(crate) use order_columns;

/// How many columns [`order_columns`] names.
pub(crate) const ORDER_COLUMN_COUNT: usize = 22;

/// An order from the first [`ORDER_COLUMN_COUNT`] columns of `row` ([`order_columns`]).
pub(crate) fn order(row: &AnyRow) -> Result<Order, StorageError> {
    let cycle = match (row.opt_int(4)?, row.opt_text(5)?) {
        (Some(id), Some(day)) => Some(SubscriptionCycle {
            subscription: SubscriptionId(id),
            day: parse_date(&day).ok_or_else(|| bad_column("cycle"))?,
        }),
        _ => None,
    };
    Ok(Order {
        id: OrderId(row.int(0)?),
        number: row.opt_text(1)?.unwrap_or_default(),
        member: row.opt_int(2)?.map(MemberId),
        checkout_session_id: row.opt_text(3)?,
        cycle,
        total: row.yen(6)?,
        recurring: row.flag(7)?,
        state: OrderState::parse(&row.text(8)?).ok_or_else(|| bad_column("state"))?,
        charge_permission_id: row.opt_text(9)?,
        charge_id: row.opt_text(10)?,
        note: row.text(11)?,
        created_at: row.int(12)?,
        updated_at: row.int(13)?,
        cart: row.opt_text(14)?.map(CartId),
        version: row.int(15)?,
        authorized: match (row.opt_int(16)?, row.opt_int(17)?) {
            (Some(amount), Some(at)) => Some(Authorization { amount: amount.max(0).unsigned_abs(), at }),
            _ => None,
        },
        captured: row.yen(18)?,
        refunded: row.yen(19)?,
        plan: plan(row.opt_text(20)?)?,
        refund_requests: u32::try_from(row.int(21)?).map_err(|_| bad_column("refund_requests"))?,
    })
}

/// A subscription's plan as stored (JSON), back.
pub(crate) fn plan(json: Option<String>) -> Result<Option<Plan>, StorageError> {
    json.map(|json| serde_json::from_str(&json).map_err(|_| bad_column("plan"))).transpose()
}

/// A plan as stored.
pub(crate) fn plan_json(plan: Option<&Plan>) -> Option<String> {
    // A plan is plain data: serializing it cannot fail.
    plan.and_then(|plan| serde_json::to_string(plan).ok())
}

/// A day as stored (`YYYY-MM-DD`), back.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

pub(crate) fn bad_column(what: &str) -> StorageError {
    StorageError::Database(format!("unreadable {what} in the database"))
}

/// Unix seconds.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A position in a list as a BIGINT.
pub(crate) fn position(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}
