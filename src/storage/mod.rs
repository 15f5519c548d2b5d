//! The server's database: the built-in shop behind the seam (members, carts, orders and
//! subscriptions: [`crate::core::platform`]), and what the HTTP side keeps (shopper sessions, the
//! server's secrets).
//!
//! One interface, [`Storage`], so the rest of the server does not know which database it runs on,
//! and one implementation of it, [`Store`], for both: the embedded SQLite database in
//! `AMAZONPAY2_DATA` (the default) or the PostgreSQL one a `postgres://` URL in
//! `AMAZONPAY2_DATABASE_URL` names, which several server instances can share. [`open`] picks one.

mod back_office;
pub mod copy;
mod dialect;
mod migrate;
mod platform;
mod rows;
mod safeguards;
mod sessions;
mod shop;
pub mod shops;
pub(crate) mod sql;
mod store;
pub mod vault;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use self::migrate::SCHEMA_VERSION;
pub use self::sql::{is_postgres_url, parse_postgres_url};
pub use self::store::{Store, sqlite_file};
use crate::core::orders::OrderState;
use crate::core::platform::{CartId, MemberId, OrderLine, Platform, PlatformError, RefundState, SubscriptionId};
use crate::core::platform::{Order, OrderId};

/// A shop of the deployment, as its rows name it (`shop_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShopId(pub i64);

impl ShopId {
    /// The shop a deployment served before it had several: the one the `AMAZONPAY2_*` settings
    /// describe, and whose every row an older database's were.
    pub const FIRST: Self = Self(1);
}

impl std::fmt::Display for ShopId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

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
    /// The database cannot be reached right now (down, restarting, or too slow to answer); the
    /// same request may succeed later. The HTTP edge answers 503.
    #[error("{UNAVAILABLE}: {0}")]
    Unavailable(String),
    /// The system's random source failed: no ID or secret could be made (the HTTP edge answers
    /// 503; at start, the server refuses to start).
    #[error(transparent)]
    Random(#[from] crate::core::random::NoRandomness),
}

/// How an unavailable database is described in [`StorageError::Unavailable`].
pub const UNAVAILABLE: &str = "database unavailable";

impl StorageError {
    /// Whether the database could not be reached (rather than refusing or failing a statement).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Opens the database `target` names: a `postgres://` URL, or else the data folder of the
/// embedded SQLite database. Either is created or migrated as needed.
pub async fn open(target: &str) -> Result<Database, StorageError> {
    Ok(Arc::new(Store::open(target).await?))
}

impl From<StorageError> for PlatformError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unavailable(detail) => PlatformError::Unavailable(detail),
            other => PlatformError::Failed(other.to_string()),
        }
    }
}

/// The built-in platform is this database: its failures are the database's, unavailability kept.
impl From<PlatformError> for StorageError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::Unavailable(detail) => StorageError::Unavailable(detail),
            PlatformError::Failed(detail) => StorageError::Database(detail),
        }
    }
}

/// How much a refund's change gives back, in yen, from its (state, amount) before and after: a
/// declined refund gives nothing back, and the amount is Amazon's.
fn refunded_delta(before: (&str, i64), after: (&str, i64)) -> i64 {
    let counted = |(state, amount): (&str, i64)| if state == RefundState::Declined.name() { 0 } else { amount };
    counted(after) - counted(before)
}

/// The whole database, as the server uses it.
pub trait Storage: Platform + Shop + SessionStore + Secrets + BackOffice + Safeguards + AsStore {}

impl<T: Platform + Shop + SessionStore + Secrets + BackOffice + Safeguards + AsStore> Storage for T {}

/// The store behind a [`Database`]: how another shop's view of it is had ([`Store::for_shop`]).
pub trait AsStore {
    /// The store.
    fn store(&self) -> &Store;
}

impl AsStore for Store {
    fn store(&self) -> &Store {
        self
    }
}

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
    /// A verified Amazon buyer waiting for sign-up or a login.
    pub pending_buyer: Option<WaitingBuyer>,
    /// Same-origin path to return to after an Amazon sign-in.
    pub return_to: Option<String>,
    /// Unix seconds.
    pub last_seen: i64,
}

