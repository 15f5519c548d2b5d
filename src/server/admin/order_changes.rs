//! The changes made from 受注編集: 商品変更 / 金額変更, 「クレジット決済状況変更」 (the form read into
//! the core's [`Operation`] here, at the edge), following Amazon's record, and 定期購入の解約. A
//! refused change shows the order page again with why and the form as typed.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;

use super::input::{self, Form};
use super::layout::Message;
use super::order::{Shown, Typed, missing, order_id, order_page};
use super::problems::Problem;
use super::{Admin, Lang, Signed, change_form, internal};
use crate::core::operations::{Operation, OperationKind, Refusal};
use crate::core::orders::{Actor, OrderState};
use crate::core::platform::OrderId;

fn version(form: &Form) -> Option<i64> {
    form.get("version").and_then(|v| v.parse().ok())
}

/// `POST /admin/orders/{id}/edit`: 商品変更 / 金額変更.
pub async fn edit(
    Extension(admin): Extension<Arc<Admin>>,
    Path(id): Path<String>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    let form = match change_form(&admin, &signed, &body) {
        Ok(form) => form,
        Err((status, problem)) => return signed.visit.error(status, problem),
    };
    let lang = signed.visit.lang;
    let edit = match input::order_edit(&form) {
        Ok(edit) => edit,
        Err(invalid) => {
            return refuse(
                &admin,
                signed,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                lang.pick(&invalid.ja, &invalid.en).to_owned(),
                Typed::Edit(form),
            )
            .await;
        }
    };
    let Some(version) = version(&form) else {
        return refuse(&admin, signed, id, StatusCode::BAD_REQUEST, Refusal::Busy.message(lang), Typed::Edit(form))
            .await;
    };
    match admin.service().edit_order(id, version, &edit).await {
        Ok(Some(order)) => {
            tracing::info!(owner = %signed.owner.name, order = %order.number, total = order.total, "order edited");
            signed.visit.see_other(&format!("/admin/orders/{}?done=edited", id.0))
        }
        Ok(None) => {
            refuse(&admin, signed, id, StatusCode::CONFLICT, Refusal::Busy.message(lang), Typed::Edit(form)).await
        }
        Err(error) => internal(signed.visit, &error),
    }
}

/// The order page again, with why the change was refused and the form as typed.
async fn refuse(
    admin: &Admin,
    signed: Signed,
    id: OrderId,
    status: StatusCode,
    text: String,
    typed: Typed,
) -> Response {
    order_page(admin, signed, id, status, Shown::refused(text, typed)).await
}

trait InWords {
    fn message(&self, lang: Lang) -> String;
}

impl InWords for Refusal {
    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Ja => self.message_ja(),
            Lang::En => self.message_en(),
        }
    }
}

/// `POST /admin/orders/{id}/payment`: 「クレジット決済状況変更」.
pub async fn payment(
    Extension(admin): Extension<Arc<Admin>>,
    Path(id): Path<String>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    let form = match change_form(&admin, &signed, &body) {
        Ok(form) => form,
        Err((status, problem)) => return signed.visit.error(status, problem),
    };
    let lang = signed.visit.lang;
    let Some(kind) = form.get("op").and_then(OperationKind::parse) else {
        let text = Problem::ChooseStatus.text(lang).to_owned();
        return refuse(&admin, signed, id, StatusCode::UNPROCESSABLE_ENTITY, text, Typed::Payment(form)).await;
    };
    let operation = match operation(kind, &form) {
        Ok(operation) => operation,
        Err(invalid) => {
            return refuse(
                &admin,
                signed,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                lang.pick(&invalid.ja, &invalid.en).to_owned(),
                Typed::Payment(form),
            )
            .await;
        }
    };
    let Some(version) = version(&form) else {
        return refuse(&admin, signed, id, StatusCode::BAD_REQUEST, Refusal::Busy.message(lang), Typed::Payment(form))
            .await;
    };
    let force = form.ticked("force");
    let owner = signed.owner.name.clone();
    match admin.app.core.operate(id, version, operation, &owner, force).await {
        Ok(Ok(order)) => {
            tracing::info!(%owner, order = %order.number, ?operation, force, state = order.state.name(), "payment operation");
            let forced = force && admin.service().last_change_forced(id).await.unwrap_or(false);
            let done = match (forced, order.state) {
                (true, _) => "forced",
                (false, OrderState::Captured) => "captured",
                (false, OrderState::Capturing) => "capturing",
                (false, OrderState::Canceled) => "canceled",
                (false, _) => "refunded",
            };
            signed.visit.see_other(&format!("/admin/orders/{}?done={done}", id.0))
        }
        Ok(Err(refusal)) => {
            tracing::info!(%owner, order = id.0, ?operation, ?refusal, "payment operation refused");
            let status = match refusal {
                Refusal::InvalidAmount => StatusCode::UNPROCESSABLE_ENTITY,
                Refusal::AmazonUnavailable => StatusCode::BAD_GATEWAY,
                Refusal::ShopFailed => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::CONFLICT,
            };
            refuse(&admin, signed, id, status, refusal.message(lang), Typed::Payment(form)).await
        }
        Err(error) => internal(signed.visit, &error),
    }
}

