//! The built-in shop's own side on PostgreSQL: passwords, catalogue, carts and My Page.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use deadpool_postgres::GenericClient;

use super::{Postgres, db_yen, now, yen};
use crate::core::orders::OrderState;
use crate::core::platform::{CartId, MemberId, OrderLine, ShippingMethod, SubscriptionId};
use crate::storage::{NewMember, OrderSummary, Product, Shop, StorageError, SubscriptionSummary};

/// The advisory lock under which the catalogue is seeded, so that instances starting together
/// seed it once.
const SEED_LOCK: i64 = 0x616d_617a_6f6e_7031;

#[async_trait]
impl Shop for Postgres {
    async fn create_member(&self, member: &NewMember, password_hash: &str) -> Result<Option<MemberId>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client.prepare_cached("INSERT INTO members (email, password_hash, family_name, given_name, family_kana, given_kana,
                        postal_code, prefecture, address1, address2, phone, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT DO NOTHING RETURNING id").await?,
                    &[
                        &member.email,
                        &password_hash,
                        &member.family_name,
                        &member.given_name,
                        &member.family_kana,
                        &member.given_kana,
                        &member.postal_code,
                        &member.prefecture,
                        &member.address1,
                        &member.address2,
                        &member.phone,
                        &now(),
                    ],
                )
                .await?;
            Ok(row.map(|row| row.try_get(0)).transpose()?.map(MemberId))
        })
        .await
    }

    async fn password_hash(&self, member: MemberId) -> Result<Option<String>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client.prepare_cached("SELECT password_hash FROM members WHERE id = $1").await?,
                    &[&member.0],
                )
                .await?;
            Ok(row.map(|row| row.try_get(0)).transpose()?)
        })
        .await
    }

    async fn products(&self) -> Result<Vec<Product>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .query(
                    &client.prepare_cached("SELECT id, name, price, recurring FROM products ORDER BY id").await?,
                    &[],
                )
                .await?
                .iter()
                .map(|row| {
                    Ok(Product {
                        id: row.try_get(0)?,
                        name: row.try_get(1)?,
                        price: yen(row.try_get(2)?),
                        recurring: row.try_get(3)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .query(
                    &client
                        .prepare_cached("SELECT id, name, fee, amazon_pay_allowed FROM shipping_methods ORDER BY id")
                        .await?,
                    &[],
                )
                .await?
                .iter()
                .map(|row| {
                    Ok(ShippingMethod {
                        id: row.try_get(0)?,
                        name: row.try_get(1)?,
                        fee: yen(row.try_get(2)?),
                        amazon_pay_allowed: row.try_get(3)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn seed_catalogue(&self, products: &[Product], shipping: &[ShippingMethod]) -> Result<(), StorageError> {
        self.run(async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            transaction.execute(&transaction.prepare_cached("SELECT pg_advisory_xact_lock($1)").await?, &[&SEED_LOCK]).await?;
            if transaction.query_opt(&transaction.prepare_cached("SELECT 1 FROM products LIMIT 1").await?, &[]).await?.is_some() {
                return Ok(());
            }
            for p in products {
                transaction
                    .execute(
                        &transaction.prepare_cached("INSERT INTO products (id, name, price, recurring) VALUES ($1, $2, $3, $4)").await?,
                        &[&p.id, &p.name, &db_yen(p.price), &p.recurring],
                    )
                    .await?;
            }
            for s in shipping {
                transaction
                    .execute(
                        &transaction.prepare_cached("INSERT INTO shipping_methods (id, name, fee, amazon_pay_allowed) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (id) DO NOTHING").await?,
                        &[&s.id, &s.name, &db_yen(s.fee), &s.amazon_pay_allowed],
                    )
                    .await?;
            }
            // Rows given their IDs leave the identity sequences behind: move them past.
            for table in ["products", "shipping_methods"] {
                transaction
                    .execute(
                        &transaction.prepare_cached(&format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
                        )).await?,
                        &[],
                    )
                    .await?;
            }
            transaction.commit().await?;
            Ok(())
        })
        .await
    }

    async fn create_cart(&self) -> Result<CartId, StorageError> {
        let mut bytes = [0u8; 24];
        crate::core::random::fill(&mut bytes)?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        self.run(async {
            let client = self.client().await?;
            let inserted = client
                .execute(
                    &client
                        .prepare_cached(
                            "INSERT INTO carts (id, shipping_method_id, updated_at)
                     SELECT $1, id, $2 FROM shipping_methods ORDER BY id LIMIT 1",
                        )
                        .await?,
                    &[&id, &now()],
                )
                .await?;
            if inserted == 0 {
                return Err(StorageError::Database("no shipping method: a cart needs one".into()));
            }
            Ok(())
        })
        .await?;
        Ok(CartId(id))
    }

    async fn set_cart_item(&self, cart: &CartId, product: i64, quantity: u64) -> Result<bool, StorageError> {
        self.run(async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            if transaction.query_opt(&transaction.prepare_cached("SELECT 1 FROM products WHERE id = $1").await?, &[&product]).await?.is_none() {
                return Ok(false);
            }
            if quantity == 0 {
                transaction
                    .execute(&transaction.prepare_cached("DELETE FROM cart_items WHERE cart_id = $1 AND product_id = $2").await?, &[&cart.0, &product])
                    .await?;
            } else {
                transaction
                    .execute(
                        &transaction.prepare_cached("INSERT INTO cart_items (cart_id, product_id, quantity) VALUES ($1, $2, $3)
                         ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity").await?,
                        &[&cart.0, &product, &db_yen(quantity)],
                    )
                    .await?;
            }
            transaction
                .execute(
                    &transaction.prepare_cached("UPDATE carts SET review_ref = NULL, checkout_session_id = NULL, updated_at = $2 WHERE id = $1").await?,
                    &[&cart.0, &now()],
                )
                .await?;
            transaction.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn set_cart_shipping(&self, cart: &CartId, method: i64) -> Result<bool, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let exists = client.query_opt(&client.prepare_cached("SELECT 1 FROM shipping_methods WHERE id = $1").await?, &[&method]).await?.is_some();
            if exists {
                client
                    .execute(
                        &client.prepare_cached("UPDATE carts SET shipping_method_id = $2, review_ref = NULL, checkout_session_id = NULL,
                             updated_at = $3
                         WHERE id = $1").await?,
                        &[&cart.0, &method, &now()],
                    )
                    .await?;
            }
            Ok(exists)
        })
        .await
    }

    async fn orders_of_member(&self, member: MemberId) -> Result<Vec<OrderSummary>, StorageError> {
        let hidden: Vec<String> =
            [OrderState::Processing, OrderState::Completing, OrderState::Failed].map(|s| s.name().to_owned()).to_vec();
        self.run(async {
            let client = self.client().await?;
            let heads = client
                .query(
                    &client
                        .prepare_cached(
                            "SELECT id, order_number, total, recurring, state, charge_id, note FROM orders
                     WHERE member_id = $1 AND NOT (state = ANY($2)) ORDER BY id DESC LIMIT 100",
                        )
                        .await?,
                    &[&member.0, &hidden],
                )
                .await?;
            let mut summaries = Vec::with_capacity(heads.len());
            for row in heads {
                let id: i64 = row.try_get(0)?;
                let state: String = row.try_get(4)?;
                let lines = order_lines(&client, id).await?;
                summaries.push(OrderSummary {
                    number: row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
                    total: yen(row.try_get(2)?),
                    recurring: row.try_get(3)?,
                    state: OrderState::parse(&state).unwrap_or(OrderState::Unknown),
                    lines,
                    charge_id: row.try_get(5)?,
                    note: row.try_get(6)?,
                });
            }
            Ok(summaries)
        })
        .await
    }

    async fn reschedule_subscription(&self, id: SubscriptionId, next_cycle: time::Date) -> Result<bool, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let changed = client
                .execute(
                    &client.prepare_cached("UPDATE subscriptions SET next_cycle = $2 WHERE id = $1").await?,
                    &[&id.0, &next_cycle.to_string()],
                )
                .await?;
            Ok(changed == 1)
        })
        .await
    }

    async fn subscriptions_of_member(&self, member: MemberId) -> Result<Vec<SubscriptionSummary>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .query(
                    &client
                        .prepare_cached(
                            "SELECT id, amount, next_cycle, charge_permission_id FROM subscriptions
                     WHERE member_id = $1 AND status = 'active' ORDER BY id",
                        )
                        .await?,
                    &[&member.0],
                )
                .await?
                .iter()
                .map(|row| {
                    Ok(SubscriptionSummary {
                        id: SubscriptionId(row.try_get(0)?),
                        amount: yen(row.try_get(1)?),
                        next_cycle: row.try_get(2)?,
                        charge_permission_id: row.try_get(3)?,
                    })
                })
                .collect()
        })
        .await
    }
}

/// An order's lines, in their order (moved here from the platform's PostgreSQL implementation
/// when that became the shared one in `storage::platform`).
async fn order_lines(client: &impl GenericClient, id: i64) -> Result<Vec<OrderLine>, StorageError> {
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
