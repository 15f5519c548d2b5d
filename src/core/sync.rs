//! Moves an order to what Amazon says of it: the one reading of Amazon's charges and refunds that
//! both Amazon's notifications (IPN) and the reconciler act on. Nothing here trusts a message:
//! every move follows an object read from Amazon's API.

use time::PrimitiveDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::checkout::charge_outcome;
use super::operations::AUTHORIZATION_DAYS;
use super::orders::{
    Actor, AmazonIds, Authorization, OrderState, Outcome, Transition, refund_made, refund_settled, settle,
};
use super::platform::{Order, Refund, RefundState};
use super::rules::{next_month, today_in_japan};
use super::{Core, CoreError, now};
use crate::amazon::types::{Charge, ChargeState, Money, Refund as AmazonRefund};

/// What Amazon authorized on `charge`, and when its 30 days began. Amazon's charge reference: an
/// authorization "expires after 30 days in the Authorized state", and each charge carries its
/// `expirationTimestamp`. That deadline is Amazon's own and is the one kept (as its start, 30 days
/// before): a pending (決済保留) charge authorized days after it was made lapses that much later
/// than its `creationTimestamp` says, and a deadline counted from the creation would come first,
/// making the shop re-authorize a charge that is still good. Without an expiration the creation
/// is the start (the earliest the window can start), without either now; without an amount,
/// `fallback` yen.
pub(super) fn authorization_of(charge: &Charge, fallback: u64) -> Authorization {
    let window = AUTHORIZATION_DAYS * 24 * 60 * 60;
    let from_expiration = charge.expiration_timestamp.as_deref().and_then(amazon_time).map(|end| end - window);
    let from_creation = || charge.creation_timestamp.as_deref().and_then(amazon_time);
    Authorization {
        amount: charge.charge_amount.as_ref().and_then(Money::as_yen).unwrap_or(fallback),
        at: from_expiration.or_else(from_creation).unwrap_or_else(now),
    }
}

