//! The demo shop's member endpoints and unlinking in-process: sign-up, login, logout, and the
//! guards of every state-changing endpoint (see `crate::common::api` for the harness).

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, header};
use serde_json::{Value, json};

use crate::common::api::*;

// ---------------------------------------------------------------------------------------------
// The demo shop's members: sign-up, login, logout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_up_creates_the_member_and_logs_them_in_on_my_page() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let reply = browser.sign_up(sign_up_form("hanako@example.jp")).await;
    assert_eq!(reply.redirect(), "/mypage/", "no page remembered, no Amazon account waiting");
    assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-store"));
    assert_eq!(shop.member_link("hanako@example.jp").await, Some(None), "created, not linked");
    assert_eq!(browser.member_state().await, "member linked=false");
}

#[tokio::test]
async fn sign_up_trims_the_fields_and_takes_a_postal_code_without_its_hyphen() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let form = with_field(sign_up_form(" spaced@example.jp "), "postalCode", json!("1530064"));
    browser.sign_up(with_field(form, "familyName", json!("  山田 "))).await.redirect();
    assert_eq!(browser.member_state().await, "member linked=false");
    assert!(shop.member_link("spaced@example.jp").await.is_some(), "stored without the spaces");
    let name = browser.get("/api/amazonpay2/session").await.json()["member"]["name"].clone();
    assert_eq!(name, "山田 太郎");
}

#[tokio::test]
async fn each_invalid_sign_up_field_is_refused_with_its_code_and_creates_nobody() {
    let shop = Shop::demo().await;
    let long = |n: usize| json!("あ".repeat(n));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("email", json!("taro"), "invalid_email"),
        ("email", json!("taro@example"), "invalid_email"),
        ("email", json!("@example.jp"), "invalid_email"),
        ("email", json!("ta ro@example.jp"), "invalid_email"),
        ("email", json!(format!("{}@example.jp", "a".repeat(250))), "invalid_email"),
        ("password", json!("short"), "invalid_password"),
        ("password", json!("1234567"), "invalid_password"),
        ("password", json!("p".repeat(129)), "invalid_password"),
        ("familyName", json!(""), "invalid_name"),
        ("givenName", json!("   "), "invalid_name"),
        ("givenName", long(51), "invalid_name"),
        ("familyKana", json!("やまだ"), "invalid_kana"),
        ("familyKana", json!("ﾔﾏﾀﾞ"), "invalid_kana"),
        ("givenKana", json!("Taro"), "invalid_kana"),
        ("givenKana", json!(""), "invalid_kana"),
        ("postalCode", json!("153"), "invalid_postal_code"),
        ("postalCode", json!("153-00645"), "invalid_postal_code"),
        ("postalCode", json!("１５３００６４"), "invalid_postal_code"),
        ("prefecture", json!("東京"), "invalid_prefecture"),
        ("prefecture", json!("Tokyo"), "invalid_prefecture"),
        ("address1", json!(""), "invalid_address"),
        ("address1", long(181), "invalid_address"),
        ("address2", long(121), "invalid_address"),
        ("phone", json!("03-1234"), "invalid_phone"),
        ("phone", json!("090-1234-56789"), "invalid_phone"),
        ("phone", json!("<script>"), "invalid_phone"),
        ("phone", json!("+81 3 1234 5678"), "invalid_phone"),
    ];
    for (n, (field, value, code)) in cases.into_iter().enumerate() {
        let email = format!("case{n}@example.jp");
        let form = with_field(sign_up_form(&email), field, value.clone());
        let mut browser = shop.browser();
        let reply = browser.sign_up(form).await;
        assert_eq!(reply.api_error(400), code, "{field} = {value}");
        assert!(reply.header(header::SET_COOKIE).is_none(), "{field}: the session is not renewed");
        assert_eq!(browser.member_state().await, "guest", "{field}");
        assert_eq!(shop.member_link(&email).await, None, "{field} = {value}: no member created");
    }
}

#[tokio::test]
async fn an_email_with_a_second_at_sign_or_an_empty_domain_label_is_refused() {
    let shop = Shop::demo().await;
    for email in ["taro@mail@example.jp", "taro@.", "taro@.example.jp", "taro@example..jp"] {
        let mut browser = shop.browser();
        let reply = browser.sign_up(sign_up_form(email)).await;
        assert_eq!(reply.status.as_u16(), 400, "{email} was accepted");
        assert_eq!(reply.api_error(400), "invalid_email", "{email}");
        assert_eq!(shop.member_link(email).await, None, "{email}: no member created");
    }
}

