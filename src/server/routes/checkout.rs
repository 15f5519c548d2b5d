//! Checkout with Amazon Pay over HTTP: Amazon's review return, placing the order, Amazon's result
//! return, and a checkout the shopper cancelled (a GET that changes nothing). The flow itself is the core's
//! (`crate::core::checkout`); these handlers tie it to the shopper's session and cart.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;

use super::{existing_session, is_token, no_store, to_page};
use crate::contract::Notice;
use crate::core::CoreError;
use crate::core::checkout::Placed;
use crate::core::platform::Cart;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::session::{Identity, Session};

/// `GET /api/amazonpay2/checkout/review?ref=…&amazonCheckoutSessionId=…`: the shopper chose an
/// address and a payment method on Amazon. The checkout session is bound to this browser's cart
/// only if the return carries the cart's own reference and Amazon made the session from it; then
/// the session is renewed and the shopper goes on to the confirmation page.
pub async fn review(
    Extension(app): Extension<Arc<AppState>>,
    jar: CookieJar,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let pages = &app.config.pages;
    let id = query.get("amazonCheckoutSessionId").filter(|id| is_token(id));
    let review_ref = query.get("ref").filter(|r| is_token(r));
    let session = app.sessions.find(&jar).await?;
    let (Some(id), Some(review_ref), Some(session)) = (id, review_ref, session) else {
        return Ok(to_page(&pages.cart, Notice::ReturnRefused));
    };
    let cart = cart_of(&app, &session).await?;
    match app.core.bind_review(cart.as_ref(), review_ref, id).await {
        Ok(Ok(())) => {
            let member = session.member.as_ref().map(|m| m.id);
            let identity = Identity {
                member,
                cart: session.cart.clone(),
                return_to: session.return_to.clone(),
                pending_buyer: None,
            };
            let (_, jar) = app.sessions.renew(jar, &session, identity).await?;
            Ok((jar, Redirect::to(&pages.confirm)).into_response())
        }
        Ok(Err(notice)) => Ok(to_page(&pages.cart, notice)),
        Err(CoreError::Amazon(error)) => {
            tracing::error!(%error, "getCheckoutSession at the review return failed");
            Ok(to_page(&pages.cart, Notice::AmazonUnavailable))
        }
        Err(error) => Err(error.into()),
    }
}

/// Where the page goes next.
#[derive(Debug, Serialize)]
pub struct Next {
    /// Amazon's page to authorize the amount, or a shop page with a notice.
    redirect: String,
}

/// `POST /api/amazonpay2/checkout/place`: 「注文を確定する」, from any shop page (the review block
/// renders the button). Opens the order and answers where the browser goes.
pub async fn place(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<(CookieJar, [(&'static str, &'static str); 1], Json<Next>), ApiError> {
    let session = existing_session(&app, &jar, &headers).await?;
    let Some(cart) = cart_of(&app, &session).await? else {
        let redirect = crate::core::settings::notice_url(&app.config.pages.cart, Notice::CartChanged);
        return Ok((jar, no_store(), Json(Next { redirect })));
    };
    match app.core.place(&cart, session.member.as_ref().map(|m| m.id)).await? {
        Placed::Redirect(redirect) => Ok((jar, no_store(), Json(Next { redirect }))),
        Placed::Unavailable(reason) => {
            Err(ApiError::client(StatusCode::CONFLICT, "amazon_pay_unavailable", reason.code()))
        }
    }
}

/// `GET /api/amazonpay2/checkout/result?amazonCheckoutSessionId=…`: Amazon authorized (or not);
/// the order is completed with the same amount, once.
pub async fn result(
    Extension(app): Extension<Arc<AppState>>,
    jar: CookieJar,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(id) = query.get("amazonCheckoutSessionId").filter(|id| is_token(id)) else {
        return Ok(to_page(&app.config.pages.cart, Notice::CartChanged));
    };
    let cart = match app.sessions.find(&jar).await? {
        Some(session) => cart_of(&app, &session).await?,
        None => None,
    };
    let redirect = app.core.complete(cart, id).await?;
    Ok(Redirect::to(&redirect).into_response())
}

/// `GET /api/amazonpay2/checkout/cancel`: the shopper cancelled on Amazon's page
/// (`checkoutCancelUrl`), and is back at the cart with the notice.
///
/// A GET that any page can make a browser send changes nothing: it neither reads nor writes the
/// session or the cart. Nothing needs to change either: Amazon canceled its checkout session
/// itself, and the shop follows Amazon's state where it matters (the review block shows only an
/// open session, 「注文を確定する」 on a canceled one ends that checkout with Amazon's reason, an
/// order left waiting is settled by the reconciler), while the next click of the checkout button
/// gives the cart a fresh reference that replaces the old checkout.
pub async fn cancel(Extension(app): Extension<Arc<AppState>>) -> Response {
    to_page(&app.config.pages.cart, Notice::CheckoutCanceled)
}

async fn cart_of(app: &AppState, session: &Session) -> Result<Option<Cart>, ApiError> {
    Ok(match &session.cart {
        Some(id) => app.core.platform().cart(id).await?,
        None => None,
    })
}
