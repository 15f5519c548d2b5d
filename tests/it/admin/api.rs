//! The admin (管理画面) over real HTTP, with the shop and the Amazon Pay simulator on their own
//! ports: owner logins apart from members, sessions, CSRF and origin checks, 受注一覧 and its
//! 30-day flag, 受注編集 with 「クレジット決済状況変更」 (capture, 減額, refunds, cancel, the force
//! option), the bulk page, the settings, and what Amazon holds after each step.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::admin::{AdminBrowser, OWNER, OWNER_PASSWORD, Page};
use crate::common::checkout::*;
use amazonpay2::core::orders::OrderState;
use amazonpay2::core::platform::Order;

const DAY: u64 = 24 * HOUR;

async fn world() -> World {
    let world = World::start().await;
    amazonpay2::server::admin::put_account(&world.db, OWNER, OWNER_PASSWORD).await.unwrap();
    world
}

async fn owner(world: &World) -> AdminBrowser {
    let owner = AdminBrowser::new(&world.shop);
    owner.log_in().await;
    owner
}

/// A member's purchase of a mug by 宅配便 with Visa, authorized (仮売上).
async fn bought(world: &World) -> Order {
    let (_, session) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    world.db.order_by_checkout_session(&session).await.unwrap().expect("the order")
}

async fn state_of(world: &World, order: &Order) -> Order {
    world.db.order(order.id).await.unwrap().unwrap()
}

async fn charge_of(world: &World, order: &Order) -> Value {
    let order = state_of(world, order).await;
    world.charge(order.charge_id.as_deref().unwrap()).await
}

