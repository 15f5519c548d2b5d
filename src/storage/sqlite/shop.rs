//! The built-in shop's own side on SQLite: passwords, catalogue, carts and My Page.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{OptionalExtension, params};

use super::{Sqlite, db_yen, now, yen};
use crate::core::orders::OrderState;
use crate::core::platform::{CartId, MemberId, OrderLine, ShippingMethod, SubscriptionId};
use crate::storage::{NewMember, OrderSummary, Product, Shop, StorageError, SubscriptionSummary};

#[async_trait]
impl Shop for Sqlite {
    async fn create_member(&self, member: &NewMember, password_hash: &str) -> Result<Option<MemberId>, StorageError> {
        let (member, hash) = (member.clone(), password_hash.to_owned());
        self.write(move |tx| {
            let inserted = tx.execute(
                "INSERT INTO members (email, password_hash, family_name, given_name, family_kana, given_kana,
                    postal_code, prefecture, address1, address2, phone, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (email) DO NOTHING",
                params![
                    member.email,
                    hash,
                    member.family_name,
                    member.given_name,
                    member.family_kana,
                    member.given_kana,
                    member.postal_code,
                    member.prefecture,
                    member.address1,
                    member.address2,
                    member.phone,
                    now()
                ],
            )?;
            Ok((inserted == 1).then(|| MemberId(tx.last_insert_rowid())))
        })
        .await
    }

    async fn password_hash(&self, member: MemberId) -> Result<Option<String>, StorageError> {
        self.read(move |c| {
            c.query_row("SELECT password_hash FROM members WHERE id = ?1", [member.0], |row| row.get(0)).optional()
        })
        .await
    }

    async fn products(&self) -> Result<Vec<Product>, StorageError> {
        self.read(|c| {
            let mut statement = c.prepare("SELECT id, name, price, recurring FROM products ORDER BY id")?;
            let rows = statement.query_map([], |row| {
                Ok(Product { id: row.get(0)?, name: row.get(1)?, price: yen(row.get(2)?), recurring: row.get(3)? })
            })?;
            rows.collect()
        })
        .await
    }