#[tokio::test]
async fn sign_in_and_checkout_returns_with_mangled_queries_still_redirect() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    browser.sign_in_state().await;
    let mangled =
        ["state=%FF%FE&intent=login&buyerToken=%C3%28", "intent=login&intent=link&state=a&state=b", "%%%", "&&==&"];
    for query in mangled {
        let reply = browser.get(&format!("{SIGNIN_RETURN}?{query}")).await;
        reply.assert_notice("/", "return_refused");
        let reply = browser.get(&format!("{CHECKOUT_REVIEW}?{query}")).await;
        reply.assert_redirect_to("/shopping/cart.html?amazonpay2=return_refused");
    }
}

#[tokio::test]
async fn a_sign_up_missing_a_required_field_is_refused() {
    let shop = Shop::demo().await;
    let required = [
        "email",
        "password",
        "familyName",
        "givenName",
        "familyKana",
        "givenKana",
        "postalCode",
        "prefecture",
        "address1",
        "phone",
    ];
    for field in required {
        let form = with_field(sign_up_form("missing@example.jp"), field, Value::Null);
        assert_eq!(shop.browser().sign_up(form).await.api_error(400), "invalid_request", "{field}");
    }
    assert_eq!(shop.member_link("missing@example.jp").await, None);
}

#[tokio::test]
async fn the_building_line_is_optional() {
    let shop = Shop::demo().await;
    let form = with_field(sign_up_form("nobuilding@example.jp"), "address2", Value::Null);
    shop.browser().sign_up(form).await.redirect();
    assert!(shop.member_link("nobuilding@example.jp").await.is_some());
}

#[tokio::test]
async fn a_taken_email_is_refused_with_409_whatever_its_case() {
    let shop = Shop::demo().await;
    shop.browser().sign_up(sign_up_form("taken@example.jp")).await.redirect();
    for email in ["taken@example.jp", "TAKEN@Example.JP"] {
        let mut browser = shop.browser();
        assert_eq!(browser.sign_up(sign_up_form(email)).await.api_error(409), "email_taken", "{email}");
        assert_eq!(browser.member_state().await, "guest", "not logged in as the other member");
    }
}

#[tokio::test]
async fn login_with_the_right_password_logs_the_member_in() {
    let shop = Shop::demo().await;
    let mut member = shop.browser();
    let email = member.become_member(false).await;
    let mut browser = shop.browser();
    assert_eq!(browser.log_in(&email, PASSWORD).await.redirect(), "/mypage/");
    assert_eq!(browser.member_state().await, "member linked=false");
    let mut other_case = shop.browser();
    other_case.log_in(&email.to_uppercase(), PASSWORD).await.redirect();
    assert_eq!(other_case.member_state().await, "member linked=false", "e-mails are case-insensitive");
}

#[tokio::test]
async fn login_failures_answer_401_alike_for_an_unknown_email_and_a_wrong_password() {
    let shop = Shop::demo().await;
    let email = shop.browser().become_member(false).await;
    let mut answers = Vec::new();
    for (email, password) in
        [(email.as_str(), "wrong password"), ("nobody@example.jp", PASSWORD), (email.as_str(), ""), ("", "")]
    {
        let mut browser = shop.browser();
        let reply = browser.log_in(email, password).await;
        assert_eq!(reply.api_error(401), "login_failed", "{email} / {password}");
        assert_eq!(browser.member_state().await, "guest");
        answers.push(reply.json());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "the answers tell nothing apart: {answers:?}");
}