/// Moves the shop's record of an authorization `days` into the past, as time would.
async fn authorized_days_ago(world: &World, order: &Order, days: i64) {
    let id = order.id.0;
    crate::common::sockets::beside_server(&world._data.0, move |connection| {
        connection.execute("UPDATE orders SET authorized_at = authorized_at - ?2 * 86400 WHERE id = ?1", [id, days])
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Logins and sessions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_admin_page_and_its_json_need_an_owner_login_and_a_members_session_is_none() {
    let world = world().await;
    let order = bought(&world).await;
    let pages = [
        "/admin/".to_owned(),
        "/admin/orders".to_owned(),
        format!("/admin/orders/{}", order.id.0),
        "/admin/amazonpay".to_owned(),
        "/admin/settings/shipping".to_owned(),
        "/admin/settings/amazonpay".to_owned(),
    ];
    // A logged-in member of the shop, with the shop's session cookie.
    let member = world.mug_shopper().await;
    for page in &pages {
        for http in
            [&reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(), &member.http]
        {
            let answer = Page::read(http.get(format!("{}{page}", world.shop)).send().await.unwrap()).await;
            assert_eq!(answer.status, 303, "{page}");
            assert!(answer.location().starts_with("/admin/login?next="), "{page}");
            assert!(!answer.body.contains(&order.number));
        }
    }
    let json = member.http.get(format!("{}/api/amazonpay2/admin/bulk/1", world.shop)).send().await.unwrap();
    assert_eq!(json.status(), 401);
    assert_eq!(json.json::<Value>().await.unwrap()["error"]["code"], "admin_login_required");
    // Changes without a login change nothing.
    let stranger = AdminBrowser::new(&world.shop);
    let answer =
        stranger.post(&format!("/admin/orders/{}/payment", order.id.0), &[("op", "cancel"), ("version", "0")]).await;
    assert_eq!(answer.status, 303);
    assert_eq!(state_of(&world, &order).await.state, OrderState::Authorized);
}

#[tokio::test]
async fn a_login_needs_the_right_password_is_throttled_by_name_and_says_nothing_of_unknown_names() {
    let world = world().await;
    let browser = AdminBrowser::new(&world.shop);
    let wrong = browser.log_in_as(OWNER, "not-the-password").await;
    wrong.assert_status(401);
    assert!(wrong.shows("管理者名またはパスワードが正しくありません。"));
    let unknown = browser.log_in_as("nobody", OWNER_PASSWORD).await;
    unknown.assert_status(401);
    assert!(unknown.shows("管理者名またはパスワードが正しくありません。"), "the same answer for unknown names");
    for _ in 0..4 {
        browser.log_in_as(OWNER, "still-wrong").await.assert_status(401);
    }
    let locked = browser.log_in_as(OWNER, OWNER_PASSWORD).await;
    locked.assert_status(429);
    assert!(locked.shows("15 分間ログインできません"));
    assert!(browser.get("/admin/").await.status == 303, "not logged in");
    // Another name is not locked by this one's failures.
    amazonpay2::server::admin::put_account(&world.db, "second", OWNER_PASSWORD).await.unwrap();
    assert_eq!(browser.log_in_as("second", OWNER_PASSWORD).await.location(), "/admin/");
}

#[tokio::test]
async fn many_wrong_passwords_at_once_get_no_more_than_five_checks() {
    let world = world().await;
    let browser = AdminBrowser::new(&world.shop);
    let token = browser.get("/admin/login").await.field("token").expect("the login form's token");
    let fields = [("token", token.as_str()), ("next", "/admin/"), ("name", OWNER), ("password", "guess")];
    let answers = futures_util::future::join_all((0..20).map(|_| browser.post("/admin/login", &fields))).await;
    // Checked and wrong: 401. Not checked: 429, locked (or, on a busy machine, too many checks
    // at once).
    let checked = answers.iter().filter(|a| a.status == 401).count();
    let locked = answers.iter().filter(|a| a.status == 429 && a.shows("15 分間ログインできません")).count();
    let busy = answers.iter().filter(|a| a.status == 429 && a.shows("混み合っています")).count();
    assert_eq!(checked + locked + busy, 20, "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    assert!((1..=5).contains(&checked), "{checked} wrong passwords were checked");
    assert!(world.db.login_attempts(&format!("admin:{OWNER}")).await.unwrap().count <= 5);
    if checked == 5 {
        let locked = browser.log_in_as(OWNER, OWNER_PASSWORD).await;
        locked.assert_status(429);
        assert!(locked.shows("15 分間ログインできません"), "even the right password waits out the lock");
    }
}

#[tokio::test]
async fn the_login_form_is_refused_from_another_site_or_without_its_token() {
    let world = world().await;
    let browser = AdminBrowser::new(&world.shop);
    let form = browser.get("/admin/login").await;
    let token = form.field("token").unwrap();
    let fields = [("token", token.as_str()), ("name", OWNER), ("password", OWNER_PASSWORD)];
    browser.post_from("/admin/login", &fields, Some("https://evil.example")).await.assert_status(403);
    browser.post_from("/admin/login", &fields, None).await.assert_status(403);
    let forged = [("token", "forged"), ("name", OWNER), ("password", OWNER_PASSWORD)];
    browser.post("/admin/login", &forged).await.assert_status(403);
    // Another browser's token is worth nothing with this browser's cookie.
    let other = AdminBrowser::new(&world.shop);
    let other_token = other.get("/admin/login").await.field("token").unwrap();
    let mixed = [("token", other_token.as_str()), ("name", OWNER), ("password", OWNER_PASSWORD)];
    browser.post("/admin/login", &mixed).await.assert_status(403);
    assert_eq!(browser.post("/admin/login", &fields).await.location(), "/admin/");
}

#[tokio::test]
async fn the_session_is_its_own_strict_cookie_renewed_at_login_ended_at_logout_and_after_thirty_idle_minutes() {
    let world = world().await;
    // A browser without a cookie store, to plant a session ID before the login.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = Page::read(http.get(format!("{}/admin/login", world.shop)).send().await.unwrap()).await;
    let login_cookie =
        form.headers[reqwest::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let token = form.field("token").unwrap();
    let planted = "amazonpay2_admin=PLANTEDPLANTEDPLANTEDPLANTEDPLANTEDPLANTEDPLA";
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("token", token.as_str()),
            ("name", OWNER),
            ("password", OWNER_PASSWORD),
            ("next", "/admin/orders"),
        ])
        .finish();
    let login = http
        .post(format!("{}/admin/login", world.shop))
        .header("origin", &world.shop)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("{login_cookie}; {planted}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let login = Page::read(login).await;
    assert_eq!(login.location(), "/admin/orders", "back where the owner was going");
    let cookie = login.headers[reqwest::header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("amazonpay2_admin="), "{cookie}");
    let attributes = cookie.to_ascii_lowercase();
    for attribute in ["httponly", "samesite=strict", "path=/"] {
        assert!(attributes.contains(attribute), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    assert_ne!(session, planted, "a new session at the login, never the one planted before it");
    let get = |cookie: String| {
        let http = http.clone();
        let url = format!("{}/admin/", world.shop);
        async move { Page::read(http.get(url).header("cookie", cookie).send().await.unwrap()).await }
    };
    assert_eq!(get(planted.to_owned()).await.status, 303);
    let page = get(session.clone()).await;
    page.assert_status(200);
    assert_eq!(page.headers[reqwest::header::CACHE_CONTROL], "no-store");
    assert!(page.shows(OWNER));
    let id = session.split_once('=').unwrap().1;
    assert!(world.db.admin_session(id).await.unwrap().is_none(), "the database holds only a digest");
    // Thirty idle minutes end it.
    let digest = {
        use aws_lc_rs::digest::{SHA256, digest};
        digest(&SHA256, id.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let seen = world.db.admin_session(&digest).await.unwrap().expect("the session, by its digest").last_seen;
    world.db.touch_admin_session(&digest, seen - 29 * 60).await.unwrap();
    assert_eq!(get(session.clone()).await.status, 200, "29 idle minutes are fine");
    let seen = world.db.admin_session(&digest).await.unwrap().unwrap().last_seen;
    world.db.touch_admin_session(&digest, seen - 31 * 60).await.unwrap();
    assert_eq!(get(session.clone()).await.status, 303, "timed out");
    assert!(world.db.admin_session(&digest).await.unwrap().is_none());
    // Logging out ends the session (with the page's token only).
    let browser = AdminBrowser::new(&world.shop);
    browser.log_in().await;
    let csrf = browser.csrf().await;
    browser.post("/admin/logout", &[("csrf", "wrong")]).await.assert_status(403);
    assert_eq!(browser.get("/admin/").await.status, 200);
    assert_eq!(browser.post("/admin/logout", &[("csrf", &csrf)]).await.location(), "/admin/login");
    assert_eq!(browser.get("/admin/").await.status, 303);
}

#[tokio::test]
async fn under_https_the_session_cookie_is_a_secure_host_cookie() {
    let shop = crate::common::api::Shop::production().await;
    amazonpay2::server::admin::put_account(&shop.db, OWNER, OWNER_PASSWORD).await.unwrap();
    let form = shop.get("/admin/login").await;
    let login_cookie = form.header(reqwest::header::SET_COOKIE).unwrap().to_owned();
    assert!(login_cookie.starts_with("__Host-amazonpay2_admin_login="), "{login_cookie}");
    let token = crate::common::admin::hidden(&form.text(), "token").unwrap();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("token", token.as_str()), ("name", OWNER), ("password", OWNER_PASSWORD)])
        .finish();
    let request = crate::common::api::request(axum::http::Method::POST, "/admin/login")
        .header("origin", crate::common::api::PRODUCTION_ORIGIN)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", login_cookie.split(';').next().unwrap())
        .body(axum::body::Body::from(body))
        .unwrap();
    let reply = shop.send(request).await;
    reply.assert_status(303);
    let cookie = reply.header(reqwest::header::SET_COOKIE).unwrap().to_ascii_lowercase();
    assert!(cookie.starts_with("__host-amazonpay2_admin="), "{cookie}");
    assert!(cookie.contains("secure") && cookie.contains("httponly") && cookie.contains("samesite=strict"), "{cookie}");
    assert!(!cookie.contains("domain="), "{cookie}");
}

// ---------------------------------------------------------------------------------------------
// Changes need the shop's origin and the session's token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_change_is_refused_without_the_token_or_from_another_site_and_changes_nothing() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    let page = owner.order_page(order.id.0).await;
    let csrf = page.field("csrf").unwrap();
    let version = page.field("version").unwrap();
    let capture = format!("/admin/orders/{}/payment", order.id.0);
    let with = |token: &str| vec![("csrf", token.to_owned()), ("version", version.clone()), ("op", "capture".into())];
    let fields = |pairs: &Vec<(&'static str, String)>| pairs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    for (pairs, origin) in [
        (with(""), Some(world.shop.as_str())),
        (with("guess"), Some(world.shop.as_str())),
        (with(&csrf), Some("https://evil.example")),
        (with(&csrf), None),
    ] {
        let pairs = fields(&pairs);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        owner.post_from(&capture, &refs, origin).await.assert_status(403);
    }
    for path in ["edit", "sync", "subscription"] {
        owner.post(&format!("/admin/orders/{}/{path}", order.id.0), &[("csrf", "guess")]).await.assert_status(403);
    }
    owner
        .post("/admin/settings/shipping", &[("csrf", "guess"), ("method", "3"), ("amazon_pay", "3")])
        .await
        .assert_status(403);
    owner.post("/admin/amazonpay/capture", &[("csrf", "guess"), ("scope", "all")]).await.assert_status(403);
    assert_eq!(state_of(&world, &order).await.version, order.version, "nothing changed");
    assert_eq!(charge_of(&world, &order).await["statusDetails"]["state"], "Authorized");
    assert!(!world.db.shipping_methods().await.unwrap()[2].amazon_pay_allowed);
}

// ---------------------------------------------------------------------------------------------
// 受注一覧 and the 30-day window
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_order_list_shows_the_manuals_columns_filters_and_flags_authorizations_ending_within_a_week() {
    let world = world().await;
    let fresh = bought(&world).await;
    let old = bought(&world).await;
    authorized_days_ago(&world, &old, 25).await;
    let owner = owner(&world).await;
    let list = owner.get("/admin/orders").await;
    list.assert_status(200);
    for column in
        ["受注日", "注文番号", "お名前", "支払方法", "購入金額(円)", "対応状況", "クレジット決済状況", "オーソリ期限"]
    {
        assert!(list.shows(&format!("<th scope=\"col\">{column}</th>")), "{column}");
    }
    assert!(list.shows(&fresh.number) && list.shows(&old.number));
    assert!(list.shows("Amazon Pay") && list.shows("仮売上") && list.shows("新規受付") && list.shows("3,630"));
    assert!(list.shows("残り 5 日") && list.shows("期限間近"), "the old one is flagged");
    assert!(list.shows("残り 30 日"), "the fresh one is not");
    let flagged = owner.get("/admin/orders?state=authorized&lapsing=1").await;
    assert!(flagged.shows(&old.number) && !flagged.shows(&format!(">{}<", fresh.number)));
    let home = owner.get("/admin/").await;
    assert!(home.shows("7 日以内に切れる仮売上の受注が 1 件"), "{}", home.body);
    assert!(home.shows(&old.number));
    let captured = owner.get("/admin/orders?state=captured").await;
    assert!(!captured.shows(&format!(">{}<", old.number)));
    owner.get("/admin/orders?state=bogus").await.assert_status(400);
    owner.get("/admin/orders?page=-3").await.assert_status(400);
    assert!(owner.get("/admin/orders?page=999").await.shows("該当する受注はありません。"));
}

#[tokio::test]
async fn an_authorization_amazon_let_lapse_shows_as_expired_once_the_shop_reads_amazon() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    world.advance_amazon_clock(31 * DAY).await;
    let csrf = owner.csrf().await;
    let synced = owner.post_and_follow(&format!("/admin/orders/{}/sync", order.id.0), &[("csrf", &csrf)]).await;
    assert!(synced.shows("Amazon Pay の最新の状態を反映しました。"));
    assert!(synced.shows("<td id=\"amazon-charge-state\">Canceled ExpiredUnused"), "Amazon's state beside the shop's");
    assert_eq!(state_of(&world, &order).await.state, OrderState::Expired);
    let list = owner.get("/admin/orders?state=expired").await;
    assert!(list.shows(&order.number) && list.shows("オーソリ期限切れ") && list.shows("flag lapsed"));
    assert!(
        owner
            .get("/admin/")
            .await
            .shows("<a href=\"/admin/orders?state=expired\">オーソリ期限切れ</a>: <span class=\"count\">1</span>")
    );
    // Captured from there, it is authorized again on the charge permission.
    assert_eq!(
        owner.operate(order.id.0, "capture", None, false).await.location(),
        format!("/admin/orders/{}?done=captured", order.id.0)
    );
    assert_eq!(state_of(&world, &order).await.state, OrderState::Captured);
}

#[tokio::test]
async fn a_lapsed_authorization_is_re_authorized_from_the_order_page_and_one_amazon_will_not_renew_is_explained() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    world.advance_amazon_clock(31 * DAY).await;
    let done = owner.operate(order.id.0, "capture", None, false).await;
    assert_eq!(done.location(), format!("/admin/orders/{}?done=captured", order.id.0));
    let after = state_of(&world, &order).await;
    assert_ne!(after.charge_id, order.charge_id, "a new charge");
    assert_eq!(world.charge(after.charge_id.as_deref().unwrap()).await["statusDetails"]["state"], "Captured");
    let page = owner.order_page(order.id.0).await;
    assert!(page.shows("再オーソリ") && page.shows(after.charge_id.as_deref().unwrap()));

    let late = bought(&world).await;
    world.advance_amazon_clock(181 * DAY).await;
    let refused = owner.operate(late.id.0, "capture", None, false).await;
    refused.assert_status(409);
    assert!(refused.shows("オーソリの有効期限 (30日) が切れており") && refused.shows("他の支払方法をご案内ください"));
    assert!(refused.shows("オーソリ期限切れ"), "the page now shows the lapse");
}

// ---------------------------------------------------------------------------------------------
// 受注編集 and 「クレジット決済状況変更」
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_purchase_is_reduced_captured_refunded_in_part_and_in_full_from_the_order_page_and_amazon_agrees() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    let page = owner.order_page(order.id.0).await;
    page.assert_status(200);
    assert!(page.shows("クレジット決済状況変更") && page.shows("エラーを無視して変更する"));
    assert!(
        page.shows(order.charge_id.as_deref().unwrap()) && page.shows(order.charge_permission_id.as_deref().unwrap())
    );
    assert!(page.shows("<td id=\"amazon-charge-state\">Authorized"), "Amazon's state beside the shop's");
    assert_eq!(page.field("amount").as_deref(), Some("3630"), "the amount defaults to the order total");
    // 減額: a line removed from the order, a discount given.
    let edited = owner.edit(order.id.0, &[("益子焼 マグカップ", "2750", "1")], "880", "630", "shipped").await;
    assert_eq!(edited.location(), format!("/admin/orders/{}?done=edited", order.id.0));
    let page = owner.get(&edited.location()).await;
    assert_eq!(page.field("amount").as_deref(), Some("3000"));
    assert!(page.shows("受注を変更しました。") && page.shows("発送済み"));
    let captured = owner.operate(order.id.0, "capture", None, false).await;
    assert_eq!(captured.location(), format!("/admin/orders/{}?done=captured", order.id.0));
    let charge = charge_of(&world, &order).await;
    assert_eq!((charge["statusDetails"]["state"].as_str(), &charge["captureAmount"]), (Some("Captured"), &yen(3_000)));
    let page = owner.order_page(order.id.0).await;
    assert!(page.shows("<strong class=\"state-captured\" id=\"credit-status\">実売上</strong>"));
    assert!(page.shows("「実売上」に変更しました。") || page.shows("実売上"));
    // 返金 in part: shown as in progress until Amazon confirms.
    owner.operate(order.id.0, "refund", Some("1,000"), false).await.location();
    let page = owner.order_page(order.id.0).await;
    assert!(page.shows("返金処理中"), "in progress");
    let refunds = world.db.refunds(order.id).await.unwrap();
    assert!(page.shows(&refunds[0].refund_id));
    assert_eq!(world.amazon_get(&format!("refunds/{}", refunds[0].refund_id)).await["refundAmount"], yen(1_000));
    // More than is left is refused, in the owner's words.
    let too_much = owner.operate(order.id.0, "refund", Some("2001"), false).await;
    too_much.assert_status(409);
    assert!(too_much.shows("返金できるのは実売上の金額のうち、あと 2,000 円までです。"));
    world.amazon_control("settle", json!({})).await;
    let synced =
        owner.post_and_follow(&format!("/admin/orders/{}/sync", order.id.0), &[("csrf", &owner.csrf().await)]).await;
    assert!(synced.shows("返金済み"), "confirmed by Amazon");
    // 返金 in full: the rest (the field's default).
    let page = owner.order_page(order.id.0).await;
    assert_eq!(page.field("amount").as_deref(), Some("2000"));
    owner.operate(order.id.0, "refund", None, false).await.location();
    let after = state_of(&world, &order).await;
    assert_eq!((after.state, after.captured, after.refunded), (OrderState::Refunded, 3_000, 3_000));
    let page = owner.order_page(order.id.0).await;
    assert!(page.shows("返金</strong>"));
    assert!(page.shows("管理者 (owner)") && page.shows("お客様"), "who changed the payment");
}

#[tokio::test]
async fn a_cancel_before_capture_cancels_at_amazon_and_closes_the_charge_permission() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    let done = owner.operate(order.id.0, "cancel", None, false).await;
    assert_eq!(done.location(), format!("/admin/orders/{}?done=canceled", order.id.0));
    assert_eq!(charge_of(&world, &order).await["statusDetails"]["state"], "Canceled");
    let permission = world.charge_permission(order.charge_permission_id.as_deref().unwrap()).await;
    assert_eq!(permission["statusDetails"]["state"], "Closed");
    let page = owner.order_page(order.id.0).await;
    assert!(page.shows("この受注のクレジット決済状況は変更できません。"));
}

#[tokio::test]
async fn a_higher_total_is_refused_with_the_manuals_words() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    owner.edit(order.id.0, &[("益子焼 マグカップ", "2750", "2")], "880", "0", "new").await.location();
    let page = owner.order_page(order.id.0).await;
    assert!(page.shows("より高いため AmazonPay は利用できません。他の支払方法に変更するなどご対応ください。"));
    let refused = owner.operate(order.id.0, "capture", None, false).await;
    refused.assert_status(409);
    assert!(refused.shows("AmazonPay は利用できません"));
    assert_eq!(charge_of(&world, &order).await["statusDetails"]["state"], "Authorized");
}

