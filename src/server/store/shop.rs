//! The demo shop's catalogue, carts, orders and subscriptions.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError};

/// A product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Price in yen, tax included.
    pub price: u64,
    /// Delivered and charged every month (定期購入).
    pub recurring: bool,
}

/// A shipping method (基本設定＞配送方法・配送料).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShippingMethod {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Fee in yen.
    pub fee: u64,
    /// The manual's 「支払方法: AmazonPay」 checkbox for this method.
    pub amazon_pay_allowed: bool,
}

/// One line of a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartLine {
    /// The product.
    pub product: Product,
    /// How many.
    pub quantity: u64,
}

/// A cart with its lines and shipping method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartView {
    /// Cart ID (in the session).
    pub id: String,
    /// Lines.
    pub lines: Vec<CartLine>,
    /// Chosen shipping method.
    pub shipping: ShippingMethod,
    /// The Amazon checkout session under way for this cart, if any.
    pub checkout_session_id: Option<String>,
}

impl CartView {
    /// Whether there is nothing to buy.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Whether this is a subscription (a recurring product is in it): then the whole cart is
    /// delivered and charged every month.
    pub fn is_recurring(&self) -> bool {
        self.lines.iter().any(|line| line.product.recurring)
    }

    /// Products and shipping, in yen (nothing to ship, nothing to pay: an empty cart is 0).
    pub fn total(&self) -> u64 {
        if self.is_empty() {
            return 0;
        }
        self.lines.iter().map(|line| line.product.price * line.quantity).sum::<u64>() + self.shipping.fee
    }
}

/// An order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    /// ID.
    pub id: i64,
    /// 注文番号.
    pub order_number: String,
    /// Member, if logged in.
    pub member_id: Option<i64>,
    /// The Amazon checkout session it came from (one order per session).
    pub checkout_session_id: Option<String>,
    /// The subscription it is a cycle of.
    pub subscription_id: Option<i64>,
    /// Total in yen.
    pub total: u64,
    /// A subscription order.
    pub recurring: bool,
    /// `processing`, `completing`, `authorized` (仮売上), `pending` (決済保留), `failed` (the
    /// notice code in `note`), `card_unsettled` (カード未決済).
    pub status: String,
    /// Amazon's charge permission.
    pub charge_permission_id: Option<String>,
    /// Amazon's charge.
    pub charge_id: Option<String>,
    /// What happened, for the shop owner.
    pub note: String,
}

/// A subscription (定期購入).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// ID.
    pub id: i64,
    /// Member.
    pub member_id: Option<i64>,
    /// The recurring charge permission.
    pub charge_permission_id: String,
    /// Charged every cycle, in yen.
    pub amount: u64,
    /// Next cycle's date, `YYYY-MM-DD`.
    pub next_cycle: String,
    /// `active`.
    pub status: String,
}

/// What a new order records.
#[derive(Clone, Debug, Default)]
pub struct NewOrder<'a> {
    /// Member.
    pub member_id: Option<i64>,
    /// The checkout session (one order per session).
    pub checkout_session_id: Option<&'a str>,
    /// The subscription and cycle (one order per cycle).
    pub subscription: Option<(i64, &'a str)>,
    /// Total.
    pub total: u64,
    /// Subscription order.
    pub recurring: bool,
    /// Initial status.
    pub status: &'a str,
    /// Lines: name, price, quantity.
    pub items: Vec<(String, u64, u64)>,
}

fn yen(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(index)?;
    Ok(value.max(0).unsigned_abs())
}

fn order(row: &Row<'_>) -> rusqlite::Result<OrderRecord> {
    Ok(OrderRecord {
        id: row.get(0)?,
        order_number: row.get(1)?,
        member_id: row.get(2)?,
        checkout_session_id: row.get(3)?,
        subscription_id: row.get(4)?,
        total: yen(row, 5)?,
        recurring: row.get(6)?,
        status: row.get(7)?,
        charge_permission_id: row.get(8)?,
        charge_id: row.get(9)?,
        note: row.get(10)?,
    })
}

const ORDER_COLUMNS: &str = "id, order_number, member_id, checkout_session_id, subscription_id, total, recurring, \
     status, charge_permission_id, charge_id, note";