#[tokio::test]
async fn many_wrong_passwords_at_once_get_no_more_than_five_checks_then_the_email_is_locked() {
    let shop = Shop::demo().await;
    let email = shop.browser().become_member(false).await;
    let mut browsers: Vec<_> = (0..20).map(|_| shop.browser()).collect();
    for browser in &mut browsers {
        browser.open_session().await;
    }
    let answers =
        futures_util::future::join_all(browsers.iter_mut().map(|browser| browser.log_in(&email, "wrong password")))
            .await;
    let codes: Vec<(u16, String)> = answers
        .iter()
        .map(|reply| (reply.status.as_u16(), reply.json()["error"]["code"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let checked = codes.iter().filter(|(status, code)| *status == 401 && code == "login_failed").count();
    let refused =
        codes.iter().filter(|(status, code)| *status == 429 && (code == "login_locked" || code == "busy")).count();
    assert_eq!(checked + refused, 20, "{codes:?}");
    assert!((1..=5).contains(&checked), "{checked} wrong passwords were checked: {codes:?}");
    let counted = shop.db.login_attempts(&format!("member:{email}")).await.unwrap().count;
    assert!(counted <= 5);
    if checked == 5 {
        let mut browser = shop.browser();
        let reply = browser.log_in(&email.to_uppercase(), PASSWORD).await;
        assert_eq!(reply.api_error(429), "login_locked", "locked per e-mail, whatever its case");
        assert!(reply.json()["error"]["message"].as_str().unwrap().contains("15 分間"));
        assert_eq!(browser.member_state().await, "guest");
    }
}

#[tokio::test]
async fn logging_out_makes_the_shopper_a_guest_again() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    browser.become_member(true).await;
    assert_eq!(browser.log_out().await.redirect(), "/");
    assert_eq!(browser.member_state().await, "guest");
    browser.fill_cart().await;
    let views = browser.buttons(EVERY_KIND).await.views();
    assert_eq!(views.iter().map(view_name).collect::<Vec<_>>(), ["button", "button", "nothing"]);
}

#[tokio::test]
async fn login_renews_the_session_so_a_planted_cookie_and_the_old_token_are_worthless() {
    let shop = Shop::demo().await;
    let email = shop.browser().become_member(false).await;
    let mut browser = shop.browser();
    browser.open_session().await;
    let (old_cookie, old_token) = (browser.cookie.clone().unwrap(), browser.csrf.clone().unwrap());
    let reply = browser.log_in(&email, PASSWORD).await;
    let new_cookie = reply.header(header::SET_COOKIE).expect("a new session cookie");
    let attributes = cookie_attributes(&reply);
    for expected in ["httponly", "samesite=lax", "path=/"] {
        assert!(attributes.iter().any(|a| a == expected), "{expected} missing from {attributes:?}");
    }
    assert!(!new_cookie.starts_with(&old_cookie), "the session ID changed");
    assert_ne!(browser.csrf.as_deref(), Some(old_token.as_str()), "the CSRF token changed");
    // Whoever planted or read the old cookie is a stranger to the new session.
    let mut planted = shop.browser();
    planted.cookie = Some(old_cookie);
    assert_eq!(planted.member_state().await, "guest");
    let mut stale = browser.guarded(Method::POST, LOGOUT, Some(json!({})));
    stale.headers_mut().insert(CSRF_HEADER, old_token.parse().unwrap());
    assert_eq!(browser.send(stale).await.api_error(403), "csrf_token_invalid");
    assert_eq!(browser.member_state().await, "member linked=false");
}

#[tokio::test]
async fn sign_up_and_logout_renew_the_session_too() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    browser.open_session().await;
    let mut cookies = vec![browser.cookie.clone().unwrap()];
    browser.sign_up(sign_up_form("renew@example.jp")).await.redirect();
    cookies.push(browser.cookie.clone().unwrap());
    browser.log_out().await.redirect();
    cookies.push(browser.cookie.clone().unwrap());
    assert!(cookies[0] != cookies[1] && cookies[1] != cookies[2], "{cookies:?}");
}

#[tokio::test]
async fn the_prefill_is_null_without_an_amazon_sign_in() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    assert_eq!(browser.get(PREFILL).await.json(), Value::Null, "no session");
    browser.open_session().await;
    let reply = browser.get(PREFILL).await;
    assert_eq!(reply.json(), Value::Null);
    assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-store"));
    browser.become_member(false).await;
    assert_eq!(browser.get(PREFILL).await.json(), Value::Null);
}

#[tokio::test]
async fn the_prefill_refuses_a_foreign_origin() {
    let shop = Shop::demo().await;
    let request = request(Method::GET, PREFILL).header(header::ORIGIN, FOREIGN_ORIGIN).body(Body::empty());
    assert_eq!(shop.send(request.unwrap()).await.api_error(403), "origin_not_allowed");
}

// ---------------------------------------------------------------------------------------------
// Guards of the demo member endpoints: session, origin, CSRF token, hostile bodies
// ---------------------------------------------------------------------------------------------

