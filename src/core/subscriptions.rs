//! The next cycle of every subscription (定期購入): a job the shop schedules (daily).
//!
//! Amazon does not charge by itself: each cycle the shop creates a Charge on the recurring charge
//! permission. The ¥100,000 monthly limit is checked before calling Amazon, and Amazon's own
//! `PeriodicAmountExceeded` is handled as well. A cycle Amazon cannot authorize becomes an order in
//! 「カード未決済」 with the manual's instruction for the shop owner. One idempotency key per cycle:
//! a second run, or a run after a crash, charges the cycle once.

use serde_json::json;
use time::Date;

use super::orders::{Actor, OrderState, Outcome, Transition, settle};
use super::platform::{NewOrder, Opened, Order, OrderLine, Subscription};
use super::rules::{RECURRING_MONTHLY_LIMIT, next_month};
use super::sync::authorization_of;
use super::{AmazonError, Core, CoreError};
use crate::amazon::types::Money;

/// What the shop owner is told for a cycle Amazon Pay could not charge (the manual's words).
const OFFER_ANOTHER_METHOD: &str =
    "カード未決済のため Amazon Pay は使用できません。お客様には他の決済方法をご案内ください。";

/// What happened to one subscription's cycle.
#[derive(Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The subscription.
    pub subscription_id: i64,
    /// The cycle's date.
    pub date: Date,
    /// The order made for it.
    pub order_number: String,
    /// Where its payment stands; `processing` when Amazon could not be reached (the next run
    /// tries again with the same idempotency key).
    pub state: OrderState,
}

impl Core {
    /// Charges every subscription cycle due on or before `today` (Japan).
    pub async fn run_subscriptions(&self, today: Date) -> Result<Vec<Cycle>, CoreError> {
        let mut cycles = Vec::new();
        for subscription in self.platform().due_subscriptions(today).await? {
            cycles.push(self.run_cycle(&subscription).await?);
        }
        Ok(cycles)
    }

    /// 定期購入の解約: closes the subscription's recurring charge permission at Amazon, so that no
    /// further cycle can be charged on it (authorizations already made stay capturable). A
    /// permission already closed (by the buyer on Amazon, say) counts as closed. Once closed, the
    /// platform ends the subscription (no more cycles) — the same step a ChargePermission
    /// notification takes when the buyer closes it on Amazon.
    pub async fn close_subscription(
        &self,
        charge_permission_id: &str,
    ) -> Result<Result<(), super::operations::Refusal>, CoreError> {
        use super::operations::Refusal;
        let refused = match self.amazon().close_charge_permission(charge_permission_id, "定期購入の解約", false).await
        {
            Ok(_) => None,
            Err(AmazonError::Rejected { reason_code, message, .. }) => {
                Some(Refusal::AmazonRefused { code: reason_code, message })
            }
            Err(_) => return Ok(Err(Refusal::AmazonUnavailable)),
        };
        if let Some(refused) = refused {
            match self.amazon().get_charge_permission(charge_permission_id).await {
                Ok(permission) if permission.status_details.state == "Closed" => {}
                _ => return Ok(Err(refused)),
            }
        }
        self.platform().end_subscription(charge_permission_id).await?;
        Ok(Ok(()))
    }

