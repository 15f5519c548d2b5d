//! Where Amazon sends the shopper back: the signed return URLs.
//!
//! Outcomes are redirects to the shop's own pages with `?amazonpay2=<notice>`; the widget on
//! that page shows the notice in the shopper's language.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use crate::contract::Notice;
use crate::core::AmazonError;
use crate::core::payloads::SignInIntent;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::session::{Session, now};
use crate::server::store::LinkRefusal;

/// Amazon's tokens and IDs are short printable ASCII; anything else is not from Amazon.
const MAX_TOKEN_LEN: usize = 1024;

/// `GET /api/amazonpay2/signin/return?intent=…&state=…&buyerToken=…`.
///
/// The state must be this browser's own and works once: a return URL copied from someone
/// else's session, forged or replayed, logs nobody in and links nothing. The buyer is then
/// asked of Amazon (getBuyer), never taken from the URL.
pub async fn signin_return(
    State(app): State<Arc<AppState>>,
    jar: CookieJar,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let home = "/";
    let Some(session) = app.sessions.find(&jar)? else {
        return Ok(to_page(home, Notice::ReturnRefused));
    };
    let back = session.return_to.clone().unwrap_or_else(|| home.to_owned());
    let state_matches = query.get("state").is_some_and(|state| {
        digest(&SHA256, state.as_bytes()).as_ref() == digest(&SHA256, session.signin_state.as_bytes()).as_ref()
    });
    let intent = query.get("intent").and_then(|i| SignInIntent::parse(i));
    let (Some(intent), true) = (intent, state_matches) else {
        tracing::warn!("sign-in return with a foreign, used or missing state refused");
        return Ok(to_page(&back, Notice::ReturnRefused));
    };
    // From here on the state is spent, whatever the outcome.
    let (session, jar) = app.sessions.renew(jar, &session, session.member.as_ref().map(|m| m.id), None)?;
    let Some(token) = query.get("buyerToken").filter(|t| is_token(t)) else {
        return Ok((jar, to_page(&back, Notice::AmazonTokenInvalid)).into_response());
    };
    let buyer = match app.amazon.get_buyer(token).await {
        Ok(buyer) => buyer,
        // 400/404: the token is unknown, expired or used; the shopper can simply try again.
        Err(AmazonError::Rejected { status: 400 | 404, reason_code, .. }) => {
            tracing::warn!(%reason_code, "getBuyer refused the buyer token");
            return Ok((jar, to_page(&back, Notice::AmazonTokenInvalid)).into_response());
        }
        Err(error) => {
            tracing::error!(%error, "getBuyer failed");
            return Ok((jar, to_page(&back, Notice::AmazonUnavailable)).into_response());
        }
    };
    let pages = &app.config.pages;
    let (jar, page, notice) = match intent {
        SignInIntent::Login => {
            if let Some(member) = app.store.member_by_buyer(&buyer.buyer_id)? {
                let (_, jar) = app.sessions.renew(jar, &session, Some(member.id), None)?;
                (jar, back.as_str(), Notice::SignedIn)
            } else if buyer.email.as_deref().map(|e| app.store.member_by_email(e)).transpose()?.flatten().is_some() {
                // Same e-mail as a member, but an e-mail alone proves nothing: the member logs in
                // with their password, and only then is the account linked.
                let (_, jar) = app.sessions.renew(jar, &session, None, Some(&buyer))?;
                (jar, pages.login.as_str(), Notice::EmailExists)
            } else {
                let (_, jar) = app.sessions.renew(jar, &session, None, Some(&buyer))?;
                (jar, pages.signup.as_str(), Notice::SignupPrefilled)
            }
        }
        SignInIntent::Link => match &session.member {
            None => (jar, pages.login.as_str(), Notice::LoginRequired),
            Some(member) => match app.store.link(member.id, &buyer.buyer_id, now())? {
                Ok(()) => (jar, pages.mypage.as_str(), Notice::Linked),
                Err(LinkRefusal::MemberLinked) => (jar, pages.mypage.as_str(), Notice::AlreadyLinked),
                Err(LinkRefusal::BuyerTaken) => (jar, pages.mypage.as_str(), Notice::BuyerTaken),
            },
        },
    };
    Ok((jar, to_page(page, notice)).into_response())
}

/// Links a verified Amazon buyer waiting in the session to the member who just proved who they
/// are (sign-up or password login). The seam a cart platform calls after its own login.
pub fn link_pending(app: &AppState, session: &Session, member_id: i64) -> Result<Option<Notice>, ApiError> {
    let Some(buyer) = &session.pending_buyer else {
        return Ok(None);
    };
    Ok(Some(match app.store.link(member_id, &buyer.buyer_id, now())? {
        Ok(()) => Notice::Linked,
        Err(LinkRefusal::MemberLinked) => Notice::AlreadyLinked,
        Err(LinkRefusal::BuyerTaken) => Notice::BuyerTaken,
    }))
}

/// Whether a value could be one of Amazon's tokens or IDs.
pub fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_TOKEN_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A redirect to a shop page carrying a notice for the widget to show.
pub fn to_page(path: &str, notice: Notice) -> Response {
    Redirect::to(&notice_url(path, notice)).into_response()
}

/// A shop page's address carrying a notice for the widget (`?amazonpay2=<code>`).
pub fn notice_url(path: &str, notice: Notice) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}amazonpay2={}", notice.code())
}
