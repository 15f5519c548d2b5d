//! The seam, implemented on SQLite: the built-in shop's members, carts, orders and subscriptions
//! as the core sees them.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use time::Date;
use time::macros::format_description;

use super::{Sqlite, db_yen, now, yen};
use crate::core::orders::{Effect, Landing, OrderState, Transition};
use crate::core::platform::{
    Cart, CartCheckout, CartId, CartLine, Carts, LinkRefusal, Member, MemberId, Members, NewOrder, Opened, Order,
    OrderId, Orders, Plan, PlatformError, Refund, RefundState, ShippingMethod, Subscription, SubscriptionId,
    Subscriptions,
};
use crate::storage::StorageError;

const MEMBER_SELECT: &str = "SELECT m.id, m.family_name || ' ' || m.given_name, m.email, l.buyer_id
     FROM members m LEFT JOIN amazon_links l ON l.member_id = m.id";

fn member(row: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member { id: MemberId(row.get(0)?), name: row.get(1)?, email: row.get(2)?, buyer_id: row.get(3)? })
}

#[async_trait]
impl Members for Sqlite {
    async fn member(&self, id: MemberId) -> Result<Option<Member>, PlatformError> {
        let sql = format!("{MEMBER_SELECT} WHERE m.id = ?1");
        Ok(self.read(move |c| c.query_row(&sql, [id.0], member).optional()).await?)
    }

    async fn member_by_buyer(&self, buyer_id: &str) -> Result<Option<Member>, PlatformError> {
        let (sql, buyer_id) = (format!("{MEMBER_SELECT} WHERE l.buyer_id = ?1"), buyer_id.to_owned());
        Ok(self.read(move |c| c.query_row(&sql, [buyer_id], member).optional()).await?)
    }

    async fn member_by_email(&self, email: &str) -> Result<Option<Member>, PlatformError> {
        let (sql, email) = (format!("{MEMBER_SELECT} WHERE m.email = ?1"), email.to_owned());
        Ok(self.read(move |c| c.query_row(&sql, [email], member).optional()).await?)
    }

    async fn link(&self, member: MemberId, buyer_id: &str) -> Result<Result<(), LinkRefusal>, PlatformError> {
        let buyer_id = buyer_id.to_owned();
        Ok(self
            .write(move |tx| {
                let linked: Option<String> = tx
                    .query_row("SELECT buyer_id FROM amazon_links WHERE member_id = ?1", [member.0], |row| row.get(0))
                    .optional()?;
                if linked.is_some() {
                    return Ok(Err(LinkRefusal::MemberLinked));
                }
                let taken: Option<i64> = tx
                    .query_row("SELECT member_id FROM amazon_links WHERE buyer_id = ?1", [&buyer_id], |row| row.get(0))
                    .optional()?;
                if taken.is_some() {
                    return Ok(Err(LinkRefusal::BuyerTaken));
                }
                tx.execute(
                    "INSERT INTO amazon_links (member_id, buyer_id, linked_at) VALUES (?1, ?2, ?3)",
                    params![member.0, buyer_id, now()],
                )?;
                Ok(Ok(()))
            })
            .await?)
    }

    async fn unlink(&self, member: MemberId) -> Result<bool, PlatformError> {
        Ok(self
            .write(move |tx| Ok(tx.execute("DELETE FROM amazon_links WHERE member_id = ?1", [member.0])? == 1))
            .await?)
    }
}

