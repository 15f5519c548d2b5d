//! Orders: opened once per checkout session (or subscription cycle), moved only from the state
//! they were read in, with everything that goes with a move written in the same transaction.

use async_trait::async_trait;
use sqlx::AnyConnection;

use super::carts::forget_checkout;
use crate::core::orders::{Effect, Landing, OrderState, Transition};
use crate::core::platform::{NewOrder, Opened, Order, OrderId, Orders, PlatformError, Refund, RefundState};
use crate::storage::StorageError;
use crate::storage::Store;
use crate::storage::rows::{bad_column, now, order, order_columns, plan_json};
use crate::storage::sql::{Fields, db_yen};

/// Shop `shop`'s order (in the caller's transaction) `id` names.
async fn order_by_id(tx: &mut AnyConnection, shop: i64, id: i64) -> Result<Option<Order>, StorageError> {
    let row = sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 AND shop_id = $2"))
        .bind(id)
        .bind(shop)
        .fetch_optional(tx)
        .await?;
    row.as_ref().map(order).transpose()
}

/// Shop `shop`'s order `new` would open, if one was opened already: for its checkout session, or
/// its subscription's cycle.
async fn existing_order(tx: &mut AnyConnection, shop: i64, new: &NewOrder) -> Result<Option<Order>, StorageError> {
    let (subscription, cycle) = new.cycle.map(|cycle| (cycle.subscription.0, cycle.day.to_string())).unzip();
    let row = sqlx::query(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE (checkout_session_id = $1 OR (subscription_id = $2 AND cycle = $3)) AND shop_id = $4
         ORDER BY id LIMIT 1"
    ))
    .bind(new.checkout_session_id.as_deref())
    .bind(subscription)
    .bind(cycle)
    .bind(shop)
    .fetch_optional(tx)
    .await?;
    row.as_ref().map(order).transpose()
}

/// Opens shop `shop`'s order `new` describes, or finds the one its checkout session (or cycle)
/// opened. A checkout session is Amazon's and unique: another shop's order of the same session
/// (which only a forged request could name) is not found, and nothing is opened.
async fn open_order(tx: &mut AnyConnection, shop: i64, new: &NewOrder) -> Result<Opened, StorageError> {
    if let Some(existing) = existing_order(&mut *tx, shop, new).await? {
        return Ok(Opened::Existing(existing));
    }
    let (subscription, cycle) = new.cycle.map(|cycle| (cycle.subscription.0, cycle.day.to_string())).unzip();
    let at = now();
    // The unique checkout session and (subscription, cycle) decide between two instances opening
    // the same order at once: the second insert waits for the first and then inserts nothing.
    let inserted = sqlx::query(
        "INSERT INTO orders (member_id, checkout_session_id, subscription_id, cycle, total, shipping_fee, recurring,
             state, created_at, updated_at, cart_id, buyer_name, buyer_email, plan, shop_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(new.member.map(|m| m.0))
    .bind(new.checkout_session_id.as_deref())
    .bind(subscription)
    .bind(cycle)
    .bind(db_yen(new.total))
    .bind(db_yen(new.shipping_fee))
    .bind(new.recurring)
    .bind(OrderState::Processing.name())
    .bind(at)
    .bind(new.cart.as_ref().map(|c| c.0.as_str()))
    .bind(&new.buyer_name)
    .bind(&new.buyer_email)
    .bind(plan_json(new.plan.as_ref()))
    .bind(shop)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(inserted) = inserted else {
        // The other's order, committed by now (each statement sees what was committed before it).
        return existing_order(tx, shop, new)
            .await?
            .map(Opened::Existing)
            .ok_or_else(|| StorageError::Database("an order conflicted with one that cannot be found".into()));
    };
    let id = inserted.int(0)?;
    // 注文番号: readable, and never reused.
    sqlx::query("UPDATE orders SET order_number = $2 WHERE id = $1 AND shop_id = $3")
        .bind(id)
        .bind((10_000 + id).to_string())
        .bind(shop)
        .execute(&mut *tx)
        .await?;
    for (position, line) in new.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_items (order_id, position, name, price, quantity, shop_id) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&line.name)
        .bind(db_yen(line.unit_price))
        .bind(db_yen(line.quantity))
        .bind(shop)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO order_events (order_id, at, actor, from_state, to_state, detail, forced, shop_id)
         VALUES ($1, $2, 'shopper', NULL, $3, 'opened', FALSE, $4)",
    )
    .bind(id)
    .bind(at)
    .bind(OrderState::Processing.name())
    .bind(shop)
    .execute(&mut *tx)
    .await?;
    order_by_id(tx, shop, id)
        .await?
        .map(Opened::New)
        .ok_or_else(|| StorageError::Database("a new order vanished".into()))
}

