//! The buttons API (`POST /api/amazonpay2/buttons`, `POST …/buttons/sign`) in-process: views,
//! options and click-time signatures, member states, first visits, and hostile input (see
//! `crate::common::api` for the harness).

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};
use url::Url;

use crate::common::api::*;
use amazonpay2::server::config::demo_defaults;

// ---------------------------------------------------------------------------------------------
// Buttons for guests: views, signatures, options
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn guest_gets_one_view_per_block_in_request_order() {
    let shop = Shop::demo().await;
    let specs = [EVERY_KIND, EVERY_KIND].concat();
    let views = shop.shopper().await.buttons(&specs).await.views();
    let shown: Vec<(&str, Option<&str>)> =
        views.iter().map(|v| (view_name(v), v["options"]["productType"].as_str())).collect();
    let one_page = [("button", Some("PayAndShip")), ("button", Some("SignIn")), ("nothing", None)];
    assert_eq!(shown, [one_page, one_page].concat());
}

#[tokio::test]
async fn guest_answer_reports_the_guest_and_a_csrf_token_and_the_checkout_js() {
    let shop = Shop::demo().await;
    let json = shop.browser().buttons(EVERY_KIND).await.json();
    assert_eq!(json["member"], json!({ "state": "guest" }));
    assert!(json["csrfToken"].as_str().is_some_and(|t| t.len() >= 32));
    assert!(json["checkoutJs"].as_str().is_some_and(|u| u.ends_with("/checkout.js")));
}

#[tokio::test]
async fn every_click_gets_a_signature_that_verifies_with_the_shop_public_key() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    for kind in ["checkout", "login"] {
        assert_signature_verifies(&browser.signed(kind).await, &shop.key);
    }
    browser.become_member(false).await;
    assert_signature_verifies(&browser.signed("mypage").await, &shop.key);
}

#[tokio::test]
async fn every_signed_url_lies_under_the_shop_origin() {
    for shop in [Shop::demo().await, Shop::production().await] {
        let mut browser = shop.shopper().await;
        let mut payloads = vec![browser.signed("checkout").await, browser.signed("login").await];
        if shop.origin == DEMO_ORIGIN {
            browser.become_member(false).await; // the link button's payload
            payloads.push(browser.signed("mypage").await);
        }
        for config in payloads {
            let payload = config["payloadJSON"].as_str().unwrap();
            let mut urls = Vec::new();
            urls_in(&serde_json::from_str(payload).unwrap(), "", &mut urls);
            assert!(urls.len() >= 2, "a return and a cancel URL in {payload}");
            for url in urls {
                assert!(url.starts_with(&format!("{}/", shop.origin)), "{url} is not under {}", shop.origin);
            }
        }
    }
}

#[tokio::test]
async fn payloads_carry_the_store_id_scopes_and_return_urls_amazon_needs() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    let payload = |config: Value| -> Value { serde_json::from_str(config["payloadJSON"].as_str().unwrap()).unwrap() };
    let checkout = payload(browser.signed("checkout").await);
    let sign_in = payload(browser.signed("login").await);
    let store_id = "amzn1.application-oa2-client.craftcartdemo00000000000000000";
    assert_eq!(checkout["storeId"], store_id);
    let review = checkout["webCheckoutDetails"]["checkoutReviewReturnUrl"].as_str().unwrap();
    assert!(review.starts_with(&format!("{DEMO_ORIGIN}{CHECKOUT_REVIEW}?ref=")), "{review}");
    assert!(checkout["scopes"].as_array().is_some_and(|s| !s.is_empty()));
    assert_eq!(sign_in["storeId"], store_id);
    assert!(sign_in["signInScopes"].as_array().is_some_and(|s| !s.is_empty()));
    let return_url = Url::parse(sign_in["signInReturnUrl"].as_str().unwrap()).unwrap();
    assert_eq!(return_url.path(), SIGNIN_RETURN);
    assert_eq!(query_value(&return_url, "intent").as_deref(), Some("login"));
    assert_eq!(sign_in["signInCancelUrl"], format!("{DEMO_ORIGIN}/api/amazonpay2/signin/cancel"));
}

