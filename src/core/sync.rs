//! Moves an order to what Amazon says of it: the one reading of Amazon's charges and refunds that
//! both Amazon's notifications (IPN) and the reconciler act on. Nothing here trusts a message:
//! every move follows an object read from Amazon's API.

use super::checkout::charge_outcome;
use super::orders::{Actor, Effect, OrderState, Outcome, Transition, settle};
use super::platform::{Order, Refund, RefundState};
use super::rules::{next_month, today_in_japan};
use super::{Core, CoreError, now};
use crate::amazon::types::{Charge, Money};

impl Core {
    /// Reads the order's charge (and refunds) from Amazon and moves the order to match; whether
    /// it moved.
    pub async fn sync_order(&self, order: &Order, actor: Actor) -> Result<bool, CoreError> {
        let transition = match order.state {
            OrderState::Processing | OrderState::Completing | OrderState::Unknown => {
                self.unsettled_transition(order, actor).await?
            }
            OrderState::Pending | OrderState::Authorized | OrderState::Capturing | OrderState::Expired => {
                self.charge_transition(order, actor).await?
            }
            OrderState::Captured | OrderState::Refunded => return self.sync_refunds(order, actor).await,
            OrderState::Canceled | OrderState::CardUnsettled | OrderState::Failed => None,
        };
        let Some(transition) = transition else { return Ok(false) };
        Ok(self.platform().apply(&transition).await?.is_some())
    }

    /// The move Amazon's charge asks of an order that has one.
    pub(super) async fn charge_transition(&self, order: &Order, actor: Actor) -> Result<Option<Transition>, CoreError> {
        let Some(charge_id) = order.charge_id.as_deref() else {
            // A subscription cycle claimed and left before Amazon was asked: the next run
            // charges it, with the same idempotency key.
            if order.state == OrderState::Completing && super::reconciler::abandoned(order) {
                return Ok(Some(Transition::new(order, OrderState::Processing, actor, "abandoned cycle")?));
            }
            return Ok(None);
        };
        let charge = self.amazon().get_charge(charge_id).await?;
        self.follow_charge(order, &charge, actor)
    }

    /// The move that brings `order` to what `charge` says; `None` when it already agrees.
    fn follow_charge(&self, order: &Order, charge: &Charge, actor: Actor) -> Result<Option<Transition>, CoreError> {
        let state = charge.status_details.state.as_str();
        let reason = charge.status_details.reason_code.clone().unwrap_or_default();
        let detail = format!("Amazon: {state} {reason} ({})", charge.charge_id).trim().to_owned();
        let ids = (charge.charge_permission_id.clone(), Some(charge.charge_id.clone()));
        // Completing a checkout or a cycle: the order's first outcome.
        if order.state.is_unsettled() {
            let outcome = match charge_outcome(charge) {
                Outcome::Failed(_) if order.checkout_session_id.is_none() => {
                    Outcome::Unsettled(format!("Amazon Pay の与信が通りませんでした ({reason})。"))
                }
                outcome => outcome,
            };
            if outcome == Outcome::Unknown && order.state == OrderState::Unknown {
                return Ok(None);
            }
            let next = next_month(order.cycle.map_or_else(today_in_japan, |(_, day)| day));
            return Ok(Some(settle(order, outcome, ids, next, actor)?));
        }
        let to = match state {
            "AuthorizationInitiated" => OrderState::Pending,
            "Authorized" => OrderState::Authorized,
            "CaptureInitiated" => OrderState::Capturing,
            "Captured" => OrderState::Captured,
            "Canceled" if reason == "ExpiredUnused" => OrderState::Expired,
            "Canceled" => OrderState::Canceled,
            "Declined" => OrderState::CardUnsettled,
            other => {
                tracing::warn!(state = other, order = %order.number, "a charge state this shop does not know");
                return Ok(None);
            }
        };
        if to == order.state {
            return Ok(None);
        }
        if !order.state.may_move_to(to) {
            tracing::warn!(from = order.state.name(), to = to.name(), order = %order.number, "Amazon's charge and the order disagree; left for the shop owner");
            return Ok(None);
        }
        let mut transition = Transition::new(order, to, actor, detail)?.with_amazon_ids(ids.0, ids.1);
        match to {
            OrderState::Authorized => {
                let amount = charge.charge_amount.as_ref().and_then(Money::as_yen).unwrap_or(order.total);
                transition = transition.with_authorized(amount);
            }
            OrderState::Captured => {
                let amount = charge.capture_amount.as_ref().and_then(Money::as_yen).unwrap_or(order.total);
                transition = transition.with_captured(amount);
            }
            OrderState::CardUnsettled => {
                transition = transition.with_note(format!("Amazon Pay の与信が通りませんでした ({reason})。"));
            }
            _ => {}
        }
        Ok(Some(transition))
    }

    /// Follows the refunds still in progress, and a capture made elsewhere.
    async fn sync_refunds(&self, order: &Order, actor: Actor) -> Result<bool, CoreError> {
        let mut moved = false;
        for refund in self.platform().refunds(order.id).await? {
            if refund.state != RefundState::Initiated {
                continue;
            }
            let at_amazon = self.amazon().get_refund(&refund.refund_id).await?;
            let Some(state) = RefundState::from_amazon(&at_amazon.status_details.state) else { continue };
            if state == refund.state {
                continue;
            }
            let Some(current) = self.platform().order(order.id).await? else { break };
            let left = current.refunded.saturating_sub(if state == RefundState::Declined { refund.amount } else { 0 });
            let to = if left == 0 { OrderState::Captured } else { OrderState::Refunded };
            let detail = format!("返金 {} (Amazon: {})", refund.refund_id, at_amazon.status_details.state);
            let transition = Transition::new(&current, to, actor.clone(), detail)?
                .with(Effect::RefundSettled { refund_id: refund.refund_id.clone(), state });
            moved |= self.platform().apply(&transition).await?.is_some();
        }
        Ok(moved)
    }

    /// A refund Amazon reports (by IPN): known ones are followed, one made elsewhere (Seller
    /// Central) is recorded on its order.
    pub async fn sync_refund(&self, refund_id: &str, actor: Actor) -> Result<bool, CoreError> {
        if let Some(order) = self.platform().order_by_refund(refund_id).await? {
            return self.sync_order(&order, actor).await;
        }
        let refund = self.amazon().get_refund(refund_id).await?;
        let Some(charge_id) = refund.charge_id.as_deref() else { return Ok(false) };
        let Some(order) = self.platform().order_by_charge(charge_id).await? else { return Ok(false) };
        if !matches!(order.state, OrderState::Captured | OrderState::Refunded) {
            return Ok(false);
        }
        let state = RefundState::from_amazon(&refund.status_details.state).unwrap_or(RefundState::Initiated);
        let amount = refund.refund_amount.as_ref().and_then(Money::as_yen).unwrap_or_default();
        if amount == 0 {
            return Ok(false);
        }
        let record = Refund { refund_id: refund.refund_id.clone(), amount, state, created_at: now() };
        let transition = Transition::new(
            &order,
            OrderState::Refunded,
            actor,
            format!("返金 (Amazon 側で作成: {}, {})", refund.refund_id, refund.status_details.state),
        )?
        .with(Effect::Refund(record));
        Ok(self.platform().apply(&transition).await?.is_some())
    }
}
