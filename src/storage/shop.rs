//! The built-in shop's own side, on both databases: passwords, catalogue, carts and My Page.
//!
//! E-mails are unique whatever their case: SQLite's column is `COLLATE NOCASE`, PostgreSQL has a
//! unique index on `lower(email)`; a sign-up with a taken e-mail is `ON CONFLICT DO NOTHING` on
//! either. The catalogue is seeded once even by instances starting together: on PostgreSQL under
//! an advisory lock ([`super::dialect::Dialect::transaction_lock`]), on SQLite by its one writer.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Store;
use super::sql::{Fields, db_yen};
use super::{NewMember, OrderSummary, Product, Shop, StorageError, SubscriptionSummary};
use crate::core::now;
use crate::core::orders::OrderState;
use crate::core::platform::{CartId, MemberId, OrderLine, ShippingMethod, SubscriptionId};

/// The advisory lock under which the catalogue is seeded, so that instances starting together
/// seed it once.
const SEED_LOCK: i64 = 0x616d_617a_6f6e_7031;

#[async_trait]
impl Shop for Store {
    async fn create_member(&self, member: &NewMember, password_hash: &str) -> Result<Option<MemberId>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            // No conflict target: the e-mail's uniqueness is the column's collation on SQLite and
            // an index on an expression on PostgreSQL.
            let row = sqlx::query(
                "INSERT INTO members (email, password_hash, family_name, given_name, family_kana, given_kana,
                    postal_code, prefecture, address1, address2, phone, created_at, shop_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(&member.email)
            .bind(password_hash)
            .bind(&member.family_name)
            .bind(&member.given_name)
            .bind(&member.family_kana)
            .bind(&member.given_kana)
            .bind(&member.postal_code)
            .bind(&member.prefecture)
            .bind(&member.address1)
            .bind(&member.address2)
            .bind(&member.phone)
            .bind(now())
            .bind(self.shop_id())
            .fetch_optional(&mut *sql.writer().await?)
            .await?;
            let id = row.map(|row| row.int(0)).transpose()?;
            Ok(id.map(MemberId))
        })
        .await
    }

    async fn password_hash(&self, member: MemberId) -> Result<Option<String>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query("SELECT password_hash FROM members WHERE id = $1 AND shop_id = $2")
                .bind(member.0)
                .bind(self.shop_id())
                .fetch_optional(&mut *sql.reader().await?)
                .await?
                .map(|row| row.text(0))
                .transpose()
        })
        .await
    }

    async fn products(&self) -> Result<Vec<Product>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query("SELECT id, name, price, recurring FROM products WHERE shop_id = $1 ORDER BY id")
                .bind(self.shop_id())
                .fetch_all(&mut *sql.reader().await?)
                .await?
                .iter()
                .map(|row| {
                    Ok(Product { id: row.int(0)?, name: row.text(1)?, price: row.yen(2)?, recurring: row.flag(3)? })
                })
                .collect()
        })
        .await
    }

    async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query("SELECT id, name, fee, amazon_pay_allowed FROM shipping_methods WHERE shop_id = $1 ORDER BY id")
                .bind(self.shop_id())
                .fetch_all(&mut *sql.reader().await?)
                .await?
                .iter()
                .map(|row| {
                    Ok(ShippingMethod {
                        id: row.int(0)?,
                        name: row.text(1)?,
                        fee: row.yen(2)?,
                        amazon_pay_allowed: row.flag(3)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn seed_catalogue(&self, products: &[Product], shipping: &[ShippingMethod]) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            // Instances starting together take turns: the second finds the catalogue filled.
            if let Some(lock) = sql.dialect().transaction_lock() {
                sqlx::query(lock).bind(SEED_LOCK).execute(&mut *tx).await?;
            }
            let shop = self.shop_id();
            if sqlx::query("SELECT 1 FROM products WHERE shop_id = $1 LIMIT 1")
                .bind(shop)
                .fetch_optional(&mut *tx)
                .await?
                .is_some()
            {
                return Ok(());
            }
            for p in products {
                sqlx::query("INSERT INTO products (id, name, price, recurring, shop_id) VALUES ($1, $2, $3, $4, $5)")
                    .bind(p.id)
                    .bind(&p.name)
                    .bind(db_yen(p.price))
                    .bind(p.recurring)
                    .bind(shop)
                    .execute(&mut *tx)
                    .await?;
            }
            for s in shipping {
                sqlx::query(
                    "INSERT INTO shipping_methods (id, name, fee, amazon_pay_allowed, shop_id) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(s.id)
                .bind(&s.name)
                .bind(db_yen(s.fee))
                .bind(s.amazon_pay_allowed)
                .bind(shop)
                .execute(&mut *tx)
                .await?;
            }
            // Rows given their IDs leave PostgreSQL's identity sequences behind: move them past.
            for table in ["products", "shipping_methods"] {
                if let Some(catch_up) = sql.dialect().identity_catch_up(table) {
                    sqlx::query(sqlx::AssertSqlSafe(catch_up)).execute(&mut *tx).await?;
                }
            }
            Ok(tx.commit().await?)
        })
        .await
    }

    async fn create_cart(&self) -> Result<CartId, StorageError> {
        let mut bytes = [0u8; 24];
        crate::core::random::fill(&mut bytes)?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO carts (id, shipping_method_id, updated_at, shop_id)
                 SELECT $1, id, $2, shop_id FROM shipping_methods WHERE shop_id = $3 ORDER BY id LIMIT 1",
            )
            .bind(&id)
            .bind(now())
            .bind(self.shop_id())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StorageError::Database("no shipping method: a cart needs one".into()));
            }
            Ok(tx.commit().await?)
        })
        .await?;
        Ok(CartId(id))
    }

    async fn set_cart_item(&self, cart: &CartId, product: i64, quantity: u64) -> Result<bool, StorageError> {
        let (sql, shop) = (self.sql(), self.shop_id());
        sql.run(async {
            let mut tx = sql.begin().await?;
            // The cart and the product both this shop's.
            if sqlx::query(
                "SELECT 1 FROM products p JOIN carts c ON c.id = $2 AND c.shop_id = p.shop_id
                 WHERE p.id = $1 AND p.shop_id = $3",
            )
            .bind(product)
            .bind(&cart.0)
            .bind(shop)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
            {
                return Ok(false);
            }
            if quantity == 0 {
                sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND product_id = $2 AND shop_id = $3")
                    .bind(&cart.0)
                    .bind(product)
                    .bind(shop)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(
                    "INSERT INTO cart_items (cart_id, product_id, quantity, shop_id) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity",
                )
                .bind(&cart.0)
                .bind(product)
                .bind(db_yen(quantity))
                .bind(shop)
                .execute(&mut *tx)
                .await?;
            }
            // A changed cart forgets its checkout: the amount Amazon was shown is stale.
            sqlx::query(
                "UPDATE carts SET review_ref = NULL, checkout_session_id = NULL, updated_at = $2
                 WHERE id = $1 AND shop_id = $3",
            )
            .bind(&cart.0)
            .bind(now())
            .bind(shop)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn set_cart_shipping(&self, cart: &CartId, method: i64) -> Result<bool, StorageError> {
        let (sql, shop) = (self.sql(), self.shop_id());
        sql.run(async {
            let mut tx = sql.begin().await?;
            let exists = sqlx::query("SELECT 1 FROM shipping_methods WHERE id = $1 AND shop_id = $2")
                .bind(method)
                .bind(shop)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if exists {
                sqlx::query(
                    "UPDATE carts SET shipping_method_id = $2, review_ref = NULL, checkout_session_id = NULL,
                         updated_at = $3
                     WHERE id = $1 AND shop_id = $4",
                )
                .bind(&cart.0)
                .bind(method)
                .bind(now())
                .bind(shop)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(exists)
        })
        .await
    }

    async fn orders_of_member(&self, member: MemberId) -> Result<Vec<OrderSummary>, StorageError> {
        // Orders not yet placed (or never placed) are not the buyer's to see.
        let [processing, completing, failed] =
            [OrderState::Processing, OrderState::Completing, OrderState::Failed].map(OrderState::name);
        let sql = self.sql();
        sql.run(async {
            // One statement, the orders with their lines: one snapshot, and one round trip.
            let rows = sqlx::query(
                "SELECT o.id, o.order_number, o.total, o.recurring, o.state, o.charge_id, o.note,
                        i.name, i.price, i.quantity
                 FROM (SELECT id, order_number, total, recurring, state, charge_id, note FROM orders
                       WHERE member_id = $1 AND state NOT IN ($2, $3, $4) AND shop_id = $5
                       ORDER BY id DESC LIMIT 100) o
                 LEFT JOIN order_items i ON i.order_id = o.id
                 ORDER BY o.id DESC, i.position",
            )
            .bind(member.0)
            .bind(processing)
            .bind(completing)
            .bind(failed)
            .bind(self.shop_id())
            .fetch_all(&mut *sql.reader().await?)
            .await?;
            let mut summaries: Vec<(i64, OrderSummary)> = Vec::new();
            for row in &rows {
                let id = row.int(0)?;
                if summaries.last().is_none_or(|(last, _)| *last != id) {
                    let state = row.text(4)?;
                    summaries.push((
                        id,
                        OrderSummary {
                            number: row.opt_text(1)?.unwrap_or_default(),
                            total: row.yen(2)?,
                            recurring: row.flag(3)?,
                            state: OrderState::parse(&state).unwrap_or(OrderState::Unknown),
                            lines: Vec::new(),
                            charge_id: row.opt_text(5)?,
                            note: row.text(6)?,
                        },
                    ));
                }
                // An order without lines has one row, its line columns NULL.
                if let Some(name) = row.opt_text(7)? {
                    let line = OrderLine { name, unit_price: row.yen(8)?, quantity: row.yen(9)? };
                    if let Some((_, summary)) = summaries.last_mut() {
                        summary.lines.push(line);
                    }
                }
            }
            Ok(summaries.into_iter().map(|(_, summary)| summary).collect())
        })
        .await
    }

    async fn reschedule_subscription(&self, id: SubscriptionId, next_cycle: time::Date) -> Result<bool, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let changed = sqlx::query("UPDATE subscriptions SET next_cycle = $2 WHERE id = $1 AND shop_id = $3")
                .bind(id.0)
                .bind(next_cycle.to_string())
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?
                .rows_affected();
            Ok(changed == 1)
        })
        .await
    }

    async fn subscriptions_of_member(&self, member: MemberId) -> Result<Vec<SubscriptionSummary>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query(
                "SELECT id, amount, next_cycle, charge_permission_id FROM subscriptions
                 WHERE member_id = $1 AND status = 'active' AND shop_id = $2 ORDER BY id",
            )
            .bind(member.0)
            .bind(self.shop_id())
            .fetch_all(&mut *sql.reader().await?)
            .await?
            .iter()
            .map(|row| {
                Ok(SubscriptionSummary {
                    id: SubscriptionId(row.int(0)?),
                    amount: row.yen(1)?,
                    next_cycle: row.text(2)?,
                    charge_permission_id: row.text(3)?,
                })
            })
            .collect()
        })
        .await
    }
}
