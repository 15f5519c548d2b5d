//! The seam, implemented on PostgreSQL: the built-in shop's members, carts, orders and
//! subscriptions as the core sees them, with the atomicity each method of the seam promises held
//! across every instance on the database.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use time::Date;
use time::macros::format_description;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{Postgres, db_yen, now, position, yen};
use crate::core::orders::{Effect, Landing, OrderState, Transition};
use crate::core::platform::{
    Cart, CartCheckout, CartId, CartLine, Carts, LinkRefusal, Member, MemberId, Members, NewOrder, Opened, Order,
    OrderId, OrderLine, Orders, Plan, PlatformError, Refund, RefundState, ShippingMethod, Subscription, SubscriptionId,
    Subscriptions,
};
use crate::storage::StorageError;

const MEMBER_SELECT: &str = "SELECT m.id, m.family_name || ' ' || m.given_name, m.email, l.buyer_id
     FROM members m LEFT JOIN amazon_links l ON l.member_id = m.id";

fn member(row: &Row) -> Result<Member, StorageError> {
    Ok(Member {
        id: MemberId(row.try_get(0)?),
        name: row.try_get(1)?,
        email: row.try_get(2)?,
        buyer_id: row.try_get(3)?,
    })
}

impl Postgres {
    async fn member_where(&self, condition: &str, value: &(dyn ToSql + Sync)) -> Result<Option<Member>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(&client.prepare_cached(&format!("{MEMBER_SELECT} WHERE {condition}")).await?, &[value])
                .await?;
            row.as_ref().map(member).transpose()
        })
        .await
    }
}

#[async_trait]
impl Members for Postgres {
    async fn member(&self, id: MemberId) -> Result<Option<Member>, PlatformError> {
        Ok(self.member_where("m.id = $1", &id.0).await?)
    }

    async fn member_by_buyer(&self, buyer_id: &str) -> Result<Option<Member>, PlatformError> {
        Ok(self.member_where("l.buyer_id = $1", &buyer_id).await?)
    }

    async fn member_by_email(&self, email: &str) -> Result<Option<Member>, PlatformError> {
        Ok(self.member_where("lower(m.email) = lower($1)", &email).await?)
    }

    async fn link(&self, member: MemberId, buyer_id: &str) -> Result<Result<(), LinkRefusal>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                // Both keys are unique: of two instances linking at once, one inserts and the
                // other finds out which key was taken.
                let inserted = client
                    .execute(
                        &client
                            .prepare_cached(
                                "INSERT INTO amazon_links (member_id, buyer_id, linked_at) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                            )
                            .await?,
                        &[&member.0, &buyer_id, &now()],
                    )
                    .await?;
                if inserted == 1 {
                    return Ok(Ok(()));
                }
                let linked = client
                    .query_opt(
                        &client.prepare_cached("SELECT 1 FROM amazon_links WHERE member_id = $1").await?,
                        &[&member.0],
                    )
                    .await?;
                Ok(Err(if linked.is_some() { LinkRefusal::MemberLinked } else { LinkRefusal::BuyerTaken }))
            })
            .await?)
    }

    async fn unlink(&self, member: MemberId) -> Result<bool, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                Ok(client
                    .execute(
                        &client.prepare_cached("DELETE FROM amazon_links WHERE member_id = $1").await?,
                        &[&member.0],
                    )
                    .await?
                    == 1)
            })
            .await?)
    }
}