#[tokio::test]
async fn typed_amounts_must_be_whole_yen_above_zero_within_amazons_limit() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    for (typed, says) in [
        ("1,000.5", "円単位の整数で入力してください"),
        ("-1", "円単位の整数で入力してください"),
        ("0", "1 円以上で入力してください"),
        ("10000001", "10,000,000 円以下"),
        ("<script>", "円単位の整数で入力してください"),
    ] {
        let refused = owner.operate(order.id.0, "capture", Some(typed), false).await;
        refused.assert_status(422);
        assert!(refused.shows(says), "{typed}: {}", refused.body);
        assert!(!refused.shows("<script>"), "the typed value is shown escaped");
    }
    assert_eq!(state_of(&world, &order).await.version, order.version, "nothing changed");
    // Full-width digits are read as the owner meant them.
    let done = owner.operate(order.id.0, "capture", Some("３０００"), false).await;
    assert_eq!(done.location(), format!("/admin/orders/{}?done=captured", order.id.0));
    assert_eq!(charge_of(&world, &order).await["captureAmount"], yen(3_000));
}

#[tokio::test]
async fn a_bad_edit_is_refused_as_typed_and_a_stale_page_changes_nothing() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    let refused = owner.edit(order.id.0, &[("<b>器</b>", "2750", "1.5")], "880", "0", "new").await;
    refused.assert_status(422);
    assert!(refused.shows("数量は 0〜999 の整数で入力してください"));
    assert!(refused.shows("&lt;b&gt;器&lt;/b&gt;") && !refused.shows("<b>器</b>"), "kept as typed, escaped");
    let page = owner.order_page(order.id.0).await;
    let csrf = page.field("csrf").unwrap();
    let stale = (order.version - 1).to_string();
    let answer = owner
        .post(
            &format!("/admin/orders/{}/edit", order.id.0),
            &[("csrf", &csrf), ("version", &stale), ("line_name", "x"), ("line_price", "1"), ("line_quantity", "1")],
        )
        .await;
    answer.assert_status(409);
    assert!(answer.shows("再読み込み"));
    assert_eq!(world.db.order_detail(order.id).await.unwrap().unwrap().lines[0].name, "益子焼 マグカップ");
    // Markup in a product name is only ever text.
    owner.edit(order.id.0, &[("<script>alert(1)</script>", "2750", "1")], "880", "0", "new").await.location();
    let page = owner.order_page(order.id.0).await;
    assert!(page.shows("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.shows("<script>alert(1)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_submit_makes_one_capture_and_the_second_is_told_to_reload() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    let page = owner.order_page(order.id.0).await;
    let (csrf, version) = (page.field("csrf").unwrap(), page.field("version").unwrap());
    let fields = [("csrf", csrf.as_str()), ("version", version.as_str()), ("op", "capture"), ("amount", "3630")];
    let path = format!("/admin/orders/{}/payment", order.id.0);
    let (a, b) = tokio::join!(owner.post(&path, &fields), owner.post(&path, &fields));
    let statuses = [a.status, b.status];
    assert!(statuses.contains(&303) && statuses.contains(&409), "{statuses:?}");
    let refused = if a.status == 409 { a } else { b };
    assert!(refused.shows("他の操作中か、表示した後に更新されています"));
    assert_eq!(charge_of(&world, &order).await["captureAmount"], yen(MUG_ORDER));
}

#[tokio::test]
async fn a_change_in_seller_central_is_refused_then_matched_with_the_force_option() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    world.amazon_control("seller-central", json!({ "action": "cancel", "chargeId": order.charge_id })).await;
    let refused = owner.operate(order.id.0, "capture", None, false).await;
    refused.assert_status(409);
    assert!(refused.shows("Amazon Pay 側の管理画面で変更された可能性があります"));
    assert!(refused.shows("Canceled"), "Amazon's state is shown");
    assert_eq!(state_of(&world, &order).await.state, OrderState::Authorized, "nothing changed in the shop");
    let forced = owner.operate(order.id.0, "cancel", None, true).await;
    assert_eq!(forced.location(), format!("/admin/orders/{}?done=forced", order.id.0));
    let page = owner.get(&forced.location()).await;
    assert!(page.shows("「エラーを無視して変更する」で状況を合わせました"));
    assert!(page.shows("エラーを無視して変更: Amazon の状態: Canceled MerchantCanceled"), "recorded in the history");
    assert_eq!(state_of(&world, &order).await.state, OrderState::Canceled);
}