    async fn run_cycle(&self, subscription: &Subscription) -> Result<Cycle, CoreError> {
        let date = subscription.next_cycle;
        // A cycle delivers and charges what recurs: the subscription's 定期購入 lines and one
        // delivery's shipping (one-time lines of the first order are not bought again).
        let (lines, shipping_fee) = match &subscription.plan {
            Some(plan) => (plan.lines.clone(), plan.shipping_fee),
            None => {
                let name = format!("定期購入 {date} 発送分");
                (vec![OrderLine { name, unit_price: subscription.amount, quantity: 1 }], 0)
            }
        };
        let new = NewOrder {
            member: subscription.member,
            checkout_session_id: None,
            cart: None,
            buyer_name: String::new(),
            buyer_email: String::new(),
            cycle: Some((subscription.id, date)),
            lines,
            shipping_fee,
            total: subscription.amount,
            recurring: true,
            plan: None,
        };
        let cycle = |order: &Order| Cycle {
            subscription_id: subscription.id.0,
            date,
            order_number: order.number.clone(),
            state: order.state,
        };
        let order = match self.platform().open_order(&new).await? {
            Opened::New(order) => order,
            Opened::Existing(order) if order.state == OrderState::Processing => order,
            // Another run has it, or it is done (its subscription moved on with it).
            Opened::Existing(order) => return Ok(cycle(&order)),
        };
        let claim = Transition::new(&order, OrderState::Completing, Actor::Job, "charging the cycle")?;
        let Some(order) = self.platform().apply(&claim).await? else { return Ok(cycle(&order)) };
        let (outcome, charge_id) = match self.charge_cycle(subscription, &order).await? {
            Some(result) => result,
            None => {
                let release = Transition::new(&order, OrderState::Processing, Actor::Job, "Amazon Pay unreachable")?;
                let order = self.platform().apply(&release).await?.unwrap_or(order);
                return Ok(cycle(&order));
            }
        };
        let ids = (Some(subscription.charge_permission_id.clone()), charge_id);
        let transition = settle(&order, outcome, ids, next_month(date), Actor::Job)?;
        let order = self.platform().apply(&transition).await?.unwrap_or(order);
        Ok(cycle(&order))
    }

    /// Asks Amazon for the cycle's charge; `None` when Amazon could not be reached.
    async fn charge_cycle(
        &self,
        subscription: &Subscription,
        order: &Order,
    ) -> Result<Option<(Outcome, Option<String>)>, CoreError> {
        let date = subscription.next_cycle;
        let charged = self.platform().charged_in_month(subscription.id, date.year(), u8::from(date.month())).await?;
        if charged + subscription.amount > RECURRING_MONTHLY_LIMIT {
            let note = format!("月額上限 (100,000円) を超えるため Amazon Pay で請求できません。{OFFER_ANOTHER_METHOD}");
            return Ok(Some((Outcome::Unsettled(note), None)));
        }
        let mut metadata = json!({ "merchantReferenceId": order.number });
        if let Some(name) = &self.settings().store_name {
            metadata["merchantStoreName"] = json!(name);
        }
        let body = json!({
            "chargePermissionId": subscription.charge_permission_id,
            "chargeAmount": Money::yen(subscription.amount),
            "captureNow": false,
            "canHandlePendingAuthorization": false,
            "merchantMetadata": metadata,
        });
        // The same key for the same cycle: a rerun after a crash or a timeout charges once.
        let key = format!("subscription-{}-{date}", subscription.id.0);
        Ok(Some(match self.amazon().create_charge(&body, &key).await {
            Ok(charge) => {
                let outcome = match charge.status_details.state.as_str() {
                    "Authorized" => Outcome::Authorized(authorization_of(&charge, subscription.amount)),
                    "AuthorizationInitiated" => Outcome::Pending,
                    _ => {
                        let reason = charge.status_details.reason_code.unwrap_or_default();
                        Outcome::Unsettled(format!("与信が通りませんでした ({reason})。{OFFER_ANOTHER_METHOD}"))
                    }
                };
                (outcome, Some(charge.charge_id))
            }
            Err(AmazonError::Rejected { reason_code, message, .. }) => {
                let note = format!(
                    "Amazon Pay が請求を受け付けませんでした ({reason_code}: {message})。{OFFER_ANOTHER_METHOD}"
                );
                (Outcome::Unsettled(note), None)
            }
            Err(error) => {
                tracing::error!(%error, subscription = subscription.id.0, "createCharge failed; the cycle is retried at the next run");
                return Ok(None);
            }
        }))
    }
}
