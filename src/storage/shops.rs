//! The deployment's shops: which hosts each answers on, whether it is open, its Amazon IDs and its
//! sealed secrets. Unlike the rest of the storage, these statements span every shop: they are how
//! a request's host becomes a shop, before any shop's own data is read.
//!
//! Every change raises `shops_version` in the same transaction, so that every instance, polling
//! it, learns of a new or changed shop (see `crate::server::shops`).

use super::sql::Fields;
use super::{ShopId, StorageError, Store};
use crate::core::orders::OrderState;
use crate::core::settings::ShopHost;

/// Whether a shop is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShopState {
    /// Served on its hosts.
    Active,
    /// Its hosts answer a bare 404, as unknown hosts do; its data stays.
    Disabled,
}

impl ShopState {
    /// The name the database keeps.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

/// A shop as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopRecord {
    /// Its ID.
    pub id: ShopId,
    /// Served or not.
    pub state: ShopState,
    /// Its hosts, in alphabetical order.
    pub hosts: Vec<ShopHost>,
    /// The store name Amazon shows its buyers (empty: the deployment's setting).
    pub store_name: String,
    /// Amazon's IDs and mode, once keys were accepted for it (`None`: none yet; the first shop
    /// then takes the `AMAZONPAY2_*` settings).
    pub amazon: Option<ShopAmazon>,
}

/// A shop's Amazon account, as accepted (the private key is a sealed secret, apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopAmazon {
    /// 出品者ID.
    pub merchant_id: String,
    /// Store ID.
    pub store_id: String,
    /// Public key ID.
    pub public_key_id: String,
    /// Sandbox (テスト) rather than production (本番).
    pub sandbox: bool,
    /// The private key's `SHA256:` fingerprint: how the key is shown, never itself.
    pub key_fingerprint: String,
}

/// Why a change of the registry was refused; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShopRefusal {
    /// The host already belongs to a shop.
    #[error("{0} is already a host of a shop")]
    HostTaken(ShopHost),
    /// No shop answers on the host named.
    #[error("no shop answers on {0}")]
    UnknownHost(ShopHost),
    /// A shop keeps at least one host.
    #[error("{0} is the shop's last host: a shop keeps at least one (disable the shop instead)")]
    LastHost(ShopHost),
    /// A shop needs at least one host.
    #[error("a shop needs at least one host")]
    NoHost,
}

/// What [`Store::add_shop`] made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddedShop {
    /// The shop.
    pub id: ShopId,
    /// Whether it is the shop served so far from the `AMAZONPAY2_*` settings, now given hosts
    /// (the first shop added to a deployment is: its orders and accounts stay reachable).
    pub adopted: bool,
}

/// The advisory lock under which instances ensure a shop at once (PostgreSQL; SQLite's one
/// writer serialises them anyway).
const ENSURE_LOCK: i64 = 0x616d_617a_6f6e_7032;

/// The field a shop's private key is sealed under (the vault binds it to the shop and field).
pub const PRIVATE_KEY: &str = "private_key";