    async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StorageError> {
        self.read(|c| {
            let mut statement =
                c.prepare("SELECT id, name, fee, amazon_pay_allowed FROM shipping_methods ORDER BY id")?;
            let rows = statement.query_map([], |row| {
                Ok(ShippingMethod {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    fee: yen(row.get(2)?),
                    amazon_pay_allowed: row.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn seed_catalogue(&self, products: &[Product], shipping: &[ShippingMethod]) -> Result<(), StorageError> {
        let (products, shipping) = (products.to_vec(), shipping.to_vec());
        self.write(move |tx| {
            let empty: bool = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM products)", [], |row| row.get(0))?;
            if !empty {
                return Ok(());
            }
            for p in &products {
                tx.execute(
                    "INSERT INTO products (id, name, price, recurring) VALUES (?1, ?2, ?3, ?4)",
                    params![p.id, p.name, db_yen(p.price), p.recurring],
                )?;
            }
            for s in &shipping {
                tx.execute(
                    "INSERT INTO shipping_methods (id, name, fee, amazon_pay_allowed) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                    params![s.id, s.name, db_yen(s.fee), s.amazon_pay_allowed],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn create_cart(&self) -> Result<CartId, StorageError> {
        let mut bytes = [0u8; 24];
        crate::core::random::fill(&mut bytes)?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let cart = id.clone();
        self.write(move |tx| {
            let inserted = tx.execute(
                "INSERT INTO carts (id, shipping_method_id, updated_at)
                 SELECT ?1, id, ?2 FROM shipping_methods ORDER BY id LIMIT 1",
                params![cart, now()],
            )?;
            if inserted == 0 {
                return Err(StorageError::Database("no shipping method: a cart needs one".into()));
            }
            Ok(())
        })
        .await?;
        Ok(CartId(id))
    }

    async fn set_cart_item(&self, cart: &CartId, product: i64, quantity: u64) -> Result<bool, StorageError> {
        let cart = cart.0.clone();
        self.write(move |tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)", [product], |row| row.get(0))?;
            if !exists {
                return Ok(false);
            }
            if quantity == 0 {
                tx.execute("DELETE FROM cart_items WHERE cart_id = ?1 AND product_id = ?2", params![cart, product])?;
            } else {
                tx.execute(
                    "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?1, ?2, ?3)
                     ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity",
                    params![cart, product, db_yen(quantity)],
                )?;
            }
            tx.execute(
                "UPDATE carts SET review_ref = NULL, checkout_session_id = NULL, updated_at = ?2 WHERE id = ?1",
                params![cart, now()],
            )?;
            Ok(true)
        })
        .await
    }

    async fn set_cart_shipping(&self, cart: &CartId, method: i64) -> Result<bool, StorageError> {
        let cart = cart.0.clone();
        self.write(move |tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM shipping_methods WHERE id = ?1)", [method], |row| row.get(0))?;
            if exists {
                tx.execute(
                    "UPDATE carts SET shipping_method_id = ?2, review_ref = NULL, checkout_session_id = NULL, updated_at = ?3
                     WHERE id = ?1",
                    params![cart, method, now()],
                )?;
            }
            Ok(exists)
        })
        .await
    }

    async fn orders_of_member(&self, member: MemberId) -> Result<Vec<OrderSummary>, StorageError> {
        let hidden = [OrderState::Processing, OrderState::Completing, OrderState::Failed].map(OrderState::name);
        self.read(move |c| {
            let mut statement = c.prepare(
                "SELECT id, order_number, total, recurring, state, charge_id, note FROM orders
                 WHERE member_id = ?1 AND state NOT IN (?2, ?3, ?4) ORDER BY id DESC LIMIT 100",
            )?;
            let mut lines = c.prepare_cached(
                "SELECT name, price, quantity FROM order_items WHERE order_id = ?1 ORDER BY position",
            )?;
            let heads = statement
                .query_map(params![member.0, hidden[0], hidden[1], hidden[2]], |row| {
                    let state: String = row.get(4)?;
                    Ok((
                        row.get::<_, i64>(0)?,
                        OrderSummary {
                            number: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                            total: yen(row.get(2)?),
                            recurring: row.get(3)?,
                            state: OrderState::parse(&state).unwrap_or(OrderState::Unknown),
                            lines: Vec::new(),
                            charge_id: row.get(5)?,
                            note: row.get(6)?,
                        },
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            heads
                .into_iter()
                .map(|(id, mut summary)| {
                    summary.lines = lines
                        .query_map([id], |row| {
                            Ok(OrderLine {
                                name: row.get(0)?,
                                unit_price: yen(row.get(1)?),
                                quantity: yen(row.get(2)?),
                            })
                        })?
                        .collect::<Result<_, _>>()?;
                    Ok(summary)
                })
                .collect()
        })
        .await
    }

    async fn reschedule_subscription(&self, id: SubscriptionId, next_cycle: time::Date) -> Result<bool, StorageError> {
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE subscriptions SET next_cycle = ?2 WHERE id = ?1",
                params![id.0, next_cycle.to_string()],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn subscriptions_of_member(&self, member: MemberId) -> Result<Vec<SubscriptionSummary>, StorageError> {
        self.read(move |c| {
            let mut statement = c.prepare(
                "SELECT id, amount, next_cycle, charge_permission_id FROM subscriptions
                 WHERE member_id = ?1 AND status = 'active' ORDER BY id",
            )?;
            let rows = statement.query_map([member.0], |row| {
                Ok(SubscriptionSummary {
                    id: SubscriptionId(row.get(0)?),
                    amount: yen(row.get(1)?),
                    next_cycle: row.get(2)?,
                    charge_permission_id: row.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