/// A cart with its lines, read in one go.
pub(super) fn read_cart(c: &Connection, id: &str) -> rusqlite::Result<Option<Cart>> {
    let head = c
        .query_row(
            "SELECT s.id, s.name, s.fee, s.amazon_pay_allowed, c.review_ref, c.checkout_session_id
             FROM carts c JOIN shipping_methods s ON s.id = c.shipping_method_id WHERE c.id = ?1",
            [id],
            |row| {
                Ok((
                    ShippingMethod {
                        id: row.get(0)?,
                        name: row.get(1)?,
                        fee: yen(row.get(2)?),
                        amazon_pay_allowed: row.get(3)?,
                    },
                    CartCheckout { review_ref: row.get(4)?, checkout_session_id: row.get(5)? },
                ))
            },
        )
        .optional()?;
    let Some((shipping, checkout)) = head else { return Ok(None) };
    let mut statement = c.prepare_cached(
        "SELECT p.id, p.name, p.price, p.recurring, i.quantity FROM cart_items i
         JOIN products p ON p.id = i.product_id WHERE i.cart_id = ?1 ORDER BY p.id",
    )?;
    let lines = statement
        .query_map([id], |row| {
            Ok(CartLine {
                product_id: row.get(0)?,
                name: row.get(1)?,
                unit_price: yen(row.get(2)?),
                recurring: row.get(3)?,
                quantity: yen(row.get(4)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(Cart { id: CartId(id.to_owned()), lines, shipping, checkout }))
}

#[async_trait]
impl Carts for Sqlite {
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, PlatformError> {
        let id = id.0.clone();
        Ok(self.read(move |c| read_cart(c, &id)).await?)
    }

    async fn amazon_pay_enabled(&self) -> Result<bool, PlatformError> {
        Ok(self
            .read(|c| {
                c.query_row("SELECT enabled FROM payment_methods WHERE code = 'amazon_pay'", [], |row| row.get(0))
                    .optional()
                    .map(|enabled| enabled.unwrap_or(false))
            })
            .await?)
    }

    async fn begin_checkout(&self, cart: &CartId, review_ref: &str) -> Result<(), PlatformError> {
        let (cart, review_ref) = (cart.0.clone(), review_ref.to_owned());
        self.write(move |tx| {
            tx.execute(
                "UPDATE carts SET review_ref = ?2, checkout_session_id = NULL, updated_at = ?3 WHERE id = ?1",
                params![cart, review_ref, now()],
            )?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn bind_checkout(&self, cart: &CartId, review_ref: &str, session_id: &str) -> Result<bool, PlatformError> {
        let (cart, review_ref, session_id) = (cart.0.clone(), review_ref.to_owned(), session_id.to_owned());
        Ok(self
            .write(move |tx| {
                let changed = tx.execute(
                    "UPDATE carts SET checkout_session_id = ?3, updated_at = ?4 WHERE id = ?1 AND review_ref = ?2",
                    params![cart, review_ref, session_id, now()],
                )?;
                Ok(changed == 1)
            })
            .await?)
    }

    async fn forget_checkout(&self, cart: &CartId) -> Result<(), PlatformError> {
        let cart = cart.0.clone();
        self.write(move |tx| Ok(forget_checkout(tx, &cart)?)).await?;
        Ok(())
    }
}

fn forget_checkout(tx: &Transaction<'_>, cart: &str) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE carts SET review_ref = NULL, checkout_session_id = NULL, updated_at = ?2 WHERE id = ?1",
        params![cart, now()],
    )?;
    Ok(())
}

pub(super) const ORDER_COLUMNS: &str = "id, order_number, member_id, checkout_session_id, subscription_id, cycle, total, \
     recurring, state, charge_permission_id, charge_id, note, created_at, updated_at, cart_id, version, \
     authorized_amount, authorized_at, captured_amount, refunded_amount, plan, refund_requests";

/// A subscription's plan as stored (JSON), back.
fn plan(index: usize, json: Option<String>) -> rusqlite::Result<Option<Plan>> {
    json.map(|json| serde_json::from_str(&json).map_err(|_| bad_column(index, "plan"))).transpose()
}

/// A plan as stored.
fn plan_json(plan: Option<&Plan>) -> Option<String> {
    // A plan is plain data: serializing it cannot fail.
    plan.and_then(|plan| serde_json::to_string(plan).ok())
}

fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

fn bad_column(index: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, what.to_owned().into())
}

pub(super) fn order(row: &Row<'_>) -> rusqlite::Result<Order> {
    let subscription: Option<i64> = row.get(4)?;
    let cycle: Option<String> = row.get(5)?;
    let cycle = match (subscription, cycle) {
        (Some(id), Some(day)) => Some((SubscriptionId(id), parse_date(&day).ok_or_else(|| bad_column(5, "cycle"))?)),
        _ => None,
    };
    let state: String = row.get(8)?;
    Ok(Order {
        id: OrderId(row.get(0)?),
        number: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
        member: row.get::<_, Option<i64>>(2)?.map(MemberId),
        checkout_session_id: row.get(3)?,
        cycle,
        total: yen(row.get(6)?),
        recurring: row.get(7)?,
        state: OrderState::parse(&state).ok_or_else(|| bad_column(8, "state"))?,
        charge_permission_id: row.get(9)?,
        charge_id: row.get(10)?,
        note: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        cart: row.get::<_, Option<String>>(14)?.map(CartId),
        version: row.get(15)?,
        authorized: match (row.get::<_, Option<i64>>(16)?, row.get::<_, Option<i64>>(17)?) {
            (Some(amount), Some(at)) => Some((yen(amount), at)),
            _ => None,
        },
        captured: yen(row.get(18)?),
        refunded: yen(row.get(19)?),
        plan: plan(20, row.get(20)?)?,
        refund_requests: u32::try_from(row.get::<_, i64>(21)?).map_err(|_| bad_column(21, "refund_requests"))?,
    })
}

fn order_where(c: &Connection, condition: &str, value: impl rusqlite::ToSql) -> rusqlite::Result<Option<Order>> {
    c.query_row(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {condition}"), [value], order).optional()
}

fn opened(tx: &Transaction<'_>, new: &NewOrder) -> Result<Opened, StorageError> {
    let cycle = new.cycle.map(|(id, day)| (id.0, day.to_string()));
    let existing = tx
        .query_row(
            &format!(
                "SELECT {ORDER_COLUMNS} FROM orders
                 WHERE checkout_session_id = ?1 OR (subscription_id = ?2 AND cycle = ?3)"
            ),
            params![new.checkout_session_id, cycle.as_ref().map(|c| c.0), cycle.as_ref().map(|c| &c.1)],
            order,
        )
        .optional()?;
    if let Some(existing) = existing {
        return Ok(Opened::Existing(existing));
    }
    let at = now();
    tx.execute(
        "INSERT INTO orders (member_id, checkout_session_id, subscription_id, cycle, total, shipping_fee, recurring,
             state, created_at, updated_at, cart_id, buyer_name, buyer_email, plan)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13)",
        params![
            new.member.map(|m| m.0),
            new.checkout_session_id,
            cycle.as_ref().map(|c| c.0),
            cycle.as_ref().map(|c| &c.1),
            db_yen(new.total),
            db_yen(new.shipping_fee),
            new.recurring,
            OrderState::Processing.name(),
            at,
            new.cart.as_ref().map(|c| &c.0),
            new.buyer_name,
            new.buyer_email,
            plan_json(new.plan.as_ref())
        ],
    )?;
    let id = tx.last_insert_rowid();
    // 注文番号: readable, and never reused.
    tx.execute("UPDATE orders SET order_number = ?2 WHERE id = ?1", params![id, (10_000 + id).to_string()])?;
    for (position, line) in new.lines.iter().enumerate() {
        tx.execute(
            "INSERT INTO order_items (order_id, position, name, price, quantity) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                i64::try_from(position).unwrap_or(i64::MAX),
                line.name,
                db_yen(line.unit_price),
                db_yen(line.quantity)
            ],
        )?;
    }
    tx.execute(
        "INSERT INTO order_events (order_id, at, actor, from_state, to_state, detail) VALUES (?1, ?2, 'shopper', NULL, ?3, 'opened')",
        params![id, at, OrderState::Processing.name()],
    )?;
    let created = tx.query_row(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"), [id], order)?;
    Ok(Opened::New(created))
}

/// Applies a transition and its effects in the caller's transaction; `None` when the order is not
/// in the state the transition starts from (or, for one applied from any state, is gone).
pub(super) fn apply(tx: &Transaction<'_>, transition: &Transition) -> Result<Option<Order>, StorageError> {
    let at = now();
    let id = transition.order().0;
    // What Amazon did applies from wherever the order stands now; the write transaction keeps
    // it there until the update.
    let from = if transition.applies_from_any_state() {
        let current: Option<String> =
            tx.query_row("SELECT state FROM orders WHERE id = ?1", [id], |row| row.get(0)).optional()?;
        let Some(current) = current else { return Ok(None) };
        current
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
    let changed = tx.execute(
        "UPDATE orders SET state = ?3, charge_permission_id = COALESCE(?4, charge_permission_id),
             charge_id = COALESCE(?5, charge_id), note = COALESCE(?6, note), updated_at = ?7,
             authorized_amount = COALESCE(?8, authorized_amount), authorized_at = COALESCE(?10, authorized_at),
             captured_amount = COALESCE(?9, captured_amount), version = version + 1
         WHERE id = ?1 AND state = ?2",
        params![
            id,
            from,
            to,
            transition.charge_permission_id(),
            transition.charge_id(),
            transition.note(),
            at,
            authorized.map(|a| db_yen(a.amount)),
            transition.captured().map(db_yen),
            authorized.map(|a| a.at)
        ],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    for effect in transition.effects() {
        apply_effect(tx, id, effect, at)?;
    }
    let to = if transition.landing() == Landing::ByRefunds {
        // 返金 while any refund gives money back, as the order stands after this one: never
        // from an amount read before (another refund may have been written meanwhile).
        tx.query_row(
            "UPDATE orders SET state = CASE WHEN refunded_amount > 0 THEN ?2 ELSE ?3 END WHERE id = ?1 RETURNING state",
            params![id, OrderState::Refunded.name(), OrderState::Captured.name()],
            |row| row.get(0),
        )?
    } else {
        to
    };
    let detail = if transition.is_forced() {
        format!("エラーを無視して変更: {}", transition.detail())
    } else {
        transition.detail().to_owned()
    };
    tx.execute(
        "INSERT INTO order_events (order_id, at, actor, from_state, to_state, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, at, transition.actor().label(), from, to, detail],
    )?;
    Ok(Some(tx.query_row(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"), [id], order)?))
}

/// One effect of a transition on order `id`, in the transition's transaction.
fn apply_effect(tx: &Transaction<'_>, id: i64, effect: &Effect, at: i64) -> Result<(), StorageError> {
    match effect {
        Effect::ClearCart(cart) => {
            tx.execute("DELETE FROM cart_items WHERE cart_id = ?1", [&cart.0])?;
            forget_checkout(tx, &cart.0)?;
        }
        Effect::ForgetCheckout(cart) => forget_checkout(tx, &cart.0)?,
        Effect::StartSubscription { member, charge_permission_id, amount, plan, first_cycle } => {
            tx.execute(
                "INSERT INTO subscriptions (member_id, charge_permission_id, amount, next_cycle, status, created_at, plan)
                 VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6) ON CONFLICT (charge_permission_id) DO NOTHING",
                params![
                    member.map(|m| m.0),
                    charge_permission_id,
                    db_yen(*amount),
                    first_cycle.to_string(),
                    at,
                    plan_json(plan.as_ref())
                ],
            )?;
            tx.execute(
                "UPDATE orders SET subscription_id = (SELECT id FROM subscriptions WHERE charge_permission_id = ?2)
                 WHERE id = ?1 AND subscription_id IS NULL",
                params![id, charge_permission_id],
            )?;
        }
        Effect::AdvanceSubscription { id: subscription, from, to } => {
            tx.execute(
                "UPDATE subscriptions SET next_cycle = ?3 WHERE id = ?1 AND next_cycle = ?2",
                params![subscription.0, from.to_string(), to.to_string()],
            )?;
        }
        Effect::Refund(refund) => {
            let inserted = tx.execute(
                "INSERT INTO refunds (refund_id, order_id, amount, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (refund_id) DO NOTHING",
                params![refund.refund_id, id, db_yen(refund.amount), refund.state.name(), at],
            )?;
            if inserted == 1 && refund.state != RefundState::Declined {
                tx.execute(
                    "UPDATE orders SET refunded_amount = refunded_amount + ?2 WHERE id = ?1",
                    params![id, db_yen(refund.amount)],
                )?;
            }
        }
        Effect::RefundAnswered { ordinal } => {
            tx.execute(
                "UPDATE orders SET refund_requests = MAX(refund_requests, ?2) WHERE id = ?1",
                params![id, i64::from(*ordinal)],
            )?;
        }
        Effect::RefundSettled { refund_id, state, amount } => {
            let before: Option<(String, i64)> = tx
                .query_row(
                    "SELECT state, amount FROM refunds WHERE refund_id = ?1 AND order_id = ?2",
                    params![refund_id, id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let amount = db_yen(*amount);
            if let Some((before, before_amount)) = before
                && (before != state.name() || before_amount != amount)
            {
                tx.execute(
                    "UPDATE refunds SET state = ?2, amount = ?3, updated_at = ?4 WHERE refund_id = ?1",
                    params![refund_id, state.name(), amount, at],
                )?;
                let delta = crate::storage::refunded_delta((&before, before_amount), (state.name(), amount));
                tx.execute(
                    "UPDATE orders SET refunded_amount = MAX(0, refunded_amount + ?2) WHERE id = ?1",
                    params![id, delta],
                )?;
            }
        }
        Effect::Unlock(token) => {
            tx.execute(
                "UPDATE orders SET locked_by = NULL, locked_until = NULL WHERE id = ?1 AND locked_by = ?2",
                params![id, token],
            )?;
        }
    }
    Ok(())
}

#[async_trait]
impl Orders for Sqlite {
    async fn open_order(&self, new: &NewOrder) -> Result<Opened, PlatformError> {
        let new = new.clone();
        Ok(self.write(move |tx| opened(tx, &new)).await?)
    }

    async fn order(&self, id: OrderId) -> Result<Option<Order>, PlatformError> {
        Ok(self.read(move |c| order_where(c, "id = ?1", id.0)).await?)
    }

    async fn order_by_checkout_session(&self, session_id: &str) -> Result<Option<Order>, PlatformError> {
        let session_id = session_id.to_owned();
        Ok(self.read(move |c| order_where(c, "checkout_session_id = ?1", session_id)).await?)
    }

    async fn order_by_charge(&self, charge_id: &str) -> Result<Option<Order>, PlatformError> {
        let charge_id = charge_id.to_owned();
        Ok(self.read(move |c| order_where(c, "charge_id = ?1", charge_id)).await?)
    }

    async fn apply(&self, transition: &Transition) -> Result<Option<Order>, PlatformError> {
        let transition = transition.clone();
        Ok(self.write(move |tx| apply(tx, &transition)).await?)
    }

    async fn orders_in(&self, states: &[OrderState], before: i64, limit: usize) -> Result<Vec<Order>, PlatformError> {
        let names: Vec<&'static str> = states.iter().map(|s| s.name()).collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self
            .read(move |c| {
                // The names are the enum's own, never input: safe to write into the statement.
                let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
                let mut statement = c.prepare(&format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE state IN ({list}) AND updated_at < ?1
                     ORDER BY updated_at, id LIMIT ?2"
                ))?;
                let rows = statement.query_map(params![before, limit], order)?;
                rows.collect()
            })
            .await?)
    }

    async fn orders_by_charge_permission(&self, id: &str) -> Result<Vec<Order>, PlatformError> {
        let id = id.to_owned();
        Ok(self
            .read(move |c| {
                let mut statement = c.prepare(&format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE charge_permission_id = ?1 ORDER BY id"
                ))?;
                let rows = statement.query_map([id], order)?;
                rows.collect()
            })
            .await?)
    }

    async fn order_by_refund(&self, refund_id: &str) -> Result<Option<Order>, PlatformError> {
        let refund_id = refund_id.to_owned();
        Ok(self
            .read(move |c| order_where(c, "id = (SELECT order_id FROM refunds WHERE refund_id = ?1)", refund_id))
            .await?)
    }

    async fn refunds(&self, id: OrderId) -> Result<Vec<Refund>, PlatformError> {
        Ok(self
            .read(move |c| {
                let mut statement = c.prepare(
                    "SELECT refund_id, amount, state, created_at FROM refunds WHERE order_id = ?1
                     ORDER BY created_at, refund_id",
                )?;
                let rows = statement.query_map([id.0], |row| {
                    let state: String = row.get(2)?;
                    Ok(Refund {
                        refund_id: row.get(0)?,
                        amount: yen(row.get(1)?),
                        state: RefundState::parse(&state).ok_or_else(|| bad_column(2, "refund state"))?,
                        created_at: row.get(3)?,
                    })
                })?;
                rows.collect()
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
        let token = token.to_owned();
        Ok(self
            .write(move |tx| {
                let taken = tx.execute(
                    "UPDATE orders SET locked_by = ?3, locked_until = ?4
                     WHERE id = ?1 AND version = ?2 AND (locked_by IS NULL OR locked_until < ?5)",
                    params![id.0, version, token, until, now()],
                )?;
                if taken == 0 {
                    return Ok(None);
                }
                Ok(Some(tx.query_row(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"), [id.0], order)?))
            })
            .await?)
    }

    async fn count_refund_refusal(&self, id: OrderId, ordinal: u32) -> Result<(), PlatformError> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE orders SET refund_requests = MAX(refund_requests, ?2) WHERE id = ?1",
                params![id.0, i64::from(ordinal)],
            )?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn unlock_order(&self, id: OrderId, token: &str) -> Result<(), PlatformError> {
        let token = token.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE orders SET locked_by = NULL, locked_until = NULL WHERE id = ?1 AND locked_by = ?2",
                params![id.0, token],
            )?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn idempotency_secret(&self) -> Result<Vec<u8>, PlatformError> {
        Ok(crate::storage::Secrets::secret(self, crate::storage::IDEMPOTENCY_SECRET).await?)
    }
}

#[async_trait]
impl Subscriptions for Sqlite {
    async fn due_subscriptions(&self, day: Date) -> Result<Vec<Subscription>, PlatformError> {
        Ok(self
            .read(move |c| {
                let mut statement = c.prepare(
                    "SELECT id, member_id, charge_permission_id, amount, next_cycle, plan FROM subscriptions
                     WHERE status = 'active' AND next_cycle <= ?1 ORDER BY id",
                )?;
                let rows = statement.query_map([day.to_string()], |row| {
                    let next: String = row.get(4)?;
                    Ok(Subscription {
                        id: SubscriptionId(row.get(0)?),
                        member: row.get::<_, Option<i64>>(1)?.map(MemberId),
                        charge_permission_id: row.get(2)?,
                        amount: yen(row.get(3)?),
                        next_cycle: parse_date(&next).ok_or_else(|| bad_column(4, "next_cycle"))?,
                        plan: plan(5, row.get(5)?)?,
                    })
                })?;
                rows.collect()
            })
            .await?)
    }

    async fn charged_in_month(&self, id: SubscriptionId, year: i32, month: u8) -> Result<u64, PlatformError> {
        let month = format!("{year:04}-{month:02}");
        let counted = [OrderState::Pending, OrderState::Authorized, OrderState::Capturing, OrderState::Captured]
            .map(OrderState::name);
        Ok(self
            .read(move |c| {
                c.query_row(
                    "SELECT COALESCE(SUM(total), 0) FROM orders WHERE subscription_id = ?1 AND substr(cycle, 1, 7) = ?2
                     AND state IN (?3, ?4, ?5, ?6)",
                    params![id.0, month, counted[0], counted[1], counted[2], counted[3]],
                    |row| row.get::<_, i64>(0),
                )
                .map(yen)
            })
            .await?)
    }

    async fn end_subscription(&self, charge_permission_id: &str) -> Result<bool, PlatformError> {
        let id = charge_permission_id.to_owned();
        Ok(self
            .write(move |t| {
                let ended = t.execute(
                    "UPDATE subscriptions SET status = 'canceled' WHERE charge_permission_id = ?1 AND status = 'active'",
                    [id],
                )?;
                Ok(ended > 0)
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::super::tests::database;
    use super::*;
    use crate::core::orders::{Actor, AmazonIds, Authorization, Outcome, settle};
    use crate::core::platform::OrderLine;
    use crate::storage::{NewMember, Product, Shop};

    fn member(email: &str) -> NewMember {
        NewMember {
            email: email.into(), family_name: "山田".into(), given_name: "太郎".into(), ..NewMember::default()
        }
    }

    async fn shop(name: &str) -> (Sqlite, super::super::tests::TempDir) {
        let (db, dir) = database(name).await;
        db.seed_catalogue(
            &[
                Product { id: 1, name: "マグカップ".into(), price: 2_750, recurring: false },
                Product { id: 4, name: "定期便".into(), price: 8_800, recurring: true },
            ],
            &[ShippingMethod { id: 1, name: "宅配便".into(), fee: 880, amazon_pay_allowed: true }],
        )
        .await
        .unwrap();
        (db, dir)
    }

    const AUTHORIZED: Authorization = Authorization { amount: 3_630, at: 1_795_860_854 };

    fn new_order(session: &str, total: u64) -> NewOrder {
        NewOrder {
            member: None,
            checkout_session_id: Some(session.into()),
            cart: None,
            buyer_name: String::new(),
            buyer_email: String::new(),
            cycle: None,
            lines: vec![OrderLine { name: "マグカップ".into(), unit_price: 2_750, quantity: 1 }],
            shipping_fee: 880,
            total,
            recurring: false,
            plan: None,
        }
    }

    #[tokio::test]
    async fn emails_are_unique_regardless_of_case() {
        let (db, _dir) = database("emails").await;
        let id = db.create_member(&member("taro@example.jp"), "h").await.unwrap().unwrap();
        assert_eq!(db.create_member(&member("TARO@example.jp"), "h").await.unwrap(), None);
        let found = db.member_by_email("Taro@Example.jp").await.unwrap().unwrap();
        assert_eq!((found.id, found.name.as_str(), found.buyer_id), (id, "山田 太郎", None));
    }

    #[tokio::test]
    async fn one_buyer_links_to_at_most_one_member_and_back() {
        let (db, _dir) = database("links").await;
        let a = db.create_member(&member("a@example.jp"), "h").await.unwrap().unwrap();
        let b = db.create_member(&member("b@example.jp"), "h").await.unwrap().unwrap();
        assert_eq!(db.link(a, "amzn1.account.X").await.unwrap(), Ok(()));
        assert_eq!(db.link(b, "amzn1.account.X").await.unwrap(), Err(LinkRefusal::BuyerTaken));
        assert_eq!(db.link(a, "amzn1.account.Y").await.unwrap(), Err(LinkRefusal::MemberLinked));
        assert_eq!(db.member_by_buyer("amzn1.account.X").await.unwrap().unwrap().id, a);
        assert!(db.unlink(a).await.unwrap());
        assert!(!db.unlink(a).await.unwrap());
        assert_eq!(db.link(b, "amzn1.account.X").await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn one_checkout_session_opens_one_order() {
        let (db, _dir) = shop("open").await;
        let Opened::New(first) = db.open_order(&new_order("cs-1", 3_630)).await.unwrap() else { panic!("new") };
        assert_eq!((first.number.as_str(), first.state), ("10001", OrderState::Processing));
        let again = db.open_order(&new_order("cs-1", 3_630)).await.unwrap();
        assert_eq!(again, Opened::Existing(first));
    }

    #[tokio::test]
    async fn a_transition_applies_once_with_its_effects_and_a_stale_one_changes_nothing() {
        let (db, _dir) = shop("apply").await;
        let cart = db.create_cart().await.unwrap();
        assert!(db.set_cart_item(&cart, 1, 1).await.unwrap());
        let new = NewOrder { cart: Some(cart.clone()), ..new_order("cs-2", 3_630) };
        let Opened::New(order) = db.open_order(&new).await.unwrap() else { panic!("new") };
        let claim = Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap();
        let claimed = db.apply(&claim).await.unwrap().expect("claimed");
        assert_eq!(db.apply(&claim).await.unwrap(), None, "a second claim finds the order taken");
        let done = settle(
            &claimed,
            Outcome::Authorized(AUTHORIZED),
            AmazonIds { charge_permission_id: Some("S03-P".into()), charge_id: Some("S03-P-C1".into()) },
            date!(2026 - 12 - 30),
            Actor::Shopper,
        )
        .unwrap();
        let authorized = db.apply(&done).await.unwrap().unwrap();
        assert_eq!(authorized.state, OrderState::Authorized);
        assert_eq!(authorized.charge_id.as_deref(), Some("S03-P-C1"));
        assert!(db.cart(&cart).await.unwrap().unwrap().is_empty(), "the cart is emptied with the order");
        assert_eq!(db.order_by_charge("S03-P-C1").await.unwrap().unwrap().id, order.id);
        let events: i64 = db
            .read(move |c| {
                c.query_row("SELECT count(*) FROM order_events WHERE order_id = ?1", [order.id.0], |r| r.get(0))
            })
            .await
            .unwrap();
        assert_eq!(events, 3, "opened, claimed, authorized");
    }

    #[tokio::test]
    async fn a_recurring_checkout_starts_its_subscription_and_its_cycles_move_it_on() {
        let (db, _dir) = shop("subscription").await;
        let mut new = new_order("cs-3", 9_680);
        new.recurring = true;
        let Opened::New(order) = db.open_order(&new).await.unwrap() else { panic!("new") };
        let claimed = db
            .apply(&Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap())
            .await
            .unwrap()
            .unwrap();
        let first = date!(2026 - 12 - 30);
        let done = settle(
            &claimed,
            Outcome::Authorized(AUTHORIZED),
            AmazonIds { charge_permission_id: Some("S03-R".into()), charge_id: Some("S03-R-C1".into()) },
            first,
            Actor::Shopper,
        )
        .unwrap();
        db.apply(&done).await.unwrap().unwrap();
        let due = db.due_subscriptions(first).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].amount, due[0].next_cycle), (9_680, first));
        assert!(db.due_subscriptions(date!(2026 - 12 - 29)).await.unwrap().is_empty());
        let cycle = NewOrder { checkout_session_id: None, cycle: Some((due[0].id, first)), ..new.clone() };
        let Opened::New(cycle_order) = db.open_order(&cycle).await.unwrap() else { panic!("new") };
        assert_eq!(db.open_order(&cycle).await.unwrap(), Opened::Existing(cycle_order.clone()), "one order per cycle");
        let claimed = db
            .apply(&Transition::new(&cycle_order, OrderState::Completing, Actor::Job, "claim").unwrap())
            .await
            .unwrap()
            .unwrap();
        let next = date!(2027 - 01 - 30);
        db.apply(
            &settle(
                &claimed,
                Outcome::Authorized(AUTHORIZED),
                AmazonIds { charge_permission_id: None, charge_id: Some("S03-R-C2".into()) },
                next,
                Actor::Job,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(db.due_subscriptions(first).await.unwrap().is_empty());
        assert_eq!(db.due_subscriptions(next).await.unwrap()[0].next_cycle, next);
        assert_eq!(db.charged_in_month(due[0].id, 2026, 12).await.unwrap(), 9_680);
        assert_eq!(db.charged_in_month(due[0].id, 2027, 1).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_review_reference_binds_one_checkout_and_a_new_click_replaces_it() {
        let (db, _dir) = shop("checkout").await;
        let cart = db.create_cart().await.unwrap();
        db.begin_checkout(&cart, "ref-1").await.unwrap();
        assert!(!db.bind_checkout(&cart, "ref-0", "cs").await.unwrap(), "another click's reference binds nothing");
        assert!(db.bind_checkout(&cart, "ref-1", "cs").await.unwrap());
        assert_eq!(db.cart(&cart).await.unwrap().unwrap().checkout.checkout_session_id.as_deref(), Some("cs"));
        db.begin_checkout(&cart, "ref-2").await.unwrap();
        let checkout = db.cart(&cart).await.unwrap().unwrap().checkout;
        assert_eq!((checkout.review_ref.as_deref(), checkout.checkout_session_id), (Some("ref-2"), None));
    }
}