#[tokio::test]
async fn options_echo_placement_and_color_carry_amazons_fixed_fields_and_sign_nothing() {
    let shop = Shop::demo().await;
    let specs = [("checkout", "Product", "DarkGray"), ("login", "Checkout", "LightGray"), ("login", "Home", "Gold")];
    let mut browser = shop.shopper().await;
    let views = browser.buttons(&specs).await.views();
    for ((_, placement, color), view) in specs.iter().zip(&views) {
        let options = &view["options"];
        assert_eq!(options["placement"], *placement);
        assert_eq!(options["buttonColor"], *color);
        assert_eq!(options["merchantId"], "A2CRAFTCARTDEMO");
        assert_eq!(options["ledgerCurrency"], "JPY");
        assert_eq!(options["checkoutLanguage"], "ja_JP");
        assert_eq!(options["sandbox"], true);
        // A page view signs nothing: the payload is signed when the shopper clicks.
        assert!(options.get("signInConfig").is_none() && options.get("createCheckoutSessionConfig").is_none());
    }
    for kind in ["checkout", "login"] {
        let config = browser.signed(kind).await;
        assert_eq!(config["publicKeyId"], "SANDBOX-AMAZONPAY2DEMOKEY000000000");
        assert_eq!(config["algorithm"], ALGORITHM);
    }
}

#[tokio::test]
async fn production_buttons_are_live_and_use_the_configured_identity() {
    let shop = Shop::production().await;
    let mut browser = shop.shopper().await;
    let views = browser.buttons(EVERY_KIND).await.views();
    let options = &views[0]["options"];
    assert_eq!(options["sandbox"], false);
    assert_eq!(options["merchantId"], "A1PRODUCTION0001");
    assert_eq!(browser.signed("checkout").await["publicKeyId"], "LIVE-PRODUCTIONKEY0000000000000");
    assert_signature_verifies(&browser.signed("login").await, &shop.key);
}

#[tokio::test]
async fn buttons_set_an_httponly_samesite_lax_session_cookie() {
    let shop = Shop::demo().await;
    let attributes = cookie_attributes(&shop.browser().buttons(EVERY_KIND).await);
    for expected in ["httponly", "samesite=lax", "path=/"] {
        assert!(attributes.iter().any(|a| a == expected), "{expected} missing from {attributes:?}");
    }
    assert!(!attributes.iter().any(|a| a == "secure"), "http demo origin cannot use Secure");
}

#[tokio::test]
async fn https_shops_get_a_secure_host_session_cookie_and_the_demo_keeps_its_plain_name() {
    let shop = Shop::production().await;
    let reply = shop.browser().buttons(EVERY_KIND).await;
    let cookie = reply.header(header::SET_COOKIE).expect("a session cookie");
    // `__Host-`: kept by the browser only when Secure, for Path=/ and without Domain, so that no
    // other host can set or overwrite it.
    assert!(cookie.starts_with(&format!("{SECURE_SESSION_COOKIE}=a.")), "{cookie}");
    let attributes = cookie_attributes(&reply);
    assert!(attributes.iter().any(|a| a == "secure"), "{attributes:?}");
    assert!(attributes.iter().any(|a| a == "path=/"), "{attributes:?}");
    assert!(!attributes.iter().any(|a| a.starts_with("domain")), "{attributes:?}");

    let demo = Shop::demo().await;
    let cookie = demo.browser().buttons(EVERY_KIND).await.header(header::SET_COOKIE).unwrap().to_owned();
    assert!(cookie.starts_with(&format!("{SESSION_COOKIE}=a.")), "http://127.0.0.1 keeps the plain name: {cookie}");
}

