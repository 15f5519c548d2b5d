//! Page-level measurements for `tests/bench/run.sh` (ignored in ordinary test runs: it measures,
//! it does not judge). For each demo page, loaded repeatedly in headless Chromium against the
//! local server: widget API requests, checkout.js requests, and the time from DOMContentLoaded
//! to the `renderButton` call.

use std::time::Duration;

use crate::common::shop::Shop;
use crate::common::webdriver::{Browser, BrowserOptions, Chromedriver};

const LOADS: usize = 30;

/// What one load of a page did.
struct Load {
    api_requests: u64,
    checkout_js_requests: u64,
    dcl_to_render_ms: Option<f64>,
}

async fn load(browser: &Browser, url: &str, expects_button: bool) -> Load {
    browser.goto(url).await.unwrap();
    if expects_button {
        browser
            .wait_for("window.amazon && amazon.Pay._simulator.renders.length", Duration::from_secs(10), "a button")
            .await
            .unwrap();
    } else {
        browser
            .wait_for(
                "performance.getEntriesByType('resource').some(e => e.name.includes('/buttons') && e.responseEnd > 0)",
                Duration::from_secs(10),
                "the API answer",
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let value = browser
        .execute(
            "const count = part => performance.getEntriesByType('resource').filter(e => e.name.includes(part)).length;
             const dcl = performance.getEntriesByType('navigation')[0].domContentLoadedEventStart;
             const render = window.amazon && amazon.Pay._simulator.renders[0];
             return [count('/api/amazonpay2/buttons'), count('checkout.js'), render ? render.at - dcl : null];",
            vec![],
        )
        .await
        .unwrap();
    Load {
        api_requests: value[0].as_u64().unwrap(),
        checkout_js_requests: value[1].as_u64().unwrap(),
        dcl_to_render_ms: value[2].as_f64(),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

#[tokio::test]
#[ignore = "a measurement for tests/bench/run.sh, not a test"]
async fn measure_pages() {
    let shop = Shop::start().await;
    let driver = Chromedriver::start().await.unwrap();
    let browser = Browser::open(&driver, BrowserOptions::default()).await.unwrap();
    // Something in the cart, so that checkout blocks show their button as for a shopper.
    browser.goto(&shop.url("/api/amazonpay2/session")).await.unwrap();
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/amazonpay2/session').then(r => r.json()).then(s =>
               fetch('/api/amazonpay2/demo/cart', {method: 'POST',
                 headers: {'Content-Type': 'application/json', 'X-AmazonPay2-CSRF': s.csrfToken},
                 body: JSON.stringify({productId: 1, quantity: 1})})).then(r => done(r.status));",
            vec![],
        )
        .await
        .unwrap();
    for (page, expects_button) in [
        ("/", true),
        ("/shopping/login.html", true),
        ("/demo/duplicates.html", true),
        ("/shopping/cart.html", true),
        ("/mypage/", false),
    ] {
        let mut timings = Vec::new();
        let (mut api, mut checkout_js) = (Vec::new(), Vec::new());
        for _ in 0..LOADS {
            let load = load(&browser, &shop.url(page), expects_button).await;
            api.push(load.api_requests);
            checkout_js.push(load.checkout_js_requests);
            timings.extend(load.dcl_to_render_ms);
        }
        timings.sort_by(f64::total_cmp);
        let timing = if timings.is_empty() {
            "no button".to_owned()
        } else {
            format!(
                "DOMContentLoaded->renderButton median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
                percentile(&timings, 0.5),
                percentile(&timings, 0.9),
                timings[timings.len() - 1]
            )
        };
        println!(
            "BENCH {page:<22} {LOADS} loads: API requests per load {}..{}, checkout.js requests {}..{}; {timing}",
            api.iter().min().unwrap(),
            api.iter().max().unwrap(),
            checkout_js.iter().min().unwrap(),
            checkout_js.iter().max().unwrap(),
        );
    }
    println!("   (budgets: one API request per load; no checkout.js without a button; median at most 100 ms)");
    browser.quit().await.unwrap();
    shop.stop().await;
}
