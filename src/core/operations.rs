//! After the order, the shop owner's operations: 実売上 (capture; a lower total captures less:
//! 減額), キャンセル (before capture) and 返金 (after capture, in full or in part), each made once
//! at Amazon however often it is submitted, and 「エラーを無視して変更する」 when Amazon's record was
//! changed elsewhere (Seller Central).
//!
//! An operation first takes the order at the version the owner saw (a second owner, or a double
//! submit, finds it taken or changed and is told so), then asks Amazon with the operation's
//! idempotency key ([`super::idempotency`]: a capture's names its charge and amount, a refund's
//! its charge and the order's count of refund requests Amazon answered, a re-authorization's the
//! charge it replaces), and records the outcome as one transition that also lets go of the order.
//!
//! Amazon Pay's rules in Japan, as they bear on these: a capture takes at most what was
//! authorized, down to ¥1, once per charge; an authorization lapses 30 days after it entered
//! Amazon's `Authorized` state, at the charge's own `expirationTimestamp` (after that, a capture
//! re-authorizes on the charge permission with createCharge, which Amazon allows while the
//! permission is open — 180 days for a one-time purchase); a capture more than 7 days after the
//! authorization may complete later (`CaptureInitiated`); refunds are asynchronous
//! (`RefundInitiated`, then `Refunded` or `Declined`) and this shop refunds at most what was
//! captured; any charge is at most ¥10,000,000.

use serde_json::json;

use super::charges::{Charged, DUPLICATE_KEY};
use super::idempotency::Keyed;
use super::orders::{Actor, AmazonIds, Effect, OrderState, Transition, refund_made};
use super::platform::{Order, OrderId, Refund, RefundState};
use super::sync::{authorization_of, refund_record};
use super::{AmazonError, Core, CoreError, now};
use crate::amazon::types::{Charge, ChargeState, Money};

/// The largest charge Amazon Pay takes in Japan.
pub const MAX_CHARGE_YEN: u64 = 10_000_000;

/// How long an owner's hold on an order lasts at most (a crashed request frees it after this).
const HOLD: i64 = 120;

/// An authorization lapses this long after it entered Amazon's `Authorized` state.
pub const AUTHORIZATION_DAYS: i64 = 30;

/// What the shop owner asks of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// 実売上: capture `amount` (the order's total when `None`).
    Capture(Option<u64>),
    /// キャンセル: cancel the authorization and close the charge permission.
    Cancel,
    /// 返金: give back `amount` of what was captured.
    Refund(u64),
}

impl Operation {
    /// Which operation it is, without its amount.
    pub const fn kind(self) -> OperationKind {
        match self {
            Self::Capture(_) => OperationKind::Capture,
            Self::Cancel => OperationKind::Cancel,
            Self::Refund(_) => OperationKind::Refund,
        }
    }
}

/// The operations the owner chooses among (before typing an amount).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    /// 実売上.
    Capture,
    /// キャンセル.
    Cancel,
    /// 返金.
    Refund,
}

impl OperationKind {
    /// Its name (`capture`, `cancel`, `refund`): the admin form's value.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Capture => "capture",
            Self::Cancel => "cancel",
            Self::Refund => "refund",
        }
    }

    /// The operation named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Capture, Self::Cancel, Self::Refund].into_iter().find(|kind| kind.name() == name)
    }

    /// The operations an order in `state` allows, the usual one first.
    pub const fn allowed(state: OrderState) -> &'static [Self] {
        match state {
            OrderState::Authorized | OrderState::Expired => &[Self::Capture, Self::Cancel],
            OrderState::Pending => &[Self::Cancel],
            OrderState::Captured | OrderState::Refunded => &[Self::Refund],
            _ => &[],
        }
    }
}

/// Why an operation was not made. Nothing changed in the shop; the owner can try again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Another owner is at this order, or it changed since the page was shown.
    Busy,
    /// Not possible in the order's state.
    WrongState(OrderState),
    /// The amount is not whole yen above 0 within Amazon's limit.
    InvalidAmount,
    /// The total is above what Amazon authorized: Amazon Pay cannot take more.
    AboveAuthorized {
        /// The order's total now.
        total: u64,
        /// What Amazon authorized.
        authorized: u64,
    },
    /// More than what can still be refunded.
    RefundTooLarge {
        /// What can still be refunded.
        left: u64,
    },
    /// The authorization lapsed and Amazon would not authorize again.
    AuthorizationLapsed(String),
    /// Amazon has refunded more of the charge than the shop has recorded (a refund made in Seller
    /// Central whose notification was lost, or one made before the database was restored):
    /// nothing is refunded until the owner has looked.
    RefundedElsewhere {
        /// What Amazon has refunded.
        at_amazon: u64,
        /// What the shop has recorded.
        recorded: u64,
    },
    /// Amazon already holds another request under this operation's idempotency key
    /// (`DuplicateIdempotencyKey`, with Amazon's message): one made before the database was
    /// restored from a backup, or a refund asked for again with another amount after the answer
    /// to the first was lost. Nothing was asked again, so that nothing is charged or refunded
    /// twice.
    HeldAtAmazon(String),
    /// Amazon refused the operation (its record may have been changed in Seller Central).
    AmazonRefused {
        /// Amazon's reason code.
        code: String,
        /// Amazon's message.
        message: String,
    },
    /// Amazon could not be reached.
    AmazonUnavailable,
    /// The shop's own side failed (its database, say): the order is as the reconciler or a
    /// reload will show it.
    ShopFailed,
}

