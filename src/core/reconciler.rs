//! Settles orders nobody is settling: asks Amazon what became of them and moves them to match.
//!
//! A process stopped between Amazon's completion and the order's write (a deploy, `kill -9`, a
//! power cut), an answer that could not be read, or a shopper who never came back leave orders in
//! `completing`, `unknown` or `processing`; an authorization still pending at Amazon, a capture
//! Amazon completes later and a refund it has not confirmed leave orders waiting; notifications
//! from Amazon may be late or lost. The server runs this at start and every few minutes (and
//! `amazonpay2-server reconcile` runs it once): a completed checkout becomes the order with its
//! IDs, a canceled one fails with Amazon's reason, an open one is left for the shopper (a
//! `completing` one goes back to `processing`, so that their reload completes it), and every other
//! order follows its charge and refunds ([`Core::sync_order`]).

use std::time::Duration;

use super::orders::{Actor, AmazonIds, OrderState, Outcome, Transition, settle};
use super::platform::{Order, RefundState};
use super::rules::{next_month, today_in_japan};
use super::{AmazonError, Core, CoreError, now};
use crate::amazon::types::CheckoutSessionState;
use crate::contract::Notice;

/// A request completing an order takes at most this long (Amazon's client retries included);
/// an order `completing` for longer has been abandoned by the process that claimed it.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(120);

/// A shopper on Amazon's pages is left alone this long before their checkout is looked at.
const SHOPPER_AWAY: Duration = Duration::from_secs(60 * 60);

/// An authorization lapses after 30 days; Amazon is asked about those older.
const AUTHORIZATION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Orders looked at per run and kind (the next run takes the rest).
const BATCH: usize = 200;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Orders looked at.
    pub examined: usize,
    /// Orders that moved.
    pub settled: usize,
    /// Orders Amazon could not be asked about (tried again next run).
    pub failed: usize,
}

/// Whether the claim on a `completing` order is older than any request holding it can be.
pub(super) fn abandoned(order: &Order) -> bool {
    now() - order.updated_at > secs(ABANDONED_AFTER)
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// The orders the reconciler looks at, at `now`: those in each list of states last changed
/// before its time. Orders of any age whose outcome Amazon may have decided (whoever holds a claim
/// on one, Amazon's decision settles it: the holder's own write then finds it moved, and reads
/// it); checkouts left on Amazon's pages; authorizations past their life; refunds (those with a
/// refund in progress).
pub fn looked_at(now: i64) -> [(&'static [OrderState], i64); 4] {
    const WAITING: [OrderState; 4] =
        [OrderState::Completing, OrderState::Unknown, OrderState::Pending, OrderState::Capturing];
    [
        (&WAITING, now + 1),
        (&[OrderState::Processing], now - secs(SHOPPER_AWAY)),
        (&[OrderState::Authorized], now - secs(AUTHORIZATION_LIFETIME)),
        (&[OrderState::Refunded], now + 1),
    ]
}

impl Core {
    /// Looks at every order waiting on Amazon and moves those Amazon has decided.
    pub async fn reconcile(&self) -> Result<Reconciled, CoreError> {
        let platform = self.platform();
        let [waiting, away, lapsed, refunded] = looked_at(now());
        let mut orders = platform.orders_in(waiting.0, waiting.1, BATCH).await?;
        orders.extend(platform.orders_in(away.0, away.1, BATCH).await?);
        orders.extend(platform.orders_in(lapsed.0, lapsed.1, BATCH).await?);
        for order in platform.orders_in(refunded.0, refunded.1, BATCH).await? {
            if platform.refunds(order.id).await?.iter().any(|r| r.state == RefundState::Initiated) {
                orders.push(order);
            }
        }
        let mut report = Reconciled { examined: orders.len(), ..Reconciled::default() };
        for order in orders {
            match self.sync_order(&order, Actor::Reconciler).await {
                Ok(true) => report.settled += 1,
                Ok(false) => {}
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(%error, order = %order.number, "could not reconcile the order; trying again later");
                }
            }
        }
        if report.settled > 0 || report.failed > 0 {
            tracing::info!(?report, "reconciled orders");
        }
        Ok(report)
    }

    /// A checkout (or a subscription cycle) whose outcome the shop never recorded.
    pub(super) async fn unsettled_transition(
        &self,
        order: &Order,
        actor: Actor,
    ) -> Result<Option<Transition>, CoreError> {
        let next = next_month(order.cycle.map_or_else(today_in_japan, |cycle| cycle.day));
        let Some(session_id) = order.checkout_session_id.as_deref() else {
            // A subscription cycle: its charge, if Amazon made one, names the order.
            return self.charge_transition(order, actor).await;
        };
        let session = match self.amazon().get_checkout_session(session_id).await {
            Ok(session) => session,
            // Amazon keeps sessions 30 days; one it no longer knows never became an order. (The
            // reason code decides, not the status alone.)
            Err(AmazonError::Rejected { reason_code, .. }) if reason_code == "ResourceNotFound" => {
                let failed = Outcome::Failed(Notice::CheckoutExpired.code().into());
                return Ok(Some(settle(order, failed, AmazonIds::default(), next, actor)?));
            }
            Err(error) => return Err(error.into()),
        };
        match session.status_details.state {
            CheckoutSessionState::Completed => {
                let (outcome, ids) = self.outcome_of_completed(&session, order.total).await;
                if outcome == Outcome::Unknown && order.state == OrderState::Unknown {
                    return Ok(None);
                }
                Ok(Some(settle(order, outcome, ids, next, actor)?))
            }
            CheckoutSessionState::Canceled => {
                let notice = match session.status_details.reason_code.as_deref().unwrap_or_default() {
                    "Expired" => Notice::CheckoutExpired,
                    "BuyerCanceled" => Notice::CheckoutCanceled,
                    _ => Notice::PaymentDeclined,
                };
                Ok(Some(settle(order, Outcome::Failed(notice.code().into()), AmazonIds::default(), next, actor)?))
            }
            // Still open: the shopper may still come back and complete it.
            _ if order.state == OrderState::Completing && abandoned(order) => {
                Ok(Some(Transition::new(order, OrderState::Processing, actor, "abandoned completion")?))
            }
            _ => Ok(None),
        }
    }
}
