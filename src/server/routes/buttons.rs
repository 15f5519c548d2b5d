//! `POST /api/amazonpay2/buttons`, every block of a page answered in one request, and
//! `POST /api/amazonpay2/buttons/sign`, the signed payload of a button the shopper clicked.
//!
//! A page view signs nothing and stores nothing: buttons are drawn with their display options,
//! and their payload is built and signed from the session when the shopper clicks (Amazon's
//! decoupled button: `renderButton` without a config, then `initCheckout` with it: the button's
//! own for a checkout, the global one for a sign-in, see [`SignAnswer`]).

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum_extra::extract::CookieJar;

use super::{existing_session, member_state, no_store};
use crate::contract::{
    BlockKind, BlockSpec, BlockView, ButtonColor, ButtonsRequest, ButtonsResponse, InitCheckout,
    MAX_BLOCKS_PER_REQUEST, Placement, Price, ProductType, RenderButtonOptions, SignAnswer, SignRequest, SignedConfig,
    UnavailableReason,
};
use crate::core::checkout::Review;
use crate::core::paths;
use crate::core::payloads::SignInIntent;
use crate::core::platform::Cart;
use crate::core::rules::unavailable;
use crate::core::settings::is_local_path;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::guard::reject_foreign_origin;
use crate::server::session::Session;
use crate::storage::SessionChange;

type Reply<T> = (CookieJar, [(&'static str, &'static str); 1], Json<T>);

/// Answers the widget: the shopper's state and, per block, a button or what to show.
pub async fn buttons(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<ButtonsRequest>, JsonRejection>,
) -> Result<Reply<ButtonsResponse>, ApiError> {
    reject_foreign_origin(&headers, &app.config.shop_origin)?;
    let Json(request) = body?;
    if !app.core.is_set_up() {
        return Err(ApiError::not_set_up());
    }
    if request.blocks.is_empty() {
        return Err(ApiError::bad_request("no_blocks", "Describe at least one block."));
    }
    if request.blocks.len() > MAX_BLOCKS_PER_REQUEST {
        return Err(ApiError::bad_request(
            "too_many_blocks",
            format!("At most {MAX_BLOCKS_PER_REQUEST} blocks per request."),
        ));
    }
    let (session, jar) = app.sessions.current(jar).await?;
    // The cart and the payment-method setting are read only for pages that sell.
    let kinds = |kind: BlockKind| request.blocks.iter().any(|b| b.kind == kind);
    let sells = kinds(BlockKind::Checkout) || kinds(BlockKind::Review);
    let platform = app.core.platform();
    let cart = match (&session.cart, sells) {
        (Some(id), true) => platform.cart(id).await?,
        _ => None,
    };
    let amazon_pay = sells && platform.amazon_pay_enabled().await?;
    let review = match (amazon_pay && kinds(BlockKind::Review), &cart) {
        (true, Some(cart)) => app.core.review(cart).await,
        _ => None,
    };
    let context = Context { session: &session, cart: cart.as_ref(), amazon_pay, review };
    let blocks = request.blocks.iter().map(|spec| view(&app, &context, spec)).collect();
    let response = ButtonsResponse {
        member: member_state(&session),
        csrf_token: session.csrf_token.clone(),
        checkout_js: app.config.checkout_js.to_string(),
        blocks,
    };
    Ok((jar, no_store(), Json(response)))
}

/// What the blocks of one page are decided from.
struct Context<'a> {
    session: &'a Session,
    cart: Option<&'a Cart>,
    amazon_pay: bool,
    review: Option<Review>,
}

/// What one block shows for this shopper.
fn view(app: &AppState, context: &Context<'_>, spec: &BlockSpec) -> BlockView {
    let (product_type, estimated) = match (spec.kind, &context.session.member) {
        (BlockKind::Checkout | BlockKind::Review, _) if !context.amazon_pay => return BlockView::Nothing,
        (BlockKind::Review, _) => {
            return match &context.review {
                Some(review) => BlockView::Review {
                    amazon_checkout_session_id: review.checkout_session_id.clone(),
                    shipping_address: review.shipping_address.clone(),
                    payment_descriptor: review.payment_descriptor.clone(),
                },
                None => BlockView::Nothing,
            };
        }
        (BlockKind::Checkout, _) => match (unavailable(context.cart), context.cart) {
            (None, Some(cart)) => (ProductType::PayAndShip, Some(Price::yen(cart.total()))),
            (reason, _) => {
                return BlockView::Unavailable { reason: reason.unwrap_or(UnavailableReason::CartEmpty) };
            }
        },
        (BlockKind::Login, None) => (ProductType::SignIn, None),
        (BlockKind::Mypage, Some(member)) if !member.linked => (ProductType::SignIn, None),
        (BlockKind::Mypage, Some(_)) => return BlockView::Linked,
        (BlockKind::Login, Some(_)) | (BlockKind::Mypage, None) | (BlockKind::Notice, _) => return BlockView::Nothing,
    };
    BlockView::Button {
        options: Box::new(display_options(app, spec.placement, spec.button_color, product_type, estimated)),
    }
}