impl Store {
    /// The registry's version: raised by every change of a shop, its hosts or its secrets.
    pub async fn shops_version(&self) -> Result<i64, StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query("SELECT version FROM shops_version WHERE id = 1")
                .fetch_one(&mut *sql.reader().await?)
                .await?
                .int(0)
        })
        .await
    }

    /// Every shop with a host, with its hosts.
    pub async fn shops(&self) -> Result<Vec<ShopRecord>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let rows = sqlx::query(
                "SELECT s.id, s.state, s.merchant_id, s.store_id, s.public_key_id, s.sandbox, s.key_fingerprint, h.host,
                        s.store_name
                 FROM shops s JOIN shop_hosts h ON h.shop_id = s.id ORDER BY s.id, h.host",
            )
            .fetch_all(&mut *sql.reader().await?)
            .await?;
            let mut shops: Vec<ShopRecord> = Vec::new();
            for row in &rows {
                let id = ShopId(row.int(0)?);
                let host = ShopHost::parse(&row.text(7)?)
                    .map_err(|e| StorageError::Database(format!("shop {id}'s host: {e}")))?;
                if let Some(last) = shops.last_mut().filter(|s| s.id == id) {
                    last.hosts.push(host);
                    continue;
                }
                let state =
                    if row.text(1)? == ShopState::Active.name() { ShopState::Active } else { ShopState::Disabled };
                let amazon = match (row.opt_text(2)?, row.opt_text(3)?, row.opt_text(4)?, row.opt_text(6)?) {
                    (Some(merchant_id), Some(store_id), Some(public_key_id), Some(key_fingerprint)) => {
                        Some(ShopAmazon {
                            merchant_id,
                            store_id,
                            public_key_id,
                            sandbox: row.flag(5)?,
                            key_fingerprint,
                        })
                    }
                    _ => None,
                };
                shops.push(ShopRecord { id, state, hosts: vec![host], store_name: row.text(8)?, amazon });
            }
            Ok(shops)
        })
        .await
    }

    /// Makes a shop answering on `hosts`, its first owner account `owner` (with `password_hash`),
    /// and Amazon Pay among its payment methods. The first shop added to a deployment is the
    /// one it served so far (shop 1), given hosts: see [`AddedShop::adopted`].
    pub async fn add_shop(
        &self,
        hosts: &[ShopHost],
        owner: &str,
        password_hash: &str,
    ) -> Result<Result<AddedShop, ShopRefusal>, StorageError> {
        if hosts.is_empty() {
            return Ok(Err(ShopRefusal::NoHost));
        }
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            let at = crate::core::now();
            let hosted = sqlx::query("SELECT 1 FROM shop_hosts LIMIT 1").fetch_optional(&mut *tx).await?.is_some();
            let id = if hosted {
                sqlx::query("INSERT INTO shops (created_at) VALUES ($1) RETURNING id")
                    .bind(at)
                    .fetch_one(&mut *tx)
                    .await?
                    .int(0)?
            } else {
                ShopId::FIRST.0
            };
            for host in hosts {
                if !add_host(&mut tx, host, id).await? {
                    // Rolled back as the transaction is dropped.
                    return Ok(Err(ShopRefusal::HostTaken(host.clone())));
                }
            }
            furnish(&mut tx, id, owner, password_hash, Password::Set).await?;
            raise_version(&mut tx).await?;
            tx.commit().await?;
            Ok(Ok(AddedShop { id: ShopId(id), adopted: !hosted }))
        })
        .await
    }

    /// The shop whose store name is `name`, answering on `hosts` (besides any it had), with the
    /// owner account `owner` if it has none of that name: made if there is none (the first shop,
    /// if it has neither name nor host yet, is taken). Idempotent, and safe for instances doing
    /// it at once (a host another shop has stays that shop's). For a deployment provisioned from a
    /// script, and the demo's two shops.
    pub async fn ensure_shop(
        &self,
        name: &str,
        hosts: &[ShopHost],
        owner: &str,
        password_hash: &str,
    ) -> Result<ShopId, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            if let Some(lock) = sql.dialect().transaction_lock() {
                sqlx::query(lock).bind(ENSURE_LOCK).execute(&mut *tx).await?;
            }
            let at = crate::core::now();
            let named = sqlx::query("SELECT id FROM shops WHERE store_name = $1 ORDER BY id LIMIT 1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
            let id = match named {
                Some(row) => row.int(0)?,
                None => {
                    let adopted = sqlx::query(
                        "UPDATE shops SET store_name = $1 WHERE id = 1 AND store_name = ''
                           AND NOT EXISTS (SELECT 1 FROM shop_hosts WHERE shop_id = 1)
                         RETURNING id",
                    )
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match adopted {
                        Some(row) => row.int(0)?,
                        None => sqlx::query("INSERT INTO shops (store_name, created_at) VALUES ($1, $2) RETURNING id")
                            .bind(name)
                            .bind(at)
                            .fetch_one(&mut *tx)
                            .await?
                            .int(0)?,
                    }
                }
            };
            for host in hosts {
                // A host another shop has stays that shop's.
                add_host(&mut tx, host, id).await?;
            }
            furnish(&mut tx, id, owner, password_hash, Password::KeepIfAny).await?;
            raise_version(&mut tx).await?;
            tx.commit().await?;
            Ok(ShopId(id))
        })
        .await
    }

    /// Adds `add` to and removes `remove` from the hosts of the shop answering on `host`.
    pub async fn change_hosts(
        &self,
        host: &ShopHost,
        add: &[ShopHost],
        remove: &[ShopHost],
    ) -> Result<Result<ShopId, ShopRefusal>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            let Some(shop) = shop_of(&mut tx, host).await? else {
                return Ok(Err(ShopRefusal::UnknownHost(host.clone())));
            };
            for added in add {
                if !add_host(&mut tx, added, shop).await? {
                    return Ok(Err(ShopRefusal::HostTaken(added.clone())));
                }
            }
            for removed in remove {
                let deleted = sqlx::query("DELETE FROM shop_hosts WHERE host = $1 AND shop_id = $2")
                    .bind(removed.as_str())
                    .bind(shop)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 0 {
                    return Ok(Err(ShopRefusal::UnknownHost(removed.clone())));
                }
            }
            let left = sqlx::query("SELECT count(*) FROM shop_hosts WHERE shop_id = $1")
                .bind(shop)
                .fetch_one(&mut *tx)
                .await?;
            if left.int(0)? == 0 {
                return Ok(Err(ShopRefusal::LastHost(remove.last().unwrap_or(host).clone())));
            }
            raise_version(&mut tx).await?;
            tx.commit().await?;
            Ok(Ok(ShopId(shop)))
        })
        .await
    }

    /// Serves, or stops serving, the shop answering on `host`.
    pub async fn set_shop_state(
        &self,
        host: &ShopHost,
        state: ShopState,
    ) -> Result<Result<ShopId, ShopRefusal>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            let Some(shop) = shop_of(&mut tx, host).await? else {
                return Ok(Err(ShopRefusal::UnknownHost(host.clone())));
            };
            sqlx::query("UPDATE shops SET state = $2 WHERE id = $1")
                .bind(shop)
                .bind(state.name())
                .execute(&mut *tx)
                .await?;
            raise_version(&mut tx).await?;
            tx.commit().await?;
            Ok(Ok(ShopId(shop)))
        })
        .await
    }

    /// Replaces this store's shop's Amazon account and its sealed private key, together.
    pub async fn set_shop_amazon(&self, amazon: &ShopAmazon, sealed_key: &[u8]) -> Result<(), StorageError> {
        let (sql, shop) = (self.sql(), self.shop_id());
        sql.run(async {
            let mut tx = sql.begin().await?;
            sqlx::query(
                "UPDATE shops SET merchant_id = $2, store_id = $3, public_key_id = $4, sandbox = $5,
                     key_fingerprint = $6, keys_changed_at = $7
                 WHERE id = $1",
            )
            .bind(shop)
            .bind(&amazon.merchant_id)
            .bind(&amazon.store_id)
            .bind(&amazon.public_key_id)
            .bind(amazon.sandbox)
            .bind(&amazon.key_fingerprint)
            .bind(crate::core::now())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO shop_secrets (shop_id, field, sealed) VALUES ($1, $2, $3)
                 ON CONFLICT (shop_id, field) DO UPDATE SET sealed = excluded.sealed",
            )
            .bind(shop)
            .bind(PRIVATE_KEY)
            .bind(sealed_key.to_vec())
            .execute(&mut *tx)
            .await?;
            raise_version(&mut tx).await?;
            Ok(tx.commit().await?)
        })
        .await
    }

    /// This store's shop's sealed secret `field`, if it has one.
    pub async fn shop_secret(&self, field: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let row = sqlx::query("SELECT sealed FROM shop_secrets WHERE shop_id = $1 AND field = $2")
                .bind(self.shop_id())
                .bind(field)
                .fetch_optional(&mut *sql.reader().await?)
                .await?;
            Ok(row.map(|row| sqlx::Row::try_get::<Vec<u8>, _>(&row, 0)).transpose()?)
        })
        .await
    }

    /// Seals every secret of every shop anew with `reseal` (a master key's rotation), all in one
    /// transaction: any secret `reseal` refuses leaves every one as it was. Answers how many.
    pub async fn reseal_shop_secrets(
        &self,
        reseal: impl Fn(ShopId, &str, &[u8]) -> Result<Vec<u8>, String> + Send + Sync,
    ) -> Result<Result<usize, String>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            let rows = sqlx::query("SELECT shop_id, field, sealed FROM shop_secrets ORDER BY shop_id, field")
                .fetch_all(&mut *tx)
                .await?;
            for row in &rows {
                let (shop, field, sealed) =
                    (ShopId(row.int(0)?), row.text(1)?, sqlx::Row::try_get::<Vec<u8>, _>(row, 2)?);
                let resealed = match reseal(shop, &field, &sealed) {
                    Ok(resealed) => resealed,
                    Err(problem) => return Ok(Err(format!("shop {shop}'s {field}: {problem}"))),
                };
                sqlx::query("UPDATE shop_secrets SET sealed = $3 WHERE shop_id = $1 AND field = $2")
                    .bind(shop.0)
                    .bind(&field)
                    .bind(resealed)
                    .execute(&mut *tx)
                    .await?;
            }
            raise_version(&mut tx).await?;
            tx.commit().await?;
            Ok(Ok(rows.len()))
        })
        .await
    }
}