/// A verified Amazon buyer kept in a session for a while, waiting for sign-up or a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingBuyer {
    /// The buyer as JSON (the server's type: storage keeps it as given).
    pub json: String,
    /// Until when (Unix seconds).
    pub until: i64,
}

/// One change to a stored session: only what changed is written, so that two requests of the
/// same browser cannot undo each other's changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionChange {
    /// The shopper's cart.
    Cart(CartId),
    /// A verified Amazon buyer waiting, or none.
    PendingBuyer(Option<WaitingBuyer>),
    /// Where to return after an Amazon sign-in.
    ReturnTo(String),
    /// Seen now.
    Seen(i64),
}

/// What a purge of shopper sessions removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Idle sessions.
    pub sessions: usize,
    /// Carts no session held.
    pub carts: usize,
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
    /// changed since `cart_cutoff`, of every shop; answers how many of each.
    async fn purge(&self, cutoff: i64, cart_cutoff: i64) -> Result<Purged, StorageError>;
}

/// The name of the secret Amazon Pay idempotency keys are made with
/// ([`crate::core::idempotency`]). It lives with the orders, so that a restored database keys the
/// same operations the same way; the server makes it at start.
pub const IDEMPOTENCY_SECRET: &str = "amazon-idempotency";

/// The server's own secrets (the key that signs cookies, the idempotency secret), made once and
/// shared by every instance on the same database.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// The secret called `name` (random 32 bytes), created on first use.
    async fn secret(&self, name: &str) -> Result<Vec<u8>, StorageError>;
}

/// A fresh SQLite database in a folder of its own, removed with the returned guard (tests).
#[cfg(test)]
pub(crate) async fn sqlite_for_tests(name: &str) -> (Store, impl Drop) {
    store::tests::database(name).await
}

/// Which orders the order list (受注一覧) shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only these credit statuses (all placed orders when empty).
    pub states: Vec<OrderState>,
    /// Only authorizations that lapse before this time (Unix seconds): the 30-day window.
    pub lapsing_before: Option<i64>,
    /// The page, from 0.
    pub page: u32,
    /// Orders per page.
    pub per_page: u32,
}

/// One line of the order list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRow {
    /// The order.
    pub id: OrderId,
    /// 注文番号.
    pub number: String,
    /// 受注日 (Unix seconds).
    pub created_at: i64,
    /// お名前: the member's, or the name Amazon gave.
    pub name: String,
    /// 購入金額.
    pub total: u64,
    /// クレジット決済状況.
    pub state: OrderState,
    /// 対応状況: `new`, `shipped` or `canceled`.
    pub fulfilment: String,
    /// When Amazon authorized it (the 30-day window starts there).
    pub authorized_at: Option<i64>,
}

/// A page of the order list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderPage {
    /// The orders of the page, newest first.
    pub rows: Vec<OrderRow>,
    /// How many orders the filter finds in all.
    pub total: u64,
}

/// One line of an order's history: who moved its payment, when, from what to what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// When (Unix seconds).
    pub at: i64,
    /// Who: `shopper`, `owner:<name>`, `ipn`, `reconciler`, `job`.
    pub actor: String,
    /// From (none for the order's opening).
    pub from: Option<OrderState>,
    /// To.
    pub to: OrderState,
    /// Amazon's IDs and answer, or the reason.
    pub detail: String,
    /// The shop owner set the state whatever Amazon answered (「エラーを無視して変更する」):
    /// `detail` is then what Amazon holds.
    #[serde(default)]
    pub forced: bool,
}

/// Everything the order page (受注編集) shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderDetail {
    /// The order.
    pub order: Order,
    /// What was bought.
    pub lines: Vec<crate::core::platform::OrderLine>,
    /// 送料.
    pub shipping_fee: u64,
    /// 値引き.
    pub discount: u64,
    /// お名前.
    pub name: String,
    /// The buyer's e-mail: the member's, or for a guest the one Amazon gave at checkout.
    pub email: Option<String>,
    /// 対応状況.
    pub fulfilment: String,
    /// The payment's history, oldest first.
    pub events: Vec<OrderEvent>,
}

