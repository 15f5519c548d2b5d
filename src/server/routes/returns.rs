//! Where Amazon sends the shopper back: the signed return URLs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use aws_lc_rs::digest::{SHA256, digest};

use crate::server::AppState;
use crate::server::html::{escape, page};
use crate::server::payloads::SignInIntent;
use crate::server::session::Member;

/// Amazon's tokens and IDs are short printable ASCII; anything else is not from Amazon.
const MAX_TOKEN_LEN: usize = 1024;

/// `GET /api/amazonpay2/signin/return?intent=…&state=…&buyerToken=…`.
///
/// The state must be this browser's own: a return URL copied from someone else's session (or
/// forged) is refused, so nobody can be logged in or linked through a link they were sent.
pub async fn signin_return(
    State(app): State<Arc<AppState>>,
    jar: CookieJar,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(intent) = query.get("intent").and_then(|i| SignInIntent::parse(i)) else {
        return refused("戻り先の指定が正しくありません。");
    };
    let Some(session) = app.sessions.find(&jar) else {
        return refused("セッションが見つかりません。Cookie を有効にして、もう一度お試しください。");
    };
    let state_matches = query.get("state").is_some_and(|state| {
        digest(&SHA256, state.as_bytes()).as_ref()
            == digest(&SHA256, session.signin_state.as_bytes()).as_ref()
    });
    if !state_matches {
        tracing::warn!("sign-in return with a foreign or missing state refused");
        return refused("このサインインは別のブラウザーまたは古いページから開始されたため、受け付けられません。");
    }
    let Some(buyer_token) = query.get("buyerToken").filter(|t| is_token(t)) else {
        return refused("Amazon からの応答にトークンがありません。もう一度お試しください。");
    };
    tracing::info!(intent = intent.as_str(), token_len = buyer_token.len(), "Amazon sign-in returned");
    match (intent, session.member.clone()) {
        (SignInIntent::Link, Some(member)) => {
            let linked = Some(Member { linked: true, ..member });
            let (_, jar) = app.sessions.renew(jar, &session, linked);
            (jar, Redirect::to("/mypage/?amazonpay2=linked")).into_response()
        }
        (SignInIntent::Link, None) => refused("連携するには、先に会員としてログインしてください。"),
        (SignInIntent::Login, member) => {
            // The state works once: a reload or a copied URL cannot replay this return.
            let (_, jar) = app.sessions.renew(jar, &session, member);
            (jar, signed_in_page()).into_response()
        }
    }
}

fn signed_in_page() -> Html<String> {
    Html(page(
            "Amazon サインイン",
            STYLE,
            "<main><h1>Amazon アカウントでサインインしました</h1>\
             <p>Amazon からの戻りを確認しました。</p><p><a href=\"/\">トップページへ</a></p></main>",
    ))
}

/// `GET /api/amazonpay2/checkout/review?amazonCheckoutSessionId=…`: on to the shop's order
/// confirmation page.
pub async fn checkout_review(Query(query): Query<HashMap<String, String>>) -> Response {
    match query.get("amazonCheckoutSessionId").filter(|id| is_token(id)) {
        Some(id) => Redirect::to(&format!("/shopping/confirm.html?amazonCheckoutSessionId={id}"))
            .into_response(),
        None => refused("Amazon からの応答に購入手続きの ID がありません。もう一度お試しください。"),
    }
}

fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_TOKEN_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn refused(reason: &str) -> Response {
    let body = format!(
        "<main><h1>Amazon Pay の処理を続けられませんでした</h1><p>{}</p>\
         <p><a href=\"/\">トップページへ戻る</a></p></main>",
        escape(reason)
    );
    (StatusCode::BAD_REQUEST, Html(page("Amazon Pay", STYLE, &body))).into_response()
}

const STYLE: &str = "body{font-family:sans-serif;margin:2rem;line-height:1.7;color:#222}";