impl Store {
    /// The shops with orders in any of `selection`'s states last changed before its time (the
    /// reconciler's, `crate::core::reconciler::looked_at`): the shops the reconciler has work in.
    pub async fn shops_with_orders(&self, selection: &[(&[OrderState], i64)]) -> Result<Vec<ShopId>, StorageError> {
        if selection.is_empty() {
            return Ok(Vec::new());
        }
        // The state names are the enum's own, never input.
        let conditions: Vec<String> = selection
            .iter()
            .enumerate()
            .map(|(n, (states, _))| {
                let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.name())).collect();
                format!("(state IN ({}) AND updated_at < ${})", names.join(", "), n + 1)
            })
            .collect();
        let statement =
            format!("SELECT DISTINCT shop_id FROM orders WHERE {} ORDER BY shop_id", conditions.join(" OR "));
        let sql = self.sql();
        sql.run(async {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
            for (_, before) in selection {
                query = query.bind(*before);
            }
            query.fetch_all(&mut *sql.reader().await?).await?.iter().map(|row| Ok(ShopId(row.int(0)?))).collect()
        })
        .await
    }
}

/// Gives shop `shop` the host `host` (in the caller's transaction); `false` when the host is a
/// shop's already (this one's or another's), which keeps it.
async fn add_host(tx: &mut sqlx::AnyConnection, host: &ShopHost, shop: i64) -> Result<bool, StorageError> {
    let inserted = sqlx::query("INSERT INTO shop_hosts (host, shop_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(host.as_str())
        .bind(shop)
        .execute(tx)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

/// The shop answering on `host`.
async fn shop_of(tx: &mut sqlx::AnyConnection, host: &ShopHost) -> Result<Option<i64>, StorageError> {
    let row =
        sqlx::query("SELECT shop_id FROM shop_hosts WHERE host = $1").bind(host.as_str()).fetch_optional(tx).await?;
    row.map(|row| row.int(0)).transpose()
}

/// What [`furnish`] does to an owner account that exists.
#[derive(Clone, Copy)]
enum Password {
    /// Sets the password given (`shop add`: the operator's).
    Set,
    /// Keeps the one it has (a password changed later stays changed).
    KeepIfAny,
}

/// Gives shop `id` its owner account and Amazon Pay among its payment methods (基本設定＞支払方法),
/// in the caller's transaction.
async fn furnish(
    tx: &mut sqlx::AnyConnection,
    id: i64,
    owner: &str,
    password_hash: &str,
    password: Password,
) -> Result<(), StorageError> {
    let statement = match password {
        Password::Set => {
            "INSERT INTO admin_accounts (name, password_hash, created_at, shop_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (shop_id, name) DO UPDATE SET password_hash = excluded.password_hash"
        }
        Password::KeepIfAny => {
            "INSERT INTO admin_accounts (name, password_hash, created_at, shop_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (shop_id, name) DO NOTHING"
        }
    };
    sqlx::query(statement).bind(owner).bind(password_hash).bind(crate::core::now()).bind(id).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO payment_methods (shop_id, code, name, enabled) VALUES ($1, 'amazon_pay', 'Amazon Pay', TRUE)
         ON CONFLICT (shop_id, code) DO NOTHING",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Tells every instance the registry changed (in the change's transaction).
async fn raise_version(tx: &mut sqlx::AnyConnection) -> Result<(), StorageError> {
    sqlx::query("UPDATE shops_version SET version = version + 1 WHERE id = 1").execute(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::platform::{NewOrder, Opened, OrderLine, Orders};

    fn new_order(session: &str) -> NewOrder {
        NewOrder {
            member: None,
            checkout_session_id: Some(session.into()),
            cart: None,
            buyer_name: String::new(),
            buyer_email: String::new(),
            cycle: None,
            lines: vec![OrderLine { name: "手ぬぐい".into(), unit_price: 1_650, quantity: 1 }],
            shipping_fee: 0,
            total: 1_650,
            recurring: false,
            plan: None,
        }
    }

    /// The reconciler visits only the shops with orders it looks at: one query, whatever the
    /// number of shops.
    #[tokio::test]
    async fn the_shops_with_orders_in_a_state_are_found_in_one_query() {
        let (db, _dir) = crate::storage::sqlite_for_tests("shops-with-orders").await;
        for (shop, session) in [(1, "cs-1"), (3, "cs-3")] {
            let opened = db.for_shop(ShopId(shop)).open_order(&new_order(session)).await.unwrap();
            assert!(matches!(opened, Opened::New(_)));
        }
        let now = crate::core::now();
        let processing: &[OrderState] = &[OrderState::Processing];
        let authorized: &[OrderState] = &[OrderState::Authorized];
        assert_eq!(db.shops_with_orders(&[(processing, now + 1)]).await.unwrap(), [ShopId(1), ShopId(3)]);
        assert_eq!(db.shops_with_orders(&[(processing, now - 60)]).await.unwrap(), [], "changed too recently");
        assert_eq!(db.shops_with_orders(&[(authorized, now + 1)]).await.unwrap(), []);
        assert_eq!(db.shops_with_orders(&[]).await.unwrap(), []);
    }
}
