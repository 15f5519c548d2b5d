//! Checkout with Amazon Pay: the review return, placing the order, and Amazon's result return.
//!
//! One checkout session makes at most one order: the order is keyed by the session ID, so a
//! double click, a reload or the back button finds the order already there instead of charging
//! again. An order is only an order once Amazon authorized it (仮売上) or is still authorizing
//! it (決済保留); a declined, expired or mismatched checkout ends as `failed`, with a notice.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;
use serde_json::json;

use super::account::existing_session;
use super::returns::{is_token, notice_url, to_page};
use super::{no_store, paths};
use crate::amazon::types::Money;
use crate::contract::Notice;
use crate::core::AmazonError;
use crate::core::rules::{next_month, today_in_japan, unavailable};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::session::now;
use crate::server::store::{NewOrder, OrderRecord};

/// The shop's name on Amazon's pages and e-mails.
const STORE_NAME: &str = "クラフト雑貨店";

/// The order confirmation page (the shop's; the review block lives there).
const CONFIRM_PAGE: &str = "/shopping/confirm.html";
/// The page after a placed order.
const COMPLETE_PAGE: &str = "/shopping/complete.html";
/// The cart.
const CART_PAGE: &str = "/shopping/cart.html";

/// `GET /api/amazonpay2/checkout/review?amazonCheckoutSessionId=…`: the shopper chose address and
/// payment on Amazon; the session is bound to this browser's cart and the shopper goes on to the
/// confirmation page.
pub async fn review(
    State(app): State<Arc<AppState>>,
    jar: CookieJar,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = query.get("amazonCheckoutSessionId").filter(|id| is_token(id));
    let cart_id = app.sessions.find(&jar)?.and_then(|s| s.cart_id);
    match (id, cart_id) {
        (Some(id), Some(cart_id)) => {
            app.store.set_cart_checkout_session(&cart_id, Some(id))?;
            Ok(Redirect::to(CONFIRM_PAGE).into_response())
        }
        _ => Ok(to_page(CART_PAGE, Notice::CartChanged)),
    }
}

/// What the confirmation page does next.
#[derive(Debug, Serialize)]
pub struct Next {
    /// Where the browser goes: Amazon, to authorize, or a shop page.
    redirect: String,
}