impl Refusal {
    /// What the shop owner is told, in Japanese (the manual's words where it has them).
    pub fn message_ja(&self) -> String {
        match self {
            Self::Busy => "この受注は他の操作中か、表示した後に更新されています。画面を再読み込みしてから、もう一度操作してください。".into(),
            Self::WrongState(state) => format!("クレジット決済状況が「{}」の受注には、この操作はできません。", state.credit_status()),
            Self::InvalidAmount => format!("金額は 1 円以上 {} 円以下の整数で入力してください。", yen(MAX_CHARGE_YEN)),
            Self::AboveAuthorized { total, authorized } => format!(
                "最終請求金額 ({} 円) が購入時の金額 ({} 円) より高いため AmazonPay は利用できません。他の支払方法に変更するなどご対応ください。",
                yen(*total),
                yen(*authorized)
            ),
            Self::RefundTooLarge { left } => format!("返金できるのは実売上の金額のうち、あと {} 円までです。", yen(*left)),
            Self::AuthorizationLapsed(why) => format!(
                "オーソリの有効期限 (30日) が切れており、Amazon Pay で再オーソリもできませんでした ({why})。お客様に他の支払方法をご案内ください。"
            ),
            Self::RefundedElsewhere { at_amazon, recorded } => format!(
                "Amazon Pay ではこの受注に {} 円の返金がありますが、ショップの記録は {} 円です (Seller Central での返金か、データベースの復元)。二重の返金を防ぐため返金していません。Seller Central で確認してください。",
                yen(*at_amazon),
                yen(*recorded)
            ),
            Self::HeldAtAmazon(message) => format!(
                "Amazon Pay にはこの操作の依頼が既にあります (DuplicateIdempotencyKey: {message})。前回の依頼の結果が届かなかったか、データベースを復元したためです。二重の請求・返金を防ぐため何もしていません。Seller Central で確認してください (返金の結果が届かなかったときは、前回と同じ金額で返金すると前回の返金が記録されます)。"
            ),
            Self::AmazonRefused { code, message } => format!(
                "Amazon Pay が操作を受け付けませんでした ({code}: {message})。Amazon Pay 側の管理画面で変更された可能性があります。状況を合わせるには「エラーを無視して変更する」にチェックを入れて操作してください。"
            ),
            Self::AmazonUnavailable => "Amazon Pay に接続できませんでした。何も変更していません。時間をおいてもう一度お試しください。".into(),
            Self::ShopFailed => "ショップ側の処理に失敗しました (データベース)。受注の状況を確認し、時間をおいてもう一度お試しください。".into(),
        }
    }

    /// What the shop owner is told, in English.
    pub fn message_en(&self) -> String {
        match self {
            Self::Busy => "Another operation is under way on this order, or it changed since the page was shown. Reload the page and try again.".into(),
            Self::WrongState(state) => format!("This cannot be done to an order whose credit status is {}.", state.name()),
            Self::InvalidAmount => format!("Enter a whole number of yen from 1 to {}.", yen(MAX_CHARGE_YEN)),
            Self::AboveAuthorized { total, authorized } => format!(
                "The order total (¥{}) is above the amount authorized at purchase (¥{}): Amazon Pay cannot be used. Change the payment method.",
                yen(*total),
                yen(*authorized)
            ),
            Self::RefundTooLarge { left } => format!("At most ¥{} of the captured amount can still be refunded.", yen(*left)),
            Self::AuthorizationLapsed(why) => format!(
                "The authorization expired (30 days) and Amazon Pay would not authorize again ({why}). Offer the customer another payment method."
            ),
            Self::RefundedElsewhere { at_amazon, recorded } => format!(
                "Amazon Pay has refunded ¥{} of this order, the shop has recorded ¥{} (a refund in Seller Central, or a restored database). Nothing was refunded, so that nothing is refunded twice; check in Seller Central.",
                yen(*at_amazon),
                yen(*recorded)
            ),
            Self::HeldAtAmazon(message) => format!(
                "Amazon Pay already holds a request for this operation (DuplicateIdempotencyKey: {message}): the answer to an earlier one was lost, or the database was restored. Nothing was asked, so that nothing is charged or refunded twice; check in Seller Central (for a refund whose answer was lost, refunding the same amount as before records that refund)."
            ),
            Self::AmazonRefused { code, message } => format!(
                "Amazon Pay refused the operation ({code}: {message}). It may have been changed in Seller Central; tick \"ignore the error\" to set the shop's status anyway."
            ),
            Self::AmazonUnavailable => "Amazon Pay could not be reached. Nothing changed; please try again later.".into(),
            Self::ShopFailed => "The shop's side failed (its database). Check the order and try again later.".into(),
        }
    }