#[tokio::test]
async fn a_late_capture_shows_in_progress_until_amazon_completes_it() {
    let world = world().await;
    let order = bought(&world).await;
    let owner = owner(&world).await;
    world.advance_amazon_clock(8 * DAY).await;
    let done = owner.operate(order.id.0, "capture", None, false).await;
    assert_eq!(done.location(), format!("/admin/orders/{}?done=capturing", order.id.0));
    let page = owner.get(&done.location()).await;
    assert!(page.shows("実売上処理中") && page.shows("Amazon Pay が後で確定します"));
    world.amazon_control("settle", json!({})).await;
    owner.post_and_follow(&format!("/admin/orders/{}/sync", order.id.0), &[("csrf", &owner.csrf().await)]).await;
    assert_eq!(state_of(&world, &order).await.state, OrderState::Captured);
}

#[tokio::test]
async fn a_guests_order_page_shows_the_e_mail_amazon_gave() {
    let world = world().await;
    let guest = world.browser();
    guest.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
    let session = guest.to_confirmation(VISA).await;
    completed_order(&guest.place_and_finish().await, "order_placed");
    let order = world.db.order_by_checkout_session(&session).await.unwrap().expect("the order");
    assert_eq!(order.member, None, "a guest's order");
    let permission = world.charge_permission(order.charge_permission_id.as_deref().unwrap()).await;
    let email = permission["buyer"]["email"].as_str().expect("Amazon gave the buyer's e-mail").to_owned();
    let owner = owner(&world).await;
    let page = owner.get(&format!("/admin/orders/{}", order.id.0)).await;
    page.assert_status(200);
    assert!(page.shows(&format!("<dt>メールアドレス</dt><dd>{email}</dd>")), "受注編集 shows it: {}", page.body);
}

