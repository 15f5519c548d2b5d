//! Where an order's payment stands, and every way it may move: the one place an order's state
//! changes.
//!
//! A state change is a [`Transition`], built here and nowhere else: [`Transition::new`] refuses a
//! move the table in [`OrderState::may_move_to`] does not allow, and the platform applies the
//! transition atomically with everything that belongs to it (Amazon's IDs, the note, the cart it
//! empties, the subscription it starts or advances, the history line), or not at all when the
//! order has moved on in the meantime. One kind is applied whatever the order moved to: what
//! Amazon already did ([`Transition::amazon_did`], a refund Amazon made or settled), which the
//! shop must record even when a notification moved the order while Amazon was answering. Where a
//! refund leaves the order (返金 or 実売上) is decided by the platform inside the transaction, from
//! the refunded amount after the refund is written ([`Landing::ByRefunds`]): two refunds settled
//! at once each see the other's effect, never an amount read before.

use serde::{Deserialize, Serialize};
use time::Date;

use super::platform::{CartId, MemberId, Order, OrderId, Plan, Refund, RefundState, SubscriptionId};

/// Where an order's payment stands. Stored by its [`name`](Self::name) under a CHECK constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Opened; the shopper is on Amazon's pages. Not yet an order the shop acts on.
    Processing,
    /// A request is completing it at Amazon right now.
    Completing,
    /// Amazon completed the checkout but its answer could not be read: the reconciler asks Amazon
    /// again. Never treated as authorized.
    Unknown,
    /// 決済保留: Amazon is still authorizing.
    Pending,
    /// 仮売上: authorized, not yet captured.
    Authorized,
    /// 実売上処理中: capture requested, Amazon still processing it.
    Capturing,
    /// 実売上: captured.
    Captured,
    /// キャンセル: the authorization was cancelled.
    Canceled,
    /// 返金: money was given back after the capture.
    Refunded,
    /// オーソリ期限切れ: the authorization lapsed unused (30 days).
    Expired,
    /// カード未決済: Amazon could not authorize (a subscription cycle, or a pending authorization
    /// that was declined).
    CardUnsettled,
    /// Never became an order: declined, cancelled, expired or changed before Amazon authorized.
    Failed,
}

impl OrderState {
    /// Every state.
    pub const ALL: [Self; 12] = [
        Self::Processing,
        Self::Completing,
        Self::Unknown,
        Self::Pending,
        Self::Authorized,
        Self::Capturing,
        Self::Captured,
        Self::Canceled,
        Self::Refunded,
        Self::Expired,
        Self::CardUnsettled,
        Self::Failed,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Completing => "completing",
            Self::Unknown => "unknown",
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Capturing => "capturing",
            Self::Captured => "captured",
            Self::Canceled => "canceled",
            Self::Refunded => "refunded",
            Self::Expired => "expired",
            Self::CardUnsettled => "card_unsettled",
            Self::Failed => "failed",
        }
    }

    /// A stored name back.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.name() == name)
    }

    /// The credit status the shop owner and the shopper see (受注一覧 「仮売上」 …).
    pub fn credit_status(self) -> &'static str {
        match self {
            Self::Processing | Self::Completing => "処理中",
            Self::Unknown => "確認中",
            Self::Pending => "決済保留",
            Self::Authorized => "仮売上",
            Self::Capturing => "実売上処理中",
            Self::Captured => "実売上",
            Self::Canceled => "キャンセル",
            Self::Refunded => "返金",
            Self::Expired => "オーソリ期限切れ",
            Self::CardUnsettled => "カード未決済",
            Self::Failed => "決済失敗",
        }
    }

    /// Whether the shop has an order to act on: Amazon authorized it, or is authorizing it, or
    /// it moved on from there. Orders still being placed, and checkouts that never became orders,
    /// are not shown to shoppers as orders.
    pub fn is_placed(self) -> bool {
        !matches!(self, Self::Processing | Self::Completing | Self::Failed)
    }

    /// Whether a request or the reconciler may still settle it.
    pub fn is_unsettled(self) -> bool {
        matches!(self, Self::Processing | Self::Completing | Self::Unknown)
    }

    /// The moves an order's payment can make. Everything else is refused.
    pub fn may_move_to(self, to: Self) -> bool {
        use OrderState::*;
        match (self, to) {
            // The shopper's checkout: one request claims the order, and completes it or lets go.
            (Processing, Completing) | (Completing, Processing) => true,
            (Processing | Completing | Unknown, Pending | Authorized | Unknown | Failed | CardUnsettled) => true,
            // Amazon decides a pending authorization.
            (Pending, Authorized | CardUnsettled | Canceled) => true,
            // After the order (the admin, IPN and the reconciler).
            (Authorized, Capturing | Captured | Canceled | Expired) => true,
            // Capturing → capturing: Amazon accepted the capture and completes it later (more than
            // 7 days after the authorization); the history records its answer.
            (Capturing, Captured | Capturing | Authorized | Canceled | Expired) => true,
            (Captured | Refunded, Refunded) | (Refunded, Captured) => true,
            // Expired → expired: Amazon declined the new authorization; the history records its
            // answer, and the next try is a new request (its idempotency key has the version).
            (Expired, Authorized | Pending | Canceled | Expired) => true,
            _ => false,
        }
    }
}