    /// Whether 「エラーを無視して変更する」 can apply (Amazon refused; the owner may override).
    pub fn can_force(&self) -> bool {
        matches!(
            self,
            Self::AmazonRefused { .. }
                | Self::AuthorizationLapsed(_)
                | Self::RefundedElsewhere { .. }
                | Self::HeldAtAmazon(_)
        )
    }
}

/// `12,345`.
pub fn yen(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// When an order's authorization lapses (Unix seconds), if it has one: Amazon's own deadline for
/// its charge (`expirationTimestamp`) as last read.
pub fn authorization_deadline(order: &Order) -> Option<i64> {
    order.authorized.map(|a| a.at + AUTHORIZATION_DAYS * 24 * 60 * 60)
}

impl Core {
    /// Makes `operation` on `order` as its owner saw it at `version`. With `force`, a refusal of
    /// Amazon's sets the shop's status anyway and records what Amazon holds.
    pub async fn operate(
        &self,
        order: OrderId,
        version: i64,
        operation: Operation,
        owner: &str,
        force: bool,
    ) -> Result<Result<Order, Refusal>, CoreError> {
        let outcome = self.operate_held(order, version, operation, owner, force).await;
        // Amazon's record of the order changed, or may have: the owner's next view reads it anew.
        self.views.forget(order);
        outcome
    }

    async fn operate_held(
        &self,
        order: OrderId,
        version: i64,
        operation: Operation,
        owner: &str,
        force: bool,
    ) -> Result<Result<Order, Refusal>, CoreError> {
        let token = self.random_token()?;
        let Some(held) = self.platform().lock_order(order, version, &token, now() + HOLD).await? else {
            return Ok(Err(Refusal::Busy));
        };
        let result = match operation {
            Operation::Capture(amount) => self.capture(&held, amount, owner, &token).await,
            Operation::Cancel => self.cancel(&held, owner, &token).await,
            Operation::Refund(amount) => self.refund(&held, amount, owner, &token).await,
        };
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(error) => {
                self.platform().unlock_order(order, &token).await?;
                return Err(error);
            }
        };
        match outcome {
            Ok(order) => Ok(Ok(order)),
            Err(refusal) if force && refusal.can_force() => {
                let forced = self.force(order, operation, owner, &token, &refusal).await?;
                Ok(forced.ok_or(refusal))
            }
            Err(refusal) => {
                self.platform().unlock_order(order, &token).await?;
                Ok(Err(refusal))
            }
        }
    }

    async fn capture(
        &self,
        order: &Order,
        amount: Option<u64>,
        owner: &str,
        token: &str,
    ) -> Result<Result<Order, Refusal>, CoreError> {
        if !matches!(order.state, OrderState::Authorized | OrderState::Expired) {
            return Ok(Err(Refusal::WrongState(order.state)));
        }
        let authorized = order.authorized.map_or(order.total, |a| a.amount);
        // A total above what Amazon authorized cannot be paid with Amazon Pay at all, whatever
        // amount is typed: the manual sends the owner to another payment method.
        if order.total > authorized {
            return Ok(Err(Refusal::AboveAuthorized { total: order.total, authorized }));
        }
        let amount = amount.unwrap_or(order.total);
        if amount == 0 || amount > MAX_CHARGE_YEN {
            return Ok(Err(Refusal::InvalidAmount));
        }
        if amount > authorized {
            return Ok(Err(Refusal::AboveAuthorized { total: amount, authorized }));
        }
        let lapsed =
            order.state == OrderState::Expired || authorization_deadline(order).is_some_and(|end| end <= now());
        let mut current = order.clone();
        if lapsed {
            current = match self.reauthorize(&current, amount, owner).await? {
                Ok(order) => order,
                Err(refusal) => return Ok(Err(refusal)),
            };
        }
        match self.capture_charge(&current, amount, owner, token).await? {
            Captured::Done(order) => Ok(Ok(order)),
            Captured::Refused(refusal) => Ok(Err(refusal)),
            // Amazon let the authorization lapse before the shop's clock said so: authorize
            // again on the charge permission, then capture that (once).
            Captured::Lapsed(expired) if !lapsed => match self.reauthorize(&expired, amount, owner).await? {
                Ok(order) => match self.capture_charge(&order, amount, owner, token).await? {
                    Captured::Done(order) => Ok(Ok(order)),
                    Captured::Refused(refusal) => Ok(Err(refusal)),
                    Captured::Lapsed(_) => Ok(Err(Refusal::AuthorizationLapsed("ExpiredUnused".into()))),
                },
                Err(refusal) => Ok(Err(refusal)),
            },
            Captured::Lapsed(_) => Ok(Err(Refusal::AuthorizationLapsed("ExpiredUnused".into()))),
        }
    }

    /// Captures `amount` of the order's (authorized) charge: the claim is written first, then
    /// Amazon is asked with the capture's idempotency key (its charge and amount), then its answer
    /// is recorded.
    async fn capture_charge(
        &self,
        order: &Order,
        amount: u64,
        owner: &str,
        token: &str,
    ) -> Result<Captured, CoreError> {
        let Some(charge_id) = order.charge_id.clone() else {
            return Ok(Captured::Refused(Refusal::WrongState(order.state)));
        };
        // The claim is written before Amazon is asked: a process stopped in between leaves the
        // order `capturing`, which the reconciler settles from Amazon's record.
        let claim = Transition::new(
            order,
            OrderState::Capturing,
            Actor::Owner(owner.to_owned()),
            format!("実売上 {} 円を依頼 ({charge_id})", yen(amount)),
        )?;
        let Some(claimed) = self.platform().apply(&claim).await? else {
            return Ok(Captured::Refused(Refusal::Busy));
        };
        // One key per charge and amount: a retry of the same capture (a lost answer, a rerun of
        // the bulk job, the same capture after a restore) is answered with the first capture.
        let key = self.idempotency_key(&Keyed::Capture { charge_id: &charge_id, amount }).await?;
        let error = match self.amazon().capture_charge(&charge_id, &Money::yen(amount), key.as_str()).await {
            Ok(charge) => return Ok(Captured::Done(self.record_capture(&claimed, &charge, owner, token).await?)),
            Err(error) => error,
        };
        // What Amazon holds now decides: a capture whose answer was lost may have been made, and
        // a refused one may be refused because the authorization lapsed.
        let held = self.amazon().get_charge(&charge_id).await.ok();
        if let Some(charge) = &held
            && matches!(charge.status_details.state, ChargeState::Captured | ChargeState::CaptureInitiated)
            && !matches!(error, AmazonError::Rejected { .. })
        {
            return Ok(Captured::Done(self.record_capture(&claimed, charge, owner, token).await?));
        }
        let expired = held.as_ref().is_some_and(|charge| {
            charge.status_details.state == ChargeState::Canceled
                && charge.status_details.reason_code.as_deref() == Some("ExpiredUnused")
        });
        let (to, detail) = if expired {
            (OrderState::Expired, format!("オーソリ期限切れ (Amazon: Canceled ExpiredUnused, {charge_id})"))
        } else {
            (OrderState::Authorized, format!("実売上できず: {error}"))
        };
        let release = Transition::new(&claimed, to, Actor::Owner(owner.to_owned()), detail)?;
        let released = self.platform().apply(&release).await?.unwrap_or(claimed);
        Ok(if expired { Captured::Lapsed(released) } else { Captured::Refused(refusal_of(&error)) })
    }

    /// Records what Amazon answered to a capture: captured, or still processing.
    async fn record_capture(
        &self,
        order: &Order,
        charge: &Charge,
        owner: &str,
        token: &str,
    ) -> Result<Order, CoreError> {
        let actor = Actor::Owner(owner.to_owned());
        let captured = charge.capture_amount.as_ref().and_then(Money::as_yen);
        let id = &charge.charge_id;
        let transition = match &charge.status_details.state {
            ChargeState::Captured => {
                Transition::new(order, OrderState::Captured, actor.clone(), format!("実売上 (Amazon: Captured, {id})"))?
                    .with_captured(captured.unwrap_or(order.total))
            }
            // More than 7 days after the authorization: Amazon completes it later.
            state => Transition::new(
                order,
                OrderState::Capturing,
                actor.clone(),
                format!("実売上を処理中 (Amazon: {state}, {id})"),
            )?,
        };
        let transition = transition
            .with_amazon_ids(AmazonIds { charge_permission_id: None, charge_id: Some(charge.charge_id.clone()) })
            .with(Effect::Unlock(token.to_owned()));
        self.finish(order, &transition, actor, token).await
    }

    /// Applies the transition that ends an operation. Should the order have moved meanwhile
    /// (Amazon's notification or the reconciler read a half-done operation), it follows Amazon's
    /// record instead; either way the owner's hold is let go.
    async fn finish(
        &self,
        order: &Order,
        transition: &Transition,
        actor: Actor,
        token: &str,
    ) -> Result<Order, CoreError> {
        if let Some(done) = self.platform().apply(transition).await? {
            return Ok(done);
        }
        let current = self.platform().order(order.id).await?.unwrap_or_else(|| order.clone());
        if let Err(error) = self.sync_order(&current, actor).await {
            tracing::warn!(%error, order = %order.number, "could not follow Amazon after a concurrent change");
        }
        self.platform().unlock_order(order.id, token).await?;
        Ok(self.platform().order(order.id).await?.unwrap_or(current))
    }

    /// A lapsed authorization: a new charge on the charge permission for `amount`, if Amazon
    /// allows it (the permission is open and has room). The order becomes 仮売上 again on the new
    /// charge, with the new charge's 30-day window; the caller captures it.
    ///
    /// Amazon decides whether the authorization lapsed, not the shop's clock: a charge Amazon
    /// still holds `Authorized` (the shop's clock ahead of Amazon's, or an order marked lapsed
    /// before its deadline was Amazon's own) is kept and captured as it is, since a second
    /// authorization beside it would hold the buyer's money twice.
    async fn reauthorize(&self, order: &Order, amount: u64, owner: &str) -> Result<Result<Order, Refusal>, CoreError> {
        let Some(permission) = order.charge_permission_id.clone() else {
            return Ok(Err(Refusal::AuthorizationLapsed("no charge permission".into())));
        };
        if let Some(charge_id) = &order.charge_id {
            match self.amazon().get_charge(charge_id).await {
                Ok(charge) if charge.status_details.state == ChargeState::Authorized => {
                    return self.still_authorized(order, &charge, owner).await;
                }
                Ok(_) => {}
                Err(error) => return Ok(Err(refusal_of(&error))),
            }
        }
        let current = if order.state == OrderState::Expired {
            order.clone()
        } else {
            let expired =
                Transition::new(order, OrderState::Expired, Actor::Owner(owner.to_owned()), "オーソリ期限切れ")?;
            match self.platform().apply(&expired).await? {
                Some(expired) => expired,
                None => return Ok(Err(Refusal::Busy)),
            }
        };
        let mut metadata = json!({ "merchantReferenceId": order.number });
        if let Some(name) = &self.settings().store_name {
            metadata["merchantStoreName"] = json!(name);
        }
        let body = json!({
            "chargePermissionId": permission,
            "chargeAmount": Money::yen(amount),
            "captureNow": false,
            "canHandlePendingAuthorization": false,
            "merchantMetadata": metadata,
        });
        // Each lapsed authorization is replaced once: a retry (a lost answer, the same capture after
        // a restore) gets the same charge from Amazon, not a second authorization.
        let replaced = order.charge_id.clone().unwrap_or_else(|| format!("order-{}", order.number));
        let version = current.version;
        let charged = self
            .create_charge_once_more(&body, |attempt| Keyed::Reauthorization {
                replaced: &replaced,
                amount,
                version,
                attempt,
            })
            .await?;
        let charge = match charged {
            Charged::Made(charge) => *charge,
            // Declined (an error answer: no charge was made). Recorded, which moves the order's
            // version on: the owner's next try, once the buyer has another card, is a new request.
            Charged::Refused { reason_code, message } => {
                let why = format!("{reason_code}: {message}");
                let declined = Transition::new(
                    &current,
                    OrderState::Expired,
                    Actor::Owner(owner.to_owned()),
                    format!("再オーソリできず ({why})"),
                )?;
                self.platform().apply(&declined).await?;
                return Ok(Err(Refusal::AuthorizationLapsed(why)));
            }
            // Amazon holds another request under this re-authorization's key, and perhaps a charge
            // made by it: not a decline (the version stays, so the next try asks the same).
            Charged::HeldAtAmazon(message) => return Ok(Err(Refusal::HeldAtAmazon(message))),
            Charged::Unreachable(_) => return Ok(Err(Refusal::AmazonUnavailable)),
        };
        if charge.status_details.state != ChargeState::Authorized {
            let reason = charge.status_details.reason_code.unwrap_or_default();
            return Ok(Err(Refusal::AuthorizationLapsed(format!("{} {reason}", charge.status_details.state))));
        }
        let transition = Transition::new(
            &current,
            OrderState::Authorized,
            Actor::Owner(owner.to_owned()),
            format!("再オーソリ {} 円 (Amazon: Authorized, {})", yen(amount), charge.charge_id),
        )?
        .with_authorized(authorization_of(&charge, amount))
        .with_amazon_ids(AmazonIds { charge_permission_id: None, charge_id: Some(charge.charge_id) });
        Ok(self.platform().apply(&transition).await?.ok_or(Refusal::Busy))
    }

    /// The order of a charge Amazon still holds authorized: as it is, or back to 仮売上 with
    /// Amazon's own window when the shop had marked it lapsed.
    async fn still_authorized(
        &self,
        order: &Order,
        charge: &Charge,
        owner: &str,
    ) -> Result<Result<Order, Refusal>, CoreError> {
        if order.state == OrderState::Authorized {
            return Ok(Ok(order.clone()));
        }
        let back = Transition::new(
            order,
            OrderState::Authorized,
            Actor::Owner(owner.to_owned()),
            format!("オーソリは有効です (Amazon: Authorized, {})", charge.charge_id),
        )?
        .with_authorized(authorization_of(charge, order.total));
        Ok(self.platform().apply(&back).await?.ok_or(Refusal::Busy))
    }

    async fn cancel(&self, order: &Order, owner: &str, token: &str) -> Result<Result<Order, Refusal>, CoreError> {
        if !matches!(order.state, OrderState::Authorized | OrderState::Pending | OrderState::Expired) {
            return Ok(Err(Refusal::WrongState(order.state)));
        }
        let reason = "キャンセル (販売事業者)";
        if let Some(charge_id) = &order.charge_id
            && order.state != OrderState::Expired
            && let Err(error) = self.amazon().cancel_charge(charge_id, reason).await
        {
            return Ok(Err(refusal_of(&error)));
        }
        // A one-time purchase's permission is closed with it; a subscription's stays for the next
        // cycles (cancelling the subscription closes it).
        if !order.recurring
            && let Some(permission) = &order.charge_permission_id
            && let Err(error) = self.amazon().close_charge_permission(permission, reason, true).await
        {
            tracing::warn!(%error, order = %order.number, "the charge was canceled but its permission could not be closed");
        }
        let ids = [order.charge_id.as_deref(), order.charge_permission_id.as_deref()];
        let ids = ids.into_iter().flatten().collect::<Vec<_>>().join(", ");
        let actor = Actor::Owner(owner.to_owned());
        let transition = Transition::new(
            order,
            OrderState::Canceled,
            actor.clone(),
            format!("キャンセル (Amazon: Canceled, {ids})"),
        )?
        .with(Effect::Unlock(token.to_owned()));
        Ok(Ok(self.finish(order, &transition, actor, token).await?))
    }

    async fn refund(
        &self,
        order: &Order,
        amount: u64,
        owner: &str,
        token: &str,
    ) -> Result<Result<Order, Refusal>, CoreError> {
        if !matches!(order.state, OrderState::Captured | OrderState::Refunded) {
            return Ok(Err(Refusal::WrongState(order.state)));
        }
        if amount == 0 || amount > MAX_CHARGE_YEN {
            return Ok(Err(Refusal::InvalidAmount));
        }
        let left = order.captured.saturating_sub(order.refunded);
        if amount > left {
            return Ok(Err(Refusal::RefundTooLarge { left }));
        }
        let Some(charge_id) = &order.charge_id else { return Ok(Err(Refusal::WrongState(order.state))) };
        // Amazon first: refunds the shop has no record of (made in Seller Central with the
        // notification lost, or before the database was restored) would make this one a second.
        // A charge that cannot be read is no charge without such refunds: nothing is asked.
        let charge = match self.amazon().get_charge(charge_id).await {
            Ok(charge) => charge,
            Err(error) => return Ok(Err(refusal_of(&error))),
        };
        if let Some(at_amazon) = charge.refunded_amount.as_ref().and_then(Money::as_yen)
            && at_amazon > order.refunded
        {
            return Ok(Err(Refusal::RefundedElsewhere { at_amazon, recorded: order.refunded }));
        }
        // The order's next refund request: a double submit, a lost answer, or the same refund
        // after a restore repeats the key and is answered with the first refund; another amount
        // under the same key gets Amazon's DuplicateIdempotencyKey, never a second refund. Only
        // Amazon's answer for good (made, or refused) moves the count on.
        let ordinal = order.refund_requests.saturating_add(1);
        let key = self.idempotency_key(&Keyed::Refund { charge_id, ordinal }).await?;
        let refund = match self.amazon().create_refund(charge_id, &Money::yen(amount), key.as_str()).await {
            Ok(refund) => refund,
            // Refused for good (a 4xx other than DuplicateIdempotencyKey): no refund was made, and
            // Amazon keeps this key with its refusal. The next request is another, under a key of
            // its own. A lost answer or a 5xx leaves the count: asking again repeats the key.
            Err(error @ AmazonError::Rejected { status: ..500, .. }) if error.reason_code() != Some(DUPLICATE_KEY) => {
                self.platform().count_refund_refusal(order.id, ordinal).await?;
                return Ok(Err(refusal_of(&error)));
            }
            Err(error) => return Ok(Err(refusal_of(&error))),
        };
        // Amazon made the refund: what it says is recorded (its amount), and recorded whatever the
        // order moved to while Amazon answered (a notification, a declined refund).
        let record = refund_record(&refund).unwrap_or_else(|| {
            tracing::warn!(refund = %refund.refund_id, "Amazon's refund answer has no amount; recording the amount asked for");
            Refund {
                refund_id: refund.refund_id.clone(),
                amount,
                state: RefundState::from_amazon(&refund.status_details.state).unwrap_or(RefundState::Initiated),
                created_at: now(),
            }
        });
        let actor = Actor::Owner(owner.to_owned());
        let detail =
            format!("返金 {} 円 (Amazon: {}, {})", yen(record.amount), refund.status_details.state, refund.refund_id);
        let transition = refund_made(order, record, actor.clone(), detail)
            .with(Effect::RefundAnswered { ordinal })
            .with(Effect::Unlock(token.to_owned()));
        Ok(Ok(self.finish(order, &transition, actor, token).await?))
    }

    /// 「エラーを無視して変更する」: sets the shop's status as the operation would have, and records
    /// what Amazon holds. `None` when the order is gone.
    async fn force(
        &self,
        order: OrderId,
        operation: Operation,
        owner: &str,
        token: &str,
        refusal: &Refusal,
    ) -> Result<Option<Order>, CoreError> {
        let Some(current) = self.platform().order(order).await? else { return Ok(None) };
        let charge = match &current.charge_id {
            Some(id) => Some(self.amazon().get_charge(id).await),
            None => None,
        };
        let mut held = match &charge {
            Some(Ok(charge)) => {
                let amount = |money: &Option<Money>| money.as_ref().and_then(Money::as_yen).map(yen);
                format!(
                    "Amazon の状態: {} {} ({}, オーソリ {} 円, 実売上 {} 円)",
                    charge.status_details.state,
                    charge.status_details.reason_code.as_deref().unwrap_or_default(),
                    charge.charge_id,
                    amount(&charge.charge_amount).unwrap_or_else(|| "-".into()),
                    amount(&charge.capture_amount).unwrap_or_else(|| "-".into()),
                )
            }
            Some(Err(error)) => format!("Amazon の状態は読めませんでした ({error})"),
            None => "Amazon の請求なし".into(),
        };
        held.push_str(&format!("。断られた理由: {}", refusal.message_ja()));
        // A forced 返金 records what Amazon has given back: the refunds Amazon made that the
        // shop cannot name (their notifications lost, or made before a restore) become one
        // adjustment, so that the shop's refunded amount is Amazon's and the refusal does not come
        // back at the next refund.
        let mut effects = Vec::new();
        if let (Operation::Refund(_), Some(Ok(charge))) = (operation, &charge)
            && let Some(adjustment) = self.refund_adjustment(&current, charge).await?
        {
            held.push_str(&format!(
                "。Amazon の返金額 {} 円に合わせ、ショップで記録のない {} 円を調整として記録 ({})",
                yen(charge.refunded_amount.as_ref().and_then(Money::as_yen).unwrap_or_default()),
                yen(adjustment.amount),
                adjustment.refund_id
            ));
            effects.push(Effect::Refund(adjustment));
        }
        // Amazon holds another request under the refund's key: the owner has looked in Seller
        // Central and overrides; the next refund is asked under a key of its own.
        if let (Operation::Refund(_), Refusal::HeldAtAmazon(_)) = (operation, refusal) {
            effects.push(Effect::RefundAnswered { ordinal: current.refund_requests.saturating_add(1) });
        }
        let to = match operation {
            Operation::Capture(_) => OrderState::Captured,
            Operation::Cancel => OrderState::Canceled,
            Operation::Refund(_) => OrderState::Refunded,
        };
        if operation == Operation::Cancel
            && !current.recurring
            && let Some(permission) = &current.charge_permission_id
        {
            // Best effort: a permission Amazon already closed (or closes itself) stays closed.
            if let Err(error) = self.amazon().close_charge_permission(permission, "キャンセル (販売事業者)", true).await
            {
                held.push_str(&format!("。与信枠 {permission} はクローズできませんでした ({error})"));
            }
        }
        let mut transition = Transition::forced(&current, to, owner, held).with(Effect::Unlock(token.to_owned()));
        for effect in effects {
            transition = transition.with(effect);
        }
        if let Operation::Capture(amount) = operation {
            // What Amazon captured when it did (in Seller Central), else what the owner asked for.
            let at_amazon = match &charge {
                Some(Ok(charge)) if charge.status_details.state == ChargeState::Captured => {
                    charge.capture_amount.as_ref().and_then(Money::as_yen)
                }
                _ => None,
            };
            transition = transition.with_captured(at_amazon.unwrap_or(amount.unwrap_or(current.total)));
        }
        Ok(self.platform().apply(&transition).await?)
    }

    /// What Amazon has given back of `charge` (its `refundedAmount`: refunds it completed) beyond
    /// the refunds the shop has recorded completed, as one refund row of the shop's own
    /// ([`REFUND_ADJUSTMENT`]); `None` when the shop already holds as much.
    async fn refund_adjustment(&self, order: &Order, charge: &Charge) -> Result<Option<Refund>, CoreError> {
        let Some(at_amazon) = charge.refunded_amount.as_ref().and_then(Money::as_yen) else { return Ok(None) };
        let refunds = self.platform().refunds(order.id).await?;
        let completed: u64 = refunds.iter().filter(|r| r.state == RefundState::Refunded).map(|r| r.amount).sum();
        Ok((at_amazon > completed).then(|| Refund {
            refund_id: format!("{REFUND_ADJUSTMENT}{}-{at_amazon}", charge.charge_id),
            amount: at_amazon - completed,
            state: RefundState::Refunded,
            created_at: now(),
        }))
    }
}

