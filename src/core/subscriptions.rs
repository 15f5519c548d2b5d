//! The next cycle of every subscription (定期購入): a job the shop schedules (daily).
//!
//! Amazon does not charge by itself: each cycle the shop creates a Charge on the recurring charge
//! permission. The ¥100,000 monthly limit is checked before calling Amazon, and Amazon's own
//! `PeriodicAmountExceeded` is handled as well. A cycle Amazon declines (its error answers:
//! `HardDeclined`, `SoftDeclined` or `ProcessingFailure` after the one retry Amazon allows,
//! `PaymentMethodNotAllowed`, …) becomes an order in 「カード未決済」 with the manual's instruction
//! for the shop owner. One idempotency key per cycle (its charge permission and date): a second
//! run, a run after a crash, or a run on a database restored from a backup charges the cycle once.
//! A cycle whose key Amazon holds for another request (the cycle charged before a restore, under
//! an order number the restored database gave to another order) is left 確認中 for the owner,
//! and the subscription goes on to its next cycle.

use serde_json::json;
use time::Date;

use super::charges::Charged;
use super::idempotency::Keyed;
use super::orders::{Actor, AmazonIds, Effect, OrderState, Outcome, Transition, settle};
use super::platform::{NewOrder, Opened, Order, OrderLine, Subscription, SubscriptionCycle};
use super::rules::{RECURRING_MONTHLY_LIMIT, next_month};
use super::sync::authorization_of;
use super::{AmazonError, Core, CoreError};
use crate::amazon::types::{ChargePermissionState, ChargeState, Money};

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
        let closed = self.close_subscription_now(charge_permission_id).await;
        // The owner's next view of its orders reads the permission anew.
        self.views.forget_permission(charge_permission_id);
        closed
    }

    async fn close_subscription_now(
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
                Ok(permission) if permission.status_details.state == ChargePermissionState::Closed => {}
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
            cycle: Some(SubscriptionCycle { subscription: subscription.id, day: date }),
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
            CycleCharge::Settled(outcome, charge_id) => (outcome, charge_id),
            CycleCharge::NotNow => {
                let release = Transition::new(&order, OrderState::Processing, Actor::Job, "Amazon Pay unreachable")?;
                let order = self.platform().apply(&release).await?.unwrap_or(order);
                return Ok(cycle(&order));
            }
            // Left 確認中 for the shop owner (the charge Amazon holds for it is settled in Seller
            // Central), and the subscription moves on to its next cycle: no run charges this cycle
            // again, and next month is charged as every month is. A subscription left standing
            // here would re-open this cycle every day and never charge another.
            CycleCharge::HeldAtAmazon(note) => {
                let held = Transition::new(&order, OrderState::Unknown, Actor::Job, note.clone())?
                    .with_note(note)
                    .with_amazon_ids(AmazonIds {
                        charge_permission_id: Some(subscription.charge_permission_id.clone()),
                        charge_id: None,
                    })
                    .with(Effect::AdvanceSubscription { id: subscription.id, from: date, to: next_month(date) });
                let order = self.platform().apply(&held).await?.unwrap_or(order);
                return Ok(cycle(&order));
            }
        };
        let ids = AmazonIds { charge_permission_id: Some(subscription.charge_permission_id.clone()), charge_id };
        let transition = settle(&order, outcome, ids, next_month(date), Actor::Job)?;
        let order = self.platform().apply(&transition).await?.unwrap_or(order);
        Ok(cycle(&order))
    }

    /// Asks Amazon for the cycle's charge.
    async fn charge_cycle(&self, subscription: &Subscription, order: &Order) -> Result<CycleCharge, CoreError> {
        let date = subscription.next_cycle;
        let charged = self.platform().charged_in_month(subscription.id, date.year(), u8::from(date.month())).await?;
        if charged + subscription.amount > RECURRING_MONTHLY_LIMIT {
            let note = format!("月額上限 (100,000円) を超えるため Amazon Pay で請求できません。{OFFER_ANOTHER_METHOD}");
            return Ok(CycleCharge::Settled(Outcome::Unsettled(note), None));
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
        // The same key for the same cycle (its charge permission and date): a rerun after a crash
        // or a timeout, or after the database was restored, is answered with the first charge.
        let permission = subscription.charge_permission_id.as_str();
        let charged = self
            .create_charge_once_more(&body, |attempt| Keyed::Cycle { charge_permission_id: permission, date, attempt })
            .await?;
        Ok(match charged {
            Charged::Made(charge) => {
                let outcome = match charge.status_details.state {
                    ChargeState::Authorized => Outcome::Authorized(authorization_of(&charge, subscription.amount)),
                    ChargeState::AuthorizationInitiated => Outcome::Pending,
                    _ => {
                        let reason = charge.status_details.reason_code.unwrap_or_default();
                        Outcome::Unsettled(format!("与信が通りませんでした ({reason})。{OFFER_ANOTHER_METHOD}"))
                    }
                };
                CycleCharge::Settled(outcome, Some(charge.charge_id))
            }
            // The cycle's key was used with another request: Amazon already holds this cycle's
            // charge, made from an order this database no longer has (it was restored from a
            // backup). Charging again would charge the buyer twice.
            Charged::HeldAtAmazon(message) => {
                let note = format!(
                    "Amazon Pay にはこの回 ({date}) の請求が既にあります (DuplicateIdempotencyKey: {message})。二重請求を防ぐため請求していません。Seller Central で確認してください。次回からは通常どおり請求します。"
                );
                CycleCharge::HeldAtAmazon(note)
            }
            Charged::Refused { reason_code, message } => {
                let why = decline_ja(&reason_code);
                let note = format!(
                    "Amazon Pay が請求を受け付けませんでした ({why}{reason_code}: {message})。{OFFER_ANOTHER_METHOD}"
                );
                CycleCharge::Settled(Outcome::Unsettled(note), None)
            }
            Charged::Unreachable(error) => {
                tracing::error!(%error, subscription = subscription.id.0, "createCharge failed; the cycle is retried at the next run");
                CycleCharge::NotNow
            }
        })
    }
}

/// How asking Amazon for a cycle's charge ended.
enum CycleCharge {
    /// Amazon decided (or the monthly limit did): the outcome, and Amazon's charge if it made one.
    Settled(Outcome, Option<String>),
    /// Amazon could not be asked: the next run asks again, with the same key.
    NotNow,
    /// Amazon holds a charge for this cycle that this database does not know: the note says so.
    HeldAtAmazon(String),
}

/// What a decline's reason code means, for the shop owner (empty when Amazon's message says it).
fn decline_ja(reason_code: &str) -> &'static str {
    match reason_code {
        "HardDeclined" => "カードが拒否されました。",
        "SoftDeclined" => "カードが一時的に拒否され、再試行も通りませんでした。",
        "PaymentMethodNotAllowed" => "お客様の支払方法はこの請求に使えません。",
        "TransactionTimedOut" => "与信が時間内に終わりませんでした。",
        "MFANotCompleted" => "お客様の多要素認証が完了していません。",
        "ProcessingFailure" => "Amazon Pay 側の処理に失敗し、再試行も通りませんでした。",
        "InvalidChargePermissionStatus" => "与信枠 (ChargePermission) が請求できない状態です。",
        _ => "",
    }
}