/// A cart with its lines.
pub(super) async fn read_cart(client: &impl GenericClient, id: &str) -> Result<Option<Cart>, StorageError> {
    let head = client
        .query_opt(
            &client
                .prepare_cached(
                    "SELECT s.id, s.name, s.fee, s.amazon_pay_allowed, c.review_ref, c.checkout_session_id
             FROM carts c JOIN shipping_methods s ON s.id = c.shipping_method_id WHERE c.id = $1",
                )
                .await?,
            &[&id],
        )
        .await?;
    let Some(head) = head else { return Ok(None) };
    let shipping = ShippingMethod {
        id: head.try_get(0)?,
        name: head.try_get(1)?,
        fee: yen(head.try_get(2)?),
        amazon_pay_allowed: head.try_get(3)?,
    };
    let checkout = CartCheckout { review_ref: head.try_get(4)?, checkout_session_id: head.try_get(5)? };
    let lines = client
        .query(
            &client
                .prepare_cached(
                    "SELECT p.id, p.name, p.price, p.recurring, i.quantity FROM cart_items i
             JOIN products p ON p.id = i.product_id WHERE i.cart_id = $1 ORDER BY p.id",
                )
                .await?,
            &[&id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(CartLine {
                product_id: row.try_get(0)?,
                name: row.try_get(1)?,
                unit_price: yen(row.try_get(2)?),
                recurring: row.try_get(3)?,
                quantity: yen(row.try_get(4)?),
            })
        })
        .collect::<Result<_, StorageError>>()?;
    Ok(Some(Cart { id: CartId(id.to_owned()), lines, shipping, checkout }))
}

#[async_trait]
impl Carts for Postgres {
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                read_cart(&client, &id.0).await
            })
            .await?)
    }

    async fn amazon_pay_enabled(&self) -> Result<bool, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                let row = client
                    .query_opt(
                        &client.prepare_cached("SELECT enabled FROM payment_methods WHERE code = 'amazon_pay'").await?,
                        &[],
                    )
                    .await?;
                Ok(match row {
                    Some(row) => row.try_get(0)?,
                    None => false,
                })
            })
            .await?)
    }

    async fn begin_checkout(&self, cart: &CartId, review_ref: &str) -> Result<(), PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                client
                    .execute(
                        &client.prepare_cached("UPDATE carts SET review_ref = $2, checkout_session_id = NULL, updated_at = $3 WHERE id = $1").await?,
                        &[&cart.0, &review_ref, &now()],
                    )
                    .await?;
                Ok(())
            })
            .await?)
    }

    async fn bind_checkout(&self, cart: &CartId, review_ref: &str, session_id: &str) -> Result<bool, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                let changed = client
                    .execute(
                        &client.prepare_cached("UPDATE carts SET checkout_session_id = $3, updated_at = $4 WHERE id = $1 AND review_ref = $2").await?,
                        &[&cart.0, &review_ref, &session_id, &now()],
                    )
                    .await?;
                Ok(changed == 1)
            })
            .await?)
    }

    async fn forget_checkout(&self, cart: &CartId) -> Result<(), PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                forget_checkout(&client, &cart.0).await
            })
            .await?)
    }
}

async fn forget_checkout(client: &impl GenericClient, cart: &str) -> Result<(), StorageError> {
    client
        .execute(
            &client
                .prepare_cached(
                    "UPDATE carts SET review_ref = NULL, checkout_session_id = NULL, updated_at = $2 WHERE id = $1",
                )
                .await?,
            &[&cart, &now()],
        )
        .await?;
    Ok(())
}

pub(super) const ORDER_COLUMNS: &str = "id, order_number, member_id, checkout_session_id, subscription_id, cycle, total, \
     recurring, state, charge_permission_id, charge_id, note, created_at, updated_at, cart_id, version, \
     authorized_amount, authorized_at, captured_amount, refunded_amount, plan, refund_requests";

/// A subscription's plan as stored (JSON), back.
fn plan(json: Option<String>) -> Result<Option<Plan>, StorageError> {
    json.map(|json| serde_json::from_str(&json).map_err(|_| bad_column("plan"))).transpose()
}

/// A plan as stored.
fn plan_json(plan: Option<&Plan>) -> Option<String> {
    // A plan is plain data: serializing it cannot fail.
    plan.and_then(|plan| serde_json::to_string(plan).ok())
}

fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

fn bad_column(what: &str) -> StorageError {
    StorageError::Database(format!("unreadable {what} in the database"))
}