/// Each demo endpoint with a body it would accept from a guest who has an account.
async fn demo_endpoints(shop: &Shop) -> Vec<(&'static str, Value)> {
    let email = shop.browser().become_member(false).await;
    vec![
        (SIGNUP, sign_up_form("guarded@example.jp")),
        (LOGIN, json!({ "email": email, "password": PASSWORD })),
        (LOGOUT, json!({})),
    ]
}

/// Sends `forge(request)` for each demo endpoint from a fresh guest session and checks it was
/// refused with `status`/`code` and changed nothing.
async fn assert_demo_refused(forge: impl Fn(&mut Request<Body>), status: u16, code: &str) {
    let shop = Shop::demo().await;
    for (path, body) in demo_endpoints(&shop).await {
        let mut browser = shop.browser();
        browser.open_session().await;
        let mut request = browser.guarded(Method::POST, path, Some(body));
        forge(&mut request);
        let reply = browser.send(request).await;
        assert_eq!(reply.api_error(status), code, "{path}");
        assert!(reply.header(header::SET_COOKIE).is_none(), "{path}: the session is not renewed");
        assert_eq!(browser.member_state().await, "guest", "{path}");
    }
    assert_eq!(shop.member_link("guarded@example.jp").await, None, "nobody signed up");
}

#[tokio::test]
async fn demo_endpoints_refuse_a_request_without_the_csrf_token() {
    assert_demo_refused(|r| drop(r.headers_mut().remove(CSRF_HEADER)), 403, "csrf_token_invalid").await;
}

#[tokio::test]
async fn demo_endpoints_refuse_a_wrong_csrf_token() {
    for wrong in ["guess", "", "x-amazonpay2-csrf"] {
        let token: HeaderValue = wrong.parse().unwrap();
        let forge = |r: &mut Request<Body>| drop(r.headers_mut().insert(CSRF_HEADER, token.clone()));
        assert_demo_refused(forge, 403, "csrf_token_invalid").await;
    }
}

#[tokio::test]
async fn demo_endpoints_refuse_another_sessions_csrf_token() {
    let shop = Shop::demo().await;
    for (path, body) in demo_endpoints(&shop).await {
        let mut attacker = shop.browser();
        attacker.open_session().await;
        let mut victim = shop.browser();
        victim.open_session().await;
        let mut request = victim.guarded(Method::POST, path, Some(body));
        request.headers_mut().insert(CSRF_HEADER, attacker.csrf.clone().unwrap().parse().unwrap());
        assert_eq!(victim.send(request).await.api_error(403), "csrf_token_invalid", "{path}");
        assert_eq!(victim.member_state().await, "guest");
    }
}

#[tokio::test]
async fn demo_endpoints_refuse_a_foreign_origin_even_with_the_token() {
    for foreign in [FOREIGN_ORIGIN, "null", "http://127.0.0.1:8080.evil.example", "http://127.0.0.1:8081"] {
        let origin: HeaderValue = foreign.parse().unwrap();
        let forge = |r: &mut Request<Body>| drop(r.headers_mut().insert(header::ORIGIN, origin.clone()));
        assert_demo_refused(forge, 403, "origin_not_allowed").await;
    }
}

#[tokio::test]
async fn demo_endpoints_refuse_a_request_with_neither_origin_nor_referer() {
    assert_demo_refused(|r| drop(r.headers_mut().remove(header::ORIGIN)), 403, "origin_required").await;
}