/// Who moved an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Actor {
    /// The shopper, through the checkout.
    Shopper,
    /// The shop owner, through the admin (with the account name).
    Owner(String),
    /// Amazon's instant notification.
    Notification,
    /// The reconciler, asking Amazon about an order left unsettled.
    Reconciler,
    /// A scheduled job (subscription cycles, bulk capture).
    Job,
}

impl Actor {
    /// How the history shows it.
    pub fn label(&self) -> String {
        match self {
            Self::Shopper => "shopper".into(),
            Self::Owner(name) => format!("owner:{name}"),
            Self::Notification => "ipn".into(),
            Self::Reconciler => "reconciler".into(),
            Self::Job => "job".into(),
        }
    }
}

/// What else a transition does, in the same transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Empties the cart the order was bought from and forgets its checkout.
    ClearCart(CartId),
    /// Forgets the cart's checkout (the shopper starts again from the cart).
    ForgetCheckout(CartId),
    /// Starts the subscription a recurring checkout pays for.
    StartSubscription {
        /// The subscriber.
        member: Option<MemberId>,
        /// Amazon's recurring charge permission.
        charge_permission_id: String,
        /// Charged every cycle.
        amount: u64,
        /// What every cycle delivers (`None` for an order placed before plans were kept: its
        /// whole total recurs).
        plan: Option<Plan>,
        /// The first cycle after this one.
        first_cycle: Date,
    },
    /// Moves a subscription from the cycle this order was to the next one (only if it still
    /// stands at that cycle).
    AdvanceSubscription {
        /// The subscription.
        id: SubscriptionId,
        /// The cycle this order was.
        from: Date,
        /// The next cycle.
        to: Date,
    },
    /// Records a refund Amazon accepted (the order's refunded amount grows by it).
    Refund(Refund),
    /// Records that Amazon answered the shop's `ordinal`-th refund request of the order for good
    /// (made it, or refused it): the next refund is asked under the next idempotency key. A
    /// request whose answer was lost leaves the count where it was, so that asking again repeats
    /// its key (see [`crate::core::idempotency::Keyed::Refund`]).
    RefundAnswered {
        /// The request's ordinal (1 for the first).
        ordinal: u32,
    },
    /// Records what became of a refund, as Amazon holds it (a declined one no longer counts as
    /// refunded).
    RefundSettled {
        /// Amazon's refund ID.
        refund_id: String,
        /// Its new state.
        state: RefundState,
        /// Its amount, as Amazon holds it.
        amount: u64,
    },
    /// Lets go of the shop owner's hold on the order.
    Unlock(String),
}

/// What Amazon authorized on one charge, and when its 30 days began (Unix seconds): Amazon's
/// own deadline for it, the charge's `expirationTimestamp`, less 30 days, whatever the shop does
/// with the order meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// The charge's amount, in yen: the most a capture may take.
    pub amount: u64,
    /// When the authorization's 30 days began: the charge's `expirationTimestamp` less 30 days
    /// (a pending authorization decided days later lapses that much later), or its
    /// `creationTimestamp` when Amazon gives no expiration.
    pub at: i64,
}