#[tokio::test]
async fn unknown_and_hostile_order_ids_are_not_found() {
    let world = world().await;
    let owner = owner(&world).await;
    for path in [
        "/admin/orders/999999",
        "/admin/orders/abc",
        "/admin/orders/-1",
        "/admin/orders/1%27%20OR%201=1",
        "/admin/nothing",
    ] {
        owner.get(path).await.assert_status(404);
    }
    let csrf = owner.csrf().await;
    owner
        .post("/admin/orders/999999/payment", &[("csrf", &csrf), ("op", "cancel"), ("version", "0")])
        .await
        .assert_status(404);
}

// ---------------------------------------------------------------------------------------------
// 「AmazonPay クレジット決済状況」
// ---------------------------------------------------------------------------------------------

/// Waits (at most 60 s: a loaded machine) until the job has finished; answers its progress.
async fn wait_for_job(owner: &AdminBrowser, job: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let answer = owner.http.get(owner.url(&format!("/api/amazonpay2/admin/bulk/{job}"))).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        let progress: Value = answer.json().await.unwrap();
        if progress["running"] == false {
            return progress;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job did not finish: {progress}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_capture_shows_each_orders_outcome_goes_on_past_a_refusal_and_a_second_run_changes_nothing() {
    let world = world().await;
    let mut orders = Vec::new();
    for _ in 0..5 {
        orders.push(bought(&world).await);
    }
    world.amazon_control("seller-central", json!({ "action": "cancel", "chargeId": orders[2].charge_id })).await;
    let owner = owner(&world).await;
    let page = owner.get("/admin/amazonpay").await;
    page.assert_status(200);
    assert!(page.shows("AmazonPay クレジット決済状況") && page.shows("仮売上の受注 5 件"));
    let csrf = page.field("csrf").unwrap();
    let ids: Vec<String> = orders.iter().map(|o| o.id.0.to_string()).collect();
    let mut fields = vec![("csrf", csrf.as_str()), ("scope", "selected")];
    fields.extend(ids.iter().map(|id| ("order", id.as_str())));
    let started = owner.post("/admin/amazonpay/capture", &fields).await;
    let job_page = started.location();
    let job = job_page.rsplit('/').next().unwrap().to_owned();
    let progress = wait_for_job(&owner, &job).await;
    assert_eq!(
        (progress["total"].as_u64(), progress["done"].as_u64(), progress["refused"].as_u64()),
        (Some(5), Some(4), Some(1)),
        "{progress:#}"
    );
    let items = progress["items"].as_array().unwrap();
    for (item, order) in items.iter().zip(&orders) {
        assert_eq!(item["number"], order.number.as_str(), "in the order chosen");
        let expected = if order.id == orders[2].id { "refused" } else { "done" };
        assert_eq!(item["outcome"], expected, "{item}");
    }
    assert!(items[2]["message"].as_str().unwrap().contains("エラーを無視して変更する"));
    let shown = owner.get(&job_page).await;
    assert!(shown.shows("完了しました。") && shown.shows("失敗") && shown.shows(&orders[2].number));
    // Again, everything: the captured are skipped, the refused one refused again.
    let again = owner.post("/admin/amazonpay/capture", &[("csrf", csrf.as_str()), ("scope", "all")]).await;
    let progress = wait_for_job(&owner, again.location().rsplit('/').next().unwrap()).await;
    assert_eq!(
        (progress["total"].as_u64(), progress["done"].as_u64()),
        (Some(1), Some(0)),
        "only the one left authorized: {progress}"
    );
    let twice = owner.post("/admin/amazonpay/capture", &fields).await;
    let progress = wait_for_job(&owner, twice.location().rsplit('/').next().unwrap()).await;
    assert_eq!(
        (progress["done"].as_u64(), progress["skipped"].as_u64(), progress["refused"].as_u64()),
        (Some(0), Some(4), Some(1))
    );
    for order in orders.iter().filter(|o| o.id != orders[2].id) {
        assert_eq!(charge_of(&world, order).await["captureAmount"], yen(MUG_ORDER), "captured once");
    }
    owner.post("/admin/amazonpay/capture", &[("csrf", csrf.as_str()), ("scope", "selected")]).await.assert_status(422);
    owner.post("/admin/amazonpay/capture", &[("csrf", csrf.as_str()), ("order", "x")]).await.assert_status(400);
    owner.get("/admin/amazonpay/jobs/999999").await.assert_status(404);
}

/// A bulk capture keeps to Amazon's quotas: in the sandbox Amazon takes two captures at once and
/// one a second after that, and refuses more with `429 TooManyRequests`. Six orders captured by
/// the job's eight workers are all captured, and Amazon (the simulator, which keeps the
/// published quotas) refused none of the shop's requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_capture_waits_its_turns_within_amazons_quotas_and_is_never_throttled() {
    let throttled = Arc::new(AtomicUsize::new(0));
    let counted = throttled.clone();
    let world = World::start_wrapped_adapting(
        vec![("AMAZONPAY2_SIMULATOR_QUOTAS", "on".to_owned())],
        move |router| {
            router.layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let counted = counted.clone();
                    async move {
                        let response = next.run(request).await;
                        if response.status() == axum::http::StatusCode::TOO_MANY_REQUESTS {
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                        response
                    }
                },
            ))
        },
        |core| core,
    )
    .await;
    amazonpay2::server::admin::put_account(&world.db, OWNER, OWNER_PASSWORD).await.unwrap();
    let mut orders = Vec::new();
    for _ in 0..6 {
        orders.push(bought(&world).await);
    }
    let owner = owner(&world).await;
    let csrf = owner.csrf().await;
    let started = owner.post("/admin/amazonpay/capture", &[("csrf", csrf.as_str()), ("scope", "all")]).await;
    let progress = wait_for_job(&owner, started.location().rsplit('/').next().unwrap()).await;
    assert_eq!((progress["total"].as_u64(), progress["done"].as_u64()), (Some(6), Some(6)), "{progress:#}");
    for order in &orders {
        assert_eq!(charge_of(&world, order).await["captureAmount"], yen(MUG_ORDER), "captured once");
    }
    assert_eq!(throttled.load(Ordering::Relaxed), 0, "no request of the shop was over Amazon's quota");
}

