//! Throughput of the button endpoint and of order placement: two instances on PostgreSQL next to
//! one instance on SQLite, in the same run, each behind the same in-process round-robin balancer
//! (so both pay its cost). Ignored by `cargo test`; `tests/bench/run.sh` runs it:
//!
//! ```sh
//! AMAZONPAY2_TEST_DATABASE_URL=$(tests/pg/cluster.sh start) \
//!   cargo test --release --test bench -- --ignored --nocapture instances::
//! ```

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::checkout::{MUG, TAKKYUBIN, VISA, completed_order};
use crate::common::databases::Target;
use crate::common::instances::Deployment;
use crate::common::sockets::Browser;

/// Concurrent shoppers on the button endpoint, and how long they press.
const BUTTON_CLIENTS: usize = 16;
const BUTTON_TIME: Duration = Duration::from_secs(5);
/// Concurrent shoppers placing orders, and how many orders each places.
const ORDER_CLIENTS: usize = 8;
const ORDERS_EACH: usize = 5;

/// Requests per second of `POST /buttons` (a checkout button for a stored cart).
async fn buttons(deployment: &Deployment) -> f64 {
    let mut shoppers = Vec::new();
    for _ in 0..BUTTON_CLIENTS {
        let browser = deployment.browser();
        browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
        shoppers.push(browser);
    }
    let started = Instant::now();
    let tasks: Vec<_> = shoppers
        .into_iter()
        .map(|browser: Browser| {
            tokio::spawn(async move {
                let block = json!({ "kind": "checkout", "placement": "Cart", "buttonColor": "Gold" });
                let body = json!({ "blocks": [block] });
                let mut done = 0u64;
                while started.elapsed() < BUTTON_TIME {
                    let reply = browser
                        .http
                        .post(browser.api("/buttons"))
                        .header(reqwest::header::ORIGIN, &browser.shop)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert!(reply.status().is_success(), "{}", reply.status());
                    reply.bytes().await.unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Orders per second, each from a filled cart through Amazon to the completion page.
async fn orders(deployment: &Deployment) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..ORDER_CLIENTS)
        .map(|_| {
            let browser = deployment.browser();
            tokio::spawn(async move {
                for _ in 0..ORDERS_EACH {
                    browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
                    browser.to_confirmation(VISA).await;
                    completed_order(&browser.place_and_finish().await, "order_placed");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let placed = deployment.count("SELECT count(*) FROM orders WHERE state = 'authorized'").await;
    assert_eq!(placed, i64::try_from(ORDER_CLIENTS * ORDERS_EACH).unwrap());
    placed as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: tests/bench/run.sh runs it"]
async fn bench_two_instances_on_postgresql_next_to_one_on_sqlite() {
    let sqlite = Deployment::start_unthrottled(Target::sqlite("bench-sqlite"), 1).await;
    let (sqlite_buttons, sqlite_orders) = (buttons(&sqlite).await, orders(&sqlite).await);
    drop(sqlite);
    println!("BENCH buttons   1 instance  SQLite     {sqlite_buttons:>8.0} requests/s");
    println!("BENCH orders    1 instance  SQLite     {sqlite_orders:>8.1} orders/s");
    let Some(target) = Target::postgres("bench").await else {
        println!("BENCH (PostgreSQL not measured: {} is not set)", crate::common::databases::TEST_DATABASE_URL);
        return;
    };
    let postgres = Deployment::start_unthrottled(target, 2).await;
    let (pg_buttons, pg_orders) = (buttons(&postgres).await, orders(&postgres).await);
    println!("BENCH buttons   2 instances PostgreSQL {pg_buttons:>8.0} requests/s");
    println!("BENCH orders    2 instances PostgreSQL {pg_orders:>8.1} orders/s");
    println!(
        "BENCH ({BUTTON_CLIENTS} button clients for {BUTTON_TIME:?}, {ORDER_CLIENTS}x{ORDERS_EACH} orders; load, balancer, \
         simulator and instances share this machine's cores)"
    );
}
