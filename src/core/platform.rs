//! The seam: everything the Amazon Pay core needs from a cart platform, and nothing more.
//!
//! A platform (Craft Cart, or the built-in shop in `storage` that the demo uses) keeps its own
//! members, carts, orders and subscriptions. The core asks for them through these traits and moves
//! orders only through [`Orders::apply`] with a [`Transition`] the core built: the platform stores
//! each transition atomically (the new state, the Amazon IDs, the history line, the cart it empties
//! and the subscription it starts or advances, all or nothing), and refuses it when the order is no
//! longer in the state the transition starts from.
//!
//! Every method is async and every value plain data, so a platform that is not written in Rust can
//! be reached through an adapter that calls its HTTP API (with a shared secret) without the core
//! changing: the types serialize as they are.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::Date;

use super::orders::{Authorization, OrderState, Transition};

/// A member's ID on the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberId(pub i64);

/// An order's ID on the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderId(pub i64);

/// A subscription's ID on the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubscriptionId(pub i64);

/// A cart's ID on the platform (the shopper's session knows it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CartId(pub String);

/// The platform could not answer (its database or its API failed). Never the shopper's fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// It cannot be reached right now (down, restarting, too slow): the same request may succeed
    /// later, so the HTTP edge answers 503 and Amazon's notification is retried.
    #[error("cart platform unavailable: {0}")]
    Unavailable(String),
    /// It failed otherwise.
    #[error("cart platform: {0}")]
    Failed(String),
}

impl PlatformError {
    /// Whether the platform could not be reached (rather than failing at what it was asked).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A member, as the Amazon side sees one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's ID.
    pub id: MemberId,
    /// 姓 名, for the shopper's own pages.
    pub name: String,
    /// The member's e-mail address.
    pub email: String,
    /// The Amazon buyer linked to the member (one at most, and one member per buyer).
    pub buyer_id: Option<String>,
}

/// Why a link was not made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LinkRefusal {
    /// The member already has another Amazon account linked.
    #[error("the member already has a linked Amazon account")]
    MemberLinked,
    /// The Amazon account is linked to another member.
    #[error("the Amazon account is linked to another member")]
    BuyerTaken,
}

/// Members: find them, and keep one Amazon link per member.
#[async_trait]
pub trait Members: Send + Sync {
    /// A member by ID.
    async fn member(&self, id: MemberId) -> Result<Option<Member>, PlatformError>;
    /// The member an Amazon buyer is linked to.
    async fn member_by_buyer(&self, buyer_id: &str) -> Result<Option<Member>, PlatformError>;
    /// A member by e-mail (case-insensitive).
    async fn member_by_email(&self, email: &str) -> Result<Option<Member>, PlatformError>;
    /// Links `buyer_id` to `member`: one buyer to at most one member and back.
    async fn link(&self, member: MemberId, buyer_id: &str) -> Result<Result<(), LinkRefusal>, PlatformError>;
    /// Removes the member's link; `false` when there was none.
    async fn unlink(&self, member: MemberId) -> Result<bool, PlatformError>;
}

/// A shipping method (基本設定＞配送方法・配送料) with the manual's 「支払方法: AmazonPay」 flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingMethod {
    /// Its ID.
    pub id: i64,
    /// Its name, e.g. 宅配便.
    pub name: String,
    /// The fee in yen.
    pub fee: u64,
    /// Whether the shop allows Amazon Pay with this method.
    pub amazon_pay_allowed: bool,
}

/// One line of a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// The product's ID.
    pub product_id: i64,
    /// The product's name.
    pub name: String,
    /// The price of one, in yen, tax included.
    pub unit_price: u64,
    /// How many.
    pub quantity: u64,
    /// Delivered and charged every month (定期購入).
    pub recurring: bool,
}

/// A cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// Its ID.
    pub id: CartId,
    /// What is in it.
    pub lines: Vec<CartLine>,
    /// The chosen shipping method.
    pub shipping: ShippingMethod,
    /// The Amazon checkout it is in, if any.
    pub checkout: CartCheckout,
}

/// The Amazon checkout of a cart: the single-use reference signed into the review return URL of
/// the last button click, and the checkout session that returned with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartCheckout {
    /// The reference of the last click of the checkout button.
    pub review_ref: Option<String>,
    /// The Amazon checkout session bound to the cart at the review return.
    pub checkout_session_id: Option<String>,
}

impl Cart {
    /// Whether there is nothing to buy.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Whether this is a subscription: a 定期購入 product is in it.
    pub fn is_recurring(&self) -> bool {
        self.lines.iter().any(|line| line.recurring)
    }

