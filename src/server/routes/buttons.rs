//! `POST /api/amazonpay2/buttons`: every block of a page answered in one request.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum_extra::extract::CookieJar;

use super::no_store;
use axum::http::StatusCode;

use super::account::existing_session;
use crate::contract::{
    BlockKind, BlockSpec, BlockView, ButtonsRequest, ButtonsResponse, InitCheckout, MAX_BLOCKS_PER_REQUEST, Price,
    ProductType, RenderButtonOptions, SignRequest, UnavailableReason,
};
use crate::core::payloads::{PayloadBuilder, SignInIntent};
use crate::core::rules::unavailable;
use crate::server::AppState;
use crate::server::config::is_local_path;
use crate::server::error::ApiError;
use crate::server::guard::reject_foreign_origin;
use crate::server::session::Session;
use crate::server::store::CartView;

/// Answers the widget: the shopper's state and, per block, a signed button or what to show.
pub async fn buttons(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<ButtonsRequest>, JsonRejection>,
) -> Result<(CookieJar, [(&'static str, &'static str); 1], Json<ButtonsResponse>), ApiError> {
    reject_foreign_origin(&headers, &app.config.shop_origin)?;
    let Json(request) = body?;
    if request.blocks.is_empty() {
        return Err(ApiError::bad_request("no_blocks", "Describe at least one block."));
    }
    if request.blocks.len() > MAX_BLOCKS_PER_REQUEST {
        return Err(ApiError::bad_request(
            "too_many_blocks",
            format!("At most {MAX_BLOCKS_PER_REQUEST} blocks per request."),
        ));
    }
    let (session, jar) = app.sessions.find_or_start(jar)?;
    // The cart and the payment-method setting are read only for pages that sell.
    let kinds = |kind: BlockKind| request.blocks.iter().any(|b| b.kind == kind);
    let sells = kinds(BlockKind::Checkout) || kinds(BlockKind::Review);
    let cart = match (&session.cart_id, sells) {
        (Some(id), true) => app.store.cart(id)?,
        _ => None,
    };
    let context = Context {
        session: &session,
        cart: cart.as_ref(),
        amazon_pay: sells && app.store.amazon_pay_enabled()?,
        review: match (kinds(BlockKind::Review), cart.as_ref()) {
            (true, Some(cart)) => review(&app, cart).await,
            _ => BlockView::Nothing,
        },
    };
    let blocks = request.blocks.iter().map(|spec| view(&app, &context, spec)).collect();
    let response = ButtonsResponse {
        member: super::member_state(&session),
        csrf_token: session.csrf_token.clone(),
        checkout_js: app.config.checkout_js.to_string(),
        blocks,
    };
    Ok((jar, no_store(), Json(response)))
}

/// What the blocks of one page are decided from.
struct Context<'a> {
    session: &'a Session,
    cart: Option<&'a CartView>,
    amazon_pay: bool,
    review: BlockView,
}

/// The review block: Amazon's address and payment method for the cart's checkout session.
async fn review(app: &AppState, cart: &CartView) -> BlockView {
    let Some(id) = &cart.checkout_session_id else {
        return BlockView::Nothing;
    };
    let session = match app.amazon.get_checkout_session(id).await {
        Ok(session) if session.status_details.state == "Open" => session,
        Ok(_) => return BlockView::Nothing,
        Err(error) => {
            tracing::warn!(%error, "getCheckoutSession for the review block failed");
            return BlockView::Nothing;
        }
    };
    let address = session.shipping_address.unwrap_or_default();
    let text = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let shipping_address = [
        text(address.name),
        text(address.postal_code).map(|code| format!("〒{code}")),
        text(Some(format!(
            "{}{}",
            address.state_or_region.unwrap_or_default(),
            address.address_line1.unwrap_or_default()
        ))),
        text(
            Some(format!(
                "{} {}",
                address.address_line2.unwrap_or_default(),
                address.address_line3.unwrap_or_default()
            ))
            .map(|line| line.trim().to_owned()),
        ),
        text(address.phone_number),
    ]
    .into_iter()
    .flatten()
    .collect();
    let payment_descriptor = session
        .payment_preferences
        .unwrap_or_default()
        .into_iter()
        .find_map(|p| p.payment_descriptor)
        .unwrap_or_default();
    BlockView::Review { amazon_checkout_session_id: id.clone(), shipping_address, payment_descriptor }
}

