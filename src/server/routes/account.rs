//! The shopper's session as the page sees it, unlinking, and the demo's member switch.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::{member_state, no_store};
use crate::contract::SessionResponse;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::guard::{check_state_change, reject_foreign_origin};
use crate::server::session::{Member, Session};

type SessionReply = (CookieJar, [(&'static str, &'static str); 1], Json<SessionResponse>);

/// `GET /api/amazonpay2/session`: member state and CSRF token, for shop scripts.
pub async fn session(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<SessionReply, ApiError> {
    reject_foreign_origin(&headers, &app.config.shop_origin)?;
    let (session, jar) = app.sessions.find_or_start(jar);
    Ok(reply(jar, &session))
}

/// `DELETE /api/amazonpay2/link`: unlinks the member's Amazon account (the shop's own button).
pub async fn unlink(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<SessionReply, ApiError> {
    let session = existing_session(&app, &jar, &headers)?;
    let Some(member) = session.member.clone() else {
        return Err(login_required());
    };
    if !member.linked {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            "not_linked",
            "No Amazon account is linked to this member.",
        ));
    }
    let updated = app
        .sessions
        .set_member(&session.id, Some(Member { linked: false, ..member }))
        .ok_or_else(login_required)?;
    Ok(reply(jar, &updated))
}

/// The demo's stand-in for the shop's member login.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DemoLogin {
    /// Whether the demo member starts with a linked Amazon account.
    pub linked: bool,
}

/// `POST /api/amazonpay2/demo/login` (demo mode only).
pub async fn demo_login(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<DemoLogin>, JsonRejection>,
) -> Result<SessionReply, ApiError> {
    let session = existing_session(&app, &jar, &headers)?;
    let Json(login) = body?;
    let member = Member { name: "クラフト 花子".to_owned(), linked: login.linked };
    let (renewed, jar) = app.sessions.renew(jar, &session, Some(member));
    Ok(reply(jar, &renewed))
}

/// `POST /api/amazonpay2/demo/logout` (demo mode only).
pub async fn demo_logout(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<SessionReply, ApiError> {
    let session = existing_session(&app, &jar, &headers)?;
    let (renewed, jar) = app.sessions.renew(jar, &session, None);
    Ok(reply(jar, &renewed))
}

/// A state-changing request needs a session that already exists (it holds the CSRF token),
/// the shop's origin and the token.
fn existing_session(app: &AppState, jar: &CookieJar, headers: &HeaderMap) -> Result<Session, ApiError> {
    let session = app.sessions.find(jar).ok_or_else(|| {
        ApiError::forbidden("session_required", "No session; reload the page and try again.")
    })?;
    check_state_change(headers, &app.config.shop_origin, &session)?;
    Ok(session)
}

fn login_required() -> ApiError {
    ApiError::client(StatusCode::UNAUTHORIZED, "login_required", "Log in as a member first.")
}

fn reply(jar: CookieJar, session: &Session) -> SessionReply {
    let response =
        SessionResponse { member: member_state(session), csrf_token: session.csrf_token.clone() };
    (jar, no_store(), Json(response))
}
