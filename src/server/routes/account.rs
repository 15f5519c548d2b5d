//! The shopper's session as the page sees it, unlinking, and the sign-up prefill.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::CookieJar;
use serde::Serialize;

use super::{member_state, no_store};
use crate::amazon::types::Buyer;
use crate::contract::SessionResponse;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::guard::{check_state_change, reject_foreign_origin};
use crate::server::session::Session;

type SessionReply = (CookieJar, [(&'static str, &'static str); 1], Json<SessionResponse>);

/// `GET /api/amazonpay2/session`: member state and CSRF token, for shop scripts.
pub async fn session(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<SessionReply, ApiError> {
    reject_foreign_origin(&headers, &app.config.shop_origin)?;
    let (session, jar) = app.sessions.current(jar).await?;
    Ok(reply(jar, &session))
}

/// `DELETE /api/amazonpay2/link`: unlinks the member's Amazon account (the shop's own button).
pub async fn unlink(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<SessionReply, ApiError> {
    let session = existing_session(&app, &jar, &headers).await?;
    let member = session.member.as_ref().ok_or_else(login_required)?;
    if !app.core.platform().unlink(member.id).await? {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            "not_linked",
            "No Amazon account is linked to this member.",
        ));
    }
    let session = app.sessions.find(&jar).await?.ok_or_else(login_required)?;
    Ok(reply(jar, &session))
}

/// The sign-up form's fields, from the Amazon account (フリガナ is not among them: Amazon has
/// none).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prefill {
    /// 姓.
    pub family_name: String,
    /// 名.
    pub given_name: String,
    /// E-mail.
    pub email: String,
    /// 郵便番号 (`153-0064`).
    pub postal_code: String,
    /// 都道府県.
    pub prefecture: String,
    /// 市区町村・番地.
    pub address1: String,
    /// 建物名など.
    pub address2: String,
    /// 電話番号.
    pub phone: String,
}

impl Prefill {
    /// Maps an Amazon buyer onto a Japanese sign-up form.
    pub fn from_buyer(buyer: &Buyer) -> Self {
        let address = buyer.shipping_address.as_ref().or(buyer.billing_address.as_ref());
        let field =
            |value: Option<&Option<String>>| value.and_then(Option::as_deref).unwrap_or_default().trim().to_owned();
        let full_name = buyer.name.as_deref().unwrap_or_default().trim();
        // Amazon keeps one name field; Japanese names are written 姓 名 with a space
        // (half- or full-width). Without one, everything goes to 姓 for the shopper to split.
        let (family_name, given_name) = match full_name.split_once([' ', '\u{3000}']) {
            Some((family, given)) => (family.trim().to_owned(), given.trim().to_owned()),
            None => (full_name.to_owned(), String::new()),
        };
        let postal =
            address.and_then(|a| a.postal_code.clone()).or_else(|| buyer.postal_code.clone()).unwrap_or_default();
        let digits: String = postal.chars().filter(char::is_ascii_digit).collect();
        let postal_code = if digits.len() == 7 { format!("{}-{}", &digits[..3], &digits[3..]) } else { postal };
        let address2 = [field(address.map(|a| &a.address_line2)), field(address.map(|a| &a.address_line3))]
            .into_iter()
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            family_name,
            given_name,
            email: buyer.email.clone().unwrap_or_default(),
            postal_code,
            prefecture: field(address.map(|a| &a.state_or_region)),
            address1: field(address.map(|a| &a.address_line1)),
            address2,
            phone: address
                .and_then(|a| a.phone_number.clone())
                .or_else(|| buyer.phone_number.clone())
                .unwrap_or_default(),
        }
    }
}

/// `GET /api/amazonpay2/signup/prefill`: the verified Amazon buyer waiting for sign-up in this
/// session, as form fields; `null` when there is none.
pub async fn prefill(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<([(&'static str, &'static str); 1], Json<Option<Prefill>>), ApiError> {
    reject_foreign_origin(&headers, &app.config.shop_origin)?;
    let session = app.sessions.find(&jar).await?;
    let prefill = session.and_then(|s| s.pending_buyer).map(|buyer| Prefill::from_buyer(&buyer));
    Ok((no_store(), Json(prefill)))
}

/// A state-changing request needs a session that already exists (it holds the CSRF token),
/// the shop's origin and the token.
pub async fn existing_session(app: &AppState, jar: &CookieJar, headers: &HeaderMap) -> Result<Session, ApiError> {
    let session = app
        .sessions
        .find(jar)
        .await?
        .ok_or_else(|| ApiError::forbidden("session_required", "No session; reload the page and try again."))?;
    check_state_change(headers, &app.config.shop_origin, &session)?;
    Ok(session)
}

fn login_required() -> ApiError {
    ApiError::client(StatusCode::UNAUTHORIZED, "login_required", "Log in as a member first.")
}

/// The session as shop scripts see it.
pub fn reply(jar: CookieJar, session: &Session) -> SessionReply {
    let response = SessionResponse { member: member_state(session), csrf_token: session.csrf_token.clone() };
    (jar, no_store(), Json(response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amazon::types::Address;

    #[test]
    fn amazon_details_fill_a_japanese_sign_up_form_without_furigana() {
        let buyer = Buyer {
            buyer_id: "amzn1.account.X".into(),
            name: Some("山田\u{3000}太郎".into()),
            email: Some("taro@example.jp".into()),
            postal_code: Some("1530064".into()),
            shipping_address: Some(Address {
                address_line1: Some("目黒区下目黒1-8-1".into()),
                address_line2: Some("アルコタワー".into()),
                address_line3: Some("5F".into()),
                state_or_region: Some("東京都".into()),
                postal_code: Some("1530064".into()),
                phone_number: Some("0312345678".into()),
                ..Address::default()
            }),
            ..Buyer::default()
        };
        assert_eq!(
            Prefill::from_buyer(&buyer),
            Prefill {
                family_name: "山田".into(),
                given_name: "太郎".into(),
                email: "taro@example.jp".into(),
                postal_code: "153-0064".into(),
                prefecture: "東京都".into(),
                address1: "目黒区下目黒1-8-1".into(),
                address2: "アルコタワー 5F".into(),
                phone: "0312345678".into(),
            }
        );
    }

    #[test]
    fn a_name_without_a_space_goes_to_the_family_name() {
        let buyer = Buyer { name: Some("やまだたろう".into()), ..Buyer::default() };
        let prefill = Prefill::from_buyer(&buyer);
        assert_eq!((prefill.family_name.as_str(), prefill.given_name.as_str()), ("やまだたろう", ""));
    }
}
