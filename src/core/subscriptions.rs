//! The next cycle of every subscription (定期購入): a command the shop schedules (e.g. daily).
//!
//! Amazon does not charge by itself: each cycle the shop creates a Charge on the recurring
//! charge permission. The ¥100,000 monthly limit is checked here before calling Amazon, and
//! Amazon's own `PeriodicAmountExceeded` is handled as well. A cycle that cannot be authorized
//! becomes an order in 「カード未決済」, with the manual's instruction for the shop owner.

use serde_json::json;
use time::Date;

use super::AmazonError;
use super::rules::{RECURRING_MONTHLY_LIMIT, next_month};
use crate::amazon::types::Money;
use crate::server::AppState;
use crate::server::session::now;
use crate::server::store::{NewOrder, StoreError, SubscriptionRecord};

/// What the shop owner is told for a cycle Amazon Pay could not charge (the manual's words).
const OFFER_ANOTHER_METHOD: &str =
    "カード未決済のため Amazon Pay は使用できません。お客様には他の決済方法をご案内ください。";

/// What happened to one subscription's cycle.
#[derive(Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The subscription.
    pub subscription_id: i64,
    /// The cycle's date.
    pub date: String,
    /// The order made for it.
    pub order_number: String,
    /// `authorized`, `pending`, `card_unsettled`, or `processing` (Amazon unreachable: retried
    /// at the next run with the same idempotency key).
    pub status: String,
}

/// Charges every subscription due on or before `today`.
pub async fn run(app: &AppState, today: Date) -> Result<Vec<Cycle>, StoreError> {
    let mut cycles = Vec::new();
    for subscription in app.store.due_subscriptions(&today.to_string())? {
        cycles.push(run_one(app, &subscription).await?);
    }
    Ok(cycles)
}

async fn run_one(app: &AppState, subscription: &SubscriptionRecord) -> Result<Cycle, StoreError> {
    let date = subscription.next_cycle.clone();
    let new = NewOrder {
        member_id: subscription.member_id,
        checkout_session_id: None,
        subscription: Some((subscription.id, &date)),
        total: subscription.amount,
        recurring: true,
        status: "processing",
        items: vec![(format!("定期購入 {date} 発送分"), subscription.amount, 1)],
    };
    let order = match app.store.create_order(&new, now())? {
        Ok(order) => order,
        Err(existing) if existing.status == "processing" => existing,
        Err(done) => {
            advance(app, subscription, &date)?;
            return Ok(Cycle {
                subscription_id: subscription.id,
                date,
                order_number: done.order_number,
                status: done.status,
            });
        }
    };
    let month = date.get(..7).unwrap_or_default();
    let charged = app.store.charged_in_month(subscription.id, month)?;
    let (status, charge_id, note) = if charged + subscription.amount > RECURRING_MONTHLY_LIMIT {
        (
            "card_unsettled",
            None,
            format!("月額上限 (100,000円) を超えるため Amazon Pay で請求できません。{OFFER_ANOTHER_METHOD}"),
        )
    } else {
        let body = json!({
            "chargePermissionId": subscription.charge_permission_id,
            "chargeAmount": Money::yen(subscription.amount),
            "captureNow": false,
            "canHandlePendingAuthorization": false,
            "merchantMetadata": { "merchantReferenceId": order.order_number, "merchantStoreName": "クラフト雑貨店" },
        });
        // The same key for the same cycle: a rerun after a crash or a timeout charges once.
        let key = format!("subscription-{}-{date}", subscription.id);
        match app.amazon.create_charge(&body, &key).await {
            Ok(charge) => match charge.status_details.state.as_str() {
                "Authorized" => ("authorized", Some(charge.charge_id), String::new()),
                "AuthorizationInitiated" => ("pending", Some(charge.charge_id), String::new()),
                _ => {
                    let reason = charge.status_details.reason_code.unwrap_or_default();
                    (
                        "card_unsettled",
                        Some(charge.charge_id),
                        format!("与信が通りませんでした ({reason})。{OFFER_ANOTHER_METHOD}"),
                    )
                }
            },
            Err(AmazonError::Rejected { reason_code, message, .. }) => (
                "card_unsettled",
                None,
                format!("Amazon Pay が請求を受け付けませんでした ({reason_code}: {message})。{OFFER_ANOTHER_METHOD}"),
            ),
            Err(error) => {
                tracing::error!(%error, subscription = subscription.id, "createCharge failed; the cycle is retried at the next run");
                return Ok(Cycle {
                    subscription_id: subscription.id,
                    date,
                    order_number: order.order_number,
                    status: "processing".into(),
                });
            }
        }
    };
    app.store.update_order(order.id, status, Some(&subscription.charge_permission_id), charge_id.as_deref(), &note)?;
    advance(app, subscription, &date)?;
    Ok(Cycle { subscription_id: subscription.id, date, order_number: order.order_number, status: status.to_owned() })
}

fn advance(app: &AppState, subscription: &SubscriptionRecord, date: &str) -> Result<(), StoreError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let next = Date::parse(date, format).map(next_month).map(|d| d.to_string()).unwrap_or_else(|_| date.to_owned());
    app.store.set_next_cycle(subscription.id, &next)
}
