//! The widget on a phone, for `tests/bench/run.sh` (ignored in ordinary test runs: it measures,
//! it does not judge).
//!
//! Headless Chromium with Lighthouse's mobile "slow 4G" profile: a 390×844 phone viewport, 150 ms
//! round trips, 1.6 Mbit/s down, 750 kbit/s up, the CPU slowed 4×. One shop page with one login
//! block is loaded two ways: as the Craft Cart manual builds it (checkout.js tag and an inline
//! `renderButton` with a signed config, pasted into the page) and with the widget (one script tag
//! and a block). Both use the same checkout.js stand-in, served from its own origin with
//! `max-age=3600` as Amazon serves it. Loads alternate between the two pages, each measured on a
//! cold cache (a new visitor: no cache, no cookies) and on a repeat view (the same visitor again),
//! and the medians are printed: navigation start → `renderButton`, the widget's bytes on the wire,
//! layout shift, and the long tasks (over 50 ms): the page's longest, the longest that ran the
//! widget's code (its script, its wasm) without drawing Amazon's button, and the one that drew it
//! (`renderButton`, whose own share, checkout.js drawing its button, both pages pay).

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::page::WAIT;
use crate::common::shop::Shop;
use crate::common::webdriver::{Browser, BrowserOptions, Chromedriver};

/// Loads per page and cache state.
const LOADS: usize = 7;

/// Fewer loads while investigating (`AMAZONPAY2_BENCH_LOADS`).
fn loads() -> usize {
    std::env::var("AMAZONPAY2_BENCH_LOADS").ok().and_then(|n| n.parse().ok()).unwrap_or(LOADS)
}

/// The checkout.js stand-in (the simulator's), served from its own origin, with each recorded
/// `renderButton` call's own duration (`took`), so that a long task drawing the button can be
/// told apart from the work around the call.
const CHECKOUT_JS: &str = concat!(
    include_str!("../../src/simulator/checkout.js"),
    "(function () {
  var pay = window.amazon.Pay, render = pay.renderButton;
  pay.renderButton = function () {
    var start = performance.now();
    try { return render.apply(this, arguments); }
    finally { var renders = pay._simulator.renders; if (renders.length) renders[renders.length - 1].took = performance.now() - start; }
  };
})();
"
);

/// A shop page around `BLOCK`: header, text above and below, as a phone shows it.
const PAGE: &str = r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>トップページ | クラフト雑貨店</title>
<style>body{margin:0;font-family:sans-serif;line-height:1.7;color:#333}header,main,footer{padding:12px 16px}
header{border-bottom:3px solid #c8a27a;font-weight:700}.box{border:1px solid #e4d9cc;border-radius:6px;padding:16px}</style>
HEAD</head><body>
<header>クラフト雑貨店</header>
<main><h1>手しごとの器と布小物</h1>
<p>益子焼のマグカップ、刺し子のふきん、木のカトラリー。作り手の顔が見える道具を、毎日の暮らしに。</p>
<section class="box"><h2>ログイン</h2><p>Amazon アカウントでかんたんにログインできます。</p>
BLOCK
<p id="below">会員登録がお済みでない方も、Amazon アカウントでそのままお買い物いただけます。</p></section>
<p>送料は全国一律 880 円、8,000 円以上のお買い上げで無料です。</p>
</main><footer>クラフト雑貨店</footer></body></html>
"#;

/// Serves the checkout.js stand-in and its artwork on its own loopback port; returns its URL.
async fn serve_checkout_js() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/checkout.js", listener.local_addr().unwrap());
    let app = Router::new()
        .route(
            "/checkout.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=3600"),
                    ],
                    CHECKOUT_JS,
                )
            }),
        )
        // Its button's artwork, from the same origin, as the simulator serves it.
        .route("/images/{name}", get(amazonpay2::simulator::artwork::serve));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// What one load measured.
