//! Where Amazon sends a shopper back from signing in, and logging in and out as the session sees
//! it.
//!
//! Outcomes are redirects to the shop's own pages with `?amazonpay2=<notice>`; the widget on that
//! page shows the notice in the shopper's language.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::{is_token, to_page};
use crate::contract::Notice;
use crate::core::payloads::SignInIntent;
use crate::core::platform::{LinkRefusal, MemberId};
use crate::core::signin::SignIn;
use crate::core::{CoreError, secrets_equal};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::session::{Identity, Session};

/// `GET /api/amazonpay2/signin/return?intent=…&state=…&buyerToken=…`.
///
/// The state must be this browser's own and works once: a return URL copied from someone else's
/// session, forged or replayed, logs nobody in and links nothing. The buyer is then asked of
/// Amazon (getBuyer), never taken from the URL.
pub async fn signin_return(
    Extension(app): Extension<Arc<AppState>>,
    jar: CookieJar,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let home = "/";
    let Some(session) = app.sessions.find(&jar).await? else {
        return Ok(to_page(home, Notice::ReturnRefused));
    };
    let back = session.return_to.clone().unwrap_or_else(|| home.to_owned());
    let state_matches = query.get("state").is_some_and(|state| secrets_equal(state, &session.signin_state));
    let intent = query.get("intent").and_then(|i| SignInIntent::parse(i));
    let (Some(intent), true) = (intent, state_matches) else {
        tracing::warn!("sign-in return with a foreign, used or missing state refused");
        return Ok(to_page(&back, Notice::ReturnRefused));
    };
    // From here on the state is spent, whatever the outcome.
    let member = session.member.as_ref().map(|m| m.id);
    let same =
        Identity { member, cart: session.cart.clone(), return_to: session.return_to.clone(), pending_buyer: None };
    let (session, jar) = app.sessions.renew(jar, &session, same).await?;
    let Some(token) = query.get("buyerToken").filter(|t| is_token(t)) else {
        return Ok((jar, to_page(&back, Notice::AmazonTokenInvalid)).into_response());
    };
    let outcome = match app.core.sign_in(intent, member, token).await {
        Ok(outcome) => outcome,
        Err(CoreError::Amazon(error)) => {
            tracing::error!(%error, "getBuyer failed");
            return Ok((jar, to_page(&back, Notice::AmazonUnavailable)).into_response());
        }
        Err(error) => return Err(error.into()),
    };
    let pages = &app.config.pages;
    let waiting = |buyer| Identity {
        member: None,
        cart: session.cart.clone(),
        return_to: session.return_to.clone(),
        pending_buyer: Some(buyer),
    };
    let (jar, page, notice) = match outcome {
        SignIn::LogIn(member) => (log_in(&app, jar, &session, member).await?.1, back.as_str(), Notice::SignedIn),
        SignIn::PasswordFirst(buyer) => {
            // An e-mail alone proves nothing: the member logs in with their password, and only
            // then is the account linked.
            (app.sessions.renew(jar, &session, waiting(buyer)).await?.1, pages.login.as_str(), Notice::EmailExists)
        }
        SignIn::SignUp(buyer) => {
            (app.sessions.renew(jar, &session, waiting(buyer)).await?.1, pages.signup.as_str(), Notice::SignupPrefilled)
        }
        SignIn::Link(Ok(())) => (jar, pages.mypage.as_str(), Notice::Linked),
        SignIn::Link(Err(LinkRefusal::MemberLinked)) => (jar, pages.mypage.as_str(), Notice::AlreadyLinked),
        SignIn::Link(Err(LinkRefusal::BuyerTaken)) => (jar, pages.mypage.as_str(), Notice::BuyerTaken),
        SignIn::LoginRequired => (jar, pages.login.as_str(), Notice::LoginRequired),
        SignIn::TokenRefused => (jar, back.as_str(), Notice::AmazonTokenInvalid),
    };
    Ok((jar, to_page(page, notice)).into_response())
}

/// `GET /api/amazonpay2/signin/cancel`: the shopper cancelled on Amazon's sign-in page; back to
/// where they were.
pub async fn signin_cancel(Extension(app): Extension<Arc<AppState>>, jar: CookieJar) -> Result<Response, ApiError> {
    let back = app.sessions.find(&jar).await?.and_then(|s| s.return_to).unwrap_or_else(|| "/".to_owned());
    Ok(to_page(&back, Notice::SignInCanceled))
}

/// Logs `member` in: a new session (an ID planted before is worthless after). A guest's cart
/// stays, its Amazon checkout does not (the address and card were chosen before the login);
/// another member's cart is not handed on.
pub async fn log_in(
    app: &AppState,
    jar: CookieJar,
    session: &Session,
    member: MemberId,
) -> Result<(Session, CookieJar), ApiError> {
    let keeps_cart = session.member.as_ref().is_none_or(|m| m.id == member);
    let cart = session.cart.clone().filter(|_| keeps_cart);
    if let Some(cart) = &cart {
        app.core.platform().forget_checkout(cart).await?;
    }
    let identity = Identity { member: Some(member), cart, return_to: session.return_to.clone(), pending_buyer: None };
    Ok(app.sessions.renew(jar, session, identity).await?)
}

/// Logs out: a new, empty session. The cart, its Amazon checkout (address, phone, card) and any
/// Amazon account waiting to be linked stay behind, so the next person at the same device sees
/// none of them.
pub async fn log_out(app: &AppState, jar: CookieJar, session: &Session) -> Result<(Session, CookieJar), ApiError> {
    Ok(app.sessions.renew(jar, session, Identity::default()).await?)
}

/// Links the verified Amazon buyer waiting in the session to the member who just proved who they
/// are (sign-up or password login); `confirmed` when the member ticked the link explicitly (their
/// e-mail is not the one Amazon verified). The seam a cart platform calls after its own login.
pub async fn link_waiting(
    app: &AppState,
    session: &Session,
    member: MemberId,
    confirmed: bool,
) -> Result<Option<Notice>, ApiError> {
    let Some(buyer) = &session.pending_buyer else { return Ok(None) };
    let Some(member) = app.core.platform().member(member).await? else { return Ok(None) };
    Ok(Some(app.core.link_waiting(buyer, &member, confirmed).await?))
}