/// Where a transition leaves the order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Landing {
    /// In the transition's [`to`](Transition::to).
    #[default]
    Given,
    /// In 返金 when the order's refunded amount, after the transition's refund effects, is above
    /// 0, else in 実売上: decided by the platform in the transaction that writes the refund, so
    /// that two refunds recorded or settled at once each count the other's.
    ByRefunds,
    /// Where it stands: the transition only adds a line to the order's history.
    Unchanged,
}

/// One move of one order, with everything that happens together with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    order: OrderId,
    from: OrderState,
    to: OrderState,
    forced: bool,
    #[serde(default)]
    from_any_state: bool,
    #[serde(default)]
    landing: Landing,
    charge_permission_id: Option<String>,
    charge_id: Option<String>,
    authorized: Option<Authorization>,
    captured: Option<u64>,
    note: Option<String>,
    effects: Vec<Effect>,
    actor: Actor,
    detail: String,
}

/// A move the state table does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot move from {from:?} to {to:?}")]
pub struct InvalidMove {
    /// Where it stands.
    pub from: OrderState,
    /// Where it was asked to go.
    pub to: OrderState,
}

impl Transition {
    /// `order` from the state it stands in to `to`, by `actor`; `detail` is what the history
    /// records (Amazon's answer, the reason).
    pub fn new(order: &Order, to: OrderState, actor: Actor, detail: impl Into<String>) -> Result<Self, InvalidMove> {
        if !order.state.may_move_to(to) {
            return Err(InvalidMove { from: order.state, to });
        }
        Ok(Self::unchecked(order, to, actor, detail.into()))
    }

    /// 「エラーを無視して変更する」: the shop owner sets the shop's status whatever the table says,
    /// because Amazon's record was changed elsewhere (Seller Central). `detail` records what Amazon
    /// actually holds.
    pub fn forced(order: &Order, to: OrderState, owner: &str, detail: impl Into<String>) -> Self {
        let mut transition = Self::unchecked(order, to, Actor::Owner(owner.to_owned()), detail.into());
        transition.forced = true;
        transition
    }

    /// What Amazon already did (a refund it made, say), recorded whatever state the order moved
    /// to since `order` was read: an IPN or a declined refund may move it while Amazon answers,
    /// and Amazon's act must not be lost for that. `to` is what Amazon's record makes of the
    /// order; the history shows the state it actually left.
    pub fn amazon_did(order: &Order, to: OrderState, actor: Actor, detail: impl Into<String>) -> Self {
        let mut transition = Self::unchecked(order, to, actor, detail.into());
        transition.from_any_state = true;
        transition
    }

    /// A line in the order's history about something the shop owner must know (a chargeback),
    /// its state unchanged whatever it moved to since `order` was read.
    pub fn history(order: &Order, actor: Actor, detail: impl Into<String>) -> Self {
        let mut transition = Self::amazon_did(order, order.state, actor, detail);
        transition.landing = Landing::Unchanged;
        transition
    }

    fn unchecked(order: &Order, to: OrderState, actor: Actor, detail: String) -> Self {
        Self {
            order: order.id,
            from: order.state,
            to,
            forced: false,
            from_any_state: false,
            landing: Landing::Given,
            charge_permission_id: None,
            charge_id: None,
            authorized: None,
            captured: None,
            note: None,
            effects: Vec::new(),
            actor,
            detail,
        }
    }

    /// Records what Amazon authorized on a charge, and when it made that charge. Only a charge
    /// read from Amazon sets it: a move back to 仮売上 keeps the window of the charge it had.
    #[must_use]
    pub fn with_authorized(mut self, authorization: Authorization) -> Self {
        self.authorized = Some(authorization);
        self
    }

    /// Records what was captured.
    #[must_use]
    pub fn with_captured(mut self, amount: u64) -> Self {
        self.captured = Some(amount);
        self
    }

    /// Whether the table was overridden (「エラーを無視して変更する」).
    pub fn is_forced(&self) -> bool {
        self.forced
    }

    /// Whether it applies whatever state the order stands in ([`Transition::amazon_did`]).
    pub fn applies_from_any_state(&self) -> bool {
        self.from_any_state
    }

    /// Where it leaves the order: [`to`](Self::to), or as its refunds decide, or where it stands.
    pub fn landing(&self) -> Landing {
        self.landing
    }