/// An order from the first 22 columns of `row` ([`ORDER_COLUMNS`]).
pub(super) fn order(row: &Row) -> Result<Order, StorageError> {
    let subscription: Option<i64> = row.try_get(4)?;
    let cycle: Option<String> = row.try_get(5)?;
    let cycle = match (subscription, cycle) {
        (Some(id), Some(day)) => Some((SubscriptionId(id), parse_date(&day).ok_or_else(|| bad_column("cycle"))?)),
        _ => None,
    };
    let state: String = row.try_get(8)?;
    Ok(Order {
        id: OrderId(row.try_get(0)?),
        number: row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
        member: row.try_get::<_, Option<i64>>(2)?.map(MemberId),
        checkout_session_id: row.try_get(3)?,
        cycle,
        total: yen(row.try_get(6)?),
        recurring: row.try_get(7)?,
        state: OrderState::parse(&state).ok_or_else(|| bad_column("state"))?,
        charge_permission_id: row.try_get(9)?,
        charge_id: row.try_get(10)?,
        note: row.try_get(11)?,
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
        cart: row.try_get::<_, Option<String>>(14)?.map(CartId),
        version: row.try_get(15)?,
        authorized: match (row.try_get::<_, Option<i64>>(16)?, row.try_get::<_, Option<i64>>(17)?) {
            (Some(amount), Some(at)) => Some((yen(amount), at)),
            _ => None,
        },
        captured: yen(row.try_get(18)?),
        refunded: yen(row.try_get(19)?),
        plan: plan(row.try_get(20)?)?,
        refund_requests: u32::try_from(row.try_get::<_, i64>(21)?).map_err(|_| bad_column("refund_requests"))?,
    })
}

/// An order's lines, in their order.
pub(super) async fn order_lines(client: &impl GenericClient, id: i64) -> Result<Vec<OrderLine>, StorageError> {
    client
        .query(
            &client
                .prepare_cached("SELECT name, price, quantity FROM order_items WHERE order_id = $1 ORDER BY position")
                .await?,
            &[&id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(OrderLine { name: row.try_get(0)?, unit_price: yen(row.try_get(1)?), quantity: yen(row.try_get(2)?) })
        })
        .collect()
}

async fn order_where(
    client: &impl GenericClient,
    condition: &str,
    value: &(dyn ToSql + Sync),
) -> Result<Option<Order>, StorageError> {
    let row = client
        .query_opt(
            &client.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {condition}")).await?,
            &[value],
        )
        .await?;
    row.as_ref().map(order).transpose()
}

async fn orders_where(
    client: &impl GenericClient,
    condition: &str,
    values: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Order>, StorageError> {
    let statement = client.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {condition}")).await?;
    client.query(&statement, values).await?.iter().map(order).collect()
}

async fn existing_order(client: &impl GenericClient, new: &NewOrder) -> Result<Option<Order>, StorageError> {
    let cycle = new.cycle.map(|(id, day)| (id.0, day.to_string()));
    let row = client
        .query_opt(
            &client
                .prepare_cached(&format!(
                    "SELECT {ORDER_COLUMNS} FROM orders
                 WHERE checkout_session_id = $1 OR (subscription_id = $2 AND cycle = $3) LIMIT 1"
                ))
                .await?,
            &[&new.checkout_session_id, &cycle.as_ref().map(|c| c.0), &cycle.as_ref().map(|c| c.1.clone())],
        )
        .await?;
    row.as_ref().map(order).transpose()
}

async fn open_order(client: &mut deadpool_postgres::Object, new: &NewOrder) -> Result<Opened, StorageError> {
    if let Some(existing) = existing_order(&*client, new).await? {
        return Ok(Opened::Existing(existing));
    }
    let cycle = new.cycle.map(|(id, day)| (id.0, day.to_string()));
    let at = now();
    let transaction = client.transaction().await?;
    // The unique checkout session and (subscription, cycle) decide between two instances opening
    // the same order at once: the second insert waits for the first and then inserts nothing.
    let inserted = transaction
        .query_opt(
            &transaction.prepare_cached("INSERT INTO orders (member_id, checkout_session_id, subscription_id, cycle, total, shipping_fee, recurring,
                 state, created_at, updated_at, cart_id, buyer_name, buyer_email, plan)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13)
             ON CONFLICT DO NOTHING RETURNING id").await?,
            &[
                &new.member.map(|m| m.0),
                &new.checkout_session_id,
                &cycle.as_ref().map(|c| c.0),
                &cycle.as_ref().map(|c| c.1.clone()),
                &db_yen(new.total),
                &db_yen(new.shipping_fee),
                &new.recurring,
                &OrderState::Processing.name(),
                &at,
                &new.cart.as_ref().map(|c| c.0.clone()),
                &new.buyer_name,
                &new.buyer_email,
                &plan_json(new.plan.as_ref()),
            ],
        )
        .await?;
    let Some(inserted) = inserted else {
        transaction.rollback().await?;
        return existing_order(&*client, new)
            .await?
            .map(Opened::Existing)
            .ok_or_else(|| StorageError::Database("an order conflicted with one that cannot be found".into()));
    };
    let id: i64 = inserted.try_get(0)?;
    // 注文番号: readable, and never reused.
    transaction
        .execute(
            &transaction.prepare_cached("UPDATE orders SET order_number = $2 WHERE id = $1").await?,
            &[&id, &(10_000 + id).to_string()],
        )
        .await?;
    for (index, line) in new.lines.iter().enumerate() {
        transaction
            .execute(
                &transaction.prepare_cached("INSERT INTO order_items (order_id, position, name, price, quantity) VALUES ($1, $2, $3, $4, $5)").await?,
                &[&id, &position(index), &line.name, &db_yen(line.unit_price), &db_yen(line.quantity)],
            )
            .await?;
    }
    transaction
        .execute(
            &transaction
                .prepare_cached(
                    "INSERT INTO order_events (order_id, at, actor, from_state, to_state, detail)
             VALUES ($1, $2, 'shopper', NULL, $3, 'opened')",
                )
                .await?,
            &[&id, &at, &OrderState::Processing.name()],
        )
        .await?;
    let created = order_where(&transaction, "id = $1", &id).await?;
    transaction.commit().await?;
    created.map(Opened::New).ok_or_else(|| StorageError::Database("a new order vanished".into()))
}