/// The `renderButton` options of a button of this shop, without a signed config.
fn display_options(
    app: &AppState,
    placement: Placement,
    button_color: ButtonColor,
    product_type: ProductType,
    estimated_order_amount: Option<Price>,
) -> RenderButtonOptions {
    let amazon = &app.config.amazon;
    RenderButtonOptions {
        merchant_id: amazon.merchant_id.clone(),
        ledger_currency: "JPY".to_owned(),
        checkout_language: "ja_JP".to_owned(),
        sandbox: amazon.sandbox,
        placement,
        product_type,
        button_color,
        estimated_order_amount,
        create_checkout_session_config: None,
        sign_in_config: None,
    }
}

/// Signs the payload of the button the shopper clicked, built from this session alone (the
/// request names only the kind of block).
pub async fn sign(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<SignRequest>, JsonRejection>,
) -> Result<Reply<SignAnswer>, ApiError> {
    let mut session = existing_session(&app, &jar, &headers).await?;
    let Json(request) = body?;
    if !app.core.is_set_up() {
        return Err(ApiError::not_set_up());
    }
    let no_button = || {
        ApiError::client(StatusCode::CONFLICT, "no_button", "This block shows no Amazon button now; reload the page.")
    };
    // The request names only the kind: the global initCheckout gets the kind's default placement
    // (Amazon uses it for the button's artwork, and draws none here).
    let sign_in = |config: SignedConfig| {
        let placement = request.kind.default_placement();
        let options = display_options(&app, placement, ButtonColor::Gold, ProductType::SignIn, None);
        SignAnswer::SignIn(Box::new(RenderButtonOptions { sign_in_config: Some(config), ..options }))
    };
    let (jar, answer) = match (request.kind, &session.member) {
        (BlockKind::Login, None) => {
            // A sign-in is under way: the session is stored, with the page to come back to.
            let jar = match return_page(&app, &headers) {
                Some(path) => app.sessions.change(jar, &mut session, SessionChange::ReturnTo(path)).await?,
                None => jar,
            };
            (jar, sign_in(app.core.sign_in_config(SignInIntent::Login, &session.signin_state)?))
        }
        (BlockKind::Mypage, Some(member)) if !member.linked => {
            (jar, sign_in(app.core.sign_in_config(SignInIntent::Link, &session.signin_state)?))
        }
        (BlockKind::Checkout, _) => {
            let platform = app.core.platform();
            let cart = match &session.cart {
                Some(id) => platform.cart(id).await?,
                None => None,
            };
            let Some(cart) = cart else {
                return Err(ApiError::client(
                    StatusCode::CONFLICT,
                    "amazon_pay_unavailable",
                    UnavailableReason::CartEmpty.code(),
                ));
            };
            if !platform.amazon_pay_enabled().await? {
                return Err(no_button());
            }
            match app.core.checkout_config(&cart).await? {
                Ok((config, total)) => (
                    jar,
                    SignAnswer::Checkout(InitCheckout {
                        product_type: ProductType::PayAndShip,
                        create_checkout_session_config: config,
                        estimated_order_amount: Some(Price::yen(total)),
                    }),
                ),
                Err(reason) => {
                    return Err(ApiError::client(StatusCode::CONFLICT, "amazon_pay_unavailable", reason.code()));
                }
            }
        }
        _ => return Err(no_button()),
    };
    Ok((jar, no_store(), Json(answer)))
}

/// Where a guest who signs in with Amazon returns to: the page the button was on (from `Referer`,
/// same origin only; the member pages are the way to a login, not a place to come back to).
fn return_page(app: &AppState, headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER).and_then(|r| r.to_str().ok())?;
    let path = referer.strip_prefix(app.config.shop_origin.as_str())?;
    let pages = &app.config.pages;
    let page = path.split(['?', '#']).next().unwrap_or_default();
    let usable = is_local_path(path) && !path.starts_with(paths::API) && page != pages.login && page != pages.signup;
    usable.then(|| path.to_owned())
}