    /// What Amazon authorized, and when, to record.
    pub fn authorized(&self) -> Option<Authorization> {
        self.authorized
    }

    /// The amount captured, to record.
    pub fn captured(&self) -> Option<u64> {
        self.captured
    }

    /// Records Amazon's charge permission and charge (kept when `None`).
    #[must_use]
    pub fn with_amazon_ids(mut self, ids: AmazonIds) -> Self {
        self.charge_permission_id = ids.charge_permission_id;
        self.charge_id = ids.charge_id;
        self
    }

    /// Replaces the order's note.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Adds an effect.
    #[must_use]
    pub fn with(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    /// The order.
    pub fn order(&self) -> OrderId {
        self.order
    }

    /// The state the order must stand in.
    pub fn from(&self) -> OrderState {
        self.from
    }

    /// The state it moves to ([`Landing::Given`]); for the other landings, the one the core
    /// expects, which the platform replaces with what it finds in the transaction.
    pub fn to(&self) -> OrderState {
        self.to
    }

    /// Amazon's charge permission to record, if any.
    pub fn charge_permission_id(&self) -> Option<&str> {
        self.charge_permission_id.as_deref()
    }

    /// Amazon's charge to record, if any.
    pub fn charge_id(&self) -> Option<&str> {
        self.charge_id.as_deref()
    }

    /// The new note, if it changes.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// What else happens.
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }

    /// Who moved it.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// What the history records.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// What Amazon's answer means for an order being completed or settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Authorized (仮売上): what, and when Amazon made the charge.
    Authorized(Authorization),
    /// Still authorizing (決済保留).
    Pending,
    /// Amazon completed, but the charge could not be read: to reconcile.
    Unknown,
    /// Amazon would not authorize a subscription cycle or a pending authorization (カード未決済);
    /// the note explains it to the shop owner.
    Unsettled(String),
    /// Never an order; the note is the shopper's notice code.
    Failed(String),
}

/// Amazon's IDs an order records (each kept as it was when `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AmazonIds {
    /// The charge permission.
    pub charge_permission_id: Option<String>,
    /// The charge.
    pub charge_id: Option<String>,
}

/// The transition that settles `order` with `outcome`: the state, Amazon's IDs, and what belongs
/// with it — an authorized checkout empties its cart and starts its subscription, a failed one
/// sends the shopper back to the cart, and a subscription cycle moves its subscription on.
pub fn settle(
    order: &Order,
    outcome: Outcome,
    ids: AmazonIds,
    next_cycle: Date,
    actor: Actor,
) -> Result<Transition, InvalidMove> {
    let placed = matches!(outcome, Outcome::Authorized(_) | Outcome::Pending | Outcome::Unknown);
    let authorization = match outcome {
        Outcome::Authorized(authorization) => Some(authorization),
        _ => None,
    };
    let (to, note) = match outcome {
        Outcome::Authorized(_) => (OrderState::Authorized, None),
        Outcome::Pending => (OrderState::Pending, None),
        Outcome::Unknown => (OrderState::Unknown, None),
        Outcome::Unsettled(note) => (OrderState::CardUnsettled, Some(note)),
        Outcome::Failed(code) => (OrderState::Failed, Some(code)),
    };
    let permission = ids.charge_permission_id.clone();
    let mut transition =
        Transition::new(order, to, actor, format!("{} → {}", order.state.name(), to.name()))?.with_amazon_ids(ids);
    if let Some(authorization) = authorization {
        transition = transition.with_authorized(authorization);
    }
    if let Some(note) = note {
        transition = transition.with_note(note);
    }
    match (&order.cart, placed) {
        (Some(cart), true) => transition = transition.with(Effect::ClearCart(cart.clone())),
        (Some(cart), false) if to == OrderState::Failed => {
            transition = transition.with(Effect::ForgetCheckout(cart.clone()));
        }
        _ => {}
    }
    match (order.cycle, &permission) {
        // A cycle moves its subscription on whatever Amazon said: the next cycle is next month.
        (Some(cycle), _) if to != OrderState::Unknown => {
            transition = transition.with(Effect::AdvanceSubscription {
                id: cycle.subscription,
                from: cycle.day,
                to: next_cycle,
            });
        }
        (None, Some(permission)) if order.recurring && placed => {
            // Later cycles charge what recurs; the checkout's charge covered the whole cart.
            transition = transition.with(Effect::StartSubscription {
                member: order.member,
                charge_permission_id: permission.clone(),
                amount: order.plan.as_ref().map_or(order.total, Plan::amount),
                plan: order.plan.clone(),
                first_cycle: next_cycle,
            });
        }
        _ => {}
    }
    Ok(transition)
}