/// Unix seconds of an Amazon timestamp: the basic format its API answers with
/// (`20261128T101414Z`), or the extended one (`2026-11-28T10:14:14Z`).
pub(super) fn amazon_time(text: &str) -> Option<i64> {
    let basic = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(text, basic)
        .map(PrimitiveDateTime::assume_utc)
        .or_else(|_| time::OffsetDateTime::parse(text, &Rfc3339))
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// A refund as Amazon holds it, for the shop's record: Amazon's amount and state.
pub(super) fn refund_record(refund: &AmazonRefund) -> Option<Refund> {
    Some(Refund {
        refund_id: refund.refund_id.clone(),
        amount: refund.refund_amount.as_ref().and_then(Money::as_yen).filter(|amount| *amount > 0)?,
        state: RefundState::from_amazon(&refund.status_details.state).unwrap_or(RefundState::Initiated),
        created_at: now(),
    })
}

impl Core {
    /// Reads the order's charge (and refunds) from Amazon and moves the order to match; whether
    /// it moved.
    pub async fn sync_order(&self, order: &Order, actor: Actor) -> Result<bool, CoreError> {
        let moved = self.sync_order_now(order, actor).await;
        // The owner's next view of the order reads Amazon anew, whatever this read found.
        self.views.forget(order.id);
        moved
    }

    async fn sync_order_now(&self, order: &Order, actor: Actor) -> Result<bool, CoreError> {
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
        let state = &charge.status_details.state;
        let reason = charge.status_details.reason_code.clone().unwrap_or_default();
        let detail = format!("Amazon: {state} {reason} ({})", charge.charge_id).trim().to_owned();
        let ids = AmazonIds {
            charge_permission_id: charge.charge_permission_id.clone(),
            charge_id: Some(charge.charge_id.clone()),
        };
        // Completing a checkout or a cycle: the order's first outcome.
        if order.state.is_unsettled() {
            let outcome = match charge_outcome(charge, order.total) {
                Outcome::Failed(_) if order.checkout_session_id.is_none() => {
                    Outcome::Unsettled(format!("Amazon Pay の与信が通りませんでした ({reason})。"))
                }
                outcome => outcome,
            };
            if outcome == Outcome::Unknown && order.state == OrderState::Unknown {
                return Ok(None);
            }
            let next = next_month(order.cycle.map_or_else(today_in_japan, |cycle| cycle.day));
            return Ok(Some(settle(order, outcome, ids, next, actor)?));
        }
        let to = match state {
            ChargeState::AuthorizationInitiated => OrderState::Pending,
            ChargeState::Authorized => OrderState::Authorized,
            ChargeState::CaptureInitiated => OrderState::Capturing,
            ChargeState::Captured => OrderState::Captured,
            ChargeState::Canceled if reason == "ExpiredUnused" => OrderState::Expired,
            ChargeState::Canceled => OrderState::Canceled,
            ChargeState::Declined => OrderState::CardUnsettled,
            ChargeState::Other(other) => {
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
        let mut transition = Transition::new(order, to, actor, detail)?.with_amazon_ids(ids);
        match to {
            // Back to 仮売上 (a capture that did not happen, a reconciliation): the charge's own
            // window, not a new one.
            OrderState::Authorized => transition = transition.with_authorized(authorization_of(charge, order.total)),
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
            // Amazon's amount is the refund's, whatever the shop recorded when it asked.
            let amount = at_amazon.refund_amount.as_ref().and_then(Money::as_yen).unwrap_or(refund.amount);
            if state == refund.state && amount == refund.amount {
                continue;
            }
            let detail = format!(
                "返金 {} {} 円 (Amazon: {})",
                refund.refund_id,
                super::operations::yen(amount),
                at_amazon.status_details.state
            );
            // 返金 or 実売上 is decided where the settlement is written, from the refunded amount
            // after it: another settlement (a notification beside the reconciler) may be written
            // between any read here and this one.
            let transition = refund_settled(order, &refund.refund_id, state, amount, actor.clone(), detail);
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
        let Some(record) = refund_record(&refund) else { return Ok(false) };
        let detail = format!(
            "返金 {} 円 (Amazon 側で作成: {}, {})",
            super::operations::yen(record.amount),
            refund.refund_id,
            refund.status_details.state
        );
        // Amazon made it: recorded even if the order moves while this is written.
        let transition = refund_made(&order, record, actor, detail);
        Ok(self.platform().apply(&transition).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amazon::types::StatusDetails;

    #[test]
    fn amazon_times_read_in_both_formats() {
        assert_eq!(amazon_time("20261128T101414Z"), Some(1_795_860_854));
        assert_eq!(amazon_time("2026-11-28T10:14:14Z"), Some(1_795_860_854));
        assert_eq!(amazon_time("yesterday"), None);
    }

    #[test]
    fn an_authorization_ends_at_amazons_own_deadline_and_without_one_thirty_days_after_its_charge() {
        let made = Charge {
            charge_amount: Some(Money::yen(3_630)),
            creation_timestamp: Some("20261128T101414Z".into()),
            ..Charge::default()
        };
        assert_eq!(authorization_of(&made, 1), Authorization { amount: 3_630, at: 1_795_860_854 });
        // Pending for three days, then authorized: Amazon's deadline is 30 days after that.
        let authorized_later = Charge { expiration_timestamp: Some("20261231T101414Z".into()), ..made };
        let at = authorization_of(&authorized_later, 1).at;
        assert_eq!(at, 1_795_860_854 + 3 * 24 * 60 * 60, "the window starts when Amazon's deadline says");
    }

    #[test]
    fn a_refund_is_recorded_with_amazons_amount() {
        let refund = AmazonRefund {
            refund_id: "R".into(),
            refund_amount: Some(Money::yen(900)),
            status_details: StatusDetails { state: "RefundInitiated".into(), ..StatusDetails::default() },
            ..AmazonRefund::default()
        };
        let record = refund_record(&refund).unwrap();
        assert_eq!((record.amount, record.state), (900, RefundState::Initiated));
        assert_eq!(refund_record(&AmazonRefund { refund_amount: None, ..refund }), None, "no amount, no record");
    }
}