#[tokio::test]
async fn a_known_session_is_kept_without_a_new_cookie() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    browser.buttons(EVERY_KIND).await;
    let again = browser.buttons(EVERY_KIND).await;
    assert!(again.header(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn per_shopper_answers_are_never_cached() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    assert_eq!(browser.buttons(EVERY_KIND).await.header(header::CACHE_CONTROL), Some("no-store"));
    assert_eq!(browser.get("/api/amazonpay2/session").await.header(header::CACHE_CONTROL), Some("no-store"));
    let error = shop.post_buttons("application/json", "{").await;
    assert_eq!(error.header(header::CACHE_CONTROL), Some("no-store"));
}

/// Amazon's decoupled button starts a checkout from its own `initCheckout`, but never reads a
/// `signInConfig`: a sign-in needs the global `amazon.Pay.initCheckout`, which infers nothing
/// (no sandbox from the key ID, no top-level key ID copied), so a sign-in click is answered with
/// every option it takes.
#[tokio::test]
async fn a_sign_in_click_answers_every_option_of_the_global_init_checkout_and_a_checkout_click_the_buttons_config() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    let reply = browser.sign("login", None).await;
    reply.assert_status(200);
    let mut answer = reply.json();
    let config = answer.as_object_mut().unwrap().remove("signInConfig").expect("signInConfig");
    assert_eq!(
        answer,
        json!({ "merchantId": demo_defaults::MERCHANT_ID, "ledgerCurrency": "JPY", "checkoutLanguage": "ja_JP",
                "sandbox": true, "placement": "Other", "productType": "SignIn", "buttonColor": "Gold" })
    );
    assert_eq!(config["publicKeyId"], demo_defaults::PUBLIC_KEY_ID, "the key ID in the config itself");
    assert_eq!(config["algorithm"], "AMZN-PAY-RSASSA-PSS-V2");

    let reply = browser.sign("checkout", None).await;
    reply.assert_status(200);
    let answer = reply.json();
    let mut keys: Vec<&str> = answer.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["createCheckoutSessionConfig", "estimatedOrderAmount", "productType"]);
    assert_eq!(answer["productType"], "PayAndShip");
}

#[tokio::test]
async fn sign_in_clicks_reuse_a_cached_signature_and_each_checkout_click_gets_its_own_reference() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    let first = browser.signed("login").await;
    // RSASSA-PSS is randomised: equal signatures can only come from the cache.
    assert_eq!(browser.signed("login").await["signature"], first["signature"]);
    let one = browser.signed("checkout").await;
    let two = browser.signed("checkout").await;
    assert_ne!(one["payloadJSON"], two["payloadJSON"], "a new review reference per click");
}

#[tokio::test]
async fn another_session_gets_its_own_sign_in_state_and_page_views_hold_nothing_per_session() {
    let shop = Shop::demo().await;
    let (mut mine, mut theirs) = (shop.shopper().await, shop.shopper().await);
    assert_eq!(mine.buttons(EVERY_KIND).await.views(), theirs.buttons(EVERY_KIND).await.views());
    let state = |config: Value| {
        let payload: Value = serde_json::from_str(config["payloadJSON"].as_str().unwrap()).unwrap();
        query_value(&Url::parse(payload["signInReturnUrl"].as_str().unwrap()).unwrap(), "state")
    };
    assert_ne!(state(mine.signed("login").await), state(theirs.signed("login").await));
}

#[tokio::test]
async fn first_visits_store_nothing_however_many_and_so_does_a_guest_who_only_looks() {
    let shop = Shop::demo().await;
    for _ in 0..50 {
        let reply = shop.post_buttons("application/json", buttons_body(EVERY_KIND).to_string()).await;
        reply.assert_status(200);
        assert!(reply.header(header::SET_COOKIE).is_some_and(|c| c.starts_with("amazonpay2_sid=a.")));
    }
    let mut guest = shop.browser();
    for _ in 0..5 {
        guest.buttons(EVERY_KIND).await.assert_status(200);
        guest.get("/api/amazonpay2/session").await.assert_status(200);
        guest.get("/api/amazonpay2/demo/cart").await.assert_status(200);
    }
    assert_eq!((shop.rows("sessions"), shop.rows("carts")), (0, 0));
    // Something that needs stored state stores it: a cart.
    guest.fill_cart().await;
    assert_eq!((shop.rows("sessions"), shop.rows("carts")), (1, 1));
}

