//! Carts as the core sees them, and the checkout each is in.

use async_trait::async_trait;
use sqlx::AnyConnection;

use crate::core::platform::{Cart, CartCheckout, CartId, CartLine, Carts, PlatformError, ShippingMethod};
use crate::storage::StorageError;
use crate::storage::Store;
use crate::storage::rows::now;
use crate::storage::sql::Fields;

/// Shop `shop`'s cart `id` with its lines, in one statement: the button endpoint reads it for
/// every page that sells, and one round trip to the database waits in fewer queues than two when
/// the machine is busy.
async fn read_cart(connection: &mut AnyConnection, shop: i64, id: &str) -> Result<Option<Cart>, StorageError> {
    let rows = sqlx::query(
        "SELECT s.id, s.name, s.fee, s.amazon_pay_allowed, c.review_ref, c.checkout_session_id,
                p.id, p.name, p.price, p.recurring, i.quantity
         FROM carts c JOIN shipping_methods s ON s.id = c.shipping_method_id
         LEFT JOIN cart_items i ON i.cart_id = c.id AND i.shop_id = c.shop_id
         LEFT JOIN products p ON p.id = i.product_id
         WHERE c.id = $1 AND c.shop_id = $2 ORDER BY p.id",
    )
    .bind(id)
    .bind(shop)
    .fetch_all(&mut *connection)
    .await?;
    let Some(head) = rows.first() else { return Ok(None) };
    let shipping =
        ShippingMethod { id: head.int(0)?, name: head.text(1)?, fee: head.yen(2)?, amazon_pay_allowed: head.flag(3)? };
    let checkout = CartCheckout { review_ref: head.opt_text(4)?, checkout_session_id: head.opt_text(5)? };
    let mut lines = Vec::with_capacity(rows.len());
    for row in &rows {
        // An empty cart is one row without a product; so is a line whose product is gone.
        let Some(product_id) = row.opt_int(6)? else { continue };
        lines.push(CartLine {
            product_id,
            name: row.text(7)?,
            unit_price: row.yen(8)?,
            recurring: row.flag(9)?,
            quantity: row.yen(10)?,
        });
    }
    Ok(Some(Cart { id: CartId(id.to_owned()), lines, shipping, checkout }))
}

/// Forgets the cart's checkout (in the caller's transaction): the amount Amazon was shown, or the
/// order it became, is no longer this cart's.
pub(super) async fn forget_checkout(tx: &mut AnyConnection, shop: i64, cart: &str) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE carts SET review_ref = NULL, checkout_session_id = NULL, updated_at = $2 WHERE id = $1 AND shop_id = $3",
    )
    .bind(cart)
    .bind(now())
    .bind(shop)
        .execute(tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Carts for Store {
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, PlatformError> {
        let sql = self.sql();
        Ok(sql.run(async { read_cart(&mut *sql.reader().await?, self.shop_id(), &id.0).await }).await?)
    }

    async fn amazon_pay_enabled(&self) -> Result<bool, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                let row = sqlx::query("SELECT enabled FROM payment_methods WHERE code = 'amazon_pay' AND shop_id = $1")
                    .bind(self.shop_id())
                    .fetch_optional(&mut *sql.reader().await?)
                    .await?;
                Ok(match row {
                    Some(row) => row.flag(0)?,
                    None => false,
                })
            })
            .await?)
    }

    async fn begin_checkout(&self, cart: &CartId, review_ref: &str) -> Result<(), PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                sqlx::query(
                    "UPDATE carts SET review_ref = $2, checkout_session_id = NULL, updated_at = $3
                     WHERE id = $1 AND shop_id = $4",
                )
                .bind(&cart.0)
                .bind(review_ref)
                .bind(now())
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?;
                Ok(())
            })
            .await?)
    }

    async fn bind_checkout(&self, cart: &CartId, review_ref: &str, session_id: &str) -> Result<bool, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                // Only the click that made this reference binds its checkout session: a newer
                // click has replaced the reference.
                let changed = sqlx::query(
                    "UPDATE carts SET checkout_session_id = $3, updated_at = $4
                     WHERE id = $1 AND review_ref = $2 AND shop_id = $5",
                )
                .bind(&cart.0)
                .bind(review_ref)
                .bind(session_id)
                .bind(now())
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?
                .rows_affected();
                Ok(changed == 1)
            })
            .await?)
    }

    async fn forget_checkout(&self, cart: &CartId) -> Result<(), PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                let mut tx = sql.begin().await?;
                forget_checkout(&mut tx, self.shop_id(), &cart.0).await?;
                Ok(tx.commit().await?)
            })
            .await?)
    }
}