// ---------------------------------------------------------------------------------------------
// Settings, subscriptions, languages
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_amazon_pay_tick_of_a_shipping_method_decides_the_checkout_button() {
    let world = world().await;
    let owner = owner(&world).await;
    let page = owner.get("/admin/settings/shipping").await;
    assert!(page.shows("支払方法: AmazonPay") && page.shows("店頭受け取り"));
    let csrf = page.field("csrf").unwrap();
    // Tick 店頭受け取り (3), untick 宅配便 (1).
    let fields = [
        ("csrf", csrf.as_str()),
        ("method", "1"),
        ("method", "2"),
        ("method", "3"),
        ("method", "4"),
        ("amazon_pay", "2"),
        ("amazon_pay", "3"),
        ("amazon_pay", "4"),
    ];
    let saved = owner.post("/admin/settings/shipping", &fields).await;
    saved.assert_status(200);
    assert!(saved.shows("登録しました。"));
    let ticks: Vec<bool> = world.db.shipping_methods().await.unwrap().iter().map(|m| m.amazon_pay_allowed).collect();
    assert_eq!(ticks, [false, true, true, true]);
    let shopper = world.member_with_cart(&[(MUG, 1)], TAKKYUBIN).await;
    assert_ne!(shopper.view("checkout").await["view"], "button", "宅配便 no longer allows Amazon Pay");
    shopper.choose_shipping(PICKUP).await;
    assert_eq!(shopper.view("checkout").await["view"], "button");
    owner
        .post("/admin/settings/shipping", &[("csrf", csrf.as_str()), ("method", "99"), ("amazon_pay", "99")])
        .await
        .assert_status(404);
    owner
        .post("/admin/settings/shipping", &[("csrf", csrf.as_str()), ("method", "1"), ("amazon_pay", "2")])
        .await
        .assert_status(400);
}

