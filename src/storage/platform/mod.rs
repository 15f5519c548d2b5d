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

mod carts;
mod members;
mod orders;
mod subscriptions;

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