/// Applies a transition and its effects in the caller's transaction; `None` when the order is not
/// in the state the transition starts from (or, for one applied from any state, is gone).
async fn apply(
    tx: &mut AnyConnection,
    shop: i64,
    for_update: &str,
    transition: &Transition,
) -> Result<Option<Order>, StorageError> {
    let at = now();
    let id = transition.order().0;
    // What Amazon did applies from wherever the order stands now: the row is locked (on SQLite,
    // the database's write lock held) until the update, so no other instance moves it in between.
    let from = if transition.applies_from_any_state() {
        let statement =
            sqlx::AssertSqlSafe(format!("SELECT state FROM orders WHERE id = $1 AND shop_id = $2{for_update}"));
        let current = sqlx::query(statement).bind(id).bind(shop).fetch_optional(&mut *tx).await?;
        let Some(current) = current else { return Ok(None) };
        current.text(0)?
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
    // The owner's hold ends in the same statement (all of a row's new values are computed from
    // its old ones, so the token is compared with the hold as it was).
    let unlock = transition.effects().iter().find_map(|effect| match effect {
        Effect::Unlock(token) => Some(token.as_str()),
        _ => None,
    });
    // The compare-and-set: a concurrent move of the same order makes this wait, then find the
    // state changed and update nothing.
    let updated = sqlx::query(concat!(
        "UPDATE orders SET state = $3, charge_permission_id = COALESCE($4, charge_permission_id),
             charge_id = COALESCE($5, charge_id), note = COALESCE($6, note), updated_at = $7,
             authorized_amount = COALESCE($8, authorized_amount), authorized_at = COALESCE($10, authorized_at),
             captured_amount = COALESCE($9, captured_amount), version = version + 1,
             locked_until = CASE WHEN locked_by = $11 THEN NULL ELSE locked_until END,
             locked_by = CASE WHEN locked_by = $11 THEN NULL ELSE locked_by END
         WHERE id = $1 AND state = $2 AND shop_id = $12
         RETURNING ",
        order_columns!()
    ))
    .bind(id)
    .bind(&from)
    .bind(&to)
    .bind(transition.charge_permission_id())
    .bind(transition.charge_id())
    .bind(transition.note())
    .bind(at)
    .bind(authorized.map(|a| db_yen(a.amount)))
    .bind(transition.captured().map(db_yen))
    .bind(authorized.map(|a| a.at))
    .bind(unlock)
    .bind(shop)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(updated) = updated else { return Ok(None) };
    let mut reread = transition.landing() == Landing::ByRefunds;
    for effect in transition.effects() {
        reread |= changes_order_row(effect);
        apply_effect(&mut *tx, shop, for_update, id, effect, at).await?;
    }
    let to = if transition.landing() == Landing::ByRefunds {
        // 返金 while any refund gives money back, as the order stands after this one (its row
        // locked since the update): never from an amount read before (another refund may have
        // been written meanwhile).
        sqlx::query(
            "UPDATE orders SET state = CASE WHEN refunded_amount > 0 THEN $2 ELSE $3 END WHERE id = $1 AND shop_id = $4
             RETURNING state",
        )
        .bind(id)
        .bind(OrderState::Refunded.name())
        .bind(OrderState::Captured.name())
        .bind(shop)
        .fetch_one(&mut *tx)
        .await?
        .text(0)?
    } else {
        to
    };
    // 「エラーを無視して変更する」 is recorded as such (`forced`), the detail as Amazon's words.
    sqlx::query(
        "INSERT INTO order_events (order_id, at, actor, from_state, to_state, detail, forced, shop_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(at)
    .bind(transition.actor().label())
    .bind(&from)
    .bind(&to)
    .bind(transition.detail())
    .bind(transition.is_forced())
    .bind(shop)
    .execute(&mut *tx)
    .await?;
    // The row as the update returned it, unless an effect changed it since.
    if reread { order_by_id(tx, shop, id).await } else { order(&updated).map(Some) }
}

/// Whether `effect` writes to the order's own row after the transition's update (which returned
/// the row as it then was).
fn changes_order_row(effect: &Effect) -> bool {
    match effect {
        Effect::StartSubscription { .. }
        | Effect::Refund(_)
        | Effect::RefundAnswered { .. }
        | Effect::RefundSettled { .. } => true,
        Effect::ClearCart(_) | Effect::ForgetCheckout(_) | Effect::AdvanceSubscription { .. } | Effect::Unlock(_) => {
            false
        }
    }
}

/// One effect of a transition on shop `shop`'s order `id`, in the transition's transaction.
async fn apply_effect(
    tx: &mut AnyConnection,
    shop: i64,
    for_update: &str,
    id: i64,
    effect: &Effect,
    at: i64,
) -> Result<(), StorageError> {
    match effect {
        Effect::ClearCart(cart) => {
            sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND shop_id = $2")
                .bind(&cart.0)
                .bind(shop)
                .execute(&mut *tx)
                .await?;
            forget_checkout(tx, shop, &cart.0).await?;
        }
        Effect::ForgetCheckout(cart) => forget_checkout(tx, shop, &cart.0).await?,
        Effect::StartSubscription { member, charge_permission_id, amount, plan, first_cycle } => {
            // Once per charge permission, whichever of the checkout's moves gets here first.
            sqlx::query(
                "INSERT INTO subscriptions (member_id, charge_permission_id, amount, next_cycle, status, created_at, plan,
                     shop_id)
                 VALUES ($1, $2, $3, $4, 'active', $5, $6, $7) ON CONFLICT (charge_permission_id) DO NOTHING",
            )
            .bind(member.map(|m| m.0))
            .bind(charge_permission_id)
            .bind(db_yen(*amount))
            .bind(first_cycle.to_string())
            .bind(at)
            .bind(plan_json(plan.as_ref()))
            .bind(shop)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE orders SET subscription_id =
                     (SELECT id FROM subscriptions WHERE charge_permission_id = $2 AND shop_id = $3)
                 WHERE id = $1 AND subscription_id IS NULL AND shop_id = $3",
            )
            .bind(id)
            .bind(charge_permission_id)
            .bind(shop)
            .execute(&mut *tx)
            .await?;
        }
        Effect::AdvanceSubscription { id: subscription, from, to } => {
            // From the cycle read only: a cycle is never advanced twice.
            sqlx::query("UPDATE subscriptions SET next_cycle = $3 WHERE id = $1 AND next_cycle = $2 AND shop_id = $4")
                .bind(subscription.0)
                .bind(from.to_string())
                .bind(to.to_string())
                .bind(shop)
                .execute(&mut *tx)
                .await?;
        }
        Effect::Refund(refund) => {
            // A refund counts once, however often it is recorded: its ID is the key.
            let inserted = sqlx::query(
                "INSERT INTO refunds (refund_id, order_id, amount, state, created_at, updated_at, shop_id)
                 VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (refund_id) DO NOTHING",
            )
            .bind(&refund.refund_id)
            .bind(id)
            .bind(db_yen(refund.amount))
            .bind(refund.state.name())
            .bind(at)
            .bind(shop)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 && refund.state != RefundState::Declined {
                sqlx::query("UPDATE orders SET refunded_amount = refunded_amount + $2 WHERE id = $1 AND shop_id = $3")
                    .bind(id)
                    .bind(db_yen(refund.amount))
                    .bind(shop)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Effect::RefundAnswered { ordinal } => {
            // Never back: the larger of the count stored and this answer's.
            sqlx::query(
                "UPDATE orders SET refund_requests = CASE WHEN refund_requests > $2 THEN refund_requests ELSE $2 END
                 WHERE id = $1 AND shop_id = $3",
            )
            .bind(id)
            .bind(i64::from(*ordinal))
            .bind(shop)
            .execute(&mut *tx)
            .await?;
        }
        Effect::RefundSettled { refund_id, state, amount } => {
            let statement = sqlx::AssertSqlSafe(format!(
                "SELECT state, amount FROM refunds WHERE refund_id = $1 AND order_id = $2 AND shop_id = $3{for_update}"
            ));
            let before = sqlx::query(statement).bind(refund_id).bind(id).bind(shop).fetch_optional(&mut *tx).await?;
            if let Some(before) = before {
                let (before, before_amount) = (before.text(0)?, before.int(1)?);
                let amount = db_yen(*amount);
                if before != state.name() || before_amount != amount {
                    sqlx::query(
                        "UPDATE refunds SET state = $2, amount = $3, updated_at = $4 WHERE refund_id = $1 AND shop_id = $5",
                    )
                    .bind(refund_id)
                    .bind(state.name())
                    .bind(amount)
                    .bind(at)
                    .bind(shop)
                        .execute(&mut *tx)
                        .await?;
                    // What the refund gives back now, less what it gave back before; never
                    // below nothing.
                    let delta = crate::storage::refunded_delta((&before, before_amount), (state.name(), amount));
                    sqlx::query(
                        "UPDATE orders SET refunded_amount = CASE WHEN refunded_amount + $2 < 0 THEN 0
                             ELSE refunded_amount + $2 END
                         WHERE id = $1 AND shop_id = $3",
                    )
                    .bind(id)
                    .bind(delta)
                    .bind(shop)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        // Done by the transition's own update.
        Effect::Unlock(_) => {}
    }
    Ok(())
}

/// The orders of `store`'s shop that `statement` (a static `SELECT` of [`order_columns!`], its
/// shop `$2`) finds for `value`.
async fn orders_of(store: &Store, statement: &'static str, value: &str) -> Result<Vec<Order>, StorageError> {
    let sql = store.sql();
    sql.run(async {
        sqlx::query(statement)
            .bind(value)
            .bind(store.shop_id())
            .fetch_all(&mut *sql.reader().await?)
            .await?
            .iter()
            .map(order)
            .collect()
    })
    .await
}

#[async_trait]
impl Orders for Store {
    async fn open_order(&self, new: &NewOrder) -> Result<Opened, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                let mut tx = sql.begin().await?;
                let opened = open_order(&mut tx, self.shop_id(), new).await?;
                tx.commit().await?;
                Ok(opened)
            })
            .await?)
    }

    async fn order(&self, id: OrderId) -> Result<Option<Order>, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                let row =
                    sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 AND shop_id = $2"))
                        .bind(id.0)
                        .bind(self.shop_id())
                        .fetch_optional(&mut *sql.reader().await?)
                        .await?;
                row.as_ref().map(order).transpose()
            })
            .await?)
    }

    async fn order_by_checkout_session(&self, session_id: &str) -> Result<Option<Order>, PlatformError> {
        let statement =
            concat!("SELECT ", order_columns!(), " FROM orders WHERE checkout_session_id = $1 AND shop_id = $2");
        Ok(orders_of(self, statement, session_id).await?.into_iter().next())
    }

    async fn order_by_charge(&self, charge_id: &str) -> Result<Option<Order>, PlatformError> {
        let statement = concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE charge_id = $1 AND shop_id = $2 ORDER BY id LIMIT 1"
        );
        Ok(orders_of(self, statement, charge_id).await?.into_iter().next())
    }

    async fn apply(&self, transition: &Transition) -> Result<Option<Order>, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                let mut tx = sql.begin().await?;
                let applied = apply(&mut tx, self.shop_id(), sql.dialect().for_update(), transition).await?;
                // Nothing applied: nothing written (rolled back as the transaction is dropped).
                if applied.is_some() {
                    tx.commit().await?;
                }
                Ok(applied)
            })
            .await?)
    }

    async fn orders_in(&self, states: &[OrderState], before: i64, limit: usize) -> Result<Vec<Order>, PlatformError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        // The names are the enum's own, never input: safe to write into the statement.
        let list = states.iter().map(|s| format!("'{}'", s.name())).collect::<Vec<_>>().join(", ");
        let statement = sqlx::AssertSqlSafe(format!(
            concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders WHERE state IN ({}) AND updated_at < $1 AND shop_id = $3 ORDER BY updated_at, id LIMIT $2"
            ),
            list
        ));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = self.sql();
        Ok(sql
            .run(async {
                sqlx::query(statement)
                    .bind(before)
                    .bind(limit)
                    .bind(self.shop_id())
                    .fetch_all(&mut *sql.reader().await?)
                    .await?
                    .iter()
                    .map(order)
                    .collect()
            })
            .await?)
    }

    async fn orders_by_charge_permission(&self, id: &str) -> Result<Vec<Order>, PlatformError> {
        let statement = concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE charge_permission_id = $1 AND shop_id = $2 ORDER BY id"
        );
        Ok(orders_of(self, statement, id).await?)
    }

    async fn order_by_refund(&self, refund_id: &str) -> Result<Option<Order>, PlatformError> {
        let statement = concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE id = (SELECT order_id FROM refunds WHERE refund_id = $1 AND shop_id = $2) AND shop_id = $2"
        );
        Ok(orders_of(self, statement, refund_id).await?.into_iter().next())
    }

    async fn refunds(&self, id: OrderId) -> Result<Vec<Refund>, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                sqlx::query(
                    "SELECT refund_id, amount, state, created_at FROM refunds WHERE order_id = $1 AND shop_id = $2
                     ORDER BY created_at, refund_id",
                )
                .bind(id.0)
                .bind(self.shop_id())
                .fetch_all(&mut *sql.reader().await?)
                .await?
                .iter()
                .map(|row| {
                    Ok(Refund {
                        refund_id: row.text(0)?,
                        amount: row.yen(1)?,
                        state: RefundState::parse(&row.text(2)?).ok_or_else(|| bad_column("refund state"))?,
                        created_at: row.int(3)?,
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
        let sql = self.sql();
        Ok(sql
            .run(async {
                // Only at the version the owner saw, and only where no other owner's lock holds.
                let row = sqlx::query(concat!(
                    "UPDATE orders SET locked_by = $3, locked_until = $4
                     WHERE id = $1 AND version = $2 AND (locked_by IS NULL OR locked_until < $5) AND shop_id = $6
                     RETURNING ",
                    order_columns!()
                ))
                .bind(id.0)
                .bind(version)
                .bind(token)
                .bind(until)
                .bind(now())
                .bind(self.shop_id())
                .fetch_optional(&mut *sql.writer().await?)
                .await?;
                let locked = row.as_ref().map(order).transpose()?;
                Ok(locked)
            })
            .await?)
    }

    async fn count_refund_refusal(&self, id: OrderId, ordinal: u32) -> Result<(), PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                sqlx::query(
                    "UPDATE orders SET refund_requests = CASE WHEN refund_requests > $2 THEN refund_requests ELSE $2 END
                     WHERE id = $1 AND shop_id = $3",
                )
                .bind(id.0)
                .bind(i64::from(ordinal))
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?;
                Ok(())
            })
            .await?)
    }

    async fn unlock_order(&self, id: OrderId, token: &str) -> Result<(), PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                sqlx::query(
                    "UPDATE orders SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2 AND shop_id = $3",
                )
                .bind(id.0)
                .bind(token)
                .bind(self.shop_id())
                    .execute(&mut *sql.writer().await?)
                    .await?;
                Ok(())
            })
            .await?)
    }

    async fn idempotency_secret(&self) -> Result<Vec<u8>, PlatformError> {
        Ok(crate::storage::Secrets::secret(self, crate::storage::IDEMPOTENCY_SECRET).await?)
    }
}
