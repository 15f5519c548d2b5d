//! The server's database: the built-in shop behind the seam (members, carts, orders and
//! subscriptions: [`crate::core::platform`]), and what the HTTP side keeps (shopper sessions, the
//! server's secrets).
//!
//! One interface, [`Storage`], so the rest of the server does not know which database it runs on.
//! The embedded SQLite database in `AMAZONPAY2_DATA` is the default ([`Sqlite`]). Every call runs
//! off the async worker threads.

mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use self::sqlite::Sqlite;
use crate::core::orders::OrderState;
use crate::core::platform::{CartId, MemberId, OrderLine, Platform, PlatformError, SubscriptionId};

/// A database failure. Callers answer 500 and log it; the shopper's input is never the cause.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// The data folder could not be created or read.
    #[error("data folder: {0}")]
    Folder(#[from] std::io::Error),
    /// The database belongs to an older, incompatible version of this server.
    #[error("{0}")]
    Incompatible(String),
}

impl From<StorageError> for PlatformError {
    fn from(error: StorageError) -> Self {
        PlatformError(error.to_string())
    }
}

/// The whole database, as the server uses it.
pub trait Storage: Platform + Shop + SessionStore + Secrets {}

impl<T: Platform + Shop + SessionStore + Secrets> Storage for T {}

/// The database every part of the server shares.
pub type Database = Arc<dyn Storage>;

/// What sign-up stores.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    /// E-mail (unique, case-insensitive).
    pub email: String,
    /// 姓.
    pub family_name: String,
    /// 名.
    pub given_name: String,
    /// セイ.
    pub family_kana: String,
    /// メイ.
    pub given_kana: String,
    /// 郵便番号.
    pub postal_code: String,
    /// 都道府県.
    pub prefecture: String,
    /// 市区町村・番地.
    pub address1: String,
    /// 建物名など.
    pub address2: String,
    /// 電話番号.
    pub phone: String,
}

/// A product of the built-in shop's catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Its ID.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Price in yen, tax included.
    pub price: u64,
    /// Delivered and charged every month (定期購入).
    pub recurring: bool,
}

/// An order as its buyer sees it on My Page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// 注文番号.
    pub number: String,
    /// The amount, in yen.
    pub total: u64,
    /// A subscription's order.
    pub recurring: bool,
    /// Where its payment stands.
    pub state: OrderState,
    /// What was bought.
    pub lines: Vec<OrderLine>,
    /// Amazon's charge.
    pub charge_id: Option<String>,
    /// The note for a カード未決済 cycle.
    pub note: String,
}

/// A subscription as its subscriber sees it on My Page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSummary {
    /// Its ID.
    pub id: SubscriptionId,
    /// Charged every month, in yen.
    pub amount: u64,
    /// The next cycle, `YYYY-MM-DD`.
    pub next_cycle: String,
    /// Amazon's recurring charge permission.
    pub charge_permission_id: String,
}

/// The built-in shop's own side: its members' passwords, catalogue, carts and My Page. A cart
/// platform has these itself; the demo uses them.
#[async_trait]
pub trait Shop: Send + Sync {
    /// Creates a member; `None` when the e-mail is taken.
    async fn create_member(&self, member: &NewMember, password_hash: &str) -> Result<Option<MemberId>, StorageError>;
    /// The member's password hash, for a password login.
    async fn password_hash(&self, member: MemberId) -> Result<Option<String>, StorageError>;
    /// The catalogue.
    async fn products(&self) -> Result<Vec<Product>, StorageError>;
    /// The shipping methods.
    async fn shipping_methods(&self) -> Result<Vec<crate::core::platform::ShippingMethod>, StorageError>;
    /// Fills an empty catalogue (the demo's), so that a second start adds nothing.
    async fn seed_catalogue(
        &self,
        products: &[Product],
        shipping: &[crate::core::platform::ShippingMethod],
    ) -> Result<(), StorageError>;
    /// A new empty cart with the first shipping method.
    async fn create_cart(&self) -> Result<CartId, StorageError>;
    /// Sets a product's quantity (0 removes it); `false` when the product does not exist. A
    /// changed cart forgets its checkout: the amount Amazon was shown is stale.
    async fn set_cart_item(&self, cart: &CartId, product: i64, quantity: u64) -> Result<bool, StorageError>;
    /// Chooses the shipping method; `false` when it does not exist.
    async fn set_cart_shipping(&self, cart: &CartId, method: i64) -> Result<bool, StorageError>;
    /// A member's placed orders, newest first.
    async fn orders_of_member(&self, member: MemberId) -> Result<Vec<OrderSummary>, StorageError>;
    /// Moves a subscription's next cycle (the shop owner changing the schedule).
    async fn reschedule_subscription(&self, id: SubscriptionId, next_cycle: time::Date) -> Result<bool, StorageError>;
    /// A member's subscriptions.
    async fn subscriptions_of_member(&self, member: MemberId) -> Result<Vec<SubscriptionSummary>, StorageError>;
}

/// A stored shopper session (a shopper who has a member, a cart, or an Amazon account waiting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The random ID in the cookie.
    pub id: String,
    /// The logged-in member.
    pub member: Option<MemberId>,
    /// The shopper's cart.
    pub cart: Option<CartId>,
    /// A verified Amazon buyer (JSON) waiting for sign-up or a login, and until when (Unix
    /// seconds).
    pub pending_buyer: Option<(String, i64)>,
    /// Same-origin path to return to after an Amazon sign-in.
    pub return_to: Option<String>,
    /// Unix seconds.
    pub last_seen: i64,
}

/// One change to a stored session: only what changed is written, so that two requests of the
/// same browser cannot undo each other's changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionChange {
    /// The shopper's cart.
    Cart(CartId),
    /// A verified Amazon buyer (JSON) waiting until a time, or none.
    PendingBuyer(Option<(String, i64)>),
    /// Where to return after an Amazon sign-in.
    ReturnTo(String),
    /// Seen now.
    Seen(i64),
}

/// Shopper sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// A session by ID.
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StorageError>;
    /// Stores a new session (or replaces one with the same ID: only at creation).
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError>;
    /// Changes one thing of a session; `false` when it is gone.
    async fn update_session(&self, id: &str, change: &SessionChange) -> Result<bool, StorageError>;
    /// Deletes a session.
    async fn delete_session(&self, id: &str) -> Result<(), StorageError>;
    /// Deletes sessions idle since before `cutoff` and carts no session holds that have not
    /// changed since `cart_cutoff`; answers how many of each.
    async fn purge(&self, cutoff: i64, cart_cutoff: i64) -> Result<(usize, usize), StorageError>;
}

/// The server's own secrets (the key that signs cookies), made once and shared by every instance
/// on the same database.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// The secret called `name` (random 32 bytes), created on first use.
    async fn secret(&self, name: &str) -> Result<Vec<u8>, StorageError>;
}

/// A fresh SQLite database in a folder of its own, removed with the returned guard (tests).
#[cfg(test)]
pub(crate) async fn sqlite_for_tests(name: &str) -> (Sqlite, impl Drop) {
    sqlite::tests::database(name).await
}