/// Applies a transition and its effects in one transaction; `None` when the order is not in the
/// state the transition starts from (or, for one applied from any state, is gone).
async fn apply(client: &mut deadpool_postgres::Object, transition: &Transition) -> Result<Option<Order>, StorageError> {
    let at = now();
    let id = transition.order().0;
    let transaction = client.transaction().await?;
    // What Amazon did applies from wherever the order stands now: the row is locked until the
    // update, so no other instance moves it in between.
    let from: String = if transition.applies_from_any_state() {
        let current = transaction
            .query_opt(&transaction.prepare_cached("SELECT state FROM orders WHERE id = $1 FOR UPDATE").await?, &[&id])
            .await?;
        let Some(current) = current else {
            transaction.rollback().await?;
            return Ok(None);
        };
        current.try_get(0)?
    } else {
        transition.from().name().to_owned()
    };
    // A history line leaves the state as it is; a refund's landing is decided below, once its
    // effects are written.
    let to = match transition.landing() {
        Landing::Unchanged => from.clone(),
        Landing::Given | Landing::ByRefunds => transition.to().name().to_owned(),
    };
    let authorized = transition.authorized();
    // The compare-and-set: a concurrent move of the same order makes this wait, then find the
    // state changed and update nothing.
    let changed = transaction
        .execute(
            &transaction
                .prepare_cached(
                    "UPDATE orders SET state = $3, charge_permission_id = COALESCE($4, charge_permission_id),
                 charge_id = COALESCE($5, charge_id), note = COALESCE($6, note), updated_at = $7,
                 authorized_amount = COALESCE($8, authorized_amount), authorized_at = COALESCE($10, authorized_at),
                 captured_amount = COALESCE($9, captured_amount), version = version + 1
             WHERE id = $1 AND state = $2",
                )
                .await?,
            &[
                &id,
                &from,
                &to,
                &transition.charge_permission_id(),
                &transition.charge_id(),
                &transition.note(),
                &at,
                &authorized.map(|a| db_yen(a.amount)),
                &transition.captured().map(db_yen),
                &authorized.map(|a| a.at),
            ],
        )
        .await?;
    if changed == 0 {
        transaction.rollback().await?;
        return Ok(None);
    }
    for effect in transition.effects() {
        apply_effect(&transaction, id, effect, at).await?;
    }
    let to: String = if transition.landing() == Landing::ByRefunds {
        // 返金 while any refund gives money back, as the order stands after this one (its row
        // locked since the update): never from an amount read before.
        transaction
            .query_one(
                &transaction
                    .prepare_cached(
                        "UPDATE orders SET state = CASE WHEN refunded_amount > 0 THEN $2 ELSE $3 END WHERE id = $1
                         RETURNING state",
                    )
                    .await?,
                &[&id, &OrderState::Refunded.name(), &OrderState::Captured.name()],
            )
            .await?
            .try_get(0)?
    } else {
        to
    };
    let detail = if transition.is_forced() {
        format!("エラーを無視して変更: {}", transition.detail())
    } else {
        transition.detail().to_owned()
    };
    transaction
        .execute(
            &transaction.prepare_cached("INSERT INTO order_events (order_id, at, actor, from_state, to_state, detail) VALUES ($1, $2, $3, $4, $5, $6)").await?,
            &[&id, &at, &transition.actor().label(), &from, &to, &detail],
        )
        .await?;
    let applied = order_where(&transaction, "id = $1", &id).await?;
    transaction.commit().await?;
    Ok(applied)
}