    /// What the subscription of this cart repeats every month: its 定期購入 lines and the
    /// shipping of each delivery. Lines bought once beside them are in the checkout's charge
    /// only. `None` for a cart without a 定期購入 product.
    pub fn plan(&self) -> Option<Plan> {
        self.is_recurring().then(|| Plan {
            lines: self
                .lines
                .iter()
                .filter(|line| line.recurring)
                .map(|line| OrderLine { name: line.name.clone(), unit_price: line.unit_price, quantity: line.quantity })
                .collect(),
            shipping_fee: self.shipping.fee,
        })
    }

    /// Products and shipping, in yen; an empty cart is 0 (nothing to ship, nothing to pay).
    pub fn total(&self) -> u64 {
        if self.is_empty() {
            return 0;
        }
        self.lines.iter().map(|line| line.unit_price.saturating_mul(line.quantity)).sum::<u64>() + self.shipping.fee
    }
}

/// Carts: read the shopper's cart and remember which Amazon checkout it is in.
#[async_trait]
pub trait Carts: Send + Sync {
    /// A cart with its lines and shipping method.
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, PlatformError>;
    /// Whether Amazon Pay is among the shop's payment methods (基本設定＞支払方法).
    async fn amazon_pay_enabled(&self) -> Result<bool, PlatformError>;
    /// A click of the checkout button: remembers its review reference and forgets any checkout
    /// session the cart was in.
    async fn begin_checkout(&self, cart: &CartId, review_ref: &str) -> Result<(), PlatformError>;
    /// Binds the checkout session Amazon returned with, if the cart's review reference is still
    /// `review_ref`; `false` when it is not (another click, or the cart changed).
    async fn bind_checkout(&self, cart: &CartId, review_ref: &str, session_id: &str) -> Result<bool, PlatformError>;
    /// Forgets the cart's checkout (the amount Amazon was shown no longer holds).
    async fn forget_checkout(&self, cart: &CartId) -> Result<(), PlatformError>;
}

/// One line of an order, as bought.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product's name.
    pub name: String,
    /// The price of one, in yen.
    pub unit_price: u64,
    /// How many.
    pub quantity: u64,
}

/// What a subscription (定期購入) charges and delivers every cycle after the first: the cart's
/// 定期購入 lines and the shipping of one delivery. The first charge, at checkout, covers the
/// whole cart; a one-time line bought beside a subscription is charged that once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The 定期購入 lines, delivered every cycle.
    pub lines: Vec<OrderLine>,
    /// The shipping fee of each delivery, in yen.
    pub shipping_fee: u64,
}

impl Plan {
    /// What each cycle charges, in yen.
    pub fn amount(&self) -> u64 {
        self.lines
            .iter()
            .fold(self.shipping_fee, |sum, line| sum.saturating_add(line.unit_price.saturating_mul(line.quantity)))
    }
}

/// One cycle of a subscription: the order it makes is that cycle's, once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionCycle {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// The day the cycle falls on.
    pub day: Date,
}

/// What makes a new order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// The buyer, when a member.
    pub member: Option<MemberId>,
    /// The Amazon checkout session it is paid with (one order per session).
    pub checkout_session_id: Option<String>,
    /// The cart it is bought from (emptied when Amazon authorizes).
    pub cart: Option<CartId>,
    /// The buyer's name as Amazon gave it (for a guest's order).
    pub buyer_name: String,
    /// The buyer's e-mail as Amazon gave it (for a guest's order; empty when Amazon gave none).
    #[serde(default)]
    pub buyer_email: String,
    /// The subscription cycle it is (one order per cycle).
    pub cycle: Option<SubscriptionCycle>,
    /// What is bought.
    pub lines: Vec<OrderLine>,
    /// The shipping fee in yen.
    pub shipping_fee: u64,
    /// The amount to pay, in yen.
    pub total: u64,
    /// A subscription's order.
    pub recurring: bool,
    /// For a checkout that starts a subscription: what its later cycles charge.
    #[serde(default)]
    pub plan: Option<Plan>,
}