/// The shop owner's change to an order (受注編集: 商品変更 / 金額変更).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEdit {
    /// The lines as they are to be.
    pub lines: Vec<crate::core::platform::OrderLine>,
    /// 送料.
    pub shipping_fee: u64,
    /// 値引き.
    pub discount: u64,
    /// 対応状況.
    pub fulfilment: String,
}

/// How one order of a bulk capture went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemOutcome {
    /// Not tried yet (or its instance stopped before it was).
    Waiting,
    /// Captured (実売上), or asked of Amazon, which completes it later.
    Done,
    /// Nothing to do: already captured, say.
    Skipped,
    /// Not captured: Amazon refused, or the order's state does not allow it.
    Refused,
}

impl ItemOutcome {
    /// As stored.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Refused => "refused",
        }
    }

    /// From what is stored.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Waiting, Self::Done, Self::Skipped, Self::Refused].into_iter().find(|outcome| outcome.name() == name)
    }
}

/// One order of a bulk capture and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkItem {
    /// The order.
    pub order: OrderId,
    /// 注文番号.
    pub number: String,
    /// How it went.
    pub outcome: ItemOutcome,
    /// What happened, in the owner's words.
    pub message: String,
}

/// An order a bulk job is started with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkOrder {
    /// The order.
    pub order: OrderId,
    /// 注文番号, as shown while the job runs.
    pub number: String,
}

/// A bulk job as every server instance sees it: who started it, which instance runs it and
/// when that instance was last heard of (its heartbeat), and when it finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkJob {
    /// Its ID.
    pub id: i64,
    /// The owner who started it.
    pub owner: String,
    /// When it was started (Unix seconds).
    pub created_at: i64,
    /// The server instance running it, if one is.
    pub claimed_by: Option<String>,
    /// When that instance last said it was alive (Unix seconds).
    pub heartbeat_at: Option<i64>,
    /// When it finished (Unix seconds).
    pub finished_at: Option<i64>,
}

impl BulkJob {
    /// Whether an instance runs it now: claimed, not finished, and heard of since `alive_since`.
    pub fn is_running(&self, alive_since: i64) -> bool {
        self.finished_at.is_none() && self.claimed_by.is_some() && self.heartbeat_at.is_some_and(|at| at >= alive_since)
    }
}

/// A subscription (定期購入) as the shop owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// Its ID.
    pub id: SubscriptionId,
    /// The subscriber.
    pub member: Option<MemberId>,
    /// Charged every month, in yen.
    pub amount: u64,
    /// The next cycle, `YYYY-MM-DD`.
    pub next_cycle: String,
    /// Amazon's recurring charge permission.
    pub charge_permission_id: String,
    /// Still running (`false` once cancelled: no more cycles).
    pub active: bool,
}

/// An owner's session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSession {
    /// The owner's account.
    pub name: String,
    /// When it was last used (Unix seconds).
    pub last_seen: i64,
}