#[tokio::test]
async fn a_sign_in_click_stores_the_session_with_the_page_to_return_to_and_keeps_its_token() {
    let shop = Shop::demo().await;
    let mut guest = shop.browser();
    let page = guest.buttons(EVERY_KIND).await.json();
    guest.sign("login", Some(&format!("{DEMO_ORIGIN}/shopping/cart.html"))).await.assert_status(200);
    assert_eq!(shop.rows("sessions"), 1);
    assert!(guest.cookie.as_deref().is_some_and(|c| c.starts_with("amazonpay2_sid=s.")));
    let again = guest.buttons(EVERY_KIND).await.json();
    assert_eq!(again["csrfToken"], page["csrfToken"], "the page's token stays valid");
}

#[tokio::test]
async fn the_sign_endpoint_signs_only_the_buttons_this_shopper_is_shown() {
    let shop = Shop::demo().await;
    let mut guest = shop.browser();
    guest.buttons(EVERY_KIND).await;
    assert_eq!(guest.sign("mypage", None).await.api_error(409), "no_button", "no link button for a guest");
    assert_eq!(guest.sign("checkout", None).await.api_error(409), "amazon_pay_unavailable", "an empty cart");
    for kind in ["notice", "review"] {
        assert_eq!(guest.sign(kind, None).await.api_error(409), "no_button", "{kind}");
    }
    let mut member = shop.shopper().await;
    member.become_member(true).await;
    assert_eq!(member.sign("login", None).await.api_error(409), "no_button", "no login button for a member");
    assert_eq!(member.sign("mypage", None).await.api_error(409), "no_button", "already linked");
}

