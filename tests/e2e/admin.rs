//! End to end: the shop owner in the admin (管理画面) in headless Chromium, on the real demo server
//! with the simulator. Purchases are made as shoppers make them (over HTTP); the owner logs in
//! with the demo's account and captures, reduces, refunds in part and in full, cancels, uses the
//! force option and the bulk page with its progress; after each step Amazon's side is read
//! through its API. Every admin page passes axe-core's WCAG 2 A/AA rules.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::checkout::{MUG, TAKKYUBIN, VISA, completed_order};
use crate::common::gate::Gate;
use crate::common::page::{WAIT, desktop};
use crate::common::shop::Shop;
use crate::common::sockets::{cookie_client, shop_client, simulator_control};
use crate::common::webdriver::Browser;
use amazonpay2::core::AmazonPayClient;
use amazonpay2::core::orders::OrderState;
use amazonpay2::core::platform::Order;
use amazonpay2::storage::Database;

/// The demo's owner account (README, and printed at start).
const ADMIN: (&str, &str) = ("admin", "admin-demo");

struct Demo {
    shop: Shop,
    db: Database,
    amazon: AmazonPayClient,
}

impl Demo {
    async fn start() -> Self {
        Self::around(Shop::start().await).await
    }

    /// The demo with the shop's calls to Amazon through `gate` (the simulator's notifications
    /// still come from the simulator's own origin).
    async fn gated(gate: &Gate) -> Self {
        let overrides = [("AMAZONPAY2_API_BASE", gate.url.as_str()), ("AMAZONPAY2_IPN_CERT_HOSTS", "{simulator}")];
        let shop = Shop::start_with(&overrides, &[]).await;
        gate.forward_to(&shop.simulator);
        Self::around(shop).await
    }

    async fn around(shop: Shop) -> Self {
        // The same database the server uses, as a command beside it would open it.
        let db = shop.command_state().await.db.clone();
        let amazon = shop_client(&shop.config, &shop.key);
        Self { shop, db, amazon }
    }

    /// A shopper's purchase of a mug by 宅配便 with Visa (仮売上), made as the shop's pages do.
    async fn purchase(&self) -> Order {
        let shopper = crate::common::sockets::Browser {
            shop: self.shop.origin.clone(),
            amazon: self.shop.simulator.clone(),
            http: cookie_client().build().unwrap(),
        };
        shopper.become_member().await;
        shopper.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
        let session = shopper.to_confirmation(VISA).await;
        completed_order(&shopper.place_and_finish().await, "order_placed");
        self.db.order_by_checkout_session(&session).await.unwrap().expect("the order")
    }

    async fn order(&self, order: &Order) -> Order {
        self.db.order(order.id).await.unwrap().unwrap()
    }

    /// What Amazon holds of the order's charge now.
    async fn charge(&self, order: &Order) -> Value {
        let id = self.order(order).await.charge_id.unwrap();
        self.amazon.call::<Value>(Method::GET, &format!("charges/{id}"), None::<&()>).await.unwrap()
    }

    async fn amazon(&self, resource: &str) -> Value {
        self.amazon.call::<Value>(Method::GET, resource, None::<&()>).await.unwrap()
    }
}

fn yen(amount: u64) -> Value {
    json!({ "amount": amount.to_string(), "currencyCode": "JPY" })
}

