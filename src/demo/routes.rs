//! The demo shop's own endpoints under `/api/amazonpay2/demo/` (demo mode only): its member system
//! (sign-up, password login, logout), its catalogue and cart, and My Page's orders.
//!
//! A real cart platform has all of these already. What it needs from the Amazon side is small: the
//! sign-up prefill (`GET /signup/prefill`) and, after its own sign-up or login,
//! [`link_waiting`], which links the Amazon account the shopper signed in with.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};

use crate::core::platform::{CartId, MemberId};
use crate::core::settings::notice_url;
use crate::server::ApiError;
use crate::server::AppState;
use crate::server::logins::{self, Checked};
use crate::server::routes::{existing_session, link_waiting, log_in, log_out, no_store};
use crate::server::session::Session;
use crate::storage::NewMember;

/// The 47 prefectures, as the sign-up form's select offers them.
pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

/// The sign-up form. `linkAmazon`: the shopper ticked 「Amazon アカウントと連携する」 (needed when
/// the e-mail is not the one Amazon verified).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignUp {
    email: String,
    password: String,
    family_name: String,
    given_name: String,
    family_kana: String,
    given_kana: String,
    postal_code: String,
    prefecture: String,
    address1: String,
    #[serde(default)]
    address2: String,
    phone: String,
    #[serde(default)]
    link_amazon: bool,
}

/// The login form (`linkAmazon` as for sign-up).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
    #[serde(default)]
    link_amazon: bool,
}

/// Where the page goes next, and what happened to a pending Amazon link.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    /// A same-origin path, with the notice for the widget.
    redirect: String,
}

type Reply = (CookieJar, [(&'static str, &'static str); 1], Json<Done>);

/// `POST /api/amazonpay2/demo/signup`.
pub async fn sign_up(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<SignUp>, JsonRejection>,
) -> Result<Reply, ApiError> {
    let session = existing_session(&app, &jar, &headers).await?;
    let Json(form) = body?;
    let member = validate(form.clone_member())?;
    check_password(&form.password)?;
    // Argon2 is deliberately heavy: off the async workers, within the bound on checks at once.
    let hash = match logins::checks().hash(&form.password).await {
        Ok(hash) => hash.map_err(ApiError::Internal)?,
        Err(logins::CheckError::Busy) => return Err(busy()),
        Err(failed @ logins::CheckError::Failed(_)) => return Err(ApiError::Internal(failed.to_string())),
    };
    let Some(member_id) = app.db.create_member(&member, &hash).await? else {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            "email_taken",
            "このメールアドレスは既に登録されています。ログインしてください。",
        ));
    };
    finish(&app, jar, &session, member_id, form.link_amazon).await
}