/// How the refund ID of a shop's own adjustment begins (「エラーを無視して変更する」 on a refund
/// Amazon would not make because it has refunded more than the shop knew of): never an ID
/// Amazon gives, and never asked about at Amazon.
pub const REFUND_ADJUSTMENT: &str = "adjustment-";

/// How one capture of a charge ended.
enum Captured {
    /// Captured, or accepted and still processing: the order as recorded.
    Done(Order),
    /// Not captured; the order is back where it was.
    Refused(Refusal),
    /// Amazon let the authorization lapse: the order is now expired.
    Lapsed(Order),
}

/// How one order of a bulk capture went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkOutcome {
    /// The order.
    pub order: OrderId,
    /// Captured (or capturing), or why not.
    pub result: Result<OrderState, Refusal>,
}

impl Core {
    /// 「AmazonPay クレジット決済状況」: captures many authorized orders, at most `concurrency` at a
    /// time (Amazon throttles; its 429s and 5xx are retried with backoff by the client), telling
    /// `progress` how each went (those that finished while the last report was made, together).
    /// One order's failure does not stop the rest; an order already
    /// captured, or taken by someone else, is left as it is, so a second run captures nothing twice.
    /// `may_start` is asked before each order is started: once it says no (the job was taken over
    /// by another instance), no more are started, the captures in flight end, and the orders not
    /// started are left out of the outcomes.
    pub async fn capture_many<S, SFut, F, Fut>(
        &self,
        orders: &[OrderId],
        owner: &str,
        concurrency: usize,
        may_start: S,
        progress: F,
    ) -> Vec<BulkOutcome>
    where
        S: Fn() -> SFut,
        SFut: std::future::Future<Output = bool>,
        F: Fn(Vec<BulkOutcome>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        use futures_util::StreamExt;
        // `buffer_unordered` takes the next order only when a place is free: `may_start` is asked
        // then, just before that order would be started.
        let outcomes = futures_util::stream::iter(orders.iter().copied())
            .take_while(|_| may_start())
            .map(|id| async move {
                // Whatever fails stays with its order: the others go on.
                let result = match self.platform().order(id).await {
                    Ok(Some(order)) if order.state == OrderState::Authorized || order.state == OrderState::Expired => {
                        match self.operate(id, order.version, Operation::Capture(None), owner, false).await {
                            Ok(Ok(order)) => Ok(order.state),
                            Ok(Err(refusal)) => Err(refusal),
                            Err(CoreError::Amazon(error)) => {
                                tracing::error!(%error, order = id.0, "bulk capture: Amazon failed on an order");
                                Err(Refusal::AmazonUnavailable)
                            }
                            Err(error) => {
                                tracing::error!(%error, order = id.0, "bulk capture failed on an order");
                                Err(Refusal::ShopFailed)
                            }
                        }
                    }
                    Ok(Some(order)) => Err(Refusal::WrongState(order.state)),
                    Ok(None) => Err(Refusal::Busy),
                    Err(error) => {
                        tracing::error!(%error, order = id.0, "bulk capture could not read an order");
                        Err(Refusal::ShopFailed)
                    }
                };
                BulkOutcome { order: id, result }
            })
            .buffer_unordered(concurrency.max(1));
        // The captures go on while the progress of finished ones is being reported: awaiting the
        // report inline would stop polling the captures in flight, and a report waiting for the
        // database behind a capture that holds its turn there would wait forever.
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let captures = async move {
            futures_util::pin_mut!(outcomes);
            while let Some(outcome) = outcomes.next().await {
                // The receiver lives until every outcome is in.
                let _ = sender.send(outcome);
            }
        };
        let reports = async {
            let mut all = Vec::with_capacity(orders.len());
            while let Some(outcome) = receiver.recv().await {
                let mut finished = vec![outcome];
                while let Ok(more) = receiver.try_recv() {
                    finished.push(more);
                }
                all.extend(finished.iter().cloned());
                progress(finished).await;
            }
            all
        };
        let ((), all) = tokio::join!(captures, reports);
        all
    }
}