/// `POST /api/amazonpay2/checkout/place`: the shop's "注文を確定する" button.
pub async fn place(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<(CookieJar, [(&'static str, &'static str); 1], Json<Next>), ApiError> {
    let session = existing_session(&app, &jar, &headers)?;
    let cart = session.cart_id.as_deref().map(|id| app.store.cart(id)).transpose()?.flatten();
    let Some((cart, checkout_session_id)) = cart.and_then(|c| c.checkout_session_id.clone().map(|id| (c, id))) else {
        return Ok((jar, no_store(), Json(Next { redirect: notice_url(CART_PAGE, Notice::CartChanged) })));
    };
    if let Some(reason) = unavailable(Some(&cart)) {
        return Err(ApiError::client(StatusCode::CONFLICT, "amazon_pay_unavailable", reason.code()));
    }
    let new = NewOrder {
        member_id: session.member.as_ref().map(|m| m.id),
        checkout_session_id: Some(&checkout_session_id),
        subscription: None,
        total: cart.total(),
        recurring: cart.is_recurring(),
        status: "processing",
        items: cart.lines.iter().map(|l| (l.product.name.clone(), l.product.price, l.quantity)).collect(),
    };
    let order = match app.store.create_order(&new, now())? {
        Ok(order) => order,
        // The same checkout placed again (double click, back button): continue the one order.
        Err(existing) if existing.status == "processing" => existing,
        Err(done) => {
            return Ok((jar, no_store(), Json(Next { redirect: finished_url(&done) })));
        }
    };
    if order.total != cart.total() {
        // The cart changed since the first click: Amazon must show the new amount.
        app.store.update_order(order.id, "failed", None, None, Notice::CartChanged.code())?;
        app.store.set_cart_checkout_session(&cart.id, None)?;
        return Ok((jar, no_store(), Json(Next { redirect: notice_url(CART_PAGE, Notice::CartChanged) })));
    }
    // The cart may have become (or stopped being) a subscription while the shopper was on
    // Amazon's page: a one-time checkout must not pay for a subscription, nor the reverse.
    let amazon_session = app.amazon.get_checkout_session(&checkout_session_id).await.map_err(amazon_failure)?;
    let recurring_session = amazon_session.charge_permission_type.as_deref() == Some("Recurring");
    if recurring_session != cart.is_recurring() {
        app.store.update_order(order.id, "failed", None, None, Notice::CartChanged.code())?;
        app.store.set_cart_checkout_session(&cart.id, None)?;
        return Ok((jar, no_store(), Json(Next { redirect: notice_url(CART_PAGE, Notice::CartChanged) })));
    }
    let body = json!({
        "webCheckoutDetails": { "checkoutResultReturnUrl": app.config.shop_origin.url(paths::CHECKOUT_RESULT) },
        "paymentDetails": {
            "paymentIntent": "Authorize",
            "canHandlePendingAuthorization": true,
            "chargeAmount": Money::yen(order.total),
        },
        "merchantMetadata": { "merchantReferenceId": order.order_number, "merchantStoreName": STORE_NAME },
    });
    let updated = app.amazon.update_checkout_session(&checkout_session_id, &body).await.map_err(amazon_failure)?;
    let redirect = updated
        .web_checkout_details
        .and_then(|d| d.amazon_pay_redirect_url)
        .ok_or_else(|| ApiError::Internal("updateCheckoutSession gave no amazonPayRedirectUrl".into()))?;
    Ok((jar, no_store(), Json(Next { redirect })))
}

/// `GET /api/amazonpay2/checkout/result?amazonCheckoutSessionId=…`: Amazon authorized (or not);
/// the order is completed with the same amount, once.
pub async fn result(
    State(app): State<Arc<AppState>>,
    jar: CookieJar,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(id) = query.get("amazonCheckoutSessionId").filter(|id| is_token(id)) else {
        return Ok(to_page(CART_PAGE, Notice::CartChanged));
    };
    // Bound to the browser that placed the order: its cart holds this checkout session.
    let session = app.sessions.find(&jar)?;
    let cart = session.and_then(|s| s.cart_id).map(|c| app.store.cart(&c)).transpose()?.flatten();
    let Some(cart) = cart.filter(|c| c.checkout_session_id.as_deref() == Some(id.as_str())) else {
        return Ok(match app.store.order_by_checkout_session(id)? {
            Some(order) if !matches!(order.status.as_str(), "processing" | "completing") => {
                Redirect::to(&finished_url(&order)).into_response()
            }
            _ => to_page(CART_PAGE, Notice::CartChanged),
        });
    };
    let Some(order) = app.store.order_by_checkout_session(id)? else {
        return Ok(to_page(CART_PAGE, Notice::CartChanged));
    };
    // Only one request completes an order; a second one at the same time (a double reload)
    // waits for the first one's outcome instead of calling Amazon again.
    if !app.store.claim_order(order.id)? {
        let finished = wait_for_outcome(&app, id).await?.unwrap_or(order);
        return Ok(Redirect::to(&finished_url(&finished)).into_response());
    }
    let completed = match app.amazon.complete_checkout_session(id, &Money::yen(order.total)).await {
        Ok(completed) => Ok(completed),
        // Already completed (our earlier request whose answer was lost), or canceled by Amazon
        // (CheckoutSessionCanceled: declined, expired): Amazon's record decides.
        Err(AmazonError::Rejected { reason_code, .. })
            if reason_code == "InvalidCheckoutSessionStatus" || reason_code == "CheckoutSessionCanceled" =>
        {
            match app.amazon.get_checkout_session(id).await {
                Ok(session) if session.status_details.state == "Completed" => Ok(session),
                Ok(session) if session.status_details.reason_code.as_deref() == Some("Expired") => {
                    Err(Notice::CheckoutExpired)
                }
                Ok(_) => Err(Notice::PaymentDeclined),
                Err(error) => return release(&app, &order, &error),
            }
        }
        Err(AmazonError::Rejected { reason_code, .. }) if reason_code == "AmountMismatch" => Err(Notice::CartChanged),
        Err(error) => return release(&app, &order, &error),
    };
    match completed {
        Ok(session) => {
            let permission = session.charge_permission_id.clone();
            let charge_id = session.charge_id.clone();
            let pending = match &charge_id {
                Some(charge) => app
                    .amazon
                    .get_charge(charge)
                    .await
                    .map(|c| c.status_details.state == "AuthorizationInitiated")
                    .unwrap_or(false),
                None => false,
            };
            let status = if pending { "pending" } else { "authorized" };
            app.store.update_order(order.id, status, permission.as_deref(), charge_id.as_deref(), "")?;
            if let (true, Some(permission)) = (order.recurring, permission.as_deref()) {
                let next = next_month(today_in_japan()).to_string();
                app.store.create_subscription(order.member_id, permission, order.total, &next, now())?;
            }
            app.store.clear_cart(&cart.id)?;
            let order = OrderRecord { status: status.to_owned(), ..order };
            Ok(Redirect::to(&finished_url(&order)).into_response())
        }
        Err(notice) => {
            app.store.update_order(order.id, "failed", None, None, notice.code())?;
            app.store.set_cart_checkout_session(&cart.id, None)?;
            Ok(to_page(CART_PAGE, notice))
        }
    }
}

/// Amazon could not be reached: the order goes back to `processing` so that a reload of the
/// result URL tries again.
fn release(app: &AppState, order: &OrderRecord, error: &AmazonError) -> Result<Response, ApiError> {
    tracing::error!(%error, order = %order.order_number, "completing the checkout failed");
    app.store.update_order(order.id, "processing", None, None, "")?;
    Ok(to_page(CONFIRM_PAGE, Notice::AmazonUnavailable))
}

/// Waits (up to 10 s) for another request to finish completing an order.
async fn wait_for_outcome(app: &AppState, checkout_session_id: &str) -> Result<Option<OrderRecord>, ApiError> {
    for _ in 0..100 {
        let order = app.store.order_by_checkout_session(checkout_session_id)?;
        if order.as_ref().is_some_and(|o| o.status != "completing") {
            return Ok(order);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(app.store.order_by_checkout_session(checkout_session_id)?)
}

/// Where a finished order is shown (a failed one with the reason it failed for).
fn finished_url(order: &OrderRecord) -> String {
    match order.status.as_str() {
        "authorized" => notice_url(&format!("{COMPLETE_PAGE}?order={}", order.order_number), Notice::OrderPlaced),
        "pending" => notice_url(&format!("{COMPLETE_PAGE}?order={}", order.order_number), Notice::PaymentPending),
        "processing" | "completing" => notice_url(CONFIRM_PAGE, Notice::AmazonUnavailable),
        _ => notice_url(CART_PAGE, Notice::from_code(&order.note).unwrap_or(Notice::PaymentDeclined)),
    }
}

fn amazon_failure(error: AmazonError) -> ApiError {
    match error {
        AmazonError::Rejected { status, reason_code, message } if status < 500 => {
            tracing::warn!(%reason_code, %message, "Amazon refused the checkout update");
            ApiError::client(StatusCode::CONFLICT, "amazon_refused", format!("{reason_code}: {message}"))
        }
        other => ApiError::client(StatusCode::BAD_GATEWAY, "amazon_unavailable", other.to_string()),
    }
}