/// The shop owner's side of the database: the order list and page, order edits, settings, the
/// owner's accounts and sessions, bulk operations.
#[async_trait]
pub trait BackOffice: Send + Sync {
    /// 受注一覧: a page of placed orders, newest first.
    async fn list_orders(&self, filter: &OrderFilter) -> Result<OrderPage, StorageError>;
    /// 受注編集: an order with its lines, amounts, buyer and history.
    async fn order_detail(&self, id: OrderId) -> Result<Option<OrderDetail>, StorageError>;
    /// Changes an order as its owner saw it at `version`; the total follows the lines, fee and
    /// discount. `None` when the order changed in the meantime (nothing is written).
    async fn edit_order(&self, id: OrderId, version: i64, edit: &OrderEdit) -> Result<Option<Order>, StorageError>;
    /// The 「支払方法: AmazonPay」 tick of a shipping method; `false` when there is no such method.
    async fn set_shipping_amazon_pay(&self, method: i64, allowed: bool) -> Result<bool, StorageError>;
    /// Creates an owner account, or sets its password; `true` when it was new.
    async fn put_admin(&self, name: &str, password_hash: &str) -> Result<bool, StorageError>;
    /// An owner's password hash.
    async fn admin_password_hash(&self, name: &str) -> Result<Option<String>, StorageError>;
    /// An owner's session: the account name and when it was last used.
    async fn admin_session(&self, id: &str) -> Result<Option<AdminSession>, StorageError>;
    /// Stores an owner's session.
    async fn insert_admin_session(&self, id: &str, name: &str) -> Result<(), StorageError>;
    /// Marks an owner's session used now.
    async fn touch_admin_session(&self, id: &str, at: i64) -> Result<(), StorageError>;
    /// Ends an owner's session.
    async fn delete_admin_session(&self, id: &str) -> Result<(), StorageError>;
    /// Starts a bulk operation over `orders` (their numbers as shown), claimed by the server
    /// instance `instance` that runs it; answers its ID.
    async fn start_bulk(&self, owner: &str, orders: &[BulkOrder], instance: &str) -> Result<i64, StorageError>;
    /// Records how orders of a bulk operation went, if `instance` holds the job (it claimed it,
    /// and no other instance took it over since) and each order is still waiting there; how many
    /// were recorded. An instance that lost the job never overwrites what the new claimant
    /// recorded.
    async fn record_bulk_items(&self, bulk: i64, instance: &str, items: &[BulkItem]) -> Result<usize, StorageError>;
    /// [`Self::record_bulk_items`] for one order: whether it was recorded.
    async fn record_bulk(&self, bulk: i64, instance: &str, item: &BulkItem) -> Result<bool, StorageError> {
        Ok(self.record_bulk_items(bulk, instance, std::slice::from_ref(item)).await? == 1)
    }
    /// A bulk operation's orders and outcomes.
    async fn bulk(&self, bulk: i64) -> Result<Vec<BulkItem>, StorageError>;
    /// A bulk operation's job: who runs it, its heartbeat, whether it finished.
    async fn bulk_job(&self, bulk: i64) -> Result<Option<BulkJob>, StorageError>;
    /// Claims an unfinished job for `instance` if nobody runs it, or its instance was last heard
    /// of before `stale_before` (it stopped); whether it is now `instance`'s. Of two instances
    /// claiming at once, one gets it.
    async fn claim_bulk(&self, bulk: i64, instance: &str, stale_before: i64) -> Result<bool, StorageError>;
    /// `instance`, running the job, is alive (its heartbeat); `false` when the job is no longer
    /// its own (another instance took it over) or finished.
    async fn beat_bulk(&self, bulk: i64, instance: &str) -> Result<bool, StorageError>;
    /// `instance` stops running the job: finished when no order is left waiting, else free for
    /// any instance to resume at once.
    async fn release_bulk(&self, bulk: i64, instance: &str) -> Result<(), StorageError>;
    /// The subscription paid through a recurring charge permission.
    async fn subscription_by_permission(
        &self,
        charge_permission_id: &str,
    ) -> Result<Option<SubscriptionRecord>, StorageError>;
}

/// A notification claimed for handling: by whom (a random token of the handling request) and
/// until when, so that a claim left by a stopped instance lapses and Amazon's retry is handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationClaim {
    /// Amazon's `NotificationId`.
    pub id: String,
    /// `ObjectType`.
    pub object_type: String,
    /// `ObjectId`.
    pub object_id: String,
    /// The claiming request's own random token.
    pub token: String,
    /// Now (Unix seconds).
    pub at: i64,
    /// When the claim lapses (Unix seconds).
    pub until: i64,
}

/// Whether a notification is this request's to handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// Claimed by this request: handle it, then finish or release it.
    Mine,
    /// Handled before: a repeat of Amazon's.
    Handled,
    /// Another request (or instance) is handling it now.
    Busy,
}