/// `POST /admin/orders/{id}/sync`: reads Amazon's record and moves the order to match.
pub async fn sync(
    Extension(admin): Extension<Arc<Admin>>,
    Path(id): Path<String>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    if let Err((status, problem)) = change_form(&admin, &signed, &body) {
        return signed.visit.error(status, problem);
    }
    let order = match admin.service().placed_order(id).await {
        Ok(Some(order)) => order,
        Ok(None) => return missing(signed.visit),
        Err(error) => return internal(signed.visit, &error),
    };
    match admin.app.core.sync_order(&order, Actor::Owner(signed.owner.name.clone())).await {
        Ok(moved) => {
            let done = if moved { "synced" } else { "unchanged" };
            signed.visit.see_other(&format!("/admin/orders/{}?done={done}", id.0))
        }
        Err(error) => {
            tracing::warn!(%error, order = %order.number, "could not read Amazon for the order");
            let shown = Shown {
                message: Some(Message::error(Refusal::AmazonUnavailable.message(signed.visit.lang))),
                typed: None,
            };
            order_page(&admin, signed, id, StatusCode::BAD_GATEWAY, shown).await
        }
    }
}

/// `POST /admin/orders/{id}/subscription`: 定期購入の解約 (closes its charge permission).
pub async fn cancel_subscription(
    Extension(admin): Extension<Arc<Admin>>,
    Path(id): Path<String>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    if let Err((status, problem)) = change_form(&admin, &signed, &body) {
        return signed.visit.error(status, problem);
    }
    let lang = signed.visit.lang;
    let subscription = match admin.service().order_subscription(id).await {
        Ok(Some(subscription)) => subscription,
        Ok(None) => return missing(signed.visit),
        Err(error) => return internal(signed.visit, &error),
    };
    if !subscription.active {
        return signed.visit.see_other(&format!("/admin/orders/{}?done=subscription", id.0));
    }
    match admin.app.core.close_subscription(&subscription.charge_permission_id).await {
        Ok(Ok(())) => {
            tracing::info!(owner = %signed.owner.name, subscription = subscription.id.0, "subscription cancelled");
            signed.visit.see_other(&format!("/admin/orders/{}?done=subscription", id.0))
        }
        Ok(Err(refusal)) => {
            let shown = Shown { message: Some(Message::error(refusal.message(lang))), typed: None };
            order_page(&admin, signed, id, StatusCode::BAD_GATEWAY, shown).await
        }
        Err(error) => internal(signed.visit, &error),
    }
}

/// The operation the payment form asks for: `kind` with the amount typed (a capture's may be
/// left empty: the order's total).
fn operation(kind: OperationKind, form: &Form) -> Result<Operation, input::Invalid> {
    let typed = form.get("amount").unwrap_or_default().trim();
    match kind {
        OperationKind::Capture if typed.is_empty() => Ok(Operation::Capture(None)),
        OperationKind::Capture => {
            input::amount(typed, "実売上の金額", "amount to capture").map(|a| Operation::Capture(Some(a)))
        }
        OperationKind::Cancel => Ok(Operation::Cancel),
        OperationKind::Refund => input::amount(typed, "返金額", "amount to refund").map(Operation::Refund),
    }
}