/// One effect of a transition on order `id`, in the transition's transaction.
async fn apply_effect(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: i64,
    effect: &Effect,
    at: i64,
) -> Result<(), StorageError> {
    match effect {
        Effect::ClearCart(cart) => {
            transaction
                .execute(&transaction.prepare_cached("DELETE FROM cart_items WHERE cart_id = $1").await?, &[&cart.0])
                .await?;
            forget_checkout(transaction, &cart.0).await?;
        }
        Effect::ForgetCheckout(cart) => forget_checkout(transaction, &cart.0).await?,
        Effect::StartSubscription { member, charge_permission_id, amount, plan, first_cycle } => {
            transaction
                .execute(
                    &transaction.prepare_cached("INSERT INTO subscriptions (member_id, charge_permission_id, amount, next_cycle, status, created_at, plan)
                     VALUES ($1, $2, $3, $4, 'active', $5, $6) ON CONFLICT (charge_permission_id) DO NOTHING").await?,
                    &[
                        &member.map(|m| m.0),
                        charge_permission_id,
                        &db_yen(*amount),
                        &first_cycle.to_string(),
                        &at,
                        &plan_json(plan.as_ref()),
                    ],
                )
                .await?;
            transaction
                .execute(
                    &transaction.prepare_cached("UPDATE orders SET subscription_id = (SELECT id FROM subscriptions WHERE charge_permission_id = $2)
                     WHERE id = $1 AND subscription_id IS NULL").await?,
                    &[&id, charge_permission_id],
                )
                .await?;
        }
        Effect::AdvanceSubscription { id: subscription, from, to } => {
            transaction
                .execute(
                    &transaction
                        .prepare_cached("UPDATE subscriptions SET next_cycle = $3 WHERE id = $1 AND next_cycle = $2")
                        .await?,
                    &[&subscription.0, &from.to_string(), &to.to_string()],
                )
                .await?;
        }
        Effect::Refund(refund) => {
            let inserted = transaction
                .execute(
                    &transaction
                        .prepare_cached(
                            "INSERT INTO refunds (refund_id, order_id, amount, state, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (refund_id) DO NOTHING",
                        )
                        .await?,
                    &[&refund.refund_id, &id, &db_yen(refund.amount), &refund.state.name(), &at],
                )
                .await?;
            if inserted == 1 && refund.state != RefundState::Declined {
                transaction
                    .execute(
                        &transaction
                            .prepare_cached("UPDATE orders SET refunded_amount = refunded_amount + $2 WHERE id = $1")
                            .await?,
                        &[&id, &db_yen(refund.amount)],
                    )
                    .await?;
            }
        }
        Effect::RefundAnswered { ordinal } => {
            transaction
                .execute(
                    &transaction
                        .prepare_cached(
                            "UPDATE orders SET refund_requests = GREATEST(refund_requests, $2) WHERE id = $1",
                        )
                        .await?,
                    &[&id, &i64::from(*ordinal)],
                )
                .await?;
        }
        Effect::RefundSettled { refund_id, state, amount } => {
            let before = transaction
                .query_opt(
                    &transaction
                        .prepare_cached(
                            "SELECT state, amount FROM refunds WHERE refund_id = $1 AND order_id = $2 FOR UPDATE",
                        )
                        .await?,
                    &[refund_id, &id],
                )
                .await?;
            if let Some(before) = before {
                let (before, before_amount): (String, i64) = (before.try_get(0)?, before.try_get(1)?);
                let amount = db_yen(*amount);
                if before != state.name() || before_amount != amount {
                    transaction
                        .execute(
                            &transaction
                                .prepare_cached(
                                    "UPDATE refunds SET state = $2, amount = $3, updated_at = $4 WHERE refund_id = $1",
                                )
                                .await?,
                            &[refund_id, &state.name(), &amount, &at],
                        )
                        .await?;
                    let delta = crate::storage::refunded_delta((&before, before_amount), (state.name(), amount));
                    transaction
                        .execute(
                            &transaction.prepare_cached("UPDATE orders SET refunded_amount = GREATEST(0, refunded_amount + $2) WHERE id = $1").await?,
                            &[&id, &delta],
                        )
                        .await?;
                }
            }
        }
        Effect::Unlock(token) => {
            transaction
                .execute(
                    &transaction
                        .prepare_cached(
                            "UPDATE orders SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2",
                        )
                        .await?,
                    &[&id, token],
                )
                .await?;
        }
    }
    Ok(())
}

#[async_trait]
impl Orders for Postgres {
    async fn open_order(&self, new: &NewOrder) -> Result<Opened, PlatformError> {
        Ok(self
            .run(async {
                let mut client = self.client().await?;
                open_order(&mut client, new).await
            })
            .await?)
    }

    async fn order(&self, id: OrderId) -> Result<Option<Order>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                order_where(&client, "id = $1", &id.0).await
            })
            .await?)
    }

    async fn order_by_checkout_session(&self, session_id: &str) -> Result<Option<Order>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                order_where(&client, "checkout_session_id = $1", &session_id).await
            })
            .await?)
    }

    async fn order_by_charge(&self, charge_id: &str) -> Result<Option<Order>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                let row = client
                    .query_opt(
                        &client
                            .prepare_cached(&format!(
                                "SELECT {ORDER_COLUMNS} FROM orders WHERE charge_id = $1 ORDER BY id LIMIT 1"
                            ))
                            .await?,
                        &[&charge_id],
                    )
                    .await?;
                row.as_ref().map(order).transpose()
            })
            .await?)
    }

    async fn apply(&self, transition: &Transition) -> Result<Option<Order>, PlatformError> {
        Ok(self
            .run(async {
                let mut client = self.client().await?;
                apply(&mut client, transition).await
            })
            .await?)
    }

    async fn orders_in(&self, states: &[OrderState], before: i64, limit: usize) -> Result<Vec<Order>, PlatformError> {
        let names: Vec<String> = states.iter().map(|s| s.name().to_owned()).collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self
            .run(async {
                let client = self.client().await?;
                orders_where(
                    &client,
                    "state = ANY($1) AND updated_at < $2 ORDER BY updated_at, id LIMIT $3",
                    &[&names, &before, &limit],
                )
                .await
            })
            .await?)
    }

    async fn orders_by_charge_permission(&self, id: &str) -> Result<Vec<Order>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                orders_where(&client, "charge_permission_id = $1 ORDER BY id", &[&id]).await
            })
            .await?)
    }

    async fn order_by_refund(&self, refund_id: &str) -> Result<Option<Order>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                order_where(&client, "id = (SELECT order_id FROM refunds WHERE refund_id = $1)", &refund_id).await
            })
            .await?)
    }

    async fn refunds(&self, id: OrderId) -> Result<Vec<Refund>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                client
                    .query(
                        &client
                            .prepare_cached(
                                "SELECT refund_id, amount, state, created_at FROM refunds WHERE order_id = $1
                         ORDER BY created_at, refund_id",
                            )
                            .await?,
                        &[&id.0],
                    )
                    .await?
                    .iter()
                    .map(|row| {
                        let state: String = row.try_get(2)?;
                        Ok(Refund {
                            refund_id: row.try_get(0)?,
                            amount: yen(row.try_get(1)?),
                            state: RefundState::parse(&state).ok_or_else(|| bad_column("refund state"))?,
                            created_at: row.try_get(3)?,
                        })
                    })
                    .collect()
            })
            .await?)
    }

    async fn lock_order(
        &self,
        id: OrderId,
        version: i64,
        token: &str,
        until: i64,
    ) -> Result<Option<Order>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                let row = client
                    .query_opt(
                        &client
                            .prepare_cached(&format!(
                                "UPDATE orders SET locked_by = $3, locked_until = $4
                             WHERE id = $1 AND version = $2 AND (locked_by IS NULL OR locked_until < $5)
                             RETURNING {ORDER_COLUMNS}"
                            ))
                            .await?,
                        &[&id.0, &version, &token, &until, &now()],
                    )
                    .await?;
                row.as_ref().map(order).transpose()
            })
            .await?)
    }

    async fn count_refund_refusal(&self, id: OrderId, ordinal: u32) -> Result<(), PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                client
                    .execute(
                        &client
                            .prepare_cached(
                                "UPDATE orders SET refund_requests = GREATEST(refund_requests, $2) WHERE id = $1",
                            )
                            .await?,
                        &[&id.0, &i64::from(ordinal)],
                    )
                    .await?;
                Ok(())
            })
            .await?)
    }

    async fn unlock_order(&self, id: OrderId, token: &str) -> Result<(), PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                client
                    .execute(
                        &client.prepare_cached("UPDATE orders SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2").await?,
                        &[&id.0, &token],
                    )
                    .await?;
                Ok(())
            })
            .await?)
    }

    async fn idempotency_secret(&self) -> Result<Vec<u8>, PlatformError> {
        Ok(crate::storage::Secrets::secret(self, crate::storage::IDEMPOTENCY_SECRET).await?)
    }
}