/// `POST /api/amazonpay2/demo/login`: counted against the e-mail before the password is
/// checked, and within the server's bound on password checks at once (see
/// [`crate::server::logins`]), as the admin's login is.
pub async fn log_in_with_password(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Reply, ApiError> {
    let session = existing_session(&app, &jar, &headers).await?;
    let Json(form) = body?;
    let email = form.email.trim();
    let failed = || {
        ApiError::client(StatusCode::UNAUTHORIZED, "login_failed", "メールアドレスまたはパスワードが正しくありません。")
    };
    if email.is_empty() || email.len() > 254 {
        // No member can have this e-mail: nothing to check.
        return Err(failed());
    }
    let member = app.core.platform().member_by_email(email).await?;
    let hash = match &member {
        Some(member) => app.db.password_hash(member.id).await?,
        None => None,
    };
    // An unknown e-mail is checked against a hash nobody can match and counted alike, so that
    // neither the time taken nor the lock tells which addresses are members.
    let subject = format!("member:{}", email.to_lowercase());
    match logins::check(&app.db, logins::checks(), &subject, hash, &form.password).await? {
        Checked::Valid => {}
        Checked::Invalid => return Err(failed()),
        Checked::Locked => {
            return Err(ApiError::client(
                StatusCode::TOO_MANY_REQUESTS,
                "login_locked",
                "ログインに続けて失敗したため、このメールアドレスでは 15 分間ログインできません。\
                 (Too many failed logins: this e-mail address is locked for 15 minutes.)",
            ));
        }
        Checked::Busy => return Err(busy()),
    }
    match member {
        Some(member) => finish(&app, jar, &session, member.id, form.link_amazon).await,
        None => Err(failed()),
    }
}

/// Too many password checks at once on this server.
fn busy() -> ApiError {
    ApiError::client(
        StatusCode::TOO_MANY_REQUESTS,
        "busy",
        "ただいま混み合っています。少し待ってからもう一度お試しください。(Too many logins at this moment; please try again shortly.)",
    )
}

/// `POST /api/amazonpay2/demo/logout`.
pub async fn log_out_member(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Reply, ApiError> {
    let session = existing_session(&app, &jar, &headers).await?;
    let (_, jar) = log_out(&app, jar, &session).await?;
    Ok((jar, no_store(), Json(Done { redirect: "/".to_owned() })))
}

/// Links the Amazon account waiting in the session (if the member may have it), then logs the
/// member in (a new session).
async fn finish(
    app: &AppState,
    jar: CookieJar,
    session: &Session,
    member: MemberId,
    link_confirmed: bool,
) -> Result<Reply, ApiError> {
    let notice = link_waiting(app, session, member, link_confirmed).await?;
    let (_, jar) = log_in(app, jar, session, member).await?;
    let path = session.return_to.clone().unwrap_or_else(|| app.config.pages.mypage.clone());
    let redirect = match notice {
        Some(notice) => notice_url(&path, notice),
        None => path,
    };
    Ok((jar, no_store(), Json(Done { redirect })))
}

impl SignUp {
    fn clone_member(&self) -> NewMember {
        NewMember {
            email: self.email.trim().to_owned(),
            family_name: self.family_name.trim().to_owned(),
            given_name: self.given_name.trim().to_owned(),
            family_kana: self.family_kana.trim().to_owned(),
            given_kana: self.given_kana.trim().to_owned(),
            postal_code: self.postal_code.trim().to_owned(),
            prefecture: self.prefecture.trim().to_owned(),
            address1: self.address1.trim().to_owned(),
            address2: self.address2.trim().to_owned(),
            phone: self.phone.trim().to_owned(),
        }
    }
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::bad_request(field, message)
}

/// The shop's own rules for its members' details.
fn validate(member: NewMember) -> Result<NewMember, ApiError> {
    let short = |value: &str, max: usize| !value.is_empty() && value.chars().count() <= max;
    let email_ok = member.email.len() <= 254
        && !member.email.chars().any(char::is_whitespace)
        && member.email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        });
    if !email_ok {
        return Err(invalid("invalid_email", "メールアドレスを正しく入力してください。"));
    }
    if !short(&member.family_name, 50) || !short(&member.given_name, 50) {
        return Err(invalid("invalid_name", "お名前（姓・名）を入力してください。"));
    }
    let katakana = |value: &str| {
        short(value, 50) && value.chars().all(|c| matches!(c, 'ァ'..='ヶ' | 'ー' | '・' | '\u{3000}' | ' '))
    };
    if !katakana(&member.family_kana) || !katakana(&member.given_kana) {
        return Err(invalid("invalid_kana", "フリガナ（セイ・メイ）を全角カタカナで入力してください。"));
    }
    let digits: String = member.postal_code.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 7 || member.postal_code.len() > 8 {
        return Err(invalid("invalid_postal_code", "郵便番号を7桁で入力してください。"));
    }
    if !PREFECTURES.contains(&member.prefecture.as_str()) {
        return Err(invalid("invalid_prefecture", "都道府県を選択してください。"));
    }
    if !short(&member.address1, 180) || member.address2.chars().count() > 120 {
        return Err(invalid("invalid_address", "住所を入力してください。"));
    }
    let phone_digits = member.phone.chars().filter(char::is_ascii_digit).count();
    if !(10..=11).contains(&phone_digits) || !member.phone.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return Err(invalid("invalid_phone", "電話番号を正しく入力してください。"));
    }
    Ok(NewMember { postal_code: format!("{}-{}", &digits[..3], &digits[3..]), ..member })
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < 8 || password.len() > 128 {
        return Err(invalid("invalid_password", "パスワードは8文字以上で入力してください。"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> NewMember {
        NewMember {
            email: "taro@example.jp".into(),
            family_name: "山田".into(),
            given_name: "太郎".into(),
            family_kana: "ヤマダ".into(),
            given_kana: "タロウ".into(),
            postal_code: "1530064".into(),
            prefecture: "東京都".into(),
            address1: "目黒区下目黒1-8-1".into(),
            address2: String::new(),
            phone: "03-1234-5678".into(),
        }
    }

    #[test]
    fn valid_details_pass_with_the_postal_code_normalised() {
        assert_eq!(validate(form()).unwrap().postal_code, "153-0064");
    }

    #[test]
    fn bad_details_name_the_field() {
        type Spoil = fn(&mut NewMember);
        let cases: [(Spoil, &str); 6] = [
            (|m| m.email = "taro@mail@example.jp".into(), "invalid_email"),
            (|m| m.family_kana = "やまだ".into(), "invalid_kana"),
            (|m| m.postal_code = "153".into(), "invalid_postal_code"),
            (|m| m.prefecture = "東京".into(), "invalid_prefecture"),
            (|m| m.phone = "<script>".into(), "invalid_phone"),
            (|m| m.given_name = "x".repeat(51), "invalid_name"),
        ];
        for (spoil, code) in cases {
            let mut member = form();
            spoil(&mut member);
            match validate(member) {
                Err(ApiError::Client { code: got, .. }) => assert_eq!(got, code),
                other => panic!("{code}: {other:?}"),
            }
        }
    }
}

/// The catalogue and shipping methods, for the demo pages.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalogue {
    /// The shop's name (each shop of a deployment has its own).
    store_name: Option<String>,
    products: Vec<ProductJson>,
    shipping_methods: Vec<ShippingJson>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProductJson {
    id: i64,
    name: String,
    price: u64,
    recurring: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ShippingJson {
    id: i64,
    name: String,
    fee: u64,
    amazon_pay_allowed: bool,
}

/// `GET /api/amazonpay2/demo/catalogue`.
pub async fn catalogue(Extension(app): Extension<Arc<AppState>>) -> Result<Json<Catalogue>, ApiError> {
    let products = app
        .db
        .products()
        .await?
        .into_iter()
        .map(|p| ProductJson { id: p.id, name: p.name, price: p.price, recurring: p.recurring })
        .collect();
    let shipping_methods = app
        .db
        .shipping_methods()
        .await?
        .into_iter()
        .map(|s| ShippingJson { id: s.id, name: s.name, fee: s.fee, amazon_pay_allowed: s.amazon_pay_allowed })
        .collect();
    Ok(Json(Catalogue { store_name: app.config.store_name.clone(), products, shipping_methods }))
}

/// The cart as the demo pages show it.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartJson {
    lines: Vec<CartLineJson>,
    shipping_method_id: i64,
    shipping_fee: u64,
    total: u64,
    recurring: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CartLineJson {
    product_id: i64,
    name: String,
    price: u64,
    quantity: u64,
}

/// A change to the cart: a product's quantity (0 removes it), or the shipping method.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CartChange {
    #[serde(default)]
    product_id: Option<i64>,
    #[serde(default)]
    quantity: Option<u64>,
    #[serde(default)]
    shipping_method_id: Option<i64>,
}

/// `GET /api/amazonpay2/demo/cart`: the shopper's cart, or an empty one (nothing is made for a
/// shopper who only looks).
pub async fn cart(Extension(app): Extension<Arc<AppState>>, jar: CookieJar) -> Result<Json<CartJson>, ApiError> {
    let cart = match app.sessions.find(&jar).await?.and_then(|s| s.cart) {
        Some(cart) => cart_json(&app, &cart).await?,
        None => {
            let first = app.db.shipping_methods().await?.into_iter().next();
            CartJson { shipping_method_id: first.map_or(0, |m| m.id), ..CartJson::default() }
        }
    };
    Ok(Json(cart))
}

/// `POST /api/amazonpay2/demo/cart`.
pub async fn update_cart(
    Extension(app): Extension<Arc<AppState>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<CartChange>, JsonRejection>,
) -> Result<(CookieJar, Json<CartJson>), ApiError> {
    let mut session = existing_session(&app, &jar, &headers).await?;
    let Json(change) = body?;
    if change.quantity.is_some_and(|quantity| quantity > 99) {
        return Err(invalid("invalid_quantity", "数量は 0〜99 で指定してください。"));
    }
    let (cart, jar) = app.sessions.cart(jar, &mut session).await?;
    if let Some(product_id) = change.product_id
        && !app.db.set_cart_item(&cart, product_id, change.quantity.unwrap_or(1)).await?
    {
        return Err(ApiError::client(StatusCode::NOT_FOUND, "unknown_product", "その商品はありません。"));
    }
    if let Some(method) = change.shipping_method_id
        && !app.db.set_cart_shipping(&cart, method).await?
    {
        return Err(ApiError::client(StatusCode::NOT_FOUND, "unknown_shipping_method", "その配送方法はありません。"));
    }
    Ok((jar, Json(cart_json(&app, &cart).await?)))
}

async fn cart_json(app: &AppState, cart: &CartId) -> Result<CartJson, ApiError> {
    let cart = app.core.platform().cart(cart).await?.ok_or_else(|| ApiError::Internal("cart vanished".into()))?;
    Ok(CartJson {
        shipping_method_id: cart.shipping.id,
        shipping_fee: cart.shipping.fee,
        total: cart.total(),
        recurring: cart.is_recurring(),
        lines: cart
            .lines
            .into_iter()
            .map(|l| CartLineJson { product_id: l.product_id, name: l.name, price: l.unit_price, quantity: l.quantity })
            .collect(),
    })
}

/// A member's orders and subscriptions (My Page).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    orders: Vec<OrderJson>,
    subscriptions: Vec<SubscriptionJson>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderJson {
    order_number: String,
    total: u64,
    recurring: bool,
    /// 仮売上, 決済保留, カード未決済 …
    credit_status: &'static str,
    charge_id: Option<String>,
    note: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionJson {
    /// What My Page's 解約 button names.
    id: i64,
    amount: u64,
    next_cycle: String,
    charge_permission_id: String,
}

/// `GET /api/amazonpay2/demo/orders`.
pub async fn orders(Extension(app): Extension<Arc<AppState>>, jar: CookieJar) -> Result<Json<History>, ApiError> {
    let member = app
        .sessions
        .find(&jar)
        .await?
        .and_then(|s| s.member)
        .ok_or_else(|| ApiError::client(StatusCode::UNAUTHORIZED, "login_required", "ログインしてください。"))?;
    let orders = app
        .db
        .orders_of_member(member.id)
        .await?
        .into_iter()
        .map(|o| OrderJson {
            credit_status: o.state.credit_status(),
            order_number: o.number,
            total: o.total,
            recurring: o.recurring,
            charge_id: o.charge_id,
            note: o.note,
        })
        .collect();
    let subscriptions = app
        .db
        .subscriptions_of_member(member.id)
        .await?
        .into_iter()
        .map(|s| SubscriptionJson {
            id: s.id.0,
            amount: s.amount,
            next_cycle: s.next_cycle,
            charge_permission_id: s.charge_permission_id,
        })
        .collect();
    Ok(Json(History { orders, subscriptions }))
}

/// `POST /api/amazonpay2/demo/subscriptions/{id}/cancel`: the member cancels one of their
/// subscriptions (定期購入の解約) on My Page. Its recurring charge permission is closed at Amazon
/// first, so that nothing more can be charged; then no more cycles are made.
pub async fn cancel_subscription(
    Extension(app): Extension<Arc<AppState>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Json<History>, ApiError> {
    let session = existing_session(&app, &jar, &headers).await?;
    let member = session
        .member
        .ok_or_else(|| ApiError::client(StatusCode::UNAUTHORIZED, "login_required", "ログインしてください。"))?;
    let not_found = || ApiError::client(StatusCode::NOT_FOUND, "unknown_subscription", "その定期購入はありません。");
    let id = id.parse::<i64>().map_err(|_| not_found())?;
    let subscription =
        app.db.subscriptions_of_member(member.id).await?.into_iter().find(|s| s.id.0 == id).ok_or_else(not_found)?;
    match app.core.close_subscription(&subscription.charge_permission_id).await? {
        Ok(()) => {}
        Err(refusal) => {
            tracing::warn!(
                ?refusal,
                subscription = id,
                "Amazon Pay would not close the subscription's charge permission"
            );
            return Err(ApiError::client(StatusCode::BAD_GATEWAY, "amazon_unavailable", refusal.message_ja()));
        }
    }
    orders(Extension(app), jar).await
}