#[tokio::test]
async fn the_amazon_pay_settings_in_force_are_shown_with_what_to_register_in_seller_central() {
    let world = world().await;
    let owner = owner(&world).await;
    let page = owner.get("/admin/settings/amazonpay").await;
    let config = &world.config;
    for value in [&config.amazon.merchant_id, &config.amazon.store_id, &config.amazon.public_key_id] {
        assert!(page.shows(value), "{value}");
    }
    assert!(page.shows("テスト (Sandbox)"));
    assert!(page.shows(&format!("{}/api/amazonpay2/ipn.php", world.shop)));
    assert!(page.shows(&format!("<code>{}</code>", world.shop)), "the JavaScript origin");
    assert!(!page.shows("<form method=\"post\" action=\"/admin/settings/amazonpay\""), "read-only");
}

#[tokio::test]
async fn cancelling_a_subscription_from_its_order_closes_its_charge_permission() {
    let world = world().await;
    let (_, session) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let order = world.db.order_by_checkout_session(&session).await.unwrap().unwrap();
    let owner = owner(&world).await;
    let page = owner.order_page(order.id.0).await;
    assert!(page.shows("定期購入") && page.shows("継続中"));
    let csrf = page.field("csrf").unwrap();
    let done = owner.post(&format!("/admin/orders/{}/subscription", order.id.0), &[("csrf", &csrf)]).await;
    assert_eq!(done.location(), format!("/admin/orders/{}?done=subscription", order.id.0));
    let permission = order.charge_permission_id.clone().unwrap();
    assert_eq!(world.charge_permission(&permission).await["statusDetails"]["state"], "Closed");
    assert!(!world.db.subscription_by_permission(&permission).await.unwrap().unwrap().active);
    assert!(owner.order_page(order.id.0).await.shows("解約済み"));
    assert!(world.run_subscriptions(a_month_after(today_in_japan())).await.is_empty(), "no more cycles");
}