/// What one block shows for this shopper. A button comes with its display options only: its
/// payload is signed when the shopper clicks it ([`sign`]), so that a page view signs nothing.
fn view(app: &AppState, context: &Context<'_>, spec: &BlockSpec) -> BlockView {
    let session = context.session;
    let (product_type, estimated) = match (spec.kind, &session.member) {
        (BlockKind::Checkout | BlockKind::Review, _) if !context.amazon_pay => {
            return BlockView::Nothing;
        }
        (BlockKind::Review, _) => return context.review.clone(),
        (BlockKind::Checkout, _) => match (unavailable(context.cart), context.cart) {
            (None, Some(cart)) => (ProductType::PayAndShip, Some(Price::yen(cart.total()))),
            (reason, _) => {
                return BlockView::Unavailable { reason: reason.unwrap_or(UnavailableReason::CartEmpty) };
            }
        },
        (BlockKind::Login, None) => (ProductType::SignIn, None),
        (BlockKind::Mypage, Some(member)) if !member.linked => (ProductType::SignIn, None),
        (BlockKind::Mypage, Some(_)) => return BlockView::Linked,
        (BlockKind::Login, Some(_)) | (BlockKind::Mypage, None) | (BlockKind::Notice, _) => {
            return BlockView::Nothing;
        }
    };
    let mut options = options(app, spec, product_type);
    options.estimated_order_amount = estimated;
    BlockView::Button { options: Box::new(options) }
}

/// `POST /api/amazonpay2/buttons/sign`: the signed payload of the button the shopper clicked,
/// built from this session alone (the request names only the kind of block).
pub async fn sign(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<SignRequest>, JsonRejection>,
) -> Result<(CookieJar, [(&'static str, &'static str); 1], Json<InitCheckout>), ApiError> {
    let session = existing_session(&app, &jar, &headers)?;
    let Json(request) = body?;
    let builder = PayloadBuilder { origin: &app.config.shop_origin, amazon: &app.config.amazon };
    let no_button = || {
        ApiError::client(StatusCode::CONFLICT, "no_button", "This block shows no Amazon button now; reload the page.")
    };
    let (product_type, payload, estimated) = match (request.kind, &session.member) {
        (BlockKind::Login, None) => {
            remember_page(&app, &session, &headers)?;
            (ProductType::SignIn, builder.sign_in(SignInIntent::Login, &session.signin_state), None)
        }
        (BlockKind::Mypage, Some(member)) if !member.linked => {
            (ProductType::SignIn, builder.sign_in(SignInIntent::Link, &session.signin_state), None)
        }
        (BlockKind::Checkout, _) => {
            let cart = session.cart_id.as_deref().map(|id| app.store.cart(id)).transpose()?.flatten();
            if !app.store.amazon_pay_enabled()? {
                return Err(no_button());
            }
            if let Some(reason) = unavailable(cart.as_ref()) {
                return Err(ApiError::client(StatusCode::CONFLICT, "amazon_pay_unavailable", reason.code()));
            }
            let cart = cart.ok_or_else(no_button)?;
            let monthly = cart.is_recurring().then(|| cart.total());
            (ProductType::PayAndShip, builder.checkout(monthly), Some(Price::yen(cart.total())))
        }
        _ => return Err(no_button()),
    };
    let signed = app.signer.sign(payload).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (create_checkout_session_config, sign_in_config) = match product_type {
        ProductType::PayAndShip => (Some(signed), None),
        ProductType::SignIn => (None, Some(signed)),
    };
    let answer = InitCheckout {
        product_type,
        create_checkout_session_config,
        sign_in_config,
        estimated_order_amount: estimated,
    };
    Ok((jar, no_store(), Json(answer)))
}

/// Where a guest who signs in with Amazon returns to: the page with the login block (from
/// `Referer`, same origin only; the shop's own pages are the only candidates).
fn remember_page(app: &AppState, session: &Session, headers: &HeaderMap) -> Result<(), ApiError> {
    let referer = headers.get(axum::http::header::REFERER).and_then(|r| r.to_str().ok());
    let path = referer
        .and_then(|r| r.strip_prefix(app.config.shop_origin.as_str()))
        .filter(|path| is_local_path(path))
        .filter(|path| !path.starts_with(super::paths::API))
        // The member pages are the way to a login, not a place to come back to.
        .filter(|path| {
            let pages = &app.config.pages;
            let page = path.split(['?', '#']).next().unwrap_or_default();
            page != pages.login && page != pages.signup
        });
    match path {
        Some(path) => Ok(app.sessions.set_return_to(session, path)?),
        None => Ok(()),
    }
}

fn options(app: &AppState, spec: &BlockSpec, product_type: ProductType) -> RenderButtonOptions {
    RenderButtonOptions {
        merchant_id: app.config.amazon.merchant_id.clone(),
        ledger_currency: "JPY".to_owned(),
        checkout_language: "ja_JP".to_owned(),
        sandbox: app.config.amazon.sandbox,
        placement: spec.placement,
        product_type,
        button_color: spec.button_color,
        estimated_order_amount: None,
        create_checkout_session_config: None,
        sign_in_config: None,
    }
}