#[tokio::test]
async fn demo_endpoints_refuse_a_foreign_referer_when_origin_is_absent() {
    let referer: HeaderValue = "http://127.0.0.1:8080.evil.example/member/login.html".parse().unwrap();
    assert_demo_refused(
        |r| {
            r.headers_mut().remove(header::ORIGIN);
            r.headers_mut().insert(header::REFERER, referer.clone());
        },
        403,
        "origin_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn demo_endpoints_refuse_a_request_without_a_session() {
    let shop = Shop::demo().await;
    for (path, body) in demo_endpoints(&shop).await {
        let mut browser = shop.browser();
        browser.open_session().await;
        // Right origin and a valid token, but no cookie, or a cookie naming no session.
        let request = browser.guarded(Method::POST, path, Some(body.clone()));
        assert_eq!(shop.send(request).await.api_error(403), "session_required", "{path}");
        let mut forged = browser.guarded(Method::POST, path, Some(body));
        forged.headers_mut().insert(header::COOKIE, format!("{SESSION_COOKIE}=forged").parse().unwrap());
        assert_eq!(shop.send(forged).await.api_error(403), "session_required", "{path}");
    }
    assert_eq!(shop.member_link("guarded@example.jp").await, None);
}

/// Sends `body` with `content_type` to `path` from a guest's page, with the token, and returns
/// the refusal's code for `status`; checks the guest stayed a guest.
async fn demo_body_refusal(shop: &Shop, path: &str, content_type: &str, body: Vec<u8>, status: u16) -> String {
    let mut browser = shop.browser();
    browser.open_session().await;
    let mut request = browser.guarded(Method::POST, path, None);
    request.headers_mut().insert(header::CONTENT_TYPE, content_type.parse().unwrap());
    *request.body_mut() = Body::from(body);
    let code = browser.send(request).await.api_error(status);
    assert_eq!(browser.member_state().await, "guest", "{path}");
    code
}

#[tokio::test]
async fn demo_endpoints_refuse_unknown_fields() {
    let shop = Shop::demo().await;
    let email = shop.browser().become_member(false).await;
    let login = json!({ "email": email, "password": PASSWORD, "linked": true });
    let sign_up = with_field(sign_up_form("extra@example.jp"), "admin", json!(true));
    for (path, body) in [(LOGIN, login), (SIGNUP, sign_up)] {
        let code = demo_body_refusal(&shop, path, "application/json", body.to_string().into_bytes(), 400).await;
        assert_eq!(code, "invalid_request", "{path}");
    }
    assert_eq!(shop.member_link("extra@example.jp").await, None);
}

#[tokio::test]
async fn demo_endpoints_refuse_malformed_and_mistyped_json() {
    let shop = Shop::demo().await;
    for (path, body) in [
        (LOGIN, "{"),
        (LOGIN, "null"),
        (LOGIN, "[]"),
        (LOGIN, r#"{"email":1,"password":2}"#),
        (LOGIN, r#"{"email":"a@example.jp"}"#),
        (SIGNUP, ""),
        (SIGNUP, r#"{"email":["a@example.jp"]}"#),
    ] {
        let code = demo_body_refusal(&shop, path, "application/json", body.as_bytes().to_vec(), 400).await;
        assert!(matches!(code.as_str(), "malformed_json" | "invalid_request"), "{path} {body}: {code}");
    }
}

#[tokio::test]
async fn demo_endpoints_refuse_non_utf8_bodies() {
    let shop = Shop::demo().await;
    let mut body = br#"{"email":"a@example.jp","password":""#.to_vec();
    body.extend_from_slice(b"\xff\xfe\x80");
    body.extend_from_slice(br#""}"#);
    demo_body_refusal(&shop, LOGIN, "application/json", body.clone(), 400).await;
    let mut form = sign_up_form("bytes@example.jp").to_string().into_bytes();
    let at = form.iter().position(|&b| b == b'@').unwrap();
    form.splice(at..at, b"\xc3\x28".iter().copied());
    demo_body_refusal(&shop, SIGNUP, "application/json", form, 400).await;
    assert_eq!(shop.member_link("bytes@example.jp").await, None);
}

#[tokio::test]
async fn demo_endpoints_refuse_huge_bodies_with_413() {
    let shop = Shop::demo().await;
    let huge = "x".repeat(64 * 1024);
    for (path, body) in [
        (SIGNUP, with_field(sign_up_form("huge@example.jp"), "address2", json!(huge))),
        (LOGIN, json!({ "email": "huge@example.jp", "password": huge })),
    ] {
        let code = demo_body_refusal(&shop, path, "application/json", body.to_string().into_bytes(), 413).await;
        assert_eq!(code, "payload_too_large", "{path}");
    }
    assert_eq!(shop.member_link("huge@example.jp").await, None);
}

#[tokio::test]
async fn demo_endpoints_refuse_a_form_post_with_415() {
    let shop = Shop::demo().await;
    for path in [SIGNUP, LOGIN] {
        let form = b"email=a%40example.jp&password=correct+horse+battery".to_vec();
        let code = demo_body_refusal(&shop, path, "application/x-www-form-urlencoded", form, 415).await;
        assert_eq!(code, "unsupported_media_type", "{path}");
    }
}

#[tokio::test]
async fn unlinking_turns_a_linked_member_back_into_an_unlinked_one() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let email = browser.become_member(true).await;
    let reply = browser.unlink().await;
    reply.assert_status(200);
    assert_eq!(reply.json()["member"]["linked"], false);
    assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-store"));
    assert_eq!(shop.member_link(&email).await, Some(None), "the link is gone from the database");
    assert_eq!(view_name(&browser.view_of("mypage").await), "button");
}

/// A linked member's browser, and the unlink request as their page would send it.
async fn linked_member(shop: &Shop) -> Browser<'_> {
    let mut browser = shop.browser();
    browser.become_member(true).await;
    browser
}

/// Sends a forged unlink and checks it was refused with `status`/`code` and changed nothing.
async fn assert_unlink_refused(browser: &mut Browser<'_>, request: Request<Body>, status: u16, code: &str) {
    assert_eq!(browser.send(request).await.api_error(status), code);
    assert_eq!(view_name(&browser.view_of("mypage").await), "linked", "still linked");
}

#[tokio::test]
async fn unlink_refuses_a_request_without_the_csrf_token() {
    let shop = Shop::demo().await;
    let mut browser = linked_member(&shop).await;
    let mut request = browser.guarded(Method::DELETE, "/api/amazonpay2/link", None);
    request.headers_mut().remove(CSRF_HEADER);
    assert_unlink_refused(&mut browser, request, 403, "csrf_token_invalid").await;
}

#[tokio::test]
async fn unlink_refuses_a_wrong_csrf_token() {
    let shop = Shop::demo().await;
    let mut browser = linked_member(&shop).await;
    let other_token = shop.browser().get("/api/amazonpay2/session").await.json()["csrfToken"].clone();
    for wrong in [other_token.as_str().unwrap(), "guess", ""] {
        let mut request = browser.guarded(Method::DELETE, "/api/amazonpay2/link", None);
        request.headers_mut().insert(CSRF_HEADER, wrong.parse().unwrap());
        assert_unlink_refused(&mut browser, request, 403, "csrf_token_invalid").await;
    }
}

#[tokio::test]
async fn unlink_refuses_a_foreign_origin_even_with_the_token() {
    let shop = Shop::demo().await;
    let mut browser = linked_member(&shop).await;
    for foreign in [FOREIGN_ORIGIN, "null", "http://127.0.0.1:8080.evil.example", "http://127.0.0.1:8081"] {
        let mut request = browser.guarded(Method::DELETE, "/api/amazonpay2/link", None);
        request.headers_mut().insert(header::ORIGIN, foreign.parse().unwrap());
        assert_unlink_refused(&mut browser, request, 403, "origin_not_allowed").await;
    }
}

#[tokio::test]
async fn unlink_refuses_a_request_with_neither_origin_nor_referer() {
    let shop = Shop::demo().await;
    let mut browser = linked_member(&shop).await;
    let mut request = browser.guarded(Method::DELETE, "/api/amazonpay2/link", None);
    request.headers_mut().remove(header::ORIGIN);
    assert_unlink_refused(&mut browser, request, 403, "origin_required").await;
}

#[tokio::test]
async fn unlink_refuses_a_request_without_a_session() {
    let shop = Shop::demo().await;
    let member = linked_member(&shop).await;
    // Right origin and a valid token, but no cookie (a cross-site request with cookies blocked).
    let request = member.guarded(Method::DELETE, "/api/amazonpay2/link", None);
    assert_eq!(shop.send(request).await.api_error(403), "session_required");
    let mut forged = member.guarded(Method::DELETE, "/api/amazonpay2/link", None);
    forged.headers_mut().insert(header::COOKIE, format!("{SESSION_COOKIE}=forged").parse().unwrap());
    assert_eq!(shop.send(forged).await.api_error(403), "session_required");
}

#[tokio::test]
async fn unlink_answers_401_for_a_guest() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    browser.open_session().await;
    assert_eq!(browser.unlink().await.api_error(401), "login_required");
}

#[tokio::test]
async fn unlink_answers_409_when_nothing_is_linked() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    browser.become_member(false).await;
    assert_eq!(browser.unlink().await.api_error(409), "not_linked");
}

#[tokio::test]
async fn unlink_accepts_a_shop_referer_when_origin_is_absent() {
    let shop = Shop::demo().await;
    let mut browser = linked_member(&shop).await;
    let mut request = browser.guarded(Method::DELETE, "/api/amazonpay2/link", None);
    request.headers_mut().remove(header::ORIGIN);
    request.headers_mut().insert(header::REFERER, format!("{DEMO_ORIGIN}/mypage/").parse().unwrap());
    browser.send(request).await.assert_status(200);
}