/// A refund Amazon accepted — asked for by the shop owner, or made in Seller Central — recorded
/// with Amazon's amount on its order, whatever the order moved to meanwhile: the refund row
/// always, and the order 返金 while any refund gives money back (decided in the transaction:
/// [`Landing::ByRefunds`]).
pub fn refund_made(order: &Order, refund: Refund, actor: Actor, detail: impl Into<String>) -> Transition {
    let mut transition =
        Transition::amazon_did(order, OrderState::Refunded, actor, detail).with(Effect::Refund(refund));
    transition.landing = Landing::ByRefunds;
    transition
}

/// What became of a refund at Amazon (`state`, for `amount`: Amazon's), recorded on its order
/// whatever the order moved to meanwhile; the order is 返金 while any refund gives money back and
/// 実売上 once none does, as the transaction finds it ([`Landing::ByRefunds`]).
pub fn refund_settled(
    order: &Order,
    refund_id: &str,
    state: RefundState,
    amount: u64,
    actor: Actor,
    detail: impl Into<String>,
) -> Transition {
    let settled = Effect::RefundSettled { refund_id: refund_id.to_owned(), state, amount };
    let mut transition = Transition::amazon_did(order, OrderState::Refunded, actor, detail).with(settled);
    transition.landing = Landing::ByRefunds;
    transition
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::core::platform::{OrderId, SubscriptionCycle};

    fn order(state: OrderState) -> Order {
        Order {
            id: OrderId(7),
            number: "10007".into(),
            member: Some(MemberId(1)),
            checkout_session_id: Some("cs".into()),
            cart: Some(CartId("c".into())),
            cycle: None,
            total: 3_630,
            recurring: false,
            state,
            charge_permission_id: None,
            charge_id: None,
            note: String::new(),
            created_at: 0,
            updated_at: 0,
            version: 0,
            authorized: None,
            captured: 0,
            refunded: 0,
            plan: None,
            refund_requests: 0,
        }
    }

    #[test]
    fn names_round_trip_and_are_distinct() {
        for state in OrderState::ALL {
            assert_eq!(OrderState::parse(state.name()), Some(state));
        }
        assert_eq!(OrderState::parse("authorised"), None);
    }

    #[test]
    fn an_unreadable_charge_is_never_authorized_and_settles_later() {
        let transition = settle(
            &order(OrderState::Completing),
            Outcome::Unknown,
            AmazonIds { charge_permission_id: Some("P".into()), charge_id: Some("C".into()) },
            date!(2026 - 12 - 30),
            Actor::Shopper,
        )
        .unwrap();
        assert_eq!(transition.to(), OrderState::Unknown);
        assert!(OrderState::Unknown.may_move_to(OrderState::Authorized));
        assert!(OrderState::Unknown.is_unsettled());
        assert!(!OrderState::Unknown.may_move_to(OrderState::Captured), "nothing is captured before it is known");
    }

    #[test]
    fn moves_outside_the_table_are_refused() {
        for (from, to) in [
            (OrderState::Failed, OrderState::Authorized),
            (OrderState::Authorized, OrderState::Processing),
            (OrderState::Captured, OrderState::Authorized),
            (OrderState::Canceled, OrderState::Captured),
            (OrderState::Processing, OrderState::Captured),
        ] {
            let refused = Transition::new(&order(from), to, Actor::Shopper, "");
            assert_eq!(refused, Err(InvalidMove { from, to }), "{from:?} → {to:?}");
        }
    }

    const AUTHORIZED: Authorization = Authorization { amount: 3_630, at: 1_795_860_854 };

    #[test]
    fn an_authorized_checkout_empties_its_cart_and_a_recurring_one_starts_its_subscription() {
        let mut recurring = order(OrderState::Completing);
        recurring.recurring = true;
        let plan = Plan {
            lines: vec![crate::core::platform::OrderLine { name: "定期便".into(), unit_price: 2_000, quantity: 1 }],
            shipping_fee: 880,
        };
        recurring.plan = Some(plan.clone());
        let cart = CartId("c".into());
        let transition = settle(
            &recurring,
            Outcome::Authorized(AUTHORIZED),
            AmazonIds { charge_permission_id: Some("P".into()), charge_id: Some("C".into()) },
            date!(2026 - 12 - 30),
            Actor::Shopper,
        )
        .unwrap();
        assert_eq!(transition.authorized(), Some(AUTHORIZED), "Amazon's amount and the charge's own time");
        assert_eq!(
            transition.effects(),
            [
                Effect::ClearCart(cart.clone()),
                Effect::StartSubscription {
                    member: Some(MemberId(1)),
                    charge_permission_id: "P".into(),
                    amount: 2_880,
                    plan: Some(plan),
                    first_cycle: date!(2026 - 12 - 30),
                }
            ],
            "the later cycles charge what recurs, not the whole first order"
        );
        let failed = settle(
            &order(OrderState::Completing),
            Outcome::Failed("payment_declined".into()),
            AmazonIds::default(),
            date!(2026 - 12 - 30),
            Actor::Shopper,
        )
        .unwrap();
        assert_eq!(failed.effects(), [Effect::ForgetCheckout(cart)]);
        assert_eq!(failed.note(), Some("payment_declined"));
    }

    #[test]
    fn a_cycle_moves_its_subscription_on_unless_its_outcome_is_unknown() {
        let mut cycle = order(OrderState::Completing);
        cycle.cycle = Some(SubscriptionCycle { subscription: SubscriptionId(3), day: date!(2026 - 11 - 30) });
        cycle.cart = None;
        let next = date!(2026 - 12 - 30);
        let unsettled =
            settle(&cycle, Outcome::Unsettled("与信NG".into()), AmazonIds::default(), next, Actor::Job).unwrap();
        assert_eq!(unsettled.to(), OrderState::CardUnsettled);
        assert_eq!(
            unsettled.effects(),
            [Effect::AdvanceSubscription { id: SubscriptionId(3), from: date!(2026 - 11 - 30), to: next }]
        );
        let unknown = settle(&cycle, Outcome::Unknown, AmazonIds::default(), next, Actor::Job).unwrap();
        assert!(unknown.effects().is_empty());
    }

    #[test]
    fn a_refund_amazon_made_is_recorded_from_whatever_state_the_order_moved_to() {
        let refund = Refund { refund_id: "R".into(), amount: 500, state: RefundState::Initiated, created_at: 0 };
        // Read while captured; a notification may have made it 返金 (or a declined refund made it
        // 実売上 again) by the time Amazon's answer is written.
        let recorded = refund_made(&order(OrderState::Captured), refund.clone(), Actor::Notification, "返金");
        assert!(recorded.applies_from_any_state());
        assert_eq!(recorded.landing(), Landing::ByRefunds, "返金 or 実売上 is decided where the refund is written");
        assert_eq!(recorded.effects(), [Effect::Refund(refund.clone())]);
        let settled =
            refund_settled(&order(OrderState::Refunded), "R", RefundState::Declined, 500, Actor::Reconciler, "");
        assert!(settled.applies_from_any_state());
        assert_eq!(settled.landing(), Landing::ByRefunds);
        assert_eq!(
            settled.effects(),
            [Effect::RefundSettled { refund_id: "R".into(), state: RefundState::Declined, amount: 500 }]
        );
        let moved = Transition::new(&order(OrderState::Captured), OrderState::Refunded, Actor::Shopper, "").unwrap();
        assert!(!moved.applies_from_any_state());
        assert_eq!(moved.landing(), Landing::Given);
    }

    #[test]
    fn a_history_line_leaves_the_order_where_it_stands() {
        let line = Transition::history(&order(OrderState::Captured), Actor::Notification, "チャージバック");
        assert!(line.applies_from_any_state());
        assert_eq!(line.landing(), Landing::Unchanged);
        assert!(line.effects().is_empty());
    }
}
