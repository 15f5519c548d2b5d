//! Several instances, one truth: two real server processes on one PostgreSQL database, one Amazon
//! Pay simulator process for both (as one Amazon), and a round-robin balancer in front, so that a
//! shopper's requests alternate between the instances. Run when `AMAZONPAY2_TEST_DATABASE_URL` is
//! set (`./build.sh test` sets it); the restart test runs its own throw-away cluster
//! (`tests/pg/cluster.sh … fault`), so that stopping it disturbs no other test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::header;
use serde_json::{Value, json};
use url::Url;

use crate::common::admin::{AdminBrowser, OWNER, OWNER_PASSWORD, Page};
use crate::common::checkout::{MUG, PASSWORD, SEASONAL_BOX, TAKKYUBIN, VISA, a_month_after, completed_order};
use crate::common::databases::Target;
use crate::common::instances::{Deployment, INSTANCE_HEADER, run};
use crate::common::sockets::{Browser, button_form};
use crate::common::text::between;

/// The test database's fresh schema, or `None` (the test is skipped) without one.
async fn postgres(name: &str) -> Option<Target> {
    let target = Target::postgres(name).await;
    if target.is_none() {
        eprintln!("not run: {} is not set", crate::common::databases::TEST_DATABASE_URL);
    }
    target
}