#[async_trait]
impl Subscriptions for Postgres {
    async fn due_subscriptions(&self, day: Date) -> Result<Vec<Subscription>, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                client
                    .query(
                        &client
                            .prepare_cached(
                                "SELECT id, member_id, charge_permission_id, amount, next_cycle, plan FROM subscriptions
                         WHERE status = 'active' AND next_cycle <= $1 ORDER BY id",
                            )
                            .await?,
                        &[&day.to_string()],
                    )
                    .await?
                    .iter()
                    .map(|row| {
                        let next: String = row.try_get(4)?;
                        Ok(Subscription {
                            id: SubscriptionId(row.try_get(0)?),
                            member: row.try_get::<_, Option<i64>>(1)?.map(MemberId),
                            charge_permission_id: row.try_get(2)?,
                            amount: yen(row.try_get(3)?),
                            next_cycle: parse_date(&next).ok_or_else(|| bad_column("next_cycle"))?,
                            plan: plan(row.try_get(5)?)?,
                        })
                    })
                    .collect()
            })
            .await?)
    }

    async fn charged_in_month(&self, id: SubscriptionId, year: i32, month: u8) -> Result<u64, PlatformError> {
        let month = format!("{year:04}-{month:02}");
        let counted: Vec<String> =
            [OrderState::Pending, OrderState::Authorized, OrderState::Capturing, OrderState::Captured]
                .map(|s| s.name().to_owned())
                .to_vec();
        Ok(self
            .run(async {
                let client = self.client().await?;
                let row = client
                    .query_one(
                        &client
                            .prepare_cached(
                                "SELECT COALESCE(SUM(total), 0)::BIGINT FROM orders
                         WHERE subscription_id = $1 AND substr(cycle, 1, 7) = $2 AND state = ANY($3)",
                            )
                            .await?,
                        &[&id.0, &month, &counted],
                    )
                    .await?;
                Ok(yen(row.try_get(0)?))
            })
            .await?)
    }

    async fn end_subscription(&self, charge_permission_id: &str) -> Result<bool, PlatformError> {
        Ok(self
            .run(async {
                let client = self.client().await?;
                let ended = client
                    .execute(
                        &client.prepare_cached("UPDATE subscriptions SET status = 'canceled' WHERE charge_permission_id = $1 AND status = 'active'").await?,
                        &[&charge_permission_id],
                    )
                    .await?;
                Ok(ended > 0)
            })
            .await?)
    }
}