#[tokio::test]
async fn a_member_cancels_their_subscription_on_my_page_and_its_charge_permission_closes() {
    let world = world().await;
    let (browser, _) = world.customer(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    let subscription = browser.subscriptions().await.remove(0);
    let id = subscription["id"].as_i64().expect("My Page knows the subscription's ID");
    let permission = subscription["chargePermissionId"].as_str().unwrap().to_owned();
    // Another member cannot cancel it, nor can a forged request.
    let other = world.member_with_cart(&[(MUG, 1)], TAKKYUBIN).await;
    assert_eq!(
        other.post(&format!("/demo/subscriptions/{id}/cancel"), json!({})).await.error(404),
        "unknown_subscription"
    );
    let forged =
        browser.post_forged(&format!("/demo/subscriptions/{id}/cancel"), json!({}), Some(Forgery::ForeignOrigin)).await;
    assert_eq!(forged.error(403), "origin_not_allowed");
    assert_eq!(world.charge_permission(&permission).await["statusDetails"]["state"], "Chargeable");
    let history = browser.post(&format!("/demo/subscriptions/{id}/cancel"), json!({})).await.ok();
    assert_eq!(history["subscriptions"], json!([]), "no longer listed");
    assert_eq!(world.charge_permission(&permission).await["statusDetails"]["state"], "Closed");
    assert!(world.run_subscriptions(a_month_after(today_in_japan())).await.is_empty(), "no more cycles");
    assert_eq!(
        browser.post(&format!("/demo/subscriptions/{id}/cancel"), json!({})).await.error(404),
        "unknown_subscription"
    );
}

#[tokio::test]
async fn pages_are_english_on_request_or_for_an_english_browser() {
    let world = world().await;
    let owner = owner(&world).await;
    let english = owner.get("/admin/orders?lang=en").await;
    assert!(english.shows("<html lang=\"en\">") && english.shows("Credit status"));
    assert!(owner.get("/admin/").await.shows("Orders by credit status"), "the choice is remembered");
    assert!(owner.get("/admin/?lang=ja").await.shows("クレジット決済状況ごとの受注"));
    let browser = reqwest::Client::new();
    let login = browser
        .get(format!("{}/admin/login", world.shop))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(login.text().await.unwrap().contains("Admin login"));
}