/// How many SNS topics are remembered per merchant and environment: the ones seen last. Anyone
/// with an AWS account can make topics; the shop's own (Amazon's) keeps being seen.
pub const IPN_TOPICS_KEPT: usize = 50;

/// Whether Amazon's notifications reach the shop: the last one received, and the changes the
/// reconciler found since then, which a notification would have announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotificationHealth {
    /// When the last notification arrived (Unix seconds), if one is remembered.
    pub last_received: Option<i64>,
    /// Orders the reconciler moved after it.
    pub unannounced: u64,
}

/// An SNS topic verified notifications for this shop came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenTopic {
    /// Its ARN.
    pub topic_arn: String,
    /// When a notification first came from it (Unix seconds).
    pub first_seen: i64,
    /// When the last one did.
    pub last_seen: i64,
    /// When one last named an object that Amazon's API answered for (with this shop's key).
    pub last_confirmed: Option<i64>,
}

/// The login attempts counted for a subject: how many, in the window started when (both 0 for
/// none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginAttempts {
    /// How many.
    pub count: u32,
    /// When the window started (Unix seconds).
    pub since: i64,
}

/// What keeps the shop's doors: Amazon's notifications handled once and only after they were
/// handled, the SNS topics they come from, and password logins counted before they are checked.
#[async_trait]
pub trait Safeguards: Send + Sync {
    /// Claims a notification for handling, unless it was handled or another live claim holds it.
    async fn claim_notification(&self, claim: &NotificationClaim) -> Result<Claimed, StorageError>;
    /// Records a claimed notification handled (at `at`); nothing when the claim is no longer
    /// `token`'s.
    async fn finish_notification(&self, id: &str, token: &str, at: i64) -> Result<(), StorageError>;
    /// Gives a claim up, so that Amazon's retry (or another instance) handles the notification.
    async fn release_notification(&self, id: &str, token: &str) -> Result<(), StorageError>;
    /// Forgets notifications handled (or claims made) before `before`, of every shop; answers how
    /// many.
    async fn purge_notifications(&self, before: i64) -> Result<usize, StorageError>;
    /// Records that a verified notification for `scope` came from `topic` at `at` (`confirmed`:
    /// the object it named was read from Amazon's API), keeping the [`IPN_TOPICS_KEPT`] topics
    /// seen last; answers whether the topic was new.
    async fn see_ipn_topic(&self, scope: &str, topic: &str, at: i64, confirmed: bool) -> Result<bool, StorageError>;
    /// The SNS topics notifications for `scope` came from, the one seen last first.
    async fn ipn_topics(&self, scope: &str) -> Result<Vec<SeenTopic>, StorageError>;
    /// Whether Amazon's notifications reach this shop ([`NotificationHealth`]).
    async fn notification_health(&self) -> Result<NotificationHealth, StorageError>;
    /// Counts a login attempt of `subject` before its password is checked, in one statement: in a
    /// window of `window` seconds (from the first attempt) at most `max` are counted. Answers the
    /// window's start when this one counted, `None` when the subject is locked.
    async fn count_login_attempt(
        &self,
        subject: &str,
        at: i64,
        window: i64,
        max: u32,
    ) -> Result<Option<i64>, StorageError>;
    /// Takes back an attempt of the window started at `since` that was never checked.
    async fn uncount_login_attempt(&self, subject: &str, since: i64) -> Result<(), StorageError>;
    /// Forgets the attempts of `subject` (after a good password).
    async fn clear_login_attempts(&self, subject: &str) -> Result<(), StorageError>;
    /// The attempts counted for `subject`: how many, and since when (`(0, 0)` for none).
    async fn login_attempts(&self, subject: &str) -> Result<LoginAttempts, StorageError>;
    /// Forgets the attempts of windows started before `before`, of every shop; answers how many
    /// subjects.
    async fn purge_login_attempts(&self, before: i64) -> Result<usize, StorageError>;
}
