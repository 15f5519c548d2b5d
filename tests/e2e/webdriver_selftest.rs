//! Checks the test-support WebDriver client itself against two tiny pages served by axum.

use std::time::Duration;

use crate::common::webdriver::{Browser, BrowserOptions, Chromedriver, live_group_members};
use axum::{Router, response::Html, routing::get};
use serde_json::json;

const BUTTON_PAGE: &str = r#"<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>button</title>
<button id="go" data-kind="primary" onclick="setTimeout(() => { out.textContent = 'clicked' }, 100)">Go</button>
<p id="out">waiting</p><p class="item">a</p><p class="item">b</p>"#;

/// Both the warning and the throw happen in <head>, before DOMContentLoaded.
const ERROR_PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>errors</title>
<script>console.warn("selftest-warning"); throw new Error("selftest-uncaught");</script>
<body>still renders</body>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdriver_client_works() {
    if crate::common::webdriver::chromedriver_binary().is_none() {
        eprintln!("skipping: no chromedriver ($CHROMEDRIVER, PATH, /usr/bin/chromedriver)");
        return;
    }
    let app = Router::new()
        .route("/", get(|| async { Html(BUTTON_PAGE) }))
        .route("/errors", get(|| async { Html(ERROR_PAGE) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = Chromedriver::start().await.expect("chromedriver starts");
    let pgid = driver.pgid();
    let browser = Browser::open(&driver, BrowserOptions::default()).await.expect("session opens");
    // Chromium must share chromedriver's process group, or Drop could not clean it up.
    assert!(live_group_members(pgid).len() > 2, "Chromium is not in chromedriver's process group");

    browser.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap(), format!("{base}/"));
    let button = browser.find("#go").await.unwrap();
    assert_eq!(browser.text(&button).await.unwrap(), "Go");
    assert_eq!(browser.attribute(&button, "data-kind").await.unwrap().as_deref(), Some("primary"));
    assert_eq!(browser.attribute(&button, "missing").await.unwrap(), None);
    assert_eq!(browser.find_all(".item").await.unwrap().len(), 2);
    assert!(browser.find("#nope").await.is_err());

    browser.click(&button).await.unwrap();
    let text = browser
        .wait_for(
            "document.querySelector('#out').textContent === 'clicked' && document.title",
            Duration::from_secs(5),
            "click result",
        )
        .await
        .unwrap();
    assert_eq!(text, json!("button"));
    let out = browser.find("#out").await.unwrap();
    assert_eq!(browser.text(&out).await.unwrap(), "clicked");

    // Scripts: arguments, element round trip, async callback, and a timed-out wait.
    let sum = browser.execute("return arguments[0] + arguments[1];", vec![json!(2), json!(3)]).await.unwrap();
    assert_eq!(sum, json!(5));
    let id = browser.execute("return arguments[0].id;", vec![out.to_json()]).await.unwrap();
    assert_eq!(id, json!("out"));
    let later =
        browser.execute_async("const done = arguments[0]; setTimeout(() => done('later'), 50);", vec![]).await.unwrap();
    assert_eq!(later, json!("later"));
    let err = browser
        .wait_for("document.querySelector('#never').id", Duration::from_millis(200), "a missing element")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a missing element"), "{err}");

    browser.set_window_size(800, 600).await.unwrap();
    assert_eq!(browser.execute("return window.outerWidth;", vec![]).await.unwrap(), json!(800));

    let _ = browser.browser_log().await.unwrap(); // drain anything from the first page
    browser.goto(&format!("{base}/errors")).await.unwrap();
    let log = browser.browser_log().await.unwrap();
    let has = |level: &str, text: &str| log.iter().any(|e| e.level == level && e.message.contains(text));
    assert!(has("SEVERE", "Uncaught Error: selftest-uncaught"), "{log:?}");
    assert!(has("WARNING", "selftest-warning"), "{log:?}");

    let png = browser.screenshot_png().await.unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG: {:?}", &png[..png.len().min(8)]);
    browser.quit().await.unwrap();

    // A phone-sized session; dropped without quit(), as a panicking test would.
    let phone = Browser::open(&driver, BrowserOptions { width: 390, height: 844, mobile: true }).await.unwrap();
    phone.goto(&format!("{base}/")).await.unwrap();
    let metrics = phone
        .execute("return [innerWidth, navigator.maxTouchPoints > 0, /Mobile/.test(navigator.userAgent)];", vec![])
        .await
        .unwrap();
    assert_eq!(metrics, json!([390, true, true]));
    drop(phone);

    drop(driver);
    assert_eq!(live_group_members(pgid), Vec::<u32>::new(), "chromedriver/Chromium processes left behind");
}