/// An order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its ID.
    pub id: OrderId,
    /// 注文番号.
    pub number: String,
    /// The buyer, when a member.
    pub member: Option<MemberId>,
    /// The Amazon checkout session it was paid with.
    pub checkout_session_id: Option<String>,
    /// The cart it was bought from.
    pub cart: Option<CartId>,
    /// The subscription and the cycle it is.
    pub cycle: Option<SubscriptionCycle>,
    /// The amount to pay, in yen.
    pub total: u64,
    /// A subscription's order.
    pub recurring: bool,
    /// Where its payment stands.
    pub state: OrderState,
    /// Amazon's charge permission.
    pub charge_permission_id: Option<String>,
    /// Amazon's charge.
    pub charge_id: Option<String>,
    /// What happened, for the shop owner (or the notice code of a failed checkout).
    pub note: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When its state last changed (Unix seconds).
    pub updated_at: i64,
    /// Bumped by every change: an owner's operation acts only on the version they saw.
    pub version: i64,
    /// What Amazon authorized (the most a capture may take), and when its 30 days began.
    pub authorized: Option<Authorization>,
    /// What was captured (実売上), in yen.
    pub captured: u64,
    /// What was refunded or is being refunded (返金), in yen.
    pub refunded: u64,
    /// For a checkout that starts a subscription: what its later cycles charge.
    #[serde(default)]
    pub plan: Option<Plan>,
    /// How many of the shop's refund requests for this order Amazon has answered for good (made
    /// or refused); the next request is the one after. A request whose answer was lost is not
    /// counted, so that asking again repeats its idempotency key.
    #[serde(default)]
    pub refund_requests: u32,
}

/// A refund of an order, as Amazon processes it (asynchronously).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Amazon's refund ID.
    pub refund_id: String,
    /// The amount, in yen.
    pub amount: u64,
    /// Where Amazon's processing stands.
    pub state: RefundState,
    /// When it was asked for (Unix seconds).
    pub created_at: i64,
}

/// Where a refund stands at Amazon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Asked for; Amazon has not confirmed yet (返金処理中).
    Initiated,
    /// Done (返金済み).
    Refunded,
    /// Amazon declined it.
    Declined,
}

impl RefundState {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Initiated => "initiated",
            Self::Refunded => "refunded",
            Self::Declined => "declined",
        }
    }

    /// A stored name back.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Initiated, Self::Refunded, Self::Declined].into_iter().find(|state| state.name() == name)
    }

    /// Amazon's refund state; `None` for one this shop does not know.
    pub fn from_amazon(state: &crate::amazon::types::RefundState) -> Option<Self> {
        use crate::amazon::types::RefundState as Amazon;
        match state {
            Amazon::RefundInitiated => Some(Self::Initiated),
            Amazon::Refunded => Some(Self::Refunded),
            Amazon::Declined => Some(Self::Declined),
            Amazon::Other(_) => None,
        }
    }
}

/// The order a [`NewOrder`] resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// A new order, in [`OrderState::Processing`].
    New(Order),
    /// The order already made for the same checkout session or subscription cycle.
    Existing(Order),
}

/// Orders: open them (one per checkout session or subscription cycle) and move them through
/// their states.
#[async_trait]
pub trait Orders: Send + Sync {
    /// Opens an order in [`OrderState::Processing`], or returns the one already opened for the
    /// same checkout session or subscription cycle.
    async fn open_order(&self, new: &NewOrder) -> Result<Opened, PlatformError>;
    /// An order by ID.
    async fn order(&self, id: OrderId) -> Result<Option<Order>, PlatformError>;
    /// The order of a checkout session.
    async fn order_by_checkout_session(&self, session_id: &str) -> Result<Option<Order>, PlatformError>;
    /// The order of a charge.
    async fn order_by_charge(&self, charge_id: &str) -> Result<Option<Order>, PlatformError>;
    /// Applies a transition atomically; `None` when the order is not in the state it starts from
    /// (someone else moved it first), in which case nothing changed.
    async fn apply(&self, transition: &Transition) -> Result<Option<Order>, PlatformError>;
    /// Orders in one of `states` whose state last changed before `before` (Unix seconds), oldest
    /// first, at most `limit`.
    async fn orders_in(&self, states: &[OrderState], before: i64, limit: usize) -> Result<Vec<Order>, PlatformError>;
    /// The orders paid through a charge permission.
    async fn orders_by_charge_permission(&self, id: &str) -> Result<Vec<Order>, PlatformError>;
    /// The order a refund gives money back for.
    async fn order_by_refund(&self, refund_id: &str) -> Result<Option<Order>, PlatformError>;
    /// An order's refunds, oldest first.
    async fn refunds(&self, id: OrderId) -> Result<Vec<Refund>, PlatformError>;
    /// Takes the order for one operation of the shop owner's: only if nobody holds it (or the hold
    /// expired) and it is still at `version`, the version the owner acted from. `None` when it is
    /// not: another owner is at it, or it changed since the page was shown.
    async fn lock_order(
        &self,
        id: OrderId,
        version: i64,
        token: &str,
        until: i64,
    ) -> Result<Option<Order>, PlatformError>;
    /// Records that Amazon refused the order's `ordinal`-th refund request for good (an error
    /// answer: no refund was made), so that the next request is asked under a key of its own:
    /// [`Order::refund_requests`] becomes at least `ordinal`. Nothing else about the order
    /// changes (its state, version and history stay). A request Amazon made is counted by
    /// [`crate::core::orders::Effect::RefundAnswered`] in the transition that records it.
    async fn count_refund_refusal(&self, id: OrderId, ordinal: u32) -> Result<(), PlatformError>;
    /// Lets go of an order taken with [`Orders::lock_order`].
    async fn unlock_order(&self, id: OrderId, token: &str) -> Result<(), PlatformError>;
    /// This installation's idempotency secret: at least 32 random bytes, made once (from the
    /// system's random source: failing, an error, never zeros) and kept with the orders, so that
    /// a database restored from a backup brings back the secret its orders were keyed with, and
    /// every instance on one database shares it. Another installation (another database) on the
    /// same Amazon merchant account must have its own. See [`crate::core::idempotency`].
    async fn idempotency_secret(&self) -> Result<Vec<u8>, PlatformError>;
}