/// What Amazon's error means for the owner.
fn refusal_of(error: &AmazonError) -> Refusal {
    match error {
        AmazonError::Rejected { reason_code, message, .. } if reason_code == DUPLICATE_KEY => {
            Refusal::HeldAtAmazon(message.clone())
        }
        AmazonError::Rejected { reason_code, message, .. } => {
            Refusal::AmazonRefused { code: reason_code.clone(), message: message.clone() }
        }
        _ => Refusal::AmazonUnavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_is_written_with_thousands_separators() {
        assert_eq!(yen(0), "0");
        assert_eq!(yen(999), "999");
        assert_eq!(yen(3_630), "3,630");
        assert_eq!(yen(10_000_000), "10,000,000");
    }

    #[test]
    fn operations_are_named_as_the_admin_form_sends_them_and_allowed_by_state() {
        for kind in [OperationKind::Capture, OperationKind::Cancel, OperationKind::Refund] {
            assert_eq!(OperationKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(OperationKind::parse("bogus"), None);
        assert_eq!(Operation::Refund(1).kind(), OperationKind::Refund);
        assert_eq!(OperationKind::allowed(OrderState::Authorized), [OperationKind::Capture, OperationKind::Cancel]);
        assert!(OperationKind::allowed(OrderState::Capturing).is_empty());
    }

    #[test]
    fn only_amazons_refusals_may_be_overridden() {
        assert!(Refusal::AmazonRefused { code: "X".into(), message: "m".into() }.can_force());
        assert!(!Refusal::AmazonUnavailable.can_force(), "nothing is known of Amazon's record");
        assert!(!Refusal::AboveAuthorized { total: 2, authorized: 1 }.can_force());
        assert!(
            Refusal::AboveAuthorized { total: 5_000, authorized: 3_630 }
                .message_ja()
                .contains("他の支払方法に変更するなどご対応ください")
        );
    }
}
