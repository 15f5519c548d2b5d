//! Shopper sessions and the server's secrets on SQLite.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use crate::core::platform::{CartId, MemberId};
use crate::storage::{Secrets, SessionChange, SessionRecord, SessionStore, StorageError};

#[async_trait]
impl SessionStore for Sqlite {
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StorageError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT id, member_id, cart_id, pending_buyer, pending_until, return_to, last_seen
                 FROM sessions WHERE id = ?1",
                [id],
                |row| {
                    let pending: Option<String> = row.get(3)?;
                    let until: Option<i64> = row.get(4)?;
                    Ok(SessionRecord {
                        id: row.get(0)?,
                        member: row.get::<_, Option<i64>>(1)?.map(MemberId),
                        cart: row.get::<_, Option<String>>(2)?.map(CartId),
                        pending_buyer: pending.zip(until),
                        return_to: row.get(5)?,
                        last_seen: row.get(6)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let session = session.clone();
        self.write(move |tx| {
            let (pending, until) = session.pending_buyer.clone().unzip();
            tx.execute(
                "INSERT OR REPLACE INTO sessions (id, member_id, cart_id, pending_buyer, pending_until, return_to,
                    last_seen, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![
                    session.id,
                    session.member.map(|m| m.0),
                    session.cart.map(|c| c.0),
                    pending,
                    until,
                    session.return_to,
                    session.last_seen
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn update_session(&self, id: &str, change: &SessionChange) -> Result<bool, StorageError> {
        let (id, change) = (id.to_owned(), change.clone());
        self.write(move |tx| {
            let changed = match change {
                SessionChange::Cart(cart) => {
                    tx.execute("UPDATE sessions SET cart_id = ?2 WHERE id = ?1", params![id, cart.0])?
                }
                SessionChange::PendingBuyer(pending) => {
                    let (buyer, until) = pending.unzip();
                    tx.execute(
                        "UPDATE sessions SET pending_buyer = ?2, pending_until = ?3 WHERE id = ?1",
                        params![id, buyer, until],
                    )?
                }
                SessionChange::ReturnTo(path) => {
                    tx.execute("UPDATE sessions SET return_to = ?2 WHERE id = ?1", params![id, path])?
                }
                SessionChange::Seen(at) => {
                    tx.execute("UPDATE sessions SET last_seen = ?2 WHERE id = ?1", params![id, at])?
                }
            };
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> Result<(), StorageError> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }

    async fn purge(&self, cutoff: i64, cart_cutoff: i64) -> Result<(usize, usize), StorageError> {
        self.write(move |tx| {
            let sessions = tx.execute("DELETE FROM sessions WHERE last_seen < ?1", [cutoff])?;
            // A cart no session holds cannot be reached again; an order keeps its own lines.
            let carts = tx.execute(
                "DELETE FROM carts WHERE updated_at < ?1 AND id NOT IN (SELECT cart_id FROM sessions WHERE cart_id IS NOT NULL)",
                [cart_cutoff],
            )?;
            Ok((sessions, carts))
        })
        .await
    }
}

#[async_trait]
impl Secrets for Sqlite {
    async fn secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let mut fresh = [0u8; 32];
        crate::core::random::fill(&mut fresh)?;
        let name = name.to_owned();
        // The first instance to ask makes it; every later one (and every restart) reads the same.
        let stored: String = self
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                    params![name, BASE64.encode(fresh)],
                )?;
                Ok(tx.query_row("SELECT value FROM secrets WHERE name = ?1", [&name], |row| row.get(0))?)
            })
            .await?;
        BASE64.decode(stored).map_err(|e| StorageError::Database(format!("stored secret: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::database;
    use super::*;
    use crate::storage::Shop;

    fn record(id: &str, last_seen: i64) -> SessionRecord {
        SessionRecord { id: id.into(), member: None, cart: None, pending_buyer: None, return_to: None, last_seen }
    }

    #[tokio::test]
    async fn a_change_writes_only_its_own_column() {
        let (db, _dir) = database("sessions").await;
        db.insert_session(&record("s", 10)).await.unwrap();
        // Two requests of one browser: each change survives the other.
        db.update_session("s", &SessionChange::ReturnTo("/cart".into())).await.unwrap();
        db.update_session("s", &SessionChange::PendingBuyer(Some(("{}".into(), 99)))).await.unwrap();
        db.update_session("s", &SessionChange::Seen(20)).await.unwrap();
        let stored = db.session("s").await.unwrap().unwrap();
        assert_eq!(stored.return_to.as_deref(), Some("/cart"));
        assert_eq!(stored.pending_buyer, Some(("{}".into(), 99)));
        assert_eq!(stored.last_seen, 20);
        assert!(!db.update_session("gone", &SessionChange::Seen(1)).await.unwrap());
    }

    #[tokio::test]
    async fn idle_sessions_and_unreachable_carts_are_purged() {
        let (db, _dir) = database("purge").await;
        db.seed_catalogue(
            &[],
            &[crate::core::platform::ShippingMethod {
                id: 1, name: "宅配便".into(), fee: 0, amazon_pay_allowed: true
            }],
        )
        .await
        .unwrap();
        let held = db.create_cart().await.unwrap();
        let _abandoned = db.create_cart().await.unwrap();
        db.insert_session(&SessionRecord { cart: Some(held.clone()), ..record("live", super::super::now()) })
            .await
            .unwrap();
        db.insert_session(&record("idle", 10)).await.unwrap();
        let (sessions, carts) = db.purge(100, super::super::now() + 1).await.unwrap();
        assert_eq!((sessions, carts), (1, 1));
        assert!(db.session("live").await.unwrap().is_some());
        use crate::core::platform::Carts;
        assert!(db.cart(&held).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_secret_is_made_once_and_kept() {
        let (db, _dir) = database("secret").await;
        let first = db.secret("cookie").await.unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(db.secret("cookie").await.unwrap(), first);
        assert_ne!(db.secret("other").await.unwrap(), first);
    }
}