/// A subscription (定期購入) paid through a recurring charge permission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Its ID.
    pub id: SubscriptionId,
    /// The subscriber.
    pub member: Option<MemberId>,
    /// Amazon's recurring charge permission.
    pub charge_permission_id: String,
    /// Charged every cycle, in yen.
    pub amount: u64,
    /// The next cycle's date (Japan).
    pub next_cycle: Date,
    /// What each cycle delivers; `None` for a subscription started before plans were kept
    /// (its cycles are one line of `amount`).
    #[serde(default)]
    pub plan: Option<Plan>,
}

/// Subscriptions: which are due, and what a month has charged.
#[async_trait]
pub trait Subscriptions: Send + Sync {
    /// Active subscriptions whose next cycle is on or before `day`.
    async fn due_subscriptions(&self, day: Date) -> Result<Vec<Subscription>, PlatformError>;
    /// The yen of a subscription's cycles in a calendar month that Amazon authorized or is
    /// authorizing (the ¥100,000 monthly limit counts them).
    async fn charged_in_month(&self, id: SubscriptionId, year: i32, month: u8) -> Result<u64, PlatformError>;
    /// Ends the active subscription on a charge permission (Amazon closed it: no cycle can be
    /// charged on it again); whether one was active.
    async fn end_subscription(&self, charge_permission_id: &str) -> Result<bool, PlatformError>;
}

/// A whole cart platform.
pub trait Platform: Members + Carts + Orders + Subscriptions {}

impl<T: Members + Carts + Orders + Subscriptions> Platform for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn cart(lines: &[(u64, u64, bool)], fee: u64) -> Cart {
        Cart {
            id: CartId("c".into()),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (price, quantity, recurring))| CartLine {
                    product_id: i64::try_from(i).unwrap(),
                    name: "器".into(),
                    unit_price: *price,
                    quantity: *quantity,
                    recurring: *recurring,
                })
                .collect(),
            shipping: ShippingMethod { id: 1, name: "宅配便".into(), fee, amazon_pay_allowed: true },
            checkout: CartCheckout::default(),
        }
    }

    #[test]
    fn a_total_is_lines_and_shipping_and_an_empty_cart_costs_nothing() {
        assert_eq!(cart(&[(2_750, 2, false), (1_980, 1, false)], 880).total(), 8_360);
        assert_eq!(cart(&[], 880).total(), 0);
        assert!(cart(&[(1, 1, false), (2, 1, true)], 0).is_recurring());
    }

    #[test]
    fn a_subscription_repeats_only_its_recurring_lines_and_the_shipping() {
        let mixed = cart(&[(2_750, 1, false), (8_800, 2, true)], 880);
        assert_eq!(mixed.total(), 2_750 + 17_600 + 880, "the checkout charges the whole cart");
        let plan = mixed.plan().expect("a subscription");
        assert_eq!(plan.amount(), 17_600 + 880, "each later cycle: the recurring lines and one delivery");
        assert_eq!(plan.lines, [OrderLine { name: "器".into(), unit_price: 8_800, quantity: 2 }]);
        assert_eq!(cart(&[(2_750, 1, false)], 880).plan(), None, "nothing recurs");
    }

    #[test]
    fn the_seam_types_serialize_for_a_platform_adapter() {
        let json = serde_json::to_string(&cart(&[(2_750, 1, false)], 880)).unwrap();
        assert!(json.starts_with(r#"{"id":"c","lines":[{"product_id":0,"name":"器","unit_price":2750"#), "{json}");
        assert_eq!(serde_json::from_str::<Cart>(&json).unwrap(), cart(&[(2_750, 1, false)], 880));
    }
}