/// Signs in with Amazon through the login block and completes the prefilled sign-up: a member,
/// logged in and linked. Every request goes through the balancer.
async fn member_via_amazon(browser: &Browser) {
    let (options, config) = browser.signed_button("/", "login").await;
    let form = button_form(&options, &config, "SignIn");
    let page = browser.http.post(format!("{}/checkout/initiate", browser.amazon)).form(&form).send().await.unwrap();
    let html = page.text().await.unwrap();
    let flow = between(&html, "name=\"flow\" value=\"", "\"").expect("Amazon's sign-in page");
    let choice = [("flow", flow), ("buyer", "0".to_owned())];
    let back = browser.http.post(format!("{}/checkout/continue", browser.amazon)).form(&choice).send().await.unwrap();
    let url = Url::parse(back.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(browser.arrive(&url).await, "/member/signup.html?amazonpay2=signup_prefilled");
    let mut form = browser.get_api("/signup/prefill").await.ok();
    for (field, value) in [("familyKana", "ヤマダ"), ("givenKana", "タロウ"), ("password", PASSWORD)] {
        form[field] = json!(value);
    }
    assert_eq!(browser.post("/demo/signup", form).await.redirect(), "/?amazonpay2=linked");
    let member = browser.get_api("/session").await.ok()["member"].clone();
    assert_eq!((member["state"].as_str(), member["linked"].as_bool()), (Some("member"), Some(true)), "{member}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_alternating_between_two_instances_signs_in_and_places_an_order() {
    let Some(target) = postgres("alternating").await else { return };
    let deployment = Deployment::start(target, 2).await;
    let browser = deployment.browser();
    member_via_amazon(&browser).await;
    browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
    browser.to_confirmation(VISA).await;
    let number = completed_order(&browser.place_and_finish().await, "order_placed");
    let orders = browser.orders().await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    let placed = (orders[0]["orderNumber"].as_str(), orders[0]["creditStatus"].as_str());
    assert_eq!(placed, (Some(number.as_str()), Some("仮売上")));
    let counts = deployment.balancer.counts();
    assert!(counts.iter().all(|n| *n >= 5), "both instances served the shopper: {counts:?}");
    assert_eq!(deployment.count("SELECT count(*) FROM orders").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_together_migrate_once_and_seed_once() {
    let Some(target) = postgres("starting").await else { return };
    let deployment = Deployment::start(target, 2).await;
    let newest = amazonpay2::storage::SCHEMA_VERSION;
    assert_eq!(deployment.count("SELECT count(*) FROM _sqlx_migrations").await, newest, "each migration once");
    // The demo's two shops, each made once with its catalogue seeded once.
    assert_eq!(deployment.count("SELECT count(*) FROM shops").await, 2, "two shops, not one per instance");
    for (shop, (products, shipping)) in [(1, amazonpay2::demo::catalogue()), (2, amazonpay2::demo::second_catalogue())]
    {
        let count = |table: &str| format!("SELECT count(*) FROM {table} WHERE shop_id = {shop}");
        assert_eq!(deployment.count(&count("products")).await, i64::try_from(products.len()).unwrap());
        assert_eq!(deployment.count(&count("shipping_methods")).await, i64::try_from(shipping.len()).unwrap());
    }
    assert_eq!(deployment.count("SELECT count(*) FROM secrets").await, 2, "one cookie key and one idempotency secret");
    let idempotency = "SELECT count(*) FROM secrets WHERE name = 'amazon-idempotency'";
    assert_eq!(deployment.count(idempotency).await, 1, "one installation: its instances key alike");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_completing_the_same_checkout_at_once_make_one_order() {
    let Some(target) = postgres("same_checkout").await else { return };
    let deployment = Deployment::start(target, 2).await;
    let browser = deployment.browser();
    browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
    let session = browser.to_confirmation(VISA).await;
    let result = browser.place_and_pay().await;
    // The same return from Amazon reaches both instances at the same moment (a double click
    // balanced two ways, a retrying proxy).
    let arrive = |instance: usize| {
        let (http, result) = (browser.http.clone(), result.clone());
        async move {
            let reply = http.get(result).header(INSTANCE_HEADER, instance.to_string()).send().await.unwrap();
            reply.headers()[header::LOCATION].to_str().unwrap().to_owned()
        }
    };
    let (first, second) = tokio::join!(arrive(0), arrive(1));
    let numbers = [&first, &second].map(|location| completed_order(location, "order_placed"));
    assert_eq!(numbers[0], numbers[1], "both answers name the one order");
    assert_eq!(deployment.count("SELECT count(*) FROM orders").await, 1);
    let authorized = format!(
        "SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id
         WHERE o.checkout_session_id = '{session}' AND e.to_state = 'authorized'"
    );
    assert_eq!(deployment.count(&authorized).await, 1, "the order moved to authorized once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_running_the_daily_jobs_at_once_charge_each_cycle_once() {
    let Some(target) = postgres("daily_jobs").await else { return };
    let deployment = Deployment::start(target, 2).await;
    let browser = deployment.browser();
    browser.become_member().await;
    browser.fill_cart(&[(SEASONAL_BOX, 1)], TAKKYUBIN).await;
    browser.to_confirmation(VISA).await;
    completed_order(&browser.place_and_finish().await, "order_placed");
    let next: String = browser.subscriptions().await[0]["nextCycle"].as_str().unwrap().to_owned();
    let day = time::Date::parse(&next, time::macros::format_description!("[year]-[month]-[day]")).unwrap();
    // Every instance's scheduler fires at once: subscriptions and the reconciler, twice each.
    let vars = &deployment.vars;
    let date = ["subscriptions", "--date", &next];
    let (a, b, c, d) =
        tokio::join!(run(&date, vars), run(&date, vars), run(&["reconcile"], vars), run(&["reconcile"], vars));
    for (ok, _) in [&a, &b, &c, &d] {
        assert!(ok, "every job ends well");
    }
    assert_eq!(deployment.count("SELECT count(*) FROM orders WHERE cycle IS NOT NULL").await, 1, "one order per cycle");
    let charged = "SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id
                   WHERE o.cycle IS NOT NULL AND e.to_state = 'completing'";
    assert_eq!(deployment.count(charged).await, 1, "one run claimed the cycle and charged it");
    let states = "SELECT count(*) FROM orders WHERE cycle IS NOT NULL AND state = 'authorized'";
    assert_eq!(deployment.count(states).await, 1);
    let advanced = browser.subscriptions().await[0]["nextCycle"].as_str().unwrap().to_owned();
    assert_eq!(advanced, a_month_after(day).to_string(), "the subscription moved on one cycle");
    let cycles_at_amazon =
        deployment.count("SELECT count(DISTINCT charge_id) FROM orders WHERE cycle IS NOT NULL").await;
    assert_eq!(cycles_at_amazon, 1);
}

/// A page of the admin from instance `n` (pinned past the balancer).
async fn get_on(owner: &AdminBrowser, n: usize, path: &str) -> Page {
    Page::read(owner.http.get(owner.url(path)).header(INSTANCE_HEADER, n.to_string()).send().await.unwrap()).await
}

/// A form of the admin posted to instance `n`.
async fn post_on(owner: &AdminBrowser, n: usize, path: &str, fields: &[(&str, &str)]) -> Page {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let request = owner
        .http
        .post(owner.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, &owner.shop)
        .header(INSTANCE_HEADER, n.to_string())
        .body(body);
    Page::read(request.send().await.unwrap()).await
}

/// A bulk job's progress as instance `n` reports it.
async fn progress_on(owner: &AdminBrowser, n: usize, job: &str) -> Value {
    let page = get_on(owner, n, &format!("/api/amazonpay2/admin/bulk/{job}")).await;
    page.assert_status(200);
    serde_json::from_str(&page.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_job_is_seen_running_on_every_instance_and_resumed_on_another_when_its_instance_dies() {
    let Some(target) = postgres("bulk_job").await else { return };
    let mut deployment = Deployment::start_gated(target, 2).await;
    let gate = deployment.gate.clone().expect("a gated deployment");
    // One more 仮売上 order than the job captures at once.
    let orders = amazonpay2::server::admin::BULK_CONCURRENCY + 1;
    let shopper = deployment.browser();
    for _ in 0..orders {
        shopper.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
        shopper.to_confirmation(VISA).await;
        completed_order(&shopper.place_and_finish().await, "order_placed");
    }
    let db = deployment.target.open().await;
    amazonpay2::server::admin::put_account(&db, OWNER, OWNER_PASSWORD).await.unwrap();
    let owner = AdminBrowser::new(&deployment.shop);
    owner.log_in().await;
    let csrf = owner.csrf().await;

    // Instance 0 starts the job; its first captures are held before Amazon sees them.
    gate.close();
    let started = post_on(&owner, 0, "/admin/amazonpay/capture", &[("csrf", &csrf), ("scope", "all")]).await;
    let job = started.location().rsplit('/').next().unwrap().to_owned();
    gate.wait_held(orders - 1).await;
    let (on_zero, on_one) = (progress_on(&owner, 0, &job).await, progress_on(&owner, 1, &job).await);
    assert_eq!(on_one["running"], true, "the other instance sees it running: {on_one:#}");
    assert!(on_one["instance"].is_string() && on_one["heartbeatAt"].is_i64(), "{on_one:#}");
    assert_eq!((&on_one["instance"], &on_one["total"]), (&on_zero["instance"], &json!(orders)));
    assert!(get_on(&owner, 1, &format!("/admin/amazonpay/jobs/{job}")).await.shows("処理中…"));

    // Instance 0 dies in the middle. Its heartbeat stops; an hour on (moved back here rather
    // than waited for), the job shows as interrupted on the instance left.
    deployment.kill(0);
    let stale = format!("UPDATE bulk_jobs SET heartbeat_at = heartbeat_at - 3600 WHERE id = {job}");
    deployment.target.execute(&stale).await.unwrap();
    let stopped = progress_on(&owner, 1, &job).await;
    assert_eq!((&stopped["running"], &stopped["interrupted"]), (&json!(false), &json!(true)), "{stopped:#}");
    let page = get_on(&owner, 1, &format!("/admin/amazonpay/jobs/{job}")).await;
    assert!(page.shows("中断しました") && page.shows("続きを実行する"), "{}", page.body);

    // Instance 1 resumes it: what was still waiting is captured there, nothing twice.
    gate.open();
    let resumed = post_on(&owner, 1, &format!("/admin/amazonpay/jobs/{job}/resume"), &[("csrf", &csrf)]).await;
    assert_eq!(resumed.location(), format!("/admin/amazonpay/jobs/{job}"));
    let started = Instant::now();
    let finished = loop {
        let progress = progress_on(&owner, 1, &job).await;
        if progress["finishedAt"].is_i64() {
            break progress;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the resumed job did not finish: {progress:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let count = |kind: &str| finished[kind].as_u64().unwrap();
    assert_eq!(
        (count("waiting"), count("refused"), count("done") + count("skipped")),
        (0, 0, orders as u64),
        "{finished:#}"
    );
    assert!(count("done") >= 1, "the order the dead instance never reached is captured: {finished:#}");
    let captured = deployment.count("SELECT count(*) FROM orders WHERE state = 'captured'").await;
    assert_eq!(captured, i64::try_from(count("done")).unwrap());
    let events = "SELECT count(*) FROM order_events WHERE to_state = 'captured'";
    assert_eq!(deployment.count(events).await, captured, "each captured once");
}

/// `tests/pg/cluster.sh COMMAND fault`: the restart test's own cluster.
fn fault_cluster(command: &str) -> String {
    let output = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pg/cluster.sh"))
        .args([command, "fault"])
        .output()
        .expect("the cluster script runs");
    assert!(output.status.success(), "cluster.sh {command}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Where the restart test is: the load's answers are counted per phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Up,
    Down,
    Back,
    Done,
}

#[derive(Default)]
struct Counts {
    /// 200s before the outage.
    served_before: AtomicUsize,
    /// Answers of any kind while the database is down.
    during: AtomicUsize,
    /// Shoppers that got a 200 after the restart.
    served_again: AtomicUsize,
}

/// Waits (at most 60 s) until `done` holds, checking every 20 ms.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "waited 60 s for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_restarted_under_load_fails_fast_and_recovers_without_a_restart() {
    if crate::common::databases::postgres_url().is_none() {
        eprintln!("not run: {} is not set", crate::common::databases::TEST_DATABASE_URL);
        return;
    }
    let target = Target::postgres_at(&fault_cluster("start"), "fault").await;
    let deployment = Deployment::start(target, 2).await;
    let browser = deployment.browser();
    browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;

    // Load: shoppers reading their cart on both instances, bounded in count and time. Each
    // shopper notes its answers with the phase they were asked in: before, during and after the
    // outage.
    let (phase, phases) = tokio::sync::watch::channel(Phase::Up);
    let counts = Arc::new(Counts::default());
    let shoppers = 4;
    let mut load = Vec::new();
    for _ in 0..shoppers {
        let (http, cart, mut phases) = (browser.http.clone(), browser.api("/demo/cart"), phases.clone());
        let counts = counts.clone();
        load.push(tokio::spawn(async move {
            let mut seen: Vec<(Phase, u16, Option<String>)> = Vec::new();
            for _ in 0..20_000 {
                let now = *phases.borrow_and_update();
                if now == Phase::Done {
                    break;
                }
                // An answer is due at once (the instances give up on the database after 8 s,
                // README): 30 s without one is a hang.
                let reply = http.get(&cart).timeout(Duration::from_secs(30)).send().await.unwrap();
                let status = reply.status().as_u16();
                let code =
                    reply.json::<Value>().await.ok().and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
                let first_back = now == Phase::Back && status == 200 && !seen.iter().any(|s| s.0 == now && s.1 == 200);
                seen.push((now, status, code));
                match now {
                    Phase::Up if status == 200 => counts.served_before.fetch_add(1, Ordering::SeqCst),
                    Phase::Down => counts.during.fetch_add(1, Ordering::SeqCst),
                    Phase::Back if first_back => counts.served_again.fetch_add(1, Ordering::SeqCst),
                    _ => 0,
                };
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    // The load is served before the outage …
    wait_until("the load served", || counts.served_before.load(Ordering::SeqCst) >= 8).await;
    fault_cluster("stop");
    phase.send_replace(Phase::Down);
    // … meets it, with a clear error while the database is down …
    let started = Instant::now();
    let down = loop {
        let answer = browser.get_api("/demo/cart").await;
        if answer.status != 200 {
            break answer;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "served from a stopped database");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(down.error(503), "database_unavailable", "a clear error while the database is down");
    wait_until("the load meeting the outage", || counts.during.load(Ordering::SeqCst) >= 8).await;
    fault_cluster("start");
    let started = Instant::now();
    loop {
        let answer = browser.get_api("/demo/cart").await;
        if answer.status == 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the instances recover by themselves: {}", answer.json);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // … and every shopper is served again, without a restart of the instances.
    phase.send_replace(Phase::Back);
    wait_until("every shopper served again", || counts.served_again.load(Ordering::SeqCst) >= shoppers).await;
    phase.send_replace(Phase::Done);
    let mut answers = Vec::new();
    for task in load {
        answers.extend(task.await.unwrap());
    }
    let unavailable = answers.iter().filter(|(phase, status, _)| *phase == Phase::Down && *status == 503).count();
    assert!(unavailable > 0, "the load met the outage");
    for (_, status, code) in &answers {
        assert!(
            *status == 200 || (*status == 503 && code.as_deref() == Some("database_unavailable")),
            "{status} {code:?}"
        );
    }
    // Nothing half-done or doubled: the shopper goes on to one order.
    browser.to_confirmation(VISA).await;
    completed_order(&browser.place_and_finish().await, "order_placed");
    assert_eq!(deployment.count("SELECT count(*) FROM orders").await, 1);
}

/// Every instance on the shared database serves a shop added beside them, within its poll of the
/// registry, without a restart; the shop's orders are its own, and a host of no shop is nobody's
/// on either instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_added_beside_two_instances_is_served_by_both_and_an_unknown_host_by_neither() {
    let Some(target) = postgres("shops").await else { return };
    let deployment = Deployment::start(target, 2).await;
    let host = "shop-x.example.jp";
    let (added, out) = crate::common::instances::run_with_input(
        &["shop", "add", host, "--owner", "owner-x"],
        &deployment.vars,
        "owner-x-password\n",
    )
    .await;
    assert!(added, "{out}");
    assert!(out.contains("answers on shop-x.example.jp"), "{out}");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = |instance: usize, host: &'static str| {
        http.get(format!("{}/admin/login", deployment.shop))
            .header(header::HOST, host)
            .header(INSTANCE_HEADER, instance.to_string())
            .send()
    };
    for instance in 0..2 {
        // Each instance learns of the shop at its next poll: waited for by its answer.
        let started = Instant::now();
        loop {
            let status = login(instance, host).await.unwrap().status();
            if status == 200 {
                break;
            }
            assert_eq!(status, 404, "instance {instance}: unknown until its poll, then served");
            assert!(started.elapsed() < Duration::from_secs(60), "instance {instance} never served the new shop");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let nobody = login(instance, "nobody.example.jp").await.unwrap();
        assert_eq!(nobody.status(), 404);
        assert!(nobody.text().await.unwrap().is_empty(), "a bare 404");
    }
    // The new shop's owner is its own; the first shop's orders are none of its business.
    let shops = deployment.count("SELECT count(*) FROM shops WHERE store_name = '' AND id > 2").await;
    assert_eq!(shops, 1, "one shop made, whichever instance polled first");
    let owners = "SELECT count(*) FROM admin_accounts a JOIN shop_hosts h ON h.shop_id = a.shop_id
                  WHERE h.host = 'shop-x.example.jp' AND a.name = 'owner-x'";
    assert_eq!(deployment.count(owners).await, 1);
}

/// `check [HOST]` beside running instances: each shop's findings, and an exit status that says
/// whether all is well. The first shop's keys are the shared simulator's merchant; the demo's
/// second shop is a merchant this simulator does not know, as Amazon would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_check_passes_for_a_shop_amazon_accepts_and_fails_for_one_it_does_not() {
    let Some(target) = postgres("check").await else { return };
    let deployment = Deployment::start(target, 1).await;
    let first = deployment.shop.trim_start_matches("http://").to_owned();
    let (ok, out) = run(&["check", &first], &deployment.vars).await;
    assert!(ok, "{out}");
    assert!(out.contains("[ok] Keys: accepted by Amazon (Sandbox)"), "{out}");
    assert!(
        out.contains(&format!("[ok] IPN URL (register in step ⑨): {}/api/amazonpay2/ipn.php", deployment.shop)),
        "{out}"
    );
    let (ok, out) = run(&["check"], &deployment.vars).await;
    assert!(!ok, "the second shop's keys are unknown to this Amazon: {out}");
    let second = out.split("shop 2 ").nth(1).expect("the second shop checked too");
    assert!(second.contains("[!!] Keys:"), "{out}");
    let (ok, _) = run(&["check", "nobody.example.jp"], &deployment.vars).await;
    assert!(!ok, "a host of no shop");
}
