//! Settles orders nobody is settling: asks Amazon what became of them and moves them to match.
//!
//! A process stopped between Amazon's completion and the order's write (a deploy, `kill -9`, a
//! power cut), an answer that could not be read, or a shopper who never came back leave orders in
//! `completing`, `unknown` or `processing`; an authorization still pending at Amazon leaves one in
//! `pending`. The server runs this at start and every few minutes (and `amazonpay2-server
//! reconcile` runs it once): a completed checkout becomes the order with its IDs, a canceled one
//! fails with Amazon's reason, an open one is left for the shopper (a `completing` one goes back to
//! `processing`, so that their reload completes it), and a pending authorization follows its
//! charge.

use std::time::Duration;

use super::checkout::charge_outcome;
use super::orders::{Actor, OrderState, Outcome, Transition, settle};
use super::platform::Order;
use super::rules::{next_month, today_in_japan};
use super::{AmazonError, Core, CoreError, now};
use crate::contract::Notice;

/// A request completing an order takes at most this long (Amazon's client retries included);
/// an order `completing` for longer has been abandoned by the process that claimed it.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(120);

/// A shopper on Amazon's pages is left alone this long before their checkout is looked at.
const SHOPPER_AWAY: Duration = Duration::from_secs(60 * 60);

/// Orders looked at per run (the next run takes the rest).
const BATCH: usize = 200;

/// Whether the claim on a `completing` order is older than any request holding it can be.
fn abandoned(order: &Order) -> bool {
    now() - order.updated_at > i64::try_from(ABANDONED_AFTER.as_secs()).unwrap_or(i64::MAX)
}

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

impl Core {
    /// Looks at every order left unsettled and moves those Amazon has decided.
    pub async fn reconcile(&self) -> Result<Reconciled, CoreError> {
        let now = now();
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let platform = self.platform();
        // Completing orders of any age: what Amazon decided settles them whoever holds the claim
        // (the holder's own write then finds the order moved, and reads it); an open one goes
        // back to the shopper only once its claim is plainly abandoned.
        let unsettled = [OrderState::Completing, OrderState::Unknown, OrderState::Pending];
        let mut orders = platform.orders_in(&unsettled, now + 1, BATCH).await?;
        orders.extend(platform.orders_in(&[OrderState::Processing], now - secs(SHOPPER_AWAY), BATCH).await?);
        let mut report = Reconciled { examined: orders.len(), ..Reconciled::default() };
        for order in orders {
            match self.reconcile_order(&order).await {
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

    /// Settles one order from Amazon's record; whether it moved.
    async fn reconcile_order(&self, order: &Order) -> Result<bool, CoreError> {
        let transition = match order.state {
            OrderState::Pending => self.pending_transition(order).await?,
            _ => self.unsettled_transition(order).await?,
        };
        let Some(transition) = transition else { return Ok(false) };
        Ok(self.platform().apply(&transition).await?.is_some())
    }

    /// A checkout (or a subscription cycle) whose outcome the shop never recorded.
    async fn unsettled_transition(&self, order: &Order) -> Result<Option<Transition>, CoreError> {
        let next = next_month(order.cycle.map_or_else(today_in_japan, |(_, day)| day));
        let Some(session_id) = order.checkout_session_id.as_deref() else {
            // A subscription cycle: its charge, if Amazon made one, names the order.
            return self.charge_transition(order, next).await;
        };
        let session = match self.amazon().get_checkout_session(session_id).await {
            Ok(session) => session,
            // Amazon keeps sessions 30 days; one it no longer knows never became an order.
            Err(AmazonError::Rejected { status: 404, .. }) => {
                let failed = Outcome::Failed(Notice::CheckoutExpired.code().into());
                return Ok(Some(settle(order, failed, (None, None), next, Actor::Reconciler)?));
            }
            Err(error) => return Err(error.into()),
        };
        match session.status_details.state.as_str() {
            "Completed" => {
                let (outcome, ids) = self.outcome_of_completed(&session).await;
                if outcome == Outcome::Unknown && order.state == OrderState::Unknown {
                    return Ok(None);
                }
                Ok(Some(settle(order, outcome, ids, next, Actor::Reconciler)?))
            }
            "Canceled" => {
                let reason = session.status_details.reason_code.as_deref().unwrap_or_default();
                let notice = match reason {
                    "Expired" => Notice::CheckoutExpired,
                    "BuyerCanceled" => Notice::CheckoutCanceled,
                    _ => Notice::PaymentDeclined,
                };
                Ok(Some(settle(order, Outcome::Failed(notice.code().into()), (None, None), next, Actor::Reconciler)?))
            }
            // Still open: the shopper may still come back and complete it.
            _ if order.state == OrderState::Completing && abandoned(order) => {
                Ok(Some(Transition::new(order, OrderState::Processing, Actor::Reconciler, "abandoned completion")?))
            }
            _ => Ok(None),
        }
    }

    /// An order waiting for a pending authorization (決済保留), or a cycle whose charge is known.
    async fn pending_transition(&self, order: &Order) -> Result<Option<Transition>, CoreError> {
        let next = next_month(order.cycle.map_or_else(today_in_japan, |(_, day)| day));
        self.charge_transition(order, next).await
    }

    async fn charge_transition(&self, order: &Order, next: time::Date) -> Result<Option<Transition>, CoreError> {
        let Some(charge_id) = order.charge_id.as_deref() else {
            // A cycle that never got a charge: the next subscriptions run charges it (same key).
            if order.state == OrderState::Completing && abandoned(order) {
                return Ok(Some(Transition::new(order, OrderState::Processing, Actor::Reconciler, "abandoned cycle")?));
            }
            return Ok(None);
        };
        let charge = self.amazon().get_charge(charge_id).await?;
        let outcome = match charge_outcome(&charge) {
            Outcome::Failed(_) => {
                let reason = charge.status_details.reason_code.unwrap_or_default();
                Outcome::Unsettled(format!("Amazon Pay の与信が通りませんでした ({reason})。"))
            }
            outcome => outcome,
        };
        let unchanged = matches!(
            (&outcome, order.state),
            (Outcome::Pending, OrderState::Pending) | (Outcome::Unknown, OrderState::Unknown)
        );
        if unchanged {
            return Ok(None);
        }
        let ids = (charge.charge_permission_id, Some(charge.charge_id));
        Ok(Some(settle(order, outcome, ids, next, Actor::Reconciler)?))
    }
}
