//! The admin's figures for `tests/bench/run.sh` (ignored in ordinary test runs: it measures, it
//! does not judge): the bulk capture of 1,000 authorized orders against the simulator, through
//! the admin's own job (HTTP form, background task, progress JSON), and 受注一覧 over 100,000
//! orders (first page, a deep page of one credit status, and the first page with its counts).
//!
//! `AMAZONPAY2_BENCH_ORDERS` changes the number of orders captured (1,000).
//!
//! The capture runs with Amazon's throttling quotas lifted on both sides, so that it measures this
//! program's own cost; Amazon itself takes 4 captures a second per merchant (1 in the sandbox),
//! and the shop paces its job to that.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use crate::common::admin::{AdminBrowser, OWNER, OWNER_PASSWORD};
use crate::common::checkout::*;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The least time `orders` captures take at Amazon's quota: the shop's first turns at once (one
/// fewer than Amazon's burst), then Amazon's restore rate.
fn paced_seconds(orders: usize, sandbox: bool) -> f64 {
    let quota = amazonpay2::amazon::quotas::ApiOperation::CaptureCharge.quota(sandbox);
    let at_once = quota.burst.saturating_sub(1).max(1) as usize;
    orders.saturating_sub(at_once) as f64 / f64::from(quota.per_second)
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1_000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for tests/bench/run.sh"]
async fn bench_admin() {
    let orders: usize = std::env::var("AMAZONPAY2_BENCH_ORDERS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let world = World::start_with(vec![("AMAZONPAY2_SIMULATOR_QUOTAS", "off".to_owned())]).await;
    amazonpay2::server::admin::put_account(&world.db, OWNER, OWNER_PASSWORD).await.unwrap();

    // 1,000 guests buy a mug with Visa (仮売上), eight at a time.
    let started = Instant::now();
    let bought = futures_util::stream::iter(0..orders)
        .map(|_| async {
            let guest = world.browser();
            guest.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
            guest.to_confirmation(VISA).await;
            completed_order(&guest.place_and_finish().await, "order_placed");
        })
        .buffer_unordered(8)
        .count()
        .await;
    assert_eq!(bought, orders);
    eprintln!("   ({orders} purchases made in {:.1} s)", started.elapsed().as_secs_f64());

    // The owner captures them all from 「AmazonPay クレジット決済状況」.
    let owner = AdminBrowser::new(&world.shop);
    owner.log_in().await;
    let csrf = owner.csrf().await;
    let started = Instant::now();
    let job = owner.post("/admin/amazonpay/capture", &[("csrf", csrf.as_str()), ("scope", "all")]).await.location();
    let id = job.rsplit('/').next().unwrap().to_owned();
    let progress = loop {
        let answer = owner.http.get(owner.url(&format!("/api/amazonpay2/admin/bulk/{id}"))).send().await.unwrap();
        let progress: Value = answer.json().await.unwrap();
        if progress["running"] == false {
            break progress;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    let done = progress["done"].as_u64().unwrap();
    assert_eq!(
        done as usize,
        orders,
        "{}",
        progress["items"].as_array().unwrap().iter().find(|i| i["outcome"] != "done").unwrap_or(&Value::Null)
    );
    println!(
        "BENCH bulk capture: {orders} orders captured at the simulator in {:.1} s ({:.0} orders/s, {} at a time, \
         Amazon's quotas lifted; budget: under 60 s). At Amazon's pace the same job takes {:.0} s in production, \
         {:.0} s in the sandbox",
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64(),
        amazonpay2::server::admin::BULK_CONCURRENCY,
        paced_seconds(orders, false),
        paced_seconds(orders, true),
    );

    // 100,000 orders in the list.
    {
        let file = world._data.0.join("amazonpay2.sqlite3");
        let mut connection = rusqlite::Connection::open(file).unwrap();
        let tx = connection.transaction().unwrap();
        let mut insert = tx
            .prepare(
                "INSERT INTO orders (order_number, total, shipping_fee, recurring, state, buyer_name,
                     authorized_amount, authorized_at, created_at, updated_at)
                 VALUES (?1, 3630, 880, 0, ?2, 'Amazon 太郎', 3630, ?3, ?3, ?3)",
            )
            .unwrap();
        let states = ["authorized", "captured", "captured", "refunded", "canceled"];
        let existing = i64::try_from(orders).unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for n in existing..100_000 {
            insert
                .execute(rusqlite::params![format!("B{n}"), states[(n % 5) as usize], now - 40 * 86_400 + n * 30])
                .unwrap();
        }
        drop(insert);
        tx.commit().unwrap();
    }
    let mut timings = Vec::new();
    for (what, path) in [
        ("first page of all orders", "/admin/orders"),
        ("page 300 of the authorized", "/admin/orders?state=authorized&page=300"),
        ("authorizations ending within 7 days", "/admin/orders?state=authorized&lapsing=1"),
        ("first page (counts per credit status, lapsing soon)", "/admin/"),
    ] {
        let mut times = Vec::new();
        for _ in 0..15 {
            let started = Instant::now();
            let page = owner.get(path).await;
            times.push(started.elapsed());
            page.assert_status(200);
        }
        timings.push(format!("{what} {}", ms(median(times))));
    }
    println!(
        "BENCH order list over 100,000 orders (median of 15, whole HTTP page): {} (budget: well under 1 s)",
        timings.join(", ")
    );
}