impl Store {
    /// The catalogue.
    pub fn products(&self) -> Result<Vec<Product>, StoreError> {
        let db = self.db();
        let mut statement = db.prepare("SELECT id, name, price, recurring FROM products ORDER BY id")?;
        let rows = statement.query_map([], |row| {
            Ok(Product { id: row.get(0)?, name: row.get(1)?, price: yen(row, 2)?, recurring: row.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The shipping methods.
    pub fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StoreError> {
        let db = self.db();
        let mut statement = db.prepare("SELECT id, name, fee, amazon_pay_allowed FROM shipping_methods ORDER BY id")?;
        let rows = statement.query_map([], |row| {
            Ok(ShippingMethod {
                id: row.get(0)?,
                name: row.get(1)?,
                fee: yen(row, 2)?,
                amazon_pay_allowed: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether Amazon Pay is among the shop's payment methods (基本設定＞支払方法).
    pub fn amazon_pay_enabled(&self) -> Result<bool, StoreError> {
        Ok(self
            .db()
            .query_row("SELECT enabled FROM payment_methods WHERE code = 'amazon_pay'", [], |row| row.get(0))
            .optional()?
            .unwrap_or(false))
    }

    /// Creates an empty cart.
    pub fn create_cart(&self, id: &str) -> Result<(), StoreError> {
        self.db().execute("INSERT OR IGNORE INTO carts (id) VALUES (?1)", [id])?;
        Ok(())
    }

    /// A cart with its lines.
    pub fn cart(&self, id: &str) -> Result<Option<CartView>, StoreError> {
        let db = self.db();
        let head = db
            .query_row(
                "SELECT s.id, s.name, s.fee, s.amazon_pay_allowed, c.checkout_session_id
                 FROM carts c JOIN shipping_methods s ON s.id = c.shipping_method_id WHERE c.id = ?1",
                [id],
                |row| {
                    Ok((
                        ShippingMethod {
                            id: row.get(0)?,
                            name: row.get(1)?,
                            fee: yen(row, 2)?,
                            amazon_pay_allowed: row.get(3)?,
                        },
                        row.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((shipping, checkout_session_id)) = head else {
            return Ok(None);
        };
        let mut statement = db.prepare(
            "SELECT p.id, p.name, p.price, p.recurring, i.quantity FROM cart_items i
             JOIN products p ON p.id = i.product_id WHERE i.cart_id = ?1 ORDER BY p.id",
        )?;
        let lines = statement
            .query_map([id], |row| {
                Ok(CartLine {
                    product: Product {
                        id: row.get(0)?,
                        name: row.get(1)?,
                        price: yen(row, 2)?,
                        recurring: row.get(3)?,
                    },
                    quantity: yen(row, 4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(CartView { id: id.to_owned(), lines, shipping, checkout_session_id }))
    }

    /// Sets a product's quantity (0 removes it); `false` when the product does not exist.
    /// A changed cart forgets its checkout session: the amount Amazon was shown is stale.
    pub fn set_cart_item(&self, cart_id: &str, product_id: i64, quantity: u64) -> Result<bool, StoreError> {
        let db = self.db();
        let exists: bool =
            db.query_row("SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)", [product_id], |row| row.get(0))?;
        if !exists {
            return Ok(false);
        }
        if quantity == 0 {
            db.execute("DELETE FROM cart_items WHERE cart_id = ?1 AND product_id = ?2", params![cart_id, product_id])?;
        } else {
            db.execute(
                "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?1, ?2, ?3)
                 ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity",
                params![cart_id, product_id, i64::try_from(quantity).unwrap_or(i64::MAX)],
            )?;
        }
        db.execute("UPDATE carts SET checkout_session_id = NULL WHERE id = ?1", [cart_id])?;
        Ok(true)
    }

    /// Chooses the shipping method; `false` when it does not exist.
    pub fn set_cart_shipping(&self, cart_id: &str, method_id: i64) -> Result<bool, StoreError> {
        let db = self.db();
        let exists: bool =
            db.query_row("SELECT EXISTS (SELECT 1 FROM shipping_methods WHERE id = ?1)", [method_id], |row| {
                row.get(0)
            })?;
        if exists {
            db.execute(
                "UPDATE carts SET shipping_method_id = ?2, checkout_session_id = NULL WHERE id = ?1",
                params![cart_id, method_id],
            )?;
        }
        Ok(exists)
    }

    /// Remembers the Amazon checkout session the shopper came back with.
    pub fn set_cart_checkout_session(
        &self,
        cart_id: &str,
        checkout_session_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db().execute(
            "UPDATE carts SET checkout_session_id = ?2 WHERE id = ?1",
            params![cart_id, checkout_session_id],
        )?;
        Ok(())
    }

    /// Empties a cart after its order.
    pub fn clear_cart(&self, cart_id: &str) -> Result<(), StoreError> {
        let db = self.db();
        db.execute("DELETE FROM cart_items WHERE cart_id = ?1", [cart_id])?;
        db.execute("UPDATE carts SET checkout_session_id = NULL WHERE id = ?1", [cart_id])?;
        Ok(())
    }

    /// Creates an order, or returns the existing one for the same checkout session or
    /// subscription cycle (`Err`): placing the same order twice makes one order.
    pub fn create_order(&self, order: &NewOrder<'_>, now: i64) -> Result<Result<OrderRecord, OrderRecord>, StoreError> {
        let mut db = self.db();
        let transaction = db.transaction()?;
        let existing = transaction
            .query_row(
                &format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_session_id = ?1
                     OR (subscription_id = ?2 AND cycle = ?3)"
                ),
                params![order.checkout_session_id, order.subscription.map(|s| s.0), order.subscription.map(|s| s.1)],
                self::order,
            )
            .optional()?;
        if let Some(existing) = existing {
            return Ok(Err(existing));
        }
        transaction.execute(
            "INSERT INTO orders (order_number, member_id, checkout_session_id, subscription_id, cycle, total,
                recurring, status, created_at)
             VALUES ('', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                order.member_id,
                order.checkout_session_id,
                order.subscription.map(|s| s.0),
                order.subscription.map(|s| s.1),
                i64::try_from(order.total).unwrap_or(i64::MAX),
                order.recurring,
                order.status,
                now
            ],
        )?;
        let id = transaction.last_insert_rowid();
        transaction
            .execute("UPDATE orders SET order_number = ?2 WHERE id = ?1", params![id, format!("{}", 10_000 + id)])?;
        for (name, price, quantity) in &order.items {
            transaction.execute(
                "INSERT INTO order_items (order_id, name, price, quantity) VALUES (?1, ?2, ?3, ?4)",
                params![
                    id,
                    name,
                    i64::try_from(*price).unwrap_or(i64::MAX),
                    i64::try_from(*quantity).unwrap_or(i64::MAX)
                ],
            )?;
        }
        let created =
            transaction.query_row(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"), [id], self::order)?;
        transaction.commit()?;
        Ok(Ok(created))
    }

    /// The order of a checkout session.
    pub fn order_by_checkout_session(&self, checkout_session_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self
            .db()
            .query_row(
                &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_session_id = ?1"),
                [checkout_session_id],
                self::order,
            )
            .optional()?)
    }

    /// Takes an order from `processing` to `completing`; `false` when another request has it.
    pub fn claim_order(&self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .db()
            .execute("UPDATE orders SET status = 'completing' WHERE id = ?1 AND status = 'processing'", [id])?
            == 1)
    }

    /// Records an order's outcome.
    pub fn update_order(
        &self,
        id: i64,
        status: &str,
        charge_permission_id: Option<&str>,
        charge_id: Option<&str>,
        note: &str,
    ) -> Result<(), StoreError> {
        self.db().execute(
            "UPDATE orders SET status = ?2, charge_permission_id = COALESCE(?3, charge_permission_id),
                charge_id = COALESCE(?4, charge_id), note = ?5 WHERE id = ?1",
            params![id, status, charge_permission_id, charge_id, note],
        )?;
        Ok(())
    }

    /// A member's orders, newest first (orders that never reached Amazon's authorization are
    /// not orders: they are left out).
    pub fn orders_for_member(&self, member_id: i64) -> Result<Vec<OrderRecord>, StoreError> {
        let db = self.db();
        let mut statement = db.prepare(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE member_id = ?1 AND status NOT IN ('processing', 'completing', 'failed')
             ORDER BY id DESC"
        ))?;
        let rows = statement.query_map([member_id], self::order)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Starts a subscription for a recurring charge permission.
    pub fn create_subscription(
        &self,
        member_id: Option<i64>,
        charge_permission_id: &str,
        amount: u64,
        next_cycle: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.db().execute(
            "INSERT OR IGNORE INTO subscriptions (member_id, charge_permission_id, amount, next_cycle, status, created_at)
             VALUES (?1, ?2, ?3, ?4, 'active', ?5)",
            params![member_id, charge_permission_id, i64::try_from(amount).unwrap_or(i64::MAX), next_cycle, now],
        )?;
        Ok(())
    }

    /// Active subscriptions whose next cycle is on or before `date` (`YYYY-MM-DD`).
    pub fn due_subscriptions(&self, date: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        self.subscriptions_where("status = 'active' AND next_cycle <= ?1", date)
    }

    /// A member's subscriptions.
    pub fn subscriptions_for_member(&self, member_id: i64) -> Result<Vec<SubscriptionRecord>, StoreError> {
        self.subscriptions_where("member_id = ?1", member_id)
    }

    fn subscriptions_where(
        &self,
        condition: &str,
        value: impl rusqlite::ToSql,
    ) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let db = self.db();
        let mut statement = db.prepare(&format!(
            "SELECT id, member_id, charge_permission_id, amount, next_cycle, status FROM subscriptions
             WHERE {condition} ORDER BY id"
        ))?;
        let rows = statement.query_map([value], |row| {
            Ok(SubscriptionRecord {
                id: row.get(0)?,
                member_id: row.get(1)?,
                charge_permission_id: row.get(2)?,
                amount: yen(row, 3)?,
                next_cycle: row.get(4)?,
                status: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves a subscription to its next cycle.
    pub fn set_next_cycle(&self, subscription_id: i64, next_cycle: &str) -> Result<(), StoreError> {
        self.db()
            .execute("UPDATE subscriptions SET next_cycle = ?2 WHERE id = ?1", params![subscription_id, next_cycle])?;
        Ok(())
    }

    /// The yen of a subscription's orders authorized in a calendar month (`YYYY-MM`).
    pub fn charged_in_month(&self, subscription_id: i64, month: &str) -> Result<u64, StoreError> {
        let total: i64 = self.db().query_row(
            "SELECT COALESCE(SUM(total), 0) FROM orders WHERE subscription_id = ?1 AND substr(cycle, 1, 7) = ?2
             AND status IN ('authorized', 'pending')",
            params![subscription_id, month],
            |row| row.get(0),
        )?;
        Ok(total.max(0).unsigned_abs())
    }
}
