//! How the server sends the widget: the precompressed variant the browser accepts, the
//! content-hashed wasm kept for good, the loader short-lived and revalidated with its ETag and
//! carrying the server's checkout.js URL; and what it does without a widget or shop pages.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::server::config::Config;
use amazonpay2::server::files::{FilesError, Served};
use amazonpay2::server::{self, app};

const TEST_KEY_PEM: &str = include_str!("../fixtures/test_key_pkcs8.pem");
const WASM: &str = "amazonpay2_bg.0123456789abcdef.wasm";
const LOADER: &[u8] =
    br#"/*! loader */ var CHECKOUT_JS = "@@CHECKOUT_JS@@"; fetch("amazonpay2_bg.0123456789abcdef.wasm");"#;
const CHECKOUT_JS: &str = "https://static-fe.payments-amazon.com/checkout.js";

/// A widget folder as `build.sh` writes it (with stand-in compressed variants, told apart by
/// their bytes), and a shop page folder; removed when dropped.
struct Folders(PathBuf);

impl Folders {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "amazonpay2-widget-files-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let folders = Self(root);
        folders.write("widget/widget.js", LOADER);
        folders.write("widget/widget.js.br", b"BROTLI-LOADER-WITHOUT-URL");
        folders.write("widget/widget.js.gz", b"GZIP-LOADER-WITHOUT-URL");
        folders.write(&format!("widget/{WASM}"), b"\0asm\x01\0\0\0IDENTITY");
        folders.write(&format!("widget/{WASM}.br"), b"BROTLI-WASM");
        folders.write(&format!("widget/{WASM}.gz"), b"GZIP-WASM");
        folders.write("widget/amazonpay2_bg.wasm", b"\0asm\x01\0\0\0IDENTITY");
        folders.write("www/index.html", b"<!doctype html><title>top</title>TOP");
        folders
    }

    fn write(&self, path: &str, contents: &[u8]) {
        let path = self.0.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Folders {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(folders: &Folders, demo: bool, vars: &[(&str, &str)]) -> Config {
    let mut all: Vec<(String, String)> = vec![
        ("AMAZONPAY2_WIDGET".into(), folders.path("widget").display().to_string()),
        ("AMAZONPAY2_WWW".into(), folders.path("www").display().to_string()),
        ("AMAZONPAY2_DATA".into(), folders.path("data").display().to_string()),
        ("AMAZONPAY2_CHECKOUT_JS".into(), CHECKOUT_JS.into()),
    ];
    if !demo {
        all.extend(
            [
                ("AMAZONPAY2_MERCHANT_ID", "A1PRODUCTION0001"),
                ("AMAZONPAY2_STORE_ID", "amzn1.application-oa2-client.production0000000000000000"),
                ("AMAZONPAY2_PUBLIC_KEY_ID", "LIVE-PRODUCTIONKEY0000000000000"),
                ("AMAZONPAY2_PRIVATE_KEY", "/etc/shop/amazonpay2.pem"),
                ("AMAZONPAY2_SHOP_ORIGIN", "https://shop.example"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
    }
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Config::from_vars(demo, |name| all.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
}

async fn router(config: Config) -> Router {
    let key = Arc::new(ShopKey::from_pem(TEST_KEY_PEM.as_bytes()).unwrap());
    let db = server::open_database(&config).await.unwrap();
    let state = server::start_with(config, key, db).await.unwrap();
    app(std::sync::Arc::new(server::shops::Shops::new(state).await.unwrap()), Router::new())
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn get(router: &Router, uri: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply { status, headers, body }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("gzip");
    out
}

#[tokio::test]
async fn the_wasm_goes_out_in_the_encoding_the_browser_prefers_and_is_kept_for_good() {
    let folders = Folders::new();
    let router = router(config(&folders, true, &[])).await;
    let path = format!("/amazonpay2/{WASM}");
    for (accepted, encoding, body) in [
        ("gzip, deflate, br, zstd", Some("br"), &b"BROTLI-WASM"[..]),
        ("gzip", Some("gzip"), b"GZIP-WASM"),
        ("br;q=0, gzip", Some("gzip"), b"GZIP-WASM"),
        ("identity", None, b"\0asm\x01\0\0\0IDENTITY"),
    ] {
        let reply = get(&router, &path, &[(header::ACCEPT_ENCODING, accepted)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{accepted}");
        assert_eq!(reply.header(header::CONTENT_ENCODING), encoding, "{accepted}");
        assert_eq!(reply.body, body, "{accepted}");
        assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/wasm"));
        assert_eq!(reply.header(header::VARY), Some("accept-encoding"));
        assert_eq!(reply.header(header::CACHE_CONTROL), Some("public, max-age=31536000, immutable"));
    }
    // The unhashed copy is for tools; a browser revalidates it.
    let reply = get(&router, "/amazonpay2/amazonpay2_bg.wasm", &[]).await;
    assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-cache"));
}

#[tokio::test]
async fn the_loader_carries_the_checkout_js_url_is_short_lived_and_revalidates_for_nothing() {
    let folders = Folders::new();
    let router = router(config(&folders, false, &[])).await;
    let gzipped = get(&router, "/amazonpay2/widget.js", &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(gzipped.header(header::CONTENT_ENCODING), Some("gzip"));
    let loader = String::from_utf8(gunzip(&gzipped.body)).unwrap();
    assert!(loader.contains(&format!("var CHECKOUT_JS = \"{CHECKOUT_JS}\";")), "{loader}");
    // Brotli too, of the loader with the URL (not the build's copy, which lacks it).
    let reply = get(&router, "/amazonpay2/widget.js", &[(header::ACCEPT_ENCODING, "gzip, br")]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_ENCODING), Some("br"));
    let mut unbrotlied = Vec::new();
    brotli::BrotliDecompress(&mut &reply.body[..], &mut unbrotlied).unwrap();
    assert_eq!(String::from_utf8(unbrotlied).unwrap(), loader);
    assert_eq!(reply.header(header::CACHE_CONTROL), Some("public, max-age=600"));
    assert!(reply.header(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("text/javascript")));
    let identity = get(&router, "/amazonpay2/widget.js", &[]).await;
    assert_eq!(String::from_utf8(identity.body).unwrap(), loader);

    let etag = reply.header(header::ETAG).expect("an ETag").to_owned();
    let again = get(
        &router,
        "/amazonpay2/widget.js",
        &[(header::ACCEPT_ENCODING, "gzip, br"), (header::IF_NONE_MATCH, &format!("\"other\", {etag}"))],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header(header::CACHE_CONTROL), Some("public, max-age=600"));
    // Another encoding is another representation: no 304 for it.
    let other = get(&router, "/amazonpay2/widget.js", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn another_checkout_js_url_makes_another_loader() {
    let folders = Folders::new();
    let ours = get(&router(config(&folders, true, &[])).await, "/amazonpay2/widget.js", &[]).await;
    let theirs = get(
        &router(config(&folders, true, &[("AMAZONPAY2_CHECKOUT_JS", "http://127.0.0.1:8081/checkout.js?v=\"2\"")]))
            .await,
        "/amazonpay2/widget.js",
        &[],
    )
    .await;
    let text = String::from_utf8(theirs.body).unwrap();
    assert!(text.contains(r#"var CHECKOUT_JS = "http://127.0.0.1:8081/checkout.js?v=%222%22";"#), "{text}");
    assert_ne!(ours.header(header::ETAG), theirs.headers.get(header::ETAG).and_then(|v| v.to_str().ok()));
}

#[tokio::test]
async fn only_the_widgets_own_files_are_served() {
    let folders = Folders::new();
    let router = router(config(&folders, true, &[])).await;
    for path in [
        "/amazonpay2/widget.js.br",
        "/amazonpay2/widget.js.gz",
        "/amazonpay2/nope.js",
        "/amazonpay2/amazonpay2_bg.fedcba9876543210.wasm",
        "/amazonpay2/../www/index.html",
    ] {
        assert_eq!(get(&router, path, &[]).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_widget_folder_without_a_built_widget_stops_the_server() {
    let folders = Folders::new();
    let empty = folders.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for dir in [empty.clone(), folders.path("missing")] {
        let config = config(&folders, true, &[("AMAZONPAY2_WIDGET", dir.to_str().unwrap())]);
        match Served::resolve(&config) {
            Err(error @ FilesError::BadWidgetFolder(_)) => {
                assert!(error.to_string().starts_with("AMAZONPAY2_WIDGET: "), "{error}");
                assert!(error.to_string().contains("./build.sh"), "{error}");
            }
            other => panic!("{}: {:?}", dir.display(), other.map(|served| served.to_string())),
        }
    }
}

#[tokio::test]
async fn the_demo_refuses_to_start_without_its_pages_and_a_shop_may_serve_the_widget_alone() {
    let folders = Folders::new();
    let missing = folders.path("no-such-www");
    let missing = missing.to_str().unwrap();
    let error = Served::resolve(&config(&folders, true, &[("AMAZONPAY2_WWW", missing)])).err().expect("refused");
    assert!(matches!(error, FilesError::NoPages(_)), "{error}");
    assert!(error.to_string().contains("AMAZONPAY2_WWW"), "{error}");

    let production = config(&folders, false, &[("AMAZONPAY2_WWW", missing)]);
    let served = Served::resolve(&production).unwrap();
    assert!(served.to_string().contains("no shop pages"), "{served}");
    let router = router(production).await;
    assert_eq!(get(&router, "/", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&router, "/amazonpay2/widget.js", &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_start_up_line_says_where_the_widget_and_the_pages_come_from() {
    let folders = Folders::new();
    let served = Served::resolve(&config(&folders, true, &[])).unwrap().to_string();
    assert!(served.contains(&folders.path("widget").display().to_string()), "{served}");
    assert!(served.contains(&folders.path("www").display().to_string()), "{served}");
    assert!(Path::new(&folders.path("www")).is_dir());
}

/// The server binary started from a folder that is not the repository: it serves the widget it
/// carries (or, built before the widget was, refuses to start and says why), and finds the demo
/// pages beside itself.
#[tokio::test]
async fn the_binary_started_elsewhere_serves_its_own_widget_or_says_why_not() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};

    let folders = Folders::new();
    let elsewhere = folders.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let port = || format!("127.0.0.1:{}", crate::common::instances::free_port());
    let (shop, simulator) = (port(), port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"))
        .arg("--demo")
        .current_dir(&elsewhere)
        .env_clear()
        .env("AMAZONPAY2_LISTEN", &shop)
        .env("AMAZONPAY2_SIMULATOR_LISTEN", &simulator)
        .env("AMAZONPAY2_DATA", folders.path("data"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut output = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        output.push_str(&line);
        if line.contains("shop on http://") {
            break;
        }
        line.clear();
    }
    if output.contains("shop on http://") {
        assert!(output.contains("widget at /amazonpay2/ from the binary (embedded at build time)"), "{output}");
        assert!(output.contains("shop pages from "), "{output}");
        amazonpay2::core::install_crypto_provider();
        let client = reqwest::Client::new();
        let loader = client.get(format!("http://{shop}/amazonpay2/widget.js")).send().await.unwrap();
        assert_eq!(loader.status(), 200);
        let text = loader.text().await.unwrap();
        assert!(
            text.contains(&format!("http://{simulator}/checkout.js")),
            "the loader names the simulator's checkout.js"
        );
        let top = client.get(format!("http://{shop}/")).send().await.unwrap();
        assert_eq!(top.status(), 200, "the demo pages beside the binary");
        let _ = child.kill();
    } else {
        let status = child.wait().unwrap();
        let mut errors = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut errors).unwrap();
        assert!(!status.success());
        assert!(errors.contains("no widget to serve") && errors.contains("./build.sh"), "{output}{errors}");
    }
    let _ = child.wait();
}
