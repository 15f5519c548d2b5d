//! Shopper sessions and the server's secrets on PostgreSQL: whichever instance answers a shopper
//! finds the same session, and every instance signs cookies with the same secret.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::Postgres;
use crate::core::platform::{CartId, MemberId};
use crate::storage::{Secrets, SessionChange, SessionRecord, SessionStore, StorageError};

#[async_trait]
impl SessionStore for Postgres {
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client
                        .prepare_cached(
                            "SELECT id, member_id, cart_id, pending_buyer, pending_until, return_to, last_seen
                     FROM sessions WHERE id = $1",
                        )
                        .await?,
                    &[&id],
                )
                .await?;
            let Some(row) = row else { return Ok(None) };
            let pending: Option<String> = row.try_get(3)?;
            let until: Option<i64> = row.try_get(4)?;
            Ok(Some(SessionRecord {
                id: row.try_get(0)?,
                member: row.try_get::<_, Option<i64>>(1)?.map(MemberId),
                cart: row.try_get::<_, Option<String>>(2)?.map(CartId),
                pending_buyer: pending.zip(until),
                return_to: row.try_get(5)?,
                last_seen: row.try_get(6)?,
            }))
        })
        .await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let (pending, until) = session.pending_buyer.clone().unzip();
        self.run(async {
            let client = self.client().await?;
            client
                .execute(
                    &client
                        .prepare_cached(
                            "INSERT INTO sessions (id, member_id, cart_id, pending_buyer, pending_until, return_to,
                        last_seen, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                     ON CONFLICT (id) DO UPDATE SET member_id = excluded.member_id, cart_id = excluded.cart_id,
                        pending_buyer = excluded.pending_buyer, pending_until = excluded.pending_until,
                        return_to = excluded.return_to, last_seen = excluded.last_seen,
                        created_at = excluded.created_at",
                        )
                        .await?,
                    &[
                        &session.id,
                        &session.member.map(|m| m.0),
                        &session.cart.as_ref().map(|c| c.0.clone()),
                        &pending,
                        &until,
                        &session.return_to,
                        &session.last_seen,
                    ],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn update_session(&self, id: &str, change: &SessionChange) -> Result<bool, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let changed = match change {
                SessionChange::Cart(cart) => {
                    client
                        .execute(
                            &client.prepare_cached("UPDATE sessions SET cart_id = $2 WHERE id = $1").await?,
                            &[&id, &cart.0],
                        )
                        .await?
                }
                SessionChange::PendingBuyer(pending) => {
                    let (buyer, until) = pending.clone().unzip();
                    client
                        .execute(
                            &client
                                .prepare_cached(
                                    "UPDATE sessions SET pending_buyer = $2, pending_until = $3 WHERE id = $1",
                                )
                                .await?,
                            &[&id, &buyer, &until],
                        )
                        .await?
                }
                SessionChange::ReturnTo(path) => {
                    client
                        .execute(
                            &client.prepare_cached("UPDATE sessions SET return_to = $2 WHERE id = $1").await?,
                            &[&id, path],
                        )
                        .await?
                }
                SessionChange::Seen(at) => {
                    client
                        .execute(
                            &client.prepare_cached("UPDATE sessions SET last_seen = $2 WHERE id = $1").await?,
                            &[&id, at],
                        )
                        .await?
                }
            };
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            client.execute(&client.prepare_cached("DELETE FROM sessions WHERE id = $1").await?, &[&id]).await?;
            Ok(())
        })
        .await
    }

    async fn purge(&self, cutoff: i64, cart_cutoff: i64) -> Result<(usize, usize), StorageError> {
        self.run(async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            let sessions = transaction
                .execute(&transaction.prepare_cached("DELETE FROM sessions WHERE last_seen < $1").await?, &[&cutoff])
                .await?;
            // A cart no session holds cannot be reached again; an order keeps its own lines.
            let carts = transaction
                .execute(
                    &transaction
                        .prepare_cached(
                            "DELETE FROM carts WHERE updated_at < $1
                     AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.cart_id = carts.id)",
                        )
                        .await?,
                    &[&cart_cutoff],
                )
                .await?;
            transaction.commit().await?;
            Ok((usize::try_from(sessions).unwrap_or(usize::MAX), usize::try_from(carts).unwrap_or(usize::MAX)))
        })
        .await
    }
}

#[async_trait]
impl Secrets for Postgres {
    async fn secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let mut fresh = [0u8; 32];
        crate::core::random::fill(&mut fresh)?;
        // The first instance to ask makes it; every later one (and every restart) reads the same.
        let stored: String = self
            .run(async {
                let client = self.client().await?;
                client
                    .execute(
                        &client
                            .prepare_cached(
                                "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                            )
                            .await?,
                        &[&name, &BASE64.encode(fresh)],
                    )
                    .await?;
                Ok(client
                    .query_one(&client.prepare_cached("SELECT value FROM secrets WHERE name = $1").await?, &[&name])
                    .await?
                    .try_get(0)?)
            })
            .await?;
        BASE64.decode(stored).map_err(|e| StorageError::Database(format!("secret {name}: {e}")))
    }
}