/// axe-core's script (`build.sh test` installs it; `AMAZONPAY2_AXE` names the file).
fn axe_script() -> String {
    let path = std::env::var_os("AMAZONPAY2_AXE").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        cache.join("amazonpay2-tools/axe/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("axe-core is not at {} ({e}): run ./build.sh test once", path.display()))
}

/// Asserts that the page passes axe-core's WCAG 2 A and AA rules.
async fn assert_accessible(browser: &Browser, page: &str) {
    browser.execute(&axe_script(), vec![]).await.unwrap();
    let violations = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then(r => done(r.violations.map(v => ({ id: v.id,
                 nodes: v.nodes.map(n => ({ html: n.html, failureSummary: n.failureSummary })) }))),
                     e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(violations, json!([]), "{page}: {violations:#}");
}

/// Sets a form field's value as typing would.
async fn fill(browser: &Browser, css: &str, value: &str) {
    let set = "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
               e.dispatchEvent(new Event('input', {bubbles: true})); return true;";
    browser.execute(set, vec![json!(css), json!(value)]).await.unwrap();
}

async fn click(browser: &Browser, css: &str) {
    let element = browser.find(css).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    browser.click(&element).await.unwrap();
}

/// Clicks `css` (a link or a submit button) and waits for the new page at exactly `path`.
async fn click_to(browser: &Browser, css: &str, path: &str) {
    let element = browser.find(css).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    browser.click_to_page(&element, path).await.unwrap_or_else(|e| panic!("{css} → {path}: {e}"));
}

/// Goes to `path` and waits until the browser shows that very page.
async fn open(browser: &Browser, demo: &Demo, path: &str) {
    let bare = path.split('?').next().unwrap_or(path);
    browser.goto_page(&demo.shop.url(path), bare).await.unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// Submits a form of the order page at `page` by clicking `css`, and waits for the page the
/// server answers with: the order page again (`?done=…`), or the form's own address when it
/// refuses (409). Never the page the form was on, even when the new one has the same address.
async fn submit_on(browser: &Browser, page: &str, css: &str) {
    let mark = browser.mark_page().await.unwrap();
    click(browser, css).await;
    let landed = format!("location.pathname === {page:?} || location.pathname.startsWith({:?})", format!("{page}/"));
    browser.wait_for_new_page_where(&mark, &landed, &format!("the answer to {css}")).await.unwrap();
}

async fn text_of(browser: &Browser, css: &str) -> String {
    browser.text(&browser.find(css).await.unwrap()).await.unwrap()
}

/// Logs in as the demo's owner through the login form, going to `/admin/`, in Japanese (the
/// headless browser asks for English).
async fn log_in(browser: &Browser, demo: &Demo) {
    browser.goto_page(&demo.shop.url("/admin/?lang=ja"), "/admin/login").await.unwrap();
    assert_accessible(browser, "login").await;
    fill(browser, "#name", ADMIN.0).await;
    fill(browser, "#password", ADMIN.1).await;
    click_to(browser, "form.login button", "/admin/").await;
    assert!(text_of(browser, "header").await.contains(ADMIN.0));
}

/// On the order page: chooses `op`, types `amount` (none: as the page filled it), ticks the
/// force option when asked, and submits; answers the page the browser lands on.
async fn change_payment(
    browser: &Browser,
    demo: &Demo,
    order: &Order,
    op: &str,
    amount: Option<&str>,
    force: bool,
) -> String {
    let path = format!("/admin/orders/{}", order.id.0);
    open(browser, demo, &path).await;
    click(browser, &format!("#op-{op}")).await;
    if let Some(amount) = amount {
        fill(browser, "#amount", amount).await;
    }
    if force {
        click(browser, "#force").await;
    }
    submit_on(browser, &path, "form.payment button[type=submit]").await;
    browser.wait_for("document.querySelector('.message') && true", WAIT, "the outcome").await.unwrap();
    text_of(browser, ".message").await
}

#[tokio::test]
async fn an_owner_reduces_captures_refunds_in_part_and_in_full_and_cancels_in_the_browser_and_amazon_agrees() {
    let demo = Demo::start().await;
    let order = demo.purchase().await;
    let other = demo.purchase().await;
    let (_driver, browser) = desktop().await;
    log_in(&browser, &demo).await;
    assert_accessible(&browser, "home").await;

    // 受注一覧 → 受注編集.
    click_to(&browser, "nav a[href='/admin/orders']", "/admin/orders").await;
    assert_accessible(&browser, "order list").await;
    let row = text_of(&browser, &format!("tr[data-order='{}']", order.id.0)).await;
    assert!(
        row.contains(&order.number) && row.contains("Amazon Pay") && row.contains("3,630") && row.contains("仮売上"),
        "{row}"
    );
    let order_page = format!("/admin/orders/{}", order.id.0);
    click_to(&browser, &format!("tr[data-order='{}'] a", order.id.0), &order_page).await;
    assert_accessible(&browser, "order page").await;
    assert_eq!(text_of(&browser, "#charge-id").await, order.charge_id.clone().unwrap());
    assert!(text_of(&browser, "#amazon-charge-state").await.starts_with("Authorized"));

    // 金額変更: a discount of ¥630, then 実売上 of the lower total (減額).
    fill(&browser, "#discount", "630").await;
    submit_on(&browser, &order_page, "form.edit button[type=submit]").await;
    browser.wait_for("document.querySelector('.message.done') && true", WAIT, "the edit").await.unwrap();
    assert_eq!(browser.execute("return document.querySelector('#amount').value", vec![]).await.unwrap(), "3000");
    let said = change_payment(&browser, &demo, &order, "capture", None, false).await;
    assert!(said.contains("「実売上」に変更しました"), "{said}");
    let charge = demo.charge(&order).await;
    assert_eq!((charge["statusDetails"]["state"].as_str(), &charge["captureAmount"]), (Some("Captured"), &yen(3_000)));
    assert_eq!(text_of(&browser, "#credit-status").await, "実売上");
    assert!(text_of(&browser, "#amazon-charge-state").await.starts_with("Captured"));

    // 返金 in part, shown in progress until Amazon confirms; then the rest.
    let said = change_payment(&browser, &demo, &order, "refund", Some("1000"), false).await;
    assert!(said.contains("返金を依頼しました"), "{said}");
    assert!(text_of(&browser, "table.refunds").await.contains("返金処理中"));
    let refund = demo.db.refunds(order.id).await.unwrap().remove(0);
    assert_eq!(demo.amazon(&format!("refunds/{}", refund.refund_id)).await["refundAmount"], yen(1_000));
    let refused = change_payment(&browser, &demo, &order, "refund", Some("2001"), false).await;
    assert!(refused.contains("あと 2,000 円まで"), "{refused}");
    let said = change_payment(&browser, &demo, &order, "refund", None, false).await;
    assert!(said.contains("返金を依頼しました"), "{said}");
    let after = demo.order(&order).await;
    assert_eq!((after.state, after.refunded), (OrderState::Refunded, 3_000));
    simulator_control(&demo.shop.simulator, "settle", json!({})).await;
    // The page before shows a done message too (the refund's): the sync's is on the next one.
    submit_on(&browser, &order_page, "form[action$='/sync'] button").await;
    browser.wait_for("document.querySelector('.message.done') && true", WAIT, "the sync").await.unwrap();
    let refunds = text_of(&browser, "#amazon ~ table.refunds, section[aria-labelledby=amazon] table.refunds").await;
    assert!(refunds.contains("Refunded") && !refunds.contains("返金処理中"), "{refunds}");
    let history = text_of(&browser, "table.history").await;
    assert!(history.contains("管理者 (admin)") && history.contains("お客様"), "{history}");

    // キャンセル of the other order, before capture.
    let said = change_payment(&browser, &demo, &other, "cancel", None, false).await;
    assert!(said.contains("キャンセルしました"), "{said}");
    assert_eq!(demo.charge(&other).await["statusDetails"]["state"], "Canceled");
    let permission = demo.amazon(&format!("chargePermissions/{}", other.charge_permission_id.clone().unwrap())).await;
    assert_eq!(permission["statusDetails"]["state"], "Closed");
    // Refusals answer 409 (which the console notes as a failed load); nothing else may fail.
    let errors: Vec<String> = browser
        .browser_log()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.level == "SEVERE" && !e.message.contains("status of 409"))
        .map(|e| e.message)
        .collect();
    assert!(errors.is_empty(), "no script errors: {errors:?}");
    browser.quit().await.unwrap();
    demo.shop.stop().await;
}

#[tokio::test]
async fn bulk_capture_shows_progress_and_each_outcome_then_a_second_run_changes_nothing() {
    // Captures wait at the gate while the test looks at the job's page: it shows the job running
    // however fast the simulator would have been.
    let gate = Gate::start(|method, path| method == Method::POST && path.ends_with("/capture")).await;
    let demo = Demo::gated(&gate).await;
    let mut orders = Vec::new();
    for _ in 0..6 {
        orders.push(demo.purchase().await);
    }
    // One order was cancelled in Seller Central and Amazon's notification of it is late, so the
    // shop still shows it 仮売上: Amazon refuses its capture.
    simulator_control(&demo.shop.simulator, "ipn", json!({ "enabled": false })).await;
    let refused = orders[3].clone();
    simulator_control(
        &demo.shop.simulator,
        "seller-central",
        json!({ "action": "cancel", "chargeId": refused.charge_id }),
    )
    .await;
    let (_driver, browser) = desktop().await;
    log_in(&browser, &demo).await;
    click_to(&browser, "nav a[href='/admin/amazonpay']", "/admin/amazonpay").await;
    assert_accessible(&browser, "bulk page").await;
    click(&browser, "#select-all").await;
    let selected =
        browser.execute("return document.querySelectorAll('input[name=order]:checked').length", vec![]).await.unwrap();
    assert_eq!(selected, 6, "select all");
    // Amazon throttles: the first two attempts of each capture answer 429, retried with backoff.
    simulator_control(&demo.shop.simulator, "faults", json!({ "status": 429, "count": 12 })).await;
    gate.close();
    let mark = browser.mark_page().await.unwrap();
    click(&browser, "button[value=selected]").await;
    browser.wait_for_new_page_under(&mark, "/admin/amazonpay/jobs/").await.unwrap();
    gate.wait_until_holding(1).await;
    assert_eq!(text_of(&browser, "#bulk-state").await, "処理中…", "the page shows the job running");
    // The page follows the job by itself: it asks for the progress while the job runs.
    browser
        .wait_for(
            "performance.getEntriesByType('resource').some(e => e.name.includes('/api/amazonpay2/admin/bulk/'))",
            WAIT,
            "the page asking for the job's progress",
        )
        .await
        .unwrap();
    gate.open();
    browser
        .wait_for(
            "document.getElementById('bulk-state').textContent === '完了しました。'",
            Duration::from_secs(60),
            "the job",
        )
        .await
        .unwrap();
    assert_eq!(text_of(&browser, "#bulk-count").await, "6 / 6");
    assert_eq!(text_of(&browser, "#bulk-done").await, "5");
    assert_eq!(text_of(&browser, "#bulk-refused").await, "1");
    let row = text_of(&browser, &format!("tr[data-order='{}']", refused.id.0)).await;
    assert!(row.contains("失敗") && row.contains("エラーを無視して変更する"), "{row}");
    assert_accessible(&browser, "job page").await;
    for order in orders.iter().filter(|o| o.id != refused.id) {
        assert_eq!(demo.charge(order).await["captureAmount"], yen(3_630));
    }
    // A second run of the same orders: captured ones are skipped, nothing is captured twice.
    open(&browser, &demo, "/admin/amazonpay").await;
    let left = browser.execute("return document.querySelectorAll('input[name=order]').length", vec![]).await.unwrap();
    assert_eq!(left, 1, "only the refused order is still authorized");
    click(&browser, "#select-all").await;
    let selected =
        browser.execute("return document.querySelectorAll('input[name=order]:checked').length", vec![]).await.unwrap();
    assert_eq!(selected, 1, "select all");
    let mark = browser.mark_page().await.unwrap();
    click(&browser, "button[value=selected]").await;
    browser.wait_for_new_page_under(&mark, "/admin/amazonpay/jobs/").await.unwrap();
    browser
        .wait_for(
            "document.getElementById('bulk-state').textContent === '完了しました。'",
            Duration::from_secs(60),
            "the second job",
        )
        .await
        .unwrap();
    assert_eq!(text_of(&browser, "#bulk-done").await, "0");

    // 「エラーを無視して変更する」 for the refused order: キャンセル, as Seller Central did.
    let said = change_payment(&browser, &demo, &refused, "capture", None, false).await;
    assert!(said.contains("Amazon Pay 側の管理画面で変更された可能性があります"), "{said}");
    let said = change_payment(&browser, &demo, &refused, "cancel", None, true).await;
    assert!(said.contains("「エラーを無視して変更する」で状況を合わせました"), "{said}");
    assert!(text_of(&browser, "table.history").await.contains("Canceled MerchantCanceled"));
    assert_eq!(demo.order(&refused).await.state, OrderState::Canceled);
    browser.quit().await.unwrap();
    demo.shop.stop().await;
}

#[tokio::test]
async fn authorizations_ending_within_a_week_are_flagged_and_settings_pages_are_accessible() {
    let demo = Demo::start().await;
    let order = demo.purchase().await;
    let id = order.id.0;
    crate::common::sockets::beside_server(&demo.shop.config.data_dir, move |connection| {
        connection.execute("UPDATE orders SET authorized_at = authorized_at - 26 * 86400 WHERE id = ?1", [id])
    })
    .await
    .unwrap();
    let (_driver, browser) = desktop().await;
    log_in(&browser, &demo).await;
    let warning = text_of(&browser, "#lapsing").await;
    assert!(warning.contains("7 日以内に切れる仮売上の受注が 1 件"), "{warning}");
    let row = text_of(&browser, &format!("tr[data-order='{}']", order.id.0)).await;
    assert!(row.contains("残り 4 日") && row.contains("期限間近"), "{row}");
    for (path, says) in
        [("/admin/settings/shipping", "支払方法: AmazonPay"), ("/admin/settings/amazonpay", "/api/amazonpay2/ipn.php")]
    {
        open(&browser, &demo, path).await;
        assert!(text_of(&browser, "main").await.contains(says), "{path}");
        assert_accessible(&browser, path).await;
    }
    // English, on request.
    open(&browser, &demo, "/admin/orders?lang=en").await;
    assert!(text_of(&browser, "main").await.contains("Credit status"));
    assert_accessible(&browser, "order list in English").await;
    browser.quit().await.unwrap();
    demo.shop.stop().await;
}