#[derive(Clone, Debug, Default)]
struct Load {
    render_ms: f64,
    widget_bytes: f64,
    layout_shift: f64,
    longest_task_ms: f64,
    /// The longest task that ran the widget's code and did not draw Amazon's button.
    widget_task_ms: f64,
    /// The longest run of the widget's own code (its script, its wasm), Amazon's renderButton
    /// inside it left out: a long task is this plus whatever the browser did in the same task.
    widget_run_ms: f64,
    /// The task that called `renderButton`, and the call's own share of it.
    drawing_task_ms: f64,
    render_button_ms: f64,
}

/// Loads `url` and measures it; `None` (with the reason printed) if no button came.
async fn load(browser: &Browser, url: &str) -> Option<Load> {
    browser.goto("about:blank").await.unwrap();
    browser.goto(url).await.unwrap();
    let rendered = browser
        .wait_for("window.amazon && amazon.Pay._simulator && amazon.Pay._simulator.renders.length", WAIT, "a button")
        .await;
    if let Err(error) = rendered {
        println!("   {url}: {error}");
        return None;
    }
    // Let checkout.js draw and anything that follows settle, as a shopper would see it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let value = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const entries = {};
             const observe = type => new Promise(resolve => {
               try {
                 const observer = new PerformanceObserver(list => { entries[type] = list.getEntries(); });
                 observer.observe({ type, buffered: true });
                 setTimeout(() => { observer.disconnect(); resolve(); }, 50);
               } catch (e) { resolve(); }
             });
             Promise.all([observe('layout-shift'), observe('longtask'), observe('long-animation-frame')]).then(() => {
               const tasks = (entries['longtask'] || []).map(e => [e.startTime, e.startTime + e.duration]);
               const widgetScripts = (entries['long-animation-frame'] || []).flatMap(f => f.scripts)
                 .filter(s => s.sourceURL.includes('/amazonpay2/'))
                 .map(s => [s.startTime, s.startTime + s.duration]);
               const renders = amazon.Pay._simulator.renders;
               const drawing = tasks.filter(([a, b]) => renders.some(r => r.at >= a && r.at <= b));
               const own = tasks.filter(t => !drawing.includes(t) && widgetScripts.some(([a, b]) => a < t[1] && b > t[0]));
               const longest = list => Math.max(0, ...list.map(([a, b]) => b - a));
               // The widget's own script runs (the loader's, and the wasm's, whose steps resume from
               // a timer's promise and so have no source), less Amazon's renderButton inside them.
               const runs = (entries['long-animation-frame'] || []).flatMap(f => f.scripts)
                 .filter(s => s.sourceURL.includes('/amazonpay2/') || (s.sourceURL === '' && location.pathname.includes('widget')))
                 .map(s => s.duration - renders.filter(r => r.at >= s.startTime && r.at <= s.startTime + s.duration)
                   .reduce((sum, r) => sum + (r.took || 0), 0));
               const widget = performance.getEntriesByType('resource')
                 .filter(e => e.name.includes('/amazonpay2/') && !e.name.includes('/api/'));
               done({
                 navigation: ((n) => [Math.round(n.responseStart), Math.round(n.responseEnd), Math.round(n.domInteractive), Math.round(n.domContentLoadedEventStart), Math.round(n.domContentLoadedEventEnd)])(performance.getEntriesByType('navigation')[0]),
                 shifts: (entries['layout-shift'] || []).map(e => [Math.round(e.startTime), e.value, e.sources.map(s => [s.node ? (s.node.outerHTML || s.node.nodeName).slice(0, 80) : null, s.previousRect.y, s.previousRect.height, s.currentRect.y, s.currentRect.height])]),
                 marks: performance.getEntriesByType('mark').map(m => [m.name, Math.round(m.startTime)]),
                 tasks: (entries['longtask'] || []).map(e => [Math.round(e.startTime), Math.round(e.duration)]),
                 resources: performance.getEntriesByType('resource').map(e => [e.name.slice(-40), e.transferSize, e.responseStatus, Math.round(e.startTime), Math.round(e.responseEnd)]),
                 render: amazon.Pay._simulator.renders[0].at,
                 widgetTask: longest(own),
                 widgetRun: Math.max(0, ...runs),
                 drawingTask: longest(drawing),
                 renderButton: Math.max(0, ...renders.map(r => r.took || 0)),
                 widgetScripts: widgetScripts.map(([a, b]) => [Math.round(a), Math.round(b - a)]),
                 frames: (entries['long-animation-frame'] || []).map(f => [Math.round(f.startTime), Math.round(f.duration),
                   Math.round(f.blockingDuration), f.scripts.map(s => [s.invoker, s.sourceFunctionName, s.sourceURL.slice(-14),
                   Math.round(s.startTime), Math.round(s.duration), Math.round(s.forcedStyleAndLayoutDuration)])]),
                 widgetBytes: widget.reduce((sum, e) => sum + e.transferSize, 0),
                 shift: (entries['layout-shift'] || []).filter(e => !e.hadRecentInput).reduce((s, e) => s + e.value, 0),
                 longest: Math.max(0, ...(entries['longtask'] || []).map(e => e.duration)),
               });
             });",
            vec![],
        )
        .await
        .unwrap();
    if std::env::var_os("AMAZONPAY2_BENCH_DEBUG").is_some() {
        println!(
            "   {url}: render {} navigation {} marks {} tasks {} widget scripts {} shifts {} resources {}\n     frames {}",
            value["render"],
            value["navigation"],
            value["marks"],
            value["tasks"],
            value["widgetScripts"],
            value["shifts"],
            value["resources"],
            value["frames"]
        );
    }
    let number = |key: &str| value[key].as_f64().unwrap_or(f64::NAN);
    Some(Load {
        render_ms: number("render"),
        widget_bytes: number("widgetBytes"),
        layout_shift: number("shift"),
        longest_task_ms: number("longest"),
        widget_task_ms: number("widgetTask"),
        widget_run_ms: number("widgetRun"),
        drawing_task_ms: number("drawingTask"),
        render_button_ms: number("renderButton"),
    })
}

