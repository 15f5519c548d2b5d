//! Shopper sessions and the server's secrets: whichever instance answers a shopper finds the
//! same session, and every instance signs cookies with the same secret.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::Store;
use super::sql::{Fields, count};
use super::{Purged, Secrets, SessionChange, SessionRecord, SessionStore, StorageError, WaitingBuyer};
use crate::core::platform::{CartId, MemberId};

#[async_trait]
impl SessionStore for Store {
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let row = sqlx::query(
                "SELECT id, member_id, cart_id, pending_buyer, pending_until, return_to, last_seen
                 FROM sessions WHERE id = $1 AND shop_id = $2",
            )
            .bind(id)
            .bind(self.shop_id())
            .fetch_optional(&mut *sql.reader().await?)
            .await?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some(SessionRecord {
                id: row.text(0)?,
                member: row.opt_int(1)?.map(MemberId),
                cart: row.opt_text(2)?.map(CartId),
                pending_buyer: row.opt_text(3)?.zip(row.opt_int(4)?).map(|(json, until)| WaitingBuyer { json, until }),
                return_to: row.opt_text(5)?,
                last_seen: row.int(6)?,
            }))
        })
        .await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let (pending, until) = session.pending_buyer.clone().map(|b| (b.json, b.until)).unzip();
        let sql = self.sql();
        sql.run(async {
            sqlx::query(
                "INSERT INTO sessions (id, member_id, cart_id, pending_buyer, pending_until, return_to,
                    last_seen, created_at, shop_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET member_id = excluded.member_id, cart_id = excluded.cart_id,
                    pending_buyer = excluded.pending_buyer, pending_until = excluded.pending_until,
                    return_to = excluded.return_to, last_seen = excluded.last_seen,
                    created_at = excluded.created_at
                 WHERE sessions.shop_id = excluded.shop_id",
            )
            .bind(&session.id)
            .bind(session.member.map(|m| m.0))
            .bind(session.cart.as_ref().map(|c| c.0.as_str()))
            .bind(pending)
            .bind(until)
            .bind(session.return_to.as_deref())
            .bind(session.last_seen)
            .bind(self.shop_id())
            .execute(&mut *sql.writer().await?)
            .await?;
            Ok(())
        })
        .await
    }

    async fn update_session(&self, id: &str, change: &SessionChange) -> Result<bool, StorageError> {
        let shop = self.shop_id();
        let query = match change {
            SessionChange::Cart(cart) => sqlx::query("UPDATE sessions SET cart_id = $2 WHERE id = $1 AND shop_id = $3")
                .bind(id)
                .bind(cart.0.clone())
                .bind(shop),
            SessionChange::PendingBuyer(pending) => {
                let (buyer, until) = pending.clone().map(|b| (b.json, b.until)).unzip();
                sqlx::query("UPDATE sessions SET pending_buyer = $2, pending_until = $3 WHERE id = $1 AND shop_id = $4")
                    .bind(id)
                    .bind(buyer)
                    .bind(until)
                    .bind(shop)
            }
            SessionChange::ReturnTo(path) => {
                sqlx::query("UPDATE sessions SET return_to = $2 WHERE id = $1 AND shop_id = $3")
                    .bind(id)
                    .bind(path.clone())
                    .bind(shop)
            }
            SessionChange::Seen(at) => sqlx::query("UPDATE sessions SET last_seen = $2 WHERE id = $1 AND shop_id = $3")
                .bind(id)
                .bind(*at)
                .bind(shop),
        };
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            let changed = query.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query("DELETE FROM sessions WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?;
            Ok(())
        })
        .await
    }

    async fn purge(&self, cutoff: i64, cart_cutoff: i64) -> Result<Purged, StorageError> {
        let sql = self.sql();
        sql.run(async {
            // Every shop's: what has expired has expired whichever shop it was of.
            let mut tx = sql.begin().await?;
            let sessions =
                sqlx::query("DELETE FROM sessions WHERE last_seen < $1").bind(cutoff).execute(&mut *tx).await?;
            // A cart no session holds cannot be reached again; an order keeps its own lines.
            let carts = sqlx::query(
                "DELETE FROM carts WHERE updated_at < $1
                 AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.cart_id = carts.id)",
            )
            .bind(cart_cutoff)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Purged { sessions: count(sessions.rows_affected()), carts: count(carts.rows_affected()) })
        })
        .await
    }
}

#[async_trait]
impl Secrets for Store {
    async fn secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let mut fresh = [0u8; 32];
        crate::core::random::fill(&mut fresh)?;
        let sql = self.sql();
        // The first instance to ask makes it; every later one (and every restart) reads the same.
        let stored = sql
            .run(async {
                let mut tx = sql.begin().await?;
                sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(BASE64.encode(fresh))
                    .execute(&mut *tx)
                    .await?;
                let stored = sqlx::query("SELECT value FROM secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?
                    .text(0)?;
                tx.commit().await?;
                Ok(stored)
            })
            .await?;
        BASE64.decode(stored).map_err(|e| StorageError::Database(format!("secret {name}: {e}")))
    }
}