#[tokio::test]
async fn the_sign_endpoint_refuses_forged_and_hostile_requests() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    let forged = |browser: &Browser<'_>, body: &str| {
        let mut request = browser.guarded(Method::POST, "/api/amazonpay2/buttons/sign", None);
        request.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        *request.body_mut() = Body::from(body.to_owned());
        request
    };
    for (body, status, code) in [
        (r#"{"kind":"login","payloadJSON":"{}"}"#, 400, "invalid_request"),
        (r#"{"kind":"login","signInReturnUrl":"https://evil.example"}"#, 400, "invalid_request"),
        (r#"{"kind":"wallet"}"#, 400, "invalid_request"),
        (r#"{}"#, 400, "invalid_request"),
        ("{", 400, "malformed_json"),
    ] {
        let request = forged(&browser, body);
        assert_eq!(browser.send(request).await.api_error(status), code, "{body}");
    }
    let mut request = forged(&browser, r#"{"kind":"login"}"#);
    request.headers_mut().remove(CSRF_HEADER);
    assert_eq!(browser.send(request).await.api_error(403), "csrf_token_invalid");
    let mut request = forged(&browser, r#"{"kind":"login"}"#);
    request.headers_mut().insert(header::ORIGIN, HeaderValue::from_static(FOREIGN_ORIGIN));
    assert_eq!(browser.send(request).await.api_error(403), "origin_not_allowed");
}

#[tokio::test]
async fn the_session_endpoint_reports_the_member_and_a_csrf_token() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let guest = browser.get("/api/amazonpay2/session").await;
    assert_eq!(guest.json()["member"], json!({ "state": "guest" }));
    let token = guest.json()["csrfToken"].as_str().unwrap().to_owned();
    assert_eq!(browser.buttons(EVERY_KIND).await.json()["csrfToken"], token.as_str(), "one token per session");
    browser.become_member(true).await;
    let member = browser.get("/api/amazonpay2/session").await.json();
    assert_eq!(member["member"]["state"], "member");
    assert_eq!(member["member"]["linked"], true);
}

#[tokio::test]
async fn the_session_endpoint_refuses_a_foreign_origin() {
    let shop = Shop::demo().await;
    let request =
        request(Method::GET, "/api/amazonpay2/session").header(header::ORIGIN, FOREIGN_ORIGIN).body(Body::empty());
    assert_eq!(shop.send(request.unwrap()).await.api_error(403), "origin_not_allowed");
}

// ---------------------------------------------------------------------------------------------
// Members: login, mypage, linking and unlinking
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unlinked_member_gets_no_login_button_and_a_link_button_on_mypage() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    browser.become_member(false).await;
    let reply = browser.buttons(EVERY_KIND).await;
    assert_eq!(reply.json()["member"]["linked"], false);
    let views = reply.views();
    assert_eq!(views.iter().map(view_name).collect::<Vec<_>>(), ["button", "nothing", "button"]);
    assert_eq!(views[2]["options"]["productType"], "SignIn");
    assert_signature_verifies(&browser.signed("mypage").await, &shop.key);
    let return_url = browser.sign_in_return_url().await;
    assert_eq!(query_value(&return_url, "intent").as_deref(), Some("link"));
}

#[tokio::test]
async fn a_linked_member_sees_the_linked_state_on_mypage() {
    let shop = Shop::demo().await;
    let mut browser = shop.shopper().await;
    browser.become_member(true).await;
    let views = browser.buttons(EVERY_KIND).await.views();
    assert_eq!(views.iter().map(view_name).collect::<Vec<_>>(), ["button", "nothing", "linked"]);
}

#[tokio::test]
async fn the_member_name_is_family_name_then_given_name() {
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    browser.become_member(false).await;
    let member = browser.get("/api/amazonpay2/session").await.json()["member"].clone();
    assert_eq!(member, json!({ "state": "member", "name": "山田 太郎", "linked": false }));
}

// ---------------------------------------------------------------------------------------------
// Hostile and malformed input: 4xx JSON, never 500
// ---------------------------------------------------------------------------------------------

/// Posts `body` as the buttons request and returns the API error code (`{"error":{"code"}}`) for `status`.
async fn buttons_refusal(body: impl Into<Body>, content_type: &str, status: u16) -> String {
    Shop::demo().await.post_buttons(content_type, body).await.api_error(status)
}

async fn buttons_json_refusal(body: &str) -> String {
    buttons_refusal(body.to_owned(), "application/json", 400).await
}

#[tokio::test]
async fn malformed_json_is_refused() {
    for body in ["{", "", "{\"blocks\":[}", "{\"blocks\":[]} trailing", "null", "[]", "\"blocks\""] {
        let code = buttons_json_refusal(body).await;
        assert!(matches!(code.as_str(), "malformed_json" | "invalid_request"), "{body}: {code}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_415() {
    let body = buttons_body(EVERY_KIND).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        assert_eq!(buttons_refusal(body.clone(), content_type, 415).await, "unsupported_media_type");
    }
    let shop = Shop::demo().await;
    let without = request(Method::POST, "/api/amazonpay2/buttons").body(Body::from(body)).unwrap();
    assert_eq!(shop.send(without).await.api_error(415), "unsupported_media_type");
}

#[tokio::test]
async fn a_smuggled_top_level_payload_or_return_url_is_refused() {
    let block = r#"{"kind":"login","placement":"Other","buttonColor":"Gold"}"#;
    for extra in [
        r#""payloadJSON":"{\"signInReturnUrl\":\"https://evil.example/\"}""#,
        r#""returnUrl":"https://evil.example/""#,
        r#""signInReturnUrl":"https://evil.example/""#,
        r#""estimatedOrderAmount":{"amount":"1","currencyCode":"JPY"}"#,
    ] {
        assert_eq!(buttons_json_refusal(&format!(r#"{{"blocks":[{block}],{extra}}}"#)).await, "invalid_request");
    }
}

#[tokio::test]
async fn an_unknown_block_field_is_refused() {
    for extra in [r#""returnUrl":"https://evil.example/""#, r#""payloadJSON":"{}""#, r#""signature":"x""#] {
        let body = format!(r#"{{"blocks":[{{"kind":"login","placement":"Other","buttonColor":"Gold",{extra}}}]}}"#);
        assert_eq!(buttons_json_refusal(&body).await, "invalid_request");
    }
}

#[tokio::test]
async fn unknown_kinds_placements_and_colors_are_refused() {
    for spec in [
        ("wallet", "Other", "Gold"),
        ("Checkout", "Other", "Gold"),
        ("checkout", "cart", "Gold"),
        ("checkout", "Cart ", "Gold"),
        ("checkout", "Cart", "Red"),
        ("checkout", "Cart", "<script>alert(1)</script>"),
        ("", "Cart", "Gold"),
    ] {
        assert_eq!(buttons_json_refusal(&buttons_body(&[spec]).to_string()).await, "invalid_request", "{spec:?}");
    }
}

#[tokio::test]
async fn a_block_without_its_fields_is_refused() {
    for block in [
        r#"{"kind":"login","placement":"Other"}"#,
        r#"{}"#,
        r#"{"kind":null,"placement":"Other","buttonColor":"Gold"}"#,
    ] {
        buttons_json_refusal(&format!(r#"{{"blocks":[{block}]}}"#)).await;
    }
    for body in ["{}", r#"{"blocks":null}"#, r#"{"blocks":{}}"#] {
        buttons_json_refusal(body).await;
    }
}

#[tokio::test]
async fn an_empty_block_list_is_refused() {
    assert_eq!(buttons_json_refusal(r#"{"blocks":[]}"#).await, "no_blocks");
}

#[tokio::test]
async fn the_block_limit_is_answered_and_one_more_refused() {
    const LIMIT: usize = amazonpay2::contract::MAX_BLOCKS_PER_REQUEST;
    let spec = ("checkout", "Cart", "Gold");
    let shop = Shop::demo().await;
    assert_eq!(shop.browser().buttons(&[spec; LIMIT]).await.views().len(), LIMIT);
    let body = buttons_body(&[spec; LIMIT + 1]).to_string();
    assert_eq!(shop.post_buttons("application/json", body).await.api_error(400), "too_many_blocks");
}

#[tokio::test]
async fn a_body_over_16_kib_is_refused_with_413() {
    let padding = " ".repeat(16 * 1024);
    let body = format!(r#"{{"blocks":[{{"kind":"login","placement":"Other","buttonColor":"Gold"}}]{padding}}}"#);
    assert_eq!(buttons_refusal(body, "application/json", 413).await, "payload_too_large");
    let many = buttons_body(&[("checkout", "Checkout", "LightGray"); 400]).to_string();
    assert!(many.len() > 16 * 1024);
    assert_eq!(buttons_refusal(many, "application/json", 413).await, "payload_too_large");
}

#[tokio::test]
async fn deeply_nested_json_is_refused() {
    // Both shapes stay under the 16 KiB limit, so it is the nesting that is refused.
    for depth in [200, 1000] {
        let body = format!(r#"{{"blocks":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
        buttons_json_refusal(&body).await;
        let objects = format!("{}{}", r#"{"blocks":"#.repeat(depth), "}".repeat(depth));
        buttons_json_refusal(&objects).await;
    }
}

#[tokio::test]
async fn non_utf8_bytes_are_refused() {
    let mut body = br#"{"blocks":[{"kind":"login","placement":""#.to_vec();
    body.extend_from_slice(b"\xff\xfe\x80");
    body.extend_from_slice(br#"","buttonColor":"Gold"}]}"#);
    buttons_refusal(body, "application/json", 400).await;
}

#[tokio::test]
async fn buttons_refuse_a_foreign_origin() {
    let shop = Shop::demo().await;
    for foreign in [FOREIGN_ORIGIN, "null", "http://127.0.0.1:8080.evil.example", "http://localhost:8080"] {
        let request = request(Method::POST, "/api/amazonpay2/buttons")
            .header(header::ORIGIN, foreign)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(buttons_body(EVERY_KIND).to_string()))
            .unwrap();
        let reply = shop.send(request).await;
        assert_eq!(reply.api_error(403), "origin_not_allowed", "{foreign}");
        assert!(reply.header(header::SET_COOKIE).is_none(), "no session for a foreign page");
    }
}

#[tokio::test]
async fn unknown_api_paths_answer_404_json() {
    let shop = Shop::demo().await;
    for path in [
        "/api/amazonpay2/nope",
        "/api/amazonpay2/buttons/extra",
        "/api/amazonpay2/demo",
        "/api/amazonpay2/sign",
        "/api/amazonpay2/%2e%2e/buttons",
    ] {
        assert_eq!(shop.get(path).await.api_error(404), "not_found", "{path}");
    }
}

#[tokio::test]
async fn the_api_root_without_a_slash_answers_404_json() {
    assert_eq!(Shop::demo().await.get("/api/amazonpay2").await.api_error(404), "not_found");
}

#[tokio::test]
async fn the_api_root_with_a_slash_answers_404_json() {
    assert_eq!(Shop::demo().await.get("/api/amazonpay2/").await.api_error(404), "not_found");
}

#[tokio::test]
async fn wrong_methods_answer_405_json() {
    let shop = Shop::demo().await;
    for (method, path) in [
        (Method::GET, "/api/amazonpay2/buttons"),
        (Method::PUT, "/api/amazonpay2/buttons"),
        (Method::POST, "/api/amazonpay2/session"),
        (Method::GET, "/api/amazonpay2/link"),
        (Method::POST, "/api/amazonpay2/link"),
        (Method::POST, "/api/amazonpay2/signin/return"),
        (Method::DELETE, "/api/amazonpay2/checkout/review"),
        (Method::GET, "/api/amazonpay2/checkout/place"),
        (Method::POST, "/api/amazonpay2/checkout/result"),
        (Method::DELETE, "/api/amazonpay2/demo/cart"),
        (Method::POST, "/api/amazonpay2/demo/orders"),
        (Method::GET, "/api/amazonpay2/demo/login"),
        (Method::GET, "/api/amazonpay2/demo/signup"),
        (Method::PUT, "/api/amazonpay2/demo/logout"),
        (Method::POST, "/api/amazonpay2/signup/prefill"),
        (Method::GET, "/api/amazonpay2/buttons/sign"),
    ] {
        let reply = shop.send(request(method.clone(), path).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.api_error(405), "method_not_allowed", "{method} {path}");
    }
}

#[tokio::test]
async fn demo_endpoints_do_not_exist_outside_the_demo() {
    let shop = Shop::production().await;
    let mut browser = shop.browser();
    browser.open_session().await;
    let bodies = [
        (SIGNUP, sign_up_form("production@example.jp")),
        (LOGIN, json!({ "email": "production@example.jp", "password": PASSWORD })),
        (LOGOUT, json!({})),
        (CART, json!({ "productId": MUG, "quantity": 1 })),
    ];
    for (path, body) in bodies {
        let request = browser.guarded(Method::POST, path, Some(body));
        assert_eq!(browser.send(request).await.api_error(404), "not_found", "{path}");
    }
    for path in [CART, "/api/amazonpay2/demo/catalogue", "/api/amazonpay2/demo/orders"] {
        assert_eq!(browser.get(path).await.api_error(404), "not_found", "{path}");
    }
    assert_eq!(shop.member_link("production@example.jp").await, None);
    assert_eq!(browser.get("/api/amazonpay2/session").await.json()["member"]["state"], "guest");
}

#[tokio::test]
async fn the_ipn_url_named_by_the_contract_exists() {
    let shop = Shop::production().await;
    let request = request(Method::POST, "/api/amazonpay2/ipn.php")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{"))
        .unwrap();
    let reply = shop.send(request).await;
    assert_ne!(reply.status, StatusCode::NOT_FOUND, "the IPN endpoint is routed");
    reply.api_error(400);
}