/// Lighthouse's mobile "slow 4G" profile on the current tab.
async fn throttle(browser: &Browser) {
    browser.cdp("Network.enable", json!({})).await.unwrap();
    browser
        .cdp(
            "Network.emulateNetworkConditions",
            json!({ "offline": false, "latency": 150, "downloadThroughput": 1_600_000 / 8,
                    "uploadThroughput": 750_000 / 8, "connectionType": "cellular4g" }),
        )
        .await
        .unwrap();
    browser.cdp("Emulation.setCPUThrottlingRate", json!({ "rate": 4 })).await.unwrap();
}

/// A new visitor: nothing cached, no cookies, nothing stored (the page open is the shop's).
async fn forget(browser: &Browser) {
    browser.execute("try { sessionStorage.clear(); localStorage.clear(); } catch (e) {}", vec![]).await.unwrap();
    browser.cdp("Network.clearBrowserCache", json!({})).await.unwrap();
    browser.cdp("Network.clearBrowserCookies", json!({})).await.unwrap();
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn max(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|v| v.is_finite()).fold(0.0, f64::max)
}

/// The signed options the manual's template pastes into the page: the display options the widget
/// API gives and the signed config it gives at click, as one `renderButton` argument.
async fn pasted_options(browser: &Browser, shop: &Shop) -> Value {
    browser.goto(&shop.url("/api/amazonpay2/session")).await.unwrap();
    let options = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const post = (path, body, csrf) => fetch('/api/amazonpay2/' + path, { method: 'POST',
               headers: Object.assign({ 'Content-Type': 'application/json' }, csrf ? { 'X-AmazonPay2-CSRF': csrf } : {}),
               body: JSON.stringify(body) }).then(r => r.json());
             post('buttons', { blocks: [{ kind: 'login', placement: 'Home', buttonColor: 'Gold' }] }).then(answer =>
               post('buttons/sign', { kind: 'login' }, answer.csrfToken).then(signed =>
                 done(Object.assign({}, answer.blocks[0].options, { signInConfig: signed.signInConfig }))), e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert!(options["signInConfig"]["signature"].is_string(), "no signed config: {options}");
    options
}

#[tokio::test]
#[ignore = "a measurement for tests/bench/run.sh, not a test"]
async fn measure_phone_profile() {
    let www = std::env::temp_dir().join(format!("amazonpay2-bench-phone-{}", std::process::id()));
    std::fs::create_dir_all(&www).unwrap();
    let checkout_js = serve_checkout_js().await;
    let widget_page = PAGE
        .replace("HEAD", r#"<script src="/amazonpay2/widget.js"></script>"#)
        .replace("BLOCK", r#"<div data-amazonpay="login" data-placement="Home"></div>"#);
    std::fs::write(www.join("widget.html"), widget_page).unwrap();
    let www_setting = www.display().to_string();
    let shop =
        Shop::start_with(&[("AMAZONPAY2_CHECKOUT_JS", &checkout_js), ("AMAZONPAY2_WWW", &www_setting)], &[]).await;
    let driver = Chromedriver::start().await.unwrap();
    let browser = Browser::open(&driver, BrowserOptions { width: 390, height: 844, mobile: true }).await.unwrap();

    let options = pasted_options(&browser, &shop).await;
    let template = format!(
        "<div id=\"AmazonPayButton\"></div>\n<script src=\"{checkout_js}\"></script>\n\
         <script>amazon.Pay.renderButton('#AmazonPayButton', {options});</script>"
    );
    std::fs::write(www.join("template.html"), PAGE.replace("HEAD", "").replace("BLOCK", &template)).unwrap();

    throttle(&browser).await;
    let pages = [("pasted template", shop.url("/template.html")), ("widget", shop.url("/widget.html"))];
    let mut cold: [Vec<Load>; 2] = Default::default();
    let mut repeat: [Vec<Load>; 2] = Default::default();
    for _ in 0..loads() {
        for (i, (_, url)) in pages.iter().enumerate() {
            forget(&browser).await;
            cold[i].extend(load(&browser, url).await);
            repeat[i].extend(load(&browser, url).await);
        }
    }
    browser.quit().await.unwrap();
    shop.stop().await;
    let _ = std::fs::remove_dir_all(&www);

    println!("   phone profile: 390x844, 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up, CPU 4x; median of {}", loads());
    let mut renders = [[f64::NAN; 2]; 2];
    for (view, loads) in [("cold", &cold), ("repeat", &repeat)].into_iter().enumerate().map(|(v, (n, l))| ((v, n), l)) {
        for (i, (name, _)) in pages.iter().enumerate() {
            let l = &loads[i];
            renders[view.0][i] = median(l.iter().map(|l| l.render_ms));
            println!(
                "BENCH phone {:<6} {name:<15} {} loads: navigation->renderButton median {:.0} ms; widget bytes {:.0}; \
                 layout shift max {:.4}; longest task max {:.0} ms (median {:.0}); widget's own longest task max {:.0} ms \
                 (median {:.0}); widget's longest run of its own code max {:.0} ms (median {:.0}); task drawing the \
                 button max {:.0} ms, renderButton itself max {:.0} ms",
                view.1,
                l.len(),
                renders[view.0][i],
                median(l.iter().map(|l| l.widget_bytes)),
                max(l.iter().map(|l| l.layout_shift)),
                max(l.iter().map(|l| l.longest_task_ms)),
                median(l.iter().map(|l| l.longest_task_ms)),
                max(l.iter().map(|l| l.widget_task_ms)),
                median(l.iter().map(|l| l.widget_task_ms)),
                max(l.iter().map(|l| l.widget_run_ms)),
                median(l.iter().map(|l| l.widget_run_ms)),
                max(l.iter().map(|l| l.drawing_task_ms)),
                max(l.iter().map(|l| l.render_button_ms)),
            );
        }
    }
    println!(
        "BENCH phone widget vs pasted template: cold {:+.0} ms (target <= +500), repeat {:+.0} ms (target <= +150)",
        renders[0][1] - renders[0][0],
        renders[1][1] - renders[1][0]
    );
    println!(
        "   (targets: widget bytes <= 85000 cold, <= 1000 repeat; layout shift 0; no task of the widget's over 50 ms)"
    );
}
