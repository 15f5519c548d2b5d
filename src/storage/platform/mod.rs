//! The seam, implemented once for both databases: the built-in shop's members, carts, orders and
//! subscriptions as the core sees them ([`crate::core::platform`]), with the atomicity each method
//! of the seam promises held across every instance on the database.
//!
//! How that holds with several writers at once (PostgreSQL, several server instances; SQLite,
//! the server beside a command): an order moves only from the state it was read in (a
//! compare-and-set `UPDATE … WHERE state = $from`: a concurrent move of the same order makes it
//! wait, then find the state changed and update nothing); one checkout session (or one
//! subscription cycle) opens one order (their unique keys decide between two instances opening
//! it at once: the second insert waits for the first, then inserts nothing and reads the first's
//! order); a buyer links to one member (both keys unique: of two links at once, one inserts and
//! the other finds out which key was taken); a refund counts once (its ID is the key). On SQLite
//! a write transaction holds the database's write lock from its start, so the rows read in it
//! stay as read; on PostgreSQL the rows read to be changed are locked (`FOR UPDATE`).

/// The columns [`order`] reads, in its order (a macro, so that statements are `concat!`-ed into
/// static text).
macro_rules! order_columns {
    () => {
        "id, order_number, member_id, checkout_session_id, subscription_id, cycle, total, recurring, state, \
         charge_permission_id, charge_id, note, created_at, updated_at, cart_id, version, authorized_amount, \
         authorized_at, captured_amount, refunded_amount, plan, refund_requests"
    };
}

mod carts;
mod members;
mod orders;
mod subscriptions;

use sqlx::any::AnyRow;
use time::Date;
use time::macros::format_description;

use super::StorageError;
use super::sql::Fields;
use crate::core::orders::OrderState;
use crate::core::platform::{CartId, MemberId, Order, OrderId, Plan, SubscriptionId};

/// The columns [`order`] reads, for statements composed elsewhere (the back office's).
#[allow(dead_code)]
pub(crate) const ORDER_COLUMNS: &str = order_columns!();

/// An order from the first 22 columns of `row` ([`ORDER_COLUMNS`]).
pub(crate) fn order(row: &AnyRow) -> Result<Order, StorageError> {
    let cycle = match (row.opt_int(4)?, row.opt_text(5)?) {
        (Some(id), Some(day)) => Some((SubscriptionId(id), parse_date(&day).ok_or_else(|| bad_column("cycle"))?)),
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
            (Some(amount), Some(at)) => Some((amount.max(0).unsigned_abs(), at)),
            _ => None,
        },
        captured: row.yen(18)?,
        refunded: row.yen(19)?,
        plan: plan(row.opt_text(20)?)?,
        refund_requests: u32::try_from(row.int(21)?).map_err(|_| bad_column("refund_requests"))?,
    })
}

/// A subscription's plan as stored (JSON), back.
fn plan(json: Option<String>) -> Result<Option<Plan>, StorageError> {
    json.map(|json| serde_json::from_str(&json).map_err(|_| bad_column("plan"))).transpose()
}

/// A plan as stored.
fn plan_json(plan: Option<&Plan>) -> Option<String> {
    // A plan is plain data: serializing it cannot fail.
    plan.and_then(|plan| serde_json::to_string(plan).ok())
}

/// A day as stored (`YYYY-MM-DD`), back.
fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

fn bad_column(what: &str) -> StorageError {
    StorageError::Database(format!("unreadable {what} in the database"))
}

/// Unix seconds.
fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use crate::core::orders::{Actor, AmazonIds, Authorization, OrderState, Outcome, Transition, settle};
    use crate::core::platform::{NewOrder, Opened, OrderLine, Orders, ShippingMethod};
    use crate::storage::{BackOffice, Product, Shop, sqlite_for_tests};

    /// 「エラーを無視して変更する」 is a flag of the history line, its detail Amazon's words as given.
    #[tokio::test]
    async fn a_forced_move_is_recorded_as_forced_with_its_detail_as_given() {
        let (db, _dir) = sqlite_for_tests("forced").await;
        db.seed_catalogue(
            &[Product { id: 1, name: "マグカップ".into(), price: 2_750, recurring: false }],
            &[ShippingMethod { id: 1, name: "宅配便".into(), fee: 880, amazon_pay_allowed: true }],
        )
        .await
        .unwrap();
        let new = NewOrder {
            member: None,
            checkout_session_id: Some("cs-forced".into()),
            cart: None,
            buyer_name: String::new(),
            buyer_email: String::new(),
            cycle: None,
            lines: vec![OrderLine { name: "マグカップ".into(), unit_price: 2_750, quantity: 1 }],
            shipping_fee: 880,
            total: 3_630,
            recurring: false,
            plan: None,
        };
        let Opened::New(order) = db.open_order(&new).await.unwrap() else { panic!("new") };
        let claimed = db
            .apply(&Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap())
            .await
            .unwrap()
            .unwrap();
        let authorized = db
            .apply(
                &settle(
                    &claimed,
                    Outcome::Authorized(Authorization { amount: 3_630, at: 1_795_860_854 }),
                    AmazonIds { charge_permission_id: Some("S03-F".into()), charge_id: Some("S03-F-C1".into()) },
                    time::macros::date!(2026 - 12 - 30),
                    Actor::Shopper,
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        let forced = Transition::forced(&authorized, OrderState::Canceled, "admin", "Amazon の状態: Canceled");
        assert_eq!(db.apply(&forced).await.unwrap().unwrap().state, OrderState::Canceled);

        let events = db.order_detail(order.id).await.unwrap().unwrap().events;
        let lines: Vec<(&str, bool)> = events.iter().map(|e| (e.detail.as_str(), e.forced)).collect();
        assert_eq!(lines[..2], [("opened", false), ("claim", false)]);
        assert_eq!(lines.last(), Some(&("Amazon の状態: Canceled", true)));
        assert_eq!(events.last().unwrap().actor, "owner:admin");
    }
}
